//! What every credential source shares, and nothing else (a leaf module:
//! it imports no other part of the broker): the error a source fails with,
//! the interface a source implements, and the value it serves.
//!
//! [`BrokerError`] is the one typed error of serving credentials. Its
//! [`ErrorKind`] decides everything a caller shows for it, in one place:
//! the HTTP status and error code the endpoint answers with
//! ([`ErrorKind::status`], [`ErrorKind::code`]), the socket's wire form
//! (the same code and status, with the message, the causes and the hint
//! apart, so the client rebuilds the error without cutting text) and,
//! through [`cli_failure`], the exit code. A request that outlives its
//! deadline is one more kind ([`ErrorKind::Timeout`],
//! [`BrokerError::timed_out`]), so the endpoint and the socket answer it
//! alike.
//!
//! The message says what failed in credbroker's terms; the error it was
//! made from (SDK, I/O, keychain) is kept as its
//! [`std::error::Error::source`] and never copied into the message. How the
//! chain is shown is decided in one place too, the `render` module:
//! [`BrokerError::causes`] (one line per distinct cause),
//! [`BrokerError::summary`] (one line, for the endpoint's JSON `message`,
//! which is all an SDK shows) and [`cli_failure`] (the message, a `caused
//! by:` line per cause, then the hint). The SSO session keeper, the web
//! identity and the broker all fail with it, and so depend on this module
//! rather than on one another.

use crate::audit::Subject;
use crate::model::{RoleCredentials, Vended};
use std::future::Future;
use std::sync::Arc;

mod render;
pub use render::cli_failure;

/// What kind of failure a [`BrokerError`] is. The kind alone decides the
/// HTTP status, the error code (endpoint and socket alike) and the exit
/// code, so callers match on it rather than on text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No such profile in the AWS config file (404); the message names the
    /// file looked in.
    UnknownProfile,
    /// The profile exists but names no SSO account and role (404).
    NotBrokered,
    /// The person must sign in; the hint is the exact command to run (403).
    LoginRequired,
    /// The AWS config file could not be read or parsed (400: not transient).
    Config,
    /// Transient upstream trouble: throttling, 5xx, network (503).
    Upstream,
    /// The keychain did not answer (503).
    Keychain,
    /// The credentials took longer than the request's deadline (503): the
    /// endpoint and the socket give up on the wait, not on the fetch.
    Timeout,
}

impl ErrorKind {
    /// Every kind, for tests that must cover them all.
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::UnknownProfile,
        ErrorKind::NotBrokered,
        ErrorKind::LoginRequired,
        ErrorKind::Config,
        ErrorKind::Upstream,
        ErrorKind::Keychain,
        ErrorKind::Timeout,
    ];

    /// The HTTP status the endpoint answers with, and the socket carries.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::UnknownProfile | ErrorKind::NotBrokered => 404,
            ErrorKind::LoginRequired => 403,
            ErrorKind::Config => 400,
            ErrorKind::Upstream | ErrorKind::Keychain | ErrorKind::Timeout => 503,
        }
    }

    /// The `code` field of the endpoint's error body and of the socket's
    /// error reply.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::UnknownProfile => "UnknownProfile",
            ErrorKind::NotBrokered => "ProfileNotBrokered",
            ErrorKind::LoginRequired => "LoginRequired",
            ErrorKind::Config => "InvalidConfiguration",
            ErrorKind::Upstream => "UpstreamUnavailable",
            ErrorKind::Keychain => "KeychainUnavailable",
            ErrorKind::Timeout => "UpstreamTimeout",
        }
    }

    /// The exit code of a CLI command that failed with this kind: 3 when
    /// the person must sign in first, so scripts can tell; 1 otherwise.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::LoginRequired => 3,
            _ => 1,
        }
    }

    /// The kind a `code` names, the inverse of [`ErrorKind::code`]; also
    /// reads the socket's own request-error codes (`InvalidProfileName`,
    /// `BadRequest`). An unknown code is taken as passing trouble.
    pub fn from_code(code: &str) -> ErrorKind {
        match code {
            "UnknownProfile" => ErrorKind::UnknownProfile,
            "ProfileNotBrokered" | "InvalidProfileName" => ErrorKind::NotBrokered,
            "LoginRequired" => ErrorKind::LoginRequired,
            "InvalidConfiguration" | "BadRequest" => ErrorKind::Config,
            "KeychainUnavailable" => ErrorKind::Keychain,
            "UpstreamTimeout" => ErrorKind::Timeout,
            _ => ErrorKind::Upstream,
        }
    }
}

