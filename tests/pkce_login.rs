//! The authorization-code sign-in with PKCE against the emulator, through
//! the official `aws-sdk-ssooidc` client pointed at it with
//! `AWS_ENDPOINT_URL`, with a "browser" that is a plain HTTP client
//! following the redirects (the real browser is in `pkce_browser.rs`).
//!
//! Each test's context has its own `AWS_ENDPOINT_URL`; they still take
//! turns, one emulator at a time.

use credbroker::config::SessionInfo;
use credbroker::context::{Context, Env};
use credbroker::emulator::{self, EmulatorOptions, RunningEmulator};
use credbroker::sso::login::{BrowserOpener, LoginOptions, QuietUi};
use credbroker::sso::oidc::{self, LoginError};
use credbroker::sso::pkce::{authorize_url, code_challenge, redirect_uri, REGISTERED_REDIRECT_URI};
use credbroker::sso::pkce_login::{pkce_login_with, pkce_registration_key, PKCE_GRANT_TYPES};
use credbroker::store::Vault;
use std::time::Duration;

static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn emulator(auto_approve: bool) -> RunningEmulator {
    let running = emulator::start(
        "127.0.0.1:0".parse().unwrap(),
        EmulatorOptions {
            auto_approve,
            ..Default::default()
        },
    )
    .await
    .expect("emulator starts");
    running
}

/// A context whose only variable points the SDK clients at `running`.
fn ctx(running: &RunningEmulator) -> Context {
    Context::new(Env::from_pairs([("AWS_ENDPOINT_URL", running.base_url())]))
}

