//! The endpoint's authorization token and the file that holds it.
//!
//! SDK clients read the token from `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`
//! on every fetch and send it verbatim as `Authorization: <token>`, without
//! trimming (protocols.md §1). So the file holds exactly the token: 32 random
//! bytes as unpadded base64url, no trailing newline, mode 0600 in the private
//! runtime directory.
//!
//! The token outlives the daemon: a restart reads the same file, so shells
//! that already ran `credbroker env` keep working. A new token is made only
//! when the file is missing or when asked (`credbroker daemon --rotate-token`);
//! a damaged file is an error that names that command rather than something
//! silently replaced. Making and rotating it ([`AuthToken::load_or_create`],
//! [`AuthToken::rotate`]) lives in [`super::scope`], which derives the
//! per-profile tokens from it: this module knows nothing of scopes.
//!
//! Requests are checked by comparing SHA-256 digests in constant time, so
//! neither the content nor the length of the presented value changes how
//! long the comparison takes.

use crate::model::Secret;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// Random bytes behind a freshly made token.
const TOKEN_BYTES: usize = 32;
/// Shortest token accepted from a file: anything shorter is too guessable.
const MIN_TOKEN_LEN: usize = 32;
/// Longest token accepted from a file; also bounds how much of it is read.
const MAX_TOKEN_LEN: usize = 512;

/// Why the token file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot use token file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("token file {path} is damaged ({reason}); run `credbroker daemon --rotate-token` to make a new one")]
    Malformed { path: PathBuf, reason: String },
    #[error("token file {path} is readable by other users (mode {mode:o}); run `credbroker daemon --rotate-token` to replace it")]
    NotPrivate { path: PathBuf, mode: u32 },
}

/// The shared secret between the daemon and the tools it serves.
///
/// Zeroized on drop (the value lives in a [`Secret`]) and redacted in `Debug`.
#[derive(Clone)]
pub struct AuthToken {
    value: Secret,
    digest: [u8; 32],
}

impl std::fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthToken(** redacted **)")
    }
}

impl Drop for AuthToken {
    fn drop(&mut self) {
        self.digest.zeroize();
    }
}

impl AuthToken {
    /// A new random token (32 bytes from the thread CSPRNG, base64url).
    pub fn generate() -> AuthToken {
        let mut bytes: [u8; TOKEN_BYTES] = rand::random();
        let value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        bytes.zeroize();
        AuthToken::from_checked(Secret::new(value))
    }

    /// A token from a known value, checked as a token file's content is.
    pub fn from_value(value: Secret) -> Result<AuthToken, String> {
        validate(value.expose())?;
        Ok(AuthToken::from_checked(value))
    }

    fn from_checked(value: Secret) -> AuthToken {
        let digest = Sha256::digest(value.expose().as_bytes()).into();
        AuthToken { value, digest }
    }

    /// Read the token at `path`; fails when the file is missing or damaged.
    pub fn load(path: &Path) -> Result<AuthToken, TokenError> {
        let io_error = |source| TokenError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io_error)?;
        check_private(path, &file)?;
        let mut raw = Vec::new();
        file.take(MAX_TOKEN_LEN as u64 + 1)
            .read_to_end(&mut raw)
            .map_err(io_error)?;
        let text = match String::from_utf8(raw) {
            Ok(text) => Secret::new(text),
            Err(e) => {
                e.into_bytes().zeroize();
                return Err(malformed(path, "not text"));
            }
        };
        validate(text.expose()).map_err(|reason| malformed(path, &reason))?;
        Ok(AuthToken::from_checked(text))
    }

    /// Make a new token and write it to `path`, replacing any old one.
    /// (`AuthToken::rotate` in [`super::scope`] also re-derives the
    /// per-profile token files.)
    pub(super) fn write_new(path: &Path) -> Result<AuthToken, TokenError> {
        // Create the runtime directory private, but never re-mode one that
        // exists: the path may have been pointed somewhere shared.
        if let Some(dir) = path.parent().filter(|d| !d.exists()) {
            crate::paths::ensure_private_dir(dir).map_err(|source| TokenError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let token = AuthToken::generate();
        crate::paths::write_private_file(path, token.expose().as_bytes()).map_err(|source| {
            TokenError::Io {
                path: path.to_path_buf(),
                source,
            }
        })?;
        Ok(token)
    }

    /// The token value, for `AWS_CONTAINER_AUTHORIZATION_TOKEN`. Never log it.
    pub fn expose(&self) -> &str {
        self.value.expose()
    }

    /// Whether `presented` (an `Authorization` header value) is this token.
    ///
    /// Both sides are hashed first, so the comparison always covers 32 bytes
    /// whatever was sent, and `ct_eq` does not stop at the first difference.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let mut digest: [u8; 32] = Sha256::digest(presented).into();
        let equal = digest.ct_eq(&self.digest).into();
        digest.zeroize();
        equal
    }
}

