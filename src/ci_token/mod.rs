//! Web identity tokens from every CI system credbroker knows, and from any
//! variable, file or command that holds one.
//!
//! Each CI hands a job its OIDC token its own way (protocols.md §14):
//! GitHub Actions answers a token request (that one stays in
//! [`crate::web_identity`]); GitLab puts each `id_tokens` entry in a
//! variable; CircleCI sets `CIRCLE_OIDC_TOKEN_V2` and its CLI mints more;
//! Buildkite's agent mints one per `buildkite-agent oidc request-token`;
//! Bitbucket sets `BITBUCKET_STEP_OIDC_TOKEN`. [`detect`] tells which CI a
//! job runs on from its environment.
//!
//! What matters for a long job is whether a source can mint again. Those that
//! can (GitHub, Buildkite, CircleCI with its CLI, a command, a rotated file)
//! are asked afresh before each role session ends, so credentials are renewed
//! for as long as the job runs. Those that cannot (a variable minted once per
//! job) are read as they are: [`one_shot`] says when their token expires, so
//! the job can be told at start how long it can run, and warned before.
//!
//! The environment is an explicit [`EnvSnapshot`], never read behind the
//! caller's back, and commands run with exactly that environment, so tests
//! and callers decide what a job "has".

pub mod detect;
pub mod job;

use crate::config::TokenSource;
use crate::model::Secret;
use crate::source::BrokerError;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use detect::{detect, Ci};

/// How long a token command may take before it is given up on.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// The environment a job sees: variables by name, empty values dropped (a CI
/// that sets a variable to "" has not set it). `Debug` names the variables
/// only: their values may be tokens.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EnvSnapshot {
    vars: BTreeMap<String, String>,
}

impl std::fmt::Debug for EnvSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

