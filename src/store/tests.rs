//! Vault behaviour over the memory store: typed round trips, the index, and
//! corrupt values read as absent.

use super::*;
use chrono::{TimeZone, Utc};

fn token(start_url: &str) -> SsoToken {
    SsoToken {
        start_url: start_url.into(),
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

fn vault() -> (Arc<MemoryStore>, Vault) {
    let store = Arc::new(MemoryStore::new());
    (store.clone(), Vault::new(store))
}

#[tokio::test]
async fn typed_values_round_trip() {
    let (_, vault) = vault();
    vault
        .put_sso_token("work", &token("https://a"))
        .await
        .unwrap();
    vault.put_registration("r1", &registration()).await.unwrap();
    vault
        .put_role_credentials("work", "111111111111", "Admin", &creds())
        .await
        .unwrap();
    assert_eq!(
        vault.sso_token("work").await.unwrap(),
        Some(token("https://a"))
    );
    assert_eq!(
        vault.registration("r1").await.unwrap(),
        Some(registration())
    );
    assert_eq!(
        vault
            .role_credentials("work", "111111111111", "Admin")
            .await
            .unwrap(),
        Some(creds())
    );
    assert_eq!(vault.sso_token("other").await.unwrap(), None);
}

#[tokio::test]
async fn index_lists_sessions_and_delete_removes_their_items() {
    let (store, vault) = vault();
    vault
        .put_sso_token("work", &token("https://a"))
        .await
        .unwrap();
    vault
        .put_sso_token("home", &token("https://b"))
        .await
        .unwrap();
    vault
        .put_role_credentials("work", "111111111111", "Admin", &creds())
        .await
        .unwrap();
    vault
        .put_role_credentials("home", "222222222222", "Dev", &creds())
        .await
        .unwrap();
    assert_eq!(vault.sessions().await.unwrap(), vec!["home", "work"]);

    vault.delete_session("work").await.unwrap();
    assert_eq!(vault.sessions().await.unwrap(), vec!["home"]);
    assert_eq!(vault.sso_token("work").await.unwrap(), None);
    assert_eq!(
        vault
            .role_credentials("work", "111111111111", "Admin")
            .await
            .unwrap(),
        None
    );
    assert!(vault
        .role_credentials("home", "222222222222", "Dev")
        .await
        .unwrap()
        .is_some());
    let keys = store.keys();
    assert!(!keys.iter().any(|k| k.contains("work")), "{keys:?}");
}

#[tokio::test]
async fn deleting_an_unknown_session_is_fine() {
    let (_, vault) = vault();
    vault.delete_session("nobody").await.unwrap();
    assert!(vault.sessions().await.unwrap().is_empty());
}

#[tokio::test]
async fn corrupt_values_read_as_absent() {
    let (store, vault) = vault();
    store
        .set(
            &sso_token_key("work"),
            &Secret::new("{\"start_url\": \"https://a\", \"acc"),
        )
        .unwrap();
    store
        .set(&role_key("work", "1", "R"), &Secret::new("not json"))
        .unwrap();
    assert_eq!(vault.sso_token("work").await.unwrap(), None);
    assert_eq!(
        vault.role_credentials("work", "1", "R").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn corrupt_index_is_rebuilt_without_losing_tokens() {
    let (store, vault) = vault();
    vault
        .put_sso_token("work", &token("https://a"))
        .await
        .unwrap();
    store.set(INDEX_KEY, &Secret::new("garbage")).unwrap();
    assert!(vault.sessions().await.unwrap().is_empty());
    vault
        .put_sso_token("home", &token("https://b"))
        .await
        .unwrap();
    assert_eq!(vault.sessions().await.unwrap(), vec!["home"]);
    // The token itself survived the lost index entry.
    assert!(vault.sso_token("work").await.unwrap().is_some());
}

#[tokio::test]
async fn reading_a_token_the_index_forgot_puts_it_back() {
    let (store, writer) = vault();
    writer
        .put_sso_token("work", &token("https://a"))
        .await
        .unwrap();
    // Another process overwrote the index without our entry.
    store.set(INDEX_KEY, &Secret::new("{}")).unwrap();
    let reader = Vault::new(store.clone());
    assert!(reader.sso_token("work").await.unwrap().is_some());
    assert_eq!(reader.sessions().await.unwrap(), vec!["work"]);
}

#[tokio::test]
async fn concurrent_writers_keep_every_session_in_the_index() {
    let store = Arc::new(MemoryStore::new());
    let mut tasks = Vec::new();
    for i in 0..16 {
        // Separate vaults share no lock, like separate processes.
        let vault = Vault::new(store.clone());
        tasks.push(tokio::spawn(async move {
            vault
                .put_sso_token(&format!("s{i:02}"), &token("https://a"))
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let vault = Vault::new(store);
    let mut found = Vec::new();
    for i in 0..16 {
        let key = format!("s{i:02}");
        // Every token is there even if an index entry was lost ...
        assert!(vault.sso_token(&key).await.unwrap().is_some());
        found.push(key);
    }
    // ... and reading them healed the index.
    assert_eq!(vault.sessions().await.unwrap(), found);
}

#[tokio::test]
async fn registrations_can_be_forgotten() {
    let (_, vault) = vault();
    vault.put_registration("r1", &registration()).await.unwrap();
    vault.delete_registration("r1").await.unwrap();
    assert_eq!(vault.registration("r1").await.unwrap(), None);
}

#[tokio::test]
async fn probe_writes_once_then_reads() {
    let (store, vault) = vault();
    vault.probe().await.unwrap();
    vault.probe().await.unwrap();
    assert_eq!(store.keys(), vec!["probe"]);
}

#[test]
fn debug_of_a_vault_shows_no_values() {
    let store = Arc::new(MemoryStore::new());
    store.set("k", &Secret::new("hunter2")).unwrap();
    let text = format!("{:?}", Vault::new(store));
    assert!(!text.contains("hunter2"), "{text}");
}
