//! STS trouble on the AssumeRole hop of a chain, injected through the
//! emulator (`POST /_emulator/faults`, answered in STS's XML error shape):
//! a 500 `InternalFailure`, a 503 `ServiceUnavailable` and `Throttling` are
//! retried with bounded backoff (the SDK's standard retry strategy) and the
//! request still succeeds; an outage longer than the retries is a 503 the
//! client may retry, never a final 4xx; and while STS is down, the cached
//! credentials keep being served.

mod support;

use support::{emulator_post, get_credentials, Env};

const DEPLOY: &str = "arn:aws:iam::222222222222:role/Deploy";

fn chain_env(name: &str, emulator_args: &[&str]) -> (Env, String, String) {
    let mut env = Env::new(name, emulator_args);
    env.write_standard_config();
    let mut text = std::fs::read_to_string(env.config_path()).unwrap();
    text.push_str(&format!(
        "\n[profile deploy]\nrole_arn = {DEPLOY}\nsource_profile = admin\n\
         external_id = credbroker-demo\nregion = us-east-1\n"
    ));
    env.write_config(&text);
    env.login();
    let endpoint = env.start_daemon();
    let token = env.token();
    (env, endpoint, token)
}

fn arm(env: &Env, faults: &str) {
    assert_eq!(
        emulator_post(&env.base_url, "/_emulator/faults", faults),
        200
    );
}

#[test]
fn a_500_a_503_and_throttling_are_retried_and_the_request_succeeds() {
    for (name, fault) in [
        ("fault500", r#"{"status": 500, "count": 2}"#),
        ("fault503", r#"{"status": 503, "count": 2}"#),
        (
            "throttle",
            r#"{"status": 400, "code": "Throttling", "count": 2}"#,
        ),
    ] {
        let (env, endpoint, token) = chain_env(name, &["--auto-approve"]);
        arm(&env, &format!(r#"{{"AssumeRole": {fault}}}"#));
        let (status, body) = get_credentials(&endpoint, "deploy", &token);
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(body["AccountId"], "222222222222", "{name}");
        assert!(
            env.stat("AssumeRole") >= 3,
            "{name}: two failed attempts and one that worked: {}",
            env.stats()
        );
    }
}

#[test]
fn an_outage_longer_than_the_retries_is_transient_not_a_refusal() {
    let (env, endpoint, token) = chain_env("outage", &["--auto-approve"]);
    arm(&env, r#"{"AssumeRole": {"status": 500}}"#);
    let (status, body) = get_credentials(&endpoint, "deploy", &token);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "UpstreamUnavailable", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("InternalFailure"), "{message}");
    arm(&env, "{}");
    let (status, body) = get_credentials(&endpoint, "deploy", &token);
    assert_eq!(status, 200, "{body}");
}

#[test]
fn cached_credentials_are_served_while_sts_is_down() {
    let (env, endpoint, token) =
        chain_env("stsdown", &["--auto-approve", "--credentials-ttl", "15"]);
    let (status, first) = get_credentials(&endpoint, "deploy", &token);
    assert_eq!(status, 200, "{first}");
    arm(&env, r#"{"AssumeRole": {"status": 503}}"#);
    // Past the renewal time and the serving margin, up to near expiry.
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(11) {
        let (status, body) = get_credentials(&endpoint, "deploy", &token);
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["AccessKeyId"], first["AccessKeyId"]);
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let failed = env.stat("AssumeRole");
    assert!(failed >= 2, "renewal was tried: {}", env.stats());
    arm(&env, "{}");
    let started = std::time::Instant::now();
    loop {
        let (status, body) = get_credentials(&endpoint, "deploy", &token);
        assert_eq!(status, 200, "{body}");
        if body["AccessKeyId"] != first["AccessKeyId"] {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "not renewed after STS came back"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

/// An AssumeRole answer cut off mid-document is a transient upstream error
/// naming the operation: nothing is served or cached, and the next whole
/// answer is served. (A cut inside `<Credentials>`, which aws-sdk-sts reads
/// as a success with empty keys, is tested in `src/broker/assume.rs`.)
#[test]
fn a_cut_off_assume_role_answer_is_transient_and_never_served() {
    let (env, endpoint, token) = chain_env("cutoff", &["--auto-approve"]);
    arm(&env, r#"{"AssumeRole": {"malformed": true, "count": 1}}"#);
    let (status, body) = get_credentials(&endpoint, "deploy", &token);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "UpstreamUnavailable", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("AssumeRole"), "{message}");
    assert!(body.get("AccessKeyId").is_none(), "{body}");
    let (status, body) = get_credentials(&endpoint, "deploy", &token);
    assert_eq!(status, 200, "{body}");
    assert!(
        body["AccessKeyId"].as_str().is_some_and(|k| !k.is_empty()),
        "{body}"
    );
}
