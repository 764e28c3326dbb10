//! Running the daemon as a per-user service: a systemd user unit on Linux,
//! a LaunchAgent on macOS.
//!
//! The files installed are the ones in the repository (`systemd/`,
//! `launchd/`), embedded with `include_str!` and filled in at install time
//! with the path of the binary that runs the install (and, for launchd, the
//! home directory, since launchd expands neither `~` nor variables).
//!
//! Installed from a distribution package (the binary at [`PACKAGED_BINARY`]
//! and the package's unit at [`PACKAGED_UNIT`], see `scripts/package-deb.sh`),
//! `install` writes nothing: it enables the packaged unit, and removes a
//! copy an earlier `credbroker service install` wrote under
//! `~/.config/systemd/user/`, which would otherwise shadow it
//! ([`packaged_plan`]). `uninstall` then disables it and leaves the
//! package's file to the package manager.
//!
//! Each action is first a pure plan ([`Plan`]): the file to write or remove
//! and the `systemctl --user` / `launchctl` commands to run. [`run`] carries
//! a plan out; when no user service manager is reachable (a container, an
//! SSH session without lingering, no `XDG_RUNTIME_DIR`), it writes the file
//! but prints the same commands for the person to run later instead of
//! failing, and says why.

pub mod run;

use std::path::{Path, PathBuf};

/// The systemd user unit, as committed.
pub const SYSTEMD_UNIT: &str = include_str!("../../systemd/credbroker.service");
/// The LaunchAgent property list, as committed.
pub const LAUNCHD_PLIST: &str = include_str!("../../launchd/com.credbroker.daemon.plist");

pub const UNIT_NAME: &str = "credbroker.service";
pub const LAUNCHD_LABEL: &str = "com.credbroker.daemon";

/// Where the Debian package puts the binary, and its user unit (the
/// committed unit with `ExecStart=/usr/bin/credbroker daemon`).
pub const PACKAGED_BINARY: &str = "/usr/bin/credbroker";
pub const PACKAGED_UNIT: &str = "/usr/lib/systemd/user/credbroker.service";

/// The first line of the committed unit: tells a unit credbroker wrote
/// from one a person wrote.
const UNIT_HEADER: &str = "# credbroker: per-user AWS credential broker (user unit).";

/// The binary path the committed unit names; replaced at install time.
const UNIT_BINARY: &str = "%h/.cargo/bin/credbroker";
/// The binary path and home directory the committed plist names.
const PLIST_BINARY: &str = "/usr/local/bin/credbroker";
const PLIST_HOME: &str = "/Users/USER";

/// Which service manager this platform has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manager {
    Systemd,
    Launchd,
}

impl Manager {
    /// The manager of the platform this binary was built for.
    pub fn native() -> Option<Manager> {
        if cfg!(target_os = "macos") {
            Some(Manager::Launchd)
        } else if cfg!(target_os = "linux") {
            Some(Manager::Systemd)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Manager::Systemd => "systemd (user)",
            Manager::Launchd => "launchd",
        }
    }

    /// Where the service file goes: `$XDG_CONFIG_HOME/systemd/user/` (or
    /// `~/.config/systemd/user/`), or `~/Library/LaunchAgents/`.
    pub fn service_file(self, home: &Path, xdg_config_home: Option<&Path>) -> PathBuf {
        match self {
            Manager::Systemd => xdg_config_home
                .map(Path::to_path_buf)
                .unwrap_or_else(|| home.join(".config"))
                .join("systemd/user")
                .join(UNIT_NAME),
            Manager::Launchd => home
                .join("Library/LaunchAgents")
                .join(format!("{LAUNCHD_LABEL}.plist")),
        }
    }

    /// The service file's text for `binary` and `home`.
    pub fn render(self, binary: &Path, home: &Path) -> String {
        match self {
            Manager::Systemd => render_unit(binary),
            Manager::Launchd => render_plist(binary, home),
        }
    }
}

/// The unit with `ExecStart` naming `binary` (quoted and `%`-escaped as
/// systemd requires).
pub fn render_unit(binary: &Path) -> String {
    let path = binary
        .display()
        .to_string()
        .replace('%', "%%")
        .replace('$', "$$");
    let word = if path.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\') {
        format!("\"{}\"", path.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        path
    };
    SYSTEMD_UNIT.replace(
        &format!("ExecStart={UNIT_BINARY} daemon"),
        &format!("ExecStart={word} daemon"),
    )
}

/// The plist with the binary and the log paths under `home`.
pub fn render_plist(binary: &Path, home: &Path) -> String {
    LAUNCHD_PLIST
        .replace(
            &format!("<string>{PLIST_BINARY}</string>"),
            &format!(
                "<string>{}</string>",
                xml_escape(&binary.display().to_string())
            ),
        )
        .replace(
            &format!("<string>{PLIST_HOME}/"),
            &format!("<string>{}/", xml_escape(&home.display().to_string())),
        )
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// What the person asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Install,
    Uninstall,
    Status,
    Restart,
}

/// One command of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub program: String,
    pub args: Vec<String>,
    /// A failure is expected in some states (stopping what is not running).
    pub may_fail: bool,
}

impl Step {
    fn new(program: &str, args: &[&str], may_fail: bool) -> Step {
        Step {
            program: program.to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            may_fail,
        }
    }

