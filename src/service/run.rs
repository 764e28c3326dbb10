//! Carrying out a service [`Plan`]: check that the user's service manager
//! is reachable, write or remove the service file, run the commands.
//!
//! When the manager is not reachable the file work is still done and the
//! commands come back as [`Report::manual`] for the person to run once they
//! have one; only `restart` fails then, since it can do nothing at all.

use super::{
    packaged_plan, packaged_unit, plan as plan_for, systemd_state_usable, written_by_credbroker,
    Action, Manager, Plan,
};
use anyhow::Context as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// What an action did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub file: PathBuf,
    /// Why the service manager could not be used, when it could not.
    pub unavailable: Option<String>,
    /// Commands run, as shell lines, with whether each succeeded.
    pub ran: Vec<(String, bool)>,
    /// Commands the person should run later (manager unavailable).
    pub manual: Vec<String>,
    /// Whether the service file exists after the action.
    pub installed: bool,
    /// The unit is the one a package installed ([`super::PACKAGED_UNIT`]);
    /// `file` names it.
    pub packaged: bool,
}

/// Whether `manager` can be driven from here; the reason when not.
pub fn availability(manager: Manager, env: &crate::env::Env) -> Result<(), String> {
    match manager {
        Manager::Systemd => {
            if env.var_os("XDG_RUNTIME_DIR").is_none_or(|v| v.is_empty()) {
                return Err(
                    "XDG_RUNTIME_DIR is not set, so there is no user session for systemd".into(),
                );
            }
            let out = Command::new("systemctl")
                .args(["--user", "is-system-running"])
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run systemctl: {e}"))?;
            let printed = String::from_utf8_lossy(&out.stdout);
            if systemd_state_usable(&printed) {
                Ok(())
            } else {
                let said = format!(
                    "{} {}",
                    printed.trim(),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                Err(format!(
                    "no user systemd instance is running here (`systemctl --user is-system-running`: {})",
                    said.trim()
                ))
            }
        }
        Manager::Launchd => {
            let domain = format!("gui/{}", uid());
            match Command::new("launchctl")
                .args(["print", &domain])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
            {
                Ok(s) if s.success() => Ok(()),
                Ok(_) => Err(format!(
                    "launchd has no {domain} domain (not logged in to the desktop?)"
                )),
                Err(e) => Err(format!("cannot run launchctl: {e}")),
            }
        }
    }
}

fn uid() -> u32 {
    #[cfg(unix)]
    {
        // SAFETY: getuid has no preconditions and cannot fail.
        unsafe { libc::getuid() }
    }
    #[cfg(not(unix))]
    {
        0
    }
}

/// Where the service file of `manager` goes for this user.
pub fn service_file(manager: Manager, ctx: &crate::context::Context) -> PathBuf {
    let xdg = ctx
        .env
        .var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    manager.service_file(&ctx.paths.home, xdg.as_deref())
}

/// Do `action` with `manager` for the binary at `binary`. Command output
/// goes to the terminal (stderr), except `status`, which prints on stdout.
pub fn execute(
    manager: Manager,
    action: Action,
    binary: &std::path::Path,
    ctx: &crate::context::Context,
) -> anyhow::Result<Report> {
    let home = ctx.paths.home.clone();
    let user_file = service_file(manager, ctx);
    let packaged = packaged_unit(manager, binary, std::path::Path::exists);
    let (file, plan): (PathBuf, Plan) = match &packaged {
        Some(unit) => {
            let own_copy = std::fs::read_to_string(&user_file)
                .is_ok_and(|text| written_by_credbroker(&text))
                .then_some(user_file.as_path());
            (unit.clone(), packaged_plan(action, own_copy))
        }
        None => {
            let contents = manager.render(binary, &home);
            let plan = plan_for(manager, action, &user_file, contents, uid());
            (user_file.clone(), plan)
        }
    };
    let mut report = Report {
        file: file.clone(),
        unavailable: availability(manager, &ctx.env).err(),
        packaged: packaged.is_some(),
        ..Report::default()
    };
    if action == Action::Restart {
        if let Some(reason) = &report.unavailable {
            anyhow::bail!("cannot restart the service: {reason}");
        }
    }

    let run_steps = |steps: &[super::Step], report: &mut Report| -> anyhow::Result<()> {
        for step in steps {
            if report.unavailable.is_some() {
                report.manual.push(step.shell_line());
                continue;
            }
            let mut cmd = Command::new(&step.program);
            cmd.args(&step.args).stdin(Stdio::null());
            if action != Action::Status {
                // Keep stdout for machine-readable output.
                cmd.stdout(Stdio::null());
            }
            let ok = cmd
                .status()
                .with_context(|| format!("cannot run {}", step.program))?
                .success();
            report.ran.push((step.shell_line(), ok));
            if !ok && !step.may_fail {
                anyhow::bail!("`{}` failed; see the message above", step.shell_line());
            }
        }
        Ok(())
    };

    if let Some((path, contents)) = &plan.write {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        if manager == Manager::Launchd {
            // launchd opens the log file but does not create its directory.
            let _ = std::fs::create_dir_all(home.join("Library/Logs/credbroker"));
        }
        write_file(path, contents)?;
    }
    run_steps(&plan.before_remove, &mut report)?;
    if let Some(path) = &plan.remove {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", path.display())),
        }
    }
    run_steps(&plan.commands, &mut report)?;
    report.installed = file.exists();
    Ok(report)
}

/// Service files are not secret: 0644 like the ones a package installs,
/// written through a temp file and a rename.
fn write_file(path: &std::path::Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or_else(|| std::path::Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".credbroker-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(contents.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
