//! The daemon's Unix socket: the fast path for `credential_process` and the
//! source of `credbroker status`.
//!
//! Starting a process per AWS call is the cost `credential_process` users
//! pay; resolving from the keychain inside that process adds a D-Bus round
//! trip, a blocking-thread pool and sometimes an SDK client. Asking the
//! running daemon over a local socket costs one connect and one line each
//! way, so the short-lived process stays small.
//!
//! Who may connect: the socket is `<runtime dir>/daemon.sock`, mode 0600 in
//! a 0700 directory, and each connection's peer uid (SO_PEERCRED on Linux,
//! `getpeereid` on macOS) must equal the daemon's own, so another local user
//! cannot read credentials even if the file modes were loosened.
//!
//! Parts: [`protocol`] (pure) says what a line means, [`server`] owns the
//! listener, [`client`] is what `credential-process` and `status` call.

pub mod client;
pub mod protocol;
pub mod server;

use std::path::PathBuf;

/// The socket's file name inside the runtime directory.
pub const SOCKET_NAME: &str = "daemon.sock";

/// Where the daemon listens: `<runtime dir>/daemon.sock`.
pub fn socket_path(paths: &crate::paths::Paths) -> PathBuf {
    paths.runtime_dir.join(SOCKET_NAME)
}

/// Why a connection was refused before reading a byte from it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeerRefusal {
    #[error("the peer's uid could not be determined")]
    Unknown,
    #[error("peer uid {peer} is not the daemon's uid {own}")]
    OtherUser { peer: u32, own: u32 },
}

/// Admit a peer only when it runs as the daemon's own user. (root gets no
/// exception: it can read the keychain anyway, and an exception would be one
/// more thing to get wrong.)
pub fn admit_peer(peer_uid: Option<u32>, own_uid: u32) -> Result<(), PeerRefusal> {
    match peer_uid {
        None => Err(PeerRefusal::Unknown),
        Some(peer) if peer == own_uid => Ok(()),
        Some(peer) => Err(PeerRefusal::OtherUser { peer, own: own_uid }),
    }
}

/// The effective uid of this process.
#[cfg(unix)]
pub fn own_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_uid_is_admitted() {
        assert_eq!(admit_peer(Some(1000), 1000), Ok(()));
        assert_eq!(admit_peer(Some(0), 0), Ok(()));
        assert_eq!(
            admit_peer(Some(1001), 1000),
            Err(PeerRefusal::OtherUser {
                peer: 1001,
                own: 1000
            })
        );
        assert_eq!(
            admit_peer(Some(0), 1000),
            Err(PeerRefusal::OtherUser { peer: 0, own: 1000 })
        );
        assert_eq!(admit_peer(None, 1000), Err(PeerRefusal::Unknown));
    }
}
