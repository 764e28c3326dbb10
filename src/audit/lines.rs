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
//!
//! The time itself is written from the text of its whole second, kept
//! while the records stay within it (they come sorted), and its fraction:
//! chrono's own formatting, through `fmt`, was a visible share of the
//! writer's time under load.

use super::{Caller, Subject, Vend, Via};
use chrono::{DateTime, Utc};
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
    /// The whole second last written, and its JSON text up to the
    /// fraction (`"2026-12-01T09:00:00`).
    second: Option<(i64, Vec<u8>)>,
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
            write_time(&mut self.second, out, &vend.time)?;
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

/// `time` as `serde_json` writes a `DateTime<Utc>` (chrono's RFC 3339 with
/// `Z` and as many fraction digits as are not zero: none, 3, 6 or 9), from
/// the kept text of its second.
fn write_time(
    second: &mut Option<(i64, Vec<u8>)>,
    out: &mut Vec<u8>,
    time: &DateTime<Utc>,
) -> std::io::Result<()> {
    let nanos = time.timestamp_subsec_nanos();
    if nanos >= 1_000_000_000 {
        // A leap second: chrono's own text.
        return serde_json::to_writer(&mut *out, time).map_err(std::io::Error::other);
    }
    let whole = time.timestamp();
    let text = match second {
        Some((kept, text)) if *kept == whole => text,
        _ => {
            let start = DateTime::from_timestamp(whole, 0)
                .ok_or_else(|| std::io::Error::other(format!("{time} has no whole second")))?;
            let mut text = serde_json::to_vec(&start).map_err(std::io::Error::other)?;
            // `"...:SSZ"` less its `Z"`.
            text.truncate(text.len() - 2);
            &mut second.insert((whole, text)).1
        }
    };
    out.extend_from_slice(text);
    let (digits, value) = match nanos {
        0 => (0, 0),
        n if n % 1_000_000 == 0 => (3, n / 1_000_000),
        n if n % 1_000 == 0 => (6, n / 1_000),
        n => (9, n),
    };
    if digits > 0 {
        out.push(b'.');
        let mut fraction = [b'0'; 9];
        let mut rest = value;
        for slot in fraction[..digits].iter_mut().rev() {
            *slot = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        out.extend_from_slice(&fraction[..digits]);
    }
    out.extend_from_slice(b"Z\"");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_is_the_text_serde_json_writes() {
        let mut second = None;
        let seconds = [0, 1_700_000_000, 1_700_000_001, 4_102_444_799, -1];
        let fractions = [
            0,
            1,
            7_000,
            120_000,
            123_000_000,
            123_456_000,
            123_456_789,
            999_999_999,
            1_000_000,
            10,
        ];
        for whole in seconds {
            for nanos in fractions {
                let time = DateTime::from_timestamp(whole, nanos).unwrap();
                let mut out = Vec::new();
                write_time(&mut second, &mut out, &time).unwrap();
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    serde_json::to_string(&time).unwrap(),
                    "{whole} s {nanos} ns"
                );
            }
        }
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap()
            .and_utc();
        let mut out = Vec::new();
        write_time(&mut second, &mut out, &leap).unwrap();
        assert_eq!(out, serde_json::to_vec(&leap).unwrap(), "a leap second");
    }

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
