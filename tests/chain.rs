//! Role chaining end to end, with the real binary as emulator, daemon and
//! client: SSO Admin in 111111111111, then AssumeRole into Deploy in
//! 222222222222 (the emulator's default role, trusting Admin sessions with
//! ExternalId `credbroker-demo`), through the endpoint and through
//! `credential_process`, as Debian's AWS CLI, boto3 and the Rust SDK
//! (aws-config's default chain, in a child process) see it; the single flight of a two-hop chain; each hop renewed across short
//! lifetimes; a wrong ExternalId and a cycle; and a web identity ->
//! AssumeRole chain in a simulated CI job.

mod support;

use std::process::{Command, Output, Stdio};
use support::{get_credentials, get_json, Env, BIN};

const DEPLOY: &str = "arn:aws:iam::222222222222:role/Deploy";
const DEPLOY_CALLER: &str = "arn:aws:sts::222222222222:assumed-role/Deploy/deploy-session";

fn aws_cli() -> String {
    std::env::var("CREDBROKER_TEST_AWS_CLI")
        .expect("CREDBROKER_TEST_AWS_CLI is unset: run the suite with scripts/test.sh")
}

fn python() -> String {
    std::env::var("CREDBROKER_TEST_PYTHON")
        .expect("CREDBROKER_TEST_PYTHON is unset: run the suite with scripts/test.sh")
}

/// The standard config plus chained profiles on top of `admin`.
fn write_chain_config(env: &Env) {
    env.write_standard_config();
    let mut text = std::fs::read_to_string(env.config_path()).unwrap();
    text.push_str(&format!(
        "\n[profile deploy]\nrole_arn = {DEPLOY}\nsource_profile = admin\n\
         external_id = credbroker-demo\nrole_session_name = deploy-session\nregion = us-east-1\n\n\
         [profile deploy-cp]\ncredential_process = {BIN} credential-process --profile deploy-cp\n\
         credbroker_role_arn = {DEPLOY}\ncredbroker_source_profile = admin\n\
         credbroker_external_id = credbroker-demo\ncredbroker_role_session_name = deploy-session\n\
         region = us-east-1\n\n\
         [profile wrong-id]\nrole_arn = {DEPLOY}\nsource_profile = admin\nexternal_id = not-the-one\n\n\
         [profile too-long]\nrole_arn = {DEPLOY}\nsource_profile = admin\n\
         external_id = credbroker-demo\nduration_seconds = 7200\n\n\
         [profile loop-a]\nrole_arn = {DEPLOY}\nsource_profile = loop-b\n\n\
         [profile loop-b]\nrole_arn = {DEPLOY}\nsource_profile = loop-a\n"
    ));
    env.write_config(&text);
}

