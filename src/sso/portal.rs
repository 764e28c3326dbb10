//! The SSO portal (`aws-sdk-sso`, protocols.md §4): role credentials for an
//! account and role, the accounts and roles a person may use, and Logout.
//!
//! The region comes from the token (it is where the person signed in), and
//! errors are sorted by what the caller should do: sign in again
//! ([`PortalError::Unauthorized`]), fix the profile ([`PortalError::NotFound`]),
//! or retry later ([`PortalError::Transient`]). Each keeps what the call
//! said as a [`Failure`], with the SDK's error under it as its source.

use super::{classify_keeping, CallFailure, Failure, FailureKind};
use crate::model::{RoleCredentials, Secret, SsoToken};
use crate::sdk::{PortalClient as Client, SdkClients};
use chrono::DateTime;

#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// 401: the access token is expired or revoked; the person must sign in.
    #[error("IAM Identity Center rejected the SSO access token (expired or revoked): {0}")]
    Unauthorized(#[source] Failure),
    /// 404 / ResourceNotFound: no such account or role for this user.
    #[error("IAM Identity Center knows no such account or role: {0}")]
    NotFound(#[source] Failure),
    /// 429 / 5xx / timeouts / dropped connections: try again later.
    #[error("IAM Identity Center is unavailable: {0}")]
    Transient(#[source] Failure),
    #[error("IAM Identity Center refused the request: {0}")]
    Other(#[source] Failure),
}

/// An account the signed-in person can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSummary {
    pub account_id: String,
    pub account_name: Option<String>,
    pub email: Option<String>,
}

/// The portal client for the region the token was issued in.
pub fn client(clients: &SdkClients, token: &SsoToken) -> Client {
    clients.portal(&token.region)
}

/// GetRoleCredentials for `account_id`/`role_name` with `token`.
pub async fn get_role_credentials(
    clients: &SdkClients,
    token: &SsoToken,
    account_id: &str,
    role_name: &str,
) -> Result<RoleCredentials, PortalError> {
    let client = client(clients, token);
    let out = client
        .get_role_credentials()
        .access_token(token.access_token.expose())
        .account_id(account_id)
        .role_name(role_name)
        .send()
        .await
        .map_err(|e| portal_error(classify_keeping(e).at(client.url())))?;
    // No credentials, or empty ones, is a cut-off or garbled answer: the
    // next call is likely whole, so it is transient, never served.
    let creds = out.role_credentials().ok_or_else(|| {
        PortalError::Transient("GetRoleCredentials returned no credentials".into())
    })?;
    let (key_id, secret, session_token) = (
        creds.access_key_id().unwrap_or_default(),
        creds.secret_access_key().unwrap_or_default(),
        creds.session_token().unwrap_or_default(),
    );
    crate::model::refuse_empty_keys("GetRoleCredentials", key_id, secret, session_token)
        .map_err(|e| PortalError::Transient(e.into()))?;
    let expiration = DateTime::from_timestamp_millis(creds.expiration()).ok_or_else(|| {
        PortalError::Other(
            format!(
                "GetRoleCredentials returned an impossible expiration ({})",
                creds.expiration()
            )
            .into(),
        )
    })?;
    Ok(RoleCredentials {
        access_key_id: key_id.to_owned(),
        secret_access_key: Secret::new(secret),
        session_token: Secret::new(session_token),
        expiration,
        account_id: Some(account_id.to_owned()),
        // The caller knows the time (it holds the clock) and stamps this.
        issued_at: None,
    })
}

/// Every account the token may use (ListAccounts, all pages).
pub async fn list_accounts(
    clients: &SdkClients,
    token: &SsoToken,
) -> Result<Vec<AccountSummary>, PortalError> {
    list_accounts_with(&client(clients, token), token).await
}

/// [`list_accounts`] with a client the caller keeps (many calls, one client).
pub async fn list_accounts_with(
    client: &Client,
    token: &SsoToken,
) -> Result<Vec<AccountSummary>, PortalError> {
    let mut accounts = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let out = client
            .list_accounts()
            .access_token(token.access_token.expose())
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| portal_error(classify_keeping(e).at(client.url())))?;
        accounts.extend(out.account_list().iter().filter_map(|a| {
            Some(AccountSummary {
                account_id: a.account_id()?.to_owned(),
                account_name: a.account_name().map(str::to_owned),
                email: a.email_address().map(str::to_owned),
            })
        }));
        match out.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_owned()),
            _ => return Ok(accounts),
        }
    }
}

