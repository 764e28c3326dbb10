//! The audit log file: JSON lines, append-only, bounded and rotated.
//!
//! `audit.log` is opened with `O_APPEND` (each line lands whole at the end,
//! never over an earlier one) and mode 0600. When a line would take it past
//! [`MAX_BYTES`], the files shift: `audit.log.2` -> `.3`, `.1` -> `.2`,
//! `audit.log` -> `.1`, and a new `audit.log` starts; the oldest is dropped.
//! So the trail never uses more than about `(KEEP + 1) * MAX_BYTES`.
//!
//! Reading goes oldest file first, so records come back in time order.
//! Lines that do not parse (a torn write after a crash) are skipped.

use super::VendRecord;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Size at which `audit.log` is rotated.
pub const MAX_BYTES: u64 = 5 * 1024 * 1024;
/// Rotated files kept (`audit.log.1` .. `audit.log.KEEP`).
pub const KEEP: usize = 3;

/// An open audit log, written by one owner.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: File,
    size: u64,
    max_bytes: u64,
}

impl AuditLog {
    /// Open (or create) the log at `path`, its directory 0700 and file 0600.
    pub fn open(path: &Path) -> std::io::Result<AuditLog> {
        AuditLog::open_bounded(path, MAX_BYTES)
    }

    /// [`AuditLog::open`] with another rotation size (tests).
    pub fn open_bounded(path: &Path, max_bytes: u64) -> std::io::Result<AuditLog> {
        if let Some(dir) = path.parent() {
            crate::paths::ensure_private_dir(dir)?;
        }
        let mut file = open_append(path)?;
        let mut size = file.metadata()?.len();
        if size > 0 && !ends_with_newline(path)? {
            // A crash tore the last line; end it so the next one stays whole.
            file.write_all(b"\n")?;
            size += 1;
        }
        Ok(AuditLog {
            path: path.to_path_buf(),
            file,
            size,
            max_bytes,
        })
    }

    /// Append one record as one line, rotating first if it would not fit.
    pub fn append(&mut self, record: &VendRecord) -> std::io::Result<()> {
        self.append_all(std::slice::from_ref(record))
    }

    /// Append records, one line each, with one `write` per file: the lines
    /// are gathered first, and the file is rotated before a line that
    /// would take it past its size.
    pub fn append_all<R: serde::Serialize>(&mut self, records: &[R]) -> std::io::Result<()> {
        self.append_all_with(records, &mut Vec::new(), |out, record| {
            serde_json::to_writer(out, record).map_err(std::io::Error::other)
        })
    }

    /// [`AuditLog::append_all`] with each record's JSON written by `encode`
    /// (without its newline), the lines gathered in `pending`. The caller
    /// keeps `pending` from one call to the next, so a writer that calls
    /// this for every batch grows one buffer to its largest batch rather
    /// than a new one, realloc by realloc, every time.
    pub fn append_all_with<R>(
        &mut self,
        records: &[R],
        pending: &mut Vec<u8>,
        mut encode: impl FnMut(&mut Vec<u8>, &R) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        pending.clear();
        for record in records {
            let start = pending.len();
            encode(pending, record)?;
            pending.push(b'\n');
            let line = (pending.len() - start) as u64;
            let size = self.size + start as u64;
            if size > 0 && size + line > self.max_bytes {
                self.file.write_all(&pending[..start])?;
                pending.drain(..start);
                self.rotate()?;
            }
        }
        self.file.write_all(pending)?;
        self.size += pending.len() as u64;
        pending.clear();
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        for n in (1..KEEP).rev() {
            let from = rotated(&self.path, n);
            if from.exists() {
                std::fs::rename(&from, rotated(&self.path, n + 1))?;
            }
        }
        std::fs::rename(&self.path, rotated(&self.path, 1))?;
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        // The umask may have taken bits away; put back exactly 0600.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        options.open(path)
    }
}

fn ends_with_newline(path: &Path) -> std::io::Result<bool> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let mut file = File::open(path)?;
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// `audit.log.N`.
fn rotated(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// Every record in the log and its rotated files, oldest first.
pub fn read_all(path: &Path) -> std::io::Result<Vec<VendRecord>> {
    let mut records = Vec::new();
    let files = (1..=KEEP).rev().map(|n| rotated(path, n));
    for file in files.chain(std::iter::once(path.to_path_buf())) {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err),
        };
        records.extend(text.lines().filter_map(|l| serde_json::from_str(l).ok()));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: usize) -> VendRecord {
        VendRecord {
            time: chrono::DateTime::from_timestamp(1_700_000_000 + n as i64, 0).unwrap(),
            profile: format!("p{n}"),
            account: Some("111111111111".into()),
            role: Some("ReadOnly".into()),
            chain: None,
            result: "ok".into(),
            status: 200,
            via: Default::default(),
            scope: Some("profile".into()),
            caller: Default::default(),
        }
    }

    #[test]
    fn appends_reads_back_in_order_and_skips_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/audit.log");
        let mut log = AuditLog::open(&path).unwrap();
        log.append(&record(1)).unwrap();
        log.append(&record(2)).unwrap();
        drop(log);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"time\":")
            .unwrap();
        let mut log = AuditLog::open(&path).unwrap();
        log.append(&record(3)).unwrap();
        let profiles: Vec<String> = read_all(&path)
            .unwrap()
            .into_iter()
            .map(|r| r.profile)
            .collect();
        // Only the torn line is lost.
        assert_eq!(profiles, ["p1", "p2", "p3"]);
    }

    #[test]
    fn rotates_and_keeps_a_bounded_number_of_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let one_line = serde_json::to_vec(&record(19)).unwrap().len() as u64 + 1;
        let mut log = AuditLog::open_bounded(&path, one_line * 2).unwrap();
        for n in 0..20 {
            log.append(&record(n)).unwrap();
        }
        for n in 1..=KEEP {
            assert!(rotated(&path, n).exists(), "{n}");
        }
        assert!(!rotated(&path, KEEP + 1).exists());
        for file in (1..=KEEP).map(|n| rotated(&path, n)).chain([path.clone()]) {
            assert!(std::fs::metadata(&file).unwrap().len() <= one_line * 2);
        }
        let kept: Vec<String> = read_all(&path)
            .unwrap()
            .into_iter()
            .map(|r| r.profile)
            .collect();
        assert_eq!(kept.len(), (KEEP + 1) * 2);
        assert_eq!(kept.last().unwrap(), "p19");
        assert_eq!(kept.first().unwrap(), "p12");
    }

    #[test]
    fn a_batch_writes_the_same_files_as_one_record_at_a_time() {
        let records: Vec<VendRecord> = (0..20).map(record).collect();
        let one_line = serde_json::to_vec(&record(19)).unwrap().len() as u64 + 1;
        let (single, batched) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut log =
            AuditLog::open_bounded(&single.path().join("audit.log"), one_line * 3).unwrap();
        for r in &records {
            log.append(r).unwrap();
        }
        let mut log =
            AuditLog::open_bounded(&batched.path().join("audit.log"), one_line * 3).unwrap();
        log.append_all(&records[..7]).unwrap();
        log.append_all(&records[7..]).unwrap();
        for name in ["audit.log", "audit.log.1", "audit.log.2", "audit.log.3"] {
            let read = |dir: &tempfile::TempDir| std::fs::read(dir.path().join(name)).unwrap();
            assert_eq!(read(&single), read(&batched), "{name}");
        }
        assert!(!batched.path().join("audit.log.4").exists());
    }

    #[cfg(unix)]
    #[test]
    fn file_is_0600_and_dir_0700() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/audit.log");
        AuditLog::open(&path).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
    }
}
