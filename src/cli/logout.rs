//! `credbroker logout`: forget a session's tokens and cached role
//! credentials, and end the sign-in at IAM Identity Center.
//!
//! The keychain items are removed whatever the portal says: a Logout call
//! that fails (offline, token already expired) is reported, but it must not
//! leave a token behind on this machine. For the same reason an AWS CLI
//! cache file that `--export-aws-cli-cache` wrote with the session's token
//! is removed too.
//!
//! Then a running daemon is told over its socket ([`crate::control`]): it
//! forgets the roles it holds for those sessions at once and records the
//! logout in the audit trail, so from then on it answers `LoginRequired`
//! instead of serving them. The keychain goes first, so a request arriving
//! in between cannot fetch the roles back from it.

use crate::aws_cli_cache::{self, Cleanup};
use crate::config::AwsConfig;
use crate::sso::portal;
use crate::store::{open_keychain, Vault};
use std::path::Path;

#[derive(clap::Args, Debug)]
#[command(
    about = "Sign out: remove tokens and cached credentials from the keychain",
    long_about = "Sign out of IAM Identity Center.\n\n\
        Removes the session's SSO token (and refresh token) and every role credential \
        credbroker cached for it from the OS keychain, and the session's file in \
        ~/.aws/sso/cache if it holds that token (--export-aws-cli-cache), then tells IAM \
        Identity Center to end the sign-in. Tools that already hold role credentials keep \
        them until they expire (at most 12 hours); the daemon stops handing out new ones.",
    after_help = "Examples:\n  \
        credbroker logout --sso-session my-org\n  \
        credbroker logout --profile dev\n  \
        credbroker logout --all"
)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["sso_session", "profile", "all"]))]
pub struct Args {
    /// The [sso-session NAME] to sign out of.
    #[arg(long, value_name = "NAME")]
    pub sso_session: Option<String>,
    /// A profile whose session to sign out of.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Sign out of every session credbroker holds a token for.
    #[arg(long)]
    pub all: bool,
}

pub async fn run(args: Args, ctx: &crate::context::Context) -> anyhow::Result<()> {
    let keys = match (&args.sso_session, &args.profile, args.all) {
        // The sso-session name is the vault key; no config needed, so a
        // broken config file cannot stop a logout.
        (Some(name), _, _) => vec![name.clone()],
        (None, Some(profile), _) => {
            vec![
                AwsConfig::load_default(&ctx.paths)?
                    .session_of_profile(profile)?
                    .key,
            ]
        }
        (None, None, true) => Vec::new(),
        (None, None, false) => {
            anyhow::bail!("name what to sign out of: --sso-session NAME, --profile NAME or --all")
        }
    };
    let vault = open_keychain(ctx.keychain_service()).await?;
    let keys = if args.all {
        vault.sessions().await?
    } else {
        keys
    };
    let home = &ctx.paths.home;
    let mut problems = 0;
    let mut removed = Vec::new();
    for key in &keys {
        match logout_session(&vault, key, home, &ctx.clients).await {
            Ok(report) => {
                eprintln!("{report}");
                removed.push(key.clone());
            }
            Err(e) => {
                problems += 1;
                eprintln!("Could not remove '{key}' from the keychain: {e}");
            }
        }
    }
    if keys.is_empty() {
        eprintln!("No sessions are signed in.");
    }
    // With --all the daemon forgets every role, even of a session whose
    // keychain items were already gone.
    if !removed.is_empty() || args.all {
        tell_daemon(&removed, args.all, ctx).await;
    }
    if problems > 0 {
        anyhow::bail!("{problems} session(s) could not be removed from the keychain");
    }
    Ok(())
}

/// Make a running daemon stop serving the sessions' roles; no daemon is
/// fine (nothing serves them), a daemon that fails to answer is reported.
async fn tell_daemon(sessions: &[String], all: bool, ctx: &crate::context::Context) {
    use crate::control::client::{self, ClientError};
    match client::logout(&crate::control::socket_path(&ctx.paths), sessions, all).await {
        Ok(Ok(reply)) => {
            eprintln!(
                "The running daemon stopped serving {} role(s) of {}.",
                reply.dropped_roles,
                if all {
                    "every session".to_string()
                } else {
                    sessions.join(", ")
                }
            );
        }
        Ok(Err(error)) => eprintln!(
            "The running daemon refused the logout ({}); restart it with `credbroker daemon` \
             so it stops serving the cached roles.",
            error.message
        ),
        Err(ClientError::NoDaemon { .. }) => {
            tracing::debug!("no daemon running; nothing else serves the roles");
        }
        Err(error) => eprintln!(
            "Could not tell the running daemon ({error}); restart it with `credbroker daemon` \
             so it stops serving the cached roles."
        ),
    }
}

/// Remove one session's items (and its exported AWS CLI cache file under
/// `home`), and end its sign-in upstream when there was a token. Returns
/// the lines to show; fails only if the keychain fails.
pub async fn logout_session(
    vault: &Vault,
    key: &str,
    home: &Path,
    clients: &crate::sdk::SdkClients,
) -> anyhow::Result<String> {
    let token = vault.sso_token(key).await?;
    let remote = match &token {
        None => None,
        Some(token) => Some(portal::logout(clients, token).await),
    };
    vault.delete_session(key).await?;
    let mut report = signed_out(key, remote);
    if let Some(token) = &token {
        match aws_cli_cache::remove_exported(key, token, home) {
            Ok(Cleanup::Absent) => {}
            Ok(Cleanup::Removed(path)) => {
                report += &format!("\nRemoved the AWS CLI token cache {}.", path.display());
            }
            Ok(Cleanup::Kept(path)) => {
                report += &format!(
                    "\nLeft {}: it does not hold this sign-in's token (it is from \
                     `aws sso login`, or an older export); `aws sso logout` removes it.",
                    path.display()
                );
            }
            Err(e) => report += &format!("\n{e}; remove it by hand."),
        }
    }
    Ok(report)
}

/// The line for a session whose keychain items are gone, by what the portal
/// said to its Logout (`None`: there was no token to end).
fn signed_out(key: &str, remote: Option<Result<(), portal::PortalError>>) -> String {
    match remote {
        None => format!("'{key}' was not signed in; removed any cached credentials."),
        Some(Ok(())) => format!("Signed out of '{key}'."),
        Some(Err(portal::PortalError::Unauthorized(_))) => {
            format!("Signed out of '{key}' (its token had already expired or been revoked).")
        }
        Some(Err(e)) => format!(
            "Removed '{key}' from the keychain, but IAM Identity Center was not told ({e}); \
             the sign-in ends there when it expires."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn exactly_one_target() {
        assert!(Cli::try_parse_from(["x", "--all"]).is_ok());
        assert!(Cli::try_parse_from(["x", "--profile", "p"]).is_ok());
        assert!(Cli::try_parse_from(["x"]).is_err());
        assert!(Cli::try_parse_from(["x", "--all", "--sso-session", "a"]).is_err());
    }

    #[tokio::test]
    async fn logout_of_an_unknown_session_reports_it() {
        let vault = Vault::in_memory();
        let home = tempfile::tempdir().unwrap();
        let line = logout_session(
            &vault,
            "nobody",
            home.path(),
            &crate::sdk::SdkClients::new(crate::env::Env::empty()),
        )
        .await
        .unwrap();
        assert!(line.contains("was not signed in"), "{line}");
    }
}
