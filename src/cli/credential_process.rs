//! `credbroker credential-process --profile NAME`: the `credential_process`
//! hook of `~/.aws/config`.
//!
//! Prints exactly one Version 1 JSON document on stdout (protocols.md §2)
//! with `Expiration`, so SDKs re-run it before the credentials expire.
//!
//! First it asks the running daemon over its Unix socket ([`crate::control`]),
//! which answers from memory in well under a millisecond; nothing else (no
//! keychain, no SDK client) is touched before that. With no daemon
//! listening it resolves in-process: the keychain's cached role credentials
//! when they are fresh, else a GetRoleCredentials call with the stored SSO
//! token. A daemon's error is final (it already looked in the keychain) and
//! is turned back into the same [`BrokerError`] the in-process path gives,
//! so the exit status does not depend on the path: 3 when a sign-in is
//! needed, with the `credbroker login` command on stderr. Errors never
//! carry a secret.

use crate::broker::{Broker, BrokerError, CredentialSource};
use crate::control::client::{self, ClientError};
use crate::control::protocol::CredentialsReply;
use crate::model::credential_process_output;
use std::io::Write;

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

pub async fn run(args: Args) -> anyhow::Result<()> {
    let document = match from_daemon(&args.profile).await? {
        Some(document) => document,
        None => in_process(&args.profile).await?,
    };
    let mut out = std::io::stdout().lock();
    out.write_all(document.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// The daemon's document, `None` when no daemon answers (or it answered
/// nonsense: resolving in-process is still correct then).
async fn from_daemon(profile: &str) -> Result<Option<String>, BrokerError> {
    match client::credentials(&crate::control::socket_path(), profile).await {
        Ok(CredentialsReply::Document(document)) => Ok(Some(document)),
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

async fn in_process(profile: &str) -> anyhow::Result<String> {
    let vault = crate::store::open_keychain().await?;
    let broker = Broker::new(
        vault,
        crate::paths::aws_config_file(),
        crate::clock::system(),
    );
    let creds = broker.credentials(profile).await?;
    Ok(credential_process_output(&creds))
}
