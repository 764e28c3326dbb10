//! The sso-oidc wire shapes: request and response bodies (camelCase JSON,
//! as the restJson1 model names them) and the OAuth errors with their
//! status, `error` value and Smithy exception name (protocols.md §3).
//!
//! The SDKs read the exception name from `x-amzn-errortype` first and then
//! from the body, so [`OidcError::exception`] is what decides which typed
//! error a client sees (`CreateTokenError::AuthorizationPendingException`).

use serde::{Deserialize, Serialize};

/// An OIDC failure, in the OAuth vocabulary the service answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OidcError {
    AuthorizationPending,
    SlowDown,
    ExpiredToken,
    AccessDenied,
    InvalidGrant(String),
    InvalidClient(String),
    InvalidRequest(String),
    UnauthorizedClient(String),
    UnsupportedGrantType(String),
    InvalidScope(String),
    InvalidRedirectUri(String),
}

impl OidcError {
    pub fn status(&self) -> u16 {
        match self {
            OidcError::InvalidClient(_) => 401,
            _ => 400,
        }
    }

    /// The OAuth `error` value.
    pub fn error(&self) -> &'static str {
        match self {
            OidcError::AuthorizationPending => "authorization_pending",
            OidcError::SlowDown => "slow_down",
            OidcError::ExpiredToken => "expired_token",
            OidcError::AccessDenied => "access_denied",
            OidcError::InvalidGrant(_) => "invalid_grant",
            OidcError::InvalidClient(_) => "invalid_client",
            OidcError::InvalidRequest(_) => "invalid_request",
            OidcError::UnauthorizedClient(_) => "unauthorized_client",
            OidcError::UnsupportedGrantType(_) => "unsupported_grant_type",
            OidcError::InvalidScope(_) => "invalid_scope",
            OidcError::InvalidRedirectUri(_) => "invalid_redirect_uri",
        }
    }

    /// The Smithy exception name, sent in `x-amzn-errortype`.
    pub fn exception(&self) -> &'static str {
        match self {
            OidcError::AuthorizationPending => "AuthorizationPendingException",
            OidcError::SlowDown => "SlowDownException",
            OidcError::ExpiredToken => "ExpiredTokenException",
            OidcError::AccessDenied => "AccessDeniedException",
            OidcError::InvalidGrant(_) => "InvalidGrantException",
            OidcError::InvalidClient(_) => "InvalidClientException",
            OidcError::InvalidRequest(_) => "InvalidRequestException",
            OidcError::UnauthorizedClient(_) => "UnauthorizedClientException",
            OidcError::UnsupportedGrantType(_) => "UnsupportedGrantTypeException",
            OidcError::InvalidScope(_) => "InvalidScopeException",
            OidcError::InvalidRedirectUri(_) => "InvalidRedirectUriException",
        }
    }

    pub fn description(&self) -> String {
        match self {
            OidcError::AuthorizationPending => "Authorization is still pending".into(),
            OidcError::SlowDown => "Client is polling too fast".into(),
            OidcError::ExpiredToken => "Device code has expired".into(),
            OidcError::AccessDenied => "The user denied the authorization".into(),
            OidcError::InvalidGrant(m)
            | OidcError::InvalidClient(m)
            | OidcError::InvalidRequest(m)
            | OidcError::UnauthorizedClient(m)
            | OidcError::UnsupportedGrantType(m)
            | OidcError::InvalidScope(m)
            | OidcError::InvalidRedirectUri(m) => m.clone(),
        }
    }

    /// The JSON error body: `{"error": ..., "error_description": ...}`.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.error(), "error_description": self.description() })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterClientRequest {
    pub client_name: Option<String>,
    pub client_type: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    pub issuer_url: Option<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RegisterClientResponse {
    pub client_id: String,
    pub client_secret: String,
    pub client_id_issued_at: i64,
    pub client_secret_expires_at: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartDeviceAuthorizationRequest {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub start_url: Option<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DeviceAuthorizationResponse {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateTokenRequest {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub grant_type: Option<String>,
    pub device_code: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}
