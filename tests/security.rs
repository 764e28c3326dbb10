//! The security model of docs/security.md, each promise tested against a running
//! daemon process (the real binary, the emulator, the test keychain):
//! loopback only, the exact token, Host and Origin checks, per-profile
//! tokens through `exec`, private files whatever the umask, no secret in any
//! output at trace level, request limits, and the audit trail's caller.
//!
//! The token, Host and Origin checks are also covered in-process, request by
//! request, in tests/endpoint.rs; here they run end to end.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use support::{get_credentials, raw_get, Env};

/// Signed in, daemon running: (env, endpoint base, full token).
fn signed_in(name: &str) -> (Env, String, String) {
    let mut env = Env::new(name, &["--auto-approve"]);
    env.write_standard_config();
    env.login();
    let endpoint = env.start_daemon();
    let token = env.token();
    (env, endpoint, token)
}

fn addr(endpoint: &str) -> &str {
    endpoint.strip_prefix("http://").unwrap()
}

fn port(endpoint: &str) -> &str {
    endpoint.rsplit(':').next().unwrap()
}

fn wait_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Assert a refused answer carries no credential.
fn assert_no_credential(body: &serde_json::Value, secret: &str) {
    let text = body.to_string();
    assert!(!text.contains("SecretAccessKey"), "{text}");
    assert!(!text.contains(secret), "{text}");
}

#[test]
fn daemon_refuses_to_listen_off_loopback() {
    let env = Env::new("offloopback", &[]);
    env.write_standard_config();
    for listen in ["0.0.0.0:0", "[::]:0"] {
        let mut child = env
            .command()
            .args(["daemon", "--listen", listen])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = wait_exit(&mut child, Duration::from_secs(20))
            .unwrap_or_else(|| panic!("daemon kept running on {listen}"));
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(!status.success(), "{listen}: {stderr}");
        assert!(stderr.contains("loopback"), "{listen}: {stderr}");
        assert!(!env.runtime_dir().join("endpoint").exists());
    }
}

#[test]
fn the_token_must_be_exact() {
    let (env, endpoint, token) = signed_in("exacttoken");
    let (status, good) = get_credentials(&endpoint, "dev", &token);
    assert_eq!(status, 200, "{good}");
    let secret = good["SecretAccessKey"].as_str().unwrap().to_owned();

    let mut one_byte = token.clone().into_bytes();
    one_byte[5] = if one_byte[5] == b'a' { b'b' } else { b'a' };
    let one_byte = String::from_utf8(one_byte).unwrap();
    let wrong = [
        String::new(),
        "x".repeat(token.len()),
        one_byte,
        token[..token.len() - 1].to_owned(),
        format!("{token}a"),
        format!("Bearer {token}"),
    ];
    let addr = addr(&endpoint);
    for presented in &wrong {
        let (status, body) = get_credentials(&endpoint, "dev", presented);
        assert_eq!(status, 401, "{presented:?}: {body}");
        assert_eq!(body["code"], "InvalidToken");
        assert_no_credential(&body, &secret);
    }
    // No Authorization header at all.
    let (status, body) = raw_get(addr, "/v1/credentials/dev", &[("Host", addr)]);
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains(&secret) && !body.contains("SecretAccessKey"));
    drop(env);
}

#[test]
fn foreign_hosts_and_browsers_are_refused() {
    let (env, endpoint, token) = signed_in("hostcheck");
    let addr = addr(&endpoint);
    let port = port(&endpoint);
    let foreign = [
        format!("evil.example:{port}"),
        format!("localhost.evil.example:{port}"),
        format!("127.0.0.2:{port}"),
        "evil.example".to_owned(),
        "127.0.0.1:1".to_owned(),
    ];
    for host in &foreign {
        let (status, body) = raw_get(
            addr,
            "/v1/credentials/dev",
            &[("Host", host), ("Authorization", &token)],
        );
        assert_eq!(status, 403, "{host}: {body}");
        assert!(body.contains("InvalidHost"), "{host}: {body}");
        assert!(!body.contains("SecretAccessKey"));
    }
    for (name, value) in [
        ("Origin", "https://evil.example"),
        ("Origin", "null"),
        ("Sec-Fetch-Site", "cross-site"),
    ] {
        let (status, body) = raw_get(
            addr,
            "/v1/credentials/dev",
            &[("Host", addr), ("Authorization", &token), (name, value)],
        );
        assert_eq!(status, 403, "{name}: {body}");
        assert!(body.contains("BrowserRequestRefused"), "{body}");
    }
    drop(env);
}

