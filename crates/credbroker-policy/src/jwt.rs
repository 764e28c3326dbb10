//! JSON Web Tokens as GitHub Actions (and the emulator's issuer) mint them:
//! RS256, a `kid` naming one key of the issuer's JWKS.
//!
//! First [`Jwt::decode`] splits the three base64url parts and reads the
//! header and claims (no key needed: the claims are not secret, the
//! signature is what makes them true). Then [`Jwt::verify`] checks the
//! RS256 signature (RSASSA-PKCS1-v1_5 over SHA-256) against a [`Jwks`];
//! [`Jwt::check_time`] checks `exp` and `nbf`. [`Subject`] splits GitHub's
//! `sub` into repository and context, in both the classic `OWNER/REPO` and
//! the immutable `OWNER@ID/REPO@ID` forms (protocols.md §6).
//!
//! The token itself is a bearer credential: [`Jwt`]'s `Debug` leaves the
//! signature out, and nothing here logs.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};
use serde_json::{Map, Value};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("not a JWT: {0}")]
    Malformed(String),
    #[error("unsupported signing algorithm {0:?} (only RS256)")]
    UnsupportedAlgorithm(String),
    #[error("no key with kid {0:?} in the issuer's JWKS")]
    UnknownKey(String),
    #[error("the signature does not verify against the issuer's keys")]
    BadSignature,
    #[error("the token expired at {0}")]
    Expired(DateTime<Utc>),
    #[error("the token is not valid before {0}")]
    NotYetValid(DateTime<Utc>),
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Header {
    pub alg: String,
    pub kid: Option<String>,
    pub typ: Option<String>,
}

/// A decoded, not yet verified token.
#[derive(Clone, PartialEq, Eq)]
pub struct Jwt {
    pub header: Header,
    pub claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

impl std::fmt::Debug for Jwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwt")
            .field("header", &self.header)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

fn part(text: &str, what: &str) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|e| JwtError::Malformed(format!("{what} is not base64url: {e}")))
}

fn json_object(bytes: &[u8], what: &str) -> Result<Map<String, Value>, JwtError> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JwtError::Malformed(format!("{what} is not a JSON object"))),
    }
}

impl Jwt {
    pub fn decode(token: &str) -> Result<Jwt, JwtError> {
        let token = token.trim();
        let parts: Vec<&str> = token.split('.').collect();
        let [h, c, s] = parts[..] else {
            return Err(JwtError::Malformed(format!(
                "expected three dot-separated parts, found {}",
                parts.len()
            )));
        };
        let header = json_object(&part(h, "the header")?, "the header")?;
        let claims = json_object(&part(c, "the claims")?, "the claims")?;
        let text = |k: &str| header.get(k).and_then(Value::as_str).map(String::from);
        Ok(Jwt {
            header: Header {
                alg: text("alg").unwrap_or_default(),
                kid: text("kid"),
                typ: text("typ"),
            },
            claims,
            signing_input: format!("{h}.{c}"),
            signature: part(s, "the signature")?,
        })
    }

    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A NumericDate claim (`exp`, `nbf`, `iat`).
    pub fn time(&self, name: &str) -> Option<DateTime<Utc>> {
        let secs = self.claims.get(name)?.as_f64()?;
        DateTime::from_timestamp(secs as i64, 0)
    }

    /// The audiences: `aud` is a string or a list.
    pub fn audiences(&self) -> Vec<String> {
        match self.claims.get("aud") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Check the RS256 signature; returns the key id that verified it.
    pub fn verify(&self, jwks: &Jwks) -> Result<String, JwtError> {
        if self.header.alg != "RS256" {
            return Err(JwtError::UnsupportedAlgorithm(self.header.alg.clone()));
        }
        let candidates: Vec<&Jwk> = match &self.header.kid {
            Some(kid) => jwks.keys.iter().filter(|k| &k.kid == kid).collect(),
            None => jwks.keys.iter().collect(),
        };
        if candidates.is_empty() {
            return Err(JwtError::UnknownKey(
                self.header.kid.clone().unwrap_or_default(),
            ));
        }
        let signature =
            Signature::try_from(self.signature.as_slice()).map_err(|_| JwtError::BadSignature)?;
        for key in candidates {
            let verifying = VerifyingKey::<Sha256>::new(key.public.clone());
            if verifying
                .verify(self.signing_input.as_bytes(), &signature)
                .is_ok()
            {
                return Ok(key.kid.clone());
            }
        }
        Err(JwtError::BadSignature)
    }

    /// `exp` must be in the future and `nbf` (when present) in the past, with
    /// `leeway` either side for clock skew.
    pub fn check_time(&self, now: DateTime<Utc>, leeway: chrono::Duration) -> Result<(), JwtError> {
        // Checked: a time within `leeway` of chrono's last instant would
        // overflow (and panic) in `+`; past the end of time is not expired.
        let expired =
            |exp: DateTime<Utc>| exp.checked_add_signed(leeway).is_some_and(|end| now >= end);
        match self.time("exp") {
            Some(exp) if expired(exp) => return Err(JwtError::Expired(exp)),
            Some(_) => {}
            None => return Err(JwtError::Malformed("no exp claim".into())),
        }
        match self.time("nbf") {
            Some(nbf)
                if now
                    .checked_add_signed(leeway)
                    .is_some_and(|start| start < nbf) =>
            {
                Err(JwtError::NotYetValid(nbf))
            }
            _ => Ok(()),
        }
    }
}

/// One RSA public key of an issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jwk {
    pub kid: String,
    pub public: RsaPublicKey,
}

