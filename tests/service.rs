//! The service files as installed pass their platforms' validators, and
//! `credbroker service` on a machine with no user systemd writes the unit,
//! says why it cannot start it and prints the commands, without failing.
//!
//! Needs `systemd-analyze` (Debian package `systemd`) and Python 3 (for
//! plistlib); scripts/test.sh installs both.

use credbroker::service::{render_plist, render_unit, LAUNCHD_PLIST};
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_credbroker");

fn binary() -> PathBuf {
    std::fs::canonicalize(BIN).unwrap()
}

fn python() -> String {
    std::env::var("CREDBROKER_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

#[test]
fn installed_unit_passes_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = dir.path().join("run");
    std::fs::create_dir_all(&runtime).unwrap();
    let unit = dir.path().join("credbroker.service");
    std::fs::write(&unit, render_unit(&binary())).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["--user", "verify"])
        .arg(&unit)
        .env("XDG_RUNTIME_DIR", &runtime)
        .output()
        .expect("systemd-analyze is missing: install the Debian package `systemd` (scripts/test.sh does)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Unknown or unparseable settings are only warnings; refuse those too.
    assert!(!stderr.contains("credbroker.service"), "{stderr}");
}

#[test]
fn a_broken_unit_is_caught_by_the_same_check() {
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("credbroker.service");
    let broken = render_unit(&binary()).replace("Restart=on-failure", "Restart=sometimes");
    std::fs::write(&unit, broken).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["--user", "verify"])
        .arg(&unit)
        .env("XDG_RUNTIME_DIR", dir.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("credbroker.service"));
}

const PLIST_KEYS: &str = r#"
import json, plistlib, sys
with open(sys.argv[1], "rb") as f:
    p = plistlib.load(f)
print(json.dumps(p))
"#;

fn parse_plist(text: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("com.credbroker.daemon.plist");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(python())
        .args(["-c", PLIST_KEYS])
        .arg(&path)
        .output()
        .expect("python3 is missing (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn launch_agent_parses_with_plistlib_and_has_the_keys() {
    let committed = parse_plist(LAUNCHD_PLIST);
    assert_eq!(committed["Label"], "com.credbroker.daemon");

    let home = Path::new("/Users/new.engineer");
    let p = parse_plist(&render_plist(&binary(), home));
    assert_eq!(p["Label"], "com.credbroker.daemon");
    assert_eq!(
        p["ProgramArguments"],
        serde_json::json!([binary().to_str().unwrap(), "daemon"])
    );
    assert_eq!(p["RunAtLoad"], true);
    assert_eq!(p["KeepAlive"]["SuccessfulExit"], false);
    for key in ["StandardOutPath", "StandardErrorPath"] {
        let path = p[key].as_str().unwrap();
        assert!(
            path.starts_with("/Users/new.engineer/Library/Logs/credbroker/"),
            "{key}: {path}"
        );
    }
}

#[cfg(target_os = "linux")]
#[test]
fn without_user_systemd_install_writes_the_unit_and_prints_the_steps() {
    let home = tempfile::tempdir().unwrap();
    let runtime = home.path().join("run");
    std::fs::create_dir_all(&runtime).unwrap();
    let service = |action: &str| {
        Command::new(BIN)
            .args(["service", action])
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join(".config"))
            .env("XDG_RUNTIME_DIR", &runtime)
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .output()
            .unwrap()
    };
    let unit = home.path().join(".config/systemd/user/credbroker.service");

    let out = service("install");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("no user systemd instance is running"),
        "{stderr}"
    );
    assert!(
        stderr.contains("    systemctl --user enable credbroker.service\n"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&unit).unwrap();
    assert!(
        text.contains(&format!("\nExecStart={} daemon\n", binary().display())),
        "{text}"
    );

    let out = service("status");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.contains("is installed"),
        "{stderr}"
    );

    let out = service("restart");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot restart"));

    let out = service("uninstall");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!unit.exists());
}
