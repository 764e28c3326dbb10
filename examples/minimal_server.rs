//! The physical limit of this stack, for `scripts/bench.sh`: a hyper HTTP/1
//! server on the same tokio runtime as the daemon that answers every request
//! with the same bytes the daemon sends for a cached profile (a fixed body
//! with the same `Content-Type` and `Cache-Control`), with no
//! authorization, routing, lookup or audit record.
//!
//! ```text
//! cargo run --release --example minimal_server -- BODY_FILE [--limits]
//! ```
//!
//! With `--limits` it also enforces the daemon's per-connection limits
//! (the header read deadline, which arms a timer for every request, and
//! the header count and size bounds), so a benchmark can tell what those
//! cost apart from everything else the daemon does.
//!
//! It binds 127.0.0.1 on a free port, prints `http://127.0.0.1:PORT` on the
//! first line of stdout, and serves until it is killed.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io::Write as _;
use tokio::net::TcpListener;

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: minimal_server BODY_FILE"))?;
    let limits = std::env::args().nth(2).as_deref() == Some("--limits");
    let body = Bytes::from(std::fs::read(path)?);
    // The daemon runs on `Runtime::new()` (one worker per core); so does this.
    tokio::runtime::Runtime::new()?.block_on(serve(body, limits))
}

async fn serve(body: Bytes, limits: bool) -> anyhow::Result<()> {
    let mut http = http1::Builder::new();
    if limits {
        let daemon = credbroker::server::ServerLimits::default();
        http.timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(daemon.header_read_timeout)
            .max_headers(daemon.max_headers)
            .max_header_size(daemon.max_header_bytes);
    }
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "http://{}", listener.local_addr()?)?;
    stdout.flush()?;
    loop {
        let (stream, _) = listener.accept().await?;
        let body = body.clone();
        let http = http.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_: Request<hyper::body::Incoming>| {
                let mut response = Response::new(Full::new(body.clone()));
                let headers = response.headers_mut();
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = http.serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
