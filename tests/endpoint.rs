//! The container-credentials endpoint over real HTTP, with a fixed table of
//! credentials in place of the broker.
//!
//! Well-formed requests go through reqwest, a real client; requests no
//! client would send (foreign `Host`, odd `Authorization`) are written by
//! hand on a raw socket.

use chrono::{TimeZone, Utc};
use credbroker::broker::{BrokerError, CredentialSource};
use credbroker::model::{RoleCredentials, Secret};
use credbroker::server::{self, AuthToken, ServeError, ServerLimits};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY";
const SESSION_TOKEN: &str = "FwoGZXIvYXdzSESSIONTOKEN";
const LOGIN_COMMAND: &str = "credbroker login --sso-session my-sso";

/// Profiles map to credentials or to one error each; every call is counted
/// so tests can show a refused request never reached the broker.
#[derive(Default)]
struct FixedCredentials {
    calls: AtomicUsize,
}

impl CredentialSource for FixedCredentials {
    async fn credentials(&self, profile: &str) -> Result<RoleCredentials, BrokerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if profile == "slow" {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        match profile {
            "dev" | "team dev" | "slow" => Ok(RoleCredentials {
                access_key_id: "ASIAEXAMPLEDEV".into(),
                secret_access_key: Secret::new(SECRET_KEY),
                session_token: Secret::new(SESSION_TOKEN),
                expiration: Utc.with_ymd_and_hms(2026, 11, 21, 23, 10, 0).unwrap(),
                account_id: Some("111111111111".into()),
                issued_at: None,
            }),
            "signed-out" => Err(BrokerError::login_required(
                "the session my-sso is not signed in",
                LOGIN_COMMAND,
            )),
            "plain" => Err(BrokerError::not_brokered("profile plain names no role")),
            "broken-config" => Err(BrokerError::config("~/.aws/config:3: bad line")),
            "throttled" => Err(BrokerError::upstream("TooManyRequests")),
            "locked" => Err(BrokerError::keychain("the keychain is locked")),
            "unreachable" => Err(BrokerError::upstream(
                "cannot get credentials for profile 'unreachable'",
            )
            .with_source(std::io::Error::other("connection refused"))),
            other => Err(BrokerError::unknown_profile(other)),
        }
    }
}

struct Running {
    port: u16,
    token: String,
    source: Arc<FixedCredentials>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<Result<(), ServeError>>,
    _dir: tempfile::TempDir,
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A whole keep-alive request head for `profile`, with this server's
    /// Host and token.
    fn request_head(&self, profile: &str) -> String {
        format!(
            "GET /v1/credentials/{profile} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: {}\r\n\r\n",
            self.port, self.token
        )
    }

    fn calls(&self) -> usize {
        self.source.calls.load(Ordering::SeqCst)
    }

    async fn stop(mut self) -> Result<(), ServeError> {
        self.stop.take().unwrap().send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.served)
            .await
            .expect("server stops within its grace period")
            .unwrap()
    }
}

async fn start() -> Running {
    start_with(ServerLimits::default()).await
}

