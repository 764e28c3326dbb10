//! `credbroker ci --profile NAME`: role credentials for a CI job from its
//! web identity (a GitHub Actions OIDC token), served exactly as on a laptop.
//!
//! First the profile's role is assumed once, so a missing `id-token: write`
//! permission or a trust policy that refuses the job fails the step at once,
//! with the reason. Then the loopback endpoint is bound and served with the
//! same broker as `credbroker daemon` (web-identity profiles dispatch to
//! [`crate::web_identity`]), and the environment for later steps is
//! written to `$GITHUB_ENV` when it is set, and printed: the endpoint URL,
//! the token *file* and the region, never a secret. From then on the role is
//! re-assumed with a freshly minted token before each expiry, so a long
//! `terraform apply` outlives one credential lifetime.
//!
//! It serves until SIGINT/SIGTERM. `--detach` starts that server in the
//! background and returns once it is ready (for a workflow step); `--once`
//! prints one `credential_process` JSON document and exits instead.

use crate::broker::{Broker, CredentialSource};
use crate::cli::env::credential_env;
use crate::server::{self, AuthToken};
use anyhow::Context as _;
use std::io::{BufRead as _, Write as _};
use std::net::SocketAddr;
use std::sync::Arc;

/// The line `--detach` waits for on the server's stdout.
const READY_LINE: &str = "credbroker: ready";

#[derive(clap::Args, Debug)]
#[command(after_help = "\
In a GitHub workflow (the job needs `permissions: id-token: write`):

    - run: credbroker ci --profile ci --detach
    - run: terraform apply -auto-approve

with this profile in the AWS config file:

    [profile ci]
    credbroker_web_identity_role_arn = arn:aws:iam::111111111111:role/GitHubDeploy
    credbroker_web_identity_source = github-actions
    region = eu-west-1")]
pub struct Args {
    /// A profile with `credbroker_web_identity_role_arn`.
    #[arg(long)]
    pub profile: String,
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

pub async fn run(args: Args, ctx: &crate::context::Context) -> anyhow::Result<i32> {
    if args.detach {
        return detach(&args, ctx);
    }
    let config_path = ctx.paths.aws_config_file.clone();
    let config = crate::config::AwsConfig::load(&config_path)?;
    // A web identity, or a chain of roles assumed on top of one: CI runners
    // have no keychain to sign in with.
    let chain = config.chain(&args.profile)?;
    let crate::config::ChainRoot::WebIdentity(_) = &chain.root else {
        anyhow::bail!(
            "profile '{}' in {} is not served from a web identity: give it {} (or role_arn + \
             web_identity_token_file), or a source_profile that has one; see `credbroker ci --help`",
            args.profile,
            config_path.display(),
            crate::web_identity::ROLE_ARN_KEY
        );
    };
    let region = chain.region();
    let broker = Arc::new(Broker::new(
        crate::store::Vault::in_memory(),
        config_path,
        ctx,
    ));
    let first = broker.credentials(&args.profile).await?;
    if args.once {
        println!("{}", crate::model::credential_process_output(&first));
        return Ok(0);
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
        &args.profile,
        &token_path,
        token.expose(),
        region.as_deref(),
    );
    let lines = github_env_lines(&plan.set);
    if let Some(path) = std::env::var_os("GITHUB_ENV").filter(|p| !p.is_empty()) {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .with_context(|| format!("cannot append to GITHUB_ENV ({})", path.to_string_lossy()))?;
        file.write_all(lines.as_bytes())?;
    }
    let mut out = std::io::stdout().lock();
    out.write_all(lines.as_bytes())?;
    writeln!(out, "{READY_LINE}")?;
    out.flush()?;
    drop(out);

    let renewals = renew_forever(broker.clone(), args.profile.clone());
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
                tracing::warn!(error = %e, "renewing web identity credentials failed; retrying");
                eprintln!("credbroker: renewal failed: {e}");
                std::time::Duration::from_secs(5)
            }
        };
        tokio::time::sleep(wait + std::time::Duration::from_millis(200)).await;
    }
}

/// Start `credbroker ci` without `--detach` in the background, echo its
/// environment lines, and return once it says it is ready. Its log goes to
/// `ci.log` in the runtime directory.
fn detach(args: &Args, ctx: &crate::context::Context) -> anyhow::Result<i32> {
    let log_path = ctx.paths.runtime_dir.join("ci.log");
    if let Some(dir) = log_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args([
            "ci",
            "--profile",
            &args.profile,
            "--listen",
            &args.listen.to_string(),
        ])
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