fn malformed(path: &Path, reason: &str) -> TokenError {
    TokenError::Malformed {
        path: path.to_path_buf(),
        reason: reason.to_owned(),
    }
}

/// A token must fit in an HTTP header unchanged and be long enough not to guess.
fn validate(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("empty".into());
    }
    if value.ends_with(['\n', '\r']) {
        return Err(
            "ends with a newline, which SDK clients would send as part of the token".into(),
        );
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("contains spaces or characters not allowed in a header".into());
    }
    if value.len() < MIN_TOKEN_LEN {
        return Err(format!("shorter than {MIN_TOKEN_LEN} characters"));
    }
    if value.len() > MAX_TOKEN_LEN {
        return Err(format!("longer than {MAX_TOKEN_LEN} characters"));
    }
    Ok(())
}

#[cfg(unix)]
fn check_private(path: &Path, file: &std::fs::File) -> Result<(), TokenError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file
        .metadata()
        .map_err(|source| TokenError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(TokenError::NotPrivate {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _file: &std::fs::File) -> Result<(), TokenError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_distinct_header_safe_and_43_chars() {
        let a = AuthToken::generate();
        let b = AuthToken::generate();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 43);
        assert!(validate(a.expose()).is_ok());
    }

    #[test]
    fn matches_only_the_exact_value() {
        let token = AuthToken::generate();
        let value = token.expose().to_owned();
        assert!(token.matches(value.as_bytes()));
        assert!(!token.matches(format!("Bearer {value}").as_bytes()));
        assert!(!token.matches(format!("{value}\n").as_bytes()));
        assert!(!token.matches(&value.as_bytes()[..42]));
        assert!(!token.matches(b""));
        let mut flipped = value.into_bytes();
        flipped[10] ^= 1;
        assert!(!token.matches(&flipped));
    }

    #[test]
    fn debug_is_redacted() {
        let token = AuthToken::generate();
        let text = format!("{token:?}");
        assert!(!text.contains(token.expose()), "{text}");
    }

    #[test]
    fn rejects_values_clients_would_mangle() {
        assert!(validate("").is_err());
        assert!(validate(&format!("{}\n", "a".repeat(40))).is_err());
        assert!(validate(&format!("{} b", "a".repeat(40))).is_err());
        assert!(validate("short").is_err());
        assert!(validate(&"a".repeat(MAX_TOKEN_LEN + 1)).is_err());
        assert!(validate(&"a".repeat(40)).is_ok());
    }

    #[test]
    fn load_or_create_persists_and_rotate_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/token");
        let first = AuthToken::load_or_create(&path).unwrap();
        let again = AuthToken::load_or_create(&path).unwrap();
        assert_eq!(first.expose(), again.expose());
        let rotated = AuthToken::rotate(&path).unwrap();
        assert_ne!(rotated.expose(), first.expose());
        assert_eq!(AuthToken::load(&path).unwrap().expose(), rotated.expose());
    }

    #[test]
    fn damaged_file_is_an_error_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        crate::paths::write_private_file(&path, b"").unwrap();
        let err = AuthToken::load_or_create(&path).unwrap_err();
        assert!(err.to_string().contains("--rotate-token"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"");
    }

    #[cfg(unix)]
    #[test]
    fn shared_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        AuthToken::rotate(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            AuthToken::load(&path),
            Err(TokenError::NotPrivate { mode: 0o644, .. })
        ));
    }
}
