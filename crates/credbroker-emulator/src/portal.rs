//! The SSO portal (`sso`): what a signed-in user may do with their access
//! token (protocols.md §4).
//!
//! Every call first checks the bearer token in `x-amz-sso_bearer_token`
//! against the OIDC sign-in sessions; then `GetRoleCredentials` mints role
//! credentials for an assigned account and role and remembers them, so STS
//! can later check a SigV4 signature made with them, and the two list calls
//! page through the [`Directory`](super::directory::Directory). Page tokens
//! are opaque to clients (an encoded offset), as AWS's are.
//!
//! Pure: the caller passes `now` and gets JSON values or a [`PortalError`].

use super::directory::Directory;
use super::mint;
use super::oidc::Oidc;
use super::EmulatorOptions;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Page size when the client does not send `max_result`.
const DEFAULT_PAGE_SIZE: usize = 20;
const MAX_PAGE_SIZE: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortalError {
    Unauthorized(String),
    ResourceNotFound(String),
    TooManyRequests(String),
    InvalidRequest(String),
}

impl PortalError {
    pub fn status(&self) -> u16 {
        match self {
            PortalError::Unauthorized(_) => 401,
            PortalError::ResourceNotFound(_) => 404,
            PortalError::TooManyRequests(_) => 429,
            PortalError::InvalidRequest(_) => 400,
        }
    }

    pub fn exception(&self) -> &'static str {
        match self {
            PortalError::Unauthorized(_) => "UnauthorizedException",
            PortalError::ResourceNotFound(_) => "ResourceNotFoundException",
            PortalError::TooManyRequests(_) => "TooManyRequestsException",
            PortalError::InvalidRequest(_) => "InvalidRequestException",
        }
    }

    pub fn body(&self) -> Value {
        let (PortalError::Unauthorized(m)
        | PortalError::ResourceNotFound(m)
        | PortalError::TooManyRequests(m)
        | PortalError::InvalidRequest(m)) = self;
        json!({ "message": m })
    }
}

/// Role credentials the portal handed out, kept so STS can verify requests
/// signed with them.
#[derive(Debug, Clone)]
pub struct IssuedCredentials {
    pub secret_access_key: String,
    pub session_token: String,
    pub account_id: String,
    pub role_name: String,
    pub user: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct Portal {
    issued: HashMap<String, IssuedCredentials>,
}

/// Check the bearer token: a live access token of an open sign-in session.
pub fn authenticate(
    oidc: &Oidc,
    token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<u64, PortalError> {
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| PortalError::Unauthorized("Session token not found or invalid".into()))?;
    oidc.authenticate(token, now)
        .ok_or_else(|| PortalError::Unauthorized("Session token not found or invalid".into()))
}

fn required<'a>(value: Option<&'a str>, name: &str) -> Result<&'a str, PortalError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| PortalError::InvalidRequest(format!("{name} is required")))
}

impl Portal {
    /// Every credential secret and session token handed out so far.
    pub fn secrets(&self) -> Vec<String> {
        self.issued
            .values()
            .flat_map(|c| [c.secret_access_key.clone(), c.session_token.clone()])
            .collect()
    }

    /// `GET /federation/credentials?role_name=&account_id=`.
    pub fn get_role_credentials(
        &mut self,
        directory: &Directory,
        account_id: Option<&str>,
        role_name: Option<&str>,
        now: DateTime<Utc>,
        options: &EmulatorOptions,
    ) -> Result<Value, PortalError> {
        let account_id = required(account_id, "account_id")?;
        let role_name = required(role_name, "role_name")?;
        if !directory
            .account(account_id)
            .is_some_and(|a| a.has_role(role_name))
        {
            return Err(PortalError::ResourceNotFound("No access".into()));
        }
        let access_key_id = mint::access_key_id();
        let ttl =
            chrono::Duration::from_std(options.credentials_ttl).unwrap_or(chrono::Duration::MAX);
        let issued = IssuedCredentials {
            secret_access_key: mint::secret_access_key(),
            session_token: mint::token("IQoJb3JpZ2luX2VjE", 300),
            account_id: account_id.to_owned(),
            role_name: role_name.to_owned(),
            user: directory.user.clone(),
            expires_at: now + ttl,
        };
        let body = json!({
            "roleCredentials": {
                "accessKeyId": access_key_id,
                "secretAccessKey": issued.secret_access_key,
                "sessionToken": issued.session_token,
                "expiration": issued.expires_at.timestamp_millis(),
            }
        });
        self.issued.insert(access_key_id, issued);
        Ok(body)
    }

    /// Remember credentials issued elsewhere (STS AssumeRoleWithWebIdentity),
    /// so GetCallerIdentity verifies requests signed with them.
    pub fn record(&mut self, access_key_id: String, issued: IssuedCredentials) {
        self.issued.insert(access_key_id, issued);
    }

    /// The credentials with this access key id, if the portal issued them.
    pub fn credentials(&self, access_key_id: &str) -> Option<&IssuedCredentials> {
        self.issued.get(access_key_id)
    }
}

