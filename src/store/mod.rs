//! Where credbroker keeps its secrets: the SSO token of each session, the
//! cached OIDC client registrations, and the role credentials it fetched.
//!
//! [`SecretStore`] is a blocking key/value store of secrets: the OS keychain
//! ([`keychain`], via `keyring-core`'s platform stores) or memory
//! ([`memory`], for tests and the demo). [`Vault`] is the typed, async face
//! the rest of the crate uses. It runs every store call on `spawn_blocking`,
//! because the keychain calls block on D-Bus round trips that must not hold
//! a runtime worker.
//!
//! Item keys carry only non-secret metadata (`sso-token/<session>`,
//! `registration/<region> <start url> <scopes>`, `role/<session>/<account>/<role>`);
//! values are JSON of the model types. A value that does not parse is treated
//! as absent, so nothing half-written is ever used.
//!
//! Keychains cannot list their items, so the vault keeps an index item naming
//! what it stored. Items are always written before the index and deleted
//! before their index entry, so a lost index update (two processes racing)
//! can leave a stale index entry but never loses a token; reading a token that
//! the index forgot puts it back.

pub mod keychain;
pub mod memory;

pub use keychain::{open_keychain, KeychainStore};
pub use memory::MemoryStore;

use crate::model::{ClientRegistration, RoleCredentials, Secret, SsoToken};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};

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
    /// Remove `key`; removing an absent key is not an error.
    fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// The item that lists what the vault stored (keychains cannot enumerate).
pub const INDEX_KEY: &str = "index";

/// The item key of a session's SSO token.
pub fn sso_token_key(session_key: &str) -> String {
    format!("sso-token/{session_key}")
}

/// The item key of a cached client registration.
pub fn registration_item_key(registration_key: &str) -> String {
    format!("registration/{registration_key}")
}

/// The item key of cached role credentials.
pub fn role_key(session_key: &str, account_id: &str, role_name: &str) -> String {
    format!("role/{session_key}/{account_id}/{role_name}")
}

/// One role credential entry in the index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct RoleEntry {
    session: String,
    account: String,
    role: String,
}

/// The index item: what the vault has stored, by structured key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Index {
    #[serde(default)]
    sessions: BTreeSet<String>,
    #[serde(default)]
    roles: BTreeSet<RoleEntry>,
    #[serde(default)]
    registrations: BTreeSet<String>,
}

/// How many times an index update is re-applied when another process
/// overwrote it between our write and our read-back.
const INDEX_ATTEMPTS: usize = 4;

/// Typed async access to what credbroker keeps in the store.
#[derive(Clone, Debug)]
pub struct Vault {
    store: Arc<dyn SecretStore>,
    /// Serializes index read-modify-write within this process.
    index_lock: Arc<tokio::sync::Mutex<()>>,
    /// Session keys known to be in the index (skips the self-heal read).
    indexed: Arc<Mutex<HashSet<String>>>,
}

