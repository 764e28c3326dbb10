//! The IAM Identity Center OIDC calls (`aws-sdk-ssooidc`, protocols.md §3):
//! RegisterClient (cached in the vault until it expires),
//! StartDeviceAuthorization, and CreateToken for the device-code and
//! refresh-token grants.
//!
//! Every error the service defines becomes a [`LoginError`] or
//! [`RefreshError`] variant whose message says what to do next; a
//! [`RefreshError`] keeps what the call said as a [`Failure`], with the
//! SDK's error under it as its source. Errors are
//! matched on the normalized error code, so `authorization_pending`,
//! `AuthorizationPendingException` and the `x-amzn-errortype` spelling all
//! mean the same thing.

use super::device::PollOutcome;
use super::{classify_keeping, CallFailure, Failure, FailureKind};
use crate::config::SessionInfo;
use crate::model::{ClientRegistration, Secret, SsoToken};
use crate::sdk::{OidcClient as Client, SdkClients};
use crate::store::{StoreError, Vault};
use chrono::{DateTime, Duration, Utc};

/// The name credbroker registers its OIDC client under.
pub const CLIENT_NAME: &str = "credbroker";
/// The CreateToken grant type of the device-code flow.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The CreateToken grant type that renews an access token.
pub const REFRESH_TOKEN_GRANT: &str = "refresh_token";
/// A cached registration with less than this left is replaced, so a refresh
/// token issued under it stays usable for at least this long.
pub fn registration_margin() -> Duration {
    Duration::days(1)
}

