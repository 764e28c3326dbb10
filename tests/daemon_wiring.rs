//! The daemon's wiring: token file, endpoint file, loopback endpoint, and
//! clean-up on shutdown, with an in-memory vault instead of the keychain.
//!
//! The runtime and state directories point into a temporary directory
//! through the daemon's context, not the process environment.

use credbroker::daemon::{self, DaemonOptions};
use credbroker::store::Vault;
use std::time::Duration;

#[tokio::test]
async fn daemon_writes_its_files_serves_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = dir.path().join("run");
    // The audit log goes to the state dir: keep it in the temp dir too.
    let ctx = credbroker::context::Context::new(credbroker::env::Env::from_pairs([
        (credbroker::paths::RUNTIME_DIR_ENV, runtime.clone()),
        ("XDG_STATE_HOME", dir.path().join("state")),
        ("HOME", dir.path().to_path_buf()),
    ]));
    let config = dir.path().join("aws-config");
    std::fs::write(&config, "").unwrap();

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = DaemonOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        rotate_token: false,
        vault: Vault::in_memory(),
        config_path: config,
        export_aws_cli_cache: None,
        ctx: ctx.clone(),
    };
    let running = tokio::spawn(daemon::run_until(options, async {
        let _ = stopped.await;
    }));

    let endpoint_file = ctx.paths.endpoint_file();
    let token_file = ctx.paths.token_file();
    assert!(endpoint_file.starts_with(&runtime));
    let mut waited = 0;
    while !endpoint_file.exists() {
        assert!(
            waited < 200,
            "daemon did not write {}",
            endpoint_file.display()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
        waited += 1;
    }
    let base = std::fs::read_to_string(&endpoint_file).unwrap();
    assert!(
        base.starts_with("http://127.0.0.1:") && !base.ends_with('\n'),
        "{base}"
    );
    assert_eq!(daemon::endpoint_base(&ctx.paths).unwrap(), base);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [&endpoint_file, &token_file] {
            let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
    }
    let token = std::fs::read_to_string(&token_file).unwrap();

    let client = reqwest::Client::new();
    let url = format!("{base}/v1/credentials/dev");
    let refused = client.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let wrong_path = client
        .get(format!("{base}/elsewhere"))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_path.status(), 404);

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("daemon stops")
        .unwrap()
        .unwrap();
    assert!(!endpoint_file.exists(), "endpoint file left behind");
    assert_eq!(std::fs::read_to_string(&token_file).unwrap(), token);
}
