//! The pure parts of the authorization-code sign-in with PKCE (RFC 7636,
//! protocols.md §3), the AWS CLI's default since 2.22: no sockets, no clock.
//!
//! A sign-in first makes a secret code verifier and a `state`, then sends
//! the browser to the authorize URL carrying the verifier's S256 challenge;
//! the service redirects back to the loopback listener with `code` and
//! `state`; finally CreateToken exchanges the code together with the
//! verifier. Only the holder of the verifier can redeem the code, so a code
//! seen by another program on the machine (or in the browser history) is
//! useless; `state` ties the answer to this sign-in, so a page cannot feed
//! the listener a code of its own choosing.
//!
//! The authorize URL lives on the OIDC endpoint, which the SDK normally
//! resolves by itself. The sign-in takes it from the OIDC client it calls
//! ([`crate::sdk::OidcClient::url`]), which follows the SDKs' rule:
//! `AWS_ENDPOINT_URL_SSO_OIDC`, then `AWS_ENDPOINT_URL`, else
//! `https://oidc.{region}.amazonaws.com`, so the emulator needs no special
//! path here either.

use crate::model::Secret;
use base64::Engine;
use rand::Rng;
use sha2::{Digest, Sha256};

/// The characters a verifier may use (RFC 7636 §4.1 "unreserved").
pub const VERIFIER_ALPHABET: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
/// The verifier length the AWS CLI uses (RFC 7636 allows 43..=128).
pub const VERIFIER_LEN: usize = 64;
/// The path of the loopback listener's callback.
pub const CALLBACK_PATH: &str = "/oauth/callback";
/// The redirect URI registered with RegisterClient: loopback with no port,
/// so any port the listener gets at sign-in time matches (RFC 8252 §7.3).
pub const REGISTERED_REDIRECT_URI: &str = "http://127.0.0.1/oauth/callback";
/// The CreateToken grant type of this flow.
pub const AUTHORIZATION_CODE_GRANT: &str = "authorization_code";

/// The secrets of one PKCE sign-in: the verifier (kept until CreateToken)
/// and the `state` the callback must echo.
#[derive(Debug, Clone)]
pub struct PkceSecrets {
    pub verifier: Secret,
    pub state: Secret,
}

impl PkceSecrets {
    /// Fresh random values from the thread's CSPRNG.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        PkceSecrets {
            verifier: Secret::new(random_string(&mut rng, VERIFIER_ALPHABET, VERIFIER_LEN)),
            // Letters and digits only, so it reads the same in the URL.
            state: Secret::new(random_string(&mut rng, &VERIFIER_ALPHABET[..62], 32)),
        }
    }

    /// The S256 challenge of the verifier.
    pub fn challenge(&self) -> String {
        code_challenge(self.verifier.expose())
    }
}

fn random_string(rng: &mut impl Rng, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// base64url(sha256(verifier)) without padding (the S256 method).
pub fn code_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The redirect URI of a listener on `port`: what the authorize URL and
/// CreateToken carry.
pub fn redirect_uri(port: u16) -> String {
    format!("http://127.0.0.1:{port}{CALLBACK_PATH}")
}

/// The page the browser opens (protocols.md §3, parameters in the AWS CLI's
/// order; `scopes` is plural there, unlike OAuth's `scope`).
pub fn authorize_url(
    endpoint: &str,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
    scopes: &[String],
) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state)
        .append_pair("code_challenge_method", "S256");
    if !scopes.is_empty() {
        query.append_pair("scopes", &scopes.join(","));
    }
    query.append_pair("code_challenge", challenge);
    format!("{endpoint}/authorize?{}", query.finish())
}

/// What arrived at the callback, decided.
#[derive(Debug, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// The person approved: exchange this code.
    Code(Secret),
    /// The person (or the service) refused: `error` and its description.
    Refused {
        error: String,
        description: Option<String>,
    },
    /// Not an answer to this sign-in (missing or wrong `state`): ignore it
    /// and keep waiting for the real one.
    Foreign,
}

/// Decide a callback from its query string: the `state` must match before
/// anything else is believed, including an error.
pub fn check_callback(query: &str, expected_state: &Secret) -> CallbackOutcome {
    let mut code = None;
    let mut state = None;
    let mut error = None;
    let mut description = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match &*k {
            "code" => code = Some(v.into_owned()),
            "state" => state = Some(v.into_owned()),
            "error" => error = Some(v.into_owned()),
            "error_description" => description = Some(v.into_owned()),
            _ => {}
        }
    }
    let state_ok = state.is_some_and(|s| {
        subtle::ConstantTimeEq::ct_eq(s.as_bytes(), expected_state.expose().as_bytes()).into()
    });
    if !state_ok {
        return CallbackOutcome::Foreign;
    }
    match (error, code) {
        (Some(error), _) => CallbackOutcome::Refused { error, description },
        (None, Some(code)) if !code.is_empty() => CallbackOutcome::Code(Secret::new(code)),
        (None, _) => CallbackOutcome::Refused {
            error: "invalid_request".into(),
            description: Some("the callback carried no code".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_has_the_length_and_alphabet() {
        let a = PkceSecrets::generate();
        let b = PkceSecrets::generate();
        let v = a.verifier.expose();
        assert_eq!(v.len(), VERIFIER_LEN);
        assert!(v.bytes().all(|c| VERIFIER_ALPHABET.contains(&c)), "{v}");
        assert_ne!(v, b.verifier.expose());
        assert_ne!(a.state.expose(), b.state.expose());
        assert!(a.state.expose().bytes().all(|c| c.is_ascii_alphanumeric()));
        assert!(!format!("{a:?}").contains(v));
    }

    #[test]
    fn challenge_matches_rfc7636_appendix_b() {
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let c = PkceSecrets::generate().challenge();
        assert_eq!(c.len(), 43);
        assert!(!c.contains('=') && !c.contains('+') && !c.contains('/'));
    }

    #[test]
    fn authorize_url_has_the_aws_cli_shape() {
        let url = authorize_url(
            "https://oidc.eu-west-1.amazonaws.com",
            "cid",
            &redirect_uri(4242),
            "st",
            "ch",
            &["sso:account:access".to_owned()],
        );
        assert_eq!(
            url,
            "https://oidc.eu-west-1.amazonaws.com/authorize?response_type=code&client_id=cid\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A4242%2Foauth%2Fcallback&state=st\
             &code_challenge_method=S256&scopes=sso%3Aaccount%3Aaccess&code_challenge=ch"
        );
        let bare = authorize_url("http://e", "c", "r", "s", "x", &[]);
        assert!(!bare.contains("scopes"));
    }

    #[test]
    fn callback_needs_the_right_state() {
        let state = Secret::new("good-state");
        assert_eq!(
            check_callback("code=abc&state=good-state", &state),
            CallbackOutcome::Code(Secret::new("abc"))
        );
        assert_eq!(
            check_callback("code=abc&state=evil", &state),
            CallbackOutcome::Foreign
        );
        assert_eq!(check_callback("code=abc", &state), CallbackOutcome::Foreign);
        // An error without the right state is not believed either.
        assert_eq!(
            check_callback("error=access_denied", &state),
            CallbackOutcome::Foreign
        );
        assert_eq!(
            check_callback("error=access_denied&state=good-state", &state),
            CallbackOutcome::Refused {
                error: "access_denied".into(),
                description: None
            }
        );
        assert!(matches!(
            check_callback("state=good-state", &state),
            CallbackOutcome::Refused { .. }
        ));
    }
}