impl EnvSnapshot {
    /// The context's environment (variables that are not UTF-8 are left out).
    pub fn from_env(env: &crate::env::Env) -> EnvSnapshot {
        EnvSnapshot::from_pairs(env.utf8_vars())
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> EnvSnapshot {
        EnvSnapshot {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .filter(|(_, v): &(String, String)| !v.is_empty())
                .collect(),
        }
    }

    /// A variable's value; `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// `true` when the variable is `true` (as CI systems set their flags).
    pub fn is_true(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The first `program` on this environment's `PATH`.
    pub fn which(&self, program: &str) -> Option<PathBuf> {
        let path = self.get("PATH")?;
        std::env::split_paths(path)
            .map(|dir| dir.join(program))
            .find(|candidate| is_executable(candidate))
    }

    fn pairs(&self) -> impl Iterator<Item = (&String, &String)> {
        self.vars.iter()
    }
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// Whether `source` can mint a new token, so credentials outlive one
/// token's lifetime.
pub fn renewable(source: &TokenSource, env: &EnvSnapshot) -> bool {
    match source {
        TokenSource::GithubActions { .. }
        | TokenSource::Buildkite { .. }
        | TokenSource::File(_)
        | TokenSource::Command(_) => true,
        TokenSource::Circleci { .. } => env.which("circleci").is_some(),
        TokenSource::Gitlab { .. } | TokenSource::Bitbucket | TokenSource::Env(_) => false,
    }
}

/// A token that will not be replaced: where it is read and when it expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OneShot {
    /// The variable it is read from.
    pub variable: String,
    /// The token's `exp`, if it has one.
    pub expires: Option<DateTime<Utc>>,
}

/// For a source that cannot mint again, its token's expiry; `None` for a
/// renewable source or when the variable is not set.
pub fn one_shot(source: &TokenSource, env: &EnvSnapshot) -> Option<OneShot> {
    if renewable(source, env) {
        return None;
    }
    let variable = source.variable()?;
    let token = env.get(variable)?;
    Some(OneShot {
        variable: variable.to_string(),
        expires: expiry_of(token),
    })
}

/// The unverified `exp` of a JWT.
pub fn expiry_of(token: &str) -> Option<DateTime<Utc>> {
    crate::policy::jwt::Jwt::decode(token.trim())
        .ok()?
        .time("exp")
}

/// What a job should be told at start about how long it can run.
pub fn lifetime_notice(
    source: &TokenSource,
    env: &EnvSnapshot,
    now: DateTime<Utc>,
) -> Option<String> {
    let shot = one_shot(source, env)?;
    let Some(expires) = shot.expires else {
        return Some(format!(
            "credbroker: the token in {} cannot be renewed and has no exp; credentials are \
             renewed with it for as long as STS accepts it",
            shot.variable
        ));
    };
    Some(format!(
        "credbroker: the token in {} cannot be renewed: it expires at {} (in {}). Credentials are \
         renewed with it until then; the last ones last one role session longer. {}",
        shot.variable,
        expires.format("%Y-%m-%d %H:%M:%S UTC"),
        human(expires - now),
        longer_job_hint(source)
    ))
}

/// What to do when a job must outlive a one-shot token.
fn longer_job_hint(source: &TokenSource) -> &'static str {
    match source {
        TokenSource::Gitlab { .. } => {
            "GitLab sets exp from the job's timeout: raise `timeout:` for a longer job."
        }
        TokenSource::Circleci { .. } => {
            "Put the circleci CLI on PATH and credbroker mints new tokens with it."
        }
        TokenSource::Bitbucket => "Split a longer step in two: each step gets its own token.",
        _ => "Use a source that can mint again (command:CMD) for a longer job.",
    }
}

/// `1h 5m`, `4m`, `expired`.
pub fn human(d: chrono::Duration) -> String {
    let secs = d.num_seconds();
    if secs <= 0 {
        return "expired".into();
    }
    let (h, m) = (secs / 3600, (secs % 3600) / 60);
    match (h, m) {
        (0, 0) => format!("{secs}s"),
        (0, m) => format!("{m}m"),
        (h, m) => format!("{h}h {m}m"),
    }
}

/// A fresh token from any source but `github-actions` (which
/// [`crate::web_identity`] fetches).
pub async fn fetch(
    source: &TokenSource,
    env: &EnvSnapshot,
    now: DateTime<Utc>,
) -> Result<Secret, BrokerError> {
    match source {
        TokenSource::GithubActions { .. } => Err(BrokerError::config(
            "github-actions tokens are fetched by the Actions token request",
        )),
        TokenSource::File(path) => {
            let text = tokio::fs::read_to_string(path).await.map_err(|e| {
                BrokerError::config(format!(
                    "cannot read the web identity token file {}: {e}",
                    path.display()
                ))
                .with_source(e)
            })?;
            Ok(Secret::new(text.trim()))
        }
        TokenSource::Command(cmd) => {
            run_for_token(
                env,
                "sh",
                &["-c", cmd],
                &format!("the token command `{cmd}`"),
            )
            .await
        }
        TokenSource::Buildkite { audience, lifetime } => {
            let Some(agent) = env.which("buildkite-agent") else {
                return Err(BrokerError::config(
                    "buildkite-agent is not on PATH: the buildkite source mints tokens with \
                     `buildkite-agent oidc request-token`, so run credbroker in a Buildkite job \
                     step (agent 3.x), or pick another --source",
                ));
            };
            let lifetime = lifetime.to_string();
            run_for_token(
                env,
                &agent.to_string_lossy(),
                &[
                    "oidc",
                    "request-token",
                    "--audience",
                    audience,
                    "--lifetime",
                    &lifetime,
                ],
                "`buildkite-agent oidc request-token`",
            )
            .await
        }
        TokenSource::Circleci { audience } => match env.which("circleci") {
            Some(cli) => {
                // The CLI's token must carry the audience the variable's
                // token has (the org id) unless another was asked for, so
                // one trust policy accepts both.
                let aud = match audience {
                    Some(a) => a.clone(),
                    None => env
                        .get(crate::config::CIRCLECI_VARIABLE)
                        .and_then(audience_of)
                        .ok_or_else(|| {
                            BrokerError::config(format!(
                                "{} is not set, so the audience for `circleci run oidc get` is \
                                 unknown: give --audience (credbroker_web_identity_audience), or \
                                 add a context to the job so CircleCI sets the variable",
                                crate::config::CIRCLECI_VARIABLE
                            ))
                        })?,
                };
                let claims = serde_json::json!({ "aud": aud }).to_string();
                run_for_token(
                    env,
                    &cli.to_string_lossy(),
                    &["run", "oidc", "get", "--claims", &claims],
                    "`circleci run oidc get`",
                )
                .await
            }
            None => variable_token(source, env, now),
        },
        TokenSource::Gitlab { .. } | TokenSource::Bitbucket | TokenSource::Env(_) => {
            variable_token(source, env, now)
        }
    }
}

/// The `aud` of a JWT (the first, if a list), unverified.
fn audience_of(token: &str) -> Option<String> {
    crate::policy::jwt::Jwt::decode(token.trim())
        .ok()?
        .audiences()
        .into_iter()
        .next()
}

/// A one-shot variable's token, refused with what to do when it is missing
/// or past its `exp`.
fn variable_token(
    source: &TokenSource,
    env: &EnvSnapshot,
    now: DateTime<Utc>,
) -> Result<Secret, BrokerError> {
    let variable = source.variable().unwrap_or_default();
    let Some(token) = env.get(variable) else {
        return Err(BrokerError::config(missing_variable(source, variable)));
    };
    if let Some(exp) = expiry_of(token).filter(|exp| *exp <= now) {
        return Err(BrokerError::config(format!(
            "the token in {variable} expired at {} and this source cannot mint another: {}",
            exp.format("%Y-%m-%d %H:%M:%S UTC"),
            longer_job_hint(source)
        )));
    }
    Ok(Secret::new(token.trim()))
}

fn missing_variable(source: &TokenSource, variable: &str) -> String {
    match source {
        TokenSource::Gitlab { .. } => format!(
            "{variable} is not set: the job has no ID token. Add to the job in .gitlab-ci.yml:\n  \
             id_tokens:\n    {variable}:\n      aud: https://gitlab.com"
        ),
        TokenSource::Circleci { .. } => format!(
            "{variable} is not set: CircleCI gives OIDC tokens only to jobs that use a context; \
             add `context: NAME` to the job in the workflow of .circleci/config.yml"
        ),
        TokenSource::Bitbucket => format!(
            "{variable} is not set: add `oidc: true` to the step in bitbucket-pipelines.yml"
        ),
        _ => format!("{variable} is not set (or is empty): export the token in it first"),
    }
}

/// Run `program args` with exactly `env`, and take its stdout as a JWT.
async fn run_for_token(
    env: &EnvSnapshot,
    program: &str,
    args: &[&str],
    what: &str,
) -> Result<Secret, BrokerError> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(env.pairs())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(COMMAND_TIMEOUT, cmd.output())
        .await
        .map_err(|_| {
            BrokerError::upstream(format!(
                "{what} printed no token within {}s",
                COMMAND_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| BrokerError::config(format!("cannot run {what}: {e}")).with_source(e))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first: String = stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_control())
            .take(300)
            .collect();
        return Err(BrokerError::upstream(format!(
            "{what} failed ({}): {first}",
            out.status
        )));
    }
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if token.split('.').count() != 3 || token.contains(char::is_whitespace) {
        return Err(BrokerError::config(format!(
            "{what} printed something that is not a JWT (three base64url parts joined by dots)"
        )));
    }
    Ok(Secret::new(token))
}

#[cfg(test)]
mod tests;
