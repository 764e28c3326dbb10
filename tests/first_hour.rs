//! What a new user meets in the first hour, end to end with the real binary
//! and the emulator: a second daemon on a taken port, `login` with no
//! argument and a second `login` while signed in, and onboarding run
//! through a package manager's symlink.

mod support;

use std::process::Stdio;
use support::{on_a_terminal, Env, BIN};

const TWO_SESSIONS: &str = "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n\
    sso_region = us-east-1\nsso_registration_scopes = sso:account:access\n\n\
    [sso-session lab]\nsso_start_url = https://lab.awsapps.com/start\nsso_region = eu-west-1\n";

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_second_daemon_on_a_taken_port_names_the_first_and_how_to_stop_it() {
    let mut env = Env::new("port-taken", &[]);
    env.write_standard_config();
    let base = env.start_daemon();
    let listen = base.trim().trim_start_matches("http://").to_owned();
    let pid = env.daemon.as_ref().unwrap().id();

    let out = env.run(&["daemon", "--listen", &listen]);
    let text = stderr(&out);
    assert!(!out.status.success(), "a second daemon started: {text}");
    assert_eq!(
        text.matches("Address already in use").count(),
        0,
        "the kernel's words instead of ours: {text}"
    );
    assert!(
        text.contains(&format!("a credbroker daemon (pid {pid}) already serves")),
        "{text}"
    );
    assert!(text.contains(&format!("kill {pid}")), "{text}");

    // A daemon of another runtime directory is still recognised on the port.
    let other_runtime = env.home.path().join("other-run");
    let out = env
        .command()
        .args(["daemon", "--listen", &listen])
        .env("CREDBROKER_RUNTIME_DIR", &other_runtime)
        .output()
        .unwrap();
    let text = stderr(&out);
    assert!(!out.status.success());
    assert!(
        text.contains("another credbroker daemon already serves credentials"),
        "{text}"
    );
    assert_eq!(text.matches("os error 98").count(), 0, "{text}");
}

#[test]
fn login_with_no_argument_uses_the_only_session_and_lists_several() {
    let env = Env::new("login-noarg", &["--auto-approve"]);
    env.write_config(TWO_SESSIONS);
    let out = env.run(&["login", "--no-browser"]);
    let text = stderr(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("has 2 sso-sessions"), "{text}");
    assert!(
        text.contains("credbroker login --sso-session corp"),
        "{text}"
    );
    assert!(
        text.contains("credbroker login --sso-session lab"),
        "{text}"
    );
    assert_eq!(env.stat("StartDeviceAuthorization"), 0);

    env.write_standard_config();
    let out = env.run(&["login", "--no-browser", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["session"], "corp");
    // A device-code sign-in says what it waits for (the spinner itself is
    // hidden off a terminal, the prompt is not).
    assert!(stderr(&out).contains("check that it shows the code"));
    // The SDK's note on the missing credentials file (AWS_SHARED_CREDENTIALS_FILE
    // names none here) is not for the person: credbroker reads no such file.
    assert!(!stderr(&out).contains("aws_runtime"), "{}", stderr(&out));
}

#[test]
fn a_second_login_on_a_terminal_says_until_when_and_asks() {
    let env = Env::new("login-again", &["--auto-approve"]);
    env.write_standard_config();
    env.login();
    assert_eq!(env.stat("StartDeviceAuthorization"), 1);

    let (ok, text) = on_a_terminal(&env, "login --sso-session corp --no-browser", b"n\n");
    assert!(ok, "{text}");
    assert!(text.contains("Already signed in to 'corp' until"), "{text}");
    assert!(text.contains("Sign in again? [y/N]"), "{text}");
    assert!(text.contains("Kept the current sign-in"), "{text}");
    assert_eq!(
        env.stat("StartDeviceAuthorization"),
        1,
        "answering no still signed in"
    );

    let (ok, text) = on_a_terminal(&env, "login --sso-session corp --no-browser", b"y\n");
    assert!(ok, "{text}");
    assert_eq!(env.stat("StartDeviceAuthorization"), 2, "{text}");

    // --force asks nothing.
    let (ok, text) = on_a_terminal(&env, "login --force --no-browser", b"");
    assert!(ok, "{text}");
    assert!(!text.contains("[y/N]"), "{text}");
    assert_eq!(env.stat("StartDeviceAuthorization"), 3, "{text}");
}

#[test]
fn onboarding_through_a_symlink_on_path_writes_the_symlink() {
    let env = Env::new("onboard-link", &["--auto-approve"]);
    env.write_config("");
    // A package manager's layout: bin/credbroker -> versions/1.2.0/credbroker.
    let versioned = env.home.path().join("versions/1.2.0");
    std::fs::create_dir_all(&versioned).unwrap();
    std::fs::copy(BIN, versioned.join("credbroker")).unwrap();
    let bin = env.home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(versioned.join("credbroker"), bin.join("credbroker")).unwrap();
    let aws_cli = std::env::var("CREDBROKER_TEST_AWS_CLI")
        .expect("CREDBROKER_TEST_AWS_CLI is unset: run the suite with scripts/test.sh");

    let mut cmd = std::process::Command::new("credbroker");
    env.apply_env(&mut cmd);
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let out = cmd
        .env("PATH", &path)
        .args(["onboard", "--start-url", "https://corp.awsapps.com/start"])
        .args(["--region", "us-east-1", "--session-name", "corp"])
        .args(["--no-browser", "--no-service", "--aws-cli", &aws_cli])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    let written = format!("credential_process = {}/credbroker ", bin.display());
    assert!(config.contains(&written), "{config}");
    assert!(!config.contains("versions/1.2.0"), "{config}");
}

#[test]
fn onboarding_whose_proof_fails_still_reports_what_it_wrote_in_json() {
    let env = Env::new("onboard-proof", &["--auto-approve"]);
    env.write_config("");
    let out = env
        .command()
        .args(["onboard", "--start-url", "https://corp.awsapps.com/start"])
        .args(["--region", "us-east-1", "--session-name", "corp"])
        .args([
            "--no-browser",
            "--no-service",
            "--json",
            "--aws-cli",
            "/bin/false",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "a failed proof must fail the run");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON on stdout ({e}): {}", stderr(&out)));
    assert!(summary["profiles"].as_u64().unwrap() > 0, "{summary}");
    assert!(summary["verified"].is_null(), "{summary}");
    assert!(
        summary["error"]
            .as_str()
            .unwrap()
            .contains("was written but does not work yet"),
        "{summary}"
    );
}
