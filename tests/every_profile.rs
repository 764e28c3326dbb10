//! Every kind of profile, wherever a profile is served: `credential-process`
//! answers from the caller's AWS config file even while a daemon runs on
//! another, and every "no profile" error names the file it looked in;
//! `env` and `exec` take web-identity profiles as the daemon does; and a
//! web-identity profile the daemon serves is listed by `status`.

mod support;

use support::{get_credentials, get_json, raw_get, Env};

#[test]
fn credential_process_reads_the_callers_config_file_not_the_daemons() {
    let mut env = Env::new("callerconfig", &["--auto-approve"]);
    env.write_standard_config();
    env.login();
    env.start_daemon();
    let other = env.home.path().join("other-config");
    std::fs::write(
        &other,
        "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n\
         sso_region = us-east-1\nsso_registration_scopes = sso:account:access\n\n\
         [profile only-here]\ncredbroker_sso_session = corp\n\
         credbroker_account_id = 111111111111\ncredbroker_role_name = Admin\n",
    )
    .unwrap();
    let out = env
        .command()
        .args(["credential-process", "--profile", "only-here"])
        .env("AWS_CONFIG_FILE", &other)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["Version"], 1);

    // A profile in neither file: the error names the caller's file.
    let out = env
        .command()
        .args(["credential-process", "--profile", "nowhere"])
        .env("AWS_CONFIG_FILE", &other)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "no profile named 'nowhere' in {}",
            other.display()
        )),
        "{stderr}"
    );
    // Through the daemon (same file), the daemon's file is named.
    let out = env.run(&["credential-process", "--profile", "nowhere"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&env.config_path().display().to_string()),
        "{stderr}"
    );
}

/// A GitHub Actions token minted by the emulator's issuer.
fn mint(env: &Env) -> String {
    let github = get_json(&format!("{}/_emulator/github", env.base_url));
    let url = github["request_url"].as_str().unwrap();
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_at(rest.find('/').unwrap());
    let auth = format!("Bearer {}", github["request_token"].as_str().unwrap());
    let (status, body) = raw_get(
        addr,
        &format!("{path}&audience=sts.amazonaws.com"),
        &[("Host", addr), ("Authorization", &auth)],
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&support::dechunk(&body)).unwrap();
    v["value"].as_str().unwrap().to_string()
}

#[test]
fn env_exec_and_status_take_web_identity_profiles() {
    let mut env = Env::new("webidentityenv", &["--auto-approve"]);
    let token_file = env.home.path().join("token.jwt");
    std::fs::write(&token_file, mint(&env)).unwrap();
    env.write_config(&format!(
        "[profile pod]\nrole_arn = arn:aws:iam::111111111111:role/GitHubDeploy\n\
         web_identity_token_file = {}\nrole_session_name = pod\nregion = eu-west-1\n",
        token_file.display()
    ));
    let endpoint = env.start_daemon();

    let out = env.run(&["env", "--profile", "pod", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let uri = plan["set"]["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
        .as_str()
        .unwrap();
    assert!(uri.ends_with("/v1/credentials/pod"), "{uri}");
    assert_eq!(plan["set"]["AWS_REGION"], "eu-west-1");

    // exec hands the child the endpoint, which serves the web identity.
    let out = env
        .command()
        .args(["exec", "--profile", "pod", "--", "sh", "-c"])
        .arg("printf %s \"$AWS_CONTAINER_CREDENTIALS_FULL_URI\"")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("/v1/credentials/pod"));
    let (status, body) = get_credentials(&endpoint, "pod", &env.token());
    assert_eq!(status, 200, "{body}");

    // status lists it, with its renewal time, like an SSO role.
    let status = env.status_json();
    let role = &status["roles"][0];
    assert_eq!(role["kind"], "web-identity", "{status}");
    assert_eq!(
        role["role_arn"], "arn:aws:iam::111111111111:role/GitHubDeploy",
        "{status}"
    );
    assert!(role["renew_at"].as_str().is_some(), "{status}");
}

/// A portal that does not answer is said in credbroker's terms, then its
/// causes down to the OS's, each once, then nothing of the SDK's dump; the
/// daemon's socket carries the causes, so `credential-process` prints the
/// same lines with the daemon and without it; and the endpoint's JSON
/// `message`, all an SDK shows, holds the first cause.
#[test]
fn an_unreachable_portal_shows_its_chain_with_and_without_the_daemon() {
    let mut env = Env::new("unreachable", &["--auto-approve"]);
    env.write_standard_config();
    env.login();
    // From here on every command, the daemon included, calls a port nothing
    // listens on (9, discard, on the loopback address).
    let closed = "http://127.0.0.1:9";
    env.extra_env
        .push(("AWS_ENDPOINT_URL".into(), closed.into()));

    let out = env.run(&["credential-process", "--profile", "dev"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let in_process = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<&str> = in_process.lines().collect();
    assert_eq!(
        lines[0],
        "credbroker: cannot get credentials for profile 'dev' (role ReadOnly in account 111111111111)",
        "what failed, in credbroker's terms, and no cause in it: {in_process}"
    );
    let first_cause = lines[1]
        .strip_prefix("  caused by: ")
        .unwrap_or_else(|| panic!("a cause follows: {in_process}"));
    assert!(
        first_cause.starts_with(&format!(
            "IAM Identity Center is unavailable: no answer from {closed} (connection refused)"
        )),
        "the portal's error, naming the URL tried: {in_process}"
    );
    assert!(first_cause.contains("AWS_ENDPOINT_URL"), "{in_process}");
    // Every further line is a cause, said once, down to the OS's error.
    for (i, line) in lines.iter().enumerate().skip(1) {
        assert!(line.starts_with("  caused by: "), "{in_process}");
        assert!(!lines[..i].contains(line), "said twice: {in_process}");
    }
    assert!(lines.len() > 2, "the SDK's causes are kept: {in_process}");
    assert!(
        lines
            .last()
            .unwrap()
            .contains("Connection refused (os error"),
        "the deepest cause is the OS's: {in_process}"
    );
    assert_eq!(in_process.matches("os error").count(), 1, "{in_process}");
    // The SDK's Debug dump names its types: never shown.
    for dump in [
        "DispatchFailure",
        "ConnectorError",
        "ConnectError(",
        "kind:",
    ] {
        assert!(!in_process.contains(dump), "{dump} in {in_process}");
    }

    // Through the daemon (the client has no keychain, so the answer is the
    // daemon's): the same lines, the same exit code.
    let endpoint = env.start_daemon();
    let out = env
        .command()
        .args(["credential-process", "--profile", "dev"])
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr), in_process);

    // The endpoint: the status and code of an upstream failure, and the
    // message with its first cause.
    let (status, body) = get_credentials(&endpoint, "dev", &env.token());
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "UpstreamUnavailable", "{body}");
    let message = lines[0].strip_prefix("credbroker: ").unwrap();
    assert_eq!(
        body["message"].as_str().unwrap(),
        format!("{message}: {first_cause}"),
        "{body}"
    );
}