/// The names of the roles the token may use in `account_id` (all pages).
pub async fn list_account_roles(
    clients: &SdkClients,
    token: &SsoToken,
    account_id: &str,
) -> Result<Vec<String>, PortalError> {
    list_account_roles_with(&client(clients, token), token, account_id).await
}

/// [`list_account_roles`] with a client the caller keeps.
pub async fn list_account_roles_with(
    client: &Client,
    token: &SsoToken,
    account_id: &str,
) -> Result<Vec<String>, PortalError> {
    let mut roles = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let out = client
            .list_account_roles()
            .access_token(token.access_token.expose())
            .account_id(account_id)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| portal_error(classify_keeping(e).at(client.url())))?;
        roles.extend(
            out.role_list()
                .iter()
                .filter_map(|r| r.role_name().map(str::to_owned)),
        );
        match out.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_owned()),
            _ => return Ok(roles),
        }
    }
}

/// Logout: ends the sign-in on the IAM Identity Center side (the access
/// token and the role credentials it minted stop being renewable).
pub async fn logout(clients: &SdkClients, token: &SsoToken) -> Result<(), PortalError> {
    let client = client(clients, token);
    client
        .logout()
        .access_token(token.access_token.expose())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| portal_error(classify_keeping(e).at(client.url())))
}

/// Sort a failed portal call by what the caller should do.
fn portal_error(f: CallFailure) -> PortalError {
    let failure = f.failure();
    match f.kind {
        FailureKind::Transient => return PortalError::Transient(failure),
        FailureKind::Other => return PortalError::Other(failure),
        FailureKind::Service => {}
    }
    match (f.code.as_deref(), f.status) {
        (Some("unauthorized"), _) | (_, Some(401)) => PortalError::Unauthorized(failure),
        (Some("resourcenotfound"), _) | (_, Some(404)) => PortalError::NotFound(failure),
        (Some("toomanyrequests" | "throttling"), _) => PortalError::Transient(failure),
        (_, Some(s)) if s == 429 || s >= 500 => PortalError::Transient(failure),
        _ => PortalError::Other(failure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(kind: FailureKind, code: Option<&str>, status: Option<u16>) -> CallFailure {
        CallFailure {
            kind,
            code: code.map(super::super::normalize_code),
            status,
            detail: "detail".into(),
            source: None,
        }
    }

    #[test]
    fn errors_sort_by_what_to_do() {
        use FailureKind::*;
        let cases: [(CallFailure, &str); 8] = [
            (
                failure(Service, Some("UnauthorizedException"), Some(401)),
                "Unauthorized",
            ),
            (failure(Service, None, Some(401)), "Unauthorized"),
            (
                failure(Service, Some("ResourceNotFoundException"), Some(404)),
                "NotFound",
            ),
            (
                failure(Service, Some("TooManyRequestsException"), Some(429)),
                "Transient",
            ),
            (failure(Service, None, Some(503)), "Transient"),
            (failure(Transient, None, None), "Transient"),
            (
                failure(Service, Some("InvalidRequestException"), Some(400)),
                "Other",
            ),
            (failure(Other, None, Some(400)), "Other"),
        ];
        for (f, want) in cases {
            let got = format!("{:?}", portal_error(f.clone()));
            assert!(got.starts_with(want), "{f:?} -> {got}");
        }
    }
}
