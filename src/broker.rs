//! SKELETON (to be completed): turns a profile name into role credentials.

use crate::model::RoleCredentials;
use std::future::Future;

/// Why credentials could not be served. The variant decides the HTTP status
/// and the exit code, so callers match on it rather than on text.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// No such profile in the AWS config file (404).
    #[error("no profile named '{0}' in the AWS config file")]
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
}

/// Profile name -> role credentials: cache, then keychain, then the portal.
#[derive(Debug)]
pub struct Broker {
    vault: crate::store::Vault,
    config_path: std::path::PathBuf,
    clock: crate::clock::SharedClock,
}

impl Broker {
    pub fn new(
        vault: crate::store::Vault,
        config_path: std::path::PathBuf,
        clock: crate::clock::SharedClock,
    ) -> Self {
        Broker {
            vault,
            config_path,
            clock,
        }
    }
}

impl CredentialSource for Broker {
    async fn credentials(&self, _profile: &str) -> Result<RoleCredentials, BrokerError> {
        let _ = (&self.vault, &self.config_path, &self.clock);
        todo!()
    }
}