/// The underlying error a [`BrokerError`] was made from.
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Why credentials could not be served: a kind, the message shown to the
/// person (what failed, in credbroker's terms), a hint (for
/// `LoginRequired`, the command to run) and the underlying error where
/// there is one, returned by [`std::error::Error::source`] so `{:#}`, logs
/// and [`cli_failure`] show the chain. `Display` is the message and the
/// hint; the causes are shown apart ([`BrokerError::causes`]).
///
/// Neither the message nor a cause's `Display` may hold a secret: a cause
/// is only ever an error whose text is safe to show (an SDK error shows the
/// service's code and message, never the raw response).
#[derive(Clone)]
pub struct BrokerError {
    kind: ErrorKind,
    message: String,
    hint: Option<String>,
    source: Option<Cause>,
}

impl BrokerError {
    /// An error of `kind` with `message` and no hint or cause.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        BrokerError {
            kind,
            message: message.into(),
            hint: None,
            source: None,
        }
    }

    /// See [`ErrorKind::UnknownProfile`].
    pub fn unknown_profile(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::UnknownProfile, message)
    }

    /// See [`ErrorKind::NotBrokered`].
    pub fn not_brokered(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotBrokered, message)
    }

    /// See [`ErrorKind::Config`].
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    /// See [`ErrorKind::Upstream`].
    pub fn upstream(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Upstream, message)
    }

    /// See [`ErrorKind::Keychain`].
    pub fn keychain(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Keychain, message)
    }

    /// The request's deadline passed before the credentials came
    /// ([`ErrorKind::Timeout`]); the endpoint and the socket both answer it.
    pub fn timed_out() -> Self {
        Self::new(
            ErrorKind::Timeout,
            "fetching credentials took too long; try again",
        )
    }

    /// The person must sign in: `reason` says why, `command` what to run.
    pub fn login_required(reason: impl Into<String>, command: impl Into<String>) -> Self {
        Self::new(ErrorKind::LoginRequired, reason).with_hint(command)
    }

    /// The same error with `hint` (what to do next).
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The same error, keeping `cause` as its [`std::error::Error::source`].
    pub fn with_source(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(cause));
        self
    }

    /// The same error, keeping an already shared cause.
    pub fn with_cause(mut self, cause: Option<Cause>) -> Self {
        self.source = cause;
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message without the hint (for `LoginRequired`, the reason).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What to do next (for `LoginRequired`, the command to run).
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// The underlying error, shared, to carry over to a rebuilt error.
    pub fn cause(&self) -> Option<&Cause> {
        self.source.as_ref()
    }

    /// The HTTP status the endpoint answers with ([`ErrorKind::status`]).
    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    /// The `code` field of the error body ([`ErrorKind::code`]).
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    pub fn is(&self, kind: ErrorKind) -> bool {
        self.kind == kind
    }
}

/// Shows the causes by their `Display` only: an SDK error's `Debug` holds
/// the raw HTTP response, which is never logged.
impl std::fmt::Debug for BrokerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerError")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("hint", &self.hint)
            .field("causes", &self.causes())
            .finish()
    }
}

impl std::fmt::Display for BrokerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "; run `{hint}`")?;
        }
        Ok(())
    }
}

