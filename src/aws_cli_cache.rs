//! The optional AWS CLI token cache export (`--export-aws-cli-cache`).
//!
//! Tools that read `~/.aws/sso/cache/*.json` directly (the AWS CLI, boto3
//! and the other SDKs' `sso_session` support, and scripts built on them)
//! keep working when credbroker owns the sign-in, if the session's token is
//! also written where they look (protocols.md §5):
//!
//! ```text
//! ~/.aws/sso/cache/<sha1 hex of the sso-session name, or of the start URL for legacy profiles>.json
//! {"startUrl": .., "region": .., "accessToken": .., "expiresAt": "2026-11-21T23:10:00Z",
//!  "clientId": .., "clientSecret": .., "registrationExpiresAt": .., "refreshToken": ..}
//! ```
//!
//! It is off by default because that file holds a bearer token in plain
//! text: anything that can read the user's files can use it (and with the
//! refresh token and client secret, renew it) until the session ends, while
//! credbroker otherwise keeps every token in the OS keychain. The file is
//! written with mode 0600 through a temp file and a rename, so readers never
//! see half a file (the AWS CLI itself rewrites it in place).
//!
//! First [`cache_file_name`] and [`cache_json`] make the name and the body
//! (pure); then [`export_aws_cli_cache`] writes them under a home directory.
//! `credbroker logout` removes the file again ([`remove_exported`]) when it
//! holds the token being signed out of, so a sign-out leaves no plaintext
//! token behind; a file from the AWS CLI's own sign-in is left alone.

use crate::config::SessionInfo;
use crate::model::{format_time, ClientRegistration, SsoToken};
use sha1::{Digest, Sha1};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The cache directory under a home directory.
pub fn cache_dir(home: &Path) -> PathBuf {
    home.join(".aws").join("sso").join("cache")
}

/// `<sha1 hex of the session key>.json`: the session key is the
/// sso-session name, or the start URL for a legacy profile, which is the
/// AWS CLI's rule too.
pub fn cache_file_name(session_key: &str) -> String {
    format!("{}.json", hex::encode(Sha1::digest(session_key.as_bytes())))
}

/// The file's JSON. Without a registration the file has only the token, which
/// the SDKs use until it expires but cannot renew.
pub fn cache_json(
    token: &SsoToken,
    registration: Option<&ClientRegistration>,
) -> Zeroizing<String> {
    let mut body = serde_json::Map::new();
    let mut put = |k: &str, v: &str| {
        body.insert(k.to_owned(), serde_json::Value::String(v.to_owned()));
    };
    put("startUrl", &token.start_url);
    put("region", &token.region);
    put("accessToken", token.access_token.expose());
    put("expiresAt", &format_time(token.expires_at));
    if let Some(reg) = registration {
        put("clientId", &reg.client_id);
        put("clientSecret", reg.client_secret.expose());
        put("registrationExpiresAt", &format_time(reg.expires_at));
        if let Some(refresh) = &token.refresh_token {
            put("refreshToken", refresh.expose());
        }
    }
    Zeroizing::new(serde_json::Value::Object(body).to_string())
}

/// Write the session's AWS CLI cache file under `home`, atomically and
/// private to the user; returns its path. Errors name the path, never a
/// value.
pub fn export_aws_cli_cache(
    session: &SessionInfo,
    token: &SsoToken,
    registration: Option<&ClientRegistration>,
    home: &Path,
) -> std::io::Result<PathBuf> {
    let path = cache_dir(home).join(cache_file_name(&session.key));
    let body = cache_json(token, registration);
    crate::paths::write_private_file(&path, body.as_bytes()).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("could not write the AWS CLI cache {}: {e}", path.display()),
        )
    })?;
    Ok(path)
}

/// What [`remove_exported`] did with a session's cache file.
#[derive(Debug, PartialEq, Eq)]
pub enum Cleanup {
    /// There is none.
    Absent,
    /// It held the session's token and is gone.
    Removed(PathBuf),
    /// It does not hold the token (the AWS CLI's own sign-in, an export
    /// older than the last renewals, or an unreadable file), so it was left
    /// alone.
    Kept(PathBuf),
}

/// Whether the cache file `body` holds `token`: its access token, or its
/// refresh token (the file may lag one renewal behind the keychain).
pub fn holds_token(body: &str, token: &SsoToken) -> bool {
    let Ok(serde_json::Value::Object(file)) = serde_json::from_str::<serde_json::Value>(body)
    else {
        return false;
    };
    let field = |k: &str| file.get(k).and_then(serde_json::Value::as_str);
    let access = field("accessToken") == Some(token.access_token.expose());
    let refresh = match (field("refreshToken"), &token.refresh_token) {
        (Some(file), Some(ours)) => file == ours.expose(),
        _ => false,
    };
    access || refresh
}

