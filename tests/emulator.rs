//! The emulator driven by the official AWS SDK clients, exactly as the broker
//! (and any SDK-based tool) will drive it: `endpoint_url` pointed at the
//! emulator, nothing else special.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_sso::operation::get_role_credentials::GetRoleCredentialsError;
use aws_sdk_sso::operation::list_account_roles::ListAccountRolesError;
use aws_sdk_ssooidc::error::ProvideErrorMetadata;
use aws_sdk_ssooidc::operation::create_token::{CreateTokenError, CreateTokenOutput};
use aws_sdk_ssooidc::operation::register_client::RegisterClientOutput;
use aws_sdk_ssooidc::operation::start_device_authorization::StartDeviceAuthorizationOutput;
use credbroker::clock::ManualClock;
use credbroker::emulator::{self, Account, Directory, EmulatorOptions, RunningEmulator};
use std::sync::Arc;
use std::time::Duration;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const START_URL: &str = "https://example.awsapps.com/start";
/// The poll interval the tests run with: quick, and polls 50 ms apart are
/// still "too fast".
const POLL: Duration = Duration::from_millis(200);

async fn start(options: EmulatorOptions) -> RunningEmulator {
    emulator::start(
        "127.0.0.1:0".parse().unwrap(),
        EmulatorOptions {
            poll_interval: POLL,
            ..options
        },
    )
    .await
    .unwrap()
}

async fn sdk_config(base: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region("us-east-1")
        .endpoint_url(base)
        .no_credentials()
        .retry_config(RetryConfig::disabled())
        .load()
        .await
}

struct Clients {
    oidc: aws_sdk_ssooidc::Client,
    sso: aws_sdk_sso::Client,
    config: SdkConfig,
}

async fn clients(emu: &RunningEmulator) -> Clients {
    let config = sdk_config(&emu.base_url()).await;
    Clients {
        oidc: aws_sdk_ssooidc::Client::new(&config),
        sso: aws_sdk_sso::Client::new(&config),
        config,
    }
}

impl Clients {
    async fn register(&self, scopes: &[&str]) -> RegisterClientOutput {
        let mut req = self
            .oidc
            .register_client()
            .client_name("credbroker-test")
            .client_type("public");
        for scope in scopes {
            req = req.scopes(*scope);
        }
        req.send().await.unwrap()
    }

    async fn start_device(&self, reg: &RegisterClientOutput) -> StartDeviceAuthorizationOutput {
        self.oidc
            .start_device_authorization()
            .client_id(reg.client_id().unwrap())
            .client_secret(reg.client_secret().unwrap())
            .start_url(START_URL)
            .send()
            .await
            .unwrap()
    }

    async fn poll(
        &self,
        reg: &RegisterClientOutput,
        auth: &StartDeviceAuthorizationOutput,
    ) -> Result<CreateTokenOutput, CreateTokenError> {
        self.oidc
            .create_token()
            .client_id(reg.client_id().unwrap())
            .client_secret(reg.client_secret().unwrap())
            .grant_type(DEVICE_GRANT)
            .device_code(auth.device_code().unwrap())
            .send()
            .await
            .map_err(|e| e.into_service_error())
    }

    /// A whole device-code sign-in against an auto-approving emulator.
    async fn sign_in(&self, scopes: &[&str]) -> (RegisterClientOutput, CreateTokenOutput) {
        let reg = self.register(scopes).await;
        let auth = self.start_device(&reg).await;
        let first = self.poll(&reg, &auth).await.unwrap_err();
        assert!(first.is_authorization_pending_exception(), "{first:?}");
        tokio::time::sleep(POLL).await;
        let token = self.poll(&reg, &auth).await.unwrap();
        (reg, token)
    }

    async fn refresh(
        &self,
        reg: &RegisterClientOutput,
        refresh_token: &str,
    ) -> Result<CreateTokenOutput, CreateTokenError> {
        self.oidc
            .create_token()
            .client_id(reg.client_id().unwrap())
            .client_secret(reg.client_secret().unwrap())
            .grant_type("refresh_token")
            .refresh_token(refresh_token)
            .send()
            .await
            .map_err(|e| e.into_service_error())
    }

    async fn role_credentials(
        &self,
        token: &str,
        account: &str,
        role: &str,
    ) -> Result<aws_sdk_sso::types::RoleCredentials, GetRoleCredentialsError> {
        self.sso
            .get_role_credentials()
            .access_token(token)
            .account_id(account)
            .role_name(role)
            .send()
            .await
            .map(|out| out.role_credentials().unwrap().clone())
            .map_err(|e| e.into_service_error())
    }

