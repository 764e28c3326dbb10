//! The vault against a real Secret Service (gnome-keyring under the D-Bus
//! session `scripts/test.sh` starts). Each test uses its own keychain
//! service name, so tests never see each other's items or a user's.
//!
//! Without a D-Bus session these tests fail on purpose: a keychain that was
//! never exercised must not look like one that works.

use chrono::{TimeZone, Utc};
use credbroker::model::{ClientRegistration, RoleCredentials, Secret, SsoToken};
use credbroker::store::{sso_token_key, KeychainStore, SecretStore, Vault};
use std::sync::Arc;

fn require_keychain() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no D-Bus session: run the suite with scripts/test.sh, which starts gnome-keyring"
    );
}

fn service(test: &str) -> String {
    format!("credbroker-test-{test}-{}", std::process::id())
}

fn token() -> SsoToken {
    SsoToken {
        start_url: "https://example.awsapps.com/start".into(),
        region: "eu-west-1".into(),
        access_token: Secret::new("access-secret"),
        expires_at: Utc.with_ymd_and_hms(2030, 1, 1, 8, 0, 0).unwrap(),
        refresh_token: Some(Secret::new("refresh-secret")),
        issued_at: None,
        registration_key: None,
    }
}

fn creds() -> RoleCredentials {
    RoleCredentials {
        access_key_id: "ASIAEXAMPLE".into(),
        secret_access_key: Secret::new("sk"),
        session_token: Secret::new("st"),
        expiration: Utc.with_ymd_and_hms(2030, 1, 1, 1, 0, 0).unwrap(),
        account_id: Some("111111111111".into()),
        issued_at: None,
    }
}

fn registration() -> ClientRegistration {
    ClientRegistration {
        region: "eu-west-1".into(),
        client_id: "client".into(),
        client_secret: Secret::new("client-secret"),
        expires_at: Utc.with_ymd_and_hms(2030, 3, 1, 0, 0, 0).unwrap(),
        scopes: vec!["sso:account:access".into()],
        grant_types: vec![],
    }
}

/// Remove every item a test may have left (the store API, so on a blocking thread).
async fn cleanup(store: Arc<KeychainStore>, keys: Vec<String>) {
    tokio::task::spawn_blocking(move || {
        for key in keys {
            store.delete(&key).unwrap();
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keychain_vault_round_trips_and_indexes_from_async_code() {
    require_keychain();
    let store = Arc::new(KeychainStore::new(service("roundtrip")));
    let vault = Vault::new(store.clone());
    vault.probe().await.expect("the keychain answers");

    vault.put_sso_token("work", &token()).await.unwrap();
    vault.put_sso_token("home", &token()).await.unwrap();
    vault
        .put_registration("eu-west-1 https://x sso:account:access", &registration())
        .await
        .unwrap();
    vault
        .put_role_credentials("work", "111111111111", "Admin", &creds())
        .await
        .unwrap();

    assert_eq!(vault.sso_token("work").await.unwrap(), Some(token()));
    assert_eq!(
        vault
            .registration("eu-west-1 https://x sso:account:access")
            .await
            .unwrap(),
        Some(registration())
    );
    assert_eq!(
        vault
            .role_credentials("work", "111111111111", "Admin")
            .await
            .unwrap(),
        Some(creds())
    );
    assert_eq!(vault.sessions().await.unwrap(), vec!["home", "work"]);

    vault.delete_session("work").await.unwrap();
    assert_eq!(vault.sso_token("work").await.unwrap(), None);
    assert_eq!(
        vault
            .role_credentials("work", "111111111111", "Admin")
            .await
            .unwrap(),
        None
    );
    assert_eq!(vault.sessions().await.unwrap(), vec!["home"]);

    vault.delete_session("home").await.unwrap();
    vault
        .delete_registration("eu-west-1 https://x sso:account:access")
        .await
        .unwrap();
    cleanup(store, vec!["index".into(), "probe".into()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keychain_corrupt_item_reads_as_absent() {
    require_keychain();
    let store = Arc::new(KeychainStore::new(service("corrupt")));
    let raw = store.clone();
    tokio::task::spawn_blocking(move || {
        raw.set(&sso_token_key("work"), &Secret::new("{\"start_url\":"))
            .unwrap()
    })
    .await
    .unwrap();
    let vault = Vault::new(store.clone());
    assert_eq!(vault.sso_token("work").await.unwrap(), None);
    cleanup(store, vec![sso_token_key("work")]).await;
}

#[test]
fn keychain_missing_items_read_as_none_and_delete_twice() {
    require_keychain();
    let store = KeychainStore::new(service("missing"));
    assert!(store.get("nothing-here").unwrap().is_none());
    store.set("k", &Secret::new("v1")).unwrap();
    store.set("k", &Secret::new("v2")).unwrap();
    assert_eq!(store.get("k").unwrap(), Some(Secret::new("v2")));
    store.delete("k").unwrap();
    store.delete("k").unwrap();
    assert!(store.get("k").unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keychain_open_uses_the_configured_service() {
    require_keychain();
    let name = service("open");
    // The service name comes from the context's environment, as the CLI builds it.
    let ctx = credbroker::context::Context::new(credbroker::env::Env::from_pairs([(
        "CREDBROKER_KEYCHAIN_SERVICE",
        name.as_str(),
    )]));
    let vault = credbroker::store::open_keychain(ctx.keychain_service())
        .await
        .expect("keychain opens");
    vault.put_sso_token("s", &token()).await.unwrap();
    let other = Vault::new(Arc::new(KeychainStore::new(name.clone())));
    assert!(other.sso_token("s").await.unwrap().is_some());
    vault.delete_session("s").await.unwrap();
    cleanup(
        Arc::new(KeychainStore::new(name)),
        vec!["index".into(), "probe".into()],
    )
    .await;
}