/// `GET /assignment/accounts?next_token=&max_result=`.
pub fn list_accounts(
    directory: &Directory,
    next_token: Option<&str>,
    max_result: Option<&str>,
) -> Result<Value, PortalError> {
    let (page, next) = paginate(&directory.accounts, next_token, max_result)?;
    let list: Vec<Value> = page
        .iter()
        .map(|a| json!({ "accountId": a.id, "accountName": a.name, "emailAddress": a.email() }))
        .collect();
    Ok(with_next(json!({ "accountList": list }), next))
}

/// `GET /assignment/roles?account_id=&next_token=&max_result=`.
pub fn list_account_roles(
    directory: &Directory,
    account_id: Option<&str>,
    next_token: Option<&str>,
    max_result: Option<&str>,
) -> Result<Value, PortalError> {
    let account_id = required(account_id, "account_id")?;
    let account = directory
        .account(account_id)
        .ok_or_else(|| PortalError::ResourceNotFound("No access".into()))?;
    let (page, next) = paginate(&account.roles, next_token, max_result)?;
    let list: Vec<Value> = page
        .iter()
        .map(|r| json!({ "roleName": r, "accountId": account.id }))
        .collect();
    Ok(with_next(json!({ "roleList": list }), next))
}

fn with_next(mut body: Value, next: Option<String>) -> Value {
    if let Some(next) = next {
        body["nextToken"] = Value::String(next);
    }
    body
}

/// One page of `items` and the token for the next page, if there is one.
fn paginate<'a, T>(
    items: &'a [T],
    next_token: Option<&str>,
    max_result: Option<&str>,
) -> Result<(&'a [T], Option<String>), PortalError> {
    let size = match max_result.filter(|m| !m.is_empty()) {
        None => DEFAULT_PAGE_SIZE,
        Some(m) => match m.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            _ => {
                return Err(PortalError::InvalidRequest(format!(
                    "max_result must be between 1 and {MAX_PAGE_SIZE}"
                )))
            }
        },
    };
    let start = match next_token.filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => decode_page_token(t)
            .filter(|&n| n <= items.len())
            .ok_or_else(|| PortalError::InvalidRequest("Invalid next_token".into()))?,
    };
    let end = (start + size).min(items.len());
    let next = (end < items.len()).then(|| encode_page_token(end));
    Ok((&items[start..end], next))
}

fn encode_page_token(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("page:{offset}"))
}

fn decode_page_token(token: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("page:")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::Account;

    fn big_directory() -> Directory {
        Directory {
            user: "dev@example.com".into(),
            accounts: (1..=7)
                .map(|i| {
                    Account::new(
                        &format!("{i:012}"),
                        &format!("acct{i}"),
                        &["A", "B", "C", "D"],
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn accounts_page_through_in_order() {
        let d = big_directory();
        let mut token: Option<String> = None;
        let mut ids = Vec::new();
        let mut pages = 0;
        loop {
            let body = list_accounts(&d, token.as_deref(), Some("3")).unwrap();
            pages += 1;
            for a in body["accountList"].as_array().unwrap() {
                ids.push(a["accountId"].as_str().unwrap().to_owned());
            }
            match body["nextToken"].as_str() {
                Some(t) => token = Some(t.to_owned()),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(
            ids,
            d.accounts.iter().map(|a| a.id.clone()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn roles_page_and_unknown_account_is_not_found() {
        let d = big_directory();
        let body = list_account_roles(&d, Some("000000000001"), None, Some("3")).unwrap();
        assert_eq!(body["roleList"].as_array().unwrap().len(), 3);
        assert_eq!(body["roleList"][0]["accountId"], "000000000001");
        let rest = list_account_roles(
            &d,
            Some("000000000001"),
            body["nextToken"].as_str(),
            Some("3"),
        )
        .unwrap();
        assert_eq!(rest["roleList"].as_array().unwrap().len(), 1);
        assert!(rest.get("nextToken").is_none());
        assert_eq!(
            list_account_roles(&d, Some("999999999999"), None, None)
                .unwrap_err()
                .status(),
            404
        );
    }

    #[test]
    fn bad_page_arguments_are_invalid_requests() {
        let d = big_directory();
        for (token, max) in [
            (Some("garbage!"), None),
            (None, Some("0")),
            (None, Some("x")),
        ] {
            let err = list_accounts(&d, token, max).unwrap_err();
            assert_eq!(err.exception(), "InvalidRequestException");
        }
    }

    #[test]
    fn role_credentials_only_for_assignments_and_are_remembered() {
        let d = Directory::default();
        let mut portal = Portal::default();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let opts = EmulatorOptions::default();
        let body = portal
            .get_role_credentials(&d, Some("111111111111"), Some("Admin"), now, &opts)
            .unwrap();
        let creds = &body["roleCredentials"];
        assert_eq!(creds["expiration"], (now.timestamp() + 3600) * 1000);
        let issued = portal
            .credentials(creds["accessKeyId"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            issued.secret_access_key,
            creds["secretAccessKey"].as_str().unwrap()
        );
        assert_eq!(issued.role_name, "Admin");
        let err = portal
            .get_role_credentials(&d, Some("222222222222"), Some("Admin"), now, &opts)
            .unwrap_err();
        assert_eq!(
            (err.status(), err.exception()),
            (404, "ResourceNotFoundException")
        );
        let err = portal
            .get_role_credentials(&d, None, Some("Admin"), now, &opts)
            .unwrap_err();
        assert_eq!(err.status(), 400);
    }
}
