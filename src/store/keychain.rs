//! The OS keychain as a [`SecretStore`]: Secret Service on Linux (pure-Rust
//! zbus backend, so no C library), Keychain on macOS, Credential Manager on
//! Windows, all through `keyring`.
//!
//! Every call here blocks (and on Linux starts its own runtime), so it must
//! run on a blocking thread; [`Vault`](super::Vault) does that. There is no
//! plaintext fallback: when no keychain answers, the error says how to start
//! one.

use super::{SecretStore, StoreError, Vault};
use crate::model::Secret;
use keyring::{Entry, Error as KeyringError};
use std::sync::Arc;

/// Environment variable naming the keychain service (tests, several brokers).
pub const SERVICE_ENV: &str = "CREDBROKER_KEYCHAIN_SERVICE";
/// The keychain service name unless [`SERVICE_ENV`] says otherwise.
pub const DEFAULT_SERVICE: &str = "credbroker";

/// Items under one keychain service; the item key is the keyring "user".
#[derive(Debug, Clone)]
pub struct KeychainStore {
    service: String,
}

impl KeychainStore {
    pub fn new(service: impl Into<String>) -> Self {
        KeychainStore {
            service: service.into(),
        }
    }

    /// The service the context names (`CREDBROKER_KEYCHAIN_SERVICE`), else
    /// `credbroker`.
    pub fn from_setting(service: Option<String>) -> Self {
        match service {
            Some(s) if !s.is_empty() => KeychainStore::new(s),
            _ => KeychainStore::new(DEFAULT_SERVICE),
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    fn entry(&self, key: &str) -> Result<Entry, StoreError> {
        Entry::new(&self.service, key).map_err(|e| map_error(key, e))
    }
}

impl SecretStore for KeychainStore {
    fn get(&self, key: &str) -> Result<Option<Secret>, StoreError> {
        match self.entry(key)?.get_password() {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(KeyringError::NoEntry) => Ok(None),
            // Two writers raced and left duplicates: any of them is a whole value.
            Err(KeyringError::Ambiguous(creds)) => {
                for cred in creds {
                    if let Ok(value) = cred.get_password() {
                        return Ok(Some(Secret::new(value)));
                    }
                }
                Ok(None)
            }
            Err(e) => Err(map_error(key, e)),
        }
    }

    fn set(&self, key: &str, value: &Secret) -> Result<(), StoreError> {
        let entry = self.entry(key)?;
        match entry.set_password(value.expose()) {
            Ok(()) => Ok(()),
            Err(KeyringError::Ambiguous(creds)) => {
                for cred in creds {
                    let _ = cred.delete_credential();
                }
                entry
                    .set_password(value.expose())
                    .map_err(|e| map_error(key, e))
            }
            Err(e) => Err(map_error(key, e)),
        }
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.entry(key)?.delete_credential() {
            Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
            Err(KeyringError::Ambiguous(creds)) => {
                for cred in creds {
                    cred.delete_credential().map_err(|e| map_error(key, e))?;
                }
                Ok(())
            }
            Err(e) => Err(map_error(key, e)),
        }
    }
}

/// Open the keychain vault and check once that it answers, so a missing or
/// locked keychain is reported up front with what to do about it.
pub async fn open_keychain(service: Option<String>) -> Result<Vault, StoreError> {
    let vault = Vault::new(Arc::new(KeychainStore::from_setting(service)));
    vault.probe().await?;
    Ok(vault)
}

/// Turn a keyring error into a [`StoreError`]. keyring's messages carry no
/// secret (values never appear in its errors), only the failing operation.
fn map_error(key: &str, err: KeyringError) -> StoreError {
    match err {
        KeyringError::NoStorageAccess(e) | KeyringError::PlatformFailure(e) => {
            StoreError::Unavailable(format!(
                "the OS keychain did not answer ({e}). {}",
                how_to_get_a_keychain()
            ))
        }
        other => StoreError::Other(format!("item {key}: {other}")),
    }
}

/// Advice for the platform when no keychain answers.
pub fn how_to_get_a_keychain() -> &'static str {
    if cfg!(target_os = "macos") {
        "Unlock the login keychain (Keychain Access) and try again."
    } else if cfg!(windows) {
        "Check that the Credential Manager service is running."
    } else {
        "credbroker keeps tokens only in a Secret Service keychain and never in a plain file. \
         Start one and unlock it: in a desktop session gnome-keyring or KeePassXC (with \
         Secret Service integration enabled); on a headless machine run credbroker inside \
         a D-Bus session with an unlocked keyring, e.g. \
         `dbus-run-session -- sh -c 'printf PASSWORD | gnome-keyring-daemon --unlock \
         --components=secrets >/dev/null; credbroker ...'`."
    }
}
