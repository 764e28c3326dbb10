//! `credbroker logout` against a running daemon, end to end with the real
//! binary and the emulator: the daemon stops serving the session's roles at
//! once (403 `LoginRequired` naming the command, on the endpoint and the
//! socket), `status` stops listing them, and the audit trail records the
//! logout. Then a dead refresh token as `status` shows it, before and right
//! after a new sign-in.

mod support;

use support::{emulator_post, get_credentials, Env};

fn assert_login_required(endpoint: &str, profile: &str, token: &str) {
    let (status, body) = get_credentials(endpoint, profile, token);
    assert_eq!(status, 403, "{profile}: {body}");
    assert_eq!(body["code"], "LoginRequired", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("credbroker login --sso-session corp"),
        "{message}"
    );
}

fn audit_lines(env: &Env) -> Vec<serde_json::Value> {
    let path = env.state_home().join("credbroker/audit.log");
    // The writer thread appends in batches; give it a moment.
    for _ in 0..50 {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.contains("\"logout\"") {
            return text
                .lines()
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("no logout record in {}", path.display());
}

#[test]
fn logout_makes_the_running_daemon_stop_serving_the_session() {
    let mut env = Env::new("logoutdaemon", &["--auto-approve"]);
    env.write_standard_config();
    env.login();
    let endpoint = env.start_daemon();
    let token = env.token();
    for profile in ["dev", "admin"] {
        let (status, body) = get_credentials(&endpoint, profile, &token);
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(env.status_json()["roles"].as_array().unwrap().len(), 2);

    let out = env.run(&["logout", "--sso-session", "corp"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("stopped serving 2 role(s)"), "{stderr}");

    // Cached roles and never-fetched ones alike: sign in first.
    for profile in ["dev", "admin", "prod"] {
        assert_login_required(&endpoint, profile, &token);
    }
    // The socket (credential-process) says the same, with exit status 3.
    let out = env.run(&["credential-process", "--profile", "cp"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("credbroker login --sso-session corp"),
        "{stderr}"
    );

    let status = env.status_json();
    assert_eq!(status["roles"], serde_json::json!([]), "{status}");
    assert_eq!(status["sessions"], serde_json::json!([]), "{status}");

    let lines = audit_lines(&env);
    let logout = lines
        .iter()
        .find(|l| l["result"] == "logout")
        .expect("a logout record");
    assert_eq!(logout["profile"], "sso-session corp", "{logout}");
    assert_eq!(logout["via"], "socket", "{logout}");
    assert!(logout["caller"]["pid"].as_u64().is_some(), "{logout}");

    // A new sign-in serves again.
    env.login();
    let (status, body) = get_credentials(&endpoint, "dev", &token);
    assert_eq!(status, 200, "{body}");
}

#[test]
fn logout_all_drops_every_session_the_daemon_holds() {
    let mut env = Env::new("logoutall", &["--auto-approve"]);
    env.write_standard_config();
    env.login();
    let endpoint = env.start_daemon();
    let token = env.token();
    let (status, body) = get_credentials(&endpoint, "prod", &token);
    assert_eq!(status, 200, "{body}");

    let out = env.run(&["logout", "--all"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_login_required(&endpoint, "prod", &token);
    assert_eq!(env.status_json()["roles"], serde_json::json!([]));
    let lines = audit_lines(&env);
    assert!(
        lines
            .iter()
            .any(|l| l["result"] == "logout" && l["profile"] == "sso-session corp"),
        "{lines:?}"
    );
}

#[test]
fn status_drops_the_sign_in_line_as_soon_as_a_new_sign_in_is_made() {
    let mut env = Env::new("statusrelogin", &["--auto-approve"]);
    env.write_standard_config();
    env.login();
    let endpoint = env.start_daemon();
    let token = env.token();
    // Revoke every token and refresh token: the refresh gets invalid_grant.
    assert_eq!(emulator_post(&env.base_url, "/_emulator/revoke", ""), 200);
    let (status, body) = get_credentials(&endpoint, "dev", &token);
    assert_eq!(status, 403, "{body}");

    // What failed, the portal's refusal under it, then the command; the
    // same lines from the daemon and from a client with no daemon to ask.
    let via_daemon = env.run(&["credential-process", "--profile", "dev"]);
    let no_daemon = env.home.path().join("no-daemon");
    let in_process = env
        .command()
        .args(["credential-process", "--profile", "dev"])
        .env("CREDBROKER_RUNTIME_DIR", &no_daemon)
        .output()
        .unwrap();
    // The error's lines and nothing else: no log line before them.
    let error_lines = |stderr: &[u8]| String::from_utf8_lossy(stderr).into_owned();
    let shown = error_lines(&via_daemon.stderr);
    assert_eq!(via_daemon.status.code(), Some(3), "{shown}");
    assert!(shown.starts_with("credbroker: "), "{shown}");
    assert_eq!(error_lines(&in_process.stderr), shown);
    assert_eq!(in_process.status.code(), Some(3));
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(
        lines[0], "credbroker: IAM Identity Center rejected the sign-in of SSO session 'corp'",
        "{shown}"
    );
    assert!(
        lines[1].starts_with("  caused by: IAM Identity Center rejected the SSO access token")
            && lines[1].contains("Unauthorized"),
        "{shown}"
    );
    assert_eq!(
        lines.last().unwrap(),
        &"  hint: run `credbroker login --sso-session corp`",
        "{shown}"
    );

    let status = env.status_json();
    assert_eq!(
        status["needs_login"][0]["session"], "corp",
        "the dead session is reported: {status}"
    );
    assert_eq!(
        status["sessions"][0]["refreshable"], false,
        "a dead refresh token does not renew: {status}"
    );
    let out = env.run(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("can no longer be renewed"), "{text}");

    env.login();
    // At once, not after the next refresh or renewal pass.
    let status = env.status_json();
    assert_eq!(status["needs_login"], serde_json::json!([]), "{status}");
    assert_eq!(status["sessions"][0]["refreshable"], true, "{status}");
    let out = env.run(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("can no longer be renewed"), "{text}");
}
