//! The loopback container-credentials endpoint (protocols.md §1).
//!
//! The caller binds (with [`bind_loopback`], port 0 in tests) and decides
//! when to stop; [`serve`] accepts connections until the shutdown future
//! completes, then lets open connections finish their current request for a
//! bounded grace period before dropping them.
//!
//! Parts: [`token`] keeps the authorization token and its file, [`scope`]
//! derives and checks per-profile tokens, [`auth`] admits or refuses a
//! request from its head alone, [`routes`] answers admitted requests, and
//! `connection` holds what one connection's requests share, including who
//! the caller is for the audit trail, and `stop` tells each open connection
//! that shutdown has come.
//!
//! With an [`AuditTrail`] ([`serve_audited`]), every credentials request is
//! recorded, once the response is on its way.
//!
//! This file owns the sockets and the limits that keep a misbehaving local
//! client from tying the daemon up: a cap on open connections, a deadline
//! for request headers, a bound on header size and count, and a deadline
//! for the broker's answer.

pub mod auth;
mod connection;
pub mod routes;
pub mod scope;
mod stop;
pub mod token;

pub use token::{AuthToken, TokenError};

use crate::audit::{AuditTrail, Subject, Vend, Via};
use crate::broker::CredentialSource;
use crate::clock::Clock as _;
use connection::Connection;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("refusing to listen on {0}: the credentials endpoint binds loopback addresses only (127.0.0.1, ::1)")]
    NotLoopback(SocketAddr),
    /// The cause is kept as the error's source, so it is printed once.
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("listener error: {0}")]
    Io(#[from] std::io::Error),
}

/// Headers per request: hyper's default bound for HTTP/1, past which it
/// answers 431.
pub const MAX_HEADERS: usize = 100;

/// The limits one endpoint enforces. [`Default`] suits the daemon.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// Open connections at once; further connections are closed as soon
    /// as they are accepted (clients retry), until one ends.
    pub max_connections: usize,
    /// Time a client has to send its request headers (also closes idle
    /// keep-alive connections).
    pub header_read_timeout: Duration,
    /// Bytes of request line plus headers. The count of headers is
    /// hyper's own bound ([`MAX_HEADERS`]).
    pub max_header_bytes: usize,
    /// Time the broker has to produce credentials before the client gets a 503.
    pub request_timeout: Duration,
    /// After shutdown, time open connections get to finish.
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            // Well under the usual 1,024 open files, well over any real
            // tool count; idle sockets cost a few KiB each.
            max_connections: 512,
            header_read_timeout: Duration::from_secs(5),
            max_header_bytes: 8 * 1024,
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Bind `addr`, which must be a loopback address.
pub async fn bind_loopback(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    if !addr.ip().is_loopback() {
        return Err(ServeError::NotLoopback(addr));
    }
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

/// Serve credentials from `source` on `listener` until `shutdown` completes,
/// with [`ServerLimits::default`].
pub async fn serve<S: CredentialSource>(
    listener: TcpListener,
    source: Arc<S>,
    token: AuthToken,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    serve_with_limits(listener, source, token, ServerLimits::default(), shutdown).await
}

/// [`serve_with_limits`] without an audit trail.
pub async fn serve_with_limits<S: CredentialSource>(
    listener: TcpListener,
    source: Arc<S>,
    token: AuthToken,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    serve_audited(listener, source, token, limits, None, shutdown).await
}

/// Caller lookups (scans of `/proc`) running at once; more wait their turn.
const CONCURRENT_LOOKUPS: usize = 2;

/// What every connection task shares.
pub(crate) struct Endpoint<S> {
    pub(crate) source: Arc<S>,
    pub(crate) token: AuthToken,
    /// The bound port: the only one a `Host` header may name.
    pub(crate) port: u16,
    pub(crate) limits: ServerLimits,
    pub(crate) audit: Option<AuditTrail>,
    /// Bounds the caller lookups in flight.
    pub(crate) lookups: Arc<Semaphore>,
    /// What the caller lookups learnt of the sockets they scanned.
    pub(crate) sockets: Arc<crate::audit::caller::SocketsSeen>,
}

/// [`serve`] with explicit limits, recording every credentials request in
/// `audit` when given.
pub async fn serve_audited<S: CredentialSource>(
    listener: TcpListener,
    source: Arc<S>,
    token: AuthToken,
    limits: ServerLimits,
    audit: Option<AuditTrail>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let local = listener.local_addr()?;
    if !local.ip().is_loopback() {
        return Err(ServeError::NotLoopback(local));
    }
    let max_connections = limits.max_connections.max(1);
    let grace = limits.shutdown_grace;
    // No hyper timer: the header deadline is one timer per connection
    // (`serve_connection`), where hyper's arms one for every request.
    let mut http = http1::Builder::new();
    // No `max_headers`: below hyper's default it makes hyper allocate the
    // parsed headers on the heap for every request (hyper's docs put it at
    // about 5% of throughput, and so did this endpoint's profile); hyper's
    // default of 100, parsed on the stack, is the bound.
    http.max_header_size(limits.max_header_bytes);
    let endpoint = Arc::new(Endpoint {
        source,
        token,
        port: local.port(),
        limits,
        audit,
        lookups: Arc::new(Semaphore::new(CONCURRENT_LOOKUPS)),
        sockets: Arc::default(),
    });
    let permits = Arc::new(Semaphore::new(max_connections));
    let mut connections = JoinSet::new();
    let mut stops = stop::Stops::default();

    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            // A connection that ended is reaped at once: until then the set
            // keeps its task (a few KiB), which after a load of many
            // connections was still held, idle, until the next accept.
            Some(ended) = connections.join_next_with_id(), if !connections.is_empty() => {
                stops.ended(ended.map_or_else(|err| err.id(), |(id, ())| id));
                continue;
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => (stream, peer),
                Err(err) => {
                    // Per-connection failures (e.g. reset before accept, or
                    // out of file descriptors) should not end the daemon.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // At the cap, shed the new connection at once rather than queue it:
        // a queue behind hundreds of idle sockets (each held until the
        // header timeout) would keep a good client waiting for minutes,
        // while a closed connection is retried by every SDK within a second.
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "connection limit reached; connection closed");
            drop(stream);
            continue;
        };
        let stop = Arc::new(stop::Stop::default());
        let connection = serve_connection(
            stream,
            (peer, local),
            http.clone(),
            endpoint.clone(),
            stop.clone(),
        );
        let task = connections.spawn(async move {
            connection.await;
            drop(permit);
        });
        stops.opened(task.id(), stop);
    }

    drop(listener);
    stops.ask_all();
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::debug!(
            open = connections.len(),
            "grace period over; closing connections"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Serve HTTP/1 on one connection until it ends, the header deadline
/// passes with no request under way, or shutdown (which finishes the
/// request in flight, then closes).
async fn serve_connection<S: CredentialSource>(
    stream: TcpStream,
    (peer, local): (SocketAddr, SocketAddr),
    http: http1::Builder,
    endpoint: Arc<Endpoint<S>>,
    stop: Arc<stop::Stop>,
) {
    let header_limit = endpoint.limits.header_read_timeout;
    let connection = Arc::new(Connection::new(endpoint, peer, local));
    let watched = connection.clone();
    let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        connection.request_started();
        let reply = begin(&connection, &request);
        // Dropped before anything is awaited (`routes::reply` says why).
        drop(request);
        let connection = connection.clone();
        async move {
            let response = finish(&connection, reply).await;
            connection.request_ended();
            Ok::<_, Infallible>(response)
        }
    });
    let serving = http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(serving);
    let deadline = tokio::time::sleep(header_limit);
    tokio::pin!(deadline);
    let mut stopping = false;
    let result = loop {
        tokio::select! {
            result = serving.as_mut() => break result,
            _ = &mut deadline => match watched.header_deadline(header_limit) {
                Some(next) => deadline.as_mut().reset(next.into()),
                None => {
                    tracing::debug!(%peer, "no request head within the deadline; connection closed");
                    return;
                }
            },
            _ = stop.asked(), if !stopping => {
                stopping = true;
                serving.as_mut().graceful_shutdown();
            }
        }
    };
    if let Err(err) = result {
        tracing::debug!(error = %err, "connection ended with an error");
    }
}

