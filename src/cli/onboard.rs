//! `credbroker onboard`: one command from a team file to working profiles.
//!
//! In order: sign in (as `credbroker login` does: PKCE in the browser, or
//! the device code over SSH and with `--device-code`; registering
//! `sso:account:access`, so the sign-in renews itself; a still-valid
//! renewable sign-in is reused), list every
//! account and role, write the profiles into the managed block of the AWS
//! config file, install and start the service, print the shell lines (and
//! add them to the rc file with `--shell-rc`), and finally prove it works
//! with `aws sts get-caller-identity` through one written profile.
//!
//! Messages go to stderr; stdout carries only the `--dry-run` diff or the
//! `--json` summary. The pieces are in [`crate::onboard`].

use super::login::{choose_method, sign_in};
use crate::config::SessionInfo;
use crate::onboard::apply::{write_profiles, ConfigChange};
use crate::onboard::block::BlockSpec;
use crate::onboard::listing::Listing;
use crate::onboard::verify::{self, Proof};
use crate::onboard::{
    credential_process_command, plan_profiles, shell, TeamFile, REGISTRATION_SCOPE,
};
use crate::sso::login::LoginOptions;
use anyhow::Context as _;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(
    about = "Sign in, write a profile for every account and role, start the service",
    after_help = "Examples:\n  \
        credbroker onboard --team-file platform/aws-team.toml\n  \
        credbroker onboard --start-url https://my-org.awsapps.com/start --region eu-west-1\n  \
        credbroker onboard --team-file team.toml --dry-run      # show the diff, write nothing\n\n\
        Profiles go into one marked block of ~/.aws/config (or $AWS_CONFIG_FILE); re-running \
        rewrites only that block and keeps a backup next to the file."
)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["team_file", "start_url"]))]
pub struct Args {
    /// The team file (TOML) with start_url, region, session_name, profile_template, filters.
    #[arg(long, value_name = "FILE")]
    pub team_file: Option<PathBuf>,
    /// The IAM Identity Center start URL (instead of a team file).
    #[arg(long, value_name = "URL", requires = "region")]
    pub start_url: Option<String>,
    /// The IAM Identity Center region (with --start-url).
    #[arg(long, value_name = "REGION", requires = "start_url")]
    pub region: Option<String>,
    /// The [sso-session NAME] to write (overrides the team file).
    #[arg(long, value_name = "NAME")]
    pub session_name: Option<String>,
    /// Sign in and list, then print the config-file diff instead of writing it.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not install or start the background service.
    #[arg(long)]
    pub no_service: bool,
    /// Append the shell lines to ~/.bashrc or ~/.zshrc (per $SHELL), once.
    #[arg(long)]
    pub shell_rc: bool,
    /// Do not open a browser; print a page and code to open elsewhere (the
    /// device code: implies --device-code).
    #[arg(long)]
    pub no_browser: bool,
    /// Sign in with a device code instead of the browser on this machine
    /// (automatic over SSH and without a display).
    #[arg(long)]
    pub device_code: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
    /// The AWS CLI used to prove a profile works (default: `aws` on PATH).
    #[arg(long, value_name = "PATH")]
    pub aws_cli: Option<PathBuf>,
    /// Parallel ListAccountRoles calls.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub concurrency: usize,
}

fn team_of(args: &Args) -> anyhow::Result<TeamFile> {
    let mut team = match (&args.team_file, &args.start_url, &args.region) {
        (Some(path), _, _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the team file {}", path.display()))?;
            TeamFile::parse(&text)
                .map_err(|e| anyhow::anyhow!("invalid team file {}: {e}", path.display()))?
        }
        (None, Some(url), Some(region)) => TeamFile::from_start_url(url, region),
        _ => anyhow::bail!("give --team-file FILE, or --start-url URL and --region REGION"),
    };
    if let Some(name) = &args.session_name {
        team.session_name = Some(name.clone());
    }
    team.check().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(team)
}

