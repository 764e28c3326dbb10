//! Shared harness for the end-to-end tests: a temporary HOME, the real
//! `credbroker` binary as emulator, daemon and client, and the keychain of
//! the D-Bus session the test script started (each test under its own
//! keychain service name so tests never see each other's items).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_credbroker");

/// Fail loudly when the keychain the suite needs is not there: these tests
/// must run under `scripts/test.sh`, never be silently skipped.
pub fn require_keychain() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no D-Bus session: run the suite with scripts/test.sh, which starts gnome-keyring"
    );
}

pub struct Env {
    pub home: tempfile::TempDir,
    pub name: String,
    pub emulator: Option<Child>,
    pub base_url: String,
    pub daemon: Option<Child>,
    /// More variables for every command started from here on.
    pub extra_env: Vec<(String, String)>,
}

impl Env {
    /// A fresh HOME and a running emulator started with `emulator_args`.
    pub fn new(name: &str, emulator_args: &[&str]) -> Env {
        require_keychain();
        let home = tempfile::Builder::new()
            .prefix(&format!("credbroker-{name}-"))
            .tempdir()
            .unwrap();
        let mut env = Env {
            home,
            name: format!("credbroker-test-{name}-{}", std::process::id()),
            emulator: None,
            base_url: String::new(),
            daemon: None,
            extra_env: Vec::new(),
        };
        let mut child = env
            .command()
            .arg("emulator")
            .args(["--listen", "127.0.0.1:0"])
            .args(emulator_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        env.base_url = line.trim().to_string();
        assert!(env.base_url.starts_with("http://127.0.0.1:"), "{line}");
        env.emulator = Some(child);
        env
    }

    pub fn config_path(&self) -> PathBuf {
        self.home.path().join(".aws/config")
    }

    pub fn runtime_dir(&self) -> PathBuf {
        self.home.path().join("run")
    }

    /// `XDG_STATE_HOME` of every process; the broker's state (the audit
    /// log) is in its `credbroker` directory.
    pub fn state_home(&self) -> PathBuf {
        self.home.path().join(".local/state")
    }

    pub fn write_config(&self, text: &str) {
        let path = self.config_path();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// The standard config: session `corp` (refreshable) and profiles
    /// `dev` (ReadOnly in 111111111111), `admin` (Admin in 111111111111),
    /// `prod` (ReadOnly in 222222222222), `cp` (credential_process).
    pub fn write_standard_config(&self) {
        self.write_config(&format!(
            "[sso-session corp]\n\
             sso_start_url = https://corp.awsapps.com/start\n\
             sso_region = us-east-1\n\
             sso_registration_scopes = sso:account:access\n\n\
             [profile dev]\ncredbroker_sso_session = corp\ncredbroker_account_id = 111111111111\ncredbroker_role_name = ReadOnly\nregion = us-east-1\n\n\
             [profile admin]\ncredbroker_sso_session = corp\ncredbroker_account_id = 111111111111\ncredbroker_role_name = Admin\nregion = us-east-1\n\n\
             [profile prod]\nsso_session = corp\nsso_account_id = 222222222222\nsso_role_name = ReadOnly\nregion = us-east-1\n\n\
             [profile cp]\ncredential_process = {BIN} credential-process --profile cp\n\
             credbroker_sso_session = corp\ncredbroker_account_id = 222222222222\ncredbroker_role_name = ReadOnly\nregion = us-east-1\n"
        ));
    }

    /// A `credbroker` command with this test's environment.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        self.apply_env(&mut cmd);
        cmd
    }

    pub fn apply_env(&self, cmd: &mut Command) {
        cmd.env("HOME", self.home.path())
            .env("AWS_CONFIG_FILE", self.config_path())
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.home.path().join(".aws/credentials"),
            )
            .env("CREDBROKER_RUNTIME_DIR", self.runtime_dir())
            .env("XDG_STATE_HOME", self.state_home())
            .env("CREDBROKER_KEYCHAIN_SERVICE", &self.name)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_DEFAULT_PROFILE")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
            .env_remove("AWS_CONTAINER_AUTHORIZATION_TOKEN")
            .env_remove("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("NO_COLOR", "1");
        if !self.base_url.is_empty() {
            cmd.env("AWS_ENDPOINT_URL", &self.base_url);
        }
        cmd.envs(self.extra_env.iter().map(|(k, v)| (k, v)));
    }

    /// Run `credbroker ARGS` to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `credbroker login --sso-session corp --no-browser`, asserting success.
    pub fn login(&self) {
        let out = self.run(&["login", "--sso-session", "corp", "--no-browser"]);
        assert!(
            out.status.success(),
            "login failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Start the daemon on a free port and wait until it has written its endpoint file.
    pub fn start_daemon(&mut self) -> String {
        self.start_daemon_with(&[])
    }

    /// Start the daemon with extra arguments; returns its URL base.
    pub fn start_daemon_with(&mut self, extra: &[&str]) -> String {
        let endpoint = self.runtime_dir().join("endpoint");
        let _ = std::fs::remove_file(&endpoint);
        let child = self
            .command()
            .args(["daemon", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.daemon = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(text) = std::fs::read_to_string(&endpoint) {
                if !text.is_empty() {
                    return text;
                }
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not write {}",
                endpoint.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kill_daemon(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn token(&self) -> String {
        std::fs::read_to_string(self.runtime_dir().join("token")).unwrap()
    }

    /// The emulator's per-operation call counts.
    pub fn stats(&self) -> serde_json::Value {
        get_json(&format!("{}/_emulator/stats", self.base_url))
    }

    pub fn stat(&self, operation: &str) -> u64 {
        self.stats()[operation].as_u64().unwrap_or(0)
    }

    /// Replace the AWS config file the way editors do: a new file renamed over it.
    pub fn replace_config(&self, text: &str) {
        let path = self.config_path();
        let tmp = path.with_file_name(".config.credbroker-test");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }

    /// `credbroker status --json`, asserting success.
    pub fn status_json(&self) -> serde_json::Value {
        let out = self.run(&["status", "--json"]);
        assert!(
            out.status.success(),
            "status failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // Leave no items behind in the shared keychain.
        let _ = self.run(&["logout", "--all"]);
        self.kill_daemon();
        if let Some(mut child) = self.emulator.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A minimal HTTP/1.1 GET over a raw socket, so tests control every header.
/// Returns (status, body).
pub fn raw_get(addr: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

pub fn get_json(url: &str) -> serde_json::Value {
    let without_scheme = url.strip_prefix("http://").unwrap();
    let (addr, path) = without_scheme.split_at(without_scheme.find('/').unwrap());
    let (status, body) = raw_get(addr, path, &[("Host", addr)]);
    assert_eq!(status, 200, "{url}: {body}");
    serde_json::from_str(&dechunk(&body)).unwrap()
}

/// Undo chunked transfer encoding if the server used it.
pub fn dechunk(body: &str) -> String {
    if serde_json::from_str::<serde_json::Value>(body).is_ok() {
        return body.to_string();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n]);
        rest = &tail[n + 2..];
    }
    out
}

/// GET a profile's credentials from the daemon at `endpoint` (`http://127.0.0.1:PORT`).
pub fn get_credentials(endpoint: &str, profile: &str, token: &str) -> (u16, serde_json::Value) {
    let addr = endpoint.strip_prefix("http://").unwrap();
    let (status, body) = raw_get(
        addr,
        &format!("/v1/credentials/{profile}"),
        &[
            ("Host", addr),
            ("Authorization", token),
            ("Accept", "application/json"),
        ],
    );
    let body = dechunk(&body);
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
    )
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// POST with an empty body to the emulator (its `/_emulator/*` controls).
pub fn emulator_post(base_url: &str, path: &str, body: &str) -> u16 {
    use std::io::{Read, Write};
    let addr = base_url.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Seconds from now until an RFC 3339 `Expiration`.
pub fn seconds_left(expiration: &str) -> i64 {
    let at = chrono::DateTime::parse_from_rfc3339(expiration).unwrap();
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds()
}

/// Run `credbroker ARGS` on a pseudo-terminal (util-linux `script`): wait
/// two seconds for its prompt, type `keys`, then wait for it to end.
/// Returns whether it succeeded, and what it wrote (stdout, then stderr).
pub fn on_a_terminal(env: &Env, args: &str, keys: &[u8]) -> (bool, String) {
    use std::io::Write;
    let mut cmd = Command::new("script");
    env.apply_env(&mut cmd);
    let mut child = cmd
        .args(["-q", "-e", "-c", &format!("{BIN} {args}"), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs commands on a pseudo-terminal");
    std::thread::sleep(Duration::from_secs(2));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(keys).unwrap();
    stdin.flush().unwrap();
    // Let the program read the keys before its terminal is hung up.
    std::thread::sleep(Duration::from_secs(1));
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Debian's Chromium (scripts/test.sh installs it), or
/// `$CREDBROKER_TEST_CHROMIUM`; the test fails, never skips, without it.
pub fn chromium_binary() -> PathBuf {
    let path = std::env::var_os("CREDBROKER_TEST_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "{} is missing: install Debian's chromium (scripts/test.sh does)",
        path.display()
    );
    path
}

/// Headless Chromium on a machine with no network: no background traffic,
/// no sandbox (tests run as root), and away from the test keychain.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--password-store=basic",
];