/// Why a sign-in failed; each message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("the code expired before it was approved; run the login again")]
    CodeExpired,
    #[error("sign-in was denied in the browser; run the login again and choose Allow")]
    Denied,
    #[error("sign-in cancelled; nothing was saved")]
    Cancelled,
    /// `invalid_client` / `unauthorized_client`: the registration is dead.
    /// The sign-in registers again once before reporting this.
    #[error("IAM Identity Center rejected credbroker's client registration ({0}); run the login again, and if it persists check sso_region and sso_start_url")]
    InvalidClient(String),
    #[error("the device code was rejected ({0}); run the login again")]
    InvalidGrant(String),
    #[error("IAM Identity Center refused the requested scopes ({0}); check sso_registration_scopes of the sso-session (usually just sso:account:access)")]
    InvalidScope(String),
    #[error("IAM Identity Center refused the request ({0}); check sso_start_url and sso_region")]
    InvalidRequest(String),
    #[error("this IAM Identity Center instance does not allow this kind of sign-in ({0}); sign in with a device code instead")]
    UnsupportedGrant(String),
    /// PKCE: the browser never came back to the loopback listener.
    #[error("no answer from the browser within {} minute(s); run the login again, or sign in with a device code", .0.as_secs().div_ceil(60))]
    BrowserTimeout(std::time::Duration),
    /// PKCE: the loopback listener could not be set up or failed.
    #[error("could not receive the browser's answer on 127.0.0.1 ({0}); sign in with a device code instead")]
    Callback(String),
    /// `slow_down` outside polling, 429, InternalServerException, 5xx.
    #[error("IAM Identity Center is busy or failing ({0}); wait a minute and run the login again")]
    Busy(String),
    #[error("could not reach IAM Identity Center: {0}; check the network, sso_region, and any AWS_ENDPOINT_URL* variables")]
    Unreachable(String),
    #[error("unexpected answer from IAM Identity Center: {0}")]
    Unexpected(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LoginError {
    /// A failure of the browser sign-in that a device code gets round; the
    /// caller adds the whole command, which only it knows.
    pub fn wants_device_code(&self) -> bool {
        matches!(
            self,
            LoginError::UnsupportedGrant(_)
                | LoginError::BrowserTimeout(_)
                | LoginError::Callback(_)
        )
    }

    /// Worth polling again (a blip while the person is approving).
    pub fn is_transient(&self) -> bool {
        matches!(self, LoginError::Busy(_) | LoginError::Unreachable(_))
    }
}

/// Why a token refresh failed. The caller says which session, and what to
/// run; each variant keeps what the call said.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The refresh token or its registration is dead: the person must sign in.
    #[error("{0}")]
    NeedsLogin(#[source] Failure),
    /// Try again later.
    #[error("IAM Identity Center is unavailable: {0}")]
    Transient(#[source] Failure),
    #[error("IAM Identity Center refused the refresh: {0}")]
    Other(#[source] Failure),
}

/// What StartDeviceAuthorization returned. The device code is a secret (it
/// can be exchanged for a token); the user code is meant to be shown.
#[derive(Debug, Clone)]
pub struct DeviceAuthorization {
    pub device_code: Secret,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: i32,
    pub interval: i32,
}

/// A successful CreateToken, before it is tied to a session and a time.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub access_token: Secret,
    pub expires_in: i32,
    pub refresh_token: Option<Secret>,
}

impl TokenGrant {
    /// The token as stored, `now` being when the grant arrived.
    pub fn into_token(self, session: &SessionInfo, now: DateTime<Utc>) -> SsoToken {
        SsoToken {
            start_url: session.start_url.clone(),
            region: session.region.clone(),
            access_token: self.access_token,
            expires_at: now + Duration::seconds(i64::from(self.expires_in.max(0))),
            refresh_token: self.refresh_token,
            issued_at: Some(now),
            registration_key: None,
        }
    }
}

/// The OIDC client for `region`.
pub fn client(clients: &SdkClients, region: &str) -> Client {
    clients.oidc(region)
}

/// The vault key of a session's registration: region, start URL and the
/// sorted scopes (a registration is only good for the scopes it asked for).
pub fn registration_key(session: &SessionInfo) -> String {
    let mut scopes = session.registration_scopes.clone();
    scopes.sort();
    scopes.dedup();
    format!(
        "{} {} {}",
        session.region,
        session.start_url,
        scopes.join(",")
    )
}

/// RegisterClient: a public client named `credbroker` with the session's scopes.
pub async fn register(
    client: &Client,
    session: &SessionInfo,
    now: DateTime<Utc>,
) -> Result<ClientRegistration, LoginError> {
    let mut request = client
        .register_client()
        .client_name(CLIENT_NAME)
        .client_type("public");
    for scope in &session.registration_scopes {
        request = request.scopes(scope);
    }
    let out = request
        .send()
        .await
        .map_err(|e| login_error(classify_keeping(e).at(client.url())))?;
    registration_from(&out, session, Vec::new(), now)
}

/// A RegisterClient answer as the registration credbroker keeps, for the
/// grant types it was registered with.
pub(crate) fn registration_from(
    out: &aws_sdk_ssooidc::operation::register_client::RegisterClientOutput,
    session: &SessionInfo,
    grant_types: Vec<String>,
    now: DateTime<Utc>,
) -> Result<ClientRegistration, LoginError> {
    let (Some(id), Some(secret)) = (out.client_id(), out.client_secret()) else {
        return Err(LoginError::Unexpected(
            "RegisterClient returned no client id or secret".into(),
        ));
    };
    let expires_at = DateTime::from_timestamp(out.client_secret_expires_at(), 0)
        .filter(|t| *t > now)
        // No usable expiry: keep it for a day rather than never re-registering.
        .unwrap_or(now + Duration::days(1));
    Ok(ClientRegistration {
        region: session.region.clone(),
        client_id: id.to_owned(),
        client_secret: Secret::new(secret),
        expires_at,
        scopes: session.registration_scopes.clone(),
        grant_types,
    })
}

/// The cached registration for this session, or a new one (saved) when there
/// is none or it expires within [`registration_margin`].
pub async fn registration(
    client: &Client,
    session: &SessionInfo,
    vault: &Vault,
    now: DateTime<Utc>,
) -> Result<ClientRegistration, LoginError> {
    let key = registration_key(session);
    if let Some(reg) = vault.registration(&key).await? {
        if reg.expires_at > now + registration_margin() {
            return Ok(reg);
        }
    }
    let reg = register(client, session, now).await?;
    vault.put_registration(&key, &reg).await?;
    Ok(reg)
}

/// StartDeviceAuthorization for the session's start URL.
pub async fn start_device_authorization(
    client: &Client,
    reg: &ClientRegistration,
    start_url: &str,
) -> Result<DeviceAuthorization, LoginError> {
    let out = client
        .start_device_authorization()
        .client_id(&reg.client_id)
        .client_secret(reg.client_secret.expose())
        .start_url(start_url)
        .send()
        .await
        .map_err(|e| login_error(classify_keeping(e).at(client.url())))?;
    let (Some(device_code), Some(user_code), Some(uri)) =
        (out.device_code(), out.user_code(), out.verification_uri())
    else {
        return Err(LoginError::Unexpected(
            "StartDeviceAuthorization returned no device code, user code or URL".into(),
        ));
    };
    Ok(DeviceAuthorization {
        device_code: Secret::new(device_code),
        user_code: user_code.to_owned(),
        verification_uri: uri.to_owned(),
        verification_uri_complete: out.verification_uri_complete().map(str::to_owned),
        expires_in: out.expires_in(),
        interval: out.interval(),
    })
}

/// One CreateToken poll with the device code, as the state machine sees it.
pub async fn poll_device_token(
    client: &Client,
    reg: &ClientRegistration,
    device_code: &Secret,
) -> PollOutcome<TokenGrant, LoginError> {
    let result = client
        .create_token()
        .client_id(&reg.client_id)
        .client_secret(reg.client_secret.expose())
        .grant_type(DEVICE_CODE_GRANT)
        .device_code(device_code.expose())
        .send()
        .await;
    match result {
        Ok(out) => match grant_from(out.access_token(), out.expires_in(), out.refresh_token()) {
            Some(grant) => PollOutcome::Success(grant),
            None => PollOutcome::Failed(LoginError::Unexpected(
                "CreateToken returned no access token".into(),
            )),
        },
        Err(e) => {
            let failure = classify_keeping(e).at(client.url());
            match failure.code.as_deref() {
                Some("authorizationpending") => PollOutcome::Pending,
                Some("slowdown") => PollOutcome::SlowDown,
                Some("expiredtoken") => PollOutcome::ExpiredToken,
                Some("accessdenied") => PollOutcome::AccessDenied,
                _ => {
                    let err = login_error(failure);
                    if err.is_transient() {
                        PollOutcome::Transient(err)
                    } else {
                        PollOutcome::Failed(err)
                    }
                }
            }
        }
    }
}

/// CreateToken with the `refresh_token` grant. The new token keeps the old
/// refresh token unless the service rotated it.
pub async fn refresh(
    clients: &SdkClients,
    session: &SessionInfo,
    registration: &ClientRegistration,
    refresh_token: &Secret,
    now: DateTime<Utc>,
) -> Result<SsoToken, RefreshError> {
    let client = client(clients, &session.region);
    let result = client
        .create_token()
        .client_id(&registration.client_id)
        .client_secret(registration.client_secret.expose())
        .grant_type(REFRESH_TOKEN_GRANT)
        .refresh_token(refresh_token.expose())
        .send()
        .await;
    match result {
        Ok(out) => {
            let mut grant = grant_from(out.access_token(), out.expires_in(), out.refresh_token())
                .ok_or_else(|| {
                RefreshError::Other("CreateToken returned no access token".into())
            })?;
            if grant.refresh_token.is_none() {
                grant.refresh_token = Some(refresh_token.clone());
            }
            Ok(grant.into_token(session, now))
        }
        Err(e) => Err(refresh_error(classify_keeping(e).at(client.url()))),
    }
}

pub(crate) fn grant_from(
    access_token: Option<&str>,
    expires_in: i32,
    refresh_token: Option<&str>,
) -> Option<TokenGrant> {
    Some(TokenGrant {
        access_token: Secret::new(access_token.filter(|t| !t.is_empty())?),
        expires_in,
        refresh_token: refresh_token.filter(|t| !t.is_empty()).map(Secret::new),
    })
}

/// Map a failed OIDC call to the sign-in error that says what to do.
pub(crate) fn login_error(f: CallFailure) -> LoginError {
    let detail = f.detail;
    match f.kind {
        FailureKind::Transient => return LoginError::Unreachable(detail),
        FailureKind::Other => return LoginError::Unexpected(detail),
        FailureKind::Service => {}
    }
    match f.code.as_deref() {
        Some("expiredtoken") => LoginError::CodeExpired,
        Some("accessdenied") => LoginError::Denied,
        Some("invalidclient" | "unauthorizedclient") => LoginError::InvalidClient(detail),
        Some("invalidgrant") => LoginError::InvalidGrant(detail),
        Some("invalidscope") => LoginError::InvalidScope(detail),
        Some("unsupportedgranttype") => LoginError::UnsupportedGrant(detail),
        Some(
            "invalidrequest"
            | "invalidclientmetadata"
            | "invalidredirecturi"
            | "invalidrequestregion",
        ) => LoginError::InvalidRequest(detail),
        Some("slowdown" | "internalserver" | "toomanyrequests" | "throttling") => {
            LoginError::Busy(detail)
        }
        _ => match f.status {
            Some(401) => LoginError::InvalidClient(detail),
            Some(s) if s == 429 || s >= 500 => LoginError::Busy(detail),
            _ => LoginError::Unexpected(detail),
        },
    }
}

/// Map a failed refresh to "sign in again", "try later" or neither.
pub(crate) fn refresh_error(f: CallFailure) -> RefreshError {
    let detail = f.failure();
    match f.kind {
        FailureKind::Transient => return RefreshError::Transient(detail),
        FailureKind::Other => return RefreshError::Other(detail),
        FailureKind::Service => {}
    }
    match f.code.as_deref() {
        Some(
            "invalidgrant" | "invalidclient" | "unauthorizedclient" | "expiredtoken"
            | "accessdenied",
        ) => RefreshError::NeedsLogin(detail),
        Some("slowdown" | "internalserver" | "toomanyrequests" | "throttling") => {
            RefreshError::Transient(detail)
        }
        _ => match f.status {
            Some(401) => RefreshError::NeedsLogin(detail),
            Some(s) if s == 429 || s >= 500 => RefreshError::Transient(detail),
            _ => RefreshError::Other(detail),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(code: &str, status: u16) -> CallFailure {
        CallFailure {
            kind: FailureKind::Service,
            code: Some(super::super::normalize_code(code)),
            status: Some(status),
            detail: code.to_owned(),
            source: None,
        }
    }

    fn session(scopes: &[&str]) -> SessionInfo {
        SessionInfo {
            key: "work".into(),
            start_url: "https://example.awsapps.com/start".into(),
            region: "eu-west-1".into(),
            registration_scopes: scopes.iter().map(|s| s.to_string()).collect(),
            legacy: false,
            login_command: "credbroker login --sso-session work".into(),
        }
    }

    #[test]
    fn registration_key_ignores_scope_order() {
        let a = registration_key(&session(&["a", "b"]));
        let b = registration_key(&session(&["b", "a", "a"]));
        assert_eq!(a, b);
        assert!(a.contains("eu-west-1") && a.contains("https://example.awsapps.com/start"));
        assert_ne!(a, registration_key(&session(&[])));
    }

    #[test]
    fn login_errors_say_what_to_do() {
        let e = login_error(service("ExpiredTokenException", 400));
        assert!(matches!(e, LoginError::CodeExpired));
        assert!(e.to_string().contains("run the login again"));
        let e = login_error(service("AccessDeniedException", 400));
        assert!(e.to_string().contains("denied in the browser"));
        assert!(matches!(
            login_error(service("InvalidClientException", 401)),
            LoginError::InvalidClient(_)
        ));
        assert!(matches!(
            login_error(service("unauthorized_client", 400)),
            LoginError::InvalidClient(_)
        ));
        assert!(matches!(
            login_error(service("InvalidScopeException", 400)),
            LoginError::InvalidScope(_)
        ));
        assert!(matches!(
            login_error(service("InternalServerException", 500)),
            LoginError::Busy(_)
        ));
        assert!(matches!(
            login_error(service("SomethingNew", 503)),
            LoginError::Busy(_)
        ));
    }

    #[test]
    fn dead_refresh_tokens_need_a_login() {
        for code in [
            "InvalidGrantException",
            "invalid_client",
            "ExpiredTokenException",
        ] {
            assert!(matches!(
                refresh_error(service(code, 400)),
                RefreshError::NeedsLogin(_)
            ));
        }
        assert!(matches!(
            refresh_error(service("InternalServerException", 500)),
            RefreshError::Transient(_)
        ));
        let transport = CallFailure {
            kind: FailureKind::Transient,
            code: None,
            status: None,
            detail: "connection refused".into(),
            source: None,
        };
        assert!(matches!(
            refresh_error(transport),
            RefreshError::Transient(_)
        ));
    }

    #[test]
    fn grant_keeps_secrets_out_of_debug() {
        let g = grant_from(Some("at-secret"), 3600, Some("rt-secret")).unwrap();
        let text = format!("{g:?}");
        assert!(!text.contains("at-secret") && !text.contains("rt-secret"));
        assert!(grant_from(Some(""), 3600, None).is_none());
    }
}