    fn sts(&self, akid: &str, secret: &str, token: &str) -> aws_sdk_sts::Client {
        let config = aws_sdk_sts::config::Builder::from(&self.config)
            .credentials_provider(Credentials::new(
                akid,
                secret,
                Some(token.to_owned()),
                None,
                "test",
            ))
            .build();
        aws_sdk_sts::Client::from_conf(config)
    }
}

fn auto() -> EmulatorOptions {
    EmulatorOptions {
        auto_approve: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn device_sign_in_pending_slow_down_then_tokens() {
    let emu = start(auto()).await;
    let c = clients(&emu).await;
    let reg = c.register(&["sso:account:access"]).await;
    assert!(reg.client_secret_expires_at() - reg.client_id_issued_at() >= 89 * 86400);
    let auth = c.start_device(&reg).await;
    let code = auth.user_code().unwrap();
    assert_eq!(
        auth.verification_uri(),
        Some(format!("{}/device", emu.base_url()).as_str())
    );
    assert_eq!(
        auth.verification_uri_complete(),
        Some(format!("{}/device?user_code={code}", emu.base_url()).as_str())
    );
    assert_eq!(auth.expires_in(), 600);
    assert_eq!(auth.interval(), 1);

    let err = c.poll(&reg, &auth).await.unwrap_err();
    assert!(
        matches!(err, CreateTokenError::AuthorizationPendingException(_)),
        "{err:?}"
    );
    assert_eq!(err.meta().code(), Some("AuthorizationPendingException"));
    let err = c.poll(&reg, &auth).await.unwrap_err();
    assert!(
        matches!(err, CreateTokenError::SlowDownException(_)),
        "{err:?}"
    );
    tokio::time::sleep(POLL).await;
    let token = c.poll(&reg, &auth).await.unwrap();
    assert_eq!(token.token_type(), Some("Bearer"));
    assert_eq!(token.expires_in(), 3600);
    assert!(token.access_token().is_some());
    assert!(
        token.refresh_token().is_some(),
        "scope sso:account:access earns a refresh token"
    );
    // The device code is spent.
    tokio::time::sleep(POLL).await;
    let err = c.poll(&reg, &auth).await.unwrap_err();
    assert!(err.is_invalid_grant_exception(), "{err:?}");
}

#[tokio::test]
async fn refresh_token_only_with_the_scope_and_it_rotates() {
    let emu = start(auto()).await;
    let c = clients(&emu).await;
    let (_, legacy) = c.sign_in(&[]).await;
    assert!(legacy.refresh_token().is_none());

    let (reg, first) = c.sign_in(&["sso:account:access"]).await;
    let old_refresh = first.refresh_token().unwrap();
    let second = c.refresh(&reg, old_refresh).await.unwrap();
    let new_refresh = second.refresh_token().unwrap();
    assert_ne!(new_refresh, old_refresh);
    assert_ne!(second.access_token(), first.access_token());
    let err = c.refresh(&reg, old_refresh).await.unwrap_err();
    assert!(
        matches!(err, CreateTokenError::InvalidGrantException(_)),
        "{err:?}"
    );
    c.refresh(&reg, new_refresh).await.unwrap();
}

#[tokio::test]
async fn a_person_denies_on_the_approval_page() {
    let emu = start(EmulatorOptions::default()).await;
    let c = clients(&emu).await;
    let reg = c.register(&[]).await;
    let auth = c.start_device(&reg).await;
    let http = reqwest::Client::new();
    let page = http
        .get(auth.verification_uri_complete().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(auth.user_code().unwrap()));
    assert!(html.contains("credbroker-test"));
    assert!(html.contains("/device/deny"));

    let err = c.poll(&reg, &auth).await.unwrap_err();
    assert!(err.is_authorization_pending_exception());
    let denied = http
        .post(format!("{}/device/deny", emu.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("user_code={}", auth.user_code().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 200);
    tokio::time::sleep(POLL).await;
    let err = c.poll(&reg, &auth).await.unwrap_err();
    assert!(
        matches!(err, CreateTokenError::AccessDeniedException(_)),
        "{err:?}"
    );

    let unknown = http
        .get(format!("{}/device?user_code=ZZZZ-ZZZZ", emu.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn a_person_approves_on_the_approval_page() {
    let emu = start(EmulatorOptions::default()).await;
    let c = clients(&emu).await;
    let reg = c.register(&[]).await;
    let auth = c.start_device(&reg).await;
    let approved = reqwest::Client::new()
        .post(format!("{}/device/approve", emu.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "user_code={}",
            auth.user_code().unwrap().to_lowercase()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
    c.poll(&reg, &auth).await.unwrap();
}

#[tokio::test]
async fn device_codes_and_registrations_expire() {
    let clock = ManualClock::new(chrono::Utc::now());
    let emu = start(EmulatorOptions {
        clock: Arc::new(clock.clone()),
        ..auto()
    })
    .await;
    let c = clients(&emu).await;
    let reg = c.register(&[]).await;
    let auth = c.start_device(&reg).await;
    clock.advance(chrono::Duration::seconds(601));
    let err = c.poll(&reg, &auth).await.unwrap_err();
    assert!(
        matches!(err, CreateTokenError::ExpiredTokenException(_)),
        "{err:?}"
    );

    clock.advance(chrono::Duration::days(91));
    let err = c
        .oidc
        .start_device_authorization()
        .client_id(reg.client_id().unwrap())
        .client_secret(reg.client_secret().unwrap())
        .start_url(START_URL)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(401));
    assert!(err.into_service_error().is_invalid_client_exception());
}

#[tokio::test]
async fn portal_serves_credentials_and_pages_through_assignments() {
    let directory = Directory {
        user: "dev@example.com".into(),
        accounts: (1..=7)
            .map(|i| {
                Account::new(
                    &format!("{i:012}"),
                    &format!("team{i}"),
                    &["A", "B", "C", "D", "E"],
                )
            })
            .collect(),
    };
    let emu = start(EmulatorOptions {
        directory,
        ..auto()
    })
    .await;
    let c = clients(&emu).await;
    let (_, token) = c.sign_in(&["sso:account:access"]).await;
    let access = token.access_token().unwrap();

    let creds = c
        .role_credentials(access, "000000000003", "B")
        .await
        .unwrap();
    assert!(creds.access_key_id().unwrap().starts_with("ASIA"));
    let expires_ms = creds.expiration();
    let in_an_hour = (chrono::Utc::now().timestamp() + 3600) * 1000;
    assert!((expires_ms - in_an_hour).abs() < 10_000, "{expires_ms}");

    let err = c
        .role_credentials(access, "000000000003", "Admin")
        .await
        .unwrap_err();
    assert!(
        matches!(err, GetRoleCredentialsError::ResourceNotFoundException(_)),
        "{err:?}"
    );
    let err = c
        .role_credentials("not-a-token", "000000000003", "B")
        .await
        .unwrap_err();
    assert!(
        matches!(err, GetRoleCredentialsError::UnauthorizedException(_)),
        "{err:?}"
    );

    let mut ids = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = c
            .sso
            .list_accounts()
            .access_token(access)
            .max_results(3)
            .set_next_token(next.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        for account in out.account_list() {
            ids.push(account.account_id().unwrap().to_owned());
            assert!(account.email_address().unwrap().ends_with("@example.com"));
        }
        match out.next_token() {
            Some(t) => next = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(ids.len(), 7);
    assert_eq!(ids[0], "000000000001");

    let roles = c
        .sso
        .list_account_roles()
        .access_token(access)
        .account_id("000000000002")
        .max_results(3)
        .send()
        .await
        .unwrap();
    assert_eq!(roles.role_list().len(), 3);
    let rest = c
        .sso
        .list_account_roles()
        .access_token(access)
        .account_id("000000000002")
        .max_results(3)
        .next_token(roles.next_token().unwrap())
        .send()
        .await
        .unwrap();
    let names: Vec<_> = rest
        .role_list()
        .iter()
        .map(|r| r.role_name().unwrap())
        .collect();
    assert_eq!(names, ["D", "E"]);
    assert!(rest.next_token().is_none());
    let err = c
        .sso
        .list_account_roles()
        .access_token(access)
        .account_id("999999999999")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(err, ListAccountRolesError::ResourceNotFoundException(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn logout_revokes_the_session() {
    let emu = start(auto()).await;
    let c = clients(&emu).await;
    let (reg, token) = c.sign_in(&["sso:account:access"]).await;
    let access = token.access_token().unwrap();
    c.role_credentials(access, "111111111111", "ReadOnly")
        .await
        .unwrap();
    c.sso.logout().access_token(access).send().await.unwrap();
    let err = c
        .role_credentials(access, "111111111111", "ReadOnly")
        .await
        .unwrap_err();
    assert!(err.is_unauthorized_exception(), "{err:?}");
    let err = c
        .refresh(&reg, token.refresh_token().unwrap())
        .await
        .unwrap_err();
    assert!(err.is_invalid_grant_exception(), "{err:?}");
    let err = c
        .sso
        .logout()
        .access_token(access)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_unauthorized_exception());
}

type CallerIdentity = Result<
    aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput,
    aws_sdk_sts::error::SdkError<
        aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError,
    >,
>;

/// The HTTP status and the error code the STS client saw.
fn code(result: CallerIdentity) -> (Option<u16>, Option<String>) {
    let err = result.unwrap_err();
    let status = err.raw_response().map(|r| r.status().as_u16());
    (status, err.into_service_error().code().map(str::to_owned))
}

#[tokio::test]
async fn sts_checks_the_signature_of_served_credentials() {
    let clock = ManualClock::new(chrono::Utc::now());
    let emu = start(EmulatorOptions {
        clock: Arc::new(clock.clone()),
        ..auto()
    })
    .await;
    let c = clients(&emu).await;
    let (_, token) = c.sign_in(&[]).await;
    let creds = c
        .role_credentials(token.access_token().unwrap(), "111111111111", "Admin")
        .await
        .unwrap();
    let (akid, secret, session) = (
        creds.access_key_id().unwrap(),
        creds.secret_access_key().unwrap(),
        creds.session_token().unwrap(),
    );

    let me = c
        .sts(akid, secret, session)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(me.account(), Some("111111111111"));
    assert_eq!(
        me.arn(),
        Some("arn:aws:sts::111111111111:assumed-role/Admin/dev@example.com")
    );
    assert!(me.user_id().unwrap().starts_with("AROA"));
    assert!(me.user_id().unwrap().ends_with(":dev@example.com"));

    let unknown = c
        .sts("ASIAUNKNOWNUNKNOWN00", secret, session)
        .get_caller_identity()
        .send()
        .await;
    assert_eq!(
        code(unknown),
        (Some(403), Some("InvalidClientTokenId".into()))
    );
    let wrong_secret = c
        .sts(akid, "not-the-secret", session)
        .get_caller_identity()
        .send()
        .await;
    assert_eq!(
        code(wrong_secret),
        (Some(403), Some("SignatureDoesNotMatch".into()))
    );
    let wrong_token = c
        .sts(akid, secret, "not-the-token")
        .get_caller_identity()
        .send()
        .await;
    assert_eq!(
        code(wrong_token),
        (Some(403), Some("InvalidClientTokenId".into()))
    );
    clock.advance(chrono::Duration::seconds(3601));
    let expired = c
        .sts(akid, secret, session)
        .get_caller_identity()
        .send()
        .await;
    assert_eq!(code(expired), (Some(400), Some("ExpiredToken".into())));
}

#[tokio::test]
async fn stats_count_calls_per_operation() {
    let emu = start(auto()).await;
    let c = clients(&emu).await;
    let (_, token) = c.sign_in(&[]).await;
    let access = token.access_token().unwrap();
    for _ in 0..3 {
        c.role_credentials(access, "111111111111", "ReadOnly")
            .await
            .unwrap();
    }
    c.sso
        .list_accounts()
        .access_token(access)
        .send()
        .await
        .unwrap();
    for account in ["111111111111", "222222222222"] {
        c.sso
            .list_account_roles()
            .access_token(access)
            .account_id(account)
            .send()
            .await
            .unwrap();
    }
    c.sso.logout().access_token(access).send().await.unwrap();
    let stats: serde_json::Value = reqwest::get(format!("{}/_emulator/stats", emu.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats,
        serde_json::json!({
            "RegisterClient": 1, "StartDeviceAuthorization": 1, "CreateToken": 2,
            "GetRoleCredentials": 3, "ListAccounts": 1, "ListAccountRoles": 2, "Logout": 1
        })
    );
    assert_eq!(emu.stats()["CreateToken"], 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn injected_faults_reach_the_sdk_as_typed_errors() {
    let emu = start(auto()).await;
    let c = clients(&emu).await;
    let (_, token) = c.sign_in(&[]).await;
    let access = token.access_token().unwrap();
    let http = reqwest::Client::new();
    let faults = format!("{}/_emulator/faults", emu.base_url());
    let set = |body: &'static str| {
        let http = http.clone();
        let faults = faults.clone();
        async move {
            let r = http.post(faults).body(body).send().await.unwrap();
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        }
    };

    set(r#"{"GetRoleCredentials":{"status":429,"count":1}}"#).await;
    let err = c
        .role_credentials(access, "111111111111", "ReadOnly")
        .await
        .unwrap_err();
    assert!(
        matches!(err, GetRoleCredentialsError::TooManyRequestsException(_)),
        "{err:?}"
    );
    c.role_credentials(access, "111111111111", "ReadOnly")
        .await
        .unwrap();

    // With the SDK's standard retries, two 503s are ridden out.
    set(r#"{"GetRoleCredentials":{"status":503,"count":2}}"#).await;
    let retrying = aws_sdk_sso::Client::from_conf(
        aws_sdk_sso::config::Builder::from(&c.config)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(5)),
            )
            .build(),
    );
    retrying
        .get_role_credentials()
        .access_token(access)
        .account_id("111111111111")
        .role_name("ReadOnly")
        .send()
        .await
        .unwrap();

    set(r#"{"ListAccounts":{"drop":true,"count":1}}"#).await;
    let err = c
        .sso
        .list_accounts()
        .access_token(access)
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(err, aws_sdk_sso::error::SdkError::DispatchFailure(_)),
        "{err:?}"
    );

    let typo = http
        .post(&faults)
        .body(r#"{"GetRoleCredential":{}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(typo.status(), 400);

    // Revoking every token logs everyone out.
    http.post(format!("{}/_emulator/revoke", emu.base_url()))
        .send()
        .await
        .unwrap();
    let err = c
        .role_credentials(access, "111111111111", "ReadOnly")
        .await
        .unwrap_err();
    assert!(err.is_unauthorized_exception());
}

#[tokio::test]
async fn pkce_authorization_code_sign_in() {
    let emu = start(EmulatorOptions::default()).await;
    let c = clients(&emu).await;
    let reg = c
        .oidc
        .register_client()
        .client_name("aws-cli")
        .client_type("public")
        .scopes("sso:account:access")
        .grant_types("authorization_code")
        .grant_types("refresh_token")
        .redirect_uris("http://127.0.0.1/oauth/callback")
        .issuer_url(START_URL)
        .send()
        .await
        .unwrap();
    let verifier = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._";
    let challenge = credbroker::emulator::oidc::pkce_challenge(verifier);
    let redirect = "http://127.0.0.1:45678/oauth/callback";
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let code_for = |http: reqwest::Client| {
        let url = format!(
            "{}/authorize?response_type=code&client_id={}&redirect_uri={}&state=xyz\
             &code_challenge_method=S256&scopes=sso%3Aaccount%3Aaccess&code_challenge={challenge}",
            emu.base_url(),
            reg.client_id().unwrap(),
            redirect
        );
        let base = emu.base_url();
        async move {
            let page = http.get(url).send().await.unwrap();
            assert_eq!(page.status(), 200);
            let html = page.text().await.unwrap();
            assert!(html.contains("aws-cli"));
            let request = html
                .split("name=\"request\" value=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_owned();
            let answer = http
                .post(format!("{base}/authorize/approve"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("request={request}"))
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 302);
            let location = answer.headers()["location"].to_str().unwrap().to_owned();
            assert!(
                location.starts_with(&format!("{redirect}?code=")),
                "{location}"
            );
            assert!(location.ends_with("&state=xyz"), "{location}");
            location
                .split("code=")
                .nth(1)
                .unwrap()
                .split('&')
                .next()
                .unwrap()
                .to_owned()
        }
    };
    let exchange = |code: String, verifier: &'static str| {
        c.oidc
            .create_token()
            .client_id(reg.client_id().unwrap())
            .client_secret(reg.client_secret().unwrap())
            .grant_type("authorization_code")
            .code(code)
            .redirect_uri(redirect)
            .code_verifier(verifier)
            .send()
    };

    let code = code_for(http.clone()).await;
    let err = exchange(code, "wrong-verifier")
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(err, CreateTokenError::InvalidGrantException(_)),
        "{err:?}"
    );
    let code = code_for(http.clone()).await;
    let token = exchange(code, verifier).await.unwrap();
    assert!(token.access_token().is_some());
    assert!(token.refresh_token().is_some());
}

#[tokio::test]
async fn loopback_only_and_human_pages() {
    let err = emulator::start("0.0.0.0:0".parse().unwrap(), EmulatorOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);

    let emu = start(EmulatorOptions::default()).await;
    let device = reqwest::get(format!("{}/device", emu.base_url()))
        .await
        .unwrap();
    assert_eq!(device.status(), 200);
    assert!(device.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(device.text().await.unwrap().contains("name=\"user_code\""));
    let big = reqwest::Client::new()
        .post(format!("{}/token", emu.base_url()))
        .body(vec![b'x'; 200 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    emu.shutdown().await;
}
