//! The path to write where other programs will start credbroker again: the
//! `credential_process` lines of onboarding and the service unit.
//!
//! The kernel reports the running binary with every symlink resolved
//! (`/proc/self/exe`). Package managers install through symlinks into
//! versioned directories (Homebrew's `/opt/homebrew/bin/credbroker` points
//! into `Cellar/credbroker/1.2.0/`), so the resolved path dies at the next
//! upgrade and takes every profile with it. The path the person invoked,
//! found on `PATH` or given with a slash, survives upgrades; it is used when
//! it still leads to the running binary, and the resolved one otherwise.

use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

/// The stable path of the running binary.
pub fn current(path_var: Option<&OsStr>) -> std::io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    Ok(stable(&argv0, path_var, &cwd, &exe))
}

/// The path `argv0` was invoked by, when it leads to `exe`; else `exe`
/// with its symlinks resolved.
pub fn stable(argv0: &OsStr, path_var: Option<&OsStr>, cwd: &Path, exe: &Path) -> PathBuf {
    let resolved = std::fs::canonicalize(exe).unwrap_or_else(|_| exe.to_path_buf());
    let leads_to_exe =
        |candidate: &Path| std::fs::canonicalize(candidate).is_ok_and(|target| target == resolved);
    let invoked = Path::new(argv0);
    if argv0.is_empty() {
        return resolved;
    }
    let candidate = if invoked.components().count() > 1 || invoked.is_absolute() {
        // Given with a slash: relative to where it was run from.
        Some(normalize(&cwd.join(invoked)))
    } else {
        // A bare name: the first match on PATH, as the shell found it.
        path_var.and_then(|dirs| {
            std::env::split_paths(dirs)
                .filter(|dir| dir.is_absolute())
                .map(|dir| dir.join(invoked))
                .find(|c| c.is_file())
        })
    };
    match candidate {
        Some(c) if leads_to_exe(&c) => c,
        _ => resolved,
    }
}

/// `a/./b/../c` -> `a/c`, without touching the file system (so a symlinked
/// directory on the way stays as written).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A versioned install (`Cellar/credbroker/1.2.0/bin/credbroker`) and
    /// the package manager's symlink to it in `bin/`.
    fn install() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let real = root.path().join("Cellar/credbroker/1.2.0/bin/credbroker");
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        std::fs::write(&real, "#!/bin/sh\n").unwrap();
        let bin = root.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let link = bin.join("credbroker");
        symlink(&real, &link).unwrap();
        let real = std::fs::canonicalize(real).unwrap();
        (root, real, link)
    }

    #[test]
    fn a_name_found_on_path_keeps_the_symlink() {
        let (root, real, link) = install();
        let path =
            std::env::join_paths(["/nonexistent", root.path().join("bin").to_str().unwrap()])
                .unwrap();
        let got = stable(OsStr::new("credbroker"), Some(&path), Path::new("/"), &real);
        assert_eq!(got, link);
    }

    #[test]
    fn a_path_with_a_slash_is_kept_as_invoked() {
        let (root, real, link) = install();
        let got = stable(
            OsStr::new("./bin/../bin/credbroker"),
            None,
            root.path(),
            &real,
        );
        assert_eq!(got, link);
    }

    #[test]
    fn a_path_that_leads_elsewhere_gives_the_resolved_binary() {
        let (root, real, _link) = install();
        let other = root.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("credbroker"), "another binary").unwrap();
        let path = other.into_os_string();
        let got = stable(OsStr::new("credbroker"), Some(&path), Path::new("/"), &real);
        assert_eq!(got, real);
        assert_eq!(stable(OsStr::new(""), None, Path::new("/"), &real), real);
    }
}
