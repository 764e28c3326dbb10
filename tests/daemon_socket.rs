//! `credential-process` over the daemon's Unix socket, and without it.
//!
//! Proof that an answer came from the daemon: the client runs with no
//! reachable D-Bus, so it cannot have opened the keychain itself.

mod support;

use std::process::Output;
use support::Env;

fn document(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "credential-process failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(text.lines().count(), 1, "exactly one JSON line: {text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["Version"], 1);
    for field in [
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
    ] {
        assert!(
            v[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}: {v}"
        );
    }
    v
}

/// `credbroker credential-process --profile P` with no keychain reachable.
fn without_keychain(env: &Env, profile: &str) -> Output {
    env.command()
        .args(["credential-process", "--profile", profile])
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .output()
        .unwrap()
}

#[test]
fn the_running_daemon_answers_without_the_keychain() {
    let mut env = Env::new("sock-fast", &["--auto-approve"]);
    env.write_standard_config();
    env.login();
    env.start_daemon();

    let socket = env.runtime_dir().join("daemon.sock");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "socket mode");

    let first = document(&without_keychain(&env, "dev"));
    for _ in 0..10 {
        let again = document(&without_keychain(&env, "dev"));
        assert_eq!(again["AccessKeyId"], first["AccessKeyId"]);
    }
    assert_eq!(
        env.stat("GetRoleCredentials"),
        1,
        "one upstream call in all"
    );

    // The daemon's errors come back as the in-process path's would.
    let out = without_keychain(&env, "nope");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no profile named 'nope'"), "{stderr}");

    // Without the daemon, that same client has nothing to ask: proof the
    // answers above came over the socket.
    env.kill_daemon();
    let out = without_keychain(&env, "dev");
    assert!(
        !out.status.success(),
        "resolved without daemon or keychain?"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn with_no_daemon_it_resolves_in_process_even_past_a_stale_socket() {
    let mut env = Env::new("sock-stale", &["--auto-approve"]);
    env.write_standard_config();
    env.login();
    env.start_daemon();
    // SIGKILL leaves the socket file behind with nobody listening.
    env.kill_daemon();
    assert!(env.runtime_dir().join("daemon.sock").exists());
    let out = env.run(&["credential-process", "--profile", "dev"]);
    document(&out);
    assert_eq!(env.stat("GetRoleCredentials"), 1);

    // A new daemon replaces the stale socket and answers on it.
    env.start_daemon();
    document(&without_keychain(&env, "dev"));
}

#[test]
fn no_session_exits_3_with_the_login_command_either_way() {
    let mut env = Env::new("sock-login", &["--auto-approve"]);
    env.write_standard_config();
    for daemon in [false, true] {
        if daemon {
            env.start_daemon();
        }
        let out = env.run(&["credential-process", "--profile", "dev"]);
        assert_eq!(out.status.code(), Some(3), "daemon running: {daemon}");
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("credbroker login --sso-session corp"),
            "daemon running: {daemon}: {stderr}"
        );
    }
}

#[test]
fn the_socket_is_removed_on_a_clean_shutdown() {
    let mut env = Env::new("sock-term", &[]);
    env.write_standard_config();
    env.start_daemon();
    let socket = env.runtime_dir().join("daemon.sock");
    assert!(socket.exists());
    let mut daemon = env.daemon.take().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(daemon.wait().unwrap().success());
    assert!(!socket.exists(), "socket left behind after SIGTERM");
}
