//! The OS keychain as a [`SecretStore`]: Secret Service on Linux and the
//! BSDs, Keychain on macOS, Credential Manager on Windows, each through its
//! `keyring-core` credential store.
//!
//! Why a held connection: opening the Secret Service costs a D-Bus
//! connection, a session and its Diffie-Hellman exchange. `keyring` 3 paid
//! that on every item access, and a cold credential fetch does several.
//! The store here is opened once (on first use, which [`open_keychain`]'s
//! probe makes the start of the process) and shared by every clone of the
//! [`KeychainStore`], so a daemon keeps one connection and one session for
//! its life. When the keychain service restarts under it, the old session
//! is gone: the first call that fails that way reopens the store once and
//! retries, so the daemon goes on without a restart of its own.
//!
//! Every call here blocks (the Secret Service store serializes its D-Bus
//! calls behind its own mutex), so it must run on a blocking thread;
//! [`Vault`](super::Vault) does that. There is no plaintext fallback: when
//! no keychain answers, the error says how to start one.

use super::{SecretStore, StoreError, Vault};
use crate::model::Secret;
use keyring_core::api::CredentialStore;
use keyring_core::{Entry, Error as KeyringError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

/// Environment variable naming the keychain service (tests, several brokers).
pub const SERVICE_ENV: &str = "CREDBROKER_KEYCHAIN_SERVICE";
/// The keychain service name unless [`SERVICE_ENV`] says otherwise.
pub const DEFAULT_SERVICE: &str = "credbroker";

/// Items under one keychain service; the item key is the keyring "user".
///
/// Clones share one open store (one connection and session).
#[derive(Clone)]
pub struct KeychainStore {
    service: String,
    open: Arc<Mutex<Option<Arc<CredentialStore>>>>,
}

impl std::fmt::Debug for KeychainStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeychainStore")
            .field("service", &self.service)
            .field("open", &self.lock().is_some())
            .finish()
    }
}

impl KeychainStore {
    /// A store for `service`; nothing is opened until the first call.
    pub fn new(service: impl Into<String>) -> Self {
        KeychainStore {
            service: service.into(),
            open: Arc::new(Mutex::new(None)),
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Arc<CredentialStore>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The open store, opening it if this is the first call.
    fn current(&self, key: &str) -> Result<Arc<CredentialStore>, StoreError> {
        let mut open = self.lock();
        if let Some(store) = open.as_ref() {
            return Ok(store.clone());
        }
        let store = open_platform_store().map_err(|e| map_error(key, e))?;
        *open = Some(store.clone());
        Ok(store)
    }

    /// Replace `stale` with a freshly opened store, unless another thread
    /// already did (then use theirs, so one restart costs one reopen).
    fn reopen(
        &self,
        stale: &Arc<CredentialStore>,
        key: &str,
    ) -> Result<Arc<CredentialStore>, StoreError> {
        let mut open = self.lock();
        if let Some(store) = open.as_ref() {
            if !Arc::ptr_eq(store, stale) {
                return Ok(store.clone());
            }
        }
        *open = None;
        let store = open_platform_store().map_err(|e| map_error(key, e))?;
        *open = Some(store.clone());
        Ok(store)
    }

    /// Run `op` on the entry for `key`; when the keychain service restarted
    /// since the store was opened, reopen it once and run `op` again. Every
    /// operation here is idempotent (set replaces, delete of nothing is
    /// fine), so the retry cannot double anything.
    fn with_entry<T>(
        &self,
        key: &str,
        op: impl Fn(&Entry) -> Result<T, KeyringError>,
    ) -> Result<T, StoreError> {
        let store = self.current(key)?;
        match self.entry(&store, key).and_then(|e| op(&e)) {
            Err(err) if is_lost_session(&err) => {
                tracing::info!(
                    error = %err,
                    "the keychain service went away; reopening the keychain session"
                );
                let store = self.reopen(&store, key)?;
                self.entry(&store, key)
                    .and_then(|e| op(&e))
                    .map_err(|e| map_error(key, e))
            }
            other => other.map_err(|e| map_error(key, e)),
        }
    }

    fn entry(&self, store: &Arc<CredentialStore>, key: &str) -> Result<Entry, KeyringError> {
        match entry_modifiers() {
            Some(mods) => Entry::new_in_store_with_modifiers(store, &self.service, key, &mods),
            None => Entry::new_in_store(store, &self.service, key),
        }
    }
}

impl SecretStore for KeychainStore {
    fn get(&self, key: &str) -> Result<Option<Secret>, StoreError> {
        self.with_entry(key, |entry| match read_secret(entry) {
            Ok(value) => Ok(value),
            Err(KeyringError::NoEntry) => Ok(None),
            // Two writers raced and left duplicates: any of them is a whole value.
            Err(KeyringError::Ambiguous(entries)) => {
                for entry in entries {
                    if let Ok(Some(value)) = read_secret(&entry) {
                        return Ok(Some(value));
                    }
                }
                Ok(None)
            }
            Err(e) => Err(e),
        })
    }

    fn set(&self, key: &str, value: &Secret) -> Result<(), StoreError> {
        let bytes = value.expose().as_bytes();
        self.with_entry(key, |entry| match entry.set_secret(bytes) {
            Err(KeyringError::Ambiguous(entries)) => {
                for duplicate in entries {
                    let _ = duplicate.delete_credential();
                }
                entry.set_secret(bytes)
            }
            other => other,
        })
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.with_entry(key, |entry| match entry.delete_credential() {
            Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
            Err(KeyringError::Ambiguous(entries)) => {
                entries
                    .iter()
                    .try_for_each(|duplicate| match duplicate.delete_credential() {
                        Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
                        Err(e) => Err(e),
                    })
            }
            Err(e) => Err(e),
        })
    }
}

/// The stored value, zeroized wherever it is dropped. A value that is not
/// UTF-8 is not one credbroker wrote: it reads as absent, like any value
/// that does not parse.
fn read_secret(entry: &Entry) -> Result<Option<Secret>, KeyringError> {
    let mut bytes = Zeroizing::new(entry.get_secret()?);
    match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => Ok(Some(Secret::new(text))),
        Err(e) => {
            drop(Zeroizing::new(e.into_bytes()));
            tracing::warn!("ignoring a keychain item that is not UTF-8");
            Ok(None)
        }
    }
}

/// Open the platform's credential store: on Linux one D-Bus connection and
/// one encrypted (DH) Secret Service session.
fn open_platform_store() -> Result<Arc<CredentialStore>, KeyringError> {
    #[cfg(all(
        unix,
        not(any(target_os = "macos", target_os = "ios", target_os = "android"))
    ))]
    let store: Arc<CredentialStore> = zbus_secret_service_keyring_store::Store::new()?;
    #[cfg(target_os = "macos")]
    let store: Arc<CredentialStore> = apple_native_keyring_store::keychain::Store::new()?;
    #[cfg(windows)]
    let store: Arc<CredentialStore> = windows_native_keyring_store::Store::new()?;
    #[cfg(not(any(
        windows,
        target_os = "macos",
        all(
            unix,
            not(any(target_os = "macos", target_os = "ios", target_os = "android"))
        )
    )))]
    let store: Arc<CredentialStore> = {
        return Err(KeyringError::NotSupportedByStore(
            "credbroker has no keychain for this platform".into(),
        ));
    };
    Ok(store)
}

