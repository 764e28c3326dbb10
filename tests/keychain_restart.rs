//! The daemon survives a restart of the keychain service under it.
//!
//! The daemon holds one Secret Service connection and session for its life
//! (`src/store/keychain.rs`). When gnome-keyring is replaced, that session
//! no longer exists in the new keychain process; the daemon must notice,
//! reopen its session once and go on. This test runs its own D-Bus session
//! and gnome-keyring (so restarting it disturbs no other test), signs in,
//! starts the daemon and serves one role, replaces gnome-keyring with
//! `gnome-keyring-daemon --replace`, and then asks for a role not fetched
//! yet: that request reads the SSO token from the keychain and writes the
//! new role credentials to it, both through the session opened before the
//! restart. Finally, with the daemon stopped, `credential-process` (a new
//! process, a new connection) finds in the keychain what was written.
//!
//! What this guards, honestly: `keyring` 3, which credbroker used before,
//! opened a new connection for every access, so it passed this test without
//! trying. The test fails on a held session that does not reopen (checked
//! by disabling the reopen: the request after the restart answers 503).

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use support::{get_credentials, Env};

const PASSWORD: &str = "restart-test-password";

/// A private session bus and the directories gnome-keyring keeps its files in.
struct PrivateBus {
    dir: tempfile::TempDir,
    bus: Child,
    address: String,
}

impl PrivateBus {
    fn start() -> PrivateBus {
        let dir = tempfile::Builder::new()
            .prefix("credbroker-kcrestart-")
            .tempdir()
            .unwrap();
        for sub in ["data", "run"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join("run"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon runs (scripts/test.sh installs dbus)");
        let mut address = String::new();
        BufReader::new(bus.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        let address = address.trim().to_string();
        assert!(address.starts_with("unix:"), "bus address {address:?}");
        PrivateBus { dir, bus, address }
    }

    /// Start gnome-keyring on this bus, unlocked; with `replace`, replacing
    /// the one running (which exits).
    fn keyring(&self, replace: bool) {
        let mut cmd = Command::new("gnome-keyring-daemon");
        if replace {
            cmd.arg("--replace");
        }
        let mut child = cmd
            .args(["--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_RUNTIME_DIR", self.path("run"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon runs (scripts/test.sh installs gnome-keyring)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(PASSWORD.as_bytes())
            .unwrap();
        // It forks the keychain service and exits once that holds the bus name.
        assert!(child.wait().unwrap().success(), "gnome-keyring started");
    }

    fn path(&self, sub: &str) -> std::path::PathBuf {
        self.dir.path().join(sub)
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        // gnome-keyring exits when its bus goes away.
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

#[test]
fn the_daemon_reads_and_writes_the_keychain_after_gnome_keyring_restarts() {
    let bus = PrivateBus::start();
    bus.keyring(false);

    let mut env = Env::new("kcrestart", &["--auto-approve"]);
    // Every command started from here on uses the private bus.
    env.extra_env
        .push(("DBUS_SESSION_BUS_ADDRESS".into(), bus.address.clone()));
    env.write_standard_config();
    env.login();
    let endpoint = env.start_daemon();
    let token = env.token();
    let (status, body) = get_credentials(&endpoint, "dev", &token);
    assert_eq!(status, 200, "before the restart: {body}");

    bus.keyring(true);

    // A role not fetched yet: reads the token, writes the credentials.
    let (status, body_admin) = get_credentials(&endpoint, "admin", &token);
    assert_eq!(status, 200, "after the restart: {body_admin}");
    // And the daemon goes on serving from the keychain it reopened.
    let (status, body) = get_credentials(&endpoint, "prod", &token);
    assert_eq!(status, 200, "a second request after the restart: {body}");
    assert_eq!(env.stat("StartDeviceAuthorization"), 1, "no new sign-in");

    // What was fetched after the restart is in the keychain: with the
    // daemon gone, credential-process reads it there, with no portal call.
    env.kill_daemon();
    let fetched = env.stat("GetRoleCredentials");
    let out = env.run(&["credential-process", "--profile", "admin"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stored: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        stored["AccessKeyId"], body_admin["AccessKeyId"],
        "the stored credentials are the ones served"
    );
    assert_eq!(
        env.stat("GetRoleCredentials"),
        fetched,
        "read from the keychain"
    );
}
