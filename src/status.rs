//! What `credbroker status` reports, and how it reads (pure: the command
//! in [`crate::cli::status`] gathers the facts).
//!
//! [`StatusReport`] is the JSON form, documented field by field in
//! docs/status.md; its `format` number changes only when a field changes
//! meaning or disappears (new fields may be added). [`render`] is the human
//! form: a few labelled lines, then one table of sessions and one of roles.
//! No secret ever enters a report: sessions carry their start URL and
//! expiry, never a token.

use crate::control::protocol::{HeldRoleStatus, NeedsLoginStatus, UpstreamErrorStatus};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;

/// The version of the JSON layout.
pub const FORMAT: u32 = 1;

/// Everything `credbroker status` knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    pub format: u32,
    pub daemon: DaemonState,
    /// The container-credentials URL base of the running daemon.
    pub endpoint: Option<String>,
    pub service: ServiceState,
    pub config: ConfigState,
    pub sessions: Vec<SessionState>,
    /// Why sessions could not be listed (no keychain), if they could not.
    pub keychain_error: Option<String>,
    /// Roles the running daemon holds credentials for.
    pub roles: Vec<HeldRoleStatus>,
    /// Sessions the daemon could not renew: sign in again.
    pub needs_login: Vec<NeedsLoginStatus>,
    pub last_upstream_error: Option<UpstreamErrorStatus>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DaemonState {
    pub running: bool,
    pub pid: Option<u32>,
    pub socket: PathBuf,
}

