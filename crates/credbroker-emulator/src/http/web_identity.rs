//! The HTTP side of the GitHub issuer and of STS `AssumeRoleWithWebIdentity`:
//! routes, request parsing and answers; the decisions are in
//! [`crate::github`] and [`crate::web_identity`].
//!
//! Issued credentials are recorded with the portal's, so a request signed
//! with them passes the same SigV4 check in GetCallerIdentity.

use super::answer::{json, status};
use super::{Answer, Call};
use crate::github;
use crate::issuers::{self, Issuer};
use crate::operation::Operation;
use crate::sts::StsError;
use crate::web_identity as sts_web_identity;
use crate::Emulator;
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
    pub(super) fn operation(self) -> Option<Operation> {
        (self == GithubRoute::Token).then_some(Operation::GitHubTokenRequest)
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

/// The CI issuers' routes ([`crate::issuers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IssuerRoute {
    /// `GET /_oidc/NAME/.well-known/openid-configuration`
    OpenIdConfiguration(Issuer),
    /// `GET /_oidc/NAME/.well-known/jwks`
    Jwks(Issuer),
    /// `POST /_emulator/oidc/mint`
    Mint,
}

impl IssuerRoute {
    pub(super) fn of(method: &hyper::Method, path: &str) -> Option<IssuerRoute> {
        use hyper::Method;
        if method == Method::POST && path == "/_emulator/oidc/mint" {
            return Some(IssuerRoute::Mint);
        }
        if method != Method::GET {
            return None;
        }
        let (name, rest) = path.strip_prefix("/_oidc/")?.split_once('/')?;
        let issuer = Issuer::from_name(name)?;
        match rest {
            ".well-known/openid-configuration" => Some(IssuerRoute::OpenIdConfiguration(issuer)),
            ".well-known/jwks" => Some(IssuerRoute::Jwks(issuer)),
            _ => None,
        }
    }
}

pub(super) fn issuer(emulator: &Emulator, route: IssuerRoute, req: &Call) -> Answer {
    match route {
        IssuerRoute::OpenIdConfiguration(issuer) => json(
            StatusCode::OK,
            &issuer.openid_configuration(emulator.base_url()),
        ),
        IssuerRoute::Jwks(issuer) => json(StatusCode::OK, &issuer.jwks().to_json()),
        IssuerRoute::Mint => match issuers::mint_request(&req.body, emulator.now()) {
            Ok(body) => json(StatusCode::OK, &body),
            Err(message) => json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({ "message": message }),
            ),
        },
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
    let roles = &emulator.options.roles;
    let assumed = sts_web_identity::assume_role_with_web_identity(
        &params,
        &|iss| issuers::trusted_provider(iss, roles),
        roles,
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
