//! Which process is on the other end of a loopback TCP connection, or of
//! the daemon's Unix socket ([`of_process`]).
//!
//! TCP has no peer credentials (unlike the Unix socket's SO_PEERCRED), but on
//! Linux the kernel tells, for a socket named by its two ends, its owner's
//! uid and its inode: netlink's `sock_diag` ([`super::sock_diag`]), or,
//! where netlink is refused, `/proc/net/tcp` and `/proc/net/tcp6`, which
//! list every socket. The client's socket is the one whose *local* end is
//! the peer address we accepted and whose *remote* end is our listener.
//! Then the process holding that inode is found by reading the
//! `/proc/PID/fd/*` links (`socket:[INODE]`) of the processes we may look
//! at (our own user's), and its executable from `/proc/PID/exe`.
//!
//! [`find_socket`] is the pure part (text in, uid and inode out) and is
//! unit-tested; [`lookup`] does the reading. The fd scan costs a few
//! milliseconds, so the endpoint runs it on a blocking thread while it
//! answers, never before, and every socket a scan passes is remembered (in
//! the endpoint's [`SocketsSeen`]), so a client's further connections are
//! found with one `readlink`. A caller that exits before the scan reaches
//! it is recorded with its uid only; elsewhere than Linux, with its
//! address only.

use serde::{Deserialize, Serialize};
#[cfg(target_os = "linux")]
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// What is known about the process that asked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// The client's address and port as the endpoint saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// The uid owning the client's socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// `/proc/PID/exe`: the executable's path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// For a Unix-socket caller, the process that started it: the
    /// `credential-process` child is always credbroker, so the tool that
    /// ran it (the AWS CLI, Terraform) is what names the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_exe: Option<String>,
}

/// One line of `/proc/net/tcp{,6}` that matters here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketEntry {
    pub uid: u32,
    pub inode: u64,
}

/// The socket whose local end is `local` and remote end is `remote`, in the
/// text of `/proc/net/tcp` or `/proc/net/tcp6`. Inode 0 (a socket in
/// TIME_WAIT, owned by nobody) does not count.
pub fn find_socket(table: &str, local: SocketAddr, remote: SocketAddr) -> Option<SocketEntry> {
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
        if fields.len() < 10 {
            return None;
        }
        let (l, r) = (parse_addr(fields[1])?, parse_addr(fields[2])?);
        if !same_endpoint(l, local) || !same_endpoint(r, remote) {
            return None;
        }
        let entry = SocketEntry {
            uid: fields[7].parse().ok()?,
            inode: fields[9].parse().ok()?,
        };
        (entry.inode != 0).then_some(entry)
    })
}

/// Equal ports and equal addresses, an IPv4-mapped IPv6 address counting as
/// its IPv4 address (a dual-stack socket lists 127.0.0.1 as ::ffff:127.0.0.1).
fn same_endpoint(a: SocketAddr, b: SocketAddr) -> bool {
    let canonical = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    a.port() == b.port() && canonical(a.ip()) == canonical(b.ip())
}

