//! The lines a shell needs after onboarding, and adding them to the rc file
//! once.
//!
//! The profiles already work from any shell through `credential_process`;
//! the lines only make them convenient and reach older tools:
//! `AWS_SDK_LOAD_CONFIG=1` makes the Go SDK v1 (older Terraform providers)
//! read `~/.aws/config`, where the profiles live; `AWS_CONFIG_FILE` is set
//! when the profiles were written somewhere other than `~/.aws/config`; and
//! `AWS_PROFILE` picks the team's default profile when it names one.
//!
//! The lines sit between two marker comments, so [`append_once`] can tell
//! that an rc file already has them and leave it alone.

use std::path::{Path, PathBuf};

const OPEN: &str = "# >>> credbroker >>>";
const CLOSE: &str = "# <<< credbroker <<<";

/// The lines to add, markers included (each ends in `\n`).
pub fn shell_lines(
    default_profile: Option<&str>,
    example_profile: Option<&str>,
    config_file: Option<&Path>,
) -> String {
    let mut out =
        format!("{OPEN}\n# AWS profiles served by credbroker (see `credbroker onboard --help`)\n");
    out.push_str("export AWS_SDK_LOAD_CONFIG=1\n");
    if let Some(path) = config_file {
        out.push_str(&format!(
            "export AWS_CONFIG_FILE={}\n",
            shell_quote(&path.display().to_string())
        ));
    }
    match (default_profile, example_profile) {
        (Some(p), _) => out.push_str(&format!("export AWS_PROFILE={}\n", shell_quote(p))),
        (None, Some(p)) => out.push_str(&format!("# export AWS_PROFILE={}\n", shell_quote(p))),
        (None, None) => {}
    }
    out.push_str(CLOSE);
    out.push('\n');
    out
}

/// `word` quoted for a POSIX shell when it needs it.
fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:@%+=,".contains(&b))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The rc file's new text, or `None` when it already has the lines.
pub fn append_once(existing: &str, lines: &str) -> Option<String> {
    if existing.lines().any(|l| l.trim() == OPEN) {
        return None;
    }
    let mut out = existing.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(lines);
    Some(out)
}

/// The rc file for the shell in `$SHELL`: `~/.zshrc` for zsh, else `~/.bashrc`.
pub fn rc_file(home: &Path, shell: Option<&str>) -> PathBuf {
    let name = shell
        .and_then(|s| Path::new(s).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    home.join(if name == "zsh" { ".zshrc" } else { ".bashrc" })
}

/// Append `lines` to `rc` unless they are there; true when the file changed.
/// The rc file keeps its permissions (it is not a secret).
pub fn add_to_rc(rc: &Path, lines: &str) -> std::io::Result<bool> {
    let existing = match std::fs::read_to_string(rc) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    match append_once(&existing, lines) {
        None => Ok(false),
        Some(text) => {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(rc)?;
            file.write_all(&text.as_bytes()[existing.len()..])?;
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_the_profile_and_config() {
        let lines = shell_lines(Some("dev-ro"), None, Some(Path::new("/tmp/my config")));
        assert!(lines.starts_with(OPEN) && lines.ends_with(&format!("{CLOSE}\n")));
        assert!(lines.contains("export AWS_PROFILE=dev-ro\n"));
        assert!(lines.contains("export AWS_CONFIG_FILE='/tmp/my config'\n"));
        let lines = shell_lines(None, Some("x"), None);
        assert!(lines.contains("# export AWS_PROFILE=x\n") && !lines.contains("AWS_CONFIG_FILE"));
    }

    #[test]
    fn appended_once() {
        let lines = shell_lines(None, None, None);
        let once = append_once("alias ll='ls -l'", &lines).unwrap();
        assert!(once.starts_with("alias ll='ls -l'\n\n# >>> credbroker"));
        assert_eq!(append_once(&once, &lines), None);
        assert_eq!(append_once("", &lines).unwrap(), lines);
    }

    #[test]
    fn rc_follows_the_shell() {
        let home = Path::new("/home/u");
        assert_eq!(rc_file(home, Some("/usr/bin/zsh")), home.join(".zshrc"));
        assert_eq!(rc_file(home, Some("/bin/bash")), home.join(".bashrc"));
        assert_eq!(rc_file(home, None), home.join(".bashrc"));
    }

    #[test]
    fn add_to_rc_is_idempotent_and_appends_only() {
        let dir = tempfile::tempdir().unwrap();
        let rc = dir.path().join(".bashrc");
        std::fs::write(&rc, "export A=1\n").unwrap();
        let lines = shell_lines(None, None, None);
        assert!(add_to_rc(&rc, &lines).unwrap());
        let after = std::fs::read_to_string(&rc).unwrap();
        assert!(after.starts_with("export A=1\n"));
        assert!(!add_to_rc(&rc, &lines).unwrap());
        assert_eq!(std::fs::read_to_string(&rc).unwrap(), after);
    }
}
