//! The command line: the top-level `credbroker` parser and the dispatch to
//! one module per subcommand.

use clap::{Parser, Subcommand};

/// The everyday commands, under `credbroker --help`.
macro_rules! typical_use {
    () => {
        "\
Typical use:
    credbroker login --sso-session my-sso     sign in (once; renewed for you)
    credbroker daemon &                       serve credentials on 127.0.0.1
    credbroker exec --profile dev -- terraform plan
    eval \"$(credbroker env --profile dev)\"    point this shell at the endpoint"
    };
}

/// `demo` is there only in a build with the emulator.
#[cfg(feature = "emulator")]
const AFTER_HELP: &str = concat!(
    typical_use!(),
    "\n\nTry it with no AWS account:  credbroker demo"
);
#[cfg(not(feature = "emulator"))]
const AFTER_HELP: &str = typical_use!();

#[derive(Parser, Debug)]
#[command(
    name = "credbroker",
    version,
    about = "One AWS IAM Identity Center sign-in, short-lived role credentials for every tool",
    long_about = "credbroker signs you in to AWS IAM Identity Center once, keeps the session and \
short-lived role credentials in the OS keychain, and serves them to Terraform, the AWS CLI and \
every SDK over a loopback container-credentials endpoint or `credential_process`.",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    // about and long_about: on its Args (a doc comment here would hide them).
    Login(super::login::Args),
    // about and long_about: on its Args (a doc comment here would hide them).
    Logout(super::logout::Args),
    /// Serve role credentials on the loopback container-credentials endpoint.
    Daemon(super::daemon::Args),
    /// Print the environment that points AWS tools at the running daemon.
    Env(super::env::Args),
    /// Run a command with the environment that points it at the running daemon.
    Exec(super::exec::Args),
    /// Print role credentials as `credential_process` JSON (for ~/.aws/config).
    CredentialProcess(super::credential_process::Args),
    // about and long_about: on its Args (a doc comment here would hide them).
    Console(super::console::Args),
    // about and long_about: on its Args (a doc comment here would hide them).
    Audit(super::audit::Args),
    /// Show sessions, roles held, the endpoint, the service and the last errors.
    Status(super::status::Args),
    // about and long_about: on its Args (a doc comment here would hide them).
    Doctor(super::doctor::Args),
    /// Run a local IAM Identity Center + STS emulator speaking the AWS wire formats.
    #[cfg(feature = "emulator")]
    Emulator(super::emulator::Args),
    /// Show the whole flow against the bundled emulator, in a temporary HOME.
    #[cfg(feature = "emulator")]
    Demo(super::demo::Args),
    // about and long_about: on its Args (a doc comment here would hide them).
    Onboard(super::onboard::Args),
    /// Install, remove, inspect or restart the per-user background service.
    Service(super::service::Args),
    /// Decode a JWT: claims, time left, `sub` in parts; verify it with --jwks.
    Jwt(super::jwt::Args),
    /// In CI: assume a role with the job's OIDC token and serve it, renewed.
    Ci(super::ci::Args),
    /// Check a token against a trust policy, or lint trust policies.
    Trust(super::trust::Args),
    /// Lint GitHub workflow files for AWS role assumption mistakes.
    Workflow(super::workflow::Args),
    // about and long_about: on its Args (a doc comment here would hide them).
    Completions(super::completions::Args),
    /// Write the man pages into a directory (for packaging).
    #[command(hide = true)]
    Man(super::man::Args),
}

impl Cli {
    /// The default log level for a command: servers say more.
    pub fn default_log_level(&self) -> &'static str {
        let base = match self.command {
            Command::Daemon(_) => 1,
            #[cfg(feature = "emulator")]
            Command::Emulator(_) => 1,
            _ => 0,
        };
        match base + self.verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    }
}

impl Command {
    /// Whether the command may call AWS (or the daemon that does), so the
    /// SDK settings it would use must be valid.
    fn calls_aws(&self) -> bool {
        match self {
            Command::Audit(_)
            | Command::Service(_)
            | Command::Jwt(_)
            | Command::Trust(_)
            | Command::Workflow(_)
            | Command::Completions(_)
            | Command::Man(_) => false,
            #[cfg(feature = "emulator")]
            Command::Emulator(_) => false,
            _ => true,
        }
    }
}

/// Run a parsed command in `env` (the process's environment, taken once by
/// the binary); returns the process exit code.
pub async fn run(cli: Cli, env: crate::env::Env) -> anyhow::Result<i32> {
    // The one context of this command: built from the process's
    // environment here (as `Context::from_process` does), and nowhere below.
    let ctx = &crate::context::Context::new(env).with_notifier(crate::context::Notifier::desktop());
    // A bad AWS_MAX_ATTEMPTS (or another SDK setting) stops a command that
    // calls AWS here, named; the offline ones (linters, completions) run.
    if cli.command.calls_aws() {
        ctx.clients.check()?;
    }
    match cli.command {
        Command::Login(args) => super::login::run(args, ctx).await.map(|()| 0),
        Command::Logout(args) => super::logout::run(args, ctx).await.map(|()| 0),
        Command::Daemon(args) => super::daemon::run(args, ctx).await.map(|()| 0),
        Command::Env(args) => super::env::run(args, ctx).await.map(|()| 0),
        Command::Exec(args) => super::exec::run(args, ctx).await,
        Command::Console(args) => super::console::run(args, ctx).await.map(|()| 0),
        Command::CredentialProcess(args) => {
            super::credential_process::run(args, ctx).await.map(|()| 0)
        }
        Command::Audit(args) => super::audit::run(args, ctx).await.map(|()| 0),
        Command::Status(args) => super::status::run(args, ctx).await.map(|()| 0),
        Command::Doctor(args) => super::doctor::run(args, ctx).await,
        #[cfg(feature = "emulator")]
        Command::Emulator(args) => super::emulator::run(args).await.map(|()| 0),
        #[cfg(feature = "emulator")]
        Command::Demo(args) => super::demo::run(args, ctx).await.map(|()| 0),
        Command::Onboard(args) => super::onboard::run(args, ctx).await.map(|()| 0),
        Command::Service(args) => super::service::run(args, ctx).await.map(|()| 0),
        Command::Jwt(args) => super::jwt::run(args).await,
        Command::Ci(args) => super::ci::run(args, ctx).await,
        Command::Trust(args) => super::trust::run(args).await,
        Command::Workflow(args) => super::workflow::run(args).await,
        Command::Completions(args) => super::completions::run(args).await.map(|()| 0),
        Command::Man(args) => super::man::run(args).await.map(|()| 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// `--help` shows a command's long description and its examples: a doc
    /// comment on the variant would replace them with its one line.
    #[test]
    fn long_help_teaches() {
        let mut cli = Cli::command();
        for (name, phrase) in [
            ("login", "comes back to credbroker on 127.0.0.1"),
            ("logout", "~/.aws/sso/cache"),
            ("audit", "VIA (endpoint"),
            ("onboard", "--dry-run"),
        ] {
            let help = cli
                .find_subcommand_mut(name)
                .unwrap()
                .render_long_help()
                .to_string();
            assert!(help.contains(phrase), "{name} --help:\n{help}");
            assert!(help.contains("Examples:"), "{name} --help:\n{help}");
        }
    }
}
