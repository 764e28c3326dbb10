//! The device-code sign-in and the portal calls against the emulator, through
//! the official SDK clients pointed at it with `AWS_ENDPOINT_URL`.
//!
//! Each test's context has its own `AWS_ENDPOINT_URL`; they still take
//! turns, one emulator at a time. The keychain variant runs when a D-Bus session is
//! there (always under `scripts/test.sh`).

use credbroker::config::SessionInfo;
use credbroker::context::{Context, Env};
use credbroker::emulator::{self, EmulatorOptions, Fault, RunningEmulator};
use credbroker::model::{ClientRegistration, Secret};
use credbroker::sso::login::{device_login_with, CodePrompt, LoginOptions, LoginUi, QuietUi};
use credbroker::sso::oidc::{self, LoginError};
use credbroker::sso::portal::{self, PortalError};
use credbroker::store::{KeychainStore, Vault};
use std::collections::HashMap;
use std::sync::Arc;

static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Start an emulator and point the SDK clients at it.
async fn emulator(options: EmulatorOptions) -> RunningEmulator {
    let running = emulator::start("127.0.0.1:0".parse().unwrap(), options)
        .await
        .expect("emulator starts");
    running
}

/// A context whose only variable points the SDK clients at `running`: the
/// developer's own AWS setup is never read.
fn ctx(running: &RunningEmulator) -> Context {
    Context::new(Env::from_pairs([("AWS_ENDPOINT_URL", running.base_url())]))
}

fn auto_approve() -> EmulatorOptions {
    EmulatorOptions {
        auto_approve: true,
        ..Default::default()
    }
}

fn session(key: &str, scopes: &[&str]) -> SessionInfo {
    SessionInfo {
        key: key.into(),
        start_url: "https://example.awsapps.com/start".into(),
        region: "eu-west-1".into(),
        registration_scopes: scopes.iter().map(|s| s.to_string()).collect(),
        legacy: scopes.is_empty(),
        login_command: format!("credbroker login --sso-session {key}"),
    }
}

fn options(running: &RunningEmulator) -> LoginOptions {
    LoginOptions::no_browser(ctx(running))
}

/// Sign in, fetch role credentials, list, refresh and log out, on `vault`.
async fn full_round(vault: &Vault) {
    let _turn = TURN.lock().await;
    let running = emulator(auto_approve()).await;
    let clients = ctx(&running).clients;
    let session = session("work", &["sso:account:access"]);
    let mut ui = QuietUi::default();

    let token = device_login_with(&session, vault, &options(&running), &mut ui)
        .await
        .expect("sign-in succeeds");
    assert_eq!(ui.user_codes.len(), 1);
    assert!(
        token.refresh_token.is_some(),
        "sso:account:access gives a refresh token"
    );
    assert_eq!(token.region, "eu-west-1");
    assert_eq!(vault.sso_token("work").await.unwrap(), Some(token.clone()));
    assert_eq!(vault.sessions().await.unwrap(), vec!["work"]);

    let creds = portal::get_role_credentials(&clients, &token, "111111111111", "Admin")
        .await
        .expect("role credentials");
    assert_eq!(creds.account_id.as_deref(), Some("111111111111"));
    assert!(creds.expiration > token.expires_at - chrono::Duration::hours(2));

    let accounts = portal::list_accounts(&clients, &token).await.unwrap();
    let ids: Vec<_> = accounts.iter().map(|a| a.account_id.as_str()).collect();
    assert_eq!(ids, ["111111111111", "222222222222"]);
    let mut roles = portal::list_account_roles(&clients, &token, "111111111111")
        .await
        .unwrap();
    roles.sort();
    assert_eq!(roles, ["Admin", "ReadOnly"]);

    let registration = vault
        .registration(&oidc::registration_key(&session))
        .await
        .unwrap()
        .expect("registration cached");
    let refreshed = oidc::refresh(
        &clients,
        &session,
        &registration,
        token.refresh_token.as_ref().unwrap(),
        chrono::Utc::now(),
    )
    .await
    .expect("refresh works");
    assert_ne!(refreshed.access_token, token.access_token);
    assert!(refreshed.refresh_token.is_some());

    portal::logout(&clients, &refreshed).await.expect("logout");
    assert!(matches!(
        portal::get_role_credentials(&clients, &refreshed, "111111111111", "Admin").await,
        Err(PortalError::Unauthorized(_))
    ));
    vault.delete_session("work").await.unwrap();
    assert!(vault.sessions().await.unwrap().is_empty());
    vault
        .delete_registration(&oidc::registration_key(&session))
        .await
        .unwrap();
    running.shutdown().await;
}

