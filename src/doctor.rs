//! `credbroker doctor`: why credentials do not reach a tool, found from
//! facts and told with the fix.
//!
//! The command gathers the facts (the status report, the environment, the
//! AWS config and credentials files, the IdP's clock); this module turns
//! them into checks, each `ok`, a `warning` or an `error` with what to do.
//! Pure: every fact comes in as a value, so each finding is tested on its
//! own.

use crate::config::AwsConfig;
use crate::status::StatusReport;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warning,
    Error,
}

/// One check: what was looked at, how it came out, and what to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub level: Level,
    pub message: String,
    /// What to do; empty when all is well.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fix: String,
}

fn check(
    name: &'static str,
    level: Level,
    message: impl Into<String>,
    fix: impl Into<String>,
) -> Check {
    Check {
        check: name,
        level,
        message: message.into(),
        fix: fix.into(),
    }
}

/// IAM Identity Center's clock (its `Date` header) and ours when it
/// answered, or why it could not be asked.
pub type IdpClock = Result<(DateTime<Utc>, DateTime<Utc>), String>;

/// What `doctor` looked at.
#[derive(Debug, Default)]
pub struct Facts {
    pub status: Option<StatusReport>,
    /// The endpoint's answer to a request with the daemon's token, when a
    /// daemon runs: `Ok(status)` or why it could not be asked.
    pub endpoint_answer: Option<Result<u16, String>>,
    /// The parsed AWS config, when it parses.
    pub config: Option<AwsConfig>,
    /// Environment variables that matter, by name.
    pub env: Vec<(String, String)>,
    /// The text of the shared credentials file, if there is one.
    pub credentials_file: Option<(std::path::PathBuf, String)>,
    /// The IdP's `Date` against ours: (theirs, ours), per session region.
    pub idp_clock: Vec<(String, IdpClock)>,
}

