//! Where credbroker keeps its few files, and how they are written.
//!
//! The daemon's authorization token and its endpoint address live in the
//! user's runtime directory (`$XDG_RUNTIME_DIR/credbroker`, or a private
//! directory under the state dir when there is none). Directories are 0700
//! and files 0600 whatever the umask, and files are written through a temp
//! file and a rename so a reader never sees half a file.

use crate::env::Env;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The loopback address the daemon listens on unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9911";

/// Environment variable that overrides the runtime directory (tests, multiple brokers).
pub const RUNTIME_DIR_ENV: &str = "CREDBROKER_RUNTIME_DIR";

/// Where credbroker's files are, worked out once from an environment
/// ([`Paths::from_env`]) so nothing reads `HOME` or `XDG_*` behind the
/// context's back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// `$HOME`, else the platform's idea of it.
    pub home: PathBuf,
    /// The directory for the token file and the endpoint file:
    /// `$CREDBROKER_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/credbroker`, else
    /// `run` under the state dir.
    pub runtime_dir: PathBuf,
    /// Long-lived, non-secret state (audit log, settings written by the
    /// broker): `$XDG_STATE_HOME/credbroker`, else `~/.local/state/credbroker`.
    pub state_dir: PathBuf,
    /// The AWS config file: `$AWS_CONFIG_FILE`, else `~/.aws/config`.
    pub aws_config_file: PathBuf,
}

impl Paths {
    pub fn from_env(env: &Env) -> Paths {
        let set = |name: &str| {
            env.var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let home = env
            .var_os("HOME")
            .map(PathBuf::from)
            .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf()))
            .unwrap_or_else(|| PathBuf::from("."));
        let state_dir = match env.var_os("XDG_STATE_HOME") {
            Some(dir) => PathBuf::from(dir).join("credbroker"),
            None => home.join(".local/state/credbroker"),
        };
        let runtime_dir = match (env.var_os(RUNTIME_DIR_ENV), env.var_os("XDG_RUNTIME_DIR")) {
            (Some(dir), _) => PathBuf::from(dir),
            (None, Some(dir)) => PathBuf::from(dir).join("credbroker"),
            (None, None) => state_dir.join("run"),
        };
        let aws_config_file = set("AWS_CONFIG_FILE").unwrap_or_else(|| home.join(".aws/config"));
        Paths {
            home,
            runtime_dir,
            state_dir,
            aws_config_file,
        }
    }

    /// The file holding the endpoint's authorization token (no trailing newline).
    pub fn token_file(&self) -> PathBuf {
        self.runtime_dir.join("token")
    }

    /// The file where a running daemon records the address it listens on.
    pub fn endpoint_file(&self) -> PathBuf {
        self.runtime_dir.join("endpoint")
    }
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

    #[test]
    fn paths_follow_the_environment_given() {
        let env = Env::from_pairs([("HOME", "/h"), ("XDG_RUNTIME_DIR", "/run/u")]);
        let paths = Paths::from_env(&env);
        assert_eq!(paths.runtime_dir, PathBuf::from("/run/u/credbroker"));
        assert_eq!(paths.state_dir, PathBuf::from("/h/.local/state/credbroker"));
        assert_eq!(paths.aws_config_file, PathBuf::from("/h/.aws/config"));
        let env = env.with([
            (RUNTIME_DIR_ENV, Some("/r")),
            ("AWS_CONFIG_FILE", Some("/c")),
            ("XDG_STATE_HOME", Some("/s")),
        ]);
        let paths = Paths::from_env(&env);
        assert_eq!(paths.token_file(), PathBuf::from("/r/token"));
        assert_eq!(paths.aws_config_file, PathBuf::from("/c"));
        assert_eq!(paths.state_dir, PathBuf::from("/s/credbroker"));
        let bare = Paths::from_env(&Env::from_pairs([("HOME", "/h")]));
        assert_eq!(
            bare.runtime_dir,
            PathBuf::from("/h/.local/state/credbroker/run")
        );
    }

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
