//! Keychain read and write latency, before and after the held session, for
//! `scripts/bench-keychain.sh`: the same item written and read `N` times
//! (100 unless given) through
//!
//! - `keyring` 3, as credbroker did before: every access opens a new D-Bus
//!   connection and Secret Service session with its DH key exchange;
//! - [`KeychainStore`], as credbroker does now: one connection and one
//!   session, opened by the first access and reused.
//!
//! ```text
//! cargo run --release --example keychain_latency -- [N]
//! ```
//!
//! Run it inside a D-Bus session with an unlocked Secret Service. It prints
//! one JSON object: for each path and operation the median, p90 and max in
//! milliseconds, and the cost of the first access (the session opening).
//! Each path writes a value the size of a stored SSO token (about 1.5 KB of
//! JSON), under its own keychain service, and deletes it at the end.

#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
fn main() {
    use credbroker::model::Secret;
    use credbroker::store::{KeychainStore, SecretStore};
    use std::time::Instant;

    let runs: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("N is a count"))
        .unwrap_or(100);
    let value = "x".repeat(1500);
    let pid = std::process::id();

    // Before: keyring 3, a connection and a session per access.
    let old_service = format!("credbroker-bench-keyring3-{pid}");
    let entry = || keyring::Entry::new(&old_service, "sso-token/bench").unwrap();
    let first = Instant::now();
    entry().set_password(&value).unwrap();
    let old_first = ms(first);
    let old_writes = time(runs, || entry().set_password(&value).unwrap());
    let old_reads = time(runs, || {
        assert_eq!(entry().get_password().unwrap().len(), value.len());
    });
    entry().delete_credential().unwrap();

    // After: one store, opened by its first access.
    let store = KeychainStore::new(format!("credbroker-bench-held-{pid}"));
    let secret = Secret::new(value.clone());
    let first = Instant::now();
    store.set("sso-token/bench", &secret).unwrap();
    let new_first = ms(first);
    let new_writes = time(runs, || store.set("sso-token/bench", &secret).unwrap());
    let new_reads = time(runs, || {
        let read = store.get("sso-token/bench").unwrap().unwrap();
        assert_eq!(read.expose().len(), value.len());
    });
    store.delete("sso-token/bench").unwrap();

    let report = serde_json::json!({
        "runs": runs,
        "value_bytes": value.len(),
        "keyring3_per_access": {
            "first_write_ms": old_first,
            "write": summary(old_writes),
            "read": summary(old_reads),
        },
        "held_session": {
            "first_write_ms": new_first,
            "write": summary(new_writes),
            "read": summary(new_reads),
        },
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}

#[cfg(not(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
)))]
fn main() {
    eprintln!("this benchmark measures the Secret Service; it runs on Linux and the BSDs");
    std::process::exit(2);
}

fn ms(since: std::time::Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// `runs` timings of `op`, in milliseconds.
fn time(runs: usize, mut op: impl FnMut()) -> Vec<f64> {
    (0..runs)
        .map(|_| {
            let start = std::time::Instant::now();
            op();
            ms(start)
        })
        .collect()
}

fn summary(mut samples: Vec<f64>) -> serde_json::Value {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    serde_json::json!({
        "median_ms": round(at(0.5)),
        "p90_ms": round(at(0.9)),
        "max_ms": round(at(1.0)),
    })
}