fn spinner(message: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

pub async fn run(args: Args, ctx: &crate::context::Context) -> anyhow::Result<()> {
    let team = team_of(&args)?;
    let session_name = team.session_name();
    let session = SessionInfo {
        key: session_name.clone(),
        start_url: team.start_url.clone(),
        region: team.region.clone(),
        registration_scopes: vec![REGISTRATION_SCOPE.to_owned()],
        legacy: false,
        login_command: format!("credbroker login --sso-session {session_name}"),
    };

    // 1. Sign in, or reuse a renewable sign-in to the same start URL.
    let vault = crate::store::open_keychain(ctx.keychain_service()).await?;
    let options = LoginOptions {
        open_browser: !args.no_browser,
        cancel_on_ctrl_c: true,
        ..LoginOptions::new(ctx.clone())
    };
    let now = options.ctx.clock.now();
    let token = match vault.sso_token(&session.key).await? {
        Some(t)
            if t.start_url == session.start_url
                && t.refresh_token.is_some()
                && t.expires_at - now > chrono::Duration::minutes(10) =>
        {
            eprintln!("Already signed in to '{session_name}'; using that sign-in.");
            t
        }
        _ => {
            let device_code = args.device_code || args.no_browser;
            let method = choose_method(device_code, &session, |name| ctx.env.var_os(name));
            sign_in(method, &session, &vault, &options)
                .await
                .map_err(|e| super::login::sign_in_failed(&session, e))?
        }
    };

    // 2. Every account and role.
    let bar = spinner("Listing your AWS accounts and roles");
    let listing = Listing {
        concurrency: args.concurrency,
        ..Listing::default()
    };
    let assignments = listing.assignments(&ctx.clients, &token).await;
    bar.finish_and_clear();
    let assignments = assignments.context("cannot list your accounts and roles")?;
    let profiles = plan_profiles(&team, &assignments);
    let accounts: std::collections::BTreeSet<_> =
        assignments.iter().map(|a| &a.account_id).collect();
    eprintln!(
        "You hold {} role(s) in {} account(s); {} profile(s) after the team's filters.",
        assignments.len(),
        accounts.len(),
        profiles.len()
    );

    // 3. The managed block.
    let binary = super::service::current_binary(ctx)?;
    let command = credential_process_command(&binary);
    let spec = BlockSpec {
        session_name: &session_name,
        start_url: &team.start_url,
        region: &team.region,
        command: &command,
    };
    let config = ctx.paths.aws_config_file.clone();
    let change = write_profiles(&config, &spec, &profiles, args.dry_run)?;
    for name in &change.skipped {
        eprintln!(
            "warning: a [profile {name}] outside credbroker's block already exists in {}; left it alone and did not write credbroker's",
            change.path.display()
        );
    }
    if args.dry_run {
        if args.json {
            println!("{}", summary(&session_name, &change, None, None));
        } else if change.diff.is_empty() {
            eprintln!("Dry run: {} is already up to date.", change.path.display());
        } else {
            print!("{}", change.diff);
            eprintln!("Dry run: nothing was written.");
        }
        return Ok(());
    }
    eprintln!("{}", describe_change(&change));

    // 4. The service.
    let service = if args.no_service {
        "skipped (--no-service)".to_owned()
    } else {
        match super::service::perform(crate::service::Action::Install, ctx).await {
            Ok((manager, report)) => {
                eprintln!(
                    "{}",
                    super::service::describe(manager, crate::service::Action::Install, &report)
                );
                match report.unavailable {
                    Some(reason) => format!("not started: {reason}"),
                    None => "installed and started".to_owned(),
                }
            }
            Err(e) => {
                eprintln!("warning: the service was not installed: {e:#}\n(profiles using credential_process work without it)");
                format!("failed: {e:#}")
            }
        }
    };

    // 5. Shell lines.
    let written: Vec<&str> = profiles
        .iter()
        .map(|p| p.name.as_str())
        .filter(|n| !change.skipped.iter().any(|s| s == n))
        .collect();
    let default_profile = team
        .default_profile
        .as_deref()
        .filter(|p| written.contains(p));
    let custom_config = ctx
        .env
        .var_os("AWS_CONFIG_FILE")
        .map(|_| change.path.as_path());
    let lines = shell::shell_lines(default_profile, written.first().copied(), custom_config);
    if args.shell_rc {
        let rc = shell::rc_file(&ctx.paths.home, ctx.env.var("SHELL").as_deref());
        let added = shell::add_to_rc(&rc, &lines)
            .with_context(|| format!("cannot update {}", rc.display()))?;
        eprintln!(
            "{} {}",
            if added {
                "Added the shell lines to"
            } else {
                "The shell lines are already in"
            },
            rc.display()
        );
    } else {
        eprintln!(
            "Add these lines to your shell's rc file (or re-run with --shell-rc):\n\n{lines}"
        );
    }

    // 6. Prove it.
    let Some(profile) = default_profile.or(written.first().copied()) else {
        anyhow::bail!(
            "no profile was written, so there is nothing to check; see the messages above"
        );
    };
    let region = profiles
        .iter()
        .find(|p| p.name == profile)
        .map(|p| p.region.clone())
        .unwrap_or_else(|| team.profile_region().to_owned());
    let bar = spinner(&format!("Checking profile '{profile}'"));
    let proof = match args
        .aws_cli
        .clone()
        .or_else(|| verify::find_aws_cli(&ctx.env))
    {
        Some(aws) => verify::with_aws_cli(&aws, profile, &region, &ctx.env).await,
        None => verify::in_process(vault, &change.path, profile, ctx).await,
    };
    bar.finish_and_clear();
    let proof = match proof {
        Ok(proof) => proof,
        Err(e) => {
            let e = e.context(format!(
                "profile '{profile}' was written but does not work yet"
            ));
            if args.json {
                // Scripts still learn what was written, and why the proof failed.
                println!(
                    "{}",
                    summary_with_error(&session_name, &change, Some(&service), &format!("{e:#}"))
                );
            }
            return Err(e);
        }
    };
    eprintln!("Checked profile '{profile}': {proof}.");
    if args.json {
        println!(
            "{}",
            summary(
                &session_name,
                &change,
                Some(&service),
                Some((profile, &proof))
            )
        );
    } else {
        eprintln!("Done. Try: aws sts get-caller-identity --profile {profile}");
    }
    Ok(())
}

fn describe_change(change: &ConfigChange) -> String {
    match (&change.backup, change.changed) {
        (_, false) => format!(
            "{} already has these {} profile(s); nothing to change.",
            change.path.display(),
            change.profiles_written
        ),
        (Some(backup), true) => format!(
            "Wrote {} profile(s) to {} (the previous version is in {}).",
            change.profiles_written,
            change.path.display(),
            backup.display()
        ),
        (None, true) => format!(
            "Wrote {} profile(s) to {}.",
            change.profiles_written,
            change.path.display()
        ),
    }
}

/// The `--json` summary of a run whose proof failed: `verified` is null
/// and `error` says why.
fn summary_with_error(
    session: &str,
    change: &ConfigChange,
    service: Option<&str>,
    error: &str,
) -> String {
    let mut value: serde_json::Value =
        serde_json::from_str(&summary(session, change, service, None)).unwrap_or_default();
    value["error"] = serde_json::Value::String(error.to_owned());
    value.to_string()
}

/// The `--json` summary: stable keys, no secrets.
fn summary(
    session: &str,
    change: &ConfigChange,
    service: Option<&str>,
    proof: Option<(&str, &Proof)>,
) -> String {
    let proof = proof.map(|(profile, p)| match p {
        Proof::AwsCli { arn } => {
            serde_json::json!({"profile": profile, "via": "aws-cli", "arn": arn})
        }
        Proof::InProcess {
            account_id,
            expires,
        } => serde_json::json!({
            "profile": profile, "via": "in-process", "accountId": account_id, "expiration": expires
        }),
    });
    serde_json::json!({
        "session": session,
        "configFile": change.path,
        "changed": change.changed,
        "written": change.written,
        "backup": change.backup,
        "profiles": change.profiles_written,
        "skipped": change.skipped,
        "diff": change.diff,
        "service": service,
        "verified": proof,
    })
    .to_string()
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
    fn source_is_a_team_file_or_a_start_url_with_region() {
        assert!(Cli::try_parse_from(["x", "--team-file", "t.toml"]).is_ok());
        assert!(Cli::try_parse_from([
            "x",
            "--start-url",
            "https://a/start",
            "--region",
            "us-east-1"
        ])
        .is_ok());
        assert!(Cli::try_parse_from(["x", "--start-url", "https://a/start"]).is_err());
        assert!(Cli::try_parse_from(["x"]).is_err());
        assert!(Cli::try_parse_from([
            "x",
            "--team-file",
            "t",
            "--start-url",
            "https://a/start",
            "--region",
            "r"
        ])
        .is_err());
    }

    #[test]
    fn session_name_flag_wins() {
        let cli = Cli::parse_from([
            "x",
            "--start-url",
            "https://corp.awsapps.com/start",
            "--region",
            "us-east-1",
            "--session-name",
            "mine",
        ]);
        assert_eq!(team_of(&cli.args).unwrap().session_name(), "mine");
        let cli = Cli::parse_from([
            "x",
            "--start-url",
            "https://corp.awsapps.com/start",
            "--region",
            "us-east-1",
        ]);
        assert_eq!(team_of(&cli.args).unwrap().session_name(), "corp");
    }
}