impl Facts {
    fn env(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// Every check, in the order a person would fix things.
pub fn diagnose(facts: &Facts) -> Vec<Check> {
    let mut checks = Vec::new();
    if let Some(status) = &facts.status {
        checks.push(keychain(status));
        checks.push(daemon(status, facts.endpoint_answer.as_ref()));
        checks.push(service(status));
        checks.push(config(status));
        checks.extend(sessions(status));
    }
    checks.extend(clock(&facts.idp_clock));
    checks.extend(shadowing(facts));
    if let Some(config) = &facts.config {
        checks.extend(read_differently(config));
    }
    checks
}

fn keychain(status: &StatusReport) -> Check {
    match &status.keychain_error {
        None => check("keychain", Level::Ok, "the OS keychain answers", ""),
        Some(e) => check(
            "keychain",
            Level::Error,
            format!("the OS keychain does not answer: {e}"),
            "start and unlock a Secret Service (gnome-keyring, KeePassXC) in this desktop session; see docs/getting-started.md",
        ),
    }
}

fn daemon(status: &StatusReport, answer: Option<&Result<u16, String>>) -> Check {
    let Some(endpoint) = status.endpoint.as_deref().filter(|_| status.daemon.running) else {
        return check(
            "daemon",
            Level::Warning,
            "no daemon is running: credential_process works, the endpoint (env, exec, Terraform) does not",
            "start it: `credbroker service install` (at every login) or `credbroker daemon &`",
        );
    };
    match answer {
        Some(Ok(404 | 200)) | None => check(
            "daemon",
            Level::Ok,
            format!("the daemon runs, and its socket and endpoint {endpoint} answer"),
            "",
        ),
        Some(Ok(401)) => check(
            "daemon",
            Level::Error,
            format!("the endpoint {endpoint} refuses the token in the runtime directory"),
            "restart the daemon (`credbroker service restart`), then `eval \"$(credbroker env --profile P)\"` again",
        ),
        Some(Ok(code)) => check(
            "daemon",
            Level::Error,
            format!("the endpoint {endpoint} answered HTTP {code} to a plain request"),
            "look at the daemon's log (`journalctl --user -u credbroker`)",
        ),
        Some(Err(e)) => check(
            "daemon",
            Level::Error,
            format!("the daemon answers on its socket, but its endpoint {endpoint} does not: {e}"),
            "restart the daemon (`credbroker service restart`)",
        ),
    }
}

fn service(status: &StatusReport) -> Check {
    match (
        status.service.manager.as_str(),
        status.service.state.as_str(),
    ) {
        (_, "active") => check("service", Level::Ok, "the background service is active", ""),
        (_, "not-installed") => check(
            "service",
            Level::Warning,
            "the background service is not installed, so no daemon starts at login",
            "`credbroker service install`",
        ),
        ("none", _) => check(
            "service",
            Level::Ok,
            "no supported service manager here (macOS launchd is not asked; containers have none)",
            "",
        ),
        (_, state) => check(
            "service",
            Level::Warning,
            format!("the background service is {state}"),
            "`credbroker service restart`; `journalctl --user -u credbroker` says why it stopped",
        ),
    }
}

fn config(status: &StatusReport) -> Check {
    let path = status.config.path.display();
    match (&status.config.error, status.config.exists) {
        (Some(e), _) => check(
            "config",
            Level::Error,
            format!("{path} does not parse: {e}"),
            "fix the line named; a running daemon serves the last good version meanwhile",
        ),
        (None, false) => check(
            "config",
            Level::Error,
            format!("{path} does not exist, so no profile can be served"),
            "`credbroker onboard` writes it, or point AWS_CONFIG_FILE at yours",
        ),
        (None, true) => check("config", Level::Ok, format!("{path} parses"), ""),
    }
}

fn sessions(status: &StatusReport) -> Vec<Check> {
    if status.sessions.is_empty() && status.keychain_error.is_none() {
        return vec![check(
            "sessions",
            Level::Warning,
            "no session is signed in",
            "`credbroker login`",
        )];
    }
    status
        .sessions
        .iter()
        .map(|s| {
            let dead = status.needs_login.iter().find(|n| n.session == s.name);
            match (dead, s.expired, s.refreshable) {
                (Some(n), _, _) => check(
                    "sessions",
                    Level::Error,
                    format!("session '{}' can no longer be renewed: {}", s.name, n.reason),
                    format!("`{}`", n.command),
                ),
                (None, true, false) => check(
                    "sessions",
                    Level::Error,
                    format!("session '{}' expired and holds no refresh token", s.name),
                    format!("`credbroker login --sso-session {}`", s.name),
                ),
                (None, _, true) => check(
                    "sessions",
                    Level::Ok,
                    format!("session '{}' is signed in and renews itself", s.name),
                    "",
                ),
                (None, false, false) => check(
                    "sessions",
                    Level::Warning,
                    format!("session '{}' is valid but cannot renew itself (no refresh token)", s.name),
                    "add `sso_registration_scopes = sso:account:access` to its [sso-session], then sign in again",
                ),
            }
        })
        .collect()
}

/// Skew over this is a warning; over [`SKEW_ERROR`] an error (SigV4 and
/// token expiry checks start failing around five minutes).
pub const SKEW_WARNING: Duration = Duration::seconds(30);
pub const SKEW_ERROR: Duration = Duration::minutes(4);

fn clock(answers: &[(String, IdpClock)]) -> Vec<Check> {
    answers
        .iter()
        .map(|(region, answer)| match answer {
            Err(e) => check(
                "clock",
                Level::Warning,
                format!("could not ask IAM Identity Center in {region} for the time: {e}"),
                "check the network and any AWS_ENDPOINT_URL* variables",
            ),
            Ok((theirs, ours)) => {
                let skew = (*ours - *theirs).abs();
                let text = format!(
                    "this machine's clock is {}s {} IAM Identity Center's ({region})",
                    skew.num_seconds(),
                    if ours > theirs { "ahead of" } else { "behind" }
                );
                if skew > SKEW_ERROR {
                    check(
                        "clock",
                        Level::Error,
                        text,
                        "set the clock right (enable NTP: `timedatectl set-ntp true`)",
                    )
                } else if skew > SKEW_WARNING {
                    check(
                        "clock",
                        Level::Warning,
                        text,
                        "enable NTP (`timedatectl set-ntp true`)",
                    )
                } else {
                    check("clock", Level::Ok, text, "")
                }
            }
        })
        .collect()
}

/// Environment and files that would win over credbroker in the SDKs.
fn shadowing(facts: &Facts) -> Vec<Check> {
    let mut out = Vec::new();
    if facts.env("AWS_ACCESS_KEY_ID").is_some() {
        out.push(check(
            "environment",
            Level::Error,
            "AWS_ACCESS_KEY_ID is exported: every SDK uses those keys before credbroker's",
            "`unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN` (and remove the export from your shell's rc file)",
        ));
    }
    if facts
        .env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .is_some()
    {
        out.push(check(
            "environment",
            Level::Error,
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is set: Python, Rust and JS SDKs prefer it over credbroker's FULL_URI",
            "`unset AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (credbroker env and exec do this for you)",
        ));
    }
    if let (Some(name), Some(config)) = (facts.env("AWS_PROFILE"), &facts.config) {
        if let Some(p) = config.profiles.get(name) {
            let sso = ["sso_session", "sso_start_url", "sso_account_id"]
                .iter()
                .any(|k| p.settings.contains_key(*k));
            if sso && !p.settings.contains_key("credential_process") {
                out.push(check(
                    "environment",
                    Level::Warning,
                    format!("AWS_PROFILE={name} is a plain SSO profile: the SDKs sign in for it themselves and never ask credbroker"),
                    format!("use `credbroker exec --profile {name} -- ...`, or give the profile `credential_process = credbroker credential-process --profile {name}` with credbroker_-prefixed keys (docs/getting-started.md)"),
                ));
            }
        }
    }
    if let Some((path, text)) = &facts.credentials_file {
        if default_has_static_keys(text) {
            out.push(check(
                "environment",
                Level::Error,
                format!("[default] in {} holds static keys: most SDKs use them before the container endpoint", path.display()),
                format!("remove aws_access_key_id and aws_secret_access_key from [default] in {}", path.display()),
            ));
        }
    }
    if out.is_empty() {
        out.push(check(
            "environment",
            Level::Ok,
            "nothing in the environment or ~/.aws/credentials shadows credbroker",
            "",
        ));
    }
    out
}

/// Whether the `[default]` section of a shared credentials file sets keys.
pub fn default_has_static_keys(text: &str) -> bool {
    let mut in_default = false;
    for line in text.lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            in_default = header.split(']').next().map(str::trim) == Some("default");
        } else if in_default {
            let key = line.split(['=', ' ', '\t']).next().unwrap_or("");
            if key.eq_ignore_ascii_case("aws_access_key_id") {
                return true;
            }
        }
    }
    false
}

