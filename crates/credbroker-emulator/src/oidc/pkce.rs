//! The authorization-code grant with PKCE (RFC 7636), as the AWS CLI uses
//! it since 2.22: first `GET /authorize` with a client id, a loopback
//! redirect URI, a state and an S256 code challenge is checked and held for
//! the consent page; then the person's decision redirects the browser to
//! `redirect_uri?code=..&state=..` (or `?error=access_denied`); finally
//! `CreateToken` with `grantType=authorization_code` exchanges the code once,
//! if `base64url(sha256(codeVerifier))` equals the challenge.
//!
//! Registered redirect URIs match a requested one exactly, or when both are
//! loopback `http` URIs that differ only in the port (RFC 8252 §7.3: the
//! client picks a free port at sign-in time).

use super::{
    required, CreateTokenRequest, Oidc, OidcError, PendingApproval, GRANT_AUTHORIZATION_CODE,
};
use crate::mint;
use base64::Engine;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// How long an authorize request or its code may wait for the next step.
const AUTHORIZATION_CODE_TTL_SECS: i64 = 300;

/// A PKCE `GET /authorize` request, from its query string.
#[derive(Debug, Default, Clone)]
pub struct AuthorizeRequest {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub state: Option<String>,
    pub code_challenge_method: Option<String>,
    pub code_challenge: Option<String>,
    pub scopes: Option<String>,
}

impl AuthorizeRequest {
    pub fn from_query(pairs: &[(String, String)]) -> Self {
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        AuthorizeRequest {
            response_type: get("response_type"),
            client_id: get("client_id"),
            redirect_uri: get("redirect_uri"),
            state: get("state"),
            code_challenge_method: get("code_challenge_method"),
            code_challenge: get("code_challenge"),
            scopes: get("scopes"),
        }
    }
}

#[derive(Debug)]
pub(super) struct PendingAuthorize {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    code_challenge: String,
    expires_at: DateTime<Utc>,
}

#[derive(Debug)]
pub(super) struct AuthorizationCode {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    expires_at: DateTime<Utc>,
}