    /// The step as a line to type into a shell.
    pub fn shell_line(&self) -> String {
        let mut words = vec![self.program.clone()];
        words.extend(self.args.iter().map(|a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        }));
        words.join(" ")
    }
}

/// An action spelled out: file changes, then commands, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub write: Option<(PathBuf, String)>,
    /// Commands to run before the file is removed.
    pub before_remove: Vec<Step>,
    pub remove: Option<PathBuf>,
    pub commands: Vec<Step>,
}

/// The plan for `action` with `manager`, the service file at `file`,
/// rendered as `contents` (for install) and the user's `uid` (launchd).
pub fn plan(manager: Manager, action: Action, file: &Path, contents: String, uid: u32) -> Plan {
    let file_str = file.display().to_string();
    let mut plan = Plan {
        write: None,
        before_remove: Vec::new(),
        remove: None,
        commands: Vec::new(),
    };
    let domain = format!("gui/{uid}");
    let target = format!("{domain}/{LAUNCHD_LABEL}");
    match (manager, action) {
        (Manager::Systemd, Action::Install) => {
            plan.write = Some((file.to_path_buf(), contents));
            plan.commands = vec![
                Step::new("systemctl", &["--user", "daemon-reload"], false),
                Step::new("systemctl", &["--user", "enable", UNIT_NAME], false),
                // Restart, not start: an upgraded binary or unit takes effect now.
                Step::new("systemctl", &["--user", "restart", UNIT_NAME], false),
            ];
        }
        (Manager::Systemd, Action::Uninstall) => {
            plan.before_remove = vec![Step::new(
                "systemctl",
                &["--user", "disable", "--now", UNIT_NAME],
                true,
            )];
            plan.remove = Some(file.to_path_buf());
            plan.commands = vec![
                Step::new("systemctl", &["--user", "daemon-reload"], false),
                Step::new("systemctl", &["--user", "reset-failed", UNIT_NAME], true),
            ];
        }
        (Manager::Systemd, Action::Status) => {
            plan.commands = vec![Step::new(
                "systemctl",
                &["--user", "status", "--no-pager", "--lines=5", UNIT_NAME],
                true,
            )];
        }
        (Manager::Systemd, Action::Restart) => {
            plan.commands = vec![Step::new(
                "systemctl",
                &["--user", "restart", UNIT_NAME],
                false,
            )];
        }
        (Manager::Launchd, Action::Install) => {
            plan.write = Some((file.to_path_buf(), contents));
            plan.commands = vec![
                // Unload an older copy first; bootstrap refuses a loaded label.
                Step::new("launchctl", &["bootout", &target], true),
                Step::new("launchctl", &["bootstrap", &domain, &file_str], false),
                Step::new("launchctl", &["enable", &target], false),
            ];
        }
        (Manager::Launchd, Action::Uninstall) => {
            plan.before_remove = vec![Step::new("launchctl", &["bootout", &target], true)];
            plan.remove = Some(file.to_path_buf());
        }
        (Manager::Launchd, Action::Status) => {
            plan.commands = vec![Step::new("launchctl", &["print", &target], true)];
        }
        (Manager::Launchd, Action::Restart) => {
            plan.commands = vec![Step::new("launchctl", &["kickstart", "-k", &target], false)];
        }
    }
    plan
}

/// The packaged unit to use for `binary`, when `binary` is the packaged one
/// and the package's unit is there (`exists` tells).
pub fn packaged_unit(
    manager: Manager,
    binary: &Path,
    exists: impl Fn(&Path) -> bool,
) -> Option<PathBuf> {
    let unit = Path::new(PACKAGED_UNIT);
    (manager == Manager::Systemd && binary == Path::new(PACKAGED_BINARY) && exists(unit))
        .then(|| unit.to_path_buf())
}

/// Whether a user unit file's text is one `credbroker service install`
/// wrote (so it may be replaced by the packaged unit).
pub fn written_by_credbroker(text: &str) -> bool {
    text.lines().next() == Some(UNIT_HEADER)
}

/// The plan for `action` with the packaged unit. `own_copy` is the user
/// unit file when it holds a copy credbroker wrote: systemd prefers it to
/// the package's, so it is disabled and removed first.
pub fn packaged_plan(action: Action, own_copy: Option<&Path>) -> Plan {
    let mut plan = plan(
        Manager::Systemd,
        action,
        Path::new(PACKAGED_UNIT),
        String::new(),
        0,
    );
    match action {
        Action::Install => {
            plan.write = None;
            if let Some(copy) = own_copy {
                plan.before_remove = vec![Step::new(
                    "systemctl",
                    &["--user", "disable", UNIT_NAME],
                    true,
                )];
                plan.remove = Some(copy.to_path_buf());
            }
        }
        // The package owns its file; only an old copy of ours goes.
        Action::Uninstall => plan.remove = own_copy.map(Path::to_path_buf),
        Action::Status | Action::Restart => {}
    }
    plan
}

/// What `systemctl --user is-system-running` printed says about the user
/// manager: usable when it is up, even if some other unit failed.
pub fn systemd_state_usable(printed: &str) -> bool {
    matches!(
        printed.trim(),
        "running" | "degraded" | "starting" | "initializing" | "maintenance"
    )
}

#[cfg(test)]
mod tests;
