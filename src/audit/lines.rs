//! Audit records as JSON lines, for the writer thread, without serializing
//! again what the record before said.
//!
//! Under load nearly every record repeats one from a moment ago but for
//! its time: a keep-alive connection asks for the same profile, with the
//! same token, from the same process. So the writer keeps each such line
//! as it was written, less its time, by who it is about and who asked
//! (the very `Arc`s the records share, kept alive with it) and the small
//! fields; a record that matches one is written as its time and that
//! tail. `time` is the first field of a line, so the bytes are exactly
//! those `serde_json` writes for the record (a test holds them equal).

use super::{Caller, Subject, Vend, Via};
use std::collections::HashMap;
use std::sync::Arc;

/// Tails kept at most; past this they are all forgotten (a connection
/// ends, a new one begins: tails of the ended ones are not looked for).
const KEPT: usize = 1024;

const TIME: &[u8] = b"{\"time\":";

#[derive(PartialEq, Eq, Hash)]
struct Key {
    subject: *const Subject,
    caller: *const Caller,
    result: &'static str,
    status: u16,
    via: Via,
    scope: Option<&'static str>,
}

/// The writer's memory of the lines it wrote.
#[derive(Default)]
pub(super) struct Lines {
    /// By [`Key`]: the `Arc`s the key points into (so no other record can
    /// be made at the same addresses while it is kept) and the line after
    /// its time.
    tails: HashMap<Key, Tail>,
}

/// The parts a [`Key`] points into, and the line after its time.
type Tail = (Arc<Subject>, Arc<Caller>, Vec<u8>);

impl Lines {
    /// Write `vend`'s line, without the newline, to `out`.
    pub(super) fn encode(&mut self, out: &mut Vec<u8>, vend: &Vend) -> std::io::Result<()> {
        let key = Key {
            subject: Arc::as_ptr(&vend.subject),
            caller: Arc::as_ptr(&vend.caller),
            result: vend.result,
            status: vend.status,
            via: vend.via,
            scope: vend.scope,
        };
        if let Some((_, _, tail)) = self.tails.get(&key) {
            out.extend_from_slice(TIME);
            serde_json::to_writer(&mut *out, &vend.time).map_err(std::io::Error::other)?;
            out.extend_from_slice(tail);
            return Ok(());
        }
        let start = out.len();
        serde_json::to_writer(&mut *out, vend).map_err(std::io::Error::other)?;
        let line = &out[start..];
        let time = serde_json::to_vec(&vend.time).map_err(std::io::Error::other)?;
        if line.starts_with(TIME) && line[TIME.len()..].starts_with(&time) {
            if self.tails.len() >= KEPT {
                self.forget();
            }
            let tail = line[TIME.len() + time.len()..].to_vec();
            self.tails
                .insert(key, (vend.subject.clone(), vend.caller.clone(), tail));
        }
        Ok(())
    }

    /// Forget every tail (and let go of the records' parts they hold).
    pub(super) fn forget(&mut self) {
        self.tails = HashMap::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    #[test]
    fn a_line_from_a_kept_tail_is_the_line_serde_json_writes() {
        let subject = Arc::new(Subject {
            profile: "team \"dev\"".into(),
            account: Some("111111111111".into()),
            role: Some("ReadOnly".into()),
            chain: Some("111111111111/Admin -> 222222222222/Deploy".into()),
        });
        let caller = Arc::new(Caller {
            pid: Some(42),
            exe: Some("/usr/bin/python3\n".into()),
            ..Caller::default()
        });
        let other = Arc::new(Caller::default());
        let mut lines = Lines::default();
        let times = [
            DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            DateTime::from_timestamp(1_700_000_000, 123_000_000).unwrap(),
            DateTime::from_timestamp(1_700_000_001, 123_456_789).unwrap(),
            DateTime::from_timestamp(1_700_000_002, 0).unwrap(),
        ];
        for (n, time) in times.into_iter().cycle().take(24).enumerate() {
            let vend = Vend {
                time,
                subject: subject.clone(),
                result: if n % 3 == 0 { "ok" } else { "InvalidToken" },
                status: if n % 3 == 0 { 200 } else { 401 },
                via: if n % 5 == 0 {
                    Via::Socket
                } else {
                    Via::Endpoint
                },
                scope: if n % 2 == 0 { Some("profile") } else { None },
                caller: if n % 4 == 0 {
                    other.clone()
                } else {
                    caller.clone()
                },
            };
            let mut out = b"before\n".to_vec();
            lines.encode(&mut out, &vend).unwrap();
            let expected = serde_json::to_vec(&vend).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out["before\n".len()..]),
                String::from_utf8_lossy(&expected),
                "record {n}"
            );
        }
        assert!(!lines.tails.is_empty(), "tails were kept and used");
    }
}
