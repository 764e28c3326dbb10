//! The IAM Identity Center OIDC service (`sso-oidc`) as a state machine:
//! client registrations, device authorizations, authorization codes and the
//! access and refresh tokens they turn into (protocols.md §3).
//!
//! A sign-in goes: first `RegisterClient` (a public client, valid for the
//! registration lifetime), then either `StartDeviceAuthorization` and
//! `CreateToken` polls with the device code until a person approves the user
//! code on the approval page, or the PKCE `GET /authorize` page that
//! redirects with a code that `CreateToken` exchanges. Every approval starts
//! a sign-in *session*; its access tokens and its refresh token belong to it,
//! and `Logout` ends it. Refresh tokens are issued only to registrations that
//! asked for scope `sso:account:access`, and rotate on every use.
//!
//! Nothing here does I/O or reads a clock: every operation takes `now` (the
//! crate clock, for expiry) and polls also take a monotonic instant (for the
//! `slow_down` pacing, so a test on a manual clock can still sign in).
//! Failures are [`OidcError`]s that know their wire form.
//!
//! The JSON shapes and errors live in `oidc/wire.rs`; the authorization-code
//! grant with PKCE, which shares the registrations and sessions, in
//! `oidc/pkce.rs`.

use super::mint;
use super::EmulatorOptions;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::Instant;

pub const GRANT_DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";
pub const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
/// The scope that earns a refresh token.
pub const SCOPE_ACCOUNT_ACCESS: &str = "sso:account:access";

mod pkce;
mod wire;

use pkce::{loopback, AuthorizationCode, PendingAuthorize};
pub use pkce::{pkce_challenge, AuthorizeRequest};
pub use wire::*;

/// What the approval page shows about a pending device authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingApproval {
    pub user_code: String,
    pub client_name: String,
    pub scopes: Vec<String>,
}

/// The state of a device authorization, as the approval page sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    Pending,
    Approved,
    Denied,
    Redeemed,
}

#[derive(Debug)]
struct Client {
    name: String,
    secret: String,
    expires_at: DateTime<Utc>,
    scopes: Vec<String>,
    grant_types: Vec<String>,
    redirect_uris: Vec<String>,
}

impl Client {
    fn allows(&self, grant: &str) -> bool {
        if self.grant_types.is_empty() {
            grant == GRANT_DEVICE_CODE || grant == GRANT_REFRESH_TOKEN
        } else {
            self.grant_types.iter().any(|g| g == grant)
        }
    }

    fn earns_refresh_token(&self) -> bool {
        self.scopes.iter().any(|s| s == SCOPE_ACCOUNT_ACCESS)
    }
}

#[derive(Debug)]
struct Device {
    client_id: String,
    user_code: String,
    expires_at: DateTime<Utc>,
    status: DeviceStatus,
    last_poll: Option<Instant>,
}

#[derive(Debug)]
struct AccessToken {
    session: u64,
    expires_at: DateTime<Utc>,
}

#[derive(Debug)]
struct RefreshToken {
    session: u64,
    client_id: String,
}

/// Every OIDC object the emulator has handed out.
#[derive(Debug, Default)]
pub struct Oidc {
    clients: HashMap<String, Client>,
    devices: HashMap<String, Device>,
    user_codes: HashMap<String, String>,
    authorize_requests: HashMap<String, PendingAuthorize>,
    codes: HashMap<String, AuthorizationCode>,
    access_tokens: HashMap<String, AccessToken>,
    refresh_tokens: HashMap<String, RefreshToken>,
    next_session: u64,
}

