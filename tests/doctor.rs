//! `credbroker doctor` end to end: the real binary, in a temporary HOME made
//! healthy against the emulator, then made to have each problem it knows;
//! each is found, with its fix, and an error makes it exit 1.

mod support;

use std::io::{Read, Write};
use support::Env;

/// `credbroker doctor --json` with extra environment: (exit code, report).
fn doctor(env: &Env, vars: &[(&str, &str)]) -> (i32, serde_json::Value) {
    let mut cmd = env.command();
    cmd.args(["doctor", "--json"]);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), report)
}

/// The checks named `name` that are not ok.
fn problems<'a>(report: &'a serde_json::Value, name: &str) -> Vec<&'a serde_json::Value> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["check"] == name && c["level"] != "ok")
        .collect()
}

fn assert_found(report: &serde_json::Value, name: &str, level: &str, words: &str) {
    let found = problems(report, name);
    assert!(
        found.iter().any(|c| c["level"] == level
            && c["message"].as_str().unwrap().contains(words)
            && c["fix"].is_string()),
        "no {level} '{words}' under {name}: {report:#}"
    );
}

/// A server that answers every request with a `Date` ten minutes behind.
fn skewed_idp() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let date = (chrono::Utc::now() - chrono::Duration::minutes(10))
                .format("%a, %d %b %Y %H:%M:%S GMT");
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nDate: {date}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    format!("http://{addr}")
}

#[test]
fn doctor_passes_a_healthy_machine_and_finds_each_seeded_problem() {
    let mut env = Env::new("doctor", &["--auto-approve"]);
    env.write_standard_config();
    env.login();
    env.start_daemon();

    let (code, report) = doctor(&env, &[]);
    assert_eq!(report["errors"], 0, "{report:#}");
    assert_eq!(code, 0, "{report:#}");
    for name in [
        "keychain",
        "daemon",
        "config",
        "sessions",
        "clock",
        "environment",
        "profiles",
    ] {
        assert!(
            report["checks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["check"] == name && c["level"] == "ok"),
            "{name} not ok: {report:#}"
        );
    }

    // Exported keys, a RELATIVE_URI, and AWS_PROFILE naming a plain SSO profile.
    let (code, report) = doctor(
        &env,
        &[
            ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
            (
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "/v2/credentials/x",
            ),
            ("AWS_PROFILE", "prod"),
        ],
    );
    assert_eq!(code, 1);
    assert_found(
        &report,
        "environment",
        "error",
        "AWS_ACCESS_KEY_ID is exported",
    );
    assert_found(&report, "environment", "error", "RELATIVE_URI");
    assert_found(
        &report,
        "environment",
        "warning",
        "AWS_PROFILE=prod is a plain SSO profile",
    );
    assert!(
        !report.to_string().contains("AKIAIOSFODNN7EXAMPLE"),
        "the key was echoed"
    );

    // Static keys in [default] of the credentials file.
    std::fs::write(
        env.home.path().join(".aws/credentials"),
        "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = x\n",
    )
    .unwrap();
    let (code, report) = doctor(&env, &[]);
    assert_eq!(code, 1);
    assert_found(&report, "environment", "error", "[default]");
    std::fs::remove_file(env.home.path().join(".aws/credentials")).unwrap();

    // The IdP's clock ten minutes away from ours.
    let (code, report) = doctor(&env, &[("AWS_ENDPOINT_URL_SSO_OIDC", &skewed_idp())]);
    assert_eq!(code, 1);
    assert_found(&report, "clock", "error", "ahead of IAM Identity Center's");

    // A profile the AWS CLI would sign in for itself.
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    env.replace_config(&format!(
        "{config}\n[profile both]\ncredential_process = credbroker credential-process --profile both\n\
         sso_session = corp\nsso_account_id = 111111111111\nsso_role_name = ReadOnly\n"
    ));
    let (code, report) = doctor(&env, &[]);
    assert_eq!(code, 1);
    assert_found(
        &report,
        "profiles",
        "error",
        "profile 'both' has credential_process",
    );

    // No daemon, and no config file at all.
    env.kill_daemon();
    std::fs::remove_file(env.config_path()).unwrap();
    let (code, report) = doctor(&env, &[]);
    assert_eq!(code, 1);
    assert_found(&report, "daemon", "warning", "no daemon is running");
    assert_found(&report, "config", "error", "does not exist");

    // The text form says the same, with the fixes.
    let out = env.run(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text.contains("FAIL") && text.contains("fix: `credbroker onboard`"),
        "{text}"
    );
}

#[test]
fn a_dead_keychain_is_an_error_with_the_fix() {
    let env = Env::new("doctor-keychain", &[]);
    env.write_standard_config();
    let (code, report) = doctor(
        &env,
        &[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")],
    );
    assert_eq!(code, 1, "{report:#}");
    assert_found(&report, "keychain", "error", "does not answer");
}

#[test]
fn an_expired_session_that_cannot_renew_is_an_error_naming_the_login() {
    let env = Env::new("doctor-session", &["--auto-approve", "--token-ttl", "2"]);
    // No sso_registration_scopes: the sign-in gets no refresh token.
    env.write_config(
        "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n\n\
         [profile dev]\ncredbroker_sso_session = corp\ncredbroker_account_id = 111111111111\n\
         credbroker_role_name = ReadOnly\nregion = us-east-1\n",
    );
    env.login();
    std::thread::sleep(std::time::Duration::from_secs(3));
    let (code, report) = doctor(&env, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_found(
        &report,
        "sessions",
        "error",
        "session 'corp' expired and holds no refresh token",
    );
    let fix = problems(&report, "sessions")[0]["fix"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(fix.contains("credbroker login --sso-session corp"), "{fix}");
}
