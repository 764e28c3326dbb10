//! The audit trail: who was handed which role's credentials, and when.
//!
//! Modelled on how CloudTrail records an `AssumeRoleWithWebIdentity`: every
//! credentials request that reaches the endpoint's one route becomes one
//! [`VendRecord`] with the time, the profile, the account and role it stands
//! for, the result (`ok` or the error code the client got) and the caller
//! (pid and executable on Linux, see [`caller`]). A record never holds a
//! secret: no key, no token, not even a token's prefix.
//!
//! The endpoint must not slow down for this, so [`AuditTrail::record`] only
//! queues the record ([`queue`]: one shard per thread, no wake-up while the
//! writer is busy); one writer thread appends it to `audit.log` in the
//! state directory ([`log`]: JSON lines, append-only, 5 MiB x 4 files at
//! most). The writer takes what has queued up as one batch, in time order,
//! and writes it with one `write`, then pauses for [`BATCH_PAUSE`]: under
//! load it takes a batch a hundred times a second, and a lone record is
//! still written at once. As the one thread that sees every request, it
//! also notices when a burst ends (a second without one) and gives the
//! memory the burst used back to the system. If a thread's shard is full
//! the record is dropped and counted in the daemon's log rather than
//! making a client wait. A daemon that stops waits for the writer
//! ([`AuditWriter::finish`]), so a clean stop loses no record.
//!
//! `credbroker audit` reads the file back ([`parse_since`], [`render_table`]).

pub mod caller;
mod lines;
pub mod log;
mod queue;
#[cfg(target_os = "linux")]
mod sock_diag;

pub use caller::Caller;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;

/// Records one thread's shard holds for the writer before new ones are
/// dropped: room for 400,000 records a second from each thread at one
/// batch per [`BATCH_PAUSE`], several times what the endpoint serves.
const QUEUE: usize = 4096;
/// The writer's pause after each batch.
pub const BATCH_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);
/// No record for this long ends a burst of requests.
const QUIET: std::time::Duration = std::time::Duration::from_secs(1);

/// Give the memory freed after a burst back to the system. glibc keeps what
/// its per-thread arenas once held (several MiB after a load of a million
/// requests, see docs/benchmarks.md); `malloc_trim` returns the free pages
/// of every arena.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it is thread-safe and
    // may be called at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Which door a credentials request came through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// The HTTP endpoint (`/v1/credentials/<profile>`). Records written
    /// before `via` existed all came this way.
    #[default]
    Endpoint,
    /// The daemon's Unix socket (`credbroker credential-process`).
    Socket,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Endpoint => "endpoint",
            Via::Socket => "socket",
        }
    }
}

/// One credentials request, as the audit log holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendRecord {
    pub time: DateTime<Utc>,
    pub profile: String,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    /// For a chained profile: the roles assumed on the way, source first
    /// (`111111111111/Admin -> 222222222222/Deploy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// `ok`, or the `code` of the error body the client received.
    pub result: String,
    /// The HTTP status the client received (over the socket: the status
    /// the endpoint would have answered with).
    pub status: u16,
    #[serde(default)]
    pub via: Via,
    /// What the presented token could read: `all`, `profile`, or none (and
    /// none over the socket, which admits by uid, not by token).
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub caller: Caller,
}

/// Who a record is about: the profile asked for and, when known, the
/// account and role it stands for. The broker keeps one per resolved
/// profile and hands it out with every answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub profile: String,
    pub account: Option<String>,
    pub role: Option<String>,
    /// For a chained profile: every role on the way, source first.
    pub chain: Option<String>,
}

/// A record as the endpoint queues it. Its parts are shared or static, so
/// queueing one allocates nothing, and the writer thread frees nothing the
/// endpoint's threads allocated (a free from another thread waits on the
/// allocating thread's malloc arena, which showed up as lock contention
/// under load).
#[derive(Debug, Clone)]
pub struct Vend {
    pub time: DateTime<Utc>,
    pub subject: Arc<Subject>,
    /// `ok`, or the `code` of the error body the client received.
    pub result: &'static str,
    pub status: u16,
    pub via: Via,
    /// What the presented token could read: `all`, `profile`, or none.
    pub scope: Option<&'static str>,
    pub caller: Arc<Caller>,
}

/// A [`Vend`] as its log line: the fields of [`VendRecord`], in its order,
/// borrowed, so the writer serializes without copying.
#[derive(Serialize)]
struct Line<'a> {
    time: &'a DateTime<Utc>,
    profile: &'a str,
    account: Option<&'a str>,
    role: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chain: Option<&'a str>,
    result: &'a str,
    status: u16,
    via: Via,
    scope: Option<&'a str>,
    caller: &'a Caller,
}

