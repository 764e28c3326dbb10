//! The socket server against a fixed table of credentials, over a real
//! socket in a temporary directory.

use super::*;
use crate::broker::BrokerError;
use crate::control::client::{self, ClientError};
use crate::control::protocol::CredentialsReply;
use crate::model::{RoleCredentials, Secret};
use chrono::TimeZone;
use std::os::unix::fs::PermissionsExt;
use tokio::sync::oneshot;

struct Table;

impl CredentialSource for Table {
    async fn credentials(&self, profile: &str) -> Result<RoleCredentials, BrokerError> {
        match profile {
            "dev" => Ok(RoleCredentials {
                access_key_id: "ASIADEV".into(),
                secret_access_key: Secret::new("s3cr3t"),
                session_token: Secret::new("t0k3n"),
                expiration: chrono::Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap(),
                account_id: Some("111111111111".into()),
                issued_at: None,
            }),
            "locked" => Err(BrokerError::login_required(
                "not signed in to SSO session 'corp'",
                "credbroker login --sso-session corp",
            )),
            other => Err(BrokerError::unknown_profile(other)),
        }
    }

    fn role_of(&self, profile: &str) -> Option<(String, String)> {
        (profile == "dev").then(|| ("111111111111".into(), "ReadOnly".into()))
    }
}

impl DaemonState for Table {
    fn config_path(&self) -> &Path {
        Path::new("/tmp/config")
    }

    fn logout(&self, sessions: &[String], all: bool) -> usize {
        if all {
            2
        } else {
            sessions.len()
        }
    }

    async fn snapshot(&self) -> BrokerSnapshot {
        BrokerSnapshot {
            config_path: "/tmp/config".into(),
            config_error: Some("bad line".into()),
            last_upstream_error: None,
            roles: vec![],
            needs_login: vec![],
        }
    }
}

/// A running server in a fresh directory; dropping `stop` shuts it down.
struct Running {
    dir: tempfile::TempDir,
    path: PathBuf,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

fn start() -> Running {
    start_audited(None)
}

fn start_audited(audit: Option<AuditTrail>) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run/daemon.sock");
    let listener = bind(&path).unwrap();
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(serve(
        listener,
        Arc::new(Table),
        "http://127.0.0.1:9911".into(),
        audit,
        async {
            let _ = stopped.await;
        },
    ));
    Running {
        dir,
        path,
        stop,
        task,
    }
}

#[tokio::test]
async fn socket_is_private_and_removed_on_shutdown() {
    let running = start();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&running.path), 0o600);
    assert_eq!(mode(running.path.parent().unwrap()), 0o700);
    running.stop.send(()).unwrap();
    running.task.await.unwrap();
    assert!(!running.path.exists());
    drop(running.dir);
}

#[tokio::test]
async fn answers_credentials_errors_and_status() {
    let running = start();
    let reply = client::credentials(&running.path, "dev", Path::new("/tmp/config"))
        .await
        .unwrap();
    let CredentialsReply::Document(doc) = reply else {
        panic!("{reply:?}")
    };
    let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(v["Version"], 1);
    assert_eq!(v["SecretAccessKey"], "s3cr3t");
    assert_eq!(v["Expiration"], "2030-01-01T00:00:00Z");

    let reply = client::credentials(&running.path, "locked", Path::new("/tmp/config"))
        .await
        .unwrap();
    let CredentialsReply::Error(error) = reply else {
        panic!("{reply:?}")
    };
    assert!(error
        .into_broker_error()
        .is(crate::broker::ErrorKind::LoginRequired));

    let reply = client::credentials(&running.path, "nope", Path::new("/tmp/config"))
        .await
        .unwrap();
    assert!(matches!(reply, CredentialsReply::Error(ref e) if e.status == 404));

    let status = client::status(&running.path).await.unwrap().unwrap();
    assert_eq!(status.pid, std::process::id());
    assert_eq!(status.endpoint, "http://127.0.0.1:9911");
    assert_eq!(status.config_error.as_deref(), Some("bad line"));
}

