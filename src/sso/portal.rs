//! SKELETON (to be completed): the SSO portal (`aws-sdk-sso`).

use crate::model::{RoleCredentials, SsoToken};

#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// 401: the access token is expired or revoked; the person must sign in.
    #[error("the SSO access token was rejected (expired or revoked)")]
    Unauthorized,
    /// 404 / ResourceNotFound: no such account or role for this user.
    #[error("no such account or role: {0}")]
    NotFound(String),
    /// 429 / 5xx / timeouts / dropped connections: try again later.
    #[error("IAM Identity Center is unavailable: {0}")]
    Transient(String),
    #[error("IAM Identity Center refused the request: {0}")]
    Other(String),
}

/// GetRoleCredentials for `account_id`/`role_name` with `token`.
pub async fn get_role_credentials(
    _token: &SsoToken,
    _account_id: &str,
    _role_name: &str,
) -> Result<RoleCredentials, PortalError> {
    todo!()
}
