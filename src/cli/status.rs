//! `credbroker status [--json]`: what is signed in, what the daemon holds,
//! and what went wrong last.
//!
//! First the daemon is asked over its Unix socket (roles held, the config
//! file it uses and its last reload error, the last upstream error); then
//! the keychain lists the sessions; finally the service manager is asked
//! about the service. Each part that cannot be had is reported as such
//! rather than failing the command, so `status` is useful exactly when
//! something is broken. With no daemon running, the config file is parsed
//! here to report a syntax error.

use crate::config::AwsConfig;
use crate::control::client::{self, ClientError};
use crate::status::{self, ConfigState, DaemonState, ServiceState, SessionState, StatusReport};
use std::time::Duration;

/// How long the service manager gets to answer.
const SERVICE_QUERY_TIMEOUT: Duration = Duration::from_secs(3);
/// The systemd user unit `credbroker service install` writes.
const SYSTEMD_UNIT: &str = "credbroker.service";

#[derive(clap::Args, Debug)]
#[command(after_help = "\
The JSON form is stable; its fields are listed in docs/status.md.")]
pub struct Args {
    /// Print the report as one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: Args, ctx: &crate::context::Context) -> anyhow::Result<()> {
    let report = gather(ctx).await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", status::render(&report, ctx.clock.now()));
    }
    Ok(())
}

/// Collect every part of the report; no part's failure stops the others.
pub async fn gather(ctx: &crate::context::Context) -> StatusReport {
    let socket = crate::control::socket_path(&ctx.paths);
    let (daemon, service, sessions) =
        tokio::join!(client::status(&socket), service_state(), sessions(ctx));
    let daemon = match daemon {
        Ok(Ok(status)) => Some(status),
        Ok(Err(error)) => {
            tracing::warn!(code = %error.code, message = %error.message, "the daemon refused the status request");
            None
        }
        Err(ClientError::NoDaemon { .. }) => None,
        Err(error) => {
            tracing::warn!(%error, "cannot read the daemon's status");
            None
        }
    };
    let (mut sessions, keychain_error) = match sessions {
        Ok(sessions) => (sessions, None),
        Err(error) => (Vec::new(), Some(error)),
    };
    // A session whose refresh the daemon saw fail for good does not renew,
    // though its refresh token is still in the keychain.
    if let Some(d) = &daemon {
        for s in &mut sessions {
            if d.needs_login.iter().any(|n| n.session == s.name) {
                s.refreshable = false;
            }
        }
    }
    let config = match &daemon {
        Some(d) => ConfigState {
            exists: d.config_path.exists(),
            path: d.config_path.clone(),
            error: d.config_error.clone(),
        },
        None => {
            let path = ctx.paths.aws_config_file.clone();
            let error = AwsConfig::load(&path).err().map(|e| e.to_string());
            ConfigState {
                exists: path.exists(),
                path,
                error,
            }
        }
    };
    let mut report = StatusReport {
        format: status::FORMAT,
        daemon: DaemonState {
            running: daemon.is_some(),
            pid: daemon.as_ref().map(|d| d.pid),
            socket,
        },
        endpoint: daemon.as_ref().map(|d| d.endpoint.clone()),
        service,
        config,
        sessions,
        keychain_error,
        roles: daemon.as_ref().map(|d| d.roles.clone()).unwrap_or_default(),
        needs_login: daemon
            .as_ref()
            .map(|d| d.needs_login.clone())
            .unwrap_or_default(),
        last_upstream_error: daemon.and_then(|d| d.last_upstream_error),
    };
    status::to_whole_seconds(&mut report);
    report
}

/// Every session with a token in the keychain; no token leaves this function.
async fn sessions(ctx: &crate::context::Context) -> Result<Vec<SessionState>, String> {
    let vault = crate::store::open_keychain(ctx.keychain_service())
        .await
        .map_err(|e| e.to_string())?;
    let now = ctx.clock.now();
    let mut sessions = Vec::new();
    for name in vault.sessions().await.map_err(|e| e.to_string())? {
        // An index entry whose token is gone (logged out elsewhere) is skipped.
        if let Some(token) = vault.sso_token(&name).await.map_err(|e| e.to_string())? {
            // A refresh needs the client registration it was issued to.
            let registered = match &token.registration_key {
                Some(key) => vault
                    .registration(key)
                    .await
                    .map_err(|e| e.to_string())?
                    .is_some_and(|r| r.expires_at > now),
                None => true,
            };
            sessions.push(SessionState {
                name,
                start_url: token.start_url.clone(),
                region: token.region.clone(),
                expires_at: token.expires_at,
                expired: token.expires_at <= now,
                refreshable: token.refresh_token.is_some() && registered,
            });
        }
    }
    Ok(sessions)
}

/// The service's state from `systemctl --user`, or `unknown` where there is
/// no systemd user manager to ask (macOS, containers).
async fn service_state() -> ServiceState {
    let unknown = ServiceState {
        manager: "none".into(),
        state: "unknown".into(),
    };
    if !cfg!(target_os = "linux") {
        return unknown;
    }
    let query = tokio::process::Command::new("systemctl")
        .args(["--user", "show", SYSTEMD_UNIT])
        .args(["--property=LoadState", "--property=ActiveState"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(SERVICE_QUERY_TIMEOUT, query).await {
        Ok(Ok(out)) if out.status.success() => {
            status::parse_systemctl_show(&String::from_utf8_lossy(&out.stdout))
        }
        _ => unknown,
    }
}
