//! A stand-in for GitHub Actions' OIDC issuer: it mints the RS256 job tokens
//! a workflow with `permissions: id-token: write` receives (protocols.md §6).
//!
//! Tokens carry GitHub's real issuer, `https://token.actions.githubusercontent.com`,
//! so trust policies written for GitHub (condition keys
//! `token.actions.githubusercontent.com:sub`, ...) work unchanged; the
//! emulator's STS trusts that issuer with this emulator's key set, served at
//! `/.well-known/jwks` (and named by `/.well-known/openid-configuration`).
//!
//! The token-request endpoint has the Actions shape:
//! `GET /_github/token?audience=AUD` with `Authorization: Bearer <request
//! token>` answers `{"value": "<jwt>"}`. `GET /_emulator/github` tells a test
//! the URL and request token to put in `ACTIONS_ID_TOKEN_REQUEST_URL` and
//! `ACTIONS_ID_TOKEN_REQUEST_TOKEN`; `POST /_emulator/github/claims` sets the
//! job the next tokens describe ([`JobClaims`]), including tokens that are
//! already expired or signed with a key nobody published.
//!
//! The RSA key is made once per process, on first use: key generation is
//! the slow part, and every emulator in a test run can share one issuer key.

use chrono::{DateTime, Utc};
use credbroker_policy::jwt::{sign_rs256, Jwk, Jwks};
use rsa::RsaPrivateKey;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::sync::{Mutex, OnceLock};

pub const ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The audience GitHub's token request uses when the workflow names none.
pub const DEFAULT_AUDIENCE: &str = "sts.amazonaws.com";
/// The path of the Actions-shaped token request endpoint.
pub const TOKEN_PATH: &str = "/_github/token";

/// A signing key and its key id. `Debug` names the key id only.
pub struct IssuerKey {
    pub kid: String,
    pub(super) key: RsaPrivateKey,
}

impl std::fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

pub(super) fn generate(bits: usize) -> IssuerKey {
    let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits)
        .expect("RSA key generation does not fail for a valid size");
    let public = Jwks {
        keys: vec![Jwk {
            kid: String::new(),
            public: key.to_public_key(),
        }],
    };
    let digest = Sha256::digest(public.to_json().to_string().as_bytes());
    IssuerKey {
        kid: hex::encode(&digest[..8]),
        key,
    }
}

/// The issuer's published key (2048 bits, made on first use).
pub fn issuer_key() -> &'static IssuerKey {
    static KEY: OnceLock<IssuerKey> = OnceLock::new();
    KEY.get_or_init(|| generate(2048))
}

/// A key nobody published, under the real key id: for bad-signature tests.
fn forger_key() -> &'static IssuerKey {
    static KEY: OnceLock<IssuerKey> = OnceLock::new();
    KEY.get_or_init(|| generate(1024))
}

/// The published key set.
pub fn jwks() -> Jwks {
    let key = issuer_key();
    Jwks {
        keys: vec![Jwk {
            kid: key.kid.clone(),
            public: key.key.to_public_key(),
        }],
    }
}

pub fn openid_configuration(base_url: &str) -> Value {
    json!({
        "issuer": ISSUER,
        "jwks_uri": format!("{base_url}/.well-known/jwks"),
        "subject_types_supported": ["public", "pairwise"],
        "response_types_supported": ["id_token"],
        "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "repository",
            "repository_owner", "environment", "event_name", "job_workflow_ref"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid"],
    })
}

/// The job the next tokens describe. Every field is optional in the JSON
/// that sets it; `sub` is derived from the others unless given.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct JobClaims {
    pub repository: String,
    pub repository_owner: Option<String>,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub environment: Option<String>,
    pub event_name: String,
    pub sub: Option<String>,
    /// Overrides the audience the request asked for.
    pub aud: Option<String>,
    /// Seconds from now to `exp`; negative mints an expired token. Default 300.
    pub lifetime_secs: i64,
    /// Seconds from now to `nbf`; positive mints a token not yet valid. Default -5.
    pub not_before_secs: i64,
    /// Sign with a key that is not in the published key set.
    pub forge_signature: bool,
    /// More claims, merged last.
    pub extra: Map<String, Value>,
}

impl Default for JobClaims {
    fn default() -> Self {
        JobClaims {
            repository: "octo-org/octo-repo".into(),
            repository_owner: None,
            git_ref: "refs/heads/main".into(),
            environment: None,
            event_name: "push".into(),
            sub: None,
            aud: None,
            lifetime_secs: 300,
            not_before_secs: -5,
            forge_signature: false,
            extra: Map::new(),
        }
    }
}

impl JobClaims {
    /// GitHub's rule: environment, else pull request, else the ref.
    pub fn subject(&self) -> String {
        if let Some(sub) = &self.sub {
            return sub.clone();
        }
        let repo = &self.repository;
        match (&self.environment, self.event_name.as_str()) {
            (Some(env), _) => format!("repo:{repo}:environment:{env}"),
            (None, "pull_request") => format!("repo:{repo}:pull_request"),
            (None, _) => format!("repo:{repo}:ref:{}", self.git_ref),
        }
    }

