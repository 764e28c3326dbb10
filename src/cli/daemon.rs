//! `credbroker daemon`: serve role credentials on the loopback endpoint.
//!
//! Opens the keychain first, so a missing or locked keychain is reported
//! before anything listens, then hands over to [`crate::daemon::run`].

use std::net::SocketAddr;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Then point tools at it:
    eval \"$(credbroker env --profile dev)\"
    credbroker exec --profile dev -- terraform plan")]
pub struct Args {
    /// Loopback address to listen on (127.0.0.1 or [::1]; port 0 picks one).
    #[arg(long, default_value = crate::paths::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Make a new authorization token first. Shells that exported the old
    /// token in AWS_CONTAINER_AUTHORIZATION_TOKEN must run `credbroker env` again.
    #[arg(long)]
    pub rotate_token: bool,
    /// After each token refresh, also write the AWS CLI's token cache
    /// (~/.aws/sso/cache), for tools that read it directly. Off by default:
    /// that file holds the bearer token in plain text.
    #[arg(long)]
    pub export_aws_cli_cache: bool,
}

pub async fn run(args: Args, ctx: &crate::context::Context) -> anyhow::Result<()> {
    if !args.listen.ip().is_loopback() {
        anyhow::bail!(crate::server::ServeError::NotLoopback(args.listen));
    }
    let vault = crate::store::open_keychain(ctx.keychain_service()).await?;
    crate::daemon::run(crate::daemon::DaemonOptions {
        listen: args.listen,
        rotate_token: args.rotate_token,
        vault,
        config_path: ctx.paths.aws_config_file.clone(),
        export_aws_cli_cache: args.export_aws_cli_cache.then(|| ctx.paths.home.clone()),
        ctx: ctx.clone(),
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn listens_on_the_default_loopback_port_unless_told() {
        let cli = Cli::parse_from(["x"]);
        assert_eq!(
            cli.args.listen,
            crate::paths::DEFAULT_LISTEN.parse().unwrap()
        );
        assert!(!cli.args.rotate_token);
        let cli = Cli::parse_from(["x", "--listen", "[::1]:0", "--rotate-token"]);
        assert_eq!(cli.args.listen, "[::1]:0".parse().unwrap());
        assert!(cli.args.rotate_token);
    }
}
