//! The managed block: the one part of the AWS config file that
//! `credbroker onboard` owns.
//!
//! ```ini
//! # BEGIN credbroker managed: sso-session corp
//! # Written by `credbroker onboard`; edits inside this block are replaced on the next run.
//! [sso-session corp]
//! sso_start_url = https://corp.awsapps.com/start
//! sso_region = us-east-1
//! sso_registration_scopes = sso:account:access
//!
//! [profile dev-readonly]
//! credential_process = /home/me/.cargo/bin/credbroker credential-process --profile dev-readonly
//! credbroker_sso_session = corp
//! credbroker_account_id = 111111111111
//! credbroker_role_name = ReadOnly
//! region = us-east-1
//! # END credbroker managed: sso-session corp
//! ```
//!
//! Profiles carry only `credbroker_` keys for their account and role, never
//! `sso_*` ones: an SDK that sees `sso_session` on a profile uses its own SSO
//! provider before `credential_process` (protocols.md §2).
//!
//! [`splice`] puts a block into the text of a config file: it replaces the
//! block of the same session when there is one and appends otherwise, and
//! every byte outside the block stays as it was. Sections outside the block
//! with a planned profile's name are left alone and that profile is skipped
//! (the AWS CLI refuses a file with a section twice). Pure: text in, text out.

use super::plan::PlannedProfile;
use crate::config::parse_sections;
use std::path::Path;

/// The scope that makes IAM Identity Center issue refresh tokens.
pub const REGISTRATION_SCOPE: &str = "sso:account:access";

const BEGIN: &str = "# BEGIN credbroker managed: sso-session ";
const END: &str = "# END credbroker managed: sso-session ";

/// What goes into the block besides the profiles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockSpec<'a> {
    pub session_name: &'a str,
    pub start_url: &'a str,
    pub region: &'a str,
    /// The `credential_process` command up to the profile name, e.g.
    /// `/usr/local/bin/credbroker credential-process --profile`.
    pub command: &'a str,
}

/// The result of putting a block into a config file's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spliced {
    pub text: String,
    /// Planned profiles not written because a section outside the block has their name.
    pub skipped: Vec<String>,
    /// The `[sso-session]` already exists outside the block (same URL and
    /// region), so the block does not repeat it.
    pub session_outside: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("{path}: the line `{BEGIN}{session}` has no matching `{END}{session}`; restore the END line or remove the partial block, then run again")]
    Unterminated { path: String, session: String },
    #[error("{path}: there is already an [sso-session {session}] outside the managed block with another start URL or region; choose another --session-name")]
    SessionConflict { path: String, session: String },
    #[error("{0}")]
    Syntax(String),
}

/// The block's text for `profiles` (each line ends in `\n`).
pub fn render_block(
    spec: &BlockSpec<'_>,
    profiles: &[&PlannedProfile],
    session_section: bool,
) -> String {
    let mut out = format!(
        "{BEGIN}{}\n# Written by `credbroker onboard`; edits inside this block are replaced on the next run.\n",
        spec.session_name
    );
    if session_section {
        out.push_str(&format!(
            "[sso-session {}]\nsso_start_url = {}\nsso_region = {}\nsso_registration_scopes = {REGISTRATION_SCOPE}\n",
            spec.session_name, spec.start_url, spec.region
        ));
    }
    for (i, p) in profiles.iter().enumerate() {
        if i > 0 || session_section {
            out.push('\n');
        }
        out.push_str(&format!(
            "[profile {name}]\ncredential_process = {cmd} {name}\ncredbroker_sso_session = {session}\n\
             credbroker_account_id = {account}\ncredbroker_role_name = {role}\nregion = {region}\n",
            name = p.name,
            cmd = spec.command,
            session = spec.session_name,
            account = p.account_id,
            role = p.role_name,
            region = p.region,
        ));
    }
    out.push_str(&format!("{END}{}\n", spec.session_name));
    out
}

/// Where the block for `session` sits in `text`: (start, end) byte offsets,
/// end just past the END line's newline.
fn find_block(
    text: &str,
    session: &str,
    path: &Path,
) -> Result<Option<(usize, usize)>, BlockError> {
    let begin_line = format!("{BEGIN}{session}");
    let end_line = format!("{END}{session}");
    let mut offset = 0;
    let mut start = None;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']).trim_end();
        if start.is_none() && bare == begin_line {
            start = Some(offset);
        } else if let (Some(s), true) = (start, bare == end_line) {
            return Ok(Some((s, offset + line.len())));
        }
        offset += line.len();
    }
    match start {
        Some(_) => Err(BlockError::Unterminated {
            path: path.display().to_string(),
            session: session.to_owned(),
        }),
        None => Ok(None),
    }
}

/// Put the block for `profiles` into `text`, keeping everything outside it.
pub fn splice(
    text: &str,
    spec: &BlockSpec<'_>,
    profiles: &[PlannedProfile],
    path: &Path,
) -> Result<Spliced, BlockError> {
    let (before, after) = match find_block(text, spec.session_name, path)? {
        Some((start, end)) => (&text[..start], &text[end..]),
        None => (text, ""),
    };
    let outside = format!("{before}\n{after}");
    let sections = parse_sections(&outside, path).map_err(|e| BlockError::Syntax(e.to_string()))?;
    let mut outside_profiles = std::collections::BTreeSet::new();
    let mut session_outside = false;
    for s in &sections {
        if let Some(name) = s.name.strip_prefix("profile ") {
            outside_profiles.insert(name.trim().to_owned());
        } else if s.name == "default" {
            outside_profiles.insert("default".to_owned());
        } else if s.name.strip_prefix("sso-session ").map(str::trim) == Some(spec.session_name) {
            let get = |k: &str| s.settings.get(k).map(String::as_str).unwrap_or_default();
            if get("sso_start_url") != spec.start_url || get("sso_region") != spec.region {
                return Err(BlockError::SessionConflict {
                    path: path.display().to_string(),
                    session: spec.session_name.to_owned(),
                });
            }
            session_outside = true;
        }
    }
    let (kept, skipped): (Vec<&PlannedProfile>, Vec<&PlannedProfile>) = profiles
        .iter()
        .partition(|p| !outside_profiles.contains(&p.name));
    let block = render_block(spec, &kept, !session_outside);

    let mut out = String::with_capacity(before.len() + block.len() + after.len() + 2);
    out.push_str(before);
    if after.is_empty() && !before.is_empty() && text.len() == before.len() {
        // Appending: start on a fresh line, after a blank one.
        if !before.ends_with('\n') {
            out.push('\n');
        }
        if !before.ends_with("\n\n") && before.trim() != "" {
            out.push('\n');
        }
    }
    out.push_str(&block);
    out.push_str(after);
    Ok(Spliced {
        text: out,
        skipped: skipped.into_iter().map(|p| p.name.clone()).collect(),
        session_outside,
    })
}

/// A unified diff of the config file, for `--dry-run` (empty when unchanged).
pub fn unified_diff(old: &str, new: &str, path: &Path) -> String {
    if old == new {
        return String::new();
    }
    let shown = path.display().to_string();
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&shown, &format!("{shown} (after onboarding)"))
        .to_string()
}

#[cfg(test)]
mod tests;
