//! What to say when the daemon's port is taken.
//!
//! The usual cause is a second `credbroker daemon` (one started by hand
//! while the service already runs). The kernel's "Address already in use"
//! says nothing about who holds the port, so the daemon asks: first its own
//! Unix socket (same runtime directory: the answer names the pid), then the
//! port itself, where a credbroker endpoint answers an unauthenticated
//! request with its `InvalidToken` refusal. Either way the person is told
//! what holds the port and how to go on.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Who holds a port we could not bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// A credbroker daemon that answered on our own socket.
    Daemon { pid: u32, endpoint: String },
    /// A credbroker endpoint answered on the port (another runtime directory).
    Endpoint,
    /// Something else, or nothing that answered.
    Unknown,
}

/// Ask the socket at `socket`, then the port `addr`, who holds `addr`.
pub async fn find_holder(addr: SocketAddr, socket: &Path) -> Holder {
    if let Ok(Ok(status)) = crate::control::client::status(socket).await {
        if status.endpoint.ends_with(&format!(":{}", addr.port())) {
            return Holder::Daemon {
                pid: status.pid,
                endpoint: status.endpoint,
            };
        }
    }
    match tokio::time::timeout(Duration::from_secs(2), probe(addr)).await {
        Ok(Some(reply)) if is_credbroker_refusal(&reply) => Holder::Endpoint,
        _ => Holder::Unknown,
    }
}

/// One unauthenticated request to `addr`; what came back, if anything.
async fn probe(addr: SocketAddr) -> Option<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let host = crate::daemon::url_base(addr);
    let host = host.trim_start_matches("http://");
    let request =
        format!("GET /v1/credentials/probe HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut reply = Vec::new();
    (&mut stream)
        .take(16 * 1024)
        .read_to_end(&mut reply)
        .await
        .ok()?;
    Some(String::from_utf8_lossy(&reply).into_owned())
}

/// Whether `reply` is the credentials endpoint's answer to a request
/// without a token (a 401 whose JSON body has code `InvalidToken`).
pub fn is_credbroker_refusal(reply: &str) -> bool {
    reply.starts_with("HTTP/1.1 401") && reply.contains("\"code\":\"InvalidToken\"")
}

/// The message for a port that `holder` holds.
pub fn explain(addr: SocketAddr, holder: &Holder) -> String {
    let base = crate::daemon::url_base(addr);
    match holder {
        Holder::Daemon { pid, endpoint } => format!(
            "a credbroker daemon (pid {pid}) already serves credentials at {endpoint}; \
             use that one, or stop it first: `systemctl --user stop credbroker` when it runs as \
             the service (`launchctl bootout gui/$(id -u)/com.credbroker.daemon` on macOS), else \
             `kill {pid}`"
        ),
        Holder::Endpoint => format!(
            "another credbroker daemon already serves credentials at {base} (one with another \
             runtime directory); stop it first, or start this one on another port with \
             `--listen 127.0.0.1:PORT`"
        ),
        Holder::Unknown => format!(
            "another program is listening on {addr}; stop it, or start the daemon on another \
             port with `--listen 127.0.0.1:PORT`"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credbroker_refusal_is_told_from_other_answers() {
        let ours = "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\n\r\n\
                    {\"code\":\"InvalidToken\",\"message\":\"missing or wrong Authorization token\"}";
        assert!(is_credbroker_refusal(ours));
        assert!(!is_credbroker_refusal(
            "HTTP/1.1 200 OK\r\n\r\n{\"code\":\"InvalidToken\"}"
        ));
        assert!(!is_credbroker_refusal(
            "HTTP/1.1 401 Unauthorized\r\n\r\nno"
        ));
        assert!(!is_credbroker_refusal(""));
    }

    #[test]
    fn each_holder_gets_its_own_next_step() {
        let addr: SocketAddr = "127.0.0.1:9911".parse().unwrap();
        let daemon = explain(
            addr,
            &Holder::Daemon {
                pid: 42,
                endpoint: "http://127.0.0.1:9911".into(),
            },
        );
        assert!(
            daemon.contains("pid 42") && daemon.contains("kill 42"),
            "{daemon}"
        );
        assert!(daemon.contains("systemctl --user stop credbroker"));
        let other = explain(addr, &Holder::Endpoint);
        assert!(other.contains("http://127.0.0.1:9911") && other.contains("--listen"));
        let unknown = explain(addr, &Holder::Unknown);
        assert!(unknown.contains("another program") && unknown.contains("--listen"));
    }
}
