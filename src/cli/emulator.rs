//! `credbroker emulator`: run the local IAM Identity Center + STS stand-in
//! until interrupted.
//!
//! The first line on stdout is the base URL (`http://127.0.0.1:PORT`) and is
//! flushed at once, so a script can start the emulator on port 0 and read
//! where it landed; everything else goes to the log on stderr.

use crate::emulator::roles::Roles;
use crate::emulator::{self, Directory, EmulatorOptions};
use anyhow::Context;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Run a local IAM Identity Center and STS emulator.
///
/// Serves sso-oidc, the SSO portal and STS on one loopback port, in the AWS
/// wire formats, so the AWS SDKs, the AWS CLI and credbroker itself talk to
/// it unchanged. Point them at it with AWS_ENDPOINT_URL set to the URL
/// printed on the first line of output. People approve sign-ins at
/// <URL>/device. Stops on Ctrl-C or SIGTERM.
///
/// STS answers GetCallerIdentity, AssumeRole (role chaining: by default
/// arn:aws:iam::222222222222:role/Deploy trusts the dev account's Admin
/// sessions with ExternalId credbroker-demo) and AssumeRoleWithWebIdentity
/// (GitHub jobs; see --roles).
///
/// Tests and rehearsals steer it over HTTP: GET /_emulator/stats counts
/// calls per operation, POST /_emulator/faults injects errors, delays and
/// dropped connections, POST /_emulator/revoke ends every sign-in,
/// /_emulator/github hands out GitHub Actions OIDC tokens. Every route,
/// file format and default is described in docs/emulator.md.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Loopback address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: SocketAddr,

    /// Lifetime of access tokens issued by CreateToken, in seconds.
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    pub token_ttl: u64,

    /// Lifetime of role credentials issued by GetRoleCredentials, in seconds.
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    pub credentials_ttl: u64,

    /// Lifetime of OIDC client registrations, in seconds (default: 90 days).
    #[arg(long, default_value_t = 90 * 24 * 3600, value_name = "SECS")]
    pub registration_ttl: u64,

    /// Lifetime of device codes (expiresIn of StartDeviceAuthorization), in seconds.
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub device_code_ttl: u64,

    /// Approve sign-ins without a person: a device authorization after its
    /// first poll, a PKCE authorize request at once. For tests and demos.
    #[arg(long)]
    pub auto_approve: bool,

    /// TOML file listing the user's accounts and roles:
    /// `[[accounts]]` tables with `id`, `name`, `email` and `roles = [..]`.
    /// Default: 111111111111 "dev" (ReadOnly, Admin) and 222222222222 "prod" (ReadOnly).
    #[arg(long, value_name = "FILE")]
    pub directory: Option<PathBuf>,

    /// JSON object of role ARN -> trust policy (inline, or a policy file
    /// path relative to this file): the roles STS AssumeRole and
    /// AssumeRoleWithWebIdentity know. Replaces the defaults:
    /// arn:aws:iam::222222222222:role/Deploy, trusting
    /// arn:aws:iam::111111111111:role/Admin with sts:ExternalId
    /// credbroker-demo, and arn:aws:iam::111111111111:role/GitHubDeploy,
    /// trusting repo:octo-org/octo-repo on main or in the production
    /// environment.
    #[arg(long, value_name = "FILE", alias = "web-identity-roles")]
    pub roles: Option<PathBuf>,
}

impl Args {
    /// The emulator options these flags ask for.
    pub fn options(&self) -> anyhow::Result<EmulatorOptions> {
        let directory = match &self.directory {
            Some(path) => Directory::load(path)?,
            None => Directory::default(),
        };
        let positive = |name: &str, secs: u64| {
            anyhow::ensure!(secs > 0, "--{name} must be at least 1 second");
            Ok(Duration::from_secs(secs))
        };
        Ok(EmulatorOptions {
            token_ttl: positive("token-ttl", self.token_ttl)?,
            credentials_ttl: positive("credentials-ttl", self.credentials_ttl)?,
            registration_ttl: positive("registration-ttl", self.registration_ttl)?,
            device_code_ttl: positive("device-code-ttl", self.device_code_ttl)?,
            auto_approve: self.auto_approve,
            directory,
            roles: match &self.roles {
                Some(path) => Roles::load(path)?,
                None => Roles::default(),
            },
            ..EmulatorOptions::default()
        })
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let options = args.options()?;
    let accounts = options.directory.accounts.len();
    let running = emulator::start(args.listen, options)
        .await
        .with_context(|| format!("cannot start the emulator on {}", args.listen))?;
    let base_url = running.base_url();
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{base_url}")?;
        stdout.flush()?;
    }
    tracing::info!(
        %base_url,
        accounts,
        auto_approve = args.auto_approve,
        "emulator ready: set AWS_ENDPOINT_URL={base_url}; approve sign-ins at {base_url}/device"
    );
    wait_for_signal().await?;
    tracing::info!("stopping the emulator");
    running.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("cannot listen for Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("cannot listen for Ctrl-C")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn flags_become_options() {
        let cli = Cli::parse_from(["x", "--token-ttl", "60", "--auto-approve"]);
        let options = cli.args.options().unwrap();
        assert_eq!(options.token_ttl, Duration::from_secs(60));
        assert_eq!(options.credentials_ttl, Duration::from_secs(3600));
        assert!(options.auto_approve);
        assert_eq!(cli.args.listen.to_string(), "127.0.0.1:0");
        let zero = Cli::parse_from(["x", "--credentials-ttl", "0"]);
        assert!(zero.args.options().is_err());
    }

    #[test]
    fn bad_directory_names_the_file() {
        let cli = Cli::parse_from(["x", "--directory", "/nonexistent/dir.toml"]);
        let err = cli.args.options().unwrap_err().to_string();
        assert!(err.contains("/nonexistent/dir.toml"), "{err}");
    }

    #[test]
    fn roles_file_replaces_both_kinds_of_default_role() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roles.json");
        std::fs::write(
            &path,
            r#"{"arn:aws:iam::333333333333:role/Only": {"Statement": {"Effect": "Allow",
                "Principal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole"}}}"#,
        )
        .unwrap();
        let file = path.to_str().unwrap();
        for flag in ["--roles", "--web-identity-roles"] {
            let options = Cli::parse_from(["x", flag, file]).args.options().unwrap();
            let arns: Vec<&String> = options.roles.roles.keys().collect();
            assert_eq!(arns, ["arn:aws:iam::333333333333:role/Only"], "{flag}");
        }
        assert_eq!(
            Cli::parse_from(["x"]).args.options().unwrap().roles,
            Roles::default()
        );
        let err = Cli::parse_from(["x", "--roles", "/nonexistent/roles.json"])
            .args
            .options();
        assert!(err
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/roles.json"));
    }
}
