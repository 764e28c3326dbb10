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
//! Credentials are cached per role and source with one fetch at a time, and
//! renewed on the same schedule as SSO credentials ([`crate::lifecycle`]).
//! STS refusals (bad token, trust policy) are final (400); network trouble,
//! throttling and `IDPCommunicationError` are transient (503).

use crate::broker::BrokerError;
use crate::config::{AwsConfig, Profile};
use crate::lifecycle;
use crate::model::{RoleCredentials, Secret};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

pub const ROLE_ARN_KEY: &str = "credbroker_web_identity_role_arn";
const DEFAULT_AUDIENCE: &str = "sts.amazonaws.com";

/// Where a profile's token comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TokenSource {
    GithubActions { audience: String },
    File(PathBuf),
}

/// A profile that assumes its role with a web identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WebIdentityTarget {
    pub profile: String,
    pub role_arn: String,
    pub session_name: String,
    pub duration_seconds: Option<i32>,
    pub source: TokenSource,
    pub region: Option<String>,
}

/// The web-identity target of `profile`, or `None` when the profile does not
/// name a web-identity role (it is then an SSO profile, or unknown).
pub fn target_of(
    config: &AwsConfig,
    profile: &str,
) -> Option<Result<WebIdentityTarget, BrokerError>> {
    let p = config.profile(profile)?;
    let role_arn = p.settings.get(ROLE_ARN_KEY)?;
    Some(parse_target(p, role_arn))
}