    pub fn claims(&self, audience: &str, now: DateTime<Utc>) -> Map<String, Value> {
        let owner = self.repository_owner.clone().unwrap_or_else(|| {
            self.repository
                .split('/')
                .next()
                .unwrap_or_default()
                .to_string()
        });
        let mut claims = json!({
            "iss": ISSUER,
            "aud": self.aud.as_deref().unwrap_or(audience),
            "sub": self.subject(),
            "repository": self.repository,
            "repository_owner": owner,
            "ref": self.git_ref,
            "event_name": self.event_name,
            "job_workflow_ref": format!("{}/.github/workflows/ci.yml@{}", self.repository, self.git_ref),
            "jti": super::mint::request_id(),
            "iat": now.timestamp(),
            "nbf": now.timestamp() + self.not_before_secs,
            "exp": now.timestamp() + self.lifetime_secs,
        });
        if let Some(env) = &self.environment {
            claims["environment"] = Value::String(env.clone());
        }
        let mut claims = match claims {
            Value::Object(map) => map,
            _ => unreachable!("json! of an object is an object"),
        };
        claims.extend(self.extra.clone());
        claims
    }
}

/// The issuer's per-emulator state: the request token and the current job.
#[derive(Debug)]
pub struct GithubIssuer {
    request_token: String,
    job: Mutex<JobClaims>,
}

impl Default for GithubIssuer {
    fn default() -> Self {
        GithubIssuer {
            request_token: super::mint::token("ghs_", 36),
            job: Mutex::new(JobClaims::default()),
        }
    }
}

/// Why a token request was refused: status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequestError(pub u16, pub String);

impl GithubIssuer {
    /// What a job's environment would hold: `{"request_url", "request_token"}`.
    pub fn job_environment(&self, base_url: &str) -> Value {
        json!({
            "request_url": format!("{base_url}{TOKEN_PATH}?api-version=2.0"),
            "request_token": self.request_token,
            "issuer": ISSUER,
        })
    }

    /// Replace the job the next tokens describe.
    pub fn set_job(&self, body: &[u8]) -> Result<(), String> {
        let job: JobClaims = if body.iter().all(u8::is_ascii_whitespace) {
            JobClaims::default()
        } else {
            serde_json::from_slice(body).map_err(|e| format!("invalid claims: {e}"))?
        };
        *self.job.lock().unwrap() = job;
        Ok(())
    }

    /// `GET /_github/token?audience=..` -> `{"value": jwt}`.
    pub fn request_token(
        &self,
        authorization: Option<&str>,
        audience: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Value, TokenRequestError> {
        let presented = authorization.and_then(bearer).unwrap_or_default();
        if !super::sigv4::constant_time_eq(presented.as_bytes(), self.request_token.as_bytes()) {
            return Err(TokenRequestError(401, "Bad credentials".into()));
        }
        let job = self.job.lock().unwrap().clone();
        let claims = job.claims(audience.unwrap_or(DEFAULT_AUDIENCE), now);
        let key = if job.forge_signature {
            forger_key()
        } else {
            issuer_key()
        };
        let kid = &issuer_key().kid;
        Ok(json!({ "value": sign_rs256(&claims, kid, &key.key), "count": 1 }))
    }
}

/// The token of an `Authorization: Bearer TOKEN` header. The scheme is
/// case-insensitive and may be followed by several spaces (RFC 9110 §11).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches(' '))
}

#[cfg(test)]
mod tests {
    use super::*;
    use credbroker_policy::jwt::{Jwt, JwtError};

    #[test]
    fn tokens_verify_against_the_published_keys_unless_forged() {
        let issuer = GithubIssuer::default();
        let now = Utc::now();
        let auth = format!("Bearer {}", issuer.request_token);
        let token = issuer
            .request_token(Some(&auth), Some("sts.amazonaws.com"), now)
            .unwrap();
        let jwt = Jwt::decode(token["value"].as_str().unwrap()).unwrap();
        assert_eq!(
            jwt.claim_str("sub"),
            Some("repo:octo-org/octo-repo:ref:refs/heads/main")
        );
        assert_eq!(jwt.claim_str("iss"), Some(ISSUER));
        let published = Jwks::parse(&jwks().to_json().to_string()).unwrap();
        assert!(jwt.verify(&published).is_ok());

        issuer
            .set_job(br#"{"environment":"production","forge_signature":true}"#)
            .unwrap();
        let token = issuer.request_token(Some(&auth), None, now).unwrap();
        let jwt = Jwt::decode(token["value"].as_str().unwrap()).unwrap();
        assert_eq!(
            jwt.claim_str("sub"),
            Some("repo:octo-org/octo-repo:environment:production")
        );
        assert_eq!(jwt.verify(&published), Err(JwtError::BadSignature));

        assert_eq!(
            issuer
                .request_token(Some("Bearer nope"), None, now)
                .unwrap_err()
                .0,
            401
        );
        assert!(issuer.set_job(br#"{"colour":"red"}"#).is_err());
    }

    /// RFC 9110 §11.1: the scheme is case-insensitive, and GitHub's own
    /// documentation writes `bearer`; one or more spaces may follow it.
    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let issuer = GithubIssuer::default();
        let now = Utc::now();
        let t = &issuer.request_token;
        for auth in [
            format!("bearer {t}"),
            format!("BEARER {t}"),
            format!("Bearer   {t}"),
        ] {
            assert!(
                issuer.request_token(Some(&auth), None, now).is_ok(),
                "{auth:?} refused"
            );
        }
        for auth in [format!("Basic {t}"), format!("Bearer{t}"), t.clone()] {
            let refused = issuer.request_token(Some(&auth), None, now).unwrap_err();
            assert_eq!(refused.0, 401, "{auth:?}");
        }
    }
}
