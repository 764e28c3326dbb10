//! The OIDC state machine, operation by operation, at times the tests name.

use super::*;
use std::time::Duration;

fn options() -> EmulatorOptions {
    EmulatorOptions::default()
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn register(oidc: &mut Oidc, scopes: &[&str]) -> RegisterClientResponse {
    oidc.register_client(
        RegisterClientRequest {
            client_name: Some("test".into()),
            client_type: Some("public".into()),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        },
        t0(),
        &options(),
    )
    .unwrap()
}

fn device_token(reg: &RegisterClientResponse, device_code: &str) -> CreateTokenRequest {
    CreateTokenRequest {
        client_id: Some(reg.client_id.clone()),
        client_secret: Some(reg.client_secret.clone()),
        grant_type: Some(GRANT_DEVICE_CODE.into()),
        device_code: Some(device_code.into()),
        ..Default::default()
    }
}

fn start(oidc: &mut Oidc, reg: &RegisterClientResponse) -> DeviceAuthorizationResponse {
    oidc.start_device_authorization(
        StartDeviceAuthorizationRequest {
            client_id: Some(reg.client_id.clone()),
            client_secret: Some(reg.client_secret.clone()),
            start_url: Some("https://example.awsapps.com/start".into()),
        },
        t0(),
        &options(),
        "http://127.0.0.1:1",
    )
    .unwrap()
}

#[test]
fn device_flow_pending_then_approved_then_used() {
    let mut oidc = Oidc::default();
    let reg = register(&mut oidc, &[SCOPE_ACCOUNT_ACCESS]);
    assert_eq!(
        reg.client_secret_expires_at - reg.client_id_issued_at,
        90 * 86400
    );
    let auth = start(&mut oidc, &reg);
    assert_eq!(auth.verification_uri, "http://127.0.0.1:1/device");
    assert!(auth.verification_uri_complete.ends_with(&auth.user_code));
    let p0 = Instant::now();
    let poll = |oidc: &mut Oidc, at: u64| {
        oidc.create_token(
            device_token(&reg, &auth.device_code),
            t0(),
            p0 + Duration::from_secs(at),
            &options(),
        )
    };
    assert_eq!(poll(&mut oidc, 0), Err(OidcError::AuthorizationPending));
    assert!(oidc
        .pending_approval(&auth.user_code.to_lowercase(), t0())
        .is_some());
    assert!(oidc.decide_device(&auth.user_code, true, t0()));
    let token = poll(&mut oidc, 2).unwrap();
    assert_eq!(token.token_type, "Bearer");
    assert!(token.refresh_token.is_some());
    assert!(oidc.authenticate(&token.access_token, t0()).is_some());
    assert!(matches!(
        poll(&mut oidc, 4),
        Err(OidcError::InvalidGrant(_))
    ));
}

#[test]
fn fast_polls_slow_down_and_denial_is_final() {
    let mut oidc = Oidc::default();
    let reg = register(&mut oidc, &[]);
    let auth = start(&mut oidc, &reg);
    let p0 = Instant::now();
    let req = || device_token(&reg, &auth.device_code);
    let opts = options();
    assert_eq!(
        oidc.create_token(req(), t0(), p0, &opts),
        Err(OidcError::AuthorizationPending)
    );
    assert_eq!(
        oidc.create_token(req(), t0(), p0, &opts),
        Err(OidcError::SlowDown)
    );
    assert!(oidc.decide_device(&auth.user_code, false, t0()));
    assert!(!oidc.decide_device(&auth.user_code, true, t0()));
    let later = p0 + Duration::from_secs(5);
    assert_eq!(
        oidc.create_token(req(), t0(), later, &opts),
        Err(OidcError::AccessDenied)
    );
}

#[test]
fn auto_approve_answers_pending_once() {
    let mut oidc = Oidc::default();
    let reg = register(&mut oidc, &[]);
    let auth = start(&mut oidc, &reg);
    let opts = EmulatorOptions {
        auto_approve: true,
        ..options()
    };
    let p0 = Instant::now();
    let req = || device_token(&reg, &auth.device_code);
    assert_eq!(
        oidc.create_token(req(), t0(), p0, &opts),
        Err(OidcError::AuthorizationPending)
    );
    let token = oidc
        .create_token(req(), t0(), p0 + Duration::from_secs(1), &opts)
        .unwrap();
    assert!(token.refresh_token.is_none(), "no sso:account:access scope");
}

#[test]
fn device_code_and_registration_expire() {
    let mut oidc = Oidc::default();
    let reg = register(&mut oidc, &[]);
    let auth = start(&mut oidc, &reg);
    let late = t0() + chrono::Duration::seconds(601);
    let err = oidc.create_token(
        device_token(&reg, &auth.device_code),
        late,
        Instant::now(),
        &options(),
    );
    assert_eq!(err, Err(OidcError::ExpiredToken));
    let very_late = t0() + chrono::Duration::days(91);
    let err = oidc
        .create_token(
            device_token(&reg, &auth.device_code),
            very_late,
            Instant::now(),
            &options(),
        )
        .unwrap_err();
    assert_eq!(err.status(), 401);
    assert_eq!(err.exception(), "InvalidClientException");
}

#[test]
fn refresh_rotates_and_logout_ends_the_session() {
    let mut oidc = Oidc::default();
    let reg = register(&mut oidc, &[SCOPE_ACCOUNT_ACCESS]);
    let auth = start(&mut oidc, &reg);
    oidc.decide_device(&auth.user_code, true, t0());
    let first = oidc
        .create_token(
            device_token(&reg, &auth.device_code),
            t0(),
            Instant::now(),
            &options(),
        )
        .unwrap();
    let refresh = |oidc: &mut Oidc, token: &str| {
        oidc.create_token(
            CreateTokenRequest {
                client_id: Some(reg.client_id.clone()),
                client_secret: Some(reg.client_secret.clone()),
                grant_type: Some(GRANT_REFRESH_TOKEN.into()),
                refresh_token: Some(token.into()),
                ..Default::default()
            },
            t0(),
            Instant::now(),
            &options(),
        )
    };
    let second = refresh(&mut oidc, first.refresh_token.as_deref().unwrap()).unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert!(matches!(
        refresh(&mut oidc, first.refresh_token.as_deref().unwrap()),
        Err(OidcError::InvalidGrant(_))
    ));
    assert!(oidc.logout(&first.access_token));
    assert!(oidc.authenticate(&second.access_token, t0()).is_none());
    assert!(matches!(
        refresh(&mut oidc, second.refresh_token.as_deref().unwrap()),
        Err(OidcError::InvalidGrant(_))
    ));
}

#[test]
fn user_codes_are_normalized() {
    assert_eq!(normalize_user_code(" bcdf ghjk "), "BCDF-GHJK");
    assert_eq!(normalize_user_code("BCDF-GHJK"), "BCDF-GHJK");
}

#[test]
fn wrong_grant_types_and_bad_requests() {
    let mut oidc = Oidc::default();
    let reg = register(&mut oidc, &[]);
    let mut req = device_token(&reg, "x");
    req.grant_type = Some("password".into());
    let err = oidc
        .create_token(req, t0(), Instant::now(), &options())
        .unwrap_err();
    assert_eq!(err.exception(), "UnsupportedGrantTypeException");
    let mut req = device_token(&reg, "x");
    req.grant_type = Some(GRANT_AUTHORIZATION_CODE.into());
    let err = oidc
        .create_token(req, t0(), Instant::now(), &options())
        .unwrap_err();
    assert_eq!(err.error(), "unauthorized_client");
    let err = oidc
        .register_client(
            RegisterClientRequest {
                client_name: Some("x".into()),
                client_type: Some("public".into()),
                scopes: vec!["bad scope".into()],
                ..Default::default()
            },
            t0(),
            &options(),
        )
        .unwrap_err();
    assert_eq!(err.exception(), "InvalidScopeException");
    assert_eq!(
        oidc.register_client(RegisterClientRequest::default(), t0(), &options())
            .unwrap_err()
            .error(),
        "invalid_request"
    );
}