impl Oidc {
    /// Check a PKCE authorize request and hold it for the approval page.
    /// Returns the request id the page's buttons post back.
    pub fn begin_authorize(
        &mut self,
        req: &AuthorizeRequest,
        now: DateTime<Utc>,
    ) -> Result<(String, PendingApproval), OidcError> {
        if req.response_type.as_deref() != Some("code") {
            return Err(OidcError::InvalidRequest(
                "response_type must be \"code\"".into(),
            ));
        }
        let client_id = required(&req.client_id, "client_id")?;
        let client = match self.clients.get(&client_id) {
            Some(c) if now < c.expires_at => c,
            _ => return Err(OidcError::InvalidClient("Unknown or expired client".into())),
        };
        if !client.allows(GRANT_AUTHORIZATION_CODE) {
            return Err(OidcError::UnauthorizedClient(
                "client is not registered for authorization_code".into(),
            ));
        }
        let redirect_uri = required(&req.redirect_uri, "redirect_uri")?;
        if !client
            .redirect_uris
            .iter()
            .any(|r| redirect_matches(r, &redirect_uri))
        {
            return Err(OidcError::InvalidRedirectUri(
                "redirect_uri is not registered for this client".into(),
            ));
        }
        if req.code_challenge_method.as_deref() != Some("S256") {
            return Err(OidcError::InvalidRequest(
                "code_challenge_method must be S256".into(),
            ));
        }
        let code_challenge = required(&req.code_challenge, "code_challenge")?;
        let approval = PendingApproval {
            user_code: String::new(),
            client_name: client.name.clone(),
            scopes: req
                .scopes
                .as_deref()
                .map(|s| {
                    s.split([' ', ','])
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_else(|| client.scopes.clone()),
        };
        let id = mint::token("", 32);
        self.authorize_requests.insert(
            id.clone(),
            PendingAuthorize {
                client_id,
                redirect_uri,
                state: req.state.clone(),
                code_challenge,
                expires_at: now + chrono::Duration::seconds(AUTHORIZATION_CODE_TTL_SECS),
            },
        );
        Ok((id, approval))
    }

    /// Approve or deny a held authorize request; the answer is the URL to
    /// redirect the browser to (`?code=..&state=..` or `?error=access_denied`).
    pub fn decide_authorize(
        &mut self,
        id: &str,
        approve: bool,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let pending = self.authorize_requests.remove(id)?;
        if now >= pending.expires_at {
            return None;
        }
        let mut query = form_urlencoded::Serializer::new(String::new());
        if approve {
            let code = mint::token("", 48);
            query.append_pair("code", &code);
            self.codes.insert(
                code,
                AuthorizationCode {
                    client_id: pending.client_id,
                    redirect_uri: pending.redirect_uri.clone(),
                    code_challenge: pending.code_challenge,
                    expires_at: now + chrono::Duration::seconds(AUTHORIZATION_CODE_TTL_SECS),
                },
            );
        } else {
            query.append_pair("error", "access_denied");
        }
        if let Some(state) = &pending.state {
            query.append_pair("state", state);
        }
        let sep = if pending.redirect_uri.contains('?') {
            '&'
        } else {
            '?'
        };
        Some(format!("{}{sep}{}", pending.redirect_uri, query.finish()))
    }

    pub(super) fn redeem_authorization_code(
        &mut self,
        req: &CreateTokenRequest,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, OidcError> {
        let code = required(&req.code, "code")?;
        let verifier = required(&req.code_verifier, "codeVerifier")?;
        let redirect_uri = required(&req.redirect_uri, "redirectUri")?;
        // A code is single-use whatever the outcome, as OAuth asks.
        let grant = self
            .codes
            .remove(&code)
            .ok_or_else(|| OidcError::InvalidGrant("Invalid authorization code".into()))?;
        if grant.client_id != client_id || now >= grant.expires_at {
            return Err(OidcError::InvalidGrant("Invalid authorization code".into()));
        }
        if grant.redirect_uri != redirect_uri {
            return Err(OidcError::InvalidGrant("redirectUri does not match".into()));
        }
        if !crate::sigv4::constant_time_eq(
            pkce_challenge(&verifier).as_bytes(),
            grant.code_challenge.as_bytes(),
        ) {
            return Err(OidcError::InvalidGrant(
                "codeVerifier does not match the code challenge".into(),
            ));
        }
        Ok(self.new_session())
    }
}

/// base64url(sha256(verifier)) without padding (RFC 7636 S256).
pub fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `http://HOST[:PORT]/PATH` with a loopback host -> (host, path).
pub(super) fn loopback(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let host = match authority.rfind(':') {
        Some(i) if !authority.ends_with(']') => &authority[..i],
        _ => authority,
    };
    matches!(host, "127.0.0.1" | "localhost" | "[::1]").then_some((host, path))
}

/// Exact match, or loopback URIs that differ only in the port (RFC 8252
/// §7.3: the client picks a free port at sign-in time).
fn redirect_matches(registered: &str, given: &str) -> bool {
    registered == given
        || matches!((loopback(registered), loopback(given)), (Some(a), Some(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::super::{RegisterClientRequest, GRANT_REFRESH_TOKEN, SCOPE_ACCOUNT_ACCESS};
    use super::*;
    use crate::EmulatorOptions;
    use std::time::Instant;

    fn options() -> EmulatorOptions {
        EmulatorOptions::default()
    }

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn pkce_code_exchange_checks_the_verifier() {
        let mut oidc = Oidc::default();
        let reg = oidc
            .register_client(
                RegisterClientRequest {
                    client_name: Some("cli".into()),
                    client_type: Some("public".into()),
                    scopes: vec![SCOPE_ACCOUNT_ACCESS.into()],
                    grant_types: vec![GRANT_AUTHORIZATION_CODE.into(), GRANT_REFRESH_TOKEN.into()],
                    redirect_uris: vec!["http://127.0.0.1/oauth/callback".into()],
                    issuer_url: None,
                },
                t0(),
                &options(),
            )
            .unwrap();
        let verifier = "v".repeat(64);
        let redirect = "http://127.0.0.1:4321/oauth/callback".to_owned();
        let code_for = |oidc: &mut Oidc| {
            let (id, _) = oidc
                .begin_authorize(
                    &AuthorizeRequest {
                        response_type: Some("code".into()),
                        client_id: Some(reg.client_id.clone()),
                        redirect_uri: Some(redirect.clone()),
                        state: Some("st".into()),
                        code_challenge_method: Some("S256".into()),
                        code_challenge: Some(pkce_challenge(&verifier)),
                        scopes: Some(SCOPE_ACCOUNT_ACCESS.into()),
                    },
                    t0(),
                )
                .unwrap();
            let url = oidc.decide_authorize(&id, true, t0()).unwrap();
            assert!(url.starts_with(&format!("{redirect}?code=")), "{url}");
            assert!(url.ends_with("&state=st"));
            url.split("code=")
                .nth(1)
                .unwrap()
                .split('&')
                .next()
                .unwrap()
                .to_owned()
        };
        let exchange = |oidc: &mut Oidc, code: &str, verifier: &str| {
            oidc.create_token(
                CreateTokenRequest {
                    client_id: Some(reg.client_id.clone()),
                    client_secret: Some(reg.client_secret.clone()),
                    grant_type: Some(GRANT_AUTHORIZATION_CODE.into()),
                    code: Some(code.into()),
                    redirect_uri: Some(redirect.clone()),
                    code_verifier: Some(verifier.into()),
                    ..Default::default()
                },
                t0(),
                Instant::now(),
                &options(),
            )
        };
        let code = code_for(&mut oidc);
        assert!(matches!(
            exchange(&mut oidc, &code, "wrong"),
            Err(OidcError::InvalidGrant(_))
        ));
        let code = code_for(&mut oidc);
        let token = exchange(&mut oidc, &code, &verifier).unwrap();
        assert!(token.refresh_token.is_some());
        assert!(matches!(
            exchange(&mut oidc, &code, &verifier),
            Err(OidcError::InvalidGrant(_))
        ));
    }

    #[test]
    fn known_pkce_vector() {
        // RFC 7636 appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn redirects_match_loopback_ports() {
        assert!(redirect_matches(
            "http://127.0.0.1/oauth/callback",
            "http://127.0.0.1:5555/oauth/callback"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/oauth/callback",
            "http://127.0.0.1:5555/other"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/oauth/callback",
            "http://evil.example/oauth/callback"
        ));
    }
}