fn secs(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

fn required(value: &Option<String>, name: &str) -> Result<String, OidcError> {
    match value {
        Some(v) if !v.is_empty() => Ok(v.clone()),
        _ => Err(OidcError::InvalidRequest(format!("{name} is required"))),
    }
}

impl Oidc {
    /// `POST /client/register`.
    pub fn register_client(
        &mut self,
        req: RegisterClientRequest,
        now: DateTime<Utc>,
        options: &EmulatorOptions,
    ) -> Result<RegisterClientResponse, OidcError> {
        let name = required(&req.client_name, "clientName")?;
        let client_type = required(&req.client_type, "clientType")?;
        if client_type != "public" {
            return Err(OidcError::InvalidRequest(
                "clientType must be \"public\"".into(),
            ));
        }
        if let Some(bad) = req.scopes.iter().find(|s| !is_scope(s)) {
            return Err(OidcError::InvalidScope(format!("invalid scope {bad:?}")));
        }
        for grant in &req.grant_types {
            if ![
                GRANT_DEVICE_CODE,
                GRANT_REFRESH_TOKEN,
                GRANT_AUTHORIZATION_CODE,
            ]
            .contains(&grant.as_str())
            {
                return Err(OidcError::InvalidRequest(format!(
                    "unsupported grant type {grant:?}"
                )));
            }
        }
        if req
            .grant_types
            .iter()
            .any(|g| g == GRANT_AUTHORIZATION_CODE)
        {
            if req.redirect_uris.is_empty() {
                return Err(OidcError::InvalidRedirectUri(
                    "redirectUris are required for authorization_code".into(),
                ));
            }
            if let Some(bad) = req.redirect_uris.iter().find(|u| loopback(u).is_none()) {
                return Err(OidcError::InvalidRedirectUri(format!(
                    "redirect URI {bad:?} is not a loopback http URI"
                )));
            }
        }
        let client_id = mint::token("", 22);
        let secret = mint::token("eyJraWQiOiJrZXktMSJ9.", 120);
        let expires_at = now + secs(options.registration_ttl);
        self.clients.insert(
            client_id.clone(),
            Client {
                name,
                secret: secret.clone(),
                expires_at,
                scopes: req.scopes,
                grant_types: req.grant_types,
                redirect_uris: req.redirect_uris,
            },
        );
        Ok(RegisterClientResponse {
            client_id,
            client_secret: secret,
            client_id_issued_at: now.timestamp(),
            client_secret_expires_at: expires_at.timestamp(),
        })
    }

    /// The registration, if the id and secret match and it has not expired.
    fn client(
        &self,
        id: &Option<String>,
        secret: &Option<String>,
        now: DateTime<Utc>,
    ) -> Result<&Client, OidcError> {
        let id = required(id, "clientId")?;
        let secret = required(secret, "clientSecret")?;
        let client = self
            .clients
            .get(&id)
            .ok_or_else(|| OidcError::InvalidClient("Unknown client".into()))?;
        if !super::sigv4::constant_time_eq(client.secret.as_bytes(), secret.as_bytes()) {
            return Err(OidcError::InvalidClient("Invalid client secret".into()));
        }
        if now >= client.expires_at {
            return Err(OidcError::InvalidClient(
                "Client registration has expired".into(),
            ));
        }
        Ok(client)
    }

    /// `POST /device_authorization`.
    pub fn start_device_authorization(
        &mut self,
        req: StartDeviceAuthorizationRequest,
        now: DateTime<Utc>,
        options: &EmulatorOptions,
        base_url: &str,
    ) -> Result<DeviceAuthorizationResponse, OidcError> {
        self.client(&req.client_id, &req.client_secret, now)?;
        required(&req.start_url, "startUrl")?;
        let client_id = req.client_id.unwrap_or_default();
        let device_code = mint::token("", 64);
        let mut user_code = mint::user_code();
        while self.user_codes.contains_key(&user_code) {
            user_code = mint::user_code();
        }
        self.devices.insert(
            device_code.clone(),
            Device {
                client_id,
                user_code: user_code.clone(),
                expires_at: now + secs(options.device_code_ttl),
                status: DeviceStatus::Pending,
                last_poll: None,
            },
        );
        self.user_codes
            .insert(user_code.clone(), device_code.clone());
        Ok(DeviceAuthorizationResponse {
            device_code,
            verification_uri: format!("{base_url}/device"),
            verification_uri_complete: format!("{base_url}/device?user_code={user_code}"),
            user_code,
            expires_in: options.device_code_ttl.as_secs() as i64,
            interval: options.poll_interval.as_secs().max(1) as i64,
        })
    }

    /// The device authorization a person typed the user code of, if it can
    /// still be decided.
    pub fn pending_approval(&self, user_code: &str, now: DateTime<Utc>) -> Option<PendingApproval> {
        let code = normalize_user_code(user_code);
        let device = self.devices.get(self.user_codes.get(&code)?)?;
        if now >= device.expires_at || device.status != DeviceStatus::Pending {
            return None;
        }
        let client = self.clients.get(&device.client_id)?;
        Some(PendingApproval {
            user_code: code,
            client_name: client.name.clone(),
            scopes: client.scopes.clone(),
        })
    }

    /// Approve or deny the device authorization with this user code. Returns
    /// false when there is no pending authorization with that code.
    pub fn decide_device(&mut self, user_code: &str, approve: bool, now: DateTime<Utc>) -> bool {
        let code = normalize_user_code(user_code);
        let Some(device) = self
            .user_codes
            .get(&code)
            .and_then(|dc| self.devices.get_mut(dc))
        else {
            return false;
        };
        if now >= device.expires_at || device.status != DeviceStatus::Pending {
            return false;
        }
        device.status = if approve {
            DeviceStatus::Approved
        } else {
            DeviceStatus::Denied
        };
        true
    }

    /// `POST /token`, for every grant type.
    pub fn create_token(
        &mut self,
        req: CreateTokenRequest,
        now: DateTime<Utc>,
        poll: Instant,
        options: &EmulatorOptions,
    ) -> Result<TokenResponse, OidcError> {
        let client = self.client(&req.client_id, &req.client_secret, now)?;
        let grant = required(&req.grant_type, "grantType")?;
        let known = [
            GRANT_DEVICE_CODE,
            GRANT_REFRESH_TOKEN,
            GRANT_AUTHORIZATION_CODE,
        ];
        if !known.contains(&grant.as_str()) {
            return Err(OidcError::UnsupportedGrantType(format!(
                "unsupported grant type {grant:?}"
            )));
        }
        if !client.allows(&grant) {
            return Err(OidcError::UnauthorizedClient(format!(
                "client is not registered for grant type {grant}"
            )));
        }
        let client_id = req.client_id.clone().unwrap_or_default();
        let with_refresh = client.earns_refresh_token();
        let session = match grant.as_str() {
            GRANT_DEVICE_CODE => self.redeem_device_code(&req, &client_id, now, poll, options)?,
            GRANT_REFRESH_TOKEN => self.redeem_refresh_token(&req, &client_id)?,
            _ => self.redeem_authorization_code(&req, &client_id, now)?,
        };
        Ok(self.issue(session, &client_id, with_refresh, now, options))
    }

    fn redeem_device_code(
        &mut self,
        req: &CreateTokenRequest,
        client_id: &str,
        now: DateTime<Utc>,
        poll: Instant,
        options: &EmulatorOptions,
    ) -> Result<u64, OidcError> {
        let device_code = required(&req.device_code, "deviceCode")?;
        let device = match self.devices.get_mut(&device_code) {
            Some(d) if d.client_id == client_id => d,
            _ => return Err(OidcError::InvalidGrant("Invalid device code".into())),
        };
        if now >= device.expires_at {
            return Err(OidcError::ExpiredToken);
        }
        match device.status {
            DeviceStatus::Redeemed => {
                return Err(OidcError::InvalidGrant("Device code already used".into()))
            }
            DeviceStatus::Denied => return Err(OidcError::AccessDenied),
            DeviceStatus::Pending | DeviceStatus::Approved => {}
        }
        // Half the interval of slack: a client that sleeps the interval
        // between polls must never be told to slow down because of jitter.
        let too_soon = device
            .last_poll
            .is_some_and(|last| poll.saturating_duration_since(last) < options.poll_interval / 2);
        device.last_poll = Some(poll);
        if too_soon {
            return Err(OidcError::SlowDown);
        }
        match device.status {
            DeviceStatus::Approved => {
                device.status = DeviceStatus::Redeemed;
                let user_code = device.user_code.clone();
                self.user_codes.remove(&user_code);
                Ok(self.new_session())
            }
            _ => {
                if options.auto_approve {
                    device.status = DeviceStatus::Approved;
                }
                Err(OidcError::AuthorizationPending)
            }
        }
    }

    fn redeem_refresh_token(
        &mut self,
        req: &CreateTokenRequest,
        client_id: &str,
    ) -> Result<u64, OidcError> {
        let token = required(&req.refresh_token, "refreshToken")?;
        match self.refresh_tokens.get(&token) {
            Some(rt) if rt.client_id == client_id => {
                let session = rt.session;
                self.refresh_tokens.remove(&token);
                Ok(session)
            }
            _ => Err(OidcError::InvalidGrant("Invalid refresh token".into())),
        }
    }

    fn new_session(&mut self) -> u64 {
        self.next_session += 1;
        self.next_session
    }

    fn issue(
        &mut self,
        session: u64,
        client_id: &str,
        with_refresh: bool,
        now: DateTime<Utc>,
        options: &EmulatorOptions,
    ) -> TokenResponse {
        let access_token = mint::token("aoa", 120);
        self.access_tokens.insert(
            access_token.clone(),
            AccessToken {
                session,
                expires_at: now + secs(options.token_ttl),
            },
        );
        let refresh_token = with_refresh.then(|| {
            let token = mint::token("aor", 120);
            self.refresh_tokens.insert(
                token.clone(),
                RefreshToken {
                    session,
                    client_id: client_id.to_owned(),
                },
            );
            token
        });
        TokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in: options.token_ttl.as_secs() as i64,
            refresh_token,
        }
    }

    /// The sign-in session an access token belongs to, if it is live.
    pub fn authenticate(&self, access_token: &str, now: DateTime<Utc>) -> Option<u64> {
        self.access_tokens
            .get(access_token)
            .filter(|t| now < t.expires_at)
            .map(|t| t.session)
    }

    /// End the sign-in session of this access token: every access and
    /// refresh token it produced dies. Returns false for an unknown token.
    pub fn logout(&mut self, access_token: &str) -> bool {
        let Some(session) = self.access_tokens.get(access_token).map(|t| t.session) else {
            return false;
        };
        self.access_tokens.retain(|_, t| t.session != session);
        self.refresh_tokens.retain(|_, t| t.session != session);
        true
    }

    /// Every secret value held now: client secrets, device and
    /// authorization codes, access and refresh tokens (for tests that look
    /// for them where they must not be).
    pub fn secrets(&self) -> Vec<String> {
        let clients = self.clients.values().map(|c| c.secret.clone());
        clients
            .chain(self.devices.keys().cloned())
            .chain(self.codes.keys().cloned())
            .chain(self.access_tokens.keys().cloned())
            .chain(self.refresh_tokens.keys().cloned())
            .collect()
    }

    /// Revoke every access and refresh token (the `/_emulator/revoke` fault).
    pub fn revoke_all(&mut self) {
        self.access_tokens.clear();
        self.refresh_tokens.clear();
    }
}

/// `bcdf ghjk` or `BCDFGHJK` as typed by a person -> `BCDF-GHJK`.
pub fn normalize_user_code(input: &str) -> String {
    let letters: String = input
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if letters.len() == 8 {
        format!("{}-{}", &letters[..4], &letters[4..])
    } else {
        letters
    }
}

fn is_scope(scope: &str) -> bool {
    !scope.is_empty()
        && scope.len() <= 256
        && scope
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":_-.*/".contains(&b))
}

#[cfg(test)]
mod tests;