async fn start_with(limits: ServerLimits) -> Running {
    capture_logs();
    let dir = tempfile::tempdir().unwrap();
    let token = AuthToken::load_or_create(&dir.path().join("token")).unwrap();
    let listener = server::bind_loopback("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let source = Arc::new(FixedCredentials::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let token_value = token.expose().to_owned();
    let served = tokio::spawn(server::serve_with_limits(
        listener,
        source.clone(),
        token,
        limits,
        async {
            let _ = stopped.await;
        },
    ));
    Running {
        port,
        token: token_value,
        source,
        stop: Some(stop),
        served,
        _dir: dir,
    }
}

async fn get(running: &Running, path: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .get(running.url(path))
        .header("Authorization", &running.token)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Send a hand-written request head (with `Connection: close` added) and
/// return the status line's code, the raw head and the body.
async fn raw(port: u16, head: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let request = format!("{head}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

fn code_of(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn serves_credentials_in_the_container_format() {
    let running = start().await;
    let response = reqwest::Client::new()
        .get(running.url("/v1/credentials/dev"))
        .header("Authorization", &running.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["AccessKeyId"], "ASIAEXAMPLEDEV");
    assert_eq!(body["SecretAccessKey"], SECRET_KEY);
    assert_eq!(body["Token"], SESSION_TOKEN);
    assert_eq!(body["Expiration"], "2026-11-21T23:10:00Z");
    assert!(body["Expiration"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["AccountId"], "111111111111");
    assert_eq!(body.as_object().unwrap().len(), 5);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn percent_encoded_profile_is_decoded() {
    let running = start().await;
    let (status, body) = get(&running, "/v1/credentials/team%20dev").await;
    assert_eq!(status, 200);
    assert_eq!(body["AccessKeyId"], "ASIAEXAMPLEDEV");
    let (status, body) = get(&running, "/v1/credentials/%zz").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("InvalidProfileName"))
    );
    let (status, _) = get(&running, "/v1/credentials/").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn refuses_requests_without_the_exact_token() {
    let running = start().await;
    let token = running.token.clone();
    let mut one_byte_off = token.clone().into_bytes();
    one_byte_off[20] = if one_byte_off[20] == b'A' { b'B' } else { b'A' };
    let one_byte_off = String::from_utf8(one_byte_off).unwrap();
    let cases = [
        ("none", None),
        (
            "wrong",
            Some("not-the-token-at-all-not-the-token-at-all".to_owned()),
        ),
        ("one byte different", Some(one_byte_off)),
        ("shorter", Some(token[..token.len() - 1].to_owned())),
        ("longer", Some(format!("{token}x"))),
        ("bearer", Some(format!("Bearer {token}"))),
        ("empty", Some(String::new())),
    ];
    for (case, value) in cases {
        let auth = value
            .map(|v| format!("Authorization: {v}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "GET /v1/credentials/dev HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n{auth}",
            running.port
        );
        let (status, head, body) = raw(running.port, &head).await;
        assert_eq!(status, 401, "{case}: {head}");
        assert_eq!(code_of(&body), "InvalidToken", "{case}");
        assert!(
            !body.contains(SECRET_KEY) && !body.contains(SESSION_TOKEN),
            "{case}"
        );
        assert!(!body.contains("ASIA"), "{case}");
    }
    assert_eq!(running.calls(), 0, "a refused request reached the broker");
}

#[tokio::test]
async fn refuses_a_host_that_is_not_the_listener() {
    let running = start().await;
    let port = running.port;
    let token = &running.token;
    for host in [
        format!("evil.example:{port}"),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        format!("localhost:{}", port.wrapping_add(1)),
        "127.0.0.1".to_owned(),
        "localhost".to_owned(),
    ] {
        let head = format!(
            "GET /v1/credentials/dev HTTP/1.1\r\nHost: {host}\r\nAuthorization: {token}\r\n"
        );
        let (status, _, body) = raw(port, &head).await;
        assert_eq!(status, 403, "{host}");
        assert_eq!(code_of(&body), "InvalidHost");
    }
    // HTTP/1.0 may omit Host; the endpoint still insists on one.
    let head = format!("GET /v1/credentials/dev HTTP/1.0\r\nAuthorization: {token}\r\n");
    assert_eq!(raw(port, &head).await.0, 403);
    assert_eq!(running.calls(), 0);

    for host in [
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        format!("127.0.0.1:{port}"),
    ] {
        let head = format!(
            "GET /v1/credentials/dev HTTP/1.1\r\nHost: {host}\r\nAuthorization: {token}\r\n"
        );
        assert_eq!(raw(port, &head).await.0, 200, "{host}");
    }
}

#[tokio::test]
async fn refuses_browser_requests() {
    let running = start().await;
    for header in [
        "Origin: https://evil.example",
        "Origin: null",
        "Sec-Fetch-Site: cross-site",
    ] {
        let head = format!(
            "GET /v1/credentials/dev HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: {}\r\n{header}\r\n",
            running.port, running.token
        );
        let (status, _, body) = raw(running.port, &head).await;
        assert_eq!(status, 403, "{header}");
        assert_eq!(code_of(&body), "BrowserRequestRefused");
    }
    assert_eq!(running.calls(), 0);
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let running = start().await;
    for path in [
        "/",
        "/v1/credentials",
        "/v1/credentials/dev/extra",
        "/latest/meta-data/",
    ] {
        let (status, body) = get(&running, path).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("NotFound")),
            "{path}"
        );
    }
    let response = reqwest::Client::new()
        .post(running.url("/v1/credentials/dev"))
        .header("Authorization", &running.token)
        .body("ignored")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET");
    assert_eq!(running.calls(), 0);
}

#[tokio::test]
async fn broker_errors_keep_their_status_code_and_message() {
    let running = start().await;
    let cases = [
        ("nobody", 404, "UnknownProfile"),
        ("plain", 404, "ProfileNotBrokered"),
        ("signed-out", 403, "LoginRequired"),
        ("broken-config", 400, "InvalidConfiguration"),
        ("throttled", 503, "UpstreamUnavailable"),
        ("locked", 503, "KeychainUnavailable"),
    ];
    for (profile, status, code) in cases {
        let (got, body) = get(&running, &format!("/v1/credentials/{profile}")).await;
        assert_eq!(
            (got, body["code"].as_str()),
            (status, Some(code)),
            "{profile}"
        );
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (_, body) = get(&running, "/v1/credentials/signed-out").await;
    assert!(
        body["message"].as_str().unwrap().contains(LOGIN_COMMAND),
        "{body}"
    );
    // An SDK shows only the message: it holds the first cause too.
    let (status, body) = get(&running, "/v1/credentials/unreachable").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body["message"],
        "cannot get credentials for profile 'unreachable': connection refused"
    );
}

#[tokio::test]
async fn a_request_past_its_deadline_is_the_timeout_kind() {
    let running = start_with(ServerLimits {
        request_timeout: Duration::from_millis(50),
        ..ServerLimits::default()
    })
    .await;
    // `slow` takes 300 ms.
    let (status, body) = get(&running, "/v1/credentials/slow").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "UpstreamTimeout", "{body}");
    let timeout = BrokerError::timed_out();
    assert_eq!(
        (status, body["code"].as_str()),
        (timeout.status(), Some(timeout.code()))
    );
    assert_eq!(body["message"], timeout.summary());
}

#[tokio::test]
async fn get_body_is_ignored_and_oversized_headers_are_refused() {
    let running = start().await;
    let head = format!(
        "GET /v1/credentials/dev HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: {}\r\nContent-Length: 5\r\n",
        running.port, running.token
    );
    // The body follows the blank line `raw` adds; it is never read.
    let (status, _, _) = raw(running.port, &head).await;
    assert_eq!(status, 200);

    let big = format!(
        "GET /v1/credentials/dev HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Padding: {}\r\n",
        running.port,
        "a".repeat(16 * 1024)
    );
    let (status, _, _) = raw(running.port, &big).await;
    assert_eq!(status, 431);

    // Headers past the count bound are refused too, however small.
    let many = |n: usize| {
        let extra: String = (0..n).map(|i| format!("X-{i}: a\r\n")).collect();
        format!(
            "GET /v1/credentials/dev HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: {}\r\n{extra}",
            running.port, running.token
        )
    };
    // Host, Authorization and the Connection header `raw` adds, then these.
    let fits = credbroker::server::MAX_HEADERS - 3;
    assert_eq!(raw(running.port, &many(fits)).await.0, 200);
    assert_eq!(raw(running.port, &many(fits + 1)).await.0, 431);
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    let running = start_with(ServerLimits {
        header_read_timeout: Duration::from_millis(200),
        ..ServerLimits::default()
    })
    .await;
    let mut stream = TcpStream::connect(("127.0.0.1", running.port))
        .await
        .unwrap();
    stream
        .write_all(b"GET /v1/credentials/dev HTTP/1.1\r\n")
        .await
        .unwrap();
    assert!(
        closed_within_5s(&mut stream).await,
        "connection left open past the header deadline"
    );

    // A connection that never sends anything is closed too.
    let mut idle = TcpStream::connect(("127.0.0.1", running.port))
        .await
        .unwrap();
    assert!(
        closed_within_5s(&mut idle).await,
        "idle connection left open past the header deadline"
    );
}

/// Read one response (its head and its `Content-Length` body) from a
/// keep-alive connection: its status.
async fn read_response(stream: &mut TcpStream) -> u16 {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "closed mid-head");
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .unwrap()
        .parse()
        .unwrap();
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    head[9..12].parse().unwrap()
}

#[tokio::test]
async fn the_header_deadline_runs_from_the_end_of_the_last_request() {
    let limit = Duration::from_millis(200);
    let running = start_with(ServerLimits {
        header_read_timeout: limit,
        ..ServerLimits::default()
    })
    .await;
    let request = |profile: &str| running.request_head(profile);
    let mut stream = TcpStream::connect(("127.0.0.1", running.port))
        .await
        .unwrap();
    // An answer that takes longer than the deadline (300 ms) is not cut off,
    stream.write_all(request("slow").as_bytes()).await.unwrap();
    assert_eq!(read_response(&mut stream).await, 200);
    // and the next head has the whole deadline from then on, though the
    // connection is older than that by now: twice over.
    for _ in 0..2 {
        tokio::time::sleep(limit / 2).await;
        stream.write_all(request("dev").as_bytes()).await.unwrap();
        assert_eq!(read_response(&mut stream).await, 200);
    }
    // A head begun and never finished is cut off once the deadline passes
    // from the end of the last request, not later.
    let sent = std::time::Instant::now();
    stream
        .write_all(b"GET /v1/credentials/dev HTTP/1.1\r\n")
        .await
        .unwrap();
    assert!(
        closed_within_5s(&mut stream).await,
        "a slow head on a keep-alive connection was not cut off"
    );
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "{:?}",
        sent.elapsed()
    );
}

/// Whether the server closes `stream` within 5 s (what it sends first is
/// read and dropped).
async fn closed_within_5s(stream: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
        .await
        .is_ok()
}

/// Every open connection hears of shutdown at once: with a grace period
/// and a header deadline longer than `Running::stop` waits (10 s), idle
/// connections that were never heard from, that served requests, or that
/// opened after others had ended are all closed, and the server ends.
#[tokio::test]
async fn shutdown_does_not_wait_for_idle_connections() {
    let running = start_with(ServerLimits {
        shutdown_grace: Duration::from_secs(60),
        header_read_timeout: Duration::from_secs(60),
        ..ServerLimits::default()
    })
    .await;
    let port = running.port;
    let request = running.request_head("dev");
    let connect = || TcpStream::connect(("127.0.0.1", port));
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(connect().await.unwrap());
        let mut served = connect().await.unwrap();
        served.write_all(request.as_bytes()).await.unwrap();
        assert_eq!(read_response(&mut served).await, 200);
        idle.push(served);
        // One that ends before shutdown comes.
        let mut ended = connect().await.unwrap();
        ended.write_all(request.as_bytes()).await.unwrap();
        assert_eq!(read_response(&mut ended).await, 200);
        drop(ended);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    running.stop().await.unwrap();
    for (n, stream) in idle.iter_mut().enumerate() {
        assert!(
            closed_within_5s(stream).await,
            "idle connection {n} left open"
        );
    }
    assert!(connect().await.is_err());
}

#[tokio::test]
async fn shutdown_lets_the_request_in_flight_finish() {
    let running = start().await;
    let request = reqwest::Client::new()
        .get(running.url("/v1/credentials/slow"))
        .header("Authorization", &running.token)
        .send();
    let in_flight = tokio::spawn(request);
    while running.calls() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    running.stop().await.unwrap();
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn refuses_to_bind_or_serve_off_loopback() {
    for addr in ["0.0.0.0:0", "[::]:0", "192.0.2.1:0", "10.1.2.3:9911"] {
        let addr: SocketAddr = addr.parse().unwrap();
        let err = server::bind_loopback(addr).await.unwrap_err();
        assert!(
            matches!(err, ServeError::NotLoopback(a) if a == addr),
            "{addr}"
        );
        assert!(err.to_string().contains("loopback"), "{err}");
    }
    let wildcard = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let source = Arc::new(FixedCredentials::default());
    let result = server::serve(
        wildcard,
        source,
        AuthToken::generate(),
        std::future::pending(),
    )
    .await;
    assert!(matches!(result, Err(ServeError::NotLoopback(_))));
}

#[cfg(unix)]
#[test]
fn token_file_is_private_exact_and_survives_reload() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run/credbroker/token");
    let token = AuthToken::load_or_create(&path).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes, token.expose().as_bytes());
    assert!(!bytes.ends_with(b"\n") && !bytes.ends_with(b"\r"));
    assert!(bytes.len() >= 32);
    let reloaded = AuthToken::load_or_create(&path).unwrap();
    assert_eq!(reloaded.expose(), token.expose());
    let rotated = AuthToken::rotate(&path).unwrap();
    assert_ne!(rotated.expose(), token.expose());
    assert_eq!(std::fs::read(&path).unwrap(), rotated.expose().as_bytes());
}

#[tokio::test]
async fn logs_never_carry_secrets() {
    let running = start().await;
    let _ = get(&running, "/v1/credentials/dev").await;
    let head = format!(
        "GET /v1/credentials/dev HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: {}x\r\n",
        running.port, running.token
    );
    let _ = raw(running.port, &head).await;
    let logs = String::from_utf8(LOGS.get().unwrap().lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("credentials request"),
        "debug logging is not captured: {logs}"
    );
    for secret in [SECRET_KEY, SESSION_TOKEN, running.token.as_str()] {
        assert!(!logs.contains(secret), "a secret reached the log");
    }
}

/// Every log line of this test binary, at debug level.
static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = LogBuffer(buffer.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buffer
    });
}
