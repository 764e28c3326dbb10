//! IAM Identity Center: the device-code and PKCE sign-ins and the portal calls.
//!
//! - [`device`]: the device-code flow as a pure state machine (timing rules).
//! - [`oidc`]: the `aws-sdk-ssooidc` calls (RegisterClient,
//!   StartDeviceAuthorization, CreateToken) and their errors.
//! - [`portal`]: the `aws-sdk-sso` calls (GetRoleCredentials, listing, Logout).
//! - [`login`]: the sign-in a person runs, with the terminal UI kept apart.
//! - [`pkce`] (pure), [`callback`] (the loopback listener) and
//!   [`pkce_login`]: the authorization-code sign-in with PKCE.
//!
//! The clients come from the context's cache ([`crate::sdk::SdkClients`]),
//! one per region and endpoint, unsigned (these APIs take a token in the
//! request); the standard `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SSO_OIDC` and
//! `AWS_ENDPOINT_URL_SSO` variables of the context's environment point them
//! at another endpoint (the emulator) with no special code path.

pub mod callback;
pub mod device;
pub mod login;
pub mod oidc;
pub mod pkce;
pub mod pkce_login;
pub mod portal;

// The same smithy type behind both SDK crates' aliases.
use aws_sdk_sso::error::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub use crate::sdk::configured_endpoint;
use crate::source::Cause;

/// What a failed call said, for the person: one line without secrets (the
/// service's code and message, or why no answer came), with the SDK's own
/// error kept as its [`std::error::Error::source`] so the chain reaches
/// the person ([`crate::source::cli_failure`]) and the logs.
///
/// The kept error is the SDK error's source (the service's modelled error,
/// the connector's or the parser's error), never the `SdkError` itself:
/// that one holds the raw HTTP response. `Debug` shows the text only.
#[derive(Clone)]
pub struct Failure {
    detail: String,
    source: Option<Cause>,
}

impl Failure {
    /// A failure found by credbroker itself (no SDK error under it).
    pub fn new(detail: impl Into<String>) -> Self {
        Failure {
            detail: detail.into(),
            source: None,
        }
    }

    /// The one-line description.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl From<&str> for Failure {
    fn from(detail: &str) -> Self {
        Failure::new(detail)
    }
}

impl From<String> for Failure {
    fn from(detail: String) -> Self {
        Failure::new(detail)
    }
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Failure").field(&self.detail).finish()
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// How an SDK call failed, in the terms the callers decide on.
#[derive(Clone)]
pub(crate) struct CallFailure {
    pub kind: FailureKind,
    /// The error code normalized by [`normalize_code`] (service errors only).
    pub code: Option<String>,
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// A one-line description without secrets (codes and server messages).
    pub detail: String,
    /// The SDK error's source ([`Failure`] says which, and why not the
    /// `SdkError`).
    pub source: Option<Cause>,
}

/// The kind, code, status and text: never the kept error's `Debug`.
impl std::fmt::Debug for CallFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallFailure")
            .field("kind", &self.kind)
            .field("code", &self.code)
            .field("status", &self.status)
            .field("detail", &self.detail)
            .finish()
    }
}

impl CallFailure {
    /// The text and the kept error, for the caller's own error.
    pub(crate) fn failure(&self) -> Failure {
        Failure {
            detail: self.detail.clone(),
            source: self.source.clone(),
        }
    }

    /// Name the URL that was tried in a failure that got no answer: the
    /// SDK's error does not carry it, and "connection refused" alone does
    /// not say from where.
    pub(crate) fn at(mut self, url: &str) -> Self {
        if self.kind == FailureKind::Transient && self.status.is_none() {
            self.detail =
                self.detail
                    .replacen("no answer (", &format!("no answer from {url} ("), 1);
        }
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// The service answered with a modelled or recognisable error.
    Service,
    /// No usable answer: timeout, connection failure, unparseable 5xx.
    Transient,
    /// The request could not be built, or a non-5xx answer made no sense.
    Other,
}

/// `AuthorizationPendingException`, `authorization_pending` and
/// `AuthorizationPending` all become `authorizationpending`.
pub(crate) fn normalize_code(code: &str) -> String {
    let lower = code.to_ascii_lowercase().replace('_', "");
    let trimmed = lower.strip_suffix("exception").unwrap_or(&lower);
    trimmed.to_owned()
}

/// What of a failed SDK call is kept as a cause: its source (the service's
/// modelled error, the connector's or the parser's error), never the
/// `SdkError`, which holds the raw response (see [`Failure`]).
pub(crate) fn sdk_cause<E>(err: SdkError<E>) -> Option<Cause>
where
    E: std::error::Error + Send + Sync + 'static,
{
    err.into_source().ok().map(Cause::from)
}

/// [`classify`], keeping the SDK error's source (see [`sdk_cause`]).
pub(crate) fn classify_keeping<E>(err: SdkError<E>) -> CallFailure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut failure = classify(&err);
    failure.source = sdk_cause(err);
    failure
}