fn session() -> SessionInfo {
    SessionInfo {
        key: "work".into(),
        start_url: "https://example.awsapps.com/start".into(),
        region: "eu-west-1".into(),
        registration_scopes: vec!["sso:account:access".into()],
        legacy: false,
        login_command: "credbroker login --sso-session work".into(),
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A "browser" that fetches the page and follows its redirects (the
/// auto-approving emulator redirects straight to the callback).
fn fetching_browser() -> BrowserOpener {
    BrowserOpener::new(|url| {
        let url = url.to_owned();
        tokio::spawn(async move {
            let _ = http().get(&url).send().await;
        });
        Ok(())
    })
}

fn options(browser: BrowserOpener, running: &RunningEmulator) -> LoginOptions {
    LoginOptions {
        browser,
        authorize_timeout: Duration::from_secs(20),
        ..LoginOptions::new(ctx(running))
    }
}

#[tokio::test]
async fn pkce_sign_in_saves_a_renewable_token() {
    let _turn = TURN.lock().await;
    let running = emulator(true).await;
    let vault = Vault::in_memory();
    let session = session();
    let mut ui = QuietUi::default();

    let token = pkce_login_with(
        &session,
        &vault,
        &options(fetching_browser(), &running),
        &mut ui,
    )
    .await
    .expect("PKCE sign-in succeeds");

    let url = &ui.authorize_urls[0];
    assert!(
        url.starts_with(&format!(
            "{}/authorize?response_type=code&client_id=",
            running.base_url()
        )),
        "{url}"
    );
    assert!(
        url.contains("&scopes=sso%3Aaccount%3Aaccess&code_challenge="),
        "{url}"
    );
    assert!(ui.user_codes.is_empty(), "no device code was used");
    assert!(
        token.refresh_token.is_some(),
        "sso:account:access gives a refresh token"
    );
    assert_eq!(
        token.registration_key,
        Some(pkce_registration_key(&session))
    );
    assert_eq!(vault.sso_token("work").await.unwrap(), Some(token.clone()));

    let reg = vault
        .registration(&pkce_registration_key(&session))
        .await
        .unwrap()
        .expect("PKCE registration cached under its own key");
    assert_eq!(reg.grant_types, PKCE_GRANT_TYPES);
    assert!(vault
        .registration(&oidc::registration_key(&session))
        .await
        .unwrap()
        .is_none());
    let stats = running.stats();
    assert_eq!(stats.get("RegisterClient"), Some(&1), "{stats:?}");
    assert_eq!(stats.get("StartDeviceAuthorization"), None, "{stats:?}");

    // The refresh token works with the registration it was issued to.
    let refreshed = oidc::refresh(
        &ctx(&running).clients,
        &session,
        &reg,
        token.refresh_token.as_ref().unwrap(),
        chrono::Utc::now(),
    )
    .await
    .expect("refresh with the PKCE registration");
    assert_ne!(refreshed.access_token, token.access_token);

    // A second sign-in reuses the registration.
    pkce_login_with(
        &session,
        &vault,
        &options(fetching_browser(), &running),
        &mut QuietUi::default(),
    )
    .await
    .unwrap();
    assert_eq!(running.stats().get("RegisterClient"), Some(&1));
    running.shutdown().await;
}

#[tokio::test]
async fn denial_in_the_browser_is_reported() {
    let _turn = TURN.lock().await;
    let running = emulator(false).await;
    // A browser whose person clicks Deny on the consent page.
    let denying = BrowserOpener::new(|url| {
        let url = url.to_owned();
        tokio::spawn(async move {
            let page = http().get(&url).send().await.unwrap().text().await.unwrap();
            let id = page
                .split("name=\"request\" value=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .expect("consent page carries the request id")
                .to_owned();
            let base = url.split("/authorize").next().unwrap().to_owned();
            let _ = http()
                .post(format!("{base}/authorize/deny"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("request={id}"))
                .send()
                .await;
        });
        Ok(())
    });
    let err = pkce_login_with(
        &session(),
        &Vault::in_memory(),
        &options(denying, &running),
        &mut QuietUi::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, LoginError::Denied), "{err}");
    running.shutdown().await;
}

#[tokio::test]
async fn wrong_verifier_gets_invalid_grant() {
    let _turn = TURN.lock().await;
    let running = emulator(true).await;
    let client = oidc::client(&ctx(&running).clients, "eu-west-1");
    let reg = client
        .register_client()
        .client_name("test")
        .client_type("public")
        .scopes("sso:account:access")
        .grant_types("authorization_code")
        .grant_types("refresh_token")
        .redirect_uris(REGISTERED_REDIRECT_URI)
        .issuer_url("https://example.awsapps.com/start")
        .send()
        .await
        .unwrap();
    let verifier = "a".repeat(64);
    let redirect = redirect_uri(1);
    // The auto-approving emulator redirects at once; read the code from there.
    let code = || async {
        let url = authorize_url(
            &running.base_url(),
            reg.client_id().unwrap(),
            &redirect,
            "st",
            &code_challenge(&verifier),
            &["sso:account:access".to_owned()],
        );
        let no_redirects = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let answer = no_redirects.get(&url).send().await.unwrap();
        assert_eq!(answer.status(), 302);
        let location = answer.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with(&format!("{redirect}?code=")),
            "{location}"
        );
        assert!(location.ends_with("&state=st"), "{location}");
        location
            .split("code=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_owned()
    };
    let exchange = |code: String, verifier: String| {
        let client = client.clone();
        let (id, secret) = (
            reg.client_id().unwrap().to_owned(),
            reg.client_secret().unwrap().to_owned(),
        );
        let redirect = redirect.clone();
        async move {
            client
                .create_token()
                .client_id(id)
                .client_secret(secret)
                .grant_type("authorization_code")
                .code(code)
                .redirect_uri(redirect)
                .code_verifier(verifier)
                .send()
                .await
        }
    };

    let err = exchange(code().await, "b".repeat(64)).await.unwrap_err();
    let service = err.into_service_error();
    assert!(service.is_invalid_grant_exception(), "{service:?}");

    let ok = exchange(code().await, verifier.clone())
        .await
        .expect("the right verifier works");
    assert!(ok.access_token().is_some() && ok.refresh_token().is_some());
    running.shutdown().await;
}
