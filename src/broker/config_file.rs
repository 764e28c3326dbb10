//! The AWS config file as the broker sees it: parsed once, parsed again when
//! it changes, and when an edit does not parse, the last good version kept
//! (with the error, for `credbroker status`).
//!
//! "Changed" is the file's modification time and length. Every request asks
//! for the config, so while the daemon's file watcher reloads on every edit
//! ([`ConfigFile::set_watched`]), requests compare the stamp only once a
//! second: the watcher misses edits made through a symlink into another
//! directory, and those are still seen within that second. Without a
//! watcher (tests, `credential-process` without a daemon) every request
//! compares it.

use crate::config::{AwsConfig, ConfigError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// While watched, how often requests still compare the file's stamp.
const WATCHED_RECHECK: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(super) struct ConfigFile {
    path: PathBuf,
    loaded: RwLock<Option<Loaded>>,
    watched: AtomicBool,
}

/// The file as last read: the last good parse, and the error of the latest
/// read when the file on disk is invalid.
#[derive(Debug)]
struct Loaded {
    stamp: Option<(SystemTime, u64)>,
    /// When `stamp` was last compared with the file.
    checked: Instant,
    good: Option<Arc<AwsConfig>>,
    error: Option<ConfigError>,
}

impl Loaded {
    fn current(&self) -> Result<Arc<AwsConfig>, ConfigError> {
        match (&self.good, &self.error) {
            (Some(good), _) => Ok(good.clone()),
            (None, Some(e)) => Err(e.clone()),
            (None, None) => unreachable!("a loaded config has a parse or an error"),
        }
    }
}

/// Modification time and length: what changes when the file is edited.
fn file_stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl ConfigFile {
    pub(super) fn new(path: PathBuf) -> Self {
        ConfigFile {
            path,
            loaded: RwLock::new(None),
            watched: AtomicBool::new(false),
        }
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn set_watched(&self, watched: bool) {
        self.watched.store(watched, Ordering::Relaxed);
    }

    /// While watched, how long a parse may be used without a look at the
    /// file; `None` when every use must look.
    pub(super) fn recheck_after(&self) -> Option<Duration> {
        self.watched
            .load(Ordering::Relaxed)
            .then_some(WATCHED_RECHECK)
    }

    /// The config now: the last parse while the file is unchanged, else a
    /// new one (or the last good one and the error).
    pub(super) fn current(&self) -> Result<Arc<AwsConfig>, ConfigError> {
        if self.watched.load(Ordering::Relaxed) {
            let loaded = self.loaded.read().unwrap();
            if let Some(l) = loaded.as_ref() {
                if l.stamp.is_some() && l.checked.elapsed() < WATCHED_RECHECK {
                    return l.current();
                }
            }
        }
        let stamp = file_stamp(&self.path);
        let mut loaded = self.loaded.write().unwrap();
        if let Some(l) = loaded.as_mut() {
            if l.stamp == stamp && stamp.is_some() {
                l.checked = Instant::now();
                return l.current();
            }
        }
        let result = AwsConfig::load(&self.path).map(Arc::new);
        let previous = loaded.take();
        let next = match result {
            Ok(config) => {
                if previous.as_ref().is_some_and(|p| p.error.is_some()) {
                    tracing::info!(path = %self.path.display(), "AWS config file is valid again");
                }
                Loaded {
                    stamp,
                    checked: Instant::now(),
                    good: Some(config),
                    error: None,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "AWS config file is invalid; keeping the last good configuration");
                Loaded {
                    stamp,
                    checked: Instant::now(),
                    good: previous.and_then(|p| p.good),
                    error: Some(e),
                }
            }
        };
        let current = next.current();
        *loaded = Some(next);
        current
    }

    /// Read the file again now, whatever its stamp says.
    pub(super) fn reload(&self) -> Result<(), ConfigError> {
        if let Some(l) = self.loaded.write().unwrap().as_mut() {
            l.stamp = None;
        }
        self.current()?;
        match self.error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The error of the latest read, while the file on disk is invalid.
    pub(super) fn error(&self) -> Option<ConfigError> {
        self.loaded
            .read()
            .unwrap()
            .as_ref()
            .and_then(|l| l.error.clone())
    }
}
