//! Role credentials from a web identity: a GitHub Actions job token (or a
//! token file, as EKS writes) traded with STS `AssumeRoleWithWebIdentity`.
//!
//! A profile opts in with these keys in `~/.aws/config`:
//!
//! ```ini
//! [profile ci]
//! credbroker_web_identity_role_arn = arn:aws:iam::111111111111:role/GitHubDeploy
//! credbroker_web_identity_source = github-actions      # or file:/path/to/token
//! credbroker_web_identity_session_name = ci            # default credbroker-PROFILE
//! credbroker_web_identity_duration = 3600              # seconds, 900..43200
//! credbroker_web_identity_audience = sts.amazonaws.com # github-actions only
//! region = eu-west-1
//! ```
//!
//! For every fetch, first a fresh token: from `ACTIONS_ID_TOKEN_REQUEST_URL`
//! (plus `&audience=...`) with `Authorization: Bearer
//! $ACTIONS_ID_TOKEN_REQUEST_TOKEN` (protocols.md §6), or by re-reading the
//! token file. Then `AssumeRoleWithWebIdentity` through `aws-sdk-sts`, which
//! honours `AWS_ENDPOINT_URL_STS` / `AWS_ENDPOINT_URL`. A GitHub token lives
//! minutes, so keeping it would not help: renewing means minting a new one,
//! which is what lets a job outlive one credential lifetime.
//!
//! The broker keeps the credentials in its slots like any other source:
//! cached, single-flighted, renewed ahead by its renewal pass and shown in
//! `status`. The profile keys are read by [`crate::config::AwsConfig::chain`];
//! the AWS CLI's own `role_arn` + `web_identity_token_file` profile is the
//! same source with a token file.
//! STS refusals (bad token, trust policy) are final (400); network trouble,
//! throttling and `IDPCommunicationError` are transient (503).

use crate::model::{RoleCredentials, Secret};
use crate::source::BrokerError;
use chrono::{DateTime, Utc};

pub use crate::config::{
    TokenSource, WebIdentityTarget, WEB_IDENTITY_ROLE_ARN_KEY as ROLE_ARN_KEY,
};

/// The Actions variables, read once per fetch, and the whole environment
/// for the other CI sources ([`crate::ci_token`]).
#[derive(Clone, Debug, Default)]
pub struct ActionsEnv {
    pub request_url: Option<String>,
    pub request_token: Option<Secret>,
    pub vars: crate::ci_token::EnvSnapshot,
}

impl ActionsEnv {
    pub fn from_env(env: &crate::env::Env) -> ActionsEnv {
        let var = |k: &str| env.non_empty(k);
        ActionsEnv {
            request_url: var("ACTIONS_ID_TOKEN_REQUEST_URL"),
            request_token: var("ACTIONS_ID_TOKEN_REQUEST_TOKEN").map(Secret::from),
            vars: crate::ci_token::EnvSnapshot::from_env(env),
        }
    }
}

/// The missing-permission message, exactly: without `id-token: write` GitHub
/// sets neither variable.
pub const MISSING_ID_TOKEN_PERMISSION: &str =
    "ACTIONS_ID_TOKEN_REQUEST_URL is not set: the job has no OIDC token. \
     Add `permissions: id-token: write` to the job (or the workflow) in the GitHub workflow file";

/// `${URL}&audience=AUD` (the URL already carries a query).
pub fn token_request_url(base: &str, audience: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    let audience: String = form_urlencoded::byte_serialize(audience.as_bytes()).collect();
    format!("{base}{sep}audience={audience}")
}

/// A fresh web identity token from the source.
pub async fn fetch_token(source: &TokenSource, env: &ActionsEnv) -> Result<Secret, BrokerError> {
    match source {
        TokenSource::GithubActions { audience } => {
            let url = env
                .request_url
                .as_deref()
                .ok_or_else(|| BrokerError::config(MISSING_ID_TOKEN_PERMISSION))?;
            let token = env.request_token.as_ref().ok_or_else(|| {
                BrokerError::config(
                    "ACTIONS_ID_TOKEN_REQUEST_TOKEN is not set; add `permissions: id-token: write` to the job",
                )
            })?;
            let response = reqwest::Client::new()
                .get(token_request_url(url, audience))
                .header("Authorization", format!("Bearer {}", token.expose()))
                .header("Accept", "application/json")
                .timeout(std::time::Duration::from_secs(15))
                .send()
                .await
                .map_err(|e| {
                    BrokerError::upstream(format!("cannot reach the GitHub token service: {e}"))
                        .with_source(e)
                })?;
            let status = response.status();
            if !status.is_success() {
                let message = format!("the GitHub token service answered HTTP {}", status.as_u16());
                return Err(if status.is_server_error() || status.as_u16() == 429 {
                    BrokerError::upstream(message)
                } else {
                    BrokerError::config(format!(
                        "{message}; is ACTIONS_ID_TOKEN_REQUEST_TOKEN from this job?"
                    ))
                });
            }
            let body: serde_json::Value = response.json().await.map_err(|e| {
                BrokerError::upstream(format!("the GitHub token service sent no JSON: {e}"))
                    .with_source(e)
            })?;
            body.get("value")
                .and_then(serde_json::Value::as_str)
                .map(Secret::new)
                .ok_or_else(|| BrokerError::upstream("the GitHub token service sent no `value`"))
        }
        // A file, a variable, a command or another CI's way.
        other => crate::ci_token::fetch(other, &env.vars, Utc::now()).await,
    }
}

