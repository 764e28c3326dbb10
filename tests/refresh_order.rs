//! A rotated refresh token is written to the keychain before anything else
//! is done with the answer that carried it.
//!
//! The emulator rotates refresh tokens as IAM Identity Center may: the old
//! one is dead once the new one is issued. Until the new one is in the
//! keychain, a crash loses it and costs a sign-in (docs/lifecycle.md), so
//! nothing may come first: not the AWS CLI cache export, not the index
//! update, not another keychain call. A store that records every call (and,
//! at each write, whether the AWS CLI cache file exists yet) shows the
//! order. In-process emulator, reached through the context's environment.

use credbroker::config::AwsConfig;
use credbroker::emulator::{self, EmulatorOptions};
use credbroker::model::{Secret, SsoToken};
use credbroker::session::SessionKeeper;
use credbroker::sso::login::{device_login, LoginOptions};
use credbroker::store::{MemoryStore, SecretStore, StoreError, Vault};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// One store call: the operation, the item key, and for a write the value
/// and whether the AWS CLI token cache had been written by then.
#[derive(Debug, Clone)]
struct Call {
    op: &'static str,
    key: String,
    value: Option<Secret>,
    aws_cli_cache_written: bool,
}

#[derive(Debug)]
struct RecordingStore {
    inner: MemoryStore,
    calls: Mutex<Vec<Call>>,
    aws_cli_cache: PathBuf,
}

impl RecordingStore {
    fn record(&self, op: &'static str, key: &str, value: Option<&Secret>) {
        let aws_cli_cache_written = std::fs::read_dir(&self.aws_cli_cache)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false);
        self.calls.lock().unwrap().push(Call {
            op,
            key: key.to_string(),
            value: value.cloned(),
            aws_cli_cache_written,
        });
    }
}

impl SecretStore for RecordingStore {
    fn get(&self, key: &str) -> Result<Option<Secret>, StoreError> {
        self.record("get", key, None);
        self.inner.get(key)
    }
    fn set(&self, key: &str, value: &Secret) -> Result<(), StoreError> {
        self.record("set", key, Some(value));
        self.inner.set(key, value)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.record("delete", key, None);
        self.inner.delete(key)
    }
}

fn refresh_token_of(value: &Secret) -> String {
    let token: SsoToken = serde_json::from_str(value.expose()).unwrap();
    token.refresh_token.unwrap().expose().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_refresh_token_is_stored_before_anything_else() {
    let emu = emulator::start(
        "127.0.0.1:0".parse().unwrap(),
        EmulatorOptions {
            auto_approve: true,
            ..EmulatorOptions::default()
        },
    )
    .await
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let ctx = credbroker::context::Context::new(credbroker::env::Env::from_pairs([
        ("AWS_ENDPOINT_URL", emu.base_url().to_string()),
        ("HOME", home.path().display().to_string()),
    ]));

    let config_path = home.path().join("config");
    let config = "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n\
                  sso_region = us-east-1\nsso_registration_scopes = sso:account:access\n";
    std::fs::write(&config_path, config).unwrap();
    let session = AwsConfig::parse(config, &config_path)
        .unwrap()
        .session("corp")
        .unwrap();

    let store = Arc::new(RecordingStore {
        inner: MemoryStore::new(),
        calls: Mutex::new(Vec::new()),
        aws_cli_cache: home.path().join(".aws/sso/cache"),
    });
    let vault = Vault::new(store.clone());
    device_login(&session, &vault, &LoginOptions::no_browser(ctx.clone()))
        .await
        .unwrap();
    let before = vault.sso_token("corp").await.unwrap().unwrap();
    let old_refresh = before.refresh_token.clone().unwrap();

    let keeper = SessionKeeper::new(vault.clone(), ctx.clone());
    keeper.export_aws_cli_cache_to(home.path().to_path_buf());
    store.calls.lock().unwrap().clear();
    let fresh = keeper.refresh(&session, true).await.unwrap();

    let new_refresh = fresh.refresh_token.clone().unwrap();
    assert_ne!(
        new_refresh, old_refresh,
        "the emulator rotated the refresh token"
    );
    let calls = store.calls.lock().unwrap().clone();
    let first_write = calls
        .iter()
        .position(|c| c.op != "get")
        .unwrap_or_else(|| panic!("the refresh wrote nothing: {calls:?}"));
    // Before the answer: only reads (the stored token and its registration).
    for call in &calls[..first_write] {
        assert!(
            call.key == "sso-token/corp" || call.key.starts_with("registration/"),
            "read before the refresh: {call:?}"
        );
    }
    // After it: first of all the token with the rotated refresh token,
    let write = &calls[first_write];
    assert_eq!((write.op, write.key.as_str()), ("set", "sso-token/corp"));
    assert_eq!(
        refresh_token_of(write.value.as_ref().unwrap()),
        new_refresh.expose(),
        "the first write holds the rotated refresh token"
    );
    assert!(
        !write.aws_cli_cache_written,
        "the AWS CLI cache was written before the keychain"
    );
    // and the AWS CLI cache was written after it (so the check above could fail).
    assert!(
        std::fs::read_dir(home.path().join(".aws/sso/cache"))
            .unwrap()
            .next()
            .is_some(),
        "the AWS CLI cache was exported"
    );
    assert_eq!(
        vault
            .sso_token("corp")
            .await
            .unwrap()
            .unwrap()
            .refresh_token,
        Some(new_refresh)
    );
}