/// The child of `exec --profile dev` reads its token (variable and file)
/// and asks for dev, then for prod and admin with the same token.
const CHILD: &str = r#"
import json, os, sys, urllib.request, urllib.error
uri = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
from_file = open(os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]).read()
from_var = os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
out = {"same": from_file == from_var}
for profile in ["dev", "prod", "admin"]:
    req = urllib.request.Request(uri.rsplit("/", 1)[0] + "/" + profile,
                                 headers={"Authorization": from_file})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            out[profile] = [r.status, json.load(r)]
    except urllib.error.HTTPError as e:
        out[profile] = [e.code, json.load(e)]
print(json.dumps(out))
"#;

#[test]
fn exec_hands_its_child_a_token_for_its_profile_only() {
    let (env, endpoint, full) = signed_in("scoped");
    let out = env.run(&["exec", "--profile", "dev", "--", "python3", "-c", CHILD]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["same"], true, "{seen}");
    assert_eq!(seen["dev"][0], 200, "{seen}");
    assert!(seen["dev"][1]["SecretAccessKey"].is_string());
    for other in ["prod", "admin"] {
        assert_eq!(seen[other][0], 403, "{other}: {seen}");
        assert_eq!(seen[other][1]["code"], "TokenScopeMismatch", "{seen}");
        assert!(!seen[other][1].to_string().contains("SecretAccessKey"));
    }

    // `env` hands out the same kind of token, in a private file, and the
    // daemon's full token still reads everything.
    let out = env.run(&["env", "--profile", "prod", "--format", "json"]);
    assert!(out.status.success());
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let file = PathBuf::from(
        plan["set"]["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]
            .as_str()
            .unwrap(),
    );
    assert!(
        file.starts_with(env.runtime_dir().join("tokens")),
        "{file:?}"
    );
    let scoped = std::fs::read_to_string(&file).unwrap();
    assert_eq!(plan["set"]["AWS_CONTAINER_AUTHORIZATION_TOKEN"], scoped);
    assert!(scoped.starts_with("v1.") && !scoped.ends_with('\n'));
    assert_ne!(scoped, full);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(get_credentials(&endpoint, "prod", &scoped).0, 200);
    assert_eq!(get_credentials(&endpoint, "dev", &scoped).0, 403);
    assert_eq!(get_credentials(&endpoint, "dev", &full).0, 200);
    // A scoped token from another secret is a wrong token (401).
    let forged = format!("{}A", &scoped[..scoped.len() - 1]);
    let forged = if forged == scoped {
        format!("{}B", &scoped[..scoped.len() - 1])
    } else {
        forged
    };
    assert_eq!(get_credentials(&endpoint, "prod", &forged).0, 401);
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

/// A `credbroker` command that runs under umask 000.
fn with_umask_000(env: &Env, args: &[&str]) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = env.command();
    cmd.args(args);
    // SAFETY: umask(2) is async-signal-safe and touches only this child.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    cmd
}

/// Start the daemon from `cmd` (its output to `log`), wait for its endpoint file.
fn start_daemon_with(env: &mut Env, mut cmd: Command, log: Option<&Path>) -> String {
    let endpoint_file = env.runtime_dir().join("endpoint");
    let _ = std::fs::remove_file(&endpoint_file);
    let (out, err) = match log {
        Some(log) => {
            let file = std::fs::File::create(log).unwrap();
            (Stdio::from(file.try_clone().unwrap()), Stdio::from(file))
        }
        None => (Stdio::null(), Stdio::null()),
    };
    env.daemon = Some(cmd.stdout(out).stderr(err).spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(text) = std::fs::read_to_string(&endpoint_file) {
            if !text.is_empty() {
                return text;
            }
        }
        assert!(Instant::now() < deadline, "daemon did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        found.push(path.clone());
        if entry.file_type().unwrap().is_dir() {
            walk(&path, found);
        }
    }
}

#[test]
fn every_file_is_private_even_with_umask_000() {
    let mut env = Env::new("umask", &["--auto-approve"]);
    env.write_standard_config();
    let login = with_umask_000(&env, &["login", "--sso-session", "corp", "--no-browser"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(login.status.success(), "{login:?}");
    let daemon = with_umask_000(&env, &["daemon", "--listen", "127.0.0.1:0"]);
    let endpoint = start_daemon_with(&mut env, daemon, None);
    let token = env.token();
    assert_eq!(get_credentials(&endpoint, "dev", &token).0, 200);
    for args in [
        &["env", "--profile", "dev"][..],
        &["credential-process", "--profile", "cp"][..],
        &["exec", "--profile", "admin", "--", "true"][..],
    ] {
        let out = with_umask_000(&env, args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
    // Let the audit writer catch up.
    std::thread::sleep(Duration::from_millis(500));

    let roots = [env.runtime_dir(), env.state_home().join("credbroker")];
    let mut found = Vec::new();
    for root in &roots {
        assert_eq!(mode(root), 0o700, "{root:?}");
        walk(root, &mut found);
    }
    let names: Vec<String> = found
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in ["token", "endpoint", "tokens", "audit.log"] {
        assert!(names.iter().any(|n| n == expected), "{expected}: {names:?}");
    }
    for path in &found {
        let meta = std::fs::symlink_metadata(path).unwrap();
        let mode = mode(path);
        if meta.is_dir() {
            assert_eq!(mode, 0o700, "{path:?}");
        } else {
            // Files 0600; the Unix socket may be tighter, never looser.
            assert_eq!(mode & !0o600, 0, "{path:?} is {mode:o}");
            if meta.is_file() {
                assert_eq!(mode, 0o600, "{path:?}");
            }
        }
    }
}

fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Run `credbroker ARGS` at trace level, capturing everything.
fn trace(env: &Env, args: &[&str]) -> std::process::Output {
    let mut cmd = env.command();
    cmd.args(args).env("RUST_LOG", "trace").stdin(Stdio::null());
    cmd.output().unwrap()
}

#[test]
fn no_secret_reaches_any_output_at_trace_level() {
    let mut env = Env::new("secrets", &["--auto-approve"]);
    env.write_standard_config();
    // What may legitimately print a secret on stdout is kept apart.
    let mut logs = String::new();
    let mut secrets: Vec<String> = Vec::new();

    let login = trace(&env, &["login", "--sso-session", "corp", "--no-browser"]);
    assert!(login.status.success(), "{}", output_text(&login));
    logs.push_str(&output_text(&login));
    emulator_secrets(&env, &mut secrets);

    let daemon_log = env.home.path().join("daemon.log");
    let mut daemon = env.command();
    daemon
        .args(["daemon", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "trace");
    let endpoint = start_daemon_with(&mut env, daemon, Some(&daemon_log));
    let token = env.token();
    secrets.push(token.clone());
    for profile in ["dev", "admin", "prod", "nope"] {
        let (_, body) = get_credentials(&endpoint, profile, &token);
        for field in ["SecretAccessKey", "Token"] {
            if let Some(value) = body[field].as_str() {
                secrets.push(value.to_owned());
            }
        }
    }
    // A near-miss token must not be echoed either.
    let near_miss = format!("{}x", &token[..token.len() - 1]);
    get_credentials(&endpoint, "dev", &near_miss);

    let process = trace(&env, &["credential-process", "--profile", "cp"]);
    assert!(process.status.success(), "{}", output_text(&process));
    let vended: serde_json::Value = serde_json::from_slice(&process.stdout).unwrap();
    secrets.push(vended["SecretAccessKey"].as_str().unwrap().to_owned());
    secrets.push(vended["SessionToken"].as_str().unwrap().to_owned());
    logs.push_str(&String::from_utf8_lossy(&process.stderr));

    let env_out = trace(&env, &["env", "--profile", "dev"]);
    assert!(env_out.status.success());
    logs.push_str(&String::from_utf8_lossy(&env_out.stderr));
    for args in [
        &["exec", "--profile", "dev", "--", "true"][..],
        &["status", "--json"][..],
        &["status"][..],
        &["audit", "--json"][..],
        &["audit"][..],
        &["credential-process", "--profile", "nope"][..],
    ] {
        logs.push_str(&output_text(&trace(&env, args)));
    }
    for entry in std::fs::read_dir(env.runtime_dir().join("tokens")).unwrap() {
        secrets.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    emulator_secrets(&env, &mut secrets);

    // Stop the daemon the way a service manager does, so its shutdown is logged too.
    let pid = env.daemon.as_ref().unwrap().id();
    // SAFETY: kill(2) on the daemon child this test started.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    wait_exit(env.daemon.as_mut().unwrap(), Duration::from_secs(15)).expect("daemon stopped");
    env.daemon = None;
    logs.push_str(&std::fs::read_to_string(&daemon_log).unwrap());
    logs.push_str(&std::fs::read_to_string(env.state_home().join("credbroker/audit.log")).unwrap());

    // The run was really at trace level and really saw the flow.
    assert!(logs.contains("TRACE"), "no trace output captured");
    assert!(logs.contains("credentials request"), "{logs}");
    secrets.retain(|s| s.len() >= 8);
    secrets.sort();
    secrets.dedup();
    assert!(
        secrets.len() >= 10,
        "too few secrets collected: {}",
        secrets.len()
    );
    for secret in &secrets {
        if let Some(at) = logs.find(secret.as_str()) {
            let before = &logs[logs[..at].rfind('\n').map_or(0, |n| n + 1)..at];
            panic!(
                "a secret ({} chars) appears in the output after: {before:?}",
                secret.len()
            );
        }
    }
}

/// Every secret the emulator holds now.
fn emulator_secrets(env: &Env, secrets: &mut Vec<String>) {
    let held = support::get_json(&format!("{}/_emulator/secrets", env.base_url));
    secrets.extend(
        held.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned()),
    );
}

/// Read until the server closes the connection or `limit` passes; the
/// status line seen, if any.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&seen).into_owned()),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(String::from_utf8_lossy(&seen).into_owned()),
        }
    }
    None
}

#[test]
fn request_limits_keep_the_daemon_responsive() {
    let (env, endpoint, token) = signed_in("limits");
    let addr = addr(&endpoint).to_owned();

    // Oversized headers: refused, never served.
    let mut stream = TcpStream::connect(&addr).unwrap();
    let big = "a".repeat(9 * 1024);
    let request = format!(
        "GET /v1/credentials/dev HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {token}\r\nX-Pad: {big}\r\n\r\n"
    );
    let _ = stream.write_all(request.as_bytes());
    let answer = read_until_closed(&mut stream, Duration::from_secs(10)).expect("closed");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );

    // Slowloris: a byte a second is cut off by the header timeout (5 s).
    let started = Instant::now();
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(900)))
        .unwrap();
    let head =
        format!("GET /v1/credentials/dev HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {token}\r\n");
    let mut closed = false;
    for byte in head.bytes().chain(std::iter::repeat(b'x')).take(20) {
        if slow.write_all(&[byte]).is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 512];
        match slow.read(&mut buf) {
            Ok(_) => {
                closed = true;
                break;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    assert!(
        closed,
        "a slow client held its connection for {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );

    // A flood of idle connections: a good client is still served soon.
    let flood: Vec<TcpStream> = (0..500)
        .filter_map(|_| TcpStream::connect(&addr).ok())
        .collect();
    assert!(
        flood.len() >= 400,
        "only {} connections opened",
        flood.len()
    );
    let started = Instant::now();
    let served = loop {
        let attempt = std::panic::catch_unwind(|| get_credentials(&endpoint, "dev", &token).0);
        if matches!(attempt, Ok(200)) {
            break true;
        }
        if started.elapsed() > Duration::from_secs(10) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let waited = started.elapsed();
    drop(flood);
    assert!(served, "not served within 10 s of a flood");
    assert!(
        waited < Duration::from_secs(3),
        "served only after {waited:?}"
    );
    drop(env);
}

#[test]
fn audit_names_the_calling_process() {
    let (env, endpoint, _) = signed_in("auditcaller");
    let scoped = {
        let out = env.run(&["env", "--profile", "dev", "--format", "json"]);
        let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        plan["set"]["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // The client keeps its connection open a moment after the answer, as
    // SDKs with connection pools do, and prints its own pid.
    let script = r#"
import http.client, os, sys, time
host, port = sys.argv[1].rsplit(":", 1)
c = http.client.HTTPConnection(host, int(port), timeout=30)
for profile in ["dev", "prod"]:
    c.request("GET", "/v1/credentials/" + profile,
              headers={"Authorization": sys.argv[2], "Host": sys.argv[1]})
    r = c.getresponse(); r.read()
    print(profile, r.status)
print(os.getpid(), flush=True)
time.sleep(1.5)
"#;
    let python = which("python3");
    let out = Command::new(&python)
        .args(["-c", script, addr(&endpoint), &scoped])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("dev 200") && stdout.contains("prod 403"),
        "{stdout}"
    );
    let pid: u32 = stdout.lines().last().unwrap().trim().parse().unwrap();
    // The interpreter itself, behind any shim or symlink.
    let exe = std::fs::canonicalize(
        String::from_utf8(
            Command::new(&python)
                .args(["-c", "import sys; print(sys.executable, end='')"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap(),
    )
    .unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    let records = loop {
        let out = env.run(&["audit", "--json", "--since", "10m"]);
        assert!(out.status.success(), "{}", output_text(&out));
        let records: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|r: &serde_json::Value| r["caller"]["pid"] == pid)
            .collect();
        if records.len() >= 2 || Instant::now() > deadline {
            break records;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(records.len(), 2, "{records:?}");
    let dev = &records[0];
    assert_eq!(dev["profile"], "dev");
    assert_eq!(dev["result"], "ok");
    assert_eq!(dev["account"], "111111111111");
    assert_eq!(dev["role"], "ReadOnly");
    assert_eq!(dev["scope"], "profile");
    assert_eq!(dev["caller"]["exe"], exe.to_str().unwrap());
    assert_eq!(records[1]["profile"], "prod");
    assert_eq!(records[1]["result"], "TokenScopeMismatch");
    assert_eq!(records[1]["status"], 403);

    assert_eq!(dev["via"], "endpoint");

    // credential_process asks over the Unix socket; it is recorded too, with
    // the process the kernel names as the socket's peer.
    let out = env.run(&["credential-process", "--profile", "dev"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let credbroker = std::fs::canonicalize(support::BIN).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let socket = loop {
        let out = env.run(&["audit", "--json", "--since", "10m"]);
        let found = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|r| r["via"] == "socket");
        match found {
            Some(record) => break record,
            None => assert!(
                Instant::now() < deadline,
                "no socket record: {}",
                output_text(&out)
            ),
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(socket["profile"], "dev");
    assert_eq!(socket["result"], "ok");
    assert_eq!(socket["role"], "ReadOnly");
    assert_eq!(socket["caller"]["exe"], credbroker.to_str().unwrap());
    assert!(socket["caller"]["pid"].as_u64().is_some(), "{socket}");
    // Its parent is the tool that ran it: here, this test.
    assert_eq!(socket["caller"]["parent_pid"], std::process::id());
    let this_test = std::env::current_exe().unwrap();
    assert_eq!(socket["caller"]["parent_exe"], this_test.to_str().unwrap());

    let table = env.run(&["audit"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.starts_with("TIME"), "{table}");
    assert!(table.contains(exe.to_str().unwrap()), "{table}");
    assert!(table.contains(" socket "), "{table}");
    let raw = std::fs::read_to_string(env.state_home().join("credbroker/audit.log")).unwrap();
    assert!(!raw.contains(&scoped) && !raw.contains(&env.token()));
}

fn which(program: &str) -> PathBuf {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .unwrap();
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        !path.is_empty(),
        "{program} is not installed (scripts/test.sh installs it)"
    );
    PathBuf::from(path)
}

#[test]
fn a_clean_stop_writes_every_audit_record() {
    let (mut env, endpoint, token) = signed_in("auditstop");
    // Requests right up to the stop: the last ones are still queued (the
    // writer batches every 10 ms) or waiting for their caller's lookup.
    let requests = 30;
    for _ in 0..requests {
        let (status, _) = get_credentials(&endpoint, "dev", &token);
        assert_eq!(status, 200);
    }
    let pid = env.daemon.as_ref().unwrap().id();
    // SAFETY: kill(2) on the daemon child this test started.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    let stopped = wait_exit(env.daemon.as_mut().unwrap(), Duration::from_secs(15));
    env.daemon = None;
    assert!(stopped.expect("daemon stopped").success());
    let log = std::fs::read_to_string(env.state_home().join("credbroker/audit.log")).unwrap();
    let vends = log
        .lines()
        .filter(|l| l.contains("\"profile\":\"dev\""))
        .count();
    assert_eq!(vends, requests, "{log}");
}
