//! Proving that a written profile works, the way the engineer will use it.
//!
//! First choice: the AWS CLI itself runs `aws sts get-caller-identity
//! --profile P`, which runs `credbroker credential-process` from the config
//! file and signs a real call. `--endpoint-url` is passed when
//! `AWS_ENDPOINT_URL` is set, because the AWS CLI 2.9 in Debian ignores that
//! variable. Without an AWS CLI, credbroker resolves the profile's
//! credentials in-process instead and says so. Nothing secret is printed:
//! only the caller ARN, or the account and the expiry.

use crate::broker::{Broker, CredentialSource};
use crate::store::Vault;
use std::path::{Path, PathBuf};

/// How the proof went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Proof {
    /// The AWS CLI called STS through the profile; the caller's ARN.
    AwsCli { arn: String },
    /// No AWS CLI: credentials resolved in-process; their account and expiry.
    InProcess { account_id: String, expires: String },
}

impl std::fmt::Display for Proof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Proof::AwsCli { arn } => write!(f, "the AWS CLI signed in as {arn}"),
            Proof::InProcess {
                account_id,
                expires,
            } => write!(
                f,
                "no AWS CLI found (install it to check end to end); credbroker resolved \
                 credentials for account {account_id}, valid until {expires}"
            ),
        }
    }
}

/// `aws` on `PATH`, if there is one.
pub fn find_aws_cli(env: &crate::env::Env) -> Option<PathBuf> {
    let path = env.var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("aws"))
        .find(|candidate| candidate.is_file())
}

/// The arguments of the AWS CLI call that proves `profile` works.
pub fn aws_cli_args(profile: &str, region: &str, endpoint_url: Option<&str>) -> Vec<String> {
    let mut args: Vec<String> = [
        "sts",
        "get-caller-identity",
        "--output",
        "json",
        "--profile",
        profile,
        "--region",
        region,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(url) = endpoint_url.filter(|u| !u.is_empty()) {
        args.extend(["--endpoint-url".to_owned(), url.to_owned()]);
    }
    args
}

/// Run the AWS CLI at `aws` for `profile`.
pub async fn with_aws_cli(
    aws: &Path,
    profile: &str,
    region: &str,
    env: &crate::env::Env,
) -> anyhow::Result<Proof> {
    let endpoint = env.var("AWS_ENDPOINT_URL");
    let out = tokio::process::Command::new(aws)
        .args(aws_cli_args(profile, region, endpoint.as_deref()))
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| anyhow::anyhow!("cannot run {}: {e}", aws.display()))?;
    if !out.status.success() {
        anyhow::bail!(
            "`aws sts get-caller-identity --profile {profile}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let body: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| anyhow::anyhow!("the AWS CLI printed something other than JSON: {e}"))?;
    let arn = body["Arn"].as_str().unwrap_or_default().to_owned();
    anyhow::ensure!(!arn.is_empty(), "the AWS CLI's answer has no Arn");
    Ok(Proof::AwsCli { arn })
}

/// Resolve `profile` in-process, as `credbroker credential-process` would.
pub async fn in_process(
    vault: Vault,
    config: &Path,
    profile: &str,
    ctx: &crate::context::Context,
) -> anyhow::Result<Proof> {
    let broker = Broker::new(vault, config.to_path_buf(), ctx);
    let creds = broker.credentials(profile).await?;
    Ok(Proof::InProcess {
        account_id: creds.account_id.clone().unwrap_or_default(),
        expires: crate::model::format_time(creds.expiration),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_url_is_passed_only_when_set() {
        let args = aws_cli_args("dev", "us-east-1", Some("http://127.0.0.1:1"));
        assert_eq!(
            &args[args.len() - 2..],
            ["--endpoint-url", "http://127.0.0.1:1"]
        );
        assert!(args.windows(2).any(|w| w == ["--profile", "dev"]));
        assert!(!aws_cli_args("dev", "us-east-1", Some("")).contains(&"--endpoint-url".to_owned()));
        assert!(!aws_cli_args("dev", "us-east-1", None).contains(&"--endpoint-url".to_owned()));
    }

    #[test]
    fn proofs_read_well() {
        let p = Proof::InProcess {
            account_id: "111111111111".into(),
            expires: "2030-01-01T00:00:00Z".into(),
        };
        assert!(p.to_string().contains("no AWS CLI found"));
    }
}
