//! Live reload: the daemon re-reads the AWS config file as soon as it changes.
//!
//! The file's directory is watched rather than the file, because editors
//! (and `credbroker onboard`) replace the file by renaming a new one over
//! it, which ends a watch on the old inode. Events naming another file in
//! that directory are ignored. A burst of events (write, chmod, rename) is
//! coalesced by waiting a moment after the first, then reloading once.
//!
//! The reload itself is the broker's: an invalid edit keeps the last good
//! configuration, and the error stays visible in `credbroker status` until
//! the file is fixed. If the file sits behind a symlink into another
//! directory, edits there are not seen here; the broker still notices them
//! within a second, because requests still compare the file's mtime and
//! length, once a second while the watch runs (every time without one).

use crate::broker::Broker;
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long to let a burst of events settle before reloading.
const SETTLE: Duration = Duration::from_millis(100);

/// A running watch; dropping it stops watching.
pub struct ConfigWatch {
    _watcher: RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ConfigWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether `event` may have changed the file called `file_name`.
pub fn concerns(event: &Event, file_name: &OsString) -> bool {
    if matches!(event.kind, EventKind::Access(_)) {
        return false;
    }
    // Some backends report an overflow or rescan with no paths: reload to be safe.
    event.paths.is_empty()
        || event
            .paths
            .iter()
            .any(|p| p.file_name() == Some(file_name.as_os_str()))
}

/// Watch `config_path` and call `reload` after each change. The directory
/// must exist (it is created if not, as an empty `~/.aws` is harmless).
pub fn watch(
    config_path: &Path,
    reload: impl Fn() + Send + 'static,
) -> Result<ConfigWatch, notify::Error> {
    let dir = match config_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = config_path
        .file_name()
        .map(OsString::from)
        .unwrap_or_default();
    if !dir.exists() {
        std::fs::create_dir_all(&dir).map_err(notify::Error::io)?;
    }
    let (changed_tx, mut changed) = mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<Event>| {
        let relevant = match &event {
            Ok(event) => concerns(event, &file_name),
            Err(err) => {
                tracing::warn!(error = %err, "config file watch error; reloading to be safe");
                true
            }
        };
        if relevant {
            let _ = changed_tx.send(());
        }
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    let task = tokio::spawn(async move {
        while changed.recv().await.is_some() {
            tokio::time::sleep(SETTLE).await;
            while changed.try_recv().is_ok() {}
            reload();
        }
    });
    Ok(ConfigWatch {
        _watcher: watcher,
        task,
    })
}

/// Watch the broker's config file and reload it on change, logging the
/// outcome. A watch that cannot start is logged, not fatal: the broker still
/// re-reads a changed file on the next request.
pub fn watch_broker(broker: &Arc<Broker>) -> Option<ConfigWatch> {
    let path = broker.config_path().to_path_buf();
    let reloading = Arc::downgrade(broker);
    let watched = watch(&path, move || {
        let Some(broker) = reloading.upgrade() else {
            return;
        };
        match broker.reload_config() {
            Ok(()) => tracing::info!(path = %broker.config_path().display(), "AWS config reloaded"),
            Err(error) => tracing::warn!(
                %error,
                "AWS config edit is invalid; still serving the last good configuration"
            ),
        }
    });
    match watched {
        Ok(watch) => {
            // Requests may now skip most of their own checks of the file.
            broker.set_config_watched(true);
            Some(watch)
        }
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "cannot watch the AWS config file; changes are picked up on the next request");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, CreateKind, ModifyKind, RenameMode};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn event(kind: EventKind, paths: &[&str]) -> Event {
        let mut event = Event::new(kind);
        for p in paths {
            event = event.add_path(PathBuf::from(p));
        }
        event
    }

    #[test]
    fn only_changes_to_the_config_file_count() {
        let name = OsString::from("config");
        let rename = EventKind::Modify(ModifyKind::Name(RenameMode::Both));
        assert!(concerns(
            &event(rename, &["/h/.aws/config.tmp", "/h/.aws/config"]),
            &name
        ));
        assert!(concerns(
            &event(EventKind::Create(CreateKind::File), &["/h/.aws/config"]),
            &name
        ));
        assert!(!concerns(
            &event(
                EventKind::Create(CreateKind::File),
                &["/h/.aws/credentials"]
            ),
            &name
        ));
        assert!(!concerns(
            &event(EventKind::Access(AccessKind::Any), &["/h/.aws/config"]),
            &name
        ));
        assert!(concerns(&event(EventKind::Other, &[]), &name));
    }

    async fn wait_for(count: &AtomicUsize, at_least: usize) -> bool {
        for _ in 0..100 {
            if count.load(Ordering::SeqCst) >= at_least {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    #[tokio::test]
    async fn a_rename_over_the_file_triggers_one_reload() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        std::fs::write(&config, "[profile a]\n").unwrap();
        let reloads = Arc::new(AtomicUsize::new(0));
        let counter = reloads.clone();
        let _watch = watch(&config, move || {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();

        std::fs::write(dir.path().join("unrelated"), "x").unwrap();
        tokio::time::sleep(SETTLE * 3).await;
        assert_eq!(reloads.load(Ordering::SeqCst), 0, "other files are ignored");

        let tmp = dir.path().join(".config.new");
        std::fs::write(&tmp, "[profile b]\n").unwrap();
        std::fs::rename(&tmp, &config).unwrap();
        assert!(wait_for(&reloads, 1).await, "no reload after a rename");
        tokio::time::sleep(SETTLE * 3).await;
        assert_eq!(reloads.load(Ordering::SeqCst), 1, "one burst, one reload");

        // The watch survives the rename: an in-place edit is seen too.
        std::fs::write(&config, "[profile c]\n").unwrap();
        assert!(
            wait_for(&reloads, 2).await,
            "no reload after an in-place edit"
        );
    }
}
