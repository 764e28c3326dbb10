//! The domain values that cross module boundaries: role credentials, SSO
//! tokens and client registrations.
//!
//! Every secret is held in a [`Secret`], which zeroizes its memory on drop and
//! prints `** redacted **` under `Debug`, so a stray `{:?}` or `tracing` field
//! cannot leak it. The only way to read one is [`Secret::expose`], which makes
//! every use greppable.
//!
//! The wire bodies that tools read are built here too, as pure functions:
//! the container-credentials body (protocols.md §1) and the
//! `credential_process` output (§2). Times are RFC 3339 UTC with a trailing
//! `Z`, because the Rust and JS SDKs reject offsets.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret string: zeroized on drop, redacted in `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value. Callers must not log or format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("** redacted **")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

/// Short-lived credentials for one role in one account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Secret,
    pub expiration: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// When credbroker received them; with `expiration` this gives their
    /// lifetime, which decides how early they are renewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<DateTime<Utc>>,
}

impl RoleCredentials {
    /// Their whole lifetime, when known.
    pub fn lifetime(&self) -> Option<chrono::Duration> {
        self.issued_at.map(|issued| self.expiration - issued)
    }
}

/// Refuse issued keys of which one is empty, naming the upstream
/// `operation`. The Rust SDK reads an answer cut off mid-document (a proxy,
/// a dropped connection after the headers) as a success whose strings are
/// empty; such keys must never be cached or served. The message is for a
/// transient failure: the next call is likely to be whole.
pub fn refuse_empty_keys(
    operation: &str,
    access_key_id: &str,
    secret_access_key: &str,
    session_token: &str,
) -> Result<(), String> {
    let empty: Vec<&str> = [
        ("AccessKeyId", access_key_id),
        ("SecretAccessKey", secret_access_key),
        ("SessionToken", session_token),
    ]
    .into_iter()
    .filter(|(_, value)| value.trim().is_empty())
    .map(|(name, _)| name)
    .collect();
    if empty.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{operation} answered with an empty {} (a cut-off or garbled answer);          nothing was cached, try again",
        empty.join(" and ")
    ))
}

/// Role credentials with the container-credentials body made from them
/// once, when they arrive. Serving a cached role then hands out a reference
/// to that body: no serialization and no copy of a secret per request. The
/// body's bytes are zeroized when its last reference is dropped.
pub struct Vended {
    pub credentials: RoleCredentials,
    body: bytes::Bytes,
}

impl Vended {
    pub fn new(credentials: RoleCredentials) -> Self {
        let body = zeroize::Zeroizing::new(container_credentials_body(&credentials).into_bytes());
        Vended {
            credentials,
            body: bytes::Bytes::from_owner(body),
        }
    }

    /// The container-credentials body (protocols.md §1); a cheap clone.
    pub fn body(&self) -> bytes::Bytes {
        self.body.clone()
    }
}

impl std::fmt::Debug for Vended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vended")
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// An IAM Identity Center access token, with its refresh token when the
/// registration asked for `sso:account:access`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoToken {
    pub start_url: String,
    pub region: String,
    pub access_token: Secret,
    pub expires_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
    /// When it was issued; with `expires_at` this gives its lifetime, which
    /// decides how early it is refreshed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<DateTime<Utc>>,
    /// The vault key of the client registration that obtained it; a refresh
    /// must use the same client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_key: Option<String>,
}

impl SsoToken {
    /// Its whole lifetime, when known.
    pub fn lifetime(&self) -> Option<chrono::Duration> {
        self.issued_at.map(|issued| self.expires_at - issued)
    }
}

/// A public OIDC client registered with `sso-oidc` RegisterClient. Cached
/// until it expires so that sign-in does not register on every login.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRegistration {
    pub region: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub expires_at: DateTime<Utc>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub grant_types: Vec<String>,
}

pub use crate::clock::format_time;

/// The body of a successful container-credentials response (protocols.md §1).
pub fn container_credentials_body(creds: &RoleCredentials) -> String {
    let mut body = serde_json::json!({
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key.expose(),
        "Token": creds.session_token.expose(),
        "Expiration": format_time(creds.expiration),
    });
    if let Some(account) = &creds.account_id {
        body["AccountId"] = serde_json::Value::String(account.clone());
    }
    body.to_string()
}

/// The `credential_process` output, Version 1 (protocols.md §2).
pub fn credential_process_output(creds: &RoleCredentials) -> String {
    let mut body = serde_json::json!({
        "Version": 1,
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key.expose(),
        "SessionToken": creds.session_token.expose(),
        "Expiration": format_time(creds.expiration),
    });
    if let Some(account) = &creds.account_id {
        body["AccountId"] = serde_json::Value::String(account.clone());
    }
    body.to_string()
}

/// The body of an error response: `{"code": ..., "message": ...}`.
pub fn error_body(code: &str, message: &str) -> String {
    serde_json::json!({ "code": code, "message": message }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn empty_issued_keys_are_refused_naming_the_operation() {
        assert!(refuse_empty_keys("AssumeRole", "ASIA1", "s", "t").is_ok());
        let e = refuse_empty_keys("AssumeRole", "", "s", " ").unwrap_err();
        assert!(
            e.starts_with("AssumeRole answered with an empty AccessKeyId and SessionToken"),
            "{e}"
        );
        let e = refuse_empty_keys("GetRoleCredentials", "ASIA1", "", "t").unwrap_err();
        assert!(
            e.contains("GetRoleCredentials") && e.contains("SecretAccessKey"),
            "{e}"
        );
    }

    fn sample() -> RoleCredentials {
        RoleCredentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: Secret::new("s3cr3t"),
            session_token: Secret::new("t0k3n"),
            expiration: Utc.with_ymd_and_hms(2026, 11, 21, 23, 10, 0).unwrap(),
            account_id: Some("111111111111".into()),
            issued_at: None,
        }
    }

    #[test]
    fn vended_keeps_the_body_and_hides_it_from_debug() {
        let creds = sample();
        let vended = Vended::new(creds.clone());
        assert_eq!(vended.body(), container_credentials_body(&creds).as_bytes());
        let shown = format!("{vended:?}");
        assert!(!shown.contains(creds.secret_access_key.expose()), "{shown}");
        assert!(!shown.contains(creds.session_token.expose()), "{shown}");
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let text = format!("{:?}", sample());
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(!text.contains("t0k3n"), "{text}");
        assert!(text.contains("ASIAEXAMPLE"));
    }

    #[test]
    fn container_body_has_exact_fields() {
        let v: serde_json::Value =
            serde_json::from_str(&container_credentials_body(&sample())).unwrap();
        assert_eq!(v["AccessKeyId"], "ASIAEXAMPLE");
        assert_eq!(v["SecretAccessKey"], "s3cr3t");
        assert_eq!(v["Token"], "t0k3n");
        assert_eq!(v["Expiration"], "2026-11-21T23:10:00Z");
        assert_eq!(v["AccountId"], "111111111111");
        assert_eq!(v.as_object().unwrap().len(), 5);
    }

    #[test]
    fn credential_process_output_is_version_1() {
        let v: serde_json::Value =
            serde_json::from_str(&credential_process_output(&sample())).unwrap();
        assert_eq!(v["Version"], 1);
        assert_eq!(v["SessionToken"], "t0k3n");
        assert_eq!(v["Expiration"], "2026-11-21T23:10:00Z");
    }

    #[test]
    fn secrets_round_trip_through_serde() {
        let creds = sample();
        let json = serde_json::to_string(&creds).unwrap();
        let back: RoleCredentials = serde_json::from_str(&json).unwrap();
        assert_eq!(back, creds);
    }
}
