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
//!
//! Every credentials request is recorded in the audit trail as the HTTP
//! endpoint's are, with `via: socket`; so is every logout, one record per
//! session with `result: logout` and the profile `sso-session NAME`. The caller needs no `/proc` scan
//! here: the kernel hands over the peer's pid with its uid.

use super::protocol::{self, DaemonStatus, ErrorReply, LogoutReply, Request, MAX_REQUEST_BYTES};
use super::{admit_peer, own_uid};
use crate::audit::{AuditTrail, Caller, Subject, Vend, Via};
use crate::broker::{Broker, BrokerError, BrokerSnapshot, CredentialSource};
use crate::clock::Clock;
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

/// What the socket serves: credentials, a snapshot for `status`, and the
/// logout that makes the daemon forget a session's roles.
pub trait DaemonState: CredentialSource {
    fn snapshot(&self) -> impl Future<Output = BrokerSnapshot> + Send;

    /// Stop serving the roles of `sessions` (every session with `all`);
    /// returns how many roles were dropped.
    fn logout(&self, sessions: &[String], all: bool) -> usize;

    /// The AWS config file profiles are resolved in.
    fn config_path(&self) -> &Path;
}

/// Whether the caller's config file is the daemon's: the same path, or
/// the same file reached another way.
fn same_file(theirs: &Path, ours: &Path) -> bool {
    theirs == ours
        || matches!(
            (std::fs::canonicalize(theirs), std::fs::canonicalize(ours)),
            (Ok(a), Ok(b)) if a == b
        )
}

impl DaemonState for Broker {
    async fn snapshot(&self) -> BrokerSnapshot {
        Broker::current_snapshot(self).await
    }

    fn logout(&self, sessions: &[String], all: bool) -> usize {
        Broker::forget_sessions(self, sessions, all)
    }

    fn config_path(&self) -> &Path {
        Broker::config_path(self)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("another credbroker daemon is already listening on {0}; stop it first")]
    AlreadyServing(PathBuf),
    #[error("{path} exists and is not a socket; remove it")]
    NotASocket { path: PathBuf },
    #[error("cannot listen on {path}")]
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
    audit: Option<AuditTrail>,
}

/// Answer on `listener` until `shutdown` completes, then remove the socket.
/// `endpoint` is the HTTP endpoint's URL base, reported by `status`; every
/// credentials request is recorded in `audit` when given.
pub async fn serve<S: DaemonState>(
    listener: ControlListener,
    state: Arc<S>,
    endpoint: String,
    audit: Option<AuditTrail>,
    shutdown: impl Future<Output = ()>,
) {
    let shared = Arc::new(Shared {
        state,
        endpoint,
        own_uid: own_uid(),
        audit,
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
    let peer = stream.peer_cred().ok();
    let uid = match admit_peer(peer.map(|cred| cred.uid()), shared.own_uid) {
        Ok(()) => shared.own_uid,
        Err(refusal) => {
            tracing::warn!(%refusal, "daemon socket: connection refused");
            return;
        }
    };
    let pid = peer
        .and_then(|cred| cred.pid())
        .and_then(|pid| u32::try_from(pid).ok());
    // Looked up at the first credentials request, before its reply is
    // written (the client is surely alive while it waits), then kept.
    let mut caller: Option<Arc<Caller>> = None;
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
        let time = crate::clock::SystemClock.now();
        let (reply, asked) = answer(&line, shared).await;
        if let Some(trail) = &shared.audit {
            for asked in asked {
                let caller = caller
                    .get_or_insert_with(|| Arc::new(crate::audit::caller::of_process(uid, pid)));
                trail.record(Vend {
                    time,
                    subject: Arc::new(asked.subject),
                    result: asked.result,
                    status: asked.status,
                    via: Via::Socket,
                    scope: None,
                    caller: caller.clone(),
                });
            }
        }
        if write.write_all(reply.as_bytes()).await.is_err() || too_long {
            return;
        }
    }
}

/// A request as the audit trail is told of it.
struct Asked {
    subject: Subject,
    /// `ok`, `logout`, or the error code the client got.
    result: &'static str,
    /// The status the HTTP endpoint would have answered with.
    status: u16,
}

/// The reply line for one request line, and what to audit: a profile's
/// credentials asked for, or sessions signed out.
async fn answer<S: DaemonState>(line: &[u8], shared: &Shared<S>) -> (String, Vec<Asked>) {
    let request = match protocol::parse_request(line) {
        Ok(request) => request,
        Err(err) => {
            tracing::debug!(error = %err, "daemon socket: bad request");
            return (ErrorReply::from_protocol(&err).to_line(), Vec::new());
        }
    };
    match request {
        Request::Status => {
            let status = DaemonStatus::new(
                std::process::id(),
                shared.endpoint.clone(),
                shared.state.snapshot().await,
            );
            (status.to_line(), Vec::new())
        }
        Request::Logout { sessions, all } => {
            let dropped_roles = shared.state.logout(&sessions, all);
            tracing::info!(
                ?sessions,
                all,
                dropped_roles,
                "signed out: stopped serving the sessions' roles"
            );
            let named: Vec<String> = if all && sessions.is_empty() {
                vec!["*".into()]
            } else {
                sessions
            };
            let asked = named
                .into_iter()
                .map(|session| Asked {
                    subject: Subject {
                        profile: format!("sso-session {session}"),
                        account: None,
                        role: None,
                        chain: None,
                    },
                    result: "logout",
                    status: 200,
                })
                .collect();
            (LogoutReply { dropped_roles }.to_line(), asked)
        }
        Request::Credentials {
            config: Some(theirs),
            ..
        } if !same_file(&theirs, shared.state.config_path()) => {
            let message = format!(
                "the daemon reads {}, not {}",
                shared.state.config_path().display(),
                theirs.display()
            );
            let reply = ErrorReply::new(protocol::OTHER_CONFIG_FILE, message, 409);
            (reply.to_line(), Vec::new())
        }
        Request::Credentials { profile, .. } => {
            let answer =
                tokio::time::timeout(REQUEST_TIMEOUT, shared.state.credentials(&profile)).await;
            let (reply, result, status) =
                match answer.unwrap_or_else(|_| Err(BrokerError::timed_out())) {
                    Ok(creds) => {
                        let mut line = crate::model::credential_process_output(&creds);
                        line.push('\n');
                        (line, "ok", 200)
                    }
                    Err(err) => (
                        ErrorReply::from_broker(&err).to_line(),
                        err.code(),
                        err.status(),
                    ),
                };
            tracing::debug!(%profile, result, "daemon socket: credentials request");
            let (account, role) = match &shared.audit {
                Some(_) => shared.state.role_of(&profile).unzip(),
                None => (None, None),
            };
            let asked = Asked {
                subject: Subject {
                    profile,
                    account,
                    role,
                    chain: None,
                },
                result,
                status,
            };
            (reply, vec![asked])
        }
    }
}

#[cfg(test)]
mod tests;