/// Remove the AWS CLI cache file of session `session_key` under `home` if
/// it holds `token`.
pub fn remove_exported(
    session_key: &str,
    token: &SsoToken,
    home: &Path,
) -> std::io::Result<Cleanup> {
    let path = cache_dir(home).join(cache_file_name(session_key));
    let body = match std::fs::read_to_string(&path) {
        Ok(body) => Zeroizing::new(body),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Cleanup::Absent),
        Err(_) => return Ok(Cleanup::Kept(path)),
    };
    if !holds_token(&body, token) {
        return Ok(Cleanup::Kept(path));
    }
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(Cleanup::Removed(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Cleanup::Absent),
        Err(e) => Err(std::io::Error::new(
            e.kind(),
            format!("could not remove the AWS CLI cache {}: {e}", path.display()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Secret;
    use chrono::{TimeZone, Utc};

    fn session(key: &str) -> SessionInfo {
        SessionInfo {
            key: key.into(),
            start_url: "https://example.awsapps.com/start".into(),
            region: "eu-west-1".into(),
            registration_scopes: vec!["sso:account:access".into()],
            legacy: false,
            login_command: String::new(),
        }
    }

    fn token(refresh: bool) -> SsoToken {
        SsoToken {
            start_url: "https://example.awsapps.com/start".into(),
            region: "eu-west-1".into(),
            access_token: Secret::new("at-1"),
            expires_at: Utc.with_ymd_and_hms(2030, 1, 1, 8, 0, 0).unwrap(),
            refresh_token: refresh.then(|| Secret::new("rt-1")),
            issued_at: None,
            registration_key: None,
        }
    }

    fn registration() -> ClientRegistration {
        ClientRegistration {
            region: "eu-west-1".into(),
            client_id: "cid".into(),
            client_secret: Secret::new("cs-1"),
            expires_at: Utc.with_ymd_and_hms(2030, 3, 1, 0, 0, 0).unwrap(),
            scopes: vec![],
            grant_types: vec![],
        }
    }

    #[test]
    fn file_name_is_the_sha1_of_the_session_key() {
        // As botocore names them: hashlib.sha1(key.encode()).hexdigest().
        assert_eq!(
            cache_file_name("my-sso"),
            "0ad374308c5a4e22f723adf10145eafad7c4031c.json"
        );
        assert_eq!(
            cache_file_name("https://my-sso-portal.awsapps.com/start"),
            "c7aaaf71fcc8777ae2475525ed049d39fe16c484.json"
        );
    }

    #[test]
    fn body_has_the_aws_cli_fields() {
        let v: serde_json::Value =
            serde_json::from_str(&cache_json(&token(true), Some(&registration()))).unwrap();
        assert_eq!(v["startUrl"], "https://example.awsapps.com/start");
        assert_eq!(v["region"], "eu-west-1");
        assert_eq!(v["accessToken"], "at-1");
        assert_eq!(v["expiresAt"], "2030-01-01T08:00:00Z");
        assert_eq!(v["clientId"], "cid");
        assert_eq!(v["clientSecret"], "cs-1");
        assert_eq!(v["registrationExpiresAt"], "2030-03-01T00:00:00Z");
        assert_eq!(v["refreshToken"], "rt-1");

        let v: serde_json::Value = serde_json::from_str(&cache_json(&token(false), None)).unwrap();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), 4, "{keys:?}");
    }

    #[cfg(unix)]
    #[test]
    fn export_writes_a_private_file() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let path = export_aws_cli_cache(
            &session("work"),
            &token(true),
            Some(&registration()),
            home.path(),
        )
        .unwrap();
        assert_eq!(path.parent().unwrap(), cache_dir(home.path()));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["accessToken"], "at-1");
    }

    #[test]
    fn a_file_holds_the_token_by_its_access_or_refresh_token() {
        let ours = token(true);
        assert!(holds_token(
            &cache_json(&ours, Some(&registration())),
            &ours
        ));
        let mut renewed = token(true);
        renewed.access_token = Secret::new("at-2");
        assert!(
            holds_token(&cache_json(&ours, Some(&registration())), &renewed),
            "one renewal behind: the refresh token matches"
        );
        assert!(
            !holds_token(&cache_json(&ours, None), &renewed),
            "no refresh token in the file and another access token"
        );
        let mut theirs = token(true);
        theirs.access_token = Secret::new("aws-cli-own");
        theirs.refresh_token = Some(Secret::new("aws-cli-refresh"));
        assert!(!holds_token(
            &cache_json(&theirs, Some(&registration())),
            &ours
        ));
        assert!(!holds_token("not json", &ours));
        assert!(!holds_token("[]", &ours));
    }

    #[test]
    fn logout_removes_its_own_file_and_keeps_another_sign_in() {
        let home = tempfile::tempdir().unwrap();
        let ours = token(true);
        let path =
            export_aws_cli_cache(&session("work"), &ours, Some(&registration()), home.path())
                .unwrap();
        assert_eq!(
            remove_exported("work", &ours, home.path()).unwrap(),
            Cleanup::Removed(path.clone())
        );
        assert!(!path.exists());
        assert_eq!(
            remove_exported("work", &ours, home.path()).unwrap(),
            Cleanup::Absent
        );

        let mut theirs = token(false);
        theirs.access_token = Secret::new("aws-cli-own");
        export_aws_cli_cache(&session("work"), &theirs, None, home.path()).unwrap();
        assert_eq!(
            remove_exported("work", &ours, home.path()).unwrap(),
            Cleanup::Kept(path.clone())
        );
        assert!(path.exists());
    }
}
