//! One upstream call per role: 500 concurrent requests on a cold cache
//! cause exactly one GetRoleCredentials at the emulator, and many roles
//! are fetched concurrently. In-process (emulator, broker, endpoint) with a
//! memory vault, driven over real HTTP; the broker's context points the SDK
//! clients at the emulator, and the clients are built once and reused.

use credbroker::broker::Broker;
use credbroker::config::AwsConfig;
use credbroker::emulator::{self, Account, Directory, EmulatorOptions};
use credbroker::server::{self, AuthToken};
use credbroker::sso::login::{device_login, LoginOptions};
use credbroker::store::Vault;
use std::sync::Arc;

const ACCOUNTS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_share_one_upstream_call_per_role() {
    let directory = Directory {
        accounts: (0..ACCOUNTS)
            .map(|i| {
                Account::new(
                    &format!("{:012}", 100_000_000_000u64 + i as u64),
                    &format!("acct{i}"),
                    &["Deploy"],
                )
            })
            .collect(),
        ..Directory::default()
    };
    let emu = emulator::start(
        "127.0.0.1:0".parse().unwrap(),
        EmulatorOptions {
            auto_approve: true,
            directory,
            ..EmulatorOptions::default()
        },
    )
    .await
    .unwrap();
    let ctx = credbroker::context::Context::new(credbroker::env::Env::from_pairs([(
        "AWS_ENDPOINT_URL",
        emu.base_url(),
    )]));

    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config");
    let mut config = String::from(
        "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n",
    );
    for i in 0..ACCOUNTS {
        config.push_str(&format!(
            "[profile p{i}]\ncredbroker_sso_session = corp\ncredbroker_account_id = {:012}\ncredbroker_role_name = Deploy\n",
            100_000_000_000u64 + i as u64
        ));
    }
    std::fs::write(&config_path, &config).unwrap();
    let session = AwsConfig::parse(&config, &config_path)
        .unwrap()
        .session("corp")
        .unwrap();
    let vault = Vault::in_memory();
    device_login(&session, &vault, &LoginOptions::no_browser(ctx.clone()))
        .await
        .unwrap();

    let listener = server::bind_loopback("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let token = AuthToken::generate();
    let broker = Arc::new(Broker::new(vault, config_path, &ctx));
    let built_before = ctx.clients.built();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(listener, broker, token.clone(), async {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::new();
    let fetch = |profile: String| {
        let client = client.clone();
        let token = token.expose().to_string();
        async move {
            let response = client
                .get(format!("http://{addr}/v1/credentials/{profile}"))
                .header("Authorization", token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let body: serde_json::Value = response.json().await.unwrap();
            body["AccessKeyId"].as_str().unwrap().to_string()
        }
    };

    // 500 at once for one role, cold cache.
    let keys = futures_join_all((0..500).map(|_| fetch("p0".into()))).await;
    assert!(
        keys.iter().all(|k| k == &keys[0]),
        "every caller got the same credentials"
    );
    assert_eq!(emu.stats()["GetRoleCredentials"], 1);

    // Every role at once, several callers each: one call per role.
    let keys =
        futures_join_all((0..ACCOUNTS * 5).map(|i| fetch(format!("p{}", i % ACCOUNTS)))).await;
    assert_eq!(keys.len(), ACCOUNTS * 5);
    assert_eq!(emu.stats()["GetRoleCredentials"], ACCOUNTS as u64);
    // Every one of those calls went through one portal client, built once.
    assert_eq!(ctx.clients.built(), built_before + 1);

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// Run futures concurrently on the runtime and collect their outputs.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}