impl Serialize for Vend {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Line {
            time: &self.time,
            profile: &self.subject.profile,
            account: self.subject.account.as_deref(),
            role: self.subject.role.as_deref(),
            chain: self.subject.chain.as_deref(),
            result: self.result,
            status: self.status,
            via: self.via,
            scope: self.scope,
            caller: &self.caller,
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
impl Vend {
    /// The record as the log holds it.
    pub fn to_record(&self) -> VendRecord {
        VendRecord {
            time: self.time,
            profile: self.subject.profile.clone(),
            account: self.subject.account.clone(),
            role: self.subject.role.clone(),
            chain: self.subject.chain.clone(),
            result: self.result.to_owned(),
            status: self.status,
            via: self.via,
            scope: self.scope.map(str::to_owned),
            caller: Caller::clone(&self.caller),
        }
    }
}

/// `<state dir>/audit.log`.
pub fn audit_file(paths: &crate::paths::Paths) -> PathBuf {
    paths.state_dir.join("audit.log")
}

/// The endpoint's handle on the audit log; cheap to clone.
#[derive(Clone)]
pub struct AuditTrail {
    handle: Arc<Handle>,
}

/// What the handles share; the last one dropped closes the queue.
struct Handle {
    queue: Arc<queue::Queue<Vend>>,
    dropped: AtomicU64,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.queue.close();
    }
}

impl std::fmt::Debug for AuditTrail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditTrail")
            .field("dropped", &self.handle.dropped.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// The writer thread, for the one who shuts down: [`AuditWriter::finish`]
/// waits for it to write what is queued. Without the wait, a process that
/// ends right after its last request would lose up to one batch.
#[derive(Debug)]
pub struct AuditWriter {
    done: std::sync::mpsc::Receiver<()>,
}

impl AuditWriter {
    /// Wait, `limit` at most, for the writer to end: it ends once every
    /// [`AuditTrail`] handle is dropped and what they queued is written.
    /// Whether it ended in time.
    pub fn finish(&self, limit: std::time::Duration) -> bool {
        // A writer that panicked dropped its sender: it has ended too.
        !matches!(
            self.done.recv_timeout(limit),
            Err(RecvTimeoutError::Timeout)
        )
    }
}

impl AuditTrail {
    /// Open the log at `path` and start its writer thread, which ends when
    /// the last handle is dropped (after writing what is queued).
    pub fn open(path: &Path) -> std::io::Result<(AuditTrail, AuditWriter)> {
        let mut file = log::AuditLog::open(path)?;
        let queue = Arc::new(queue::Queue::<Vend>::new(QUEUE));
        let (ended, done) = std::sync::mpsc::channel::<()>();
        let writer_queue = queue.clone();
        let writer = std::thread::Builder::new()
            .name("credbroker-audit".into())
            .spawn(move || {
                let queue = writer_queue;
                let mut spares = queue::spares();
                let mut batch = Vec::new();
                // The batch's lines, gathered for one write; its room is
                // kept from batch to batch while a burst lasts.
                let mut text = Vec::new();
                let mut lines = lines::Lines::default();
                let mut busy = false;
                loop {
                    match queue.take(&mut batch, &mut spares, QUIET) {
                        queue::Taken::Closed => break,
                        queue::Taken::Woken => continue,
                        queue::Taken::Quiet => {
                            if std::mem::take(&mut busy) {
                                lines.forget();
                                batch = Vec::new();
                                text = Vec::new();
                                queue.release_room(&mut spares);
                                release_freed_memory();
                            }
                            continue;
                        }
                        queue::Taken::Some => {}
                    }
                    busy = true;
                    // Shards are taken one after the other: put the batch
                    // back in the order the requests came.
                    batch.sort_by_key(|vend| vend.time);
                    if let Err(err) =
                        file.append_all_with(&batch, &mut text, |out, vend| lines.encode(out, vend))
                    {
                        tracing::warn!(error = %err, "cannot write the audit log");
                    }
                    batch.clear();
                    std::thread::sleep(BATCH_PAUSE);
                }
                let _ = ended.send(());
            })?;
        queue.set_writer(writer.thread().clone());
        let trail = AuditTrail {
            handle: Arc::new(Handle {
                queue,
                dropped: AtomicU64::new(0),
            }),
        };
        Ok((trail, AuditWriter { done }))
    }

    /// Queue a record; never blocks.
    pub fn record(&self, vend: Vend) {
        if self.handle.queue.push(vend).is_err() {
            let dropped = self.handle.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(dropped, "audit queue full; record dropped");
        }
    }
}

/// `90s`, `30m`, `1h`, `7d` (or a bare number of seconds) as a duration.
pub fn parse_since(text: &str) -> Result<chrono::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration like 30m, 1h or 7d"))?;
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("'{text}': the unit must be s, m, h or d")),
    };
    n.checked_mul(seconds)
        .and_then(chrono::Duration::try_seconds)
        .ok_or_else(|| format!("'{text}' is too long"))
}

