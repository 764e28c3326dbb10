//! `credbroker ci`: role credentials for a CI job from its web identity (an
//! OIDC token from GitHub Actions, GitLab, CircleCI, Buildkite, Bitbucket or
//! any source of [`crate::ci_token`]), served exactly as on a laptop.
//!
//! The role comes from a profile (`--profile`, which may chain roles on top
//! of the web identity) or from `--role-arn` with no config file at all: then
//! the CI is detected from its environment, its token source and default
//! audience picked, and the profile it stands for written to the runtime
//! directory for the broker ([`crate::ci_token::job`]).
//!
//! First the role is assumed once, so a missing token permission or a trust
//! policy that refuses the job fails the step at once, with the reason. Then
//! the loopback endpoint is bound and served with the same broker as
//! `credbroker daemon`, and the environment for later steps is written: to
//! `$GITHUB_ENV` on GitHub, else to a dotenv file (and on CircleCI to
//! `$BASH_ENV`), and printed: the endpoint URL, the token *file* and the
//! region, never a secret. From then on the role is re-assumed with a fresh
//! token before each expiry where the source can mint one; where it cannot,
//! the job is told at start when its token expires and warned before.
//!
//! It serves until SIGINT/SIGTERM. `--detach` starts that server in the
//! background and returns once it is ready (for a workflow step); `--once`
//! prints one `credential_process` JSON document and exits instead.

use crate::broker::{Broker, CredentialSource};
use crate::ci_token::{self, job, EnvSnapshot};
use crate::cli::env::credential_env;
use crate::config::TokenSource;
use crate::context::Context;
use crate::server::{self, AuthToken};
use anyhow::Context as _;
use std::io::{BufRead as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// The line `--detach` waits for on the server's stdout.
const READY_LINE: &str = "credbroker: ready";
/// How long before a one-shot token's `exp` the job is warned.
const EXPIRY_WARNING: chrono::Duration = chrono::Duration::minutes(5);

#[derive(clap::Args, Debug)]
#[command(after_help = "\
With no config file: the CI is detected (GITHUB_ACTIONS, GITLAB_CI, CIRCLECI,
BUILDKITE, BITBUCKET_BUILD_NUMBER) and its token source and audience picked:

    # GitLab (.gitlab-ci.yml: id_tokens: GITLAB_OIDC_TOKEN: aud: https://gitlab.com)
    credbroker ci --role-arn arn:aws:iam::111111111111:role/GitLabDeploy \\
        --detach --env-file credbroker.env
    set -a; . ./credbroker.env; set +a
    aws sts get-caller-identity

    # GitHub Actions (permissions: id-token: write); later steps read $GITHUB_ENV
    credbroker ci --role-arn arn:aws:iam::111111111111:role/GitHubDeploy \\
        --region eu-west-1 --detach

    # anything else: name the source
    credbroker ci --role-arn ARN --once \\
        --source command:'vault read -field=token auth/jwt/token'

Sources: github-actions, gitlab (GITLAB_OIDC_TOKEN; gitlab:NAME), circleci
(CIRCLE_OIDC_TOKEN_V2, renewed with the circleci CLI when on PATH), buildkite
(buildkite-agent oidc request-token), bitbucket (BITBUCKET_STEP_OIDC_TOKEN),
env:NAME, file:PATH, command:CMD. A source that cannot mint again (a GitLab,
Bitbucket or env: variable) is read as is: credbroker says at start when its
token expires, and warns before.

With a profile in the AWS config file (which may chain roles on top):

    [profile ci]
    credbroker_web_identity_role_arn = arn:aws:iam::111111111111:role/GitHubDeploy
    credbroker_web_identity_source = github-actions
    region = eu-west-1

    credbroker ci --profile ci --detach

The per-CI pages under docs/ci/ show each job, trust policy and lifetime.")]
pub struct Args {
    /// A profile with `credbroker_web_identity_role_arn` (or a chain on one).
    #[arg(
        long,
        required_unless_present = "role_arn",
        conflicts_with = "role_arn"
    )]
    pub profile: Option<String>,
    /// The role to assume, with no config file.
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// Where the token comes from; default: the detected CI's own source.
    #[arg(long, value_name = "SOURCE", requires = "role_arn")]
    pub source: Option<String>,
    /// The audience to ask for, where the source asks (github-actions,
    /// buildkite, circleci with its CLI); default sts.amazonaws.com.
    #[arg(long, requires = "role_arn")]
    pub audience: Option<String>,
    /// RoleSessionName, shown in CloudTrail; default credbroker-CI-JOBNUMBER.
    #[arg(long, value_name = "NAME", requires = "role_arn")]
    pub session_name: Option<String>,
    /// DurationSeconds, 900..43200 (the role's maximum session must allow it).
    #[arg(long, value_name = "SECS", requires = "role_arn")]
    pub duration: Option<u32>,
    /// The region for STS and later steps; default $AWS_REGION, $AWS_DEFAULT_REGION.
    #[arg(long, requires = "role_arn")]
    pub region: Option<String>,
    /// A dotenv file for later commands; written off GitHub by default (as
    /// ci.env in the runtime directory), on GitHub when given.
    #[arg(long, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    /// Loopback address to serve on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Print credential_process JSON once and exit instead of serving.
    #[arg(long, conflicts_with = "detach")]
    pub once: bool,
    /// Serve in the background; return when the environment is written.
    #[arg(long)]
    pub detach: bool,
}

