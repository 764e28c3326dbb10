//! The HTTP side of the GitHub issuer and of STS `AssumeRoleWithWebIdentity`:
//! routes, request parsing and answers; the decisions are in
//! [`crate::emulator::github`] and [`crate::emulator::web_identity`].
//!
//! Issued credentials are recorded with the portal's, so a request signed
//! with them passes the same SigV4 check in GetCallerIdentity.

use super::answer::{json, status};
use super::{Answer, Call};
use crate::emulator::github;
use crate::emulator::sts::StsError;
use crate::emulator::web_identity::{self as sts_web_identity, TrustedProvider};
use crate::emulator::Emulator;
use hyper::StatusCode;

/// The issuer's routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum GithubRoute {
    OpenIdConfiguration,
    Jwks,
    /// The Actions-shaped token request.
    Token,
    /// `GET /_emulator/github`: the request URL and token for a job's environment.
    JobEnvironment,
    /// `POST /_emulator/github/claims`: the job the next tokens describe.
    SetClaims,
}

impl GithubRoute {
    pub(super) fn of(method: &hyper::Method, path: &str) -> Option<GithubRoute> {
        use hyper::Method;
        Some(match (method, path) {
            (&Method::GET, "/.well-known/openid-configuration") => GithubRoute::OpenIdConfiguration,
            (&Method::GET, "/.well-known/jwks") => GithubRoute::Jwks,
            (&Method::GET, github::TOKEN_PATH) => GithubRoute::Token,
            (&Method::GET, "/_emulator/github") => GithubRoute::JobEnvironment,
            (&Method::POST, "/_emulator/github/claims") => GithubRoute::SetClaims,
            _ => return None,
        })
    }

    /// The name calls are counted under in `/_emulator/stats`.
    pub(super) fn operation(self) -> Option<&'static str> {
        (self == GithubRoute::Token).then_some("GitHubTokenRequest")
    }
}

pub(super) fn github(emulator: &Emulator, route: GithubRoute, req: &Call) -> Answer {
    let issuer = &emulator.github;
    match route {
        GithubRoute::OpenIdConfiguration => json(
            StatusCode::OK,
            &github::openid_configuration(emulator.base_url()),
        ),
        GithubRoute::Jwks => json(StatusCode::OK, &github::jwks().to_json()),
        GithubRoute::JobEnvironment => {
            json(StatusCode::OK, &issuer.job_environment(emulator.base_url()))
        }
        GithubRoute::SetClaims => match issuer.set_job(&req.body) {
            Ok(()) => json(StatusCode::OK, &serde_json::json!({})),
            Err(message) => json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({ "message": message }),
            ),
        },
        GithubRoute::Token => {
            let audience = req.query_param("audience");
            match issuer.request_token(
                req.header("authorization"),
                audience.as_deref(),
                emulator.now(),
            ) {
                Ok(body) => json(StatusCode::OK, &body),
                Err(github::TokenRequestError(code, message)) => {
                    json(status(code), &serde_json::json!({ "message": message }))
                }
            }
        }
    }
}

/// `Action=AssumeRoleWithWebIdentity`: decide, then record the credentials.
pub(super) fn assume_role(
    emulator: &Emulator,
    req: &Call,
    request_id: &str,
) -> Result<String, StsError> {
    let params = req.sts_params();
    let max_ttl = chrono::Duration::from_std(emulator.options.credentials_ttl)
        .unwrap_or(chrono::Duration::MAX);
    let assumed = sts_web_identity::assume_role_with_web_identity(
        &params,
        &[TrustedProvider::github()],
        &emulator.options.roles,
        emulator.now(),
        max_ttl,
        request_id,
    )?;
    emulator
        .state
        .lock()
        .unwrap()
        .portal
        .record(assumed.access_key_id, assumed.issued);
    Ok(assumed.xml)
}