/// Records as an aligned table, one line each, with a header.
pub fn render_table(records: &[VendRecord]) -> String {
    let header = [
        "TIME", "PROFILE", "ACCOUNT", "ROLE", "RESULT", "VIA", "SCOPE", "PID", "CALLER",
    ];
    let rows: Vec<[String; 9]> = records
        .iter()
        .map(|r| {
            [
                r.time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                r.profile.clone(),
                r.account.clone().unwrap_or_else(|| "-".into()),
                r.role.clone().unwrap_or_else(|| "-".into()),
                r.result.clone(),
                r.via.as_str().into(),
                r.scope.clone().unwrap_or_else(|| "-".into()),
                // Over the socket the caller is the credbroker that a tool
                // ran as its credential_process: the tool is shown.
                r.caller
                    .parent_pid
                    .or(r.caller.pid)
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "-".into()),
                r.caller
                    .parent_exe
                    .clone()
                    .or_else(|| r.caller.exe.clone())
                    .or_else(|| r.caller.uid.map(|u| format!("uid {u}")))
                    .or_else(|| r.caller.peer.clone())
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(&header);
    for row in &rows {
        out.push_str(&line(&row.each_ref().map(String::as_str)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_common_units() {
        assert_eq!(parse_since("90").unwrap().num_seconds(), 90);
        assert_eq!(parse_since("30m").unwrap().num_seconds(), 1800);
        assert_eq!(parse_since("1h").unwrap().num_seconds(), 3600);
        assert_eq!(parse_since("7d").unwrap().num_seconds(), 7 * 86400);
        for bad in ["", "h", "1w", "1.5h", "-1h", "99999999999999999999d"] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn table_aligns_and_shows_the_caller() {
        let record = VendRecord {
            time: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            profile: "dev".into(),
            account: Some("111111111111".into()),
            role: Some("ReadOnly".into()),
            chain: None,
            result: "ok".into(),
            status: 200,
            via: Via::Socket,
            scope: Some("profile".into()),
            caller: Caller {
                pid: Some(42),
                exe: Some("/usr/bin/curl".into()),
                ..Caller::default()
            },
        };
        let text = render_table(std::slice::from_ref(&record));
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("TIME"), "{text}");
        assert!(lines[1].contains("111111111111  ReadOnly"), "{text}");
        assert_eq!(lines[0].find("VIA"), lines[1].find("socket"), "{text}");
        assert!(lines[1].ends_with("42   /usr/bin/curl"), "{text}");
        assert_eq!(lines[0].find("PROFILE"), lines[1].find("dev"));

        let through_credbroker = VendRecord {
            caller: Caller {
                pid: Some(43),
                exe: Some("/usr/bin/credbroker".into()),
                parent_pid: Some(40),
                parent_exe: Some("/usr/bin/terraform".into()),
                ..Caller::default()
            },
            ..record.clone()
        };
        let text = render_table(&[through_credbroker]);
        assert!(text.ends_with("40   /usr/bin/terraform\n"), "{text}");
    }

    #[test]
    fn records_written_before_via_existed_came_through_the_endpoint() {
        let line = r#"{"time":"2026-11-21T23:10:00Z","profile":"dev","result":"ok","status":200}"#;
        let record: VendRecord = serde_json::from_str(line).unwrap();
        assert_eq!(record.via, Via::Endpoint);
        let socket = r#"{"time":"2026-11-21T23:10:00Z","profile":"dev","result":"ok","status":200,"via":"socket"}"#;
        let record: VendRecord = serde_json::from_str(socket).unwrap();
        assert_eq!(record.via, Via::Socket);
    }

    #[test]
    fn trail_writes_what_it_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let (trail, writer) = AuditTrail::open(&path).unwrap();
        let vend = Vend {
            time: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            subject: Arc::new(Subject {
                profile: "dev".into(),
                account: Some("111111111111".into()),
                role: Some("ReadOnly".into()),
                chain: None,
            }),
            result: "InvalidToken",
            status: 401,
            via: Via::Endpoint,
            scope: Some("profile"),
            caller: Arc::new(Caller {
                pid: Some(7),
                ..Caller::default()
            }),
        };
        let record = VendRecord {
            time: vend.time,
            profile: "dev".into(),
            account: Some("111111111111".into()),
            role: Some("ReadOnly".into()),
            chain: None,
            result: "InvalidToken".into(),
            status: 401,
            via: Via::Endpoint,
            scope: Some("profile".into()),
            caller: Caller {
                pid: Some(7),
                ..Caller::default()
            },
        };
        assert_eq!(
            serde_json::to_string(&vend).unwrap(),
            serde_json::to_string(&record).unwrap(),
            "a queued record is written as the record it stands for"
        );
        assert_eq!(vend.to_record(), record);
        trail.record(vend.clone());
        let second = trail.clone();
        drop(trail);
        assert!(
            !writer.finish(std::time::Duration::from_millis(50)),
            "a handle is still open: the writer goes on"
        );
        second.record(vend);
        drop(second);
        assert!(
            writer.finish(std::time::Duration::from_secs(5)),
            "the writer ends once every handle is dropped"
        );
        // Written before the writer said it ended: no polling needed.
        assert_eq!(log::read_all(&path).unwrap(), [record.clone(), record]);
    }
}
