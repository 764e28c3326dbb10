//! A panic while one connection is served ends that connection only: the
//! endpoint goes on accepting and serving every other one, and the panicked
//! connection gives back its place under the connection cap.
//!
//! This is why the shipping profile keeps `panic = "unwind"` (Cargo.toml):
//! with `abort`, the same bug would take the whole daemon down.

use chrono::{TimeZone, Utc};
use credbroker::broker::{BrokerError, CredentialSource};
use credbroker::model::{RoleCredentials, Secret};
use credbroker::server::{self, AuthToken, ServerLimits};
use std::time::Duration;

/// Panics for the profile `boom`; credentials for any other.
struct PanicsOnBoom;

impl CredentialSource for PanicsOnBoom {
    async fn credentials(&self, profile: &str) -> Result<RoleCredentials, BrokerError> {
        if profile == "boom" {
            panic!("a bug reached while serving {profile}");
        }
        Ok(RoleCredentials {
            access_key_id: "ASIAEXAMPLEDEV".into(),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"),
            session_token: Secret::new("FwoGZXIvYXdzSESSIONTOKEN"),
            expiration: Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap(),
            account_id: Some("111111111111".into()),
            issued_at: None,
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_one_connection_leaves_the_endpoint_serving() {
    let dir = tempfile::tempdir().unwrap();
    let token = AuthToken::load_or_create(&dir.path().join("token")).unwrap();
    let secret = token.expose().to_owned();
    let listener = server::bind_loopback("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    // Two places: one kept by a keep-alive client throughout, one that the
    // panicking connections must give back each time.
    let limits = ServerLimits {
        max_connections: 2,
        ..ServerLimits::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(server::serve_with_limits(
        listener,
        std::sync::Arc::new(PanicsOnBoom),
        token,
        limits,
        async {
            let _ = stopped.await;
        },
    ));

    let url = |profile: &str| format!("http://127.0.0.1:{port}/v1/credentials/{profile}");
    let get = |client: reqwest::Client, profile: &'static str| {
        let secret = secret.clone();
        let url = url(profile);
        async move {
            client
                .get(url)
                .header("Authorization", secret)
                .timeout(Duration::from_secs(10))
                .send()
                .await
        }
    };

    // A client that keeps its connection open across the panics.
    let kept = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    assert_eq!(get(kept.clone(), "dev").await.unwrap().status(), 200);

    for round in 0..3 {
        // Each on a connection of its own, so each panic ends its own.
        let fresh = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let answer = get(fresh.clone(), "boom").await;
        assert!(
            answer.is_err(),
            "round {round}: a panicked request has no answer, got {answer:?}"
        );
        // The place is free again, and the endpoint still serves. The
        // permit goes back as the panicked task finishes unwinding, which
        // may be just after its socket closed; a connection that comes in
        // between is shed at once (clients retry), so retry here too, for
        // a while: a place never given back fails every try.
        let mut tries = 0;
        let after = loop {
            match get(fresh.clone(), "dev").await {
                Ok(response) => break response,
                Err(_) if tries < 100 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(error) => panic!("round {round}: no answer after the panic: {error}"),
            }
        };
        assert_eq!(after.status(), 200, "round {round}");
        let body: serde_json::Value = after.json().await.unwrap();
        assert_eq!(body["AccessKeyId"], "ASIAEXAMPLEDEV");
        // The connection opened before the panics is still served too.
        assert_eq!(get(kept.clone(), "dev").await.unwrap().status(), 200);
        assert!(!served.is_finished(), "round {round}: the endpoint stopped");
    }

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), served)
        .await
        .expect("the endpoint stops when asked")
        .unwrap()
        .unwrap();
}