/// Sort a failed SDK call by what the caller should do (no source kept).
pub(crate) fn classify<E>(err: &SdkError<E>) -> CallFailure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    match err {
        SdkError::ServiceError(ctx) => {
            let e = ctx.err();
            let code = e.code().map(normalize_code);
            let detail = match (e.code(), e.message()) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.to_owned(),
                (None, Some(m)) => m.to_owned(),
                (None, None) => format!("HTTP {}", status.unwrap_or_default()),
            };
            CallFailure {
                kind: FailureKind::Service,
                code,
                status,
                detail,
                source: None,
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            // One sentence for the person; the SDK's full chain at -vv.
            tracing::debug!(error = %DisplayErrorContext(err), "the request got no answer");
            CallFailure {
                kind: FailureKind::Transient,
                code: None,
                status,
                detail: unreachable_sentence(err),
                source: None,
            }
        }
        // Never `DisplayErrorContext` here: it appends the error's `Debug`,
        // which holds the raw response. The parser's error is the source.
        SdkError::ResponseError(_) => CallFailure {
            kind: match status {
                Some(s) if s < 500 && s != 429 => FailureKind::Other,
                _ => FailureKind::Transient,
            },
            code: None,
            status,
            detail: match status {
                Some(s) => format!("an answer that could not be read (HTTP {s})"),
                None => "an answer that could not be read".to_string(),
            },
            source: None,
        },
        _ => CallFailure {
            kind: FailureKind::Other,
            code: None,
            status,
            detail: "the request could not be made".to_string(),
            source: None,
        },
    }
}

/// "no answer (connection refused); check the network, or the endpoint
/// AWS_ENDPOINT_URL* points at": the cause found in the error's sources.
fn unreachable_sentence(err: &(dyn std::error::Error + 'static)) -> String {
    let cause = cause_of(err);
    format!(
        "no answer ({cause}); check the network connection, a proxy, or the endpoint that \
         AWS_ENDPOINT_URL* points at, then try again"
    )
}

/// The first recognisable cause in `err` and its sources.
fn cause_of(err: &(dyn std::error::Error + 'static)) -> &'static str {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut texts = String::new();
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused",
                std::io::ErrorKind::TimedOut => return "timed out",
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
                    return "connection dropped"
                }
                _ => {}
            }
        }
        texts.push_str(&e.to_string().to_ascii_lowercase());
        texts.push(' ');
        next = e.source();
    }
    let has = |words: &[&str]| words.iter().any(|w| texts.contains(w));
    if has(&["connection refused"]) {
        "connection refused"
    } else if has(&[
        "dns error",
        "failed to lookup address",
        "name or service not known",
    ]) {
        "the host name did not resolve (DNS)"
    } else if has(&["certificate", "tls", "handshake"]) {
        "TLS failed: the certificate was not accepted"
    } else if has(&["timed out", "timeout"]) {
        "timed out"
    } else if has(&[
        "connection reset",
        "connection closed",
        "broken pipe",
        "incomplete message",
    ]) {
        "connection dropped"
    } else {
        "the connection failed"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_failure_with_no_answer_names_the_url_tried() {
        let failure = CallFailure {
            kind: FailureKind::Transient,
            code: None,
            status: None,
            detail: "no answer (connection refused); check the network".into(),
            source: None,
        };
        assert_eq!(
            failure.clone().at("https://portal.sso.eu-west-1.amazonaws.com").detail,
            "no answer from https://portal.sso.eu-west-1.amazonaws.com (connection refused); check the network"
        );
        let answered = CallFailure {
            status: Some(503),
            ..failure
        };
        assert!(!answered.at("https://x").detail.contains("https://x"));
    }

    use super::{cause_of, normalize_code, CallFailure, FailureKind};

    #[test]
    fn causes_are_named_from_the_error_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("dispatch failure")]
        struct Outer(#[source] std::io::Error);
        let refused = Outer(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(cause_of(&refused), "connection refused");
        let dns = std::io::Error::other("dns error: failed to lookup address information");
        assert_eq!(cause_of(&dns), "the host name did not resolve (DNS)");
        let tls = std::io::Error::other("invalid peer certificate: UnknownIssuer");
        assert!(cause_of(&tls).starts_with("TLS"));
    }

    #[test]
    fn codes_normalize_across_spellings() {
        for c in [
            "AuthorizationPendingException",
            "authorization_pending",
            "AuthorizationPending",
        ] {
            assert_eq!(normalize_code(c), "authorizationpending");
        }
        assert_eq!(normalize_code("InvalidClientException"), "invalidclient");
    }
}