/// The background service as the service manager sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceState {
    /// `systemd`, or `none` where no supported manager answered.
    pub manager: String,
    /// `active`, `inactive`, `failed`, `activating`, ..., `not-installed`, or `unknown`.
    pub state: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigState {
    pub path: PathBuf,
    /// Whether the file exists (a missing file parses as no profiles).
    pub exists: bool,
    /// Why the file is not in use; a running daemon serves its last good version.
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionState {
    /// The sso-session name (the start URL for a legacy profile).
    pub name: String,
    pub start_url: String,
    pub region: String,
    pub expires_at: DateTime<Utc>,
    pub expired: bool,
    /// Whether it holds a refresh token, so it renews without a sign-in.
    pub refreshable: bool,
}

/// Every time in `report` to the whole second, as the rest of credbroker
/// writes times: the daemon's own clock has nanoseconds, the portal's
/// expiry milliseconds, and one report should not mix them.
pub fn to_whole_seconds(report: &mut StatusReport) {
    use chrono::SubsecRound as _;
    let whole = |t: &mut DateTime<Utc>| *t = t.trunc_subsecs(0);
    report
        .sessions
        .iter_mut()
        .for_each(|s| whole(&mut s.expires_at));
    for role in &mut report.roles {
        whole(&mut role.expiration);
        whole(&mut role.renew_at);
    }
    report
        .needs_login
        .iter_mut()
        .for_each(|n| whole(&mut n.since));
    if let Some(e) = &mut report.last_upstream_error {
        whole(&mut e.at);
    }
}

/// The service state from `systemctl --user show credbroker.service
/// --property=LoadState --property=ActiveState` output.
pub fn parse_systemctl_show(output: &str) -> ServiceState {
    let value = |key: &str| {
        output
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let state = match (value("LoadState"), value("ActiveState")) {
        (Some("not-found"), _) => "not-installed",
        (Some(_), Some(active)) => active,
        _ => "unknown",
    };
    ServiceState {
        manager: "systemd".into(),
        state: state.into(),
    }
}

/// "in 3h 12m", "in 45s", "2m ago": how far `t` is from `now`.
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (t - now).num_seconds();
    let span = seconds.unsigned_abs();
    let text = match span {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    };
    if seconds >= 0 {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

fn time(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("{} ({})", crate::model::format_time(t), relative(t, now))
}

/// Left-aligned columns, two spaces apart, indented by two.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::from(" ");
        for (w, cell) in widths.iter().zip(row) {
            let _ = write!(line, " {cell:<w$} ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The human form of a report.
pub fn render(report: &StatusReport, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let daemon = match report.daemon.pid {
        Some(pid) if report.daemon.running => format!("running (pid {pid})"),
        _ if report.daemon.running => "running".to_string(),
        _ => "not running (credential-process resolves in-process; start it with `credbroker daemon`)".to_string(),
    };
    let _ = writeln!(out, "Daemon    {daemon}");
    let endpoint = match &report.endpoint {
        Some(base) => format!("{base}/v1/credentials/<profile>"),
        None => "none (the daemon is not running)".to_string(),
    };
    let _ = writeln!(out, "Endpoint  {endpoint}");
    let _ = writeln!(
        out,
        "Service   {} ({})",
        report.service.state, report.service.manager
    );
    let _ = writeln!(out, "Config    {}", report.config.path.display());
    match &report.config.error {
        Some(error) if report.daemon.running => {
            let _ = writeln!(
                out,
                "          error: {error} (the daemon serves the last good configuration)"
            );
        }
        Some(error) => {
            let _ = writeln!(out, "          error: {error}");
        }
        None if !report.config.exists => out.push_str(
            "          missing: no profiles to serve; create it with `credbroker onboard`, or point AWS_CONFIG_FILE at yours\n",
        ),
        None => out.push_str("          ok\n"),
    }
    match &report.last_upstream_error {
        Some(e) => {
            let _ = writeln!(out, "Upstream  {}: {}", time(e.at, now), e.message);
        }
        None if report.daemon.running => out.push_str("Upstream  no errors\n"),
        None => out.push_str("Upstream  unknown (the daemon is not running)\n"),
    }

    out.push_str("\nSessions\n");
    if let Some(error) = &report.keychain_error {
        let _ = writeln!(out, "  cannot read the keychain: {error}");
    } else if report.sessions.is_empty() {
        out.push_str("  none: sign in with `credbroker login`\n");
    } else {
        let rows: Vec<Vec<String>> = report
            .sessions
            .iter()
            .map(|s| {
                vec![
                    s.name.clone(),
                    s.start_url.clone(),
                    if s.expired {
                        format!("{} (expired)", crate::model::format_time(s.expires_at))
                    } else {
                        time(s.expires_at, now)
                    },
                    if s.refreshable { "yes" } else { "no" }.to_string(),
                ]
            })
            .collect();
        out.push_str(&table(
            &["NAME", "START URL", "EXPIRES", "REFRESHABLE"],
            &rows,
        ));
    }
    for n in &report.needs_login {
        let _ = writeln!(out, "  ! {}: {}; run `{}`", n.session, n.reason, n.command);
    }

    out.push_str("\nRoles held by the daemon\n");
    if report.roles.is_empty() {
        out.push_str("  none\n");
    } else {
        let rows: Vec<Vec<String>> = report
            .roles
            .iter()
            .map(|r| {
                vec![
                    r.session.clone(),
                    r.account_id.clone(),
                    r.role_name.clone(),
                    r.via.clone().unwrap_or_else(|| "-".into()),
                    time(r.expiration, now),
                    time(r.renew_at, now),
                ]
            })
            .collect();
        out.push_str(&table(
            &["SESSION", "ACCOUNT", "ROLE", "VIA", "EXPIRES", "RENEWS"],
            &rows,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, h, m, 0).unwrap()
    }

    fn report() -> StatusReport {
        StatusReport {
            format: FORMAT,
            daemon: DaemonState {
                running: true,
                pid: Some(42),
                socket: "/run/user/1000/credbroker/daemon.sock".into(),
            },
            endpoint: Some("http://127.0.0.1:9911".into()),
            service: ServiceState {
                manager: "systemd".into(),
                state: "active".into(),
            },
            config: ConfigState {
                path: "/home/u/.aws/config".into(),
                exists: true,
                error: Some("/home/u/.aws/config:3: expected a section".into()),
            },
            sessions: vec![SessionState {
                name: "corp".into(),
                start_url: "https://corp.awsapps.com/start".into(),
                region: "us-east-1".into(),
                expires_at: at(18, 0),
                expired: false,
                refreshable: true,
            }],
            keychain_error: None,
            roles: vec![HeldRoleStatus {
                kind: "sso-role".into(),
                session: "corp".into(),
                account_id: "111111111111".into(),
                role_name: "ReadOnly".into(),
                role_arn: None,
                via: None,
                expiration: at(11, 0),
                renew_at: at(10, 37) + chrono::Duration::seconds(30),
            }],
            needs_login: vec![],
            last_upstream_error: None,
        }
    }

    #[test]
    fn systemctl_states() {
        let s = parse_systemctl_show("LoadState=loaded\nActiveState=active\n");
        assert_eq!(s.state, "active");
        let s = parse_systemctl_show("LoadState=not-found\nActiveState=inactive\n");
        assert_eq!(s.state, "not-installed");
        let s = parse_systemctl_show("ActiveState=failed\nLoadState=loaded\n");
        assert_eq!(s.state, "failed");
        assert_eq!(parse_systemctl_show("").state, "unknown");
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative(at(11, 0), at(10, 0)), "in 1h 0m");
        assert_eq!(relative(at(10, 5), at(10, 0)), "in 5m");
        assert_eq!(relative(at(10, 0), at(10, 2)), "2m ago");
        assert_eq!(
            relative(at(10, 0) + chrono::Duration::days(2), at(10, 0)),
            "in 2d 0h"
        );
    }

    #[test]
    fn human_form_shows_every_part_in_aligned_tables() {
        let text = render(&report(), at(10, 0));
        for expected in [
            "Daemon    running (pid 42)",
            "Endpoint  http://127.0.0.1:9911/v1/credentials/<profile>",
            "Service   active (systemd)",
            "error: /home/u/.aws/config:3: expected a section",
            "Upstream  no errors",
            "2026-05-01T18:00:00Z (in 8h 0m)",
            "2026-05-01T10:37:30Z (in 37m)",
            "error: /home/u/.aws/config:3: expected a section (the daemon serves the last good configuration)",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from\n{text}");
        }
        let header = text.lines().find(|l| l.contains("START URL")).unwrap();
        let row = text.lines().find(|l| l.contains("corp.awsapps")).unwrap();
        assert_eq!(header.find("START URL"), row.find("https://"));
        assert_eq!(header.find("REFRESHABLE"), row.find("yes"));
    }

    #[test]
    fn human_form_when_nothing_runs() {
        let mut r = report();
        r.daemon.running = false;
        r.daemon.pid = None;
        r.endpoint = None;
        r.roles.clear();
        r.config.error = None;
        r.keychain_error = Some("no Secret Service".into());
        let text = render(&r, at(10, 0));
        assert!(text.contains("Daemon    not running"), "{text}");
        assert!(text.contains("cannot read the keychain: no Secret Service"));
        assert!(text.contains("Roles held by the daemon\n  none"));
        assert!(
            text.contains("Config    /home/u/.aws/config\n          ok\n"),
            "{text}"
        );
    }

    #[test]
    fn with_no_daemon_a_bad_config_is_not_said_to_be_served() {
        let mut r = report();
        r.daemon.running = false;
        r.daemon.pid = None;
        let text = render(&r, at(10, 0));
        assert!(
            text.contains("error: /home/u/.aws/config:3: expected a section\n"),
            "{text}"
        );
        assert!(!text.contains("last good"), "{text}");
    }

    #[test]
    fn a_missing_config_file_is_not_ok() {
        let mut r = report();
        r.config.error = None;
        r.config.exists = false;
        let text = render(&r, at(10, 0));
        assert!(text.contains("missing: no profiles to serve"), "{text}");
        assert!(!text.contains("          ok"), "{text}");
    }

    #[test]
    fn every_time_is_to_the_whole_second() {
        let mut r = report();
        r.sessions[0].expires_at += chrono::Duration::milliseconds(250);
        r.roles[0].expiration += chrono::Duration::nanoseconds(123_456_789);
        r.needs_login.push(NeedsLoginStatus {
            session: "corp".into(),
            reason: "refresh token expired".into(),
            command: "credbroker login --sso-session corp".into(),
            since: at(9, 0) + chrono::Duration::nanoseconds(987_654_321),
        });
        r.last_upstream_error = Some(UpstreamErrorStatus {
            at: at(9, 30) + chrono::Duration::microseconds(5),
            message: "throttled".into(),
        });
        to_whole_seconds(&mut r);
        let json = serde_json::to_string(&r).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["needs_login"][0]["since"], "2026-05-01T09:00:00Z");
        assert_eq!(v["last_upstream_error"]["at"], "2026-05-01T09:30:00Z");
        assert_eq!(v["roles"][0]["expiration"], "2026-05-01T11:00:00Z");
        assert_eq!(v["sessions"][0]["expires_at"], "2026-05-01T18:00:00Z");
    }

    #[test]
    fn json_form_has_the_documented_fields() {
        let v = serde_json::to_value(report()).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "config",
                "daemon",
                "endpoint",
                "format",
                "keychain_error",
                "last_upstream_error",
                "needs_login",
                "roles",
                "service",
                "sessions"
            ]
        );
        assert_eq!(v["sessions"][0]["expires_at"], "2026-05-01T18:00:00Z");
        assert_eq!(v["roles"][0]["renew_at"], "2026-05-01T10:37:30Z");
        assert_eq!(v["service"]["state"], "active");
    }
}
