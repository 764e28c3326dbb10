//! The client side of the daemon's Unix socket.
//!
//! A missing socket file or a refused connection means "no daemon": the
//! caller falls back to resolving in-process, so the connect is bounded by
//! a short timeout. Once connected, the daemon may need a while (an upstream
//! call), so the reply gets the broker's own deadline plus a margin.

use super::protocol::{
    self, CredentialsReply, DaemonStatus, ErrorReply, LogoutReply, ProtocolError, Request,
};
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// How long a connect may take before the daemon counts as absent.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(250);
/// How long the daemon has to answer once connected.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(35);
/// Longest reply read (a status listing hundreds of roles fits easily).
const MAX_REPLY_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nobody listens on the socket (or it does not exist).
    #[error("no daemon is listening on {path}")]
    NoDaemon { path: String },
    /// Connected, but the exchange failed.
    #[error("the daemon did not answer properly: {0}")]
    Exchange(String),
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
}

/// Send one request and read the one reply line.
pub async fn exchange(path: &Path, request: &Request) -> Result<String, ClientError> {
    let no_daemon = || ClientError::NoDaemon {
        path: path.display().to_string(),
    };
    let mut stream = match tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(path)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(_)) | Err(_) => return Err(no_daemon()),
    };
    let conversation = async {
        stream.write_all(request.to_line().as_bytes()).await?;
        let mut reply = Vec::new();
        BufReader::new(&mut stream)
            .take(MAX_REPLY_BYTES)
            .read_until(b'\n', &mut reply)
            .await?;
        Ok::<_, std::io::Error>(reply)
    };
    let reply = tokio::time::timeout(REPLY_TIMEOUT, conversation)
        .await
        .map_err(|_| ClientError::Exchange("timed out".into()))?
        .map_err(|e| ClientError::Exchange(e.to_string()))?;
    if !reply.ends_with(b"\n") {
        return Err(ClientError::Exchange("the reply was cut short".into()));
    }
    String::from_utf8(reply).map_err(|_| ClientError::Exchange("the reply is not UTF-8".into()))
}

/// The daemon's answer for a profile in the caller's AWS config file
/// `config`: a document or a broker error.
pub async fn credentials(
    path: &Path,
    profile: &str,
    config: &Path,
) -> Result<CredentialsReply, ClientError> {
    let request = Request::Credentials {
        profile: profile.to_string(),
        config: Some(config.to_path_buf()),
    };
    let line = exchange(path, &request).await?;
    Ok(protocol::parse_credentials_reply(&line)?)
}

/// What the running daemon holds.
pub async fn status(path: &Path) -> Result<Result<DaemonStatus, ErrorReply>, ClientError> {
    let line = exchange(path, &Request::Status).await?;
    Ok(protocol::parse_status_reply(line.trim_end())?)
}

/// Tell the running daemon that `sessions` (every session with `all`) were
/// signed out, so it stops serving their roles.
pub async fn logout(
    path: &Path,
    sessions: &[String],
    all: bool,
) -> Result<Result<LogoutReply, ErrorReply>, ClientError> {
    let request = Request::Logout {
        sessions: sessions.to_vec(),
        all,
    };
    let line = exchange(path, &request).await?;
    Ok(protocol::parse_logout_reply(&line)?)
}
