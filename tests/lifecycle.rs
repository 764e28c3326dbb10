//! Sessions that never interrupt work, end to end with short emulator
//! lifetimes: refresh tokens keep a session alive across several access
//! token and credential lifetimes, every credential served has the
//! promised remaining life, a daemon killed mid-renewal comes back without
//! a sign-in, and a dead refresh token asks for a sign-in once.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use support::{emulator_post, get_credentials, seconds_left, Env};

/// Credentials live 15 s: the margin is a third (5 s). Expiration is
/// served in whole seconds, so allow one second of rounding.
const CREDENTIALS_TTL: &str = "15";
const MIN_LEFT: i64 = 4;

#[test]
fn a_refreshable_session_serves_across_several_lifetimes() {
    let mut env = Env::new(
        "renewal",
        &[
            "--auto-approve",
            "--token-ttl",
            "12",
            "--credentials-ttl",
            CREDENTIALS_TTL,
        ],
    );
    env.write_standard_config();
    env.login();
    let endpoint = env.start_daemon();
    let token = env.token();

    let started = Instant::now();
    let mut keys = BTreeSet::new();
    while started.elapsed() < Duration::from_secs(40) {
        let (status, body) = get_credentials(&endpoint, "dev", &token);
        assert_eq!(status, 200, "after {:?}: {body}", started.elapsed());
        let left = seconds_left(body["Expiration"].as_str().unwrap());
        assert!(
            left >= MIN_LEFT,
            "served with {left}s left after {:?}",
            started.elapsed()
        );
        keys.insert(body["AccessKeyId"].as_str().unwrap().to_string());
        std::thread::sleep(Duration::from_millis(700));
    }
    // 40 s covers more than two credential lifetimes and three token lifetimes.
    assert!(keys.len() >= 3, "credentials were renewed: {keys:?}");
    assert_eq!(env.stat("StartDeviceAuthorization"), 1, "no new sign-in");
    assert!(
        env.stat("CreateToken") >= 4,
        "the access token was refreshed: {}",
        env.stats()
    );
}

#[test]
fn a_daemon_killed_during_renewal_comes_back_without_a_sign_in() {
    // Role credentials are renewed every few seconds here, so kills land
    // before, during and after renewals and their keychain writes. (The
    // access token is long-lived in this test: a kill inside the instant
    // between a refresh-token rotation and its keychain write loses the
    // rotated token, a known gap described in docs/lifecycle.md.)
    let mut env = Env::new(
        "kill",
        &[
            "--auto-approve",
            "--token-ttl",
            "3600",
            "--credentials-ttl",
            "9",
        ],
    );
    env.write_standard_config();
    env.login();
    let mut endpoint = env.start_daemon();
    let token = env.token();
    let mut seed = std::process::id() as u64;
    for round in 0..8 {
        let (status, body) = get_credentials(&endpoint, "dev", &token);
        assert_eq!(status, 200, "round {round}: {body}");
        assert!(seconds_left(body["Expiration"].as_str().unwrap()) >= 2);
        // Sleep a pseudo-random 0.5-3.5 s so kills land at varied points
        // of the renewal cycle (renewals fire every few seconds here).
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(500 + (seed >> 33) % 3000));
        env.kill_daemon();
        endpoint = env.start_daemon();
    }
    let (status, body) = get_credentials(&endpoint, "admin", &token);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        env.stat("StartDeviceAuthorization"),
        1,
        "no needless sign-in"
    );
}

#[test]
fn a_dead_refresh_token_asks_for_a_sign_in_once() {
    let mut env = Env::new("deadrefresh", &["--auto-approve"]);
    env.write_standard_config();
    env.login();
    let endpoint = env.start_daemon();
    let token = env.token();
    let (status, _) = get_credentials(&endpoint, "dev", &token);
    assert_eq!(status, 200);

    // Revoke every token and refresh token: the next portal call fails,
    // the refresh gets invalid_grant, and the person must sign in.
    assert_eq!(emulator_post(&env.base_url, "/_emulator/revoke", ""), 200);
    let before = env.stat("CreateToken");
    for _ in 0..5 {
        let (status, body) = get_credentials(&endpoint, "admin", &token);
        assert_eq!(status, 403, "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("credbroker login --sso-session corp"),
            "{message}"
        );
    }
    assert_eq!(
        env.stat("CreateToken"),
        before + 1,
        "one refresh attempt, not one per request"
    );

    // Cached credentials for `dev` are still valid and still served.
    let (status, _) = get_credentials(&endpoint, "dev", &token);
    assert_eq!(status, 200);

    // A new sign-in is picked up at once.
    env.login();
    let (status, body) = get_credentials(&endpoint, "admin", &token);
    assert_eq!(status, 200, "{body}");
}

#[test]
fn the_daemon_exports_each_refreshed_token_to_the_aws_cli_cache_when_asked() {
    let mut env = Env::new(
        "export",
        &[
            "--auto-approve",
            "--token-ttl",
            "9",
            "--credentials-ttl",
            "60",
        ],
    );
    env.write_standard_config();
    env.login();
    let endpoint = env.start_daemon_with(&["--export-aws-cli-cache"]);
    let token = env.token();
    let (status, _) = get_credentials(&endpoint, "dev", &token);
    assert_eq!(status, 200);
    let cache_dir = env.home.path().join(".aws/sso/cache");
    // The token (9 s) is refreshed at 4.5 s left; wait for two refreshes.
    let mut seen = BTreeSet::new();
    let started = Instant::now();
    while seen.len() < 2 && started.elapsed() < Duration::from_secs(20) {
        if let Ok(entries) = std::fs::read_dir(&cache_dir) {
            for entry in entries.flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                    assert_eq!(v["startUrl"], "https://corp.awsapps.com/start");
                    assert!(v["expiresAt"].as_str().unwrap().ends_with('Z'));
                    seen.insert(v["accessToken"].as_str().unwrap().to_string());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(
        seen.len() >= 2,
        "the cache file follows each refresh: {}",
        seen.len()
    );
}