/// On the Secret Service, items go in the default collection and carry
/// `target=default`, as the items `keyring` 3 wrote: both find each other's.
fn entry_modifiers() -> Option<HashMap<&'static str, &'static str>> {
    if cfg!(all(
        unix,
        not(any(
            target_os = "macos",
            target_os = "ios",
            target_os = "android"
        ))
    )) {
        Some(HashMap::from([("target", "default")]))
    } else {
        None
    }
}

/// Whether `err` says the session or connection the store holds is gone
/// (the keychain service restarted or dropped us), so reopening can help.
///
/// A restarted gnome-keyring answers a call naming the session its
/// predecessor opened with `org.freedesktop.Secret.Error.NoSession` ("The
/// session does not exist", as `tests/keychain_restart.rs` sees); a service
/// that is gone and not yet back gives `ServiceUnknown` or no reply, and a
/// connection whose bus went away an I/O error. Locked or refused items are
/// `NoStorageAccess` and are not retried.
fn is_lost_session(err: &KeyringError) -> bool {
    match err {
        KeyringError::PlatformFailure(e) => is_lost_session_message(&error_chain(e.as_ref())),
        _ => false,
    }
}

fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// The D-Bus error names and I/O failures that mean a lost session or
/// connection (see [`is_lost_session`]).
pub(crate) fn is_lost_session_message(text: &str) -> bool {
    const LOST: &[&str] = &[
        "org.freedesktop.DBus.Error.UnknownObject",
        "org.freedesktop.DBus.Error.UnknownMethod",
        "org.freedesktop.DBus.Error.ServiceUnknown",
        "org.freedesktop.DBus.Error.NoReply",
        "org.freedesktop.DBus.Error.Disconnected",
        "org.freedesktop.Secret.Error.NoSession",
        "No such object",
        "Broken pipe",
        "Connection reset",
        "connection closed",
        "Input/output error",
    ];
    LOST.iter().any(|name| text.contains(name))
}

/// Open the keychain vault and check once that it answers, so a missing or
/// locked keychain is reported up front with what to do about it. The probe
/// also opens the keychain session every later call reuses.
pub async fn open_keychain(service: Option<String>) -> Result<Vault, StoreError> {
    let vault = Vault::new(Arc::new(KeychainStore::from_setting(service)));
    vault.probe().await?;
    Ok(vault)
}

/// Turn a keyring error into a [`StoreError`]. Store errors carry no secret
/// (values never appear in them), only the failing operation; the raw bytes
/// some variants carry are never formatted.
fn map_error(key: &str, err: KeyringError) -> StoreError {
    match err {
        KeyringError::NoStorageAccess(e) | KeyringError::PlatformFailure(e) => {
            StoreError::Unavailable(format!(
                "the OS keychain did not answer ({e}). {}",
                how_to_get_a_keychain()
            ))
        }
        KeyringError::NotSupportedByStore(why) => StoreError::Unavailable(why),
        KeyringError::BadEncoding(bytes) | KeyringError::BadDataFormat(bytes, _) => {
            drop(Zeroizing::new(bytes));
            StoreError::Other(format!("item {key}: the stored value is not readable"))
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

#[cfg(test)]
mod tests {
    use super::is_lost_session_message;

    #[test]
    fn a_lost_session_is_told_from_a_refusal() {
        assert!(is_lost_session_message(
            "zbus error: org.freedesktop.Secret.Error.NoSession: The session does not exist"
        ));
        assert!(is_lost_session_message(
            "org.freedesktop.DBus.Error.ServiceUnknown: The name is not activatable"
        ));
        assert!(is_lost_session_message(
            "I/O error: Broken pipe (os error 32)"
        ));
        assert!(!is_lost_session_message(
            "org.freedesktop.Secret.Error.IsLocked: Cannot get secret of a locked object"
        ));
        assert!(!is_lost_session_message("the prompt was dismissed"));
    }
}
