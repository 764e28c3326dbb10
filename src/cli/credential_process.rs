//! `credbroker credential-process --profile NAME`: the `credential_process`
//! hook of `~/.aws/config`.
//!
//! Prints exactly one Version 1 JSON document on stdout (protocols.md §2)
//! with `Expiration`, so SDKs re-run it before the credentials expire.
//!
//! First it asks the running daemon over its Unix socket ([`crate::control`]),
//! which answers from memory in well under a millisecond; nothing else (no
//! keychain, no SDK client) is touched before that. The request names the
//! caller's AWS config file; a daemon reading another one says so, and the
//! profile is resolved in-process in the caller's file. With no daemon
//! listening it resolves in-process too, the profile before the keychain: the keychain's cached role credentials
//! when they are fresh, else a GetRoleCredentials call with the stored SSO
//! token. A daemon's error is final (it already looked in the keychain) and
//! is turned back into the same [`BrokerError`] the in-process path gives,
//! so the exit status does not depend on the path: 3 when a sign-in is
//! needed, with the `credbroker login` command on stderr. Errors never
//! carry a secret.

use crate::broker::{Broker, BrokerError, CredentialSource};
use crate::config::{AwsConfig, ChainRoot};
use crate::control::client::{self, ClientError};
use crate::control::protocol::{CredentialsReply, OTHER_CONFIG_FILE};
use crate::model::credential_process_output;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Use it from ~/.aws/config:

    [profile dev]
    credential_process = credbroker credential-process --profile dev
    credbroker_sso_session = my-sso
    credbroker_account_id = 111111111111
    credbroker_role_name = ReadOnly

Keep sso_* keys off such a profile: SDKs try their own SSO provider first.")]
pub struct Args {
    /// The profile in the AWS config file whose role credentials to print.
    #[arg(long)]
    pub profile: String,
}

pub async fn run(args: Args, ctx: &crate::context::Context) -> anyhow::Result<()> {
    let document = document(&args.profile, ctx).await?;
    let mut out = std::io::stdout().lock();
    out.write_all(document.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// The `credential_process` document for `profile`: from the daemon when
/// one runs on the caller's config file, else resolved in this process.
/// `console` uses it too.
pub async fn document(profile: &str, ctx: &crate::context::Context) -> anyhow::Result<String> {
    // The caller's config file decides, not the daemon's.
    let config_path = ctx.paths.aws_config_file.clone();
    match from_daemon(profile, &config_path, ctx).await? {
        Some(document) => Ok(document),
        None => in_process(profile, config_path, ctx).await,
    }
}

/// The daemon's document, `None` when no daemon answers, when it reads
/// another config file than the caller's, or when it answered nonsense:
/// resolving in-process is still correct then.
async fn from_daemon(
    profile: &str,
    config: &Path,
    ctx: &crate::context::Context,
) -> Result<Option<String>, BrokerError> {
    match client::credentials(&crate::control::socket_path(&ctx.paths), profile, config).await {
        Ok(CredentialsReply::Document(document)) => Ok(Some(document)),
        Ok(CredentialsReply::Error(error)) if error.code == OTHER_CONFIG_FILE => {
            tracing::debug!(message = %error.message, "resolving in-process");
            Ok(None)
        }
        Ok(CredentialsReply::Error(error)) => Err(error.into_broker_error()),
        Err(ClientError::NoDaemon { .. }) => {
            tracing::debug!("no daemon on the socket; resolving in-process");
            Ok(None)
        }
        Err(error) => {
            tracing::warn!(%error, "the daemon socket failed; resolving in-process");
            Ok(None)
        }
    }
}

/// Resolve the profile first, so a config error is reported as one; only a
/// chain that starts from an SSO role opens the keychain (a web identity
/// needs none: CI runners have no keychain).
async fn in_process(
    profile: &str,
    config_path: PathBuf,
    ctx: &crate::context::Context,
) -> anyhow::Result<String> {
    let config = AwsConfig::load(&config_path).map_err(crate::broker::config_error)?;
    let chain = config.chain(profile).map_err(crate::broker::config_error)?;
    let (vault, _fetching) = match chain.root {
        // Tools start many credential_process at once (Terraform with many
        // provider aliases, parallel CI steps). One fetches while the
        // others wait on the lock, then find its answer in the keychain.
        ChainRoot::Sso(_) => {
            let lock = fetch_lock(&config_path, profile, ctx).await;
            (
                crate::store::open_keychain(ctx.keychain_service()).await?,
                lock,
            )
        }
        ChainRoot::WebIdentity(_) => (crate::store::Vault::in_memory(), None),
    };
    let broker = Broker::new(vault, config_path, ctx);
    let creds = broker.credentials(profile).await?;
    Ok(credential_process_output(&creds))
}

/// An exclusive lock, held until dropped, on one profile of one config
/// file: `<runtime dir>/locks/<sha256 of both>`. `None` when it cannot be
/// had; the fetch then goes ahead unserialized, which is only slower.
async fn fetch_lock(
    config_path: &Path,
    profile: &str,
    ctx: &crate::context::Context,
) -> Option<std::fs::File> {
    use sha2::Digest as _;
    let mut hash = sha2::Sha256::new();
    hash.update(config_path.as_os_str().as_encoded_bytes());
    hash.update([0]);
    hash.update(profile.as_bytes());
    let dir = ctx.paths.runtime_dir.join("locks");
    let path = dir.join(hex::encode(hash.finalize()));
    let locked = tokio::task::spawn_blocking(move || {
        crate::paths::ensure_private_dir(&dir)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        lock_exclusive(&file)?;
        Ok::<_, std::io::Error>(file)
    })
    .await;
    match locked {
        Ok(Ok(file)) => Some(file),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "no fetch lock; fetching unserialized");
            None
        }
        Err(_) => None,
    }
}

#[cfg(unix)]
fn lock_exclusive(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd as _;
    // SAFETY: flock on a descriptor this function borrows for the call.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
fn lock_exclusive(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}