fn parse_target(p: &Profile, role_arn: &str) -> Result<WebIdentityTarget, BrokerError> {
    let get = |k: &str| {
        p.settings
            .get(&format!("credbroker_web_identity_{k}"))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let bad = |m: String| BrokerError::Config(format!("profile '{}': {m}", p.name));
    let source = match get("source").unwrap_or("github-actions") {
        "github-actions" => TokenSource::GithubActions {
            audience: get("audience").unwrap_or(DEFAULT_AUDIENCE).to_string(),
        },
        other => match other.strip_prefix("file:") {
            Some(path) if !path.is_empty() => TokenSource::File(PathBuf::from(path)),
            _ => {
                return Err(bad(format!(
                    "credbroker_web_identity_source must be `github-actions` or `file:/path`, not `{other}`"
                )))
            }
        },
    };
    let duration_seconds = match get("duration") {
        None => None,
        Some(d) => match d.parse::<i32>() {
            Ok(d) if (900..=43200).contains(&d) => Some(d),
            _ => {
                return Err(bad(format!(
                    "credbroker_web_identity_duration must be 900..43200 seconds, not `{d}`"
                )))
            }
        },
    };
    if !role_arn.starts_with("arn:") || !role_arn.contains(":role/") {
        return Err(bad(format!(
            "{ROLE_ARN_KEY} `{role_arn}` is not a role ARN"
        )));
    }
    Ok(WebIdentityTarget {
        profile: p.name.clone(),
        role_arn: role_arn.to_string(),
        session_name: get("session_name")
            .map(String::from)
            .unwrap_or_else(|| session_name_for(&p.name)),
        duration_seconds,
        source,
        region: p.region.clone(),
    })
}

/// `credbroker-PROFILE`, cut to STS's characters and 64-character limit.
fn session_name_for(profile: &str) -> String {
    let cleaned: String = format!("credbroker-{profile}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "=,.@-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    cleaned.chars().take(64).collect()
}

/// The Actions variables, read once per fetch.
#[derive(Clone, Debug, Default)]
pub struct ActionsEnv {
    pub request_url: Option<String>,
    pub request_token: Option<Secret>,
}

impl ActionsEnv {
    pub fn from_process() -> ActionsEnv {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        ActionsEnv {
            request_url: var("ACTIONS_ID_TOKEN_REQUEST_URL"),
            request_token: var("ACTIONS_ID_TOKEN_REQUEST_TOKEN").map(Secret::from),
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
        TokenSource::File(path) => {
            let text = tokio::fs::read_to_string(path).await.map_err(|e| {
                BrokerError::Config(format!(
                    "cannot read the web identity token file {}: {e}",
                    path.display()
                ))
            })?;
            Ok(Secret::new(text.trim()))
        }
        TokenSource::GithubActions { audience } => {
            let url = env
                .request_url
                .as_deref()
                .ok_or_else(|| BrokerError::Config(MISSING_ID_TOKEN_PERMISSION.into()))?;
            let token = env.request_token.as_ref().ok_or_else(|| {
                BrokerError::Config(
                    "ACTIONS_ID_TOKEN_REQUEST_TOKEN is not set; add `permissions: id-token: write` to the job".into(),
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
                    BrokerError::Upstream(format!("cannot reach the GitHub token service: {e}"))
                })?;
            let status = response.status();
            if !status.is_success() {
                let message = format!("the GitHub token service answered HTTP {}", status.as_u16());
                return Err(if status.is_server_error() || status.as_u16() == 429 {
                    BrokerError::Upstream(message)
                } else {
                    BrokerError::Config(format!(
                        "{message}; is ACTIONS_ID_TOKEN_REQUEST_TOKEN from this job?"
                    ))
                });
            }
            let body: serde_json::Value = response.json().await.map_err(|e| {
                BrokerError::Upstream(format!("the GitHub token service sent no JSON: {e}"))
            })?;
            body.get("value")
                .and_then(serde_json::Value::as_str)
                .map(Secret::new)
                .ok_or_else(|| {
                    BrokerError::Upstream("the GitHub token service sent no `value`".into())
                })
        }
    }
}

/// Mint a token and assume the role once (no cache).
pub async fn assume(
    target: &WebIdentityTarget,
    env: &ActionsEnv,
    now: DateTime<Utc>,
) -> Result<RoleCredentials, BrokerError> {
    let token = fetch_token(&target.source, env).await?;
    let region = target.region.clone().unwrap_or_else(|| "us-east-1".into());
    let client = aws_sdk_sts::Client::new(&crate::sso::sdk_config(&region).await);
    let out = client
        .assume_role_with_web_identity()
        .role_arn(&target.role_arn)
        .role_session_name(&target.session_name)
        .web_identity_token(token.expose())
        .set_duration_seconds(target.duration_seconds)
        .send()
        .await
        .map_err(|e| sts_error(target, crate::sso::classify(&e)))?;
    let creds = out.credentials().ok_or_else(|| {
        BrokerError::Upstream("AssumeRoleWithWebIdentity returned no credentials".into())
    })?;
    let expiration = DateTime::from_timestamp(creds.expiration().secs(), 0).ok_or_else(|| {
        BrokerError::Upstream("AssumeRoleWithWebIdentity returned an impossible expiration".into())
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
    let transient = failure.kind == FailureKind::Transient
        || failure.code.as_deref() == Some("idpcommunicationerror")
        || failure.code.as_deref() == Some("throttling");
    let message = format!(
        "STS refused AssumeRoleWithWebIdentity for {} (profile '{}'): {}",
        target.role_arn, target.profile, failure.detail
    );
    if transient {
        BrokerError::Upstream(message)
    } else {
        BrokerError::Config(message)
    }
}

/// One cache slot: the last credentials and the single-flight lock.
#[derive(Default)]
struct Slot {
    current: Mutex<Option<RoleCredentials>>,
    fetch: tokio::sync::Mutex<()>,
}

fn slots() -> &'static Mutex<HashMap<WebIdentityTarget, Arc<Slot>>> {
    static SLOTS: OnceLock<Mutex<HashMap<WebIdentityTarget, Arc<Slot>>>> = OnceLock::new();
    SLOTS.get_or_init(Default::default)
}

/// Cached credentials while servable, else a fresh token and a new
/// AssumeRoleWithWebIdentity (one at a time per target). During an outage,
/// unexpired credentials are served rather than none.
pub async fn credentials(
    target: &WebIdentityTarget,
    now: impl Fn() -> DateTime<Utc>,
) -> Result<RoleCredentials, BrokerError> {
    let slot = slots()
        .lock()
        .unwrap()
        .entry(target.clone())
        .or_default()
        .clone();
    let servable = |slot: &Slot| {
        slot.current
            .lock()
            .unwrap()
            .clone()
            .filter(|c| lifecycle::is_servable(c, now()))
    };
    if let Some(c) = servable(&slot) {
        return Ok(c);
    }
    let _fetching = slot.fetch.lock().await;
    if let Some(c) = servable(&slot) {
        return Ok(c);
    }
    match assume(target, &ActionsEnv::from_process(), now()).await {
        Ok(c) => {
            *slot.current.lock().unwrap() = Some(c.clone());
            Ok(c)
        }
        Err(BrokerError::Upstream(m)) => {
            let stale = slot.current.lock().unwrap().clone();
            stale
                .filter(|c| lifecycle::is_unexpired(c, now()))
                .ok_or(BrokerError::Upstream(m))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const CONFIG: &str = "
[profile ci]
credbroker_web_identity_role_arn = arn:aws:iam::111111111111:role/GitHubDeploy
credbroker_web_identity_duration = 900
region = eu-west-1

[profile eks]
credbroker_web_identity_role_arn = arn:aws:iam::222222222222:role/Pod
credbroker_web_identity_source = file:/var/run/token
credbroker_web_identity_session_name = pod

[profile bad]
credbroker_web_identity_role_arn = arn:aws:iam::222222222222:role/Pod
credbroker_web_identity_source = ftp://x

[profile sso]
credbroker_sso_session = corp
";

    #[test]
    fn profiles_name_role_source_and_defaults() {
        let config = AwsConfig::parse(CONFIG, Path::new("/cfg")).unwrap();
        let ci = target_of(&config, "ci").unwrap().unwrap();
        assert_eq!(
            ci.source,
            TokenSource::GithubActions {
                audience: "sts.amazonaws.com".into()
            }
        );
        assert_eq!(ci.session_name, "credbroker-ci");
        assert_eq!(ci.duration_seconds, Some(900));
        assert_eq!(ci.region.as_deref(), Some("eu-west-1"));
        let eks = target_of(&config, "eks").unwrap().unwrap();
        assert_eq!(eks.source, TokenSource::File("/var/run/token".into()));
        assert_eq!(eks.session_name, "pod");
        let e = target_of(&config, "bad").unwrap().unwrap_err().to_string();
        assert!(e.contains("github-actions"), "{e}");
        assert!(target_of(&config, "sso").is_none());
        assert!(target_of(&config, "missing").is_none());
        assert_eq!(account_of(&ci.role_arn).as_deref(), Some("111111111111"));
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
            audience: DEFAULT_AUDIENCE.into(),
        };
        let e = fetch_token(&source, &ActionsEnv::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("permissions: id-token: write"), "{e}");
    }
}
