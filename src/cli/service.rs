//! `credbroker service install|uninstall|status|restart`: run the daemon as
//! a per-user service (systemd user unit on Linux, LaunchAgent on macOS).
//!
//! The work is in [`crate::service`]; this module says what happened, and,
//! where no user service manager is reachable, which commands to run later.

use crate::service::run::{execute, Report};
use crate::service::{Action, Manager};
use anyhow::Context as _;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Linux: ~/.config/systemd/user/credbroker.service, driven with `systemctl --user`;
       logs with `journalctl --user -u credbroker`.
macOS: ~/Library/LaunchAgents/com.credbroker.daemon.plist, driven with `launchctl`;
       logs in ~/Library/Logs/credbroker/daemon.log.")]
pub struct Args {
    #[command(subcommand)]
    pub action: ServiceAction,
}

#[derive(clap::Subcommand, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceAction {
    /// Write the service file for this binary, then enable and start it.
    Install,
    /// Stop and disable the service and remove its file.
    Uninstall,
    /// Show whether the service is installed and running.
    Status,
    /// Restart the service (after an upgrade, or to pick up a new token).
    Restart,
}

impl From<ServiceAction> for Action {
    fn from(a: ServiceAction) -> Action {
        match a {
            ServiceAction::Install => Action::Install,
            ServiceAction::Uninstall => Action::Uninstall,
            ServiceAction::Status => Action::Status,
            ServiceAction::Restart => Action::Restart,
        }
    }
}

pub async fn run(args: Args, ctx: &crate::context::Context) -> anyhow::Result<()> {
    let action = Action::from(args.action);
    let (manager, report) = perform(action, ctx).await?;
    eprintln!("{}", describe(manager, action, &report));
    Ok(())
}

/// Run `action` for the binary that is running now, off the async threads.
pub async fn perform(
    action: Action,
    ctx: &crate::context::Context,
) -> anyhow::Result<(Manager, Report)> {
    let manager = Manager::native()
        .ok_or_else(|| anyhow::anyhow!("credbroker has no service support on this platform; run `credbroker daemon` at login instead"))?;
    let binary = current_binary(ctx)?;
    let ctx = ctx.clone();
    let report = tokio::task::spawn_blocking(move || execute(manager, action, &binary, &ctx))
        .await
        .context("the service task failed")??;
    Ok((manager, report))
}

/// The absolute path of the running binary as invoked (see [`crate::binary_path`]).
pub fn current_binary(ctx: &crate::context::Context) -> anyhow::Result<std::path::PathBuf> {
    crate::binary_path::current(ctx.env.var_os("PATH").as_deref())
        .context("cannot tell where the credbroker binary is")
}

/// What a person reads after an action.
pub fn describe(manager: Manager, action: Action, report: &Report) -> String {
    let file = report.file.display();
    if report.packaged && matches!(action, Action::Install | Action::Uninstall) {
        return describe_packaged(action, report);
    }
    if let Some(reason) = &report.unavailable {
        let mut text = match action {
            Action::Install => format!("Wrote {file}, but did not start it: {reason}."),
            Action::Uninstall => format!("Removed {file}; {reason}."),
            _ => format!(
                "The service is {}installed ({file}), and {reason}.",
                if report.installed { "" } else { "not " }
            ),
        };
        if !report.manual.is_empty() && action != Action::Status {
            text.push_str("\nRun these where a user service manager is available");
            if manager == Manager::Systemd {
                text.push_str(" (a desktop login, or after `loginctl enable-linger $USER`)");
            }
            text.push_str(":\n");
            for line in &report.manual {
                text.push_str(&format!("    {line}\n"));
            }
        }
        if action == Action::Install {
            text.push_str(
                "\nUntil then, start the daemon yourself when you need the endpoint: credbroker daemon &\n\
                 (profiles using credential_process work without it.)",
            );
        }
        return text.trim_end().to_owned();
    }
    let logs = match manager {
        Manager::Systemd => "journalctl --user -u credbroker".to_owned(),
        Manager::Launchd => "~/Library/Logs/credbroker/daemon.log".to_owned(),
    };
    match action {
        Action::Install => format!(
            "Installed {file} and started the service with {}. Logs: {logs}",
            manager.name()
        ),
        Action::Uninstall => format!("Stopped the service and removed {file}."),
        Action::Restart => format!("Restarted the service. Logs: {logs}"),
        Action::Status => format!(
            "Service file: {file} ({})",
            if report.installed {
                "installed"
            } else {
                "not installed"
            }
        ),
    }
}

/// Install and uninstall with the unit a package installed: nothing is
/// written or removed but an old copy of ours.
fn describe_packaged(action: Action, report: &Report) -> String {
    let file = report.file.display();
    let mut text = match (action, &report.unavailable) {
        (Action::Install, None) => format!(
            "Enabled and started the packaged unit {file}. Logs: journalctl --user -u credbroker"
        ),
        (_, None) => format!("Stopped and disabled the service; {file} stays with the package."),
        (_, Some(reason)) => format!(
            "Did not {} the packaged unit {file}: {reason}.\n\
             Run these where a user service manager is available (a desktop login, or after \
             `loginctl enable-linger $USER`):\n",
            if action == Action::Install {
                "enable"
            } else {
                "disable"
            }
        ),
    };
    for line in &report.manual {
        text.push_str(&format!("    {line}\n"));
    }
    text.trim_end().to_owned()
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
    fn actions_parse() {
        for (word, action) in [
            ("install", ServiceAction::Install),
            ("uninstall", ServiceAction::Uninstall),
            ("status", ServiceAction::Status),
            ("restart", ServiceAction::Restart),
        ] {
            assert_eq!(Cli::parse_from(["x", word]).args.action, action);
        }
        assert!(Cli::try_parse_from(["x"]).is_err());
    }

    #[test]
    fn unavailable_manager_prints_the_manual_steps() {
        let report = Report {
            file: "/h/.config/systemd/user/credbroker.service".into(),
            unavailable: Some("no user systemd instance is running here".into()),
            manual: vec!["systemctl --user daemon-reload".into()],
            installed: true,
            ..Report::default()
        };
        let text = describe(Manager::Systemd, Action::Install, &report);
        assert!(text.starts_with("Wrote /h/.config/systemd/user/credbroker.service, but did not start it: no user systemd"), "{text}");
        assert!(
            text.contains("\n    systemctl --user daemon-reload\n"),
            "{text}"
        );
        assert!(text.contains("credbroker daemon &"), "{text}");
    }

    #[test]
    fn the_packaged_unit_is_enabled_not_written() {
        let report = Report {
            file: crate::service::PACKAGED_UNIT.into(),
            unavailable: Some("XDG_RUNTIME_DIR is not set".into()),
            manual: vec!["systemctl --user enable credbroker.service".into()],
            installed: true,
            packaged: true,
            ..Report::default()
        };
        let text = describe(Manager::Systemd, Action::Install, &report);
        assert!(
            text.starts_with("Did not enable the packaged unit /usr/lib/systemd/user/credbroker.service: XDG_RUNTIME_DIR"),
            "{text}"
        );
        assert!(
            text.ends_with("\n    systemctl --user enable credbroker.service"),
            "{text}"
        );
        assert!(!text.contains("Wrote"), "{text}");
        let done = Report {
            unavailable: None,
            manual: Vec::new(),
            ..report
        };
        let text = describe(Manager::Systemd, Action::Uninstall, &done);
        assert_eq!(
            text,
            "Stopped and disabled the service; /usr/lib/systemd/user/credbroker.service stays with the package."
        );
    }
}