impl std::error::Error for BrokerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Anything that can hand out credentials for a profile: the broker, or a
/// fixed table in tests of the endpoint.
pub trait CredentialSource: Send + Sync + 'static {
    fn credentials(
        &self,
        profile: &str,
    ) -> impl Future<Output = Result<RoleCredentials, BrokerError>> + Send;

    /// The account id and role name `profile` stands for, for the audit
    /// trail ([`crate::audit`]); `None` when unknown.
    fn role_of(&self, _profile: &str) -> Option<(String, String)> {
        None
    }

    /// What the endpoint sends for `profile` when it can answer at once from
    /// memory; `None` sends the request down [`CredentialSource::serve`].
    /// The endpoint's hot path: no future is built (the broker's is several
    /// kilobytes, moved on every poll).
    fn cached(&self, _profile: &str) -> Option<Served> {
        None
    }

    /// [`CredentialSource::cached`] for a caller that keeps the answer
    /// (each endpoint connection does) and asks [`CredentialSource::is_fresh`]
    /// before using it again, instead of looking it up on every request:
    /// a lookup touches locks and reference counts every worker shares, a
    /// kept answer only what its connection owns. `None` (the default):
    /// nothing may be kept, ask again every time.
    fn cached_to_keep(&self, _profile: &str) -> Option<(Served, Freshness)> {
        None
    }

    /// Whether an answer kept from [`CredentialSource::cached_to_keep`] may
    /// still be served as it is. Must touch no lock and write no shared
    /// memory: it runs on every request of every connection.
    fn is_fresh(&self, _freshness: &Freshness) -> bool {
        false
    }

    /// What the endpoint sends for `profile`: the response body, and the
    /// role for the audit trail. Sources that keep no body make it here.
    fn serve(&self, profile: &str) -> impl Future<Output = Result<Served, BrokerError>> + Send {
        async move {
            let credentials = self.credentials(profile).await?;
            Ok(Served {
                body: Vended::new(credentials).body(),
                subject: None,
            })
        }
    }
}

/// How long a kept answer stays good: while the source's epoch (bumped on
/// every change of what it serves: new credentials, a logout, a new parse
/// of the config) is the one it was taken at, its credentials are
/// servable, and the source needs no look at its config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    pub epoch: u64,
    /// The credentials are servable before this time (the source's clock).
    pub servable_until: chrono::DateTime<chrono::Utc>,
    /// Look the profile up again from this instant on.
    pub recheck_at: std::time::Instant,
}

/// The endpoint's answer to a credentials request that succeeded.
#[derive(Debug)]
pub struct Served {
    /// The container-credentials body (protocols.md §1).
    pub body: bytes::Bytes,
    /// Who the audit record is about, when the source knows the role.
    pub subject: Option<Arc<Subject>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn an_error_made_from_an_io_error_keeps_it_as_its_source() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let err = BrokerError::config("cannot read /t").with_source(io);
        assert_eq!(err.to_string(), "cannot read /t");
        let cause = err.source().expect("the cause is kept");
        let io = cause
            .downcast_ref::<std::io::Error>()
            .expect("an io::Error");
        assert_eq!(io.kind(), std::io::ErrorKind::PermissionDenied);
        // A clone (the single flight hands one to every waiter) keeps it too.
        assert!(err.clone().source().is_some());
        // anyhow's alternate form walks the chain, each text once.
        let shown = format!("{:#}", anyhow::Error::new(err));
        assert_eq!(shown, "cannot read /t: denied");
    }

    type StsError = aws_sdk_sts::error::SdkError<
        aws_sdk_sts::operation::assume_role::AssumeRoleError,
        aws_sdk_sts::config::http::HttpResponse,
    >;

    #[test]
    fn an_sdk_error_is_kept_and_its_chain_walked() {
        let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out");
        let sdk = StsError::timeout_error(io);
        let err = BrokerError::upstream("STS did not answer").with_source(sdk);
        let cause = err.source().expect("the cause is kept");
        assert!(cause.downcast_ref::<StsError>().is_some(), "{cause}");
        let deepest = std::iter::successors(Some(cause), |e| (*e).source())
            .last()
            .unwrap();
        assert!(
            deepest.downcast_ref::<std::io::Error>().is_some(),
            "{deepest}"
        );
        assert!(format!("{err:?}").contains("STS did not answer"));
        assert_eq!(err.causes(), ["request has timed out", "connect timed out"]);
    }

    #[test]
    fn no_cause_no_source_and_the_hint_is_shown_after_the_message() {
        let err = BrokerError::login_required("expired", "credbroker login --sso-session corp");
        assert!(err.source().is_none());
        assert_eq!(
            err.to_string(),
            "expired; run `credbroker login --sso-session corp`"
        );
        assert_eq!(err.status(), 403);
        assert_eq!(err.code(), "LoginRequired");
    }

    #[test]
    fn a_timeout_is_a_kind_of_its_own() {
        let err = BrokerError::timed_out();
        assert_eq!((err.status(), err.code()), (503, "UpstreamTimeout"));
        assert!(err.is(ErrorKind::Timeout));
        assert_eq!(err.kind().exit_code(), 1);
    }

    #[test]
    fn every_code_reads_back_as_its_kind() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_code(kind.code()), kind);
        }
    }
}