impl Vault {
    pub fn new(store: Arc<dyn SecretStore>) -> Self {
        Vault {
            store,
            index_lock: Arc::new(tokio::sync::Mutex::new(())),
            indexed: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// A vault over a fresh in-memory store (tests, the demo).
    pub fn in_memory() -> Self {
        Vault::new(Arc::new(MemoryStore::default()))
    }

    /// Check that the store answers: reads (and on first use writes) a probe
    /// item, so a missing or locked keychain is reported before any sign-in.
    pub async fn probe(&self) -> Result<(), StoreError> {
        self.blocking(|store| {
            const PROBE: &str = "probe";
            if store.get(PROBE)?.is_none() {
                store.set(PROBE, &Secret::new("ok"))?;
            }
            Ok(())
        })
        .await
    }

    /// The SSO token of a session (`session_key`: the sso-session name, or
    /// the start URL of a legacy profile).
    pub async fn sso_token(&self, session_key: &str) -> Result<Option<SsoToken>, StoreError> {
        let token: Option<SsoToken> = self.get_json(sso_token_key(session_key)).await?;
        if token.is_some() && !self.is_known_indexed(session_key) {
            let key = session_key.to_owned();
            self.update_index(move |idx| idx.sessions.insert(key.clone()))
                .await?;
            self.mark_indexed(session_key);
        }
        Ok(token)
    }

    pub async fn put_sso_token(
        &self,
        session_key: &str,
        token: &SsoToken,
    ) -> Result<(), StoreError> {
        self.put_json(sso_token_key(session_key), token).await?;
        let key = session_key.to_owned();
        self.update_index(move |idx| idx.sessions.insert(key.clone()))
            .await?;
        self.mark_indexed(session_key);
        Ok(())
    }

    /// A cached client registration for this region, start URL and set of scopes/grants.
    pub async fn registration(
        &self,
        registration_key: &str,
    ) -> Result<Option<ClientRegistration>, StoreError> {
        self.get_json(registration_item_key(registration_key)).await
    }

    pub async fn put_registration(
        &self,
        registration_key: &str,
        reg: &ClientRegistration,
    ) -> Result<(), StoreError> {
        self.put_json(registration_item_key(registration_key), reg)
            .await?;
        let key = registration_key.to_owned();
        self.update_index(move |idx| idx.registrations.insert(key.clone()))
            .await
    }

    /// Forget a cached registration (expired, or rejected as `invalid_client`).
    pub async fn delete_registration(&self, registration_key: &str) -> Result<(), StoreError> {
        let item = registration_item_key(registration_key);
        self.blocking(move |store| store.delete(&item)).await?;
        let key = registration_key.to_owned();
        self.update_index(move |idx| idx.registrations.remove(&key))
            .await
    }

    pub async fn role_credentials(
        &self,
        session_key: &str,
        account_id: &str,
        role_name: &str,
    ) -> Result<Option<RoleCredentials>, StoreError> {
        self.get_json(role_key(session_key, account_id, role_name))
            .await
    }

    pub async fn put_role_credentials(
        &self,
        session_key: &str,
        account_id: &str,
        role_name: &str,
        creds: &RoleCredentials,
    ) -> Result<(), StoreError> {
        self.put_json(role_key(session_key, account_id, role_name), creds)
            .await?;
        let entry = RoleEntry {
            session: session_key.to_owned(),
            account: account_id.to_owned(),
            role: role_name.to_owned(),
        };
        self.update_index(move |idx| idx.roles.insert(entry.clone()))
            .await
    }

    /// Every session key that has a token stored.
    pub async fn sessions(&self) -> Result<Vec<String>, StoreError> {
        let index = self.blocking(|store| read_index(store)).await?;
        Ok(index.sessions.into_iter().collect())
    }

    /// Remove a session's token and every role credential cached under it.
    ///
    /// Role credentials whose index entry was lost to a concurrent writer
    /// cannot be found and stay until they expire (at most 12 hours).
    pub async fn delete_session(&self, session_key: &str) -> Result<(), StoreError> {
        let session = session_key.to_owned();
        let index = self.blocking(|store| read_index(store)).await?;
        let roles: Vec<RoleEntry> = index
            .roles
            .iter()
            .filter(|r| r.session == session)
            .cloned()
            .collect();
        let items: Vec<String> = roles
            .iter()
            .map(|r| role_key(&r.session, &r.account, &r.role))
            .chain(std::iter::once(sso_token_key(&session)))
            .collect();
        self.blocking(move |store| items.iter().try_for_each(|k| store.delete(k)))
            .await?;
        self.indexed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(session_key);
        self.update_index(move |idx| {
            let before = idx.roles.len();
            idx.roles.retain(|r| r.session != session);
            idx.sessions.remove(&session) | (idx.roles.len() != before)
        })
        .await
    }

    /// Run `f` against the store on the blocking pool.
    async fn blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn SecretStore) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| StoreError::Other(format!("keychain task failed: {e}")))?
    }

    async fn get_json<T: DeserializeOwned + Send + 'static>(
        &self,
        item: String,
    ) -> Result<Option<T>, StoreError> {
        self.blocking(move |store| Ok(store.get(&item)?.and_then(|v| parse_item(&item, &v))))
            .await
    }

    async fn put_json<T: Serialize>(&self, item: String, value: &T) -> Result<(), StoreError> {
        let json = serde_json::to_string(value)
            .map_err(|e| StoreError::Other(format!("cannot encode {item}: {e}")))?;
        let secret = Secret::new(json);
        self.blocking(move |store| store.set(&item, &secret)).await
    }

    /// Apply `change` to the index (it returns whether it changed anything)
    /// and write it back, re-reading to catch a concurrent writer.
    async fn update_index<F>(&self, change: F) -> Result<(), StoreError>
    where
        F: Fn(&mut Index) -> bool + Send + 'static,
    {
        let _guard = self.index_lock.lock().await;
        self.blocking(move |store| {
            for _ in 0..INDEX_ATTEMPTS {
                let mut index = read_index(store)?;
                if !change(&mut index) {
                    return Ok(());
                }
                write_index(store, &index)?;
            }
            tracing::warn!("the keychain index kept changing under us; it may be incomplete");
            Ok(())
        })
        .await
    }

    fn is_known_indexed(&self, session_key: &str) -> bool {
        self.indexed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(session_key)
    }

    fn mark_indexed(&self, session_key: &str) {
        self.indexed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(session_key.to_owned());
    }
}

/// Parse a stored value; anything unreadable counts as absent. The value is
/// never logged, only its key and the parse error's position.
fn parse_item<T: DeserializeOwned>(item: &str, value: &Secret) -> Option<T> {
    match serde_json::from_str(value.expose()) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(
                item,
                line = e.line(),
                column = e.column(),
                "ignoring an unreadable keychain item"
            );
            None
        }
    }
}

fn read_index(store: &dyn SecretStore) -> Result<Index, StoreError> {
    Ok(store
        .get(INDEX_KEY)?
        .and_then(|v| parse_item(INDEX_KEY, &v))
        .unwrap_or_default())
}

fn write_index(store: &dyn SecretStore, index: &Index) -> Result<(), StoreError> {
    let json = serde_json::to_string(index)
        .map_err(|e| StoreError::Other(format!("cannot encode the index: {e}")))?;
    store.set(INDEX_KEY, &Secret::new(json))
}

#[cfg(test)]
mod tests;
