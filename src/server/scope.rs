//! Per-profile tokens: what `credbroker exec` and `env` hand a tool, so a
//! tool started for one profile cannot read another.
//!
//! The daemon's secret ([`AuthToken`], the token file) stays where it is and
//! still reads every profile: it is the admin token, kept for scripts that
//! already use it. A scoped token is derived from it, so the daemon needs no
//! table of issued tokens and a restart changes nothing:
//!
//! ```text
//! v1.<profile as unpadded base64url>.<HMAC-SHA256(secret, "credbroker-scope:" + profile) as unpadded base64url>
//! ```
//!
//! The profile travels in the clear (it is not a secret; the MAC is what
//! cannot be forged without the secret) and the MAC is checked with
//! `verify_slice`, which compares in constant time.
//!
//! SDKs re-read `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` on every fetch, so
//! each scoped token also lives in a file: `<runtime dir>/tokens/<hash>`,
//! where `<hash>` is the SHA-256 of the profile name in hex (names may hold
//! any character; file names may not). Files are 0600 in a 0700 directory,
//! with no trailing newline. When the secret is rotated,
//! [`refresh_token_files`] re-derives every file from the profile written in
//! its own token, so tools that read the file keep working.

use super::token::{AuthToken, TokenError};
use crate::model::Secret;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// What a presented token may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// The daemon's own secret: every profile.
    AllProfiles,
    /// A scoped token: this profile only. (Shared: a connection's memo hands
    /// out a copy per request.)
    Profile(std::sync::Arc<str>),
}

impl Grant {
    /// Whether this grant lets the bearer read `profile`.
    pub fn covers(&self, profile: &str) -> bool {
        match self {
            Grant::AllProfiles => true,
            Grant::Profile(scoped) => &**scoped == profile,
        }
    }

    /// `all` or `profile`, for the audit trail.
    pub fn kind(&self) -> &'static str {
        match self {
            Grant::AllProfiles => "all",
            Grant::Profile(_) => "profile",
        }
    }
}

const PREFIX: &str = "v1.";
const CONTEXT: &[u8] = b"credbroker-scope:";
/// Directory of scoped token files inside the runtime directory.
pub const TOKENS_DIR: &str = "tokens";

fn mac_for(secret: &AuthToken, profile: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(CONTEXT);
    mac.update(profile.as_bytes());
    mac
}

/// The token that reads `profile` only.
pub fn scoped_token(secret: &AuthToken, profile: &str) -> Secret {
    let tag = mac_for(secret, profile).finalize().into_bytes();
    Secret::new(format!(
        "{PREFIX}{}.{}",
        URL_SAFE_NO_PAD.encode(profile),
        URL_SAFE_NO_PAD.encode(tag)
    ))
}

/// The profile a scoped token names, without checking its MAC.
fn claimed_profile(presented: &[u8]) -> Option<(String, Vec<u8>)> {
    let text = std::str::from_utf8(presented).ok()?;
    let (profile, tag) = text.strip_prefix(PREFIX)?.split_once('.')?;
    let profile = String::from_utf8(URL_SAFE_NO_PAD.decode(profile).ok()?).ok()?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    Some((profile, tag))
}

/// What `presented` (an `Authorization` value) may read, if anything: the
/// full secret first (constant time), then a scoped token (constant-time MAC).
pub fn grant(secret: &AuthToken, presented: &[u8]) -> Option<Grant> {
    if secret.matches(presented) {
        return Some(Grant::AllProfiles);
    }
    let (profile, tag) = claimed_profile(presented)?;
    mac_for(secret, &profile)
        .verify_slice(&tag)
        .ok()
        .map(|()| Grant::Profile(profile.into()))
}

/// `<runtime dir>/tokens/<sha256(profile) hex>`.
pub fn token_file(runtime_dir: &Path, profile: &str) -> PathBuf {
    let hash = hex::encode(Sha256::digest(profile.as_bytes()));
    runtime_dir.join(TOKENS_DIR).join(hash)
}

/// Write `profile`'s scoped token to its file (0600, directory 0700) and
/// return the path.
pub fn write_token_file(
    runtime_dir: &Path,
    secret: &AuthToken,
    profile: &str,
) -> std::io::Result<PathBuf> {
    let path = token_file(runtime_dir, profile);
    crate::paths::ensure_private_dir(&runtime_dir.join(TOKENS_DIR))?;
    crate::paths::write_private_file(&path, scoped_token(secret, profile).expose().as_bytes())?;
    Ok(path)
}

