//! The client's socket, asked of the kernel by its two addresses (netlink's
//! `sock_diag`, the interface `ss` is built on; protocols.md §16), instead
//! of found in `/proc/net/tcp`.
//!
//! The kernel writes `/proc/net/tcp` by walking its whole table of TCP
//! connections, every bucket, empty or not, and `/proc/net/tcp6` walks it
//! again. On a machine whose table has 262,144 buckets that is about 4 ms
//! a read and 8 ms for the two, however few sockets are open, and it was
//! paid once per connection: a client opening 256 connections at once cost
//! the daemon two seconds of CPU, on the cores its workers serve from. An
//! exact `sock_diag` request is one hash lookup, answered with the socket's
//! owner and inode.
//!
//! [`request`] and [`read_reply`] are the pure parts; [`find`] does the
//! asking. When netlink cannot be asked at all (a sandbox may refuse the
//! socket), [`find`] says so and the caller reads the tables instead.

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_REQUEST};
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_packet_sock_diag::SockDiagMessage;
use std::io;
use std::net::SocketAddr;

/// The socket the kernel named: its owner's uid and its inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Socket {
    pub uid: u32,
    pub inode: u64,
}

/// What a reply to one request can hold: the message and, for an error,
/// its header; a few hundred bytes.
const REPLY_ROOM: usize = 4096;

/// The request for the TCP socket whose local end is `local` and whose
/// remote end is `remote`, in any state. `None` when the two ends are of
/// different families: no one socket has them.
pub(super) fn request(local: SocketAddr, remote: SocketAddr) -> Option<Vec<u8>> {
    let family = match (local, remote) {
        (SocketAddr::V4(_), SocketAddr::V4(_)) => AF_INET,
        (SocketAddr::V6(_), SocketAddr::V6(_)) => AF_INET6,
        _ => return None,
    };
    let mut header = NetlinkHeader::default();
    // Without NLM_F_DUMP: the one socket these addresses name.
    header.flags = NLM_F_REQUEST;
    let mut message = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::all(),
            socket_id: SocketId {
                source_port: local.port(),
                destination_port: remote.port(),
                source_address: local.ip(),
                destination_address: remote.ip(),
                interface_id: 0,
                // "No cookie": match on the addresses alone.
                cookie: [0xff; 8],
            },
        })
        .into(),
    );
    message.finalize();
    let mut bytes = vec![0; message.buffer_len()];
    message.serialize(&mut bytes);
    Some(bytes)
}

/// The socket the kernel's reply names, or `None` when it has no socket by
/// those addresses (the client has gone) or only one in TIME_WAIT (inode 0,
/// owned by nobody).
pub(super) fn read_reply(reply: &[u8]) -> io::Result<Option<Socket>> {
    let message = NetlinkMessage::<SockDiagMessage>::deserialize(reply)
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err.to_string()))?;
    match message.payload {
        NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
            let socket = Socket {
                uid: response.header.uid,
                inode: u64::from(response.header.inode),
            };
            Ok((socket.inode != 0).then_some(socket))
        }
        NetlinkPayload::Error(error) => match error.code {
            Some(code) if code.get() == -libc::ENOENT => Ok(None),
            Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
            None => Ok(None),
        },
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "sock_diag answered with neither a socket nor an error",
        )),
    }
}

/// Ask the kernel for the TCP socket whose local end is `local` and whose
/// remote end is `remote`. `Err` when netlink could not be asked.
pub(super) fn find(local: SocketAddr, remote: SocketAddr) -> io::Result<Option<Socket>> {
    use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket as Netlink, SocketAddr as Kernel};
    let Some(request) = request(local, remote) else {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the two ends are of different address families",
        ));
    };
    let mut socket = Netlink::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.connect(&Kernel::new(0, 0))?;
    socket.send(&request, 0)?;
    let mut reply = vec![0; REPLY_ROOM];
    let size = socket.recv(&mut &mut reply[..], 0)?;
    read_reply(&reply[..size])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// Connect to a listener on `listen` and check that the kernel names
    /// the client's socket: ours by uid, and the very socket the client's
    /// descriptor holds, not the server's end of the same connection.
    fn finds_a_client_on(listen: &str) {
        use std::os::fd::AsRawFd;
        let listener = TcpListener::bind(listen).unwrap();
        let ours = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(ours).unwrap();
        let (_served, peer) = listener.accept().unwrap();
        let found = find(peer, ours).unwrap().expect("the client's socket");
        assert_eq!(found.uid, unsafe { libc::getuid() });
        let link = std::fs::read_link(format!("/proc/self/fd/{}", client.as_raw_fd())).unwrap();
        assert_eq!(link.to_str().unwrap(), format!("socket:[{}]", found.inode));
        let server_end = find(ours, peer).unwrap().unwrap();
        assert_ne!(server_end.inode, found.inode);
    }

    #[test]
    fn finds_the_clients_socket_by_its_two_ends() {
        finds_a_client_on("127.0.0.1:0");
    }

    #[test]
    fn finds_an_ipv6_client() {
        finds_a_client_on("[::1]:0");
    }

    #[test]
    fn no_socket_by_those_addresses_is_none() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let ours = listener.local_addr().unwrap();
        let nobody: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(find(nobody, ours).unwrap(), None);
    }

    #[test]
    fn ends_of_two_families_ask_nothing() {
        let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let v6: SocketAddr = "[::1]:80".parse().unwrap();
        assert!(request(v4, v6).is_none());
        assert_eq!(find(v4, v6).unwrap_err().kind(), io::ErrorKind::Unsupported);
    }

    #[test]
    fn a_reply_that_is_not_netlink_is_an_error_not_a_socket() {
        assert!(read_reply(&[]).is_err());
        assert!(read_reply(&[0xff; 12]).is_err());
    }
}
