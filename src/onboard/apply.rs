//! Writing the managed block into the AWS config file on disk.
//!
//! First the file is read (a missing file is empty) through any symlink, so
//! a config kept in a dotfiles repository stays a symlink; then
//! [`splice`](super::block::splice) computes the new text; and finally,
//! only when the text changed, the old file is copied to
//! `<config>.credbroker-backup` and the new text replaces it atomically
//! (temp file in the same directory, then rename), so a crash never leaves
//! half a config. A dry run stops before writing and returns the diff.

use super::block::{splice, unified_diff, BlockSpec};
use super::plan::PlannedProfile;
use anyhow::Context as _;
use std::path::{Path, PathBuf};

/// What happened to the config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigChange {
    /// The file written (the symlink's target when the config is a symlink).
    pub path: PathBuf,
    /// Whether the text changed (and, unless a dry run, was written).
    pub changed: bool,
    pub written: bool,
    pub backup: Option<PathBuf>,
    /// A unified diff of the change (empty when nothing changed).
    pub diff: String,
    /// Planned profiles not written because a section outside the block has their name.
    pub skipped: Vec<String>,
    pub profiles_written: usize,
}

/// The backup kept next to `config`.
pub fn backup_path(config: &Path) -> PathBuf {
    let mut name = config.file_name().unwrap_or_default().to_os_string();
    name.push(".credbroker-backup");
    config.with_file_name(name)
}

/// Put the block for `profiles` into the config file at `config`.
pub fn write_profiles(
    config: &Path,
    spec: &BlockSpec<'_>,
    profiles: &[PlannedProfile],
    dry_run: bool,
) -> anyhow::Result<ConfigChange> {
    let path = std::fs::canonicalize(config).unwrap_or_else(|_| config.to_path_buf());
    let old = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let old_text = old.as_deref().unwrap_or_default();
    let spliced = splice(old_text, spec, profiles, &path)?;
    let changed = spliced.text != old_text || old.is_none();
    let mut change = ConfigChange {
        diff: unified_diff(old_text, &spliced.text, &path),
        path: path.clone(),
        changed,
        written: false,
        backup: None,
        profiles_written: profiles.len() - spliced.skipped.len(),
        skipped: spliced.skipped,
    };
    if dry_run || !changed {
        return Ok(change);
    }
    if let Some(old) = &old {
        let backup = backup_path(&path);
        crate::paths::write_private_file(&backup, old.as_bytes())
            .with_context(|| format!("cannot write the backup {}", backup.display()))?;
        change.backup = Some(backup);
    }
    crate::paths::write_private_file(&path, spliced.text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    change.written = true;
    Ok(change)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> BlockSpec<'static> {
        BlockSpec {
            session_name: "corp",
            start_url: "https://corp.awsapps.com/start",
            region: "us-east-1",
            command: "credbroker credential-process --profile",
        }
    }

    fn profiles() -> Vec<PlannedProfile> {
        vec![PlannedProfile {
            name: "dev-readonly".into(),
            account_id: "111111111111".into(),
            account_name: "dev".into(),
            role_name: "ReadOnly".into(),
            region: "us-east-1".into(),
        }]
    }

    #[test]
    fn writes_once_keeps_a_backup_and_then_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("aws/config");
        std::fs::create_dir_all(config.parent().unwrap()).unwrap();
        std::fs::write(&config, "[default]\nregion = eu-west-1\n").unwrap();

        let dry = write_profiles(&config, &spec(), &profiles(), true).unwrap();
        assert!(dry.changed && !dry.written && dry.diff.contains("+[profile dev-readonly]"));
        assert_eq!(
            std::fs::read_to_string(&config).unwrap(),
            "[default]\nregion = eu-west-1\n"
        );

        let first = write_profiles(&config, &spec(), &profiles(), false).unwrap();
        assert!(first.written);
        let backup = first.backup.unwrap();
        assert_eq!(backup, dir.path().join("aws/config.credbroker-backup"));
        assert_eq!(
            std::fs::read_to_string(&backup).unwrap(),
            "[default]\nregion = eu-west-1\n"
        );
        let written = std::fs::read_to_string(&config).unwrap();

        let second = write_profiles(&config, &spec(), &profiles(), false).unwrap();
        assert!(!second.changed && !second.written && second.diff.is_empty());
        assert_eq!(std::fs::read_to_string(&config).unwrap(), written);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_config_stays_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("dotfiles-config");
        std::fs::write(&target, "").unwrap();
        let link = dir.path().join("config");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let change = write_profiles(&link, &spec(), &profiles(), false).unwrap();
        assert!(change.written);
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(std::fs::read_to_string(&target)
            .unwrap()
            .contains("[profile dev-readonly]"));
    }

    #[test]
    fn a_missing_file_is_created_without_backup() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("new/config");
        let change = write_profiles(&config, &spec(), &profiles(), false).unwrap();
        assert!(change.written && change.backup.is_none());
        assert!(std::fs::read_to_string(&config)
            .unwrap()
            .starts_with("# BEGIN"));
    }
}