/// Mint a token and assume the role once (no cache).
pub async fn assume(
    clients: &crate::sdk::SdkClients,
    target: &WebIdentityTarget,
    env: &ActionsEnv,
    now: DateTime<Utc>,
) -> Result<RoleCredentials, BrokerError> {
    let token = fetch_token(&target.source, env).await?;
    let region = target.region.clone().unwrap_or_else(|| "us-east-1".into());
    let client = clients.sts(&region);
    let out = client
        .assume_role_with_web_identity()
        .role_arn(&target.role_arn)
        .role_session_name(&target.session_name)
        .web_identity_token(token.expose())
        .set_duration_seconds(target.duration_seconds)
        .send()
        .await
        .map_err(|e| {
            sts_error(target, crate::sso::classify(&e).at(client.url()))
                .with_cause(crate::sso::sdk_cause(e))
        })?;
    let creds = out.credentials().ok_or_else(|| {
        BrokerError::upstream("AssumeRoleWithWebIdentity returned no credentials")
    })?;
    crate::model::refuse_empty_keys(
        "AssumeRoleWithWebIdentity",
        creds.access_key_id(),
        creds.secret_access_key(),
        creds.session_token(),
    )
    .map_err(BrokerError::upstream)?;
    let expiration = DateTime::from_timestamp(creds.expiration().secs(), 0).ok_or_else(|| {
        BrokerError::upstream("AssumeRoleWithWebIdentity returned an impossible expiration")
    })?;
    tracing::info!(profile = %target.profile, role = %target.role_arn, expires = %expiration, "assumed role with web identity");
    Ok(RoleCredentials {
        access_key_id: creds.access_key_id().to_string(),
        secret_access_key: Secret::new(creds.secret_access_key()),
        session_token: Secret::new(creds.session_token()),
        expiration,
        account_id: account_of(&target.role_arn),
        issued_at: Some(now),
    })
}

fn account_of(role_arn: &str) -> Option<String> {
    role_arn
        .split(':')
        .nth(4)
        .filter(|a| a.len() == 12)
        .map(String::from)
}

fn sts_error(target: &WebIdentityTarget, failure: crate::sso::CallFailure) -> BrokerError {
    use crate::sso::FailureKind;
    // Only a refusal is final: 5xx (InternalFailure, ServiceUnavailable),
    // throttling and an unreachable identity provider pass.
    let transient = failure.kind == FailureKind::Transient
        || failure.status.is_some_and(|s| s >= 500 || s == 429)
        || matches!(
            failure.code.as_deref(),
            Some(
                "idpcommunicationerror"
                    | "throttling"
                    | "internalfailure"
                    | "serviceunavailable"
                    | "requestlimitexceeded"
            )
        );
    let message = format!(
        "STS refused AssumeRoleWithWebIdentity for {} (profile '{}'): {}",
        target.role_arn, target.profile, failure.detail
    );
    if transient {
        BrokerError::upstream(message)
    } else {
        BrokerError::config(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_of_a_role_arn() {
        assert_eq!(
            account_of("arn:aws:iam::111111111111:role/GitHubDeploy").as_deref(),
            Some("111111111111")
        );
    }

    #[test]
    fn token_request_url_appends_the_audience() {
        assert_eq!(
            token_request_url("https://x/token?api-version=2.0", "sts.amazonaws.com"),
            "https://x/token?api-version=2.0&audience=sts.amazonaws.com"
        );
        assert_eq!(
            token_request_url("http://x/t", "a b"),
            "http://x/t?audience=a+b"
        );
    }

    #[tokio::test]
    async fn missing_request_url_names_the_permission() {
        let source = TokenSource::GithubActions {
            audience: crate::config::DEFAULT_AUDIENCE.into(),
        };
        let e = fetch_token(&source, &ActionsEnv::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("permissions: id-token: write"), "{e}");
    }
}