fn stdout_of(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

const BOTO3_ENDPOINT: &str = r#"
import os, boto3
sts = boto3.client("sts", endpoint_url=os.environ["EMULATOR"], region_name="us-east-1")
print(sts.get_caller_identity()["Arn"])
"#;

const BOTO3_PROFILE: &str = r#"
import os, boto3
session = boto3.Session(profile_name="deploy-cp")
sts = session.client("sts", endpoint_url=os.environ["EMULATOR"], region_name="us-east-1")
print(sts.get_caller_identity()["Arn"])
"#;

fn aws_cli_via_process(env: &Env) -> Output {
    let mut cmd = Command::new(aws_cli());
    env.apply_env(&mut cmd);
    cmd.args(["--profile", "deploy-cp", "sts", "get-caller-identity"])
        .args(["--output", "json", "--endpoint-url", &env.base_url])
        .output()
        .unwrap()
}

fn boto3_via_process(env: &Env) -> Output {
    let mut cmd = Command::new(python());
    env.apply_env(&mut cmd);
    cmd.args(["-c", BOTO3_PROFILE])
        .env("EMULATOR", &env.base_url)
        .output()
        .unwrap()
}

#[test]
fn a_two_hop_chain_reaches_the_aws_cli_and_boto3_through_the_endpoint_and_credential_process() {
    let mut env = Env::new("chain-clients", &["--auto-approve"]);
    write_chain_config(&env);
    env.login();
    let endpoint = env.start_daemon();

    // The endpoint, as the AWS CLI and boto3 read it under `exec`.
    let out = env
        .command()
        .args(["exec", "--profile", "deploy", "--", &aws_cli()])
        .args(["sts", "get-caller-identity", "--output", "json"])
        .args(["--endpoint-url", &env.base_url])
        .output()
        .unwrap();
    assert!(stdout_of(&out).contains(DEPLOY_CALLER));
    let out = env
        .command()
        .args(["exec", "--profile", "deploy", "--", &python(), "-c"])
        .arg(BOTO3_ENDPOINT)
        .env("EMULATOR", &env.base_url)
        .output()
        .unwrap();
    assert_eq!(stdout_of(&out).trim(), DEPLOY_CALLER);
    // The Rust SDK: aws-config's default chain in a child process that has
    // only the container variables `exec` sets, then GetCallerIdentity.
    let out = env
        .command()
        .args([
            "exec",
            "--profile",
            "deploy",
            "--",
            BIN,
            "demo",
            "--sdk-probe",
        ])
        .output()
        .unwrap();
    assert!(
        stdout_of(&out).contains(&format!("Arn:     {DEPLOY_CALLER}")),
        "{}",
        stdout_of(&out)
    );

    // credential_process with the daemon (the socket) ...
    assert!(stdout_of(&aws_cli_via_process(&env)).contains(DEPLOY_CALLER));
    assert_eq!(stdout_of(&boto3_via_process(&env)).trim(), DEPLOY_CALLER);
    // ... and the Rust SDK's profile provider, which runs credential_process.
    let out = env
        .command()
        .args(["demo", "--sdk-probe"])
        .env("AWS_PROFILE", "deploy-cp")
        .output()
        .unwrap();
    assert!(
        stdout_of(&out).contains(&format!("Arn:     {DEPLOY_CALLER}")),
        "{}",
        stdout_of(&out)
    );
    // One GetRoleCredentials for Admin, shared by both chains, and one
    // AssumeRole per profile (deploy and deploy-cp are two hops), each
    // cached across the clients' calls.
    assert_eq!(env.stat("GetRoleCredentials"), 1, "{}", env.stats());
    assert_eq!(env.stat("AssumeRole"), 2, "{}", env.stats());

    // status shows the chain hop by hop, and the audit trail the role.
    let status = env.status_json();
    let roles = status["roles"].as_array().unwrap();
    let hop = roles
        .iter()
        .find(|r| r["kind"] == "assumed-role")
        .expect("the assumed role is listed");
    assert_eq!(hop["role_arn"], DEPLOY, "{status}");
    assert_eq!(hop["via"], "111111111111/Admin", "{status}");
    assert_eq!(hop["session"], "corp", "{status}");
    assert!(
        roles
            .iter()
            .any(|r| r["kind"] == "sso-role" && r["role_name"] == "Admin"),
        "{status}"
    );
    let (status, body) = get_credentials(&endpoint, "deploy", &env.token());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["AccountId"], "222222222222");
    let audit = env.state_home().join("credbroker/audit.log");
    let mut recorded = false;
    for _ in 0..50 {
        let text = std::fs::read_to_string(&audit).unwrap_or_default();
        recorded = text.lines().any(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["profile"] == "deploy"
                && v["role"] == "Deploy"
                && v["chain"] == "111111111111/Admin -> 222222222222/Deploy"
        });
        if recorded {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(recorded, "the audit trail records the chain");

    // ... and without it, in-process.
    env.kill_daemon();
    assert!(stdout_of(&aws_cli_via_process(&env)).contains(DEPLOY_CALLER));
    assert_eq!(stdout_of(&boto3_via_process(&env)).trim(), DEPLOY_CALLER);
}

#[test]
fn two_hundred_first_requests_for_a_two_hop_chain_cost_one_call_per_hop() {
    let mut env = Env::new("chain-flight", &["--auto-approve"]);
    write_chain_config(&env);
    env.login();
    let endpoint = env.start_daemon();
    let token = env.token();
    let threads: Vec<_> = (0..200)
        .map(|_| {
            let (endpoint, token) = (endpoint.clone(), token.clone());
            std::thread::spawn(move || get_credentials(&endpoint, "deploy", &token))
        })
        .collect();
    let mut keys = std::collections::BTreeSet::new();
    for t in threads {
        let (status, body) = t.join().unwrap();
        assert_eq!(status, 200, "{body}");
        keys.insert(body["AccessKeyId"].as_str().unwrap().to_string());
    }
    assert_eq!(keys.len(), 1, "every request got the same credentials");
    assert_eq!(env.stat("GetRoleCredentials"), 1, "{}", env.stats());
    assert_eq!(env.stat("AssumeRole"), 1, "{}", env.stats());
}

#[test]
fn every_hop_is_renewed_across_short_lifetimes_without_a_new_sign_in() {
    let mut env = Env::new(
        "chain-renew",
        &["--auto-approve", "--credentials-ttl", "15"],
    );
    write_chain_config(&env);
    env.login();
    let endpoint = env.start_daemon();
    let token = env.token();
    let (status, body) = get_credentials(&endpoint, "deploy", &token);
    assert_eq!(status, 200, "{body}");
    // Three lifetimes: the renewal pass replaces both hops ahead of expiry.
    let mut keys = std::collections::BTreeSet::new();
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(40) {
        let (status, body) = get_credentials(&endpoint, "deploy", &token);
        assert_eq!(status, 200, "{body}");
        assert!(
            support::seconds_left(body["Expiration"].as_str().unwrap()) > 3,
            "served with too little life: {body}"
        );
        keys.insert(body["AccessKeyId"].as_str().unwrap().to_string());
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert!(keys.len() >= 3, "only {} sets of credentials", keys.len());
    assert!(env.stat("AssumeRole") >= 3, "{}", env.stats());
    assert!(env.stat("GetRoleCredentials") >= 3, "{}", env.stats());
    assert_eq!(env.stat("StartDeviceAuthorization"), 1, "{}", env.stats());
}

#[test]
fn a_wrong_external_id_a_long_chained_session_and_a_cycle_get_their_errors() {
    let mut env = Env::new("chain-errors", &["--auto-approve"]);
    write_chain_config(&env);
    env.login();
    let endpoint = env.start_daemon();
    let token = env.token();
    let config = env.config_path().display().to_string();

    let (status, body) = get_credentials(&endpoint, "wrong-id", &token);
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("AccessDenied"), "{message}");
    assert!(
        message.contains("not authorized to perform: sts:AssumeRole"),
        "{message}"
    );
    assert!(
        message.contains("profile 'wrong-id'") && message.contains(&config),
        "{message}"
    );
    assert!(message.contains("external_id"), "{message}");
    assert!(
        !message.contains("not-the-one"),
        "no external id in the message: {message}"
    );

    let (status, body) = get_credentials(&endpoint, "too-long", &token);
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("ValidationError"), "{message}");
    assert!(message.contains("1 hour session limit"), "{message}");
    assert!(message.contains("duration_seconds"), "{message}");

    let (status, body) = get_credentials(&endpoint, "loop-a", &token);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "InvalidConfiguration", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("cycle: loop-a -> loop-b -> loop-a"),
        "{message}"
    );
    assert!(message.contains(&config), "{message}");

    // The same over credential_process, which prints no document.
    let out = env.run(&["credential-process", "--profile", "loop-a"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cycle"), "{stderr}");
    let secret = body.to_string();
    assert!(!stderr.contains("SecretAccessKey"), "{secret}");
}

/// A CI job: a GitHub Actions token for GitHubDeploy, then AssumeRole into
/// a Release role trusting GitHubDeploy sessions; no keychain anywhere.
#[test]
fn a_web_identity_to_assume_role_chain_serves_a_ci_job() {
    let home = tempfile::tempdir().unwrap();
    let roles = home.path().join("roles.json");
    std::fs::write(
        &roles,
        r#"{
          "arn:aws:iam::111111111111:role/GitHubDeploy": {"Statement": [{"Effect": "Allow",
            "Principal": {"Federated": "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}}]},
          "arn:aws:iam::333333333333:role/Release": {"Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111111111111:role/GitHubDeploy"},
            "Action": "sts:AssumeRole"}]}
        }"#,
    )
    .unwrap();
    let mut emulator = Command::new(BIN)
        .args(["emulator", "--listen", "127.0.0.1:0", "--roles"])
        .arg(&roles)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(emulator.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let base_url = line.trim().to_string();
    let github = get_json(&format!("{base_url}/_emulator/github"));
    let config = home.path().join("aws-config");
    std::fs::write(
        &config,
        "[profile ci]\ncredbroker_web_identity_role_arn = arn:aws:iam::111111111111:role/GitHubDeploy\n\
         credbroker_web_identity_source = github-actions\nregion = us-east-1\n\n\
         [profile release]\nrole_arn = arn:aws:iam::333333333333:role/Release\n\
         source_profile = ci\nrole_session_name = release-job\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("HOME", home.path())
            .env("AWS_CONFIG_FILE", &config)
            .env("CREDBROKER_RUNTIME_DIR", home.path().join("run"))
            .env(
                "CREDBROKER_KEYCHAIN_SERVICE",
                "credbroker-test-no-keychain-used",
            )
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
            .env("AWS_ENDPOINT_URL", &base_url)
            .env(
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                github["request_url"].as_str().unwrap(),
            )
            .env(
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                github["request_token"].as_str().unwrap(),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    for args in [
        &["ci", "--profile", "release", "--once"][..],
        &["credential-process", "--profile", "release"][..],
    ] {
        let out = run(args);
        let doc: serde_json::Value = serde_json::from_str(&stdout_of(&out)).unwrap();
        assert_eq!(doc["Version"], 1);
        let caller = Command::new(aws_cli())
            .args(["sts", "get-caller-identity", "--output", "json"])
            .args(["--endpoint-url", &base_url, "--region", "us-east-1"])
            .env("AWS_ACCESS_KEY_ID", doc["AccessKeyId"].as_str().unwrap())
            .env(
                "AWS_SECRET_ACCESS_KEY",
                doc["SecretAccessKey"].as_str().unwrap(),
            )
            .env("AWS_SESSION_TOKEN", doc["SessionToken"].as_str().unwrap())
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap();
        assert!(
            stdout_of(&caller)
                .contains("arn:aws:sts::333333333333:assumed-role/Release/release-job"),
            "{args:?}"
        );
    }
    let _ = emulator.kill();
    let _ = emulator.wait();
}
