//! The daemon's side of the Unix socket.
//!
//! [`bind`] first makes the runtime directory 0700, then deals with a file
//! already at the socket path: a live daemon answering there is an error
//! (two daemons would fight over the endpoint file), a dead one's socket is
//! removed. It binds, sets the socket to 0600, and remembers which file it
//! made so that [`serve`] removes it on the way out only if no newer daemon
//! has replaced it.
//!
//! [`serve`] checks each peer's uid before reading from it, answers one
//! line per request (a connection may send several), and bounds what a
//! client can hold: line length, idle time, open connections, and the time
//! the broker gets to answer.

use super::protocol::{self, DaemonStatus, ErrorReply, Request, MAX_REQUEST_BYTES};
use super::{admit_peer, own_uid};
use crate::broker::{Broker, BrokerSnapshot, CredentialSource};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Open connections at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 64;
/// A connected client that sends nothing for this long is dropped.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time the broker has to answer (the HTTP endpoint uses the same).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the socket serves: credentials, and a snapshot for `status`.
pub trait DaemonState: CredentialSource {
    fn snapshot(&self) -> BrokerSnapshot;
}

impl DaemonState for Broker {
    fn snapshot(&self) -> BrokerSnapshot {
        Broker::snapshot(self)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("another credbroker daemon is already listening on {0}; stop it first")]
    AlreadyServing(PathBuf),
    #[error("{path} exists and is not a socket; remove it")]
    NotASocket { path: PathBuf },
    #[error("cannot listen on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A bound socket and the identity of the file it created.
#[derive(Debug)]
pub struct ControlListener {
    listener: UnixListener,
    path: PathBuf,
    identity: Option<(u64, u64)>,
}

impl ControlListener {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Bind the socket at `path` (see the module docs for the order of steps).
pub fn bind(path: &Path) -> Result<ControlListener, BindError> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let io = |source| BindError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        crate::paths::ensure_private_dir(dir).map_err(io)?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(BindError::NotASocket {
                path: path.to_path_buf(),
            })
        }
        Ok(_) => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(BindError::AlreadyServing(path.to_path_buf()));
            }
            tracing::debug!(path = %path.display(), "removing a stale daemon socket");
            std::fs::remove_file(path).map_err(io)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    // The directory is 0700 already; this keeps the socket private even if
    // someone loosens the directory later.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    Ok(ControlListener {
        listener,
        path: path.to_path_buf(),
        identity: file_identity(path),
    })
}

fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// What every connection task shares.
struct Shared<S> {
    state: Arc<S>,
    endpoint: String,
    own_uid: u32,
}

/// Answer on `listener` until `shutdown` completes, then remove the socket.
/// `endpoint` is the HTTP endpoint's URL base, reported by `status`.
pub async fn serve<S: DaemonState>(
    listener: ControlListener,
    state: Arc<S>,
    endpoint: String,
    shutdown: impl Future<Output = ()>,
) {
    let shared = Arc::new(Shared {
        state,
        endpoint,
        own_uid: own_uid(),
    });
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => permit.expect("semaphore is never closed"),
        };
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!(error = %err, "daemon socket: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let shared = shared.clone();
        connections.spawn(async move {
            serve_connection(stream, &shared).await;
            drop(permit);
        });
    }
    // Requests are short; nobody waits on a half-answered one.
    connections.shutdown().await;
    if file_identity(&listener.path) == listener.identity {
        if let Err(err) = std::fs::remove_file(&listener.path) {
            tracing::warn!(path = %listener.path.display(), error = %err, "cannot remove the daemon socket");
        }
    }
}

async fn serve_connection<S: DaemonState>(stream: UnixStream, shared: &Shared<S>) {
    let peer = stream.peer_cred().ok().map(|cred| cred.uid());
    if let Err(refusal) = admit_peer(peer, shared.own_uid) {
        tracing::warn!(%refusal, "daemon socket: connection refused");
        return;
    }
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut line = Vec::new();
        let limit = (MAX_REQUEST_BYTES + 1) as u64;
        let read = tokio::time::timeout(
            IDLE_TIMEOUT,
            (&mut reader).take(limit).read_until(b'\n', &mut line),
        )
        .await;
        match read {
            Ok(Ok(n)) if n > 0 => {}
            // EOF, an I/O error, or idle too long: the conversation is over.
            _ => return,
        }
        let too_long = line.len() > MAX_REQUEST_BYTES;
        let reply = answer(&line, shared).await;
        if write.write_all(reply.as_bytes()).await.is_err() || too_long {
            return;
        }
    }
}

/// The reply line for one request line.
async fn answer<S: DaemonState>(line: &[u8], shared: &Shared<S>) -> String {
    let request = match protocol::parse_request(line) {
        Ok(request) => request,
        Err(err) => {
            tracing::debug!(error = %err, "daemon socket: bad request");
            return ErrorReply::from_protocol(&err).to_line();
        }
    };
    match request {
        Request::Status => DaemonStatus::new(
            std::process::id(),
            shared.endpoint.clone(),
            shared.state.snapshot(),
        )
        .to_line(),
        Request::Credentials { profile } => {
            let answer =
                tokio::time::timeout(REQUEST_TIMEOUT, shared.state.credentials(&profile)).await;
            let reply = match answer {
                Ok(Ok(creds)) => {
                    let mut line = crate::model::credential_process_output(&creds);
                    line.push('\n');
                    line
                }
                Ok(Err(err)) => ErrorReply::from_broker(&err).to_line(),
                Err(_elapsed) => ErrorReply::new(
                    "UpstreamTimeout",
                    "fetching credentials took too long; try again",
                    503,
                )
                .to_line(),
            };
            tracing::debug!(%profile, "daemon socket: credentials request");
            reply
        }
    }
}

#[cfg(test)]
mod tests;
