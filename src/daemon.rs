//! The daemon: the broker served on the loopback endpoint until a signal.
//!
//! First the authorization token is read (or made, or rotated on request),
//! then the loopback address is bound, and only then is the endpoint file
//! written, so a reader of that file never finds an address nobody listens
//! on. The broker answers requests until SIGINT or SIGTERM; on the way out
//! the endpoint file is removed if it still names this daemon. The token
//! file stays: shells that ran `credbroker env` keep working across restarts.
//!
//! Beside the HTTP endpoint the daemon listens on a Unix socket
//! ([`crate::control`]: the fast path of `credential-process`, and `status`),
//! bound before the endpoint file is written and removed on the way out,
//! and it watches the AWS config file to reload it as soon as it changes
//! ([`config_watch`]).
//!
//! The endpoint file holds the URL base (`http://127.0.0.1:PORT`, no
//! newline); `credbroker env` and `exec` read it through [`endpoint_base`].

mod config_watch;
pub mod port_in_use;

use crate::server::{self, AuthToken};
use anyhow::Context as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How long a stopping daemon waits for the audit log's last records.
const AUDIT_FLUSH_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// What `credbroker daemon` needs.
#[derive(Debug)]
pub struct DaemonOptions {
    /// A loopback address; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Replace the token before serving (clients must re-read the token file).
    pub rotate_token: bool,
    pub vault: crate::store::Vault,
    /// The AWS config file the broker resolves profiles in.
    pub config_path: PathBuf,
    /// Write the AWS CLI's SSO token cache under this home directory after
    /// each token refresh (`--export-aws-cli-cache`; off when `None`).
    pub export_aws_cli_cache: Option<PathBuf>,
    /// Where the token, endpoint, socket and audit files go; the clock,
    /// environment, notifications and SDK clients.
    pub ctx: crate::context::Context,
}

/// Run the daemon until SIGINT or SIGTERM.
pub async fn run(options: DaemonOptions) -> anyhow::Result<()> {
    run_until(options, shutdown_signal()?).await
}

/// Run the daemon until `shutdown` completes (tests stop it this way).
pub async fn run_until(
    options: DaemonOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let ctx = &options.ctx;
    let token_path = ctx.paths.token_file();
    let token = if options.rotate_token {
        AuthToken::rotate(&token_path)?
    } else {
        AuthToken::load_or_create(&token_path)?
    };
    // Every vend is recorded (crate::audit); a daemon that cannot keep the
    // trail does not serve.
    let audit_path = crate::audit::audit_file(&ctx.paths);
    let (audit, audit_writer) = crate::audit::AuditTrail::open(&audit_path)
        .with_context(|| format!("cannot open the audit log {}", audit_path.display()))?;
    let socket_path = crate::control::socket_path(&ctx.paths);
    let listener = match server::bind_loopback(options.listen).await {
        Ok(listener) => listener,
        Err(server::ServeError::Bind { addr, source })
            if source.kind() == std::io::ErrorKind::AddrInUse =>
        {
            let holder = port_in_use::find_holder(addr, &socket_path).await;
            anyhow::bail!(
                "cannot listen on {addr}: {}",
                port_in_use::explain(addr, &holder)
            );
        }
        Err(e) => return Err(e.into()),
    };
    let base = url_base(listener.local_addr()?);
    let control = crate::control::server::bind(&socket_path)?;
    let endpoint_path = ctx.paths.endpoint_file();
    crate::paths::write_private_file(&endpoint_path, base.as_bytes())
        .with_context(|| format!("cannot write {}", endpoint_path.display()))?;

    let broker = crate::broker::Broker::new(options.vault, options.config_path, ctx);
    if let Some(home) = options.export_aws_cli_cache {
        broker.export_aws_cli_cache_to(home);
    }
    eprintln!("credbroker: serving credentials at {base}/v1/credentials/<profile>");
    tracing::info!(%base, token_file = %token_path.display(), "daemon listening");

    let broker = Arc::new(broker);
    // Background renewal runs as long as the server does.
    let (stop_renewal, renewal_stopped) = tokio::sync::oneshot::channel::<()>();
    let renewal = tokio::spawn(broker.clone().run_renewal(async {
        let _ = renewal_stopped.await;
    }));
    // Live reload and the Unix socket run as long as the HTTP endpoint does.
    let _config_watch = config_watch::watch_broker(&broker);
    let (stop_socket, socket_stopped) = tokio::sync::oneshot::channel::<()>();
    let socket = tokio::spawn(crate::control::server::serve(
        control,
        broker.clone(),
        base.clone(),
        Some(audit.clone()),
        async {
            let _ = socket_stopped.await;
        },
    ));
    let limits = server::ServerLimits::default();
    let served =
        server::serve_audited(listener, broker, token, limits, Some(audit), shutdown).await;
    let _ = stop_socket.send(());
    let _ = socket.await;
    let _ = stop_renewal.send(());
    let _ = renewal.await;
    remove_endpoint_file(&endpoint_path, &base);
    // The servers' audit handles are gone: the last records are written
    // before the process ends. (A caller lookup still running holds one; it
    // gets a moment, not a hang.)
    let finish = move || audit_writer.finish(AUDIT_FLUSH_LIMIT);
    if !tokio::task::spawn_blocking(finish).await.unwrap_or(false) {
        tracing::warn!("the audit log writer did not finish in time; its last records may be lost");
    }
    served?;
    tracing::info!("daemon stopped");
    Ok(())
}