/// After a rotation: re-derive every scoped token file in `runtime_dir`
/// from the new secret. Files that hold no scoped token are left alone.
pub fn refresh_token_files(runtime_dir: &Path, secret: &AuthToken) -> std::io::Result<usize> {
    let dir = runtime_dir.join(TOKENS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(err) => return Err(err),
    };
    let mut refreshed = 0;
    for entry in entries.flatten() {
        let Ok(content) = std::fs::read(entry.path()) else {
            continue;
        };
        let Some((profile, _)) = claimed_profile(&content) else {
            continue;
        };
        if entry.path() == token_file(runtime_dir, &profile) {
            write_token_file(runtime_dir, secret, &profile)?;
            refreshed += 1;
        }
    }
    Ok(refreshed)
}

impl AuthToken {
    /// Read the token at `path`, or create one there if there is no file.
    pub fn load_or_create(path: &Path) -> Result<AuthToken, TokenError> {
        match AuthToken::load(path) {
            Err(TokenError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                AuthToken::rotate(path)
            }
            other => other,
        }
    }

    /// Make a new token and write it to `path` (replacing any old one), and
    /// re-derive the per-profile token files beside it.
    pub fn rotate(path: &Path) -> Result<AuthToken, TokenError> {
        let token = AuthToken::write_new(path)?;
        // Per-profile token files are derived from the secret: re-derive them
        // so tools that re-read them keep working.
        if let Some(dir) = path.parent() {
            refresh_token_files(dir, &token).map_err(|source| TokenError::Io {
                path: dir.join(TOKENS_DIR),
                source,
            })?;
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_token_reads_its_profile_only() {
        let secret = AuthToken::generate();
        let dev = scoped_token(&secret, "dev");
        assert!(dev.expose().starts_with("v1.ZGV2."), "{}", dev.expose());
        assert_eq!(
            grant(&secret, dev.expose().as_bytes()),
            Some(Grant::Profile("dev".into()))
        );
        assert!(Grant::Profile("dev".into()).covers("dev"));
        assert!(!Grant::Profile("dev".into()).covers("prod"));
        assert_eq!(
            grant(&secret, secret.expose().as_bytes()),
            Some(Grant::AllProfiles)
        );
    }

    #[test]
    fn forged_or_foreign_scoped_tokens_are_refused() {
        let secret = AuthToken::generate();
        let other = AuthToken::generate();
        let dev = scoped_token(&secret, "dev").expose().to_owned();
        // Same MAC, another profile in the clear part.
        let (_, tag) = dev.rsplit_once('.').unwrap();
        let relabelled = format!("v1.{}.{tag}", URL_SAFE_NO_PAD.encode("prod"));
        assert_eq!(grant(&secret, relabelled.as_bytes()), None);
        // Minted with another daemon's secret.
        assert_eq!(
            grant(&secret, scoped_token(&other, "dev").expose().as_bytes()),
            None
        );
        // One byte off, truncated, prefixed.
        let mut flipped = dev.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(grant(&secret, &flipped), None);
        assert_eq!(grant(&secret, &dev.as_bytes()[..dev.len() - 1]), None);
        assert_eq!(grant(&secret, format!("Bearer {dev}").as_bytes()), None);
        assert_eq!(grant(&secret, b"v1.."), None);
        assert_eq!(grant(&secret, b""), None);
    }

    #[test]
    fn any_profile_name_round_trips() {
        let secret = AuthToken::generate();
        for name in ["team dev/é", "a.b", &"x".repeat(256)] {
            let token = scoped_token(&secret, name);
            assert_eq!(
                grant(&secret, token.expose().as_bytes()),
                Some(Grant::Profile(name.into()))
            );
            assert!(token.expose().len() < 512);
        }
    }

    #[cfg(unix)]
    #[test]
    fn token_files_are_private_exact_and_follow_rotation() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let first = AuthToken::rotate(&run.join("token")).unwrap();
        let path = write_token_file(&run, &first, "dev").unwrap();
        assert_eq!(path, token_file(&run, "dev"));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            scoped_token(&first, "dev").expose()
        );
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&run.join(TOKENS_DIR)), 0o700);

        let rotated = AuthToken::rotate(&run.join("token")).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            scoped_token(&rotated, "dev").expose()
        );
    }
}
