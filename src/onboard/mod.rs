//! Onboarding: from a team file to working AWS profiles on one machine.
//!
//! The parts, in the order `credbroker onboard` uses them:
//! - [`team`]: the team file (TOML) and its filters (pure);
//! - [`listing`]: every account and role, paginated, with bounded
//!   concurrency and backoff on throttling (I/O);
//! - [`plan`]: account×role -> unique profile names (pure), by the naming
//!   rule in [`names`], which the team file also uses (a leaf, so the two
//!   do not import each other);
//! - [`block`]: the managed block in the AWS config file (pure) and
//!   [`apply`]: writing it with a backup, atomically (I/O);
//! - [`shell`]: the lines for the shell's rc file;
//! - [`verify`]: proving a written profile works, through the AWS CLI.
//!
//! The `credential_process` line names the running binary by its absolute
//! path ([`credential_process_command`]) rather than by `credbroker` on
//! `PATH`: IDEs, GUI apps and services often run with a `PATH` that lacks
//! `~/.cargo/bin`, and an absolute path cannot pick up a different
//! `credbroker` than the one that wrote the profile. The path is the one the
//! person invoked, symlinks kept ([`crate::binary_path`]), so a package
//! upgrade that swaps the versioned directory behind a symlink keeps every
//! profile working. Re-running onboarding after moving the binary rewrites
//! the block.

pub mod apply;
pub mod block;
pub mod listing;
pub mod names;
pub mod plan;
pub mod shell;
pub mod team;
pub mod verify;

pub use block::REGISTRATION_SCOPE;
pub use plan::{plan_profiles, Assignment, PlannedProfile};
pub use team::TeamFile;

/// `credential_process` up to the profile name, e.g.
/// `/home/me/.cargo/bin/credbroker credential-process --profile`.
pub fn credential_process_command(binary: &std::path::Path) -> String {
    format!(
        "{} credential-process --profile",
        quote_command_word(&binary.display().to_string())
    )
}

/// The AWS CLI and the SDKs split `credential_process` like a shell (botocore
/// with `shlex`, Go and Rust through `sh -c`), so a path with spaces needs
/// double quotes.
fn quote_command_word(word: &str) -> String {
    if word.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
        format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        word.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn command_quotes_only_when_needed() {
        assert_eq!(
            credential_process_command(Path::new("/usr/bin/credbroker")),
            "/usr/bin/credbroker credential-process --profile"
        );
        assert_eq!(
            credential_process_command(Path::new("/Users/A B/credbroker")),
            "\"/Users/A B/credbroker\" credential-process --profile"
        );
    }
}
