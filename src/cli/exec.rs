//! `credbroker exec --profile NAME -- CMD ARGS...`: run one command with
//! the environment `credbroker env` would print, and exit as it exits.
//!
//! The child is not handed any credentials: it gets the endpoint URL and the
//! token, and fetches (and re-fetches) credentials from the daemon itself.
//!
//! Signals: the handlers are installed before the child starts, so this
//! process never dies first and leaves the child orphaned.
//! - SIGINT and SIGQUIT come from the terminal to the whole foreground process
//!   group, so the child already has them; forwarding would deliver a second
//!   one (and to Terraform a second Ctrl-C means "abort now"). They are only
//!   absorbed here.
//! - SIGTERM and SIGHUP are usually sent to this process alone (a supervisor,
//!   `kill PID`), so they are passed on.
//!
//! The exit code is the child's, or 128 + the signal number when a signal
//! killed it, as a shell reports it.

use std::ffi::OsString;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
The command gets a token that reads that one profile only. Examples:
  credbroker exec --profile dev -- terraform plan
  credbroker exec --profile prod -- aws sts get-caller-identity")]
pub struct Args {
    /// The AWS profile whose credentials the command should get (on a
    /// terminal, leave it out to pick one).
    #[arg(long)]
    pub profile: Option<String>,
    /// The command and its arguments (after `--`).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, num_args = 1..)]
    pub command: Vec<OsString>,
}

/// Run the command; returns the exit code to exit with.
pub async fn run(args: Args, ctx: &crate::context::Context) -> anyhow::Result<i32> {
    let profile = super::pick::profile_or_pick(args.profile, "exec", &ctx.paths)?;
    let plan = super::env::plan_for_profile(&profile, ctx)?;
    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| anyhow::anyhow!("no command given"))?;
    let mut command = std::process::Command::new(program);
    command.args(rest);
    plan.apply(&mut command);
    drop(plan);
    run_child(command, program).await
}

#[cfg(unix)]
async fn run_child(command: std::process::Command, program: &OsString) -> anyhow::Result<i32> {
    use anyhow::Context as _;
    use tokio::signal::unix::{signal, SignalKind};

    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut quit = signal(SignalKind::quit())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;

    let mut child = tokio::process::Command::from(command)
        .spawn()
        .with_context(|| format!("cannot run {}", program.to_string_lossy()))?;
    let forward = |child: &tokio::process::Child, signal: libc::c_int| {
        if let Some(pid) = child.id() {
            // SAFETY: kill(2) with a pid we spawned and have not yet reaped.
            unsafe { libc::kill(pid as libc::pid_t, signal) };
        }
    };
    let status = loop {
        tokio::select! {
            status = child.wait() => break status?,
            _ = interrupt.recv() => {}
            _ = quit.recv() => {}
            _ = terminate.recv() => forward(&child, libc::SIGTERM),
            _ = hangup.recv() => forward(&child, libc::SIGHUP),
        }
    };
    Ok(exit_code(status))
}

#[cfg(not(unix))]
async fn run_child(command: std::process::Command, program: &OsString) -> anyhow::Result<i32> {
    use anyhow::Context as _;
    let mut child = tokio::process::Command::from(command)
        .spawn()
        .with_context(|| format!("cannot run {}", program.to_string_lossy()))?;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status?,
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    Ok(exit_code(status))
}

/// The child's exit code, or 128 + signal when a signal ended it.
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    status.code().unwrap_or(1)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn command_after_double_dash_keeps_its_flags() {
        let cli = Cli::parse_from([
            "x",
            "--profile",
            "dev",
            "--",
            "aws",
            "--region",
            "eu-west-1",
            "s3",
            "ls",
        ]);
        assert_eq!(cli.args.profile.as_deref(), Some("dev"));
        assert_eq!(
            cli.args.command,
            ["aws", "--region", "eu-west-1", "s3", "ls"]
        );
        assert!(Cli::try_parse_from(["x", "--profile", "dev"]).is_err());
    }

    #[tokio::test]
    async fn returns_the_exit_code_and_applies_the_plan() {
        let plan = crate::cli::env::credential_env(
            "http://127.0.0.1:1",
            "dev",
            std::path::Path::new("/tmp/token"),
            "t",
            None,
        );
        let mut command = std::process::Command::new("sh");
        command
            .arg("-c")
            .arg(r#"test "$AWS_CONTAINER_CREDENTIALS_FULL_URI" = http://127.0.0.1:1/v1/credentials/dev && test -z "${AWS_PROFILE+x}" && exit 7"#)
            .env("AWS_PROFILE", "other");
        plan.apply(&mut command);
        assert_eq!(run_child(command, &"sh".into()).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn death_by_signal_is_128_plus_signal() {
        let mut command = std::process::Command::new("sh");
        command.arg("-c").arg("kill -TERM $$");
        assert_eq!(
            run_child(command, &"sh".into()).await.unwrap(),
            128 + libc::SIGTERM
        );
    }
}