/// What the job is served from: the config file and profile the broker
/// reads, and the token source at the chain's root.
struct Job {
    config_path: PathBuf,
    profile: String,
    source: TokenSource,
    ci: Option<ci_token::Ci>,
    region: Option<String>,
}

impl Job {
    fn resolve(args: &Args, env: &EnvSnapshot, ctx: &Context) -> anyhow::Result<Job> {
        let ci = ci_token::detect(env);
        if let Some(role_arn) = &args.role_arn {
            let request = job::JobRequest {
                role_arn,
                source: args.source.as_deref(),
                audience: args.audience.as_deref(),
                session_name: args.session_name.as_deref(),
                duration: args.duration,
                region: args.region.as_deref(),
            };
            let made = job::profile_for(&request, env).map_err(anyhow::Error::msg)?;
            let config_path = ctx.paths.runtime_dir.join("ci-aws-config");
            let config = crate::config::AwsConfig::parse(&made.config_text, &config_path)?;
            let chain = config.chain(job::PROFILE)?;
            crate::paths::write_private_file(&config_path, made.config_text.as_bytes())
                .with_context(|| format!("cannot write {}", config_path.display()))?;
            return Ok(Job {
                config_path,
                profile: job::PROFILE.into(),
                source: made.source,
                ci: made.ci,
                region: chain.region(),
            });
        }
        let profile = args.profile.clone().unwrap_or_default();
        let config_path = ctx.paths.aws_config_file.clone();
        let config = crate::config::AwsConfig::load(&config_path)?;
        // A web identity, or a chain of roles assumed on top of one: CI runners
        // have no keychain to sign in with.
        let chain = config.chain(&profile)?;
        let crate::config::ChainRoot::WebIdentity(target) = &chain.root else {
            anyhow::bail!(
                "profile '{profile}' in {} is not served from a web identity: give it {} (or role_arn + \
                 web_identity_token_file), or a source_profile that has one; or use \
                 `credbroker ci --role-arn ARN` with no profile; see `credbroker ci --help`",
                config_path.display(),
                crate::web_identity::ROLE_ARN_KEY
            );
        };
        Ok(Job {
            source: target.source.clone(),
            region: chain.region(),
            config_path,
            profile,
            ci,
        })
    }
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<i32> {
    let env = EnvSnapshot::from_env(&ctx.env);
    let job = Job::resolve(&args, &env, ctx)?;
    if args.detach {
        return detach(&job, &env, ctx);
    }
    let broker = Arc::new(Broker::new(
        crate::store::Vault::in_memory(),
        job.config_path.clone(),
        ctx,
    ));
    let first = broker.credentials(&job.profile).await?;
    if args.once {
        println!("{}", crate::model::credential_process_output(&first));
        return Ok(0);
    }
    let now = crate::clock::system().now();
    if let Some(notice) = ci_token::lifetime_notice(&job.source, &env, now) {
        eprintln!("{notice}");
    }

    let token_path = ctx.paths.token_file();
    let token = AuthToken::load_or_create(&token_path)?;
    let listener = server::bind_loopback(args.listen).await?;
    let base = crate::daemon::url_base(listener.local_addr()?);
    let endpoint_path = ctx.paths.endpoint_file();
    crate::paths::write_private_file(&endpoint_path, base.as_bytes())
        .with_context(|| format!("cannot write {}", endpoint_path.display()))?;
    let plan = credential_env(
        &base,
        &job.profile,
        &token_path,
        token.expose(),
        job.region.as_deref(),
    );
    let set: Vec<(String, String)> = plan
        .set
        .iter()
        .filter(|(name, _)| name != "AWS_CONTAINER_AUTHORIZATION_TOKEN")
        .cloned()
        .collect();
    anyhow::ensure!(
        !set.iter().any(|(_, v)| v.contains(['\n', '\r'])),
        "a value for later steps holds a line break; check the runtime directory and region"
    );
    let lines = github_env_lines(&plan.set);
    let mut out = std::io::stdout().lock();
    let github_env = env.get("GITHUB_ENV");
    if let Some(path) = github_env {
        append(path.as_ref(), &lines, "GITHUB_ENV")?;
    }
    // Off GitHub a dotenv file; on GitHub too when one is asked for.
    if github_env.is_none() || args.env_file.is_some() {
        let path = args
            .env_file
            .clone()
            .unwrap_or_else(|| ctx.paths.runtime_dir.join("ci.env"));
        crate::paths::write_private_file(&path, job::dotenv(&set).as_bytes())
            .with_context(|| format!("cannot write the env file {}", path.display()))?;
        // `. FILE` searches PATH for a name without a slash.
        let shown = if path.components().count() == 1 {
            format!("./{}", path.display())
        } else {
            path.display().to_string()
        };
        writeln!(
            out,
            "credbroker: environment for later commands in {shown}: set -a; . {shown}; set +a"
        )?;
    }
    if job.ci == Some(ci_token::Ci::Circleci) {
        if let Some(bash_env) = env.get("BASH_ENV") {
            append(bash_env.as_ref(), &job::bash_exports(&set), "BASH_ENV")?;
        }
    }
    out.write_all(lines.as_bytes())?;
    writeln!(out, "{READY_LINE}")?;
    out.flush()?;
    drop(out);

    if let Some(expires) = ci_token::one_shot(&job.source, &env).and_then(|s| s.expires) {
        tokio::spawn(warn_before(expires));
    }
    let renewals = renew_forever(broker.clone(), job.profile.clone());
    let served = tokio::select! {
        served = server::serve(listener, broker, token, crate::daemon::shutdown_signal()?) => served,
        () = renewals => Ok(()),
    };
    if std::fs::read_to_string(&endpoint_path).is_ok_and(|t| t == base) {
        let _ = std::fs::remove_file(&endpoint_path);
    }
    served?;
    Ok(0)
}

/// Append `text` to the file a CI reads between steps.
fn append(path: &std::path::Path, text: &str, what: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .with_context(|| format!("cannot append to {what} ({})", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// Warn once, a few minutes before a token that cannot be renewed expires.
async fn warn_before(expires: chrono::DateTime<chrono::Utc>) {
    let now = crate::clock::system().now();
    let wait = (expires - EXPIRY_WARNING - now)
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(wait).await;
    let left = ci_token::human(expires - crate::clock::system().now());
    tracing::warn!(%expires, "the web identity token cannot be renewed and expires soon");
    eprintln!(
        "credbroker: warning: the job's token expires at {} (in {left}) and cannot be renewed; \
         credentials assumed after that are refused",
        expires.format("%H:%M:%S UTC")
    );
}

/// `NAME=value` lines for `$GITHUB_ENV`: everything the plan sets except
/// the token itself (later steps read the token file).
pub fn github_env_lines(set: &[(String, String)]) -> String {
    set.iter()
        .filter(|(name, _)| name != "AWS_CONTAINER_AUTHORIZATION_TOKEN")
        .map(|(name, value)| format!("{name}={value}\n"))
        .collect()
}

/// Ask the broker for credentials whenever they are due for renewal, so a
/// new token is minted and the role re-assumed before they expire, even
/// when no client asks in time. Failures are logged and retried.
async fn renew_forever(broker: Arc<Broker>, profile: String) {
    loop {
        let wait = match broker.credentials(&profile).await {
            Ok(creds) => {
                let renew_at =
                    creds.expiration - crate::lifecycle::renewal_margin(creds.lifetime());
                (renew_at - crate::clock::system().now())
                    .to_std()
                    .unwrap_or_default()
                    .max(std::time::Duration::from_secs(1))
            }
            Err(e) => {
                tracing::warn!(error = %e.summary(), "renewing web identity credentials failed; retrying");
                eprintln!("credbroker: renewal failed: {}", e.summary());
                std::time::Duration::from_secs(5)
            }
        };
        tokio::time::sleep(wait + std::time::Duration::from_millis(200)).await;
    }
}

/// Start `credbroker ci` without `--detach` in the background, echo its
/// environment lines, and return once it says it is ready. Its log goes to
/// `ci.log` in the runtime directory.
fn detach(job: &Job, env: &EnvSnapshot, ctx: &Context) -> anyhow::Result<i32> {
    let log_path = ctx.paths.runtime_dir.join("ci.log");
    if let Some(dir) = log_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    // The same command line without --detach: the child resolves the same job.
    let args: Vec<std::ffi::OsString> = std::env::args_os()
        .skip(1)
        .filter(|a| a != "--detach")
        .collect();
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .spawn()
        .context("cannot start the background credbroker")?;
    let stdout = child
        .stdout
        .take()
        .context("no stdout from the background credbroker")?;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line?;
        if line == READY_LINE {
            if let Some(notice) =
                ci_token::lifetime_notice(&job.source, env, crate::clock::system().now())
            {
                eprintln!("{notice}");
            }
            println!(
                "credbroker: serving in the background (pid {}, log {})",
                child.id(),
                log_path.display()
            );
            return Ok(0);
        }
        println!("{line}");
    }
    let status = child.wait()?;
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    eprint!("{log}");
    anyhow::bail!("the background credbroker stopped before it was ready ({status})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_env_never_carries_the_token() {
        let plan = credential_env(
            "http://127.0.0.1:1",
            "ci",
            std::path::Path::new("/run/t"),
            "s3cret",
            Some("eu-west-1"),
        );
        let lines = github_env_lines(&plan.set);
        assert!(!lines.contains("s3cret"), "{lines}");
        assert!(lines
            .contains("AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:1/v1/credentials/ci\n"));
        assert!(lines.contains("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/run/t\n"));
        assert!(lines.contains("AWS_REGION=eu-west-1\n"));
    }
}
