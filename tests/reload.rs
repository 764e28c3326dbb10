//! Live reload: the AWS config file edited under a running daemon.
//!
//! Edits are made the way editors make them (a new file renamed over the
//! old one). The broken-file steps make no credentials request before
//! reading `status`, so only the daemon's file watch can have noticed them.

mod support;

use std::time::{Duration, Instant};
use support::{get_credentials, Env};

const EXTRA: &str = "\n[profile extra]\ncredbroker_sso_session = corp\n\
                     credbroker_account_id = 222222222222\ncredbroker_role_name = ReadOnly\n";

/// Poll `check` for up to ten seconds.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn config_edits_apply_under_a_running_daemon() {
    let mut env = Env::new("reload", &["--auto-approve"]);
    env.write_standard_config();
    let standard = std::fs::read_to_string(env.config_path()).unwrap();
    env.login();
    let endpoint = env.start_daemon();
    let token = env.token();
    assert_eq!(get_credentials(&endpoint, "dev", &token).0, 200);
    assert_eq!(get_credentials(&endpoint, "extra", &token).0, 404);

    // A new profile is served at once.
    env.replace_config(&format!("{standard}{EXTRA}"));
    eventually("the new profile is served", || {
        get_credentials(&endpoint, "extra", &token).0 == 200
    });

    // A removed one is gone.
    env.replace_config(&standard);
    eventually("the removed profile answers 404", || {
        get_credentials(&endpoint, "extra", &token).0 == 404
    });

    // A broken edit: reported by status without any request prompting a
    // re-read, and the last good configuration is still served.
    env.replace_config(&format!("{standard}{EXTRA}[profile broken\nkey = value\n"));
    let mut status = serde_json::Value::Null;
    eventually("status reports the config error", || {
        status = env.status_json();
        status["config"]["error"].is_string()
    });
    let error = status["config"]["error"].as_str().unwrap();
    assert!(error.contains("config"), "{error}");
    assert_eq!(status["daemon"]["running"], true);
    assert_eq!(
        status["config"]["path"],
        env.config_path().to_str().unwrap()
    );
    let (code, body) = get_credentials(&endpoint, "dev", &token);
    assert_eq!(code, 200, "the last good config is still served: {body}");
    assert_eq!(
        get_credentials(&endpoint, "extra", &token).0,
        404,
        "nothing from the broken file is served"
    );

    // Fixed: the error is gone (again without a request) and the edit applies.
    env.replace_config(&format!("{standard}{EXTRA}"));
    eventually("status clears the config error", || {
        env.status_json()["config"]["error"].is_null()
    });
    assert_eq!(get_credentials(&endpoint, "extra", &token).0, 200);
}
