//! SKELETON (to be completed): secret storage.
//!
//! `SecretStore` is a blocking key/value store of secrets: the OS keychain
//! (`keychain.rs`, via `keyring`) or memory (`memory.rs`, tests and the demo
//! without a keychain). `Vault` is the typed, async face the rest of the
//! crate uses; it runs keychain calls on `spawn_blocking`.

use crate::model::{ClientRegistration, RoleCredentials, Secret, SsoToken};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No keychain service answered; the message says how to get one.
    #[error("{0}")]
    Unavailable(String),
    #[error("keychain error: {0}")]
    Other(String),
}

/// A blocking store of secrets keyed by strings.
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    fn get(&self, key: &str) -> Result<Option<Secret>, StoreError>;
    fn set(&self, key: &str, value: &Secret) -> Result<(), StoreError>;
    fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// Typed async access to what credbroker keeps in the store.
#[derive(Clone, Debug)]
pub struct Vault {
    store: Arc<dyn SecretStore>,
}

impl Vault {
    pub fn new(store: Arc<dyn SecretStore>) -> Self {
        Vault { store }
    }

    /// The SSO token of a session (`session_key`: the sso-session name, or
    /// the start URL of a legacy profile).
    pub async fn sso_token(&self, _session_key: &str) -> Result<Option<SsoToken>, StoreError> {
        let _ = &self.store;
        todo!()
    }

    pub async fn put_sso_token(&self, _session_key: &str, _token: &SsoToken) -> Result<(), StoreError> {
        todo!()
    }

    /// A cached client registration for this region, start URL and set of scopes/grants.
    pub async fn registration(&self, _registration_key: &str) -> Result<Option<ClientRegistration>, StoreError> {
        todo!()
    }

    pub async fn put_registration(&self, _registration_key: &str, _reg: &ClientRegistration) -> Result<(), StoreError> {
        todo!()
    }

    pub async fn role_credentials(&self, _session_key: &str, _account_id: &str, _role_name: &str) -> Result<Option<RoleCredentials>, StoreError> {
        todo!()
    }

    pub async fn put_role_credentials(&self, _session_key: &str, _account_id: &str, _role_name: &str, _creds: &RoleCredentials) -> Result<(), StoreError> {
        todo!()
    }

    /// Every session key that has a token stored.
    pub async fn sessions(&self) -> Result<Vec<String>, StoreError> {
        todo!()
    }

    /// Remove a session's token and every role credential cached under it.
    pub async fn delete_session(&self, _session_key: &str) -> Result<(), StoreError> {
        todo!()
    }
}