/// Profiles the AWS CLI would read differently from credbroker.
fn read_differently(config: &AwsConfig) -> Vec<Check> {
    let mut out = Vec::new();
    for (name, p) in &config.profiles {
        let Some(process) = p.settings.get("credential_process") else {
            continue;
        };
        if !process.contains("credbroker") {
            continue;
        }
        let sso_keys: Vec<&str> = [
            "sso_session",
            "sso_start_url",
            "sso_account_id",
            "sso_role_name",
        ]
        .into_iter()
        .filter(|k| p.settings.contains_key(*k))
        .collect();
        if !sso_keys.is_empty() {
            out.push(check(
                "profiles",
                Level::Error,
                format!("profile '{name}' has credential_process and {}: the AWS CLI and SDKs sign in with SSO themselves and never run credbroker", sso_keys.join(", ")),
                format!("in profile '{name}', rename them with the credbroker_ prefix (e.g. credbroker_{})", sso_keys[0]),
            ));
        }
        let asked = process
            .split_whitespace()
            .skip_while(|w| *w != "--profile")
            .nth(1);
        if let Some(other) = asked.filter(|a| *a != name) {
            out.push(check(
                "profiles",
                Level::Warning,
                format!("profile '{name}' runs credential-process for profile '{other}': the AWS CLI gets {other}'s credentials under {name}'s name"),
                format!("write `--profile {name}` in its credential_process, unless that is meant"),
            ));
        }
    }
    if out.is_empty() {
        out.push(check(
            "profiles",
            Level::Ok,
            "every profile reads the same to the AWS CLI as to credbroker",
            "",
        ));
    }
    out
}

/// The exit status: non-zero when any check is an error.
pub fn exit_code(checks: &[Check]) -> i32 {
    i32::from(checks.iter().any(|c| c.level == Level::Error))
}

/// The checks as the person reads them.
pub fn render(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        let mark = match c.level {
            Level::Ok => "ok  ",
            Level::Warning => "warn",
            Level::Error => "FAIL",
        };
        out.push_str(&format!("{mark}  {:<12} {}\n", c.check, c.message));
        if !c.fix.is_empty() {
            out.push_str(&format!("      {:<12} fix: {}\n", "", c.fix));
        }
    }
    let errors = checks.iter().filter(|c| c.level == Level::Error).count();
    let warnings = checks.iter().filter(|c| c.level == Level::Warning).count();
    out.push_str(&format!("\n{errors} error(s), {warnings} warning(s)\n"));
    out
}

#[cfg(test)]
mod tests;
