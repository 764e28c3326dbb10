//! End to end: emulator + `credbroker daemon` + `credbroker login`, all as
//! real processes, with the keychain of the test D-Bus session.

mod support;

use support::{get_credentials, raw_get, Env};

#[test]
fn daemon_serves_after_login_without_restart_and_maps_every_error() {
    let mut env = Env::new("daemon", &["--auto-approve"]);
    env.write_standard_config();
    let endpoint = env.start_daemon();
    let token = env.token();
    assert!(!token.is_empty() && !token.ends_with('\n'));

    // Not signed in yet: a 4xx that names the exact command.
    let (status, body) = get_credentials(&endpoint, "dev", &token);
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "LoginRequired");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("credbroker login --sso-session corp"),
        "{message}"
    );

    // Sign in while the daemon runs: it serves the new session at once.
    env.login();
    let (status, body) = get_credentials(&endpoint, "dev", &token);
    assert_eq!(status, 200, "{body}");
    for field in ["AccessKeyId", "SecretAccessKey", "Token", "Expiration"] {
        assert!(
            body[field].as_str().is_some_and(|v| !v.is_empty()),
            "{field}: {body}"
        );
    }
    assert!(body["Expiration"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["AccountId"], "111111111111");

    // A second request is served from the cache: still one upstream call.
    let (status, again) = get_credentials(&endpoint, "dev", &token);
    assert_eq!(status, 200);
    assert_eq!(again["AccessKeyId"], body["AccessKeyId"]);
    assert_eq!(env.stat("GetRoleCredentials"), 1);

    // Unknown profile: 404.
    let (status, body) = get_credentials(&endpoint, "nope", &token);
    assert_eq!(status, 404, "{body}");

    // Bad token, missing token: 401 and no credential in the body.
    let (status, body) = get_credentials(&endpoint, "dev", "wrong");
    assert_eq!(status, 401);
    assert!(body.get("SecretAccessKey").is_none());
    let addr = endpoint.strip_prefix("http://").unwrap();
    let (status, _) = raw_get(addr, "/v1/credentials/dev", &[("Host", addr)]);
    assert_eq!(status, 401);

    // A Host that does not name the loopback listener: refused.
    let (status, body) = raw_get(
        addr,
        "/v1/credentials/dev",
        &[("Host", "evil.example"), ("Authorization", &token)],
    );
    assert_eq!(status, 403, "{body}");
    assert!(!body.contains("SecretAccessKey"));
}

#[test]
fn restart_serves_from_the_keychain_without_a_new_login() {
    let mut env = Env::new("restart", &["--auto-approve"]);
    env.write_standard_config();
    env.login();
    let endpoint = env.start_daemon();
    let token = env.token();
    let (status, first) = get_credentials(&endpoint, "prod", &token);
    assert_eq!(status, 200, "{first}");
    let create_token_calls = env.stat("CreateToken");

    env.kill_daemon();
    let endpoint = env.start_daemon();
    assert_eq!(env.token(), token, "the token survives a restart");
    let (status, second) = get_credentials(&endpoint, "prod", &token);
    assert_eq!(status, 200, "{second}");
    assert_eq!(
        second["AccessKeyId"], first["AccessKeyId"],
        "served from the keychain"
    );
    assert_eq!(env.stat("GetRoleCredentials"), 1);

    // A role not fetched before still works with the stored SSO token.
    let (status, body) = get_credentials(&endpoint, "admin", &token);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        env.stat("CreateToken"),
        create_token_calls,
        "no new sign-in"
    );
}

#[test]
fn an_expired_session_asks_for_login() {
    let mut env = Env::new("expiry", &["--auto-approve", "--token-ttl", "3"]);
    // No sso:account:access scope: no refresh token, so expiry is final.
    env.write_config(
        "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n\n\
         [profile dev]\ncredbroker_sso_session = corp\ncredbroker_account_id = 111111111111\ncredbroker_role_name = ReadOnly\n",
    );
    env.login();
    let endpoint = env.start_daemon();
    let token = env.token();
    std::thread::sleep(std::time::Duration::from_secs(4));
    let (status, body) = get_credentials(&endpoint, "dev", &token);
    assert_eq!(status, 403, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("credbroker login --sso-session corp"),
        "{message}"
    );
}

#[test]
fn logout_revokes_the_session() {
    let env = Env::new("revoke", &["--auto-approve"]);
    env.write_standard_config();
    env.login();
    let out = env.run(&["logout", "--sso-session", "corp"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.stat("Logout"), 1);
    let out = env.run(&["credential-process", "--profile", "dev"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("credbroker login --sso-session corp"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn credential_process_prints_version_1_json() {
    let env = Env::new("credproc", &["--auto-approve"]);
    env.write_standard_config();
    env.login();
    let out = env.run(&["credential-process", "--profile", "dev"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Version"], 1);
    assert!(v["SessionToken"].as_str().is_some());
    assert!(v["Expiration"].as_str().unwrap().ends_with('Z'));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains(v["SecretAccessKey"].as_str().unwrap()));
}