#[tokio::test]
async fn credentials_requests_are_audited_with_the_process_that_asked() {
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("audit.log");
    let (trail, writer) = AuditTrail::open(&log).unwrap();
    let running = start_audited(Some(trail));
    client::credentials(&running.path, "dev", Path::new("/tmp/config"))
        .await
        .unwrap();
    client::credentials(&running.path, "locked", Path::new("/tmp/config"))
        .await
        .unwrap();
    client::status(&running.path).await.unwrap().unwrap();
    running.stop.send(()).unwrap();
    running.task.await.unwrap();

    // The writer ends once the server's handle is dropped, after writing.
    assert!(writer.finish(Duration::from_secs(5)));
    let records = crate::audit::log::read_all(&log).unwrap();
    assert_eq!(
        records.len(),
        2,
        "status requests are not vends: {records:?}"
    );
    let (dev, locked) = (&records[0], &records[1]);
    assert_eq!(dev.profile, "dev");
    assert_eq!((dev.result.as_str(), dev.status), ("ok", 200));
    assert_eq!(dev.account.as_deref(), Some("111111111111"));
    assert_eq!(dev.role.as_deref(), Some("ReadOnly"));
    assert_eq!(dev.via, Via::Socket);
    assert_eq!(dev.scope, None);
    // This test process is the client: the kernel's peer credentials name it.
    assert_eq!(dev.caller.pid, Some(std::process::id()));
    assert_eq!(dev.caller.uid, Some(own_uid()));
    let exe = std::env::current_exe().unwrap();
    assert_eq!(dev.caller.exe.as_deref(), exe.to_str());
    assert_eq!(dev.caller.peer, None);
    assert_eq!(locked.profile, "locked");
    assert_eq!(
        (locked.result.as_str(), locked.status),
        ("LoginRequired", 403)
    );
    assert_eq!(locked.role, None);
    let raw = std::fs::read_to_string(&log).unwrap();
    assert!(!raw.contains("s3cr3t") && !raw.contains("t0k3n"), "{raw}");
}

#[tokio::test]
async fn several_requests_share_a_connection_and_bad_lines_get_errors() {
    let running = start();
    let mut stream = UnixStream::connect(&running.path).await.unwrap();
    stream
        .write_all(b"{\"op\":\"status\"}\nnonsense\n{\"op\":\"credentials\",\"profile\":\"dev\"}\n")
        .await
        .unwrap();
    let mut lines = BufReader::new(stream).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    assert!(first.contains("\"pid\""), "{first}");
    let second = lines.next_line().await.unwrap().unwrap();
    assert!(second.contains("\"BadRequest\""), "{second}");
    let third = lines.next_line().await.unwrap().unwrap();
    assert!(third.contains("\"ASIADEV\""), "{third}");
}

#[tokio::test]
async fn an_overlong_request_is_refused_and_the_connection_closed() {
    let running = start();
    let mut stream = UnixStream::connect(&running.path).await.unwrap();
    let long = vec![b'a'; MAX_REQUEST_BYTES * 2];
    stream.write_all(&long).await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    assert!(reply.contains("\"status\":400"), "{reply}");
    assert_eq!(reply.lines().count(), 1);
}

#[tokio::test]
async fn a_stale_socket_is_replaced_and_a_live_one_refused() {
    let running = start();
    assert!(matches!(
        bind(&running.path),
        Err(BindError::AlreadyServing(_))
    ));
    // A socket file nobody listens on: what a killed daemon leaves.
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join("daemon.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    let listener = bind(&stale).unwrap();
    assert_eq!(listener.path(), stale);
    std::fs::write(dir.path().join("plain"), "x").unwrap();
    assert!(matches!(
        bind(&dir.path().join("plain")),
        Err(BindError::NotASocket { .. })
    ));
}

#[tokio::test]
async fn no_listener_means_no_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("daemon.sock");
    assert!(matches!(
        client::credentials(&missing, "dev", Path::new("/tmp/config")).await,
        Err(ClientError::NoDaemon { .. })
    ));
    drop(std::os::unix::net::UnixListener::bind(&missing).unwrap());
    assert!(matches!(
        client::credentials(&missing, "dev", Path::new("/tmp/config")).await,
        Err(ClientError::NoDaemon { .. })
    ));
}
