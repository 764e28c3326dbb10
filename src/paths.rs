//! Where credbroker keeps its few files, and how they are written.
//!
//! The daemon's authorization token and its endpoint address live in the
//! user's runtime directory (`$XDG_RUNTIME_DIR/credbroker`, or a private
//! directory under the state dir when there is none). Directories are 0700
//! and files 0600 whatever the umask, and files are written through a temp
//! file and a rename so a reader never sees half a file.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The loopback address the daemon listens on unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9911";

/// Environment variable that overrides the runtime directory (tests, multiple brokers).
pub const RUNTIME_DIR_ENV: &str = "CREDBROKER_RUNTIME_DIR";

/// `$HOME`, else the platform's idea of it.
pub fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The directory for the token file and the endpoint file.
pub fn runtime_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(RUNTIME_DIR_ENV) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
        return PathBuf::from(dir).join("credbroker");
    }
    state_dir().join("run")
}

/// Long-lived, non-secret state (audit log, settings written by the broker).
pub fn state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(dir).join("credbroker");
    }
    home_dir().join(".local/state/credbroker")
}

/// The AWS config file: `$AWS_CONFIG_FILE`, else `~/.aws/config`.
pub fn aws_config_file() -> PathBuf {
    match std::env::var_os("AWS_CONFIG_FILE") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => home_dir().join(".aws/config"),
    }
}

/// The file holding the endpoint's authorization token (no trailing newline).
pub fn token_file() -> PathBuf {
    runtime_dir().join("token")
}

/// The file where a running daemon records the address it listens on.
pub fn endpoint_file() -> PathBuf {
    runtime_dir().join("endpoint")
}

/// Create `dir` (and parents) with mode 0700.
pub fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// Write `contents` to `path` atomically (temp file in the same directory,
/// then rename), with mode 0600 regardless of umask.
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".credbroker-")
        .tempfile_in(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    tmp.write_all(contents)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn private_file_is_0600_and_exact() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/token");
        write_private_file(&path, b"abc").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"abc");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