/// The URL base for a bound address: `http://127.0.0.1:PORT` (`[::1]` for IPv6).
pub fn url_base(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// The URL base clients should use: the running daemon's, from the endpoint
/// file, else the default listen address (the daemon may start later).
pub fn endpoint_base(paths: &crate::paths::Paths) -> anyhow::Result<String> {
    match read_endpoint_file(&paths.endpoint_file())? {
        Some(base) => Ok(base),
        None => {
            let addr: SocketAddr = crate::paths::DEFAULT_LISTEN
                .parse()
                .expect("DEFAULT_LISTEN is a socket address");
            Ok(url_base(addr))
        }
    }
}

/// Read an endpoint file; `None` when there is none. Its content must be a
/// loopback URL base, because clients will send the token there.
pub fn read_endpoint_file(path: &Path) -> anyhow::Result<Option<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    let addr = text
        .trim_end()
        .strip_prefix("http://")
        .and_then(|rest| rest.parse::<SocketAddr>().ok())
        .filter(|addr| addr.ip().is_loopback())
        .with_context(|| {
            format!(
                "{} does not hold a loopback URL like http://127.0.0.1:9911; remove it or restart `credbroker daemon`",
                path.display()
            )
        })?;
    Ok(Some(url_base(addr)))
}

/// Remove the endpoint file unless another daemon has since replaced it.
fn remove_endpoint_file(path: &Path, base: &str) {
    if std::fs::read_to_string(path).is_ok_and(|text| text == base) {
        if let Err(err) = std::fs::remove_file(path) {
            tracing::warn!(path = %path.display(), error = %err, "cannot remove endpoint file");
        }
    }
}

/// A future that completes on SIGINT or SIGTERM. The handlers are installed
/// now, so a signal that arrives before the future is first polled is not lost.
#[cfg(unix)]
pub fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT: stopping"),
            _ = terminate.recv() => tracing::info!("SIGTERM: stopping"),
        }
    })
}

#[cfg(not(unix))]
pub fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_base_brackets_ipv6() {
        assert_eq!(
            url_base("127.0.0.1:9911".parse().unwrap()),
            "http://127.0.0.1:9911"
        );
        assert_eq!(url_base("[::1]:9911".parse().unwrap()), "http://[::1]:9911");
    }

    #[test]
    fn endpoint_file_must_hold_a_loopback_base() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("endpoint");
        assert_eq!(read_endpoint_file(&path).unwrap(), None);
        crate::paths::write_private_file(&path, b"http://127.0.0.1:4321").unwrap();
        assert_eq!(
            read_endpoint_file(&path).unwrap().as_deref(),
            Some("http://127.0.0.1:4321")
        );
        crate::paths::write_private_file(&path, b"http://10.0.0.1:4321").unwrap();
        assert!(read_endpoint_file(&path).is_err());
        crate::paths::write_private_file(&path, b"garbage").unwrap();
        assert!(read_endpoint_file(&path).is_err());
    }

    #[test]
    fn endpoint_file_is_removed_only_when_it_is_ours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("endpoint");
        std::fs::write(&path, "http://127.0.0.1:2").unwrap();
        remove_endpoint_file(&path, "http://127.0.0.1:1");
        assert!(path.exists());
        remove_endpoint_file(&path, "http://127.0.0.1:2");
        assert!(!path.exists());
    }
}
