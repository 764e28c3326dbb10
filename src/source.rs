//! What every credential source shares, and nothing else (a leaf module:
//! it imports no other part of the broker): the error a source fails with,
//! the interface a source implements, and the value it serves.
//!
//! [`BrokerError`] is the one typed error of serving credentials. Its
//! variant decides everything a caller shows for it, in one place: the HTTP
//! status and error code the endpoint answers with ([`BrokerError::status`],
//! [`BrokerError::code`]), the socket's wire form (the same code and status,
//! and for `LoginRequired` the reason and the command apart, so the client
//! rebuilds the error without cutting text) and, through the CLI, the exit
//! code. The SSO session keeper, the web identity and the broker all fail
//! with it, and so depend on this module rather than on one another.

use crate::audit::Subject;
use crate::model::{RoleCredentials, Vended};
use std::future::Future;
use std::sync::Arc;

/// Why credentials could not be served. The variant decides the HTTP status
/// and the exit code, so callers match on it rather than on text.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// No such profile in the AWS config file (404); the message names the
    /// file looked in.
    #[error("{0}")]
    UnknownProfile(String),
    /// The profile exists but names no SSO account and role (404).
    #[error("{0}")]
    NotBrokered(String),
    /// The person must sign in; `command` is the exact command to run (403).
    #[error("{reason}; run `{command}`")]
    LoginRequired { reason: String, command: String },
    /// The AWS config file could not be read or parsed (400: not transient).
    #[error("{0}")]
    Config(String),
    /// Transient upstream trouble: throttling, 5xx, network (503).
    #[error("{0}")]
    Upstream(String),
    /// The keychain did not answer (503).
    #[error("{0}")]
    Keychain(String),
}

impl BrokerError {
    /// The HTTP status the endpoint answers with.
    pub fn status(&self) -> u16 {
        match self {
            BrokerError::UnknownProfile(_) | BrokerError::NotBrokered(_) => 404,
            BrokerError::LoginRequired { .. } => 403,
            BrokerError::Config(_) => 400,
            BrokerError::Upstream(_) | BrokerError::Keychain(_) => 503,
        }
    }

    /// The `code` field of the error body.
    pub fn code(&self) -> &'static str {
        match self {
            BrokerError::UnknownProfile(_) => "UnknownProfile",
            BrokerError::NotBrokered(_) => "ProfileNotBrokered",
            BrokerError::LoginRequired { .. } => "LoginRequired",
            BrokerError::Config(_) => "InvalidConfiguration",
            BrokerError::Upstream(_) => "UpstreamUnavailable",
            BrokerError::Keychain(_) => "KeychainUnavailable",
        }
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

/// The endpoint's answer to a credentials request that succeeded.
#[derive(Debug)]
pub struct Served {
    /// The container-credentials body (protocols.md §1).
    pub body: bytes::Bytes,
    /// Who the audit record is about, when the source knows the role.
    pub subject: Option<Arc<Subject>>,
}