#[tokio::test]
async fn device_login_against_the_emulator_with_a_memory_vault() {
    full_round(&Vault::in_memory()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_login_against_the_emulator_with_the_keychain() {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        assert!(
            std::env::var_os("CREDBROKER_KEYCHAIN_TESTS").is_none(),
            "CREDBROKER_KEYCHAIN_TESTS is set but there is no D-Bus session"
        );
        eprintln!("no D-Bus session: the keychain variant runs under scripts/test.sh");
        return;
    }
    let service = format!("credbroker-test-login-{}", std::process::id());
    let vault = Vault::new(Arc::new(KeychainStore::new(service)));
    vault.probe().await.expect("the keychain answers");
    full_round(&vault).await;
}

#[tokio::test]
async fn a_second_login_reuses_the_registration() {
    let _turn = TURN.lock().await;
    let running = emulator(auto_approve()).await;
    let vault = Vault::in_memory();
    let session = session("work", &["sso:account:access"]);
    for _ in 0..2 {
        device_login_with(
            &session,
            &vault,
            &options(&running),
            &mut QuietUi::default(),
        )
        .await
        .unwrap();
    }
    assert_eq!(running.stats().get("RegisterClient"), Some(&1));
    running.shutdown().await;
}

#[tokio::test]
async fn a_legacy_session_gets_no_refresh_token() {
    let _turn = TURN.lock().await;
    let running = emulator(auto_approve()).await;
    let token = device_login_with(
        &session("https://example.awsapps.com/start", &[]),
        &Vault::in_memory(),
        &options(&running),
        &mut QuietUi::default(),
    )
    .await
    .unwrap();
    assert!(token.refresh_token.is_none());
    running.shutdown().await;
}

/// Denies every code it is shown, like a person clicking "Deny".
struct DenyingUi(Arc<emulator::Emulator>);

impl LoginUi for DenyingUi {
    fn show_code(&mut self, prompt: &CodePrompt<'_>) {
        assert!(self.0.deny(prompt.user_code));
    }
    fn waiting(&mut self) {}
    fn notice(&mut self, _: &str) {}
    fn done(&mut self) {}
}

#[tokio::test]
async fn a_denied_sign_in_saves_nothing() {
    let _turn = TURN.lock().await;
    let running = emulator(EmulatorOptions::default()).await;
    let vault = Vault::in_memory();
    let mut ui = DenyingUi(running.emulator().clone());
    let err = device_login_with(
        &session("work", &["sso:account:access"]),
        &vault,
        &options(&running),
        &mut ui,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, LoginError::Denied), "{err}");
    assert!(err.to_string().contains("denied in the browser"));
    assert_eq!(vault.sso_token("work").await.unwrap(), None);
    running.shutdown().await;
}

#[tokio::test]
async fn a_dead_cached_registration_is_replaced() {
    let _turn = TURN.lock().await;
    let running = emulator(auto_approve()).await;
    let vault = Vault::in_memory();
    let session = session("work", &["sso:account:access"]);
    let bogus = ClientRegistration {
        region: "eu-west-1".into(),
        client_id: "forgotten-client".into(),
        client_secret: Secret::new("forgotten-secret"),
        expires_at: chrono::Utc::now() + chrono::Duration::days(30),
        scopes: vec!["sso:account:access".into()],
        grant_types: vec![],
    };
    vault
        .put_registration(&oidc::registration_key(&session), &bogus)
        .await
        .unwrap();
    let mut ui = QuietUi::default();
    device_login_with(&session, &vault, &options(&running), &mut ui)
        .await
        .expect("registers again and signs in");
    assert!(
        ui.notices.iter().any(|n| n.contains("registering again")),
        "{:?}",
        ui.notices
    );
    let reg = vault
        .registration(&oidc::registration_key(&session))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(reg.client_id, "forgotten-client");
    running.shutdown().await;
}

#[tokio::test]
async fn a_transient_failure_while_polling_is_tolerated() {
    let _turn = TURN.lock().await;
    let running = emulator(auto_approve()).await;
    running.emulator().set_faults(HashMap::from([(
        "CreateToken".to_owned(),
        Fault {
            status: Some(500),
            count: Some(1),
            ..Default::default()
        },
    )]));
    let mut ui = QuietUi::default();
    device_login_with(
        &session("work", &["sso:account:access"]),
        &Vault::in_memory(),
        &options(&running),
        &mut ui,
    )
    .await
    .expect("signs in despite one 500");
    running.shutdown().await;
}

#[tokio::test]
async fn portal_errors_are_sorted() {
    let _turn = TURN.lock().await;
    let running = emulator(auto_approve()).await;
    let clients = ctx(&running).clients;
    let token = device_login_with(
        &session("work", &["sso:account:access"]),
        &Vault::in_memory(),
        &options(&running),
        &mut QuietUi::default(),
    )
    .await
    .unwrap();
    assert!(matches!(
        portal::get_role_credentials(&clients, &token, "999999999999", "Admin").await,
        Err(PortalError::NotFound(_))
    ));
    running.emulator().set_faults(HashMap::from([(
        "GetRoleCredentials".to_owned(),
        Fault {
            status: Some(429),
            ..Default::default()
        },
    )]));
    assert!(matches!(
        portal::get_role_credentials(&clients, &token, "111111111111", "Admin").await,
        Err(PortalError::Transient(_))
    ));
    running.emulator().set_faults(HashMap::new());
    running.emulator().revoke_all_tokens();
    assert!(matches!(
        portal::get_role_credentials(&clients, &token, "111111111111", "Admin").await,
        Err(PortalError::Unauthorized(_))
    ));
    running.shutdown().await;
}