/// An issuer's key set (`/.well-known/jwks`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// Parse `{"keys":[{"kty":"RSA","kid":..,"n":..,"e":..}]}`; keys of
    /// other types are skipped.
    pub fn parse(text: &str) -> Result<Jwks, JwtError> {
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| JwtError::Malformed(format!("JWKS is not JSON: {e}")))?;
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| JwtError::Malformed("JWKS has no \"keys\" array".into()))?;
        let mut out = Jwks::default();
        for key in keys.iter().filter(|k| k["kty"] == "RSA") {
            let field = |name: &str| -> Result<BigUint, JwtError> {
                let text = key[name]
                    .as_str()
                    .ok_or_else(|| JwtError::Malformed(format!("JWK has no \"{name}\"")))?;
                Ok(BigUint::from_bytes_be(&part(text, "a JWK field")?))
            };
            let public = RsaPublicKey::new(field("n")?, field("e")?)
                .map_err(|e| JwtError::Malformed(format!("bad RSA key: {e}")))?;
            out.keys.push(Jwk {
                kid: key["kid"].as_str().unwrap_or_default().to_string(),
                public,
            });
        }
        Ok(out)
    }

    /// The JSON document for this key set.
    pub fn to_json(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|k| {
                serde_json::json!({
                    "kty": "RSA", "alg": "RS256", "use": "sig", "kid": k.kid,
                    "n": URL_SAFE_NO_PAD.encode(k.public.n().to_bytes_be()),
                    "e": URL_SAFE_NO_PAD.encode(k.public.e().to_bytes_be()),
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

/// Sign `claims` with RS256 under `kid` (the emulator's issuer, and tests).
pub fn sign_rs256(claims: &Map<String, Value>, kid: &str, key: &RsaPrivateKey) -> String {
    let header = serde_json::json!({ "alg": "RS256", "typ": "JWT", "kid": kid });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string())
    );
    let signature = SigningKey::<Sha256>::new(key.clone()).sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

/// What a GitHub Actions `sub` says the job is running for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum SubjectContext {
    Environment(String),
    Ref(String),
    PullRequest,
    Other(String),
}

/// A GitHub Actions `sub`, broken into its parts.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Subject {
    /// `OWNER/REPO`, without ids.
    pub repository: String,
    pub owner: String,
    pub name: String,
    /// Set in the immutable `OWNER@ID/REPO@ID` form.
    pub owner_id: Option<String>,
    pub repo_id: Option<String>,
    pub context: SubjectContext,
}

impl Subject {
    /// `repo:OWNER[@ID]/REPO[@ID]:CONTEXT`; `None` for other shapes.
    pub fn parse(sub: &str) -> Option<Subject> {
        let rest = sub.strip_prefix("repo:")?;
        let (repo, context) = rest.split_once(':')?;
        let (owner, name) = repo.split_once('/')?;
        let split_id = |s: &str| match s.split_once('@') {
            Some((n, id)) => (n.to_string(), Some(id.to_string())),
            None => (s.to_string(), None),
        };
        let ((owner, owner_id), (name, repo_id)) = (split_id(owner), split_id(name));
        let context = if let Some(env) = context.strip_prefix("environment:") {
            SubjectContext::Environment(env.into())
        } else if let Some(r) = context.strip_prefix("ref:") {
            SubjectContext::Ref(r.into())
        } else if context == "pull_request" {
            SubjectContext::PullRequest
        } else {
            SubjectContext::Other(context.into())
        };
        Some(Subject {
            repository: format!("{owner}/{name}"),
            owner,
            name,
            owner_id,
            repo_id,
            context,
        })
    }

    pub fn immutable(&self) -> bool {
        self.owner_id.is_some() || self.repo_id.is_some()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::OnceLock;

    /// One small key for every test: generation is the slow part.
    pub(crate) fn test_key() -> &'static RsaPrivateKey {
        static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
        KEY.get_or_init(|| RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 1024).unwrap())
    }

    fn jwks() -> Jwks {
        Jwks {
            keys: vec![Jwk {
                kid: "k1".into(),
                public: test_key().to_public_key(),
            }],
        }
    }

    #[test]
    fn sign_decode_verify_round_trip() {
        let claims = serde_json::json!({"sub": "repo:o/r:pull_request", "aud": "sts.amazonaws.com",
            "exp": 2_000_000_000, "nbf": 1_000_000_000});
        let token = sign_rs256(claims.as_object().unwrap(), "k1", test_key());
        let jwt = Jwt::decode(&token).unwrap();
        assert_eq!(jwt.header.alg, "RS256");
        assert_eq!(jwt.claim_str("sub"), Some("repo:o/r:pull_request"));
        assert_eq!(jwt.audiences(), vec!["sts.amazonaws.com"]);
        let published = Jwks::parse(&jwks().to_json().to_string()).unwrap();
        assert_eq!(jwt.verify(&published).unwrap(), "k1");
        let now = DateTime::from_timestamp(1_500_000_000, 0).unwrap();
        assert!(jwt.check_time(now, chrono::Duration::zero()).is_ok());
        let late = DateTime::from_timestamp(2_000_000_000, 0).unwrap();
        assert!(matches!(
            jwt.check_time(late, chrono::Duration::zero()),
            Err(JwtError::Expired(_))
        ));
        let early = DateTime::from_timestamp(999_999_000, 0).unwrap();
        assert!(matches!(
            jwt.check_time(early, chrono::Duration::zero()),
            Err(JwtError::NotYetValid(_))
        ));
        assert!(!format!("{jwt:?}").contains(token.rsplit('.').next().unwrap()));
    }

    #[test]
    fn tampered_claims_or_unknown_keys_fail() {
        let claims =
            serde_json::json!({"sub": "repo:o/r:ref:refs/heads/main", "exp": 2_000_000_000});
        let token = sign_rs256(claims.as_object().unwrap(), "k1", test_key());
        let forged_claims =
            URL_SAFE_NO_PAD.encode(r#"{"sub":"repo:evil/r:ref:refs/heads/main","exp":2000000000}"#);
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
        assert_eq!(
            Jwt::decode(&forged).unwrap().verify(&jwks()),
            Err(JwtError::BadSignature)
        );
        let other = sign_rs256(claims.as_object().unwrap(), "k2", test_key());
        assert!(matches!(
            Jwt::decode(&other).unwrap().verify(&jwks()),
            Err(JwtError::UnknownKey(_))
        ));
        assert!(matches!(Jwt::decode("a.b"), Err(JwtError::Malformed(_))));
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            parts[1]
        );
        assert!(matches!(
            Jwt::decode(&none).unwrap().verify(&jwks()),
            Err(JwtError::UnsupportedAlgorithm(_))
        ));
    }

    #[test]
    fn subjects_in_both_forms() {
        let s = Subject::parse("repo:octo-org/octo-repo:environment:prod").unwrap();
        assert_eq!(s.repository, "octo-org/octo-repo");
        assert_eq!(s.context, SubjectContext::Environment("prod".into()));
        assert!(!s.immutable());
        let s = Subject::parse("repo:octo-org@123/octo-repo@456:ref:refs/heads/main").unwrap();
        assert_eq!(
            (s.owner.as_str(), s.name.as_str()),
            ("octo-org", "octo-repo")
        );
        assert_eq!(s.owner_id.as_deref(), Some("123"));
        assert_eq!(s.repo_id.as_deref(), Some("456"));
        assert_eq!(s.context, SubjectContext::Ref("refs/heads/main".into()));
        assert_eq!(
            Subject::parse("repo:o/r:pull_request").unwrap().context,
            SubjectContext::PullRequest
        );
        assert_eq!(Subject::parse("system:serviceaccount:x:y"), None);
    }
}