/// What [`begin`] decided from a request's head, with its time.
struct Begun {
    time: chrono::DateTime<chrono::Utc>,
    reply: routes::Reply,
}

/// Decide how to answer one request of `connection` from its head.
fn begin<S: CredentialSource>(
    connection: &Arc<Connection<S>>,
    request: &hyper::Request<hyper::body::Incoming>,
) -> Begun {
    let time = crate::clock::SystemClock.now();
    if connection.endpoint.audit.is_some()
        && request.uri().path().starts_with(routes::CREDENTIALS_PATH)
    {
        connection.find_caller();
    }
    let reply = routes::reply(
        request.method(),
        request.uri(),
        request.headers(),
        connection,
    );
    Begun { time, reply }
}

/// Finish the answer [`begin`] decided on, and queue its audit record.
async fn finish<S: CredentialSource>(
    connection: &Arc<Connection<S>>,
    Begun { time, reply }: Begun,
) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    let (response, outcome) = match reply {
        routes::Reply::Ready(response, outcome) => (response, outcome),
        routes::Reply::Fetch(fetch) => fetch.answer(connection).await,
    };
    let endpoint = &connection.endpoint;
    if let (Some(outcome), Some(_)) = (outcome, &endpoint.audit) {
        let subject = match outcome.about {
            routes::About::Served(subject) => subject,
            routes::About::Profile(profile) => {
                let (account, role) = endpoint.source.role_of(&profile).unzip();
                Arc::new(Subject {
                    profile: profile.into(),
                    account,
                    role,
                    chain: None,
                })
            }
        };
        connection.record(|caller| Vend {
            time,
            subject,
            result: outcome.result,
            status: outcome.status,
            via: Via::Endpoint,
            scope: outcome.scope,
            caller,
        });
    }
    response
}
