//! `credbroker credential-process --profile NAME`: the `credential_process`
//! hook of `~/.aws/config`.
//!
//! Prints exactly one Version 1 JSON document on stdout (protocols.md §2)
//! with `Expiration`, so SDKs re-run it before the credentials expire. It
//! resolves in-process: the keychain's cached role credentials when they
//! are fresh, else a GetRoleCredentials call with the stored SSO token.
//! Errors go to stderr, never with a secret, and the exit status is
//! non-zero; a missing sign-in names the `credbroker login` command.

use crate::broker::{Broker, CredentialSource};
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
    let vault = crate::store::open_keychain().await?;
    let broker = Broker::new(
        vault,
        crate::paths::aws_config_file(),
        crate::clock::system(),
    );
    let creds = broker.credentials(&args.profile).await?;
    let mut out = std::io::stdout().lock();
    out.write_all(credential_process_output(&creds).as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}