/// `0100007F:1F90` (IPv4) or 32 hex digits + port (IPv6). The kernel prints
/// each 32-bit word of the address as a native-endian number, so the bytes
/// come back with `to_ne_bytes`; the port is a plain hex number.
fn parse_addr(text: &str) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |hex: &str| u32::from_str_radix(hex, 16).ok().map(u32::to_ne_bytes);
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(addr)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                chunk.copy_from_slice(&word(addr.get(i * 8..i * 8 + 8)?)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Find the process behind the connection we accepted from `peer` on our
/// listener `listener`, with the sockets earlier lookups passed in `seen`.
/// Blocking; run it off the async runtime.
pub fn lookup(peer: SocketAddr, listener: SocketAddr, seen: &SocketsSeen) -> Caller {
    let mut caller = Caller {
        peer: Some(peer.to_string()),
        ..Caller::default()
    };
    #[cfg(not(target_os = "linux"))]
    let _ = (listener, seen);
    #[cfg(target_os = "linux")]
    {
        // The kernel's socket tables are the slow way (`sock_diag` says
        // why), taken only when netlink cannot be asked.
        let asked = super::sock_diag::find(peer, listener).map(|found| {
            found.map(|socket| SocketEntry {
                uid: socket.uid,
                inode: socket.inode,
            })
        });
        let entry = asked.unwrap_or_else(|_| {
            ["/proc/net/tcp", "/proc/net/tcp6"]
                .iter()
                .filter_map(|path| std::fs::read_to_string(path).ok())
                .find_map(|table| find_socket(&table, peer, listener))
        });
        if let Some(entry) = entry {
            caller.uid = Some(entry.uid);
            if let Some(pid) = pid_holding(entry.inode, entry.uid, seen) {
                caller.pid = Some(pid);
                caller.exe = executable_of(pid);
            }
        }
    }
    caller
}

/// The caller on a Unix socket, whose peer credentials the kernel gives
/// (SO_PEERCRED on Linux, LOCAL_PEERPID on macOS): its uid, its pid, and on
/// Linux its executable and its parent's.
pub fn of_process(uid: u32, pid: Option<u32>) -> Caller {
    let parent_pid = pid.and_then(parent_of);
    Caller {
        peer: None,
        uid: Some(uid),
        pid,
        exe: pid.and_then(executable_of),
        parent_pid,
        parent_exe: parent_pid.and_then(executable_of),
    }
}

/// `/proc/PID/exe`, where there is one.
fn executable_of(pid: u32) -> Option<String> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// The parent pid in `/proc/PID/stat`, where there is one.
fn parent_of(pid: u32) -> Option<u32> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    parent_in_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The fourth field of a `/proc/PID/stat` line, `pid (comm) state ppid ...`.
/// The command name may hold spaces and parentheses, so the fields are
/// counted from its last `)`. Pid 0 (no parent) is none.
pub fn parent_in_stat(stat: &str) -> Option<u32> {
    let (_, rest) = stat.rsplit_once(')')?;
    let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
    (ppid != 0).then_some(ppid)
}

/// Socket inodes seen in earlier scans and where (the fd link of the
/// process that held them): a client that opens many connections at once,
/// such as an SDK's connection pool, is scanned once rather than once per
/// connection. A hit is checked by reading that one link again, so a stale
/// entry costs one `readlink`. The endpoint keeps one for its life and
/// hands it to every [`lookup`].
#[derive(Debug, Default)]
pub struct SocketsSeen {
    #[cfg(target_os = "linux")]
    seen: std::sync::Mutex<HashMap<u64, Seen>>,
}

/// Entries kept before a [`SocketsSeen`] starts afresh.
#[cfg(target_os = "linux")]
const SEEN_MAX: usize = 16_384;

/// The inode in a `socket:[INODE]` fd link.
#[cfg(any(target_os = "linux", test))]
fn socket_inode(link: &std::path::Path) -> Option<u64> {
    link.to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The process with an fd on `socket:[inode]`. Only processes of `uid` are
/// scanned (others' fds are unreadable anyway), newest first: the caller is
/// usually a process that just started.
#[cfg(target_os = "linux")]
fn pid_holding(inode: u64, uid: u32, sockets: &SocketsSeen) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let remembered = sockets.seen.lock().unwrap().get(&inode).cloned();
    if let Some((pid, link)) = remembered {
        if std::fs::read_link(&link).is_ok_and(|target| socket_inode(&target) == Some(inode)) {
            return Some(pid);
        }
    }
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable_by(|a, b| b.cmp(a));
    let live: HashSet<u32> = pids.iter().copied().collect();
    let mut scanned = HashSet::new();
    let mut found = Vec::new();
    let holder = pids.into_iter().find(|&pid| {
        let dir = format!("/proc/{pid}");
        if std::fs::metadata(&dir).map(|m| m.uid()).ok() != Some(uid) {
            return false;
        }
        let Ok(fds) = std::fs::read_dir(format!("{dir}/fd")) else {
            return false;
        };
        scanned.insert(pid);
        let mut holds = false;
        for fd in fds.flatten() {
            let path = fd.path();
            if let Some(socket) = std::fs::read_link(&path)
                .ok()
                .and_then(|t| socket_inode(&t))
            {
                holds |= socket == inode;
                found.push((socket, (pid, path)));
            }
        }
        holds
    });
    remember(&mut sockets.seen.lock().unwrap(), &live, &scanned, found);
    holder
}

/// Where a socket was seen: the pid and the fd link that held it.
#[cfg(target_os = "linux")]
type Seen = (u32, std::path::PathBuf);

/// Add what a scan `found` to `seen`, first dropping what it makes stale:
/// the entries of processes no longer `live` (their sockets are gone with
/// them) and of the processes just `scanned` (`found` holds what they hold
/// now). So the memory holds the sockets of live processes, not every
/// socket a long-running daemon ever passed; [`SEEN_MAX`] bounds the rest.
#[cfg(target_os = "linux")]
fn remember(
    seen: &mut HashMap<u64, Seen>,
    live: &HashSet<u32>,
    scanned: &HashSet<u32>,
    found: Vec<(u64, Seen)>,
) {
    seen.retain(|_, (pid, _)| live.contains(pid) && !scanned.contains(pid));
    if seen.len() + found.len() > SEEN_MAX {
        seen.clear();
    }
    seen.extend(found);
}

#[cfg(all(test, target_endian = "little"))]
mod tests {
    use super::*;

    #[test]
    fn parent_pid_is_read_past_any_command_name() {
        assert_eq!(parent_in_stat("4242 (aws) S 4200 4242 ..."), Some(4200));
        assert_eq!(
            parent_in_stat("4242 (a) b (c) R 17 4242 0 0"),
            Some(17),
            "a ')' inside the name"
        );
        assert_eq!(parent_in_stat("1 (init) S 0 1 1"), None);
        assert_eq!(parent_in_stat("garbage"), None);
        assert_eq!(parent_in_stat("5 (x)"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_socket_caller_is_named_with_its_parent() {
        let me = std::process::id();
        let caller = of_process(7, Some(me));
        assert_eq!(caller.uid, Some(7));
        let exe = std::env::current_exe().unwrap();
        assert_eq!(caller.exe.as_deref(), exe.to_str());
        assert_eq!(caller.parent_pid, Some(std::os::unix::process::parent_id()));
        assert!(caller.parent_exe.is_some(), "{caller:?}");
    }

    // A client on 127.0.0.1:51234 talking to a listener on 127.0.0.1:9911
    // (0x26B7), the listener's own accepted socket, a listening socket and a
    // TIME_WAIT leftover with inode 0.
    const TCP: &str = "\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:26B7 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:26B7 0100007F:C862 01 00000000:00000000 00:00000000 00000000  1000        0 2222 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:C862 0100007F:26B7 01 00000000:00000000 00:00000000 00000000  1001        0 3333 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:C863 0100007F:26B7 06 00000000:00000000 03:00000DE8 00000000     0        0 0 3 0000000000000000
";

    const TCP6: &str = "\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:C864 00000000000000000000000001000000:26B7 01 00000000:00000000 00:00000000 00000000  1000        0 4444 1 0000000000000000 20 4 30 10 -1
   1: 0000000000000000FFFF00000100007F:C865 0000000000000000FFFF00000100007F:26B7 01 00000000:00000000 00:00000000 00000000  1000        0 5555 1 0000000000000000 20 4 30 10 -1
";

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn finds_this_process_for_each_of_its_connections() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let server = listener.local_addr().unwrap();
        let clients: Vec<std::net::TcpStream> = (0..3)
            .map(|_| std::net::TcpStream::connect(server).unwrap())
            .collect();
        // The first lookup scans; the others find the sockets it passed.
        let sockets = SocketsSeen::default();
        for client in &clients {
            let caller = lookup(client.local_addr().unwrap(), server, &sockets);
            assert_eq!(caller.pid, Some(std::process::id()), "{caller:?}");
            assert!(caller.exe.is_some(), "{caller:?}");
        }
        // The last client's socket was remembered by the first scan.
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
        let last = find_socket(&table, clients[2].local_addr().unwrap(), server).unwrap();
        let first = find_socket(&table, clients[0].local_addr().unwrap(), server).unwrap();
        let pid = sockets.seen.lock().unwrap()[&last.inode].0;
        assert_eq!(pid, std::process::id());

        // Closed, they are forgotten when this process is scanned again
        // (for a socket not seen yet).
        drop(clients);
        let client = std::net::TcpStream::connect(server).unwrap();
        let caller = lookup(client.local_addr().unwrap(), server, &sockets);
        assert_eq!(caller.pid, Some(std::process::id()), "{caller:?}");
        let seen = sockets.seen.lock().unwrap();
        assert!(!seen.contains_key(&first.inode) && !seen.contains_key(&last.inode));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn what_is_remembered_is_of_live_processes_and_their_last_scan() {
        let entry = |pid: u32, fd: u32| {
            (
                pid,
                std::path::PathBuf::from(format!("/proc/{pid}/fd/{fd}")),
            )
        };
        let mut seen: HashMap<u64, Seen> = HashMap::from([
            (1, entry(10, 3)), // its process is gone
            (2, entry(20, 3)), // its process was scanned again, without it
            (3, entry(30, 3)), // its process is alive and was not scanned
        ]);
        let live = HashSet::from([20, 30, 40]);
        let scanned = HashSet::from([20, 40]);
        remember(
            &mut seen,
            &live,
            &scanned,
            vec![(4, entry(20, 4)), (5, entry(40, 3))],
        );
        let mut kept: Vec<u64> = seen.keys().copied().collect();
        kept.sort_unstable();
        assert_eq!(kept, [3, 4, 5]);
        assert_eq!(seen[&4], entry(20, 4));
    }

    #[test]
    fn reads_the_inode_of_a_socket_link() {
        let inode = |s: &str| socket_inode(std::path::Path::new(s));
        assert_eq!(inode("socket:[12345]"), Some(12345));
        assert_eq!(inode("pipe:[12345]"), None);
        assert_eq!(inode("socket:[x]"), None);
        assert_eq!(inode("/dev/null"), None);
    }

    #[test]
    fn finds_the_clients_socket_not_ours() {
        let entry = find_socket(TCP, addr("127.0.0.1:51298"), addr("127.0.0.1:9911"));
        assert_eq!(
            entry,
            Some(SocketEntry {
                uid: 1001,
                inode: 3333
            })
        );
    }

    #[test]
    fn time_wait_and_strangers_do_not_match() {
        assert_eq!(
            find_socket(TCP, addr("127.0.0.1:51299"), addr("127.0.0.1:9911")),
            None
        );
        assert_eq!(
            find_socket(TCP, addr("127.0.0.1:51298"), addr("127.0.0.1:9912")),
            None
        );
        assert_eq!(
            find_socket(TCP, addr("127.0.0.2:51298"), addr("127.0.0.1:9911")),
            None
        );
        assert_eq!(
            find_socket("", addr("127.0.0.1:1"), addr("127.0.0.1:2")),
            None
        );
        assert_eq!(
            find_socket(
                "header\n garbage line\n",
                addr("127.0.0.1:1"),
                addr("127.0.0.1:2")
            ),
            None
        );
    }

    #[test]
    fn reads_ipv6_and_mapped_ipv4() {
        assert_eq!(
            find_socket(TCP6, addr("[::1]:51300"), addr("[::1]:9911")).map(|e| e.inode),
            Some(4444)
        );
        assert_eq!(
            find_socket(TCP6, addr("127.0.0.1:51301"), addr("127.0.0.1:9911")).map(|e| e.inode),
            Some(5555)
        );
    }

    #[test]
    fn lookup_finds_this_very_process() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server_side, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        let caller = lookup(
            peer,
            listener.local_addr().unwrap(),
            &SocketsSeen::default(),
        );
        assert_eq!(caller.peer.as_deref(), Some(peer.to_string().as_str()));
        if cfg!(target_os = "linux") {
            assert_eq!(caller.pid, Some(std::process::id()));
            let exe = std::env::current_exe().unwrap();
            assert_eq!(caller.exe.as_deref(), exe.to_str());
        }
    }
}
