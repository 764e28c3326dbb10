//! The physical limit of this stack, for `scripts/bench.sh`: a hyper HTTP/1
//! server on the same tokio runtime as the daemon that answers every request
//! with the same bytes the daemon sends for a cached profile (a fixed body
//! with the same `Content-Type` and `Cache-Control`), with no
//! authorization, routing, lookup or audit record.
//!
//! ```text
//! cargo run --release --example minimal_server -- BODY_FILE [--limits]
//! cargo run --release --example minimal_server -- BODY_FILE --promises TOKEN_FILE AUDIT_FILE
//! ```
//!
//! With `--limits` it also enforces the daemon's per-connection limits
//! (the header read deadline, which arms a timer for every request, and
//! the header size bound), so a benchmark can tell what those cost apart
//! from everything else the daemon does.
//!
//! With `--promises` it keeps, on every request, the promises the daemon
//! keeps and nothing else: the request is admitted by the daemon's own
//! checks (`server::auth::admit_on`: no browser, the `Host` header, the
//! token in constant time, with the same per-connection memo) against the
//! daemon's token in TOKEN_FILE, and one audit record is queued to the
//! daemon's own writer (`audit::AuditTrail`), which writes it to
//! AUDIT_FILE. What the daemon spends beyond this server is its routing,
//! its kept answer and its caller lookup; what this server spends beyond
//! the plain one is the price of the promises.
//!
//! It binds 127.0.0.1 on a free port, prints `http://127.0.0.1:PORT` on the
//! first line of stdout, and serves until it is killed (with `--promises`,
//! until SIGTERM or SIGINT, after which the queued records are written).

use bytes::Bytes;
use credbroker::audit::{AuditTrail, Caller, Subject, Vend, Via};
use credbroker::server::{auth, AuthToken};
use http_body_util::Full;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;

const USAGE: &str = "usage: minimal_server BODY_FILE [--limits | --promises TOKEN_FILE AUDIT_FILE]";

/// What `--promises` checks and records against.
struct Promises {
    token: AuthToken,
    trail: AuditTrail,
    subject: Arc<Subject>,
    caller: Arc<Caller>,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().ok_or_else(|| anyhow::anyhow!(USAGE))?;
    let body = Bytes::from(std::fs::read(path)?);
    let (limits, promises) = match args.get(1).map(String::as_str) {
        None => (false, None),
        Some("--limits") => (true, None),
        Some("--promises") => match (args.get(2), args.get(3)) {
            (Some(token), Some(audit)) => (false, Some((token.into(), audit.into()))),
            _ => anyhow::bail!(USAGE),
        },
        Some(_) => anyhow::bail!(USAGE),
    };
    // The daemon runs on `Runtime::new()` (one worker per core); so does this.
    tokio::runtime::Runtime::new()?.block_on(serve(body, limits, promises))
}

async fn serve(
    body: Bytes,
    limits: bool,
    promises: Option<(PathBuf, PathBuf)>,
) -> anyhow::Result<()> {
    let mut http = http1::Builder::new();
    if limits {
        let daemon = credbroker::server::ServerLimits::default();
        http.timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(daemon.header_read_timeout)
            .max_header_size(daemon.max_header_bytes);
    }
    let (promises, writer) = match promises {
        Some((token, audit)) => {
            let token = AuthToken::load(&token).map_err(|e| anyhow::anyhow!("{e}"))?;
            let (trail, writer) = AuditTrail::open(&audit)?;
            let subject = Arc::new(Subject {
                profile: "dev".into(),
                account: Some("111111111111".into()),
                role: Some("Admin".into()),
                chain: None,
            });
            let promises = Promises {
                token,
                trail,
                subject,
                caller: Arc::new(Caller::default()),
            };
            (Some(Arc::new(promises)), Some(writer))
        }
        None => (None, None),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "http://{}", listener.local_addr()?)?;
    stdout.flush()?;
    tokio::select! {
        result = accept_all(listener, http, body, promises.clone()) => match result? {},
        _ = stop_asked() => {}
    }
    // The records queued so far are written before the process ends.
    drop(promises);
    if let Some(writer) = writer {
        writer.finish(std::time::Duration::from_secs(5));
    }
    Ok(())
}

/// Serve every connection `listener` accepts; ends only on an accept error.
async fn accept_all(
    listener: TcpListener,
    http: http1::Builder,
    body: Bytes,
    promises: Option<Arc<Promises>>,
) -> anyhow::Result<Infallible> {
    let port = listener.local_addr()?.port();
    loop {
        let (stream, _) = listener.accept().await?;
        let body = body.clone();
        let http = http.clone();
        let promises = promises.clone();
        tokio::spawn(async move {
            let memo = Arc::new(auth::GrantMemo::default());
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let status = match &promises {
                    Some(promises) => keep(promises, &request, port, &memo),
                    None => StatusCode::OK,
                };
                let answer = if status == StatusCode::OK {
                    body.clone()
                } else {
                    Bytes::new()
                };
                let mut response = Response::new(Full::new(answer));
                *response.status_mut() = status;
                let headers = response.headers_mut();
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = http.serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// SIGTERM or SIGINT (Ctrl-C elsewhere than Unix).
async fn stop_asked() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// The daemon's admission checks, then one audit record: the status to
/// answer with.
fn keep(
    promises: &Promises,
    request: &Request<hyper::body::Incoming>,
    port: u16,
    memo: &auth::GrantMemo,
) -> StatusCode {
    let (status, result) = match auth::admit_on(
        request.headers(),
        request.uri(),
        port,
        &promises.token,
        memo,
    ) {
        Ok(_) => (StatusCode::OK, "ok"),
        Err(refusal) => (refusal.status, refusal.code),
    };
    let scope = (status == StatusCode::OK).then_some("profile");
    promises.trail.record(Vend {
        time: chrono::Utc::now(),
        subject: promises.subject.clone(),
        result,
        status: status.as_u16(),
        via: Via::Endpoint,
        scope,
        caller: promises.caller.clone(),
    });
    status
}
