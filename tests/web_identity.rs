//! A simulated GitHub Actions job against the emulator, end to end with the
//! real binary: the emulator's GitHub issuer mints the job token, its STS
//! checks the signature, the times, the audience and the demo role's trust
//! policy, and `credbroker ci` serves the credentials on the loopback
//! endpoint and renews them across lifetimes. Then each way STS refuses a
//! token, as the person running the job sees it; then `trust check` and
//! `jwt inspect` on real tokens.
//!
//! No keychain is needed: `credbroker ci` keeps credentials in memory.

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{get_credentials, get_json, raw_get, BIN};

const ROLE: &str = "arn:aws:iam::111111111111:role/GitHubDeploy";

/// An emulator with a short credentials lifetime and a temporary HOME.
struct Job {
    home: tempfile::TempDir,
    emulator: Child,
    base_url: String,
    request_url: String,
    request_token: String,
}

impl Drop for Job {
    fn drop(&mut self) {
        let _ = self.emulator.kill();
        let _ = self.emulator.wait();
    }
}

impl Job {
    fn start(ttl_secs: u32) -> Job {
        let home = tempfile::tempdir().unwrap();
        let mut emulator = Command::new(BIN)
            .args([
                "emulator",
                "--listen",
                "127.0.0.1:0",
                "--credentials-ttl",
                &ttl_secs.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(emulator.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base_url = line.trim().to_string();
        let github = get_json(&format!("{base_url}/_emulator/github"));
        let config = home.path().join("aws-config");
        std::fs::write(
            &config,
            format!(
                "[profile ci]\ncredbroker_web_identity_role_arn = {ROLE}\n\
                 credbroker_web_identity_source = github-actions\n\
                 credbroker_web_identity_session_name = octo-deploy\nregion = us-east-1\n"
            ),
        )
        .unwrap();
        Job {
            home,
            emulator,
            base_url,
            request_url: github["request_url"].as_str().unwrap().to_string(),
            request_token: github["request_token"].as_str().unwrap().to_string(),
        }
    }

    fn github_env(&self) -> PathBuf {
        self.home.path().join("github_env")
    }

    /// `credbroker ARGS` as a step of the job would run it.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("HOME", self.home.path())
            .env("AWS_CONFIG_FILE", self.home.path().join("aws-config"))
            .env("CREDBROKER_RUNTIME_DIR", self.home.path().join("run"))
            .env("AWS_ENDPOINT_URL", &self.base_url)
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", &self.request_url)
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", &self.request_token)
            .env("GITHUB_ENV", self.github_env())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn set_claims(&self, claims: &str) {
        assert_eq!(
            support::emulator_post(&self.base_url, "/_emulator/github/claims", claims),
            200
        );
    }

    /// A job token straight from the issuer's token endpoint.
    fn mint(&self) -> String {
        let rest = self.request_url.strip_prefix("http://").unwrap();
        let (addr, path) = rest.split_at(rest.find('/').unwrap());
        let auth = format!("Bearer {}", self.request_token);
        let (status, body) = raw_get(
            addr,
            &format!("{path}&audience=sts.amazonaws.com"),
            &[("Host", addr), ("Authorization", &auth)],
        );
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&support::dechunk(&body)).unwrap();
        v["value"].as_str().unwrap().to_string()
    }
}

/// A child process killed when the test ends, passed or not.
struct Stopped(Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Call GetCallerIdentity with served credentials (SigV4, checked by the emulator).
async fn caller_arn(base_url: &str, creds: &serde_json::Value) -> String {
    let credentials = aws_credential_types::Credentials::new(
        creds["AccessKeyId"].as_str().unwrap(),
        creds["SecretAccessKey"].as_str().unwrap(),
        creds["Token"].as_str().map(String::from),
        None,
        "served",
    );
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(base_url)
        .credentials_provider(credentials)
        .build();
    let out = aws_sdk_sts::Client::from_conf(config)
        .get_caller_identity()
        .send()
        .await
        .expect("the served credentials work with STS");
    out.arn().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_is_served_credentials_renewed_across_lifetimes() {
    let job = Job::start(15);
    let mut ci = Stopped(
        job.command(&["ci", "--profile", "ci"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut printed = Vec::new();
    for line in BufReader::new(ci.0.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if line == "credbroker: ready" {
            break;
        }
        printed.push(line);
    }
    let github_env = std::fs::read_to_string(job.github_env()).unwrap();
    assert_eq!(
        github_env,
        printed.iter().map(|l| format!("{l}\n")).collect::<String>()
    );
    let var = |name: &str| {
        github_env
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} missing from {github_env}"))
            .to_string()
    };
    let url = var("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    let token = std::fs::read_to_string(var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")).unwrap();
    assert!(
        !github_env.contains(&token),
        "the endpoint token must not be in GITHUB_ENV"
    );
    assert!(url.ends_with("/v1/credentials/ci"), "{url}");
    let endpoint = url.trim_end_matches("/v1/credentials/ci").to_string();

    let mut keys = Vec::new();
    let started = Instant::now();
    while keys.len() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "renewals seen: {keys:?}"
        );
        let (status, creds) = get_credentials(&endpoint, "ci", &token);
        assert_eq!(status, 200, "{creds}");
        let key = creds["AccessKeyId"].as_str().unwrap().to_string();
        if !keys.contains(&key) {
            assert!(support::seconds_left(creds["Expiration"].as_str().unwrap()) > 0);
            let arn = caller_arn(&job.base_url, &creds).await;
            assert_eq!(
                arn,
                "arn:aws:sts::111111111111:assumed-role/GitHubDeploy/octo-deploy"
            );
            keys.push(key);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let stats = get_json(&format!("{}/_emulator/stats", job.base_url));
    assert!(
        stats["AssumeRoleWithWebIdentity"].as_u64().unwrap() >= 3,
        "{stats}"
    );
    assert!(
        stats["GitHubTokenRequest"].as_u64().unwrap() >= 3,
        "a new token per renewal: {stats}"
    );
}

#[test]
fn each_sts_refusal_reaches_the_user_with_its_reason() {
    let job = Job::start(900);
    for (claims, code, reason) in [
        (
            r#"{"repository":"evil-org/fork"}"#,
            "AccessDenied",
            "repo:evil-org/fork:ref:refs/heads/main",
        ),
        (
            r#"{"aud":"api://other"}"#,
            "InvalidIdentityToken",
            "audience",
        ),
        (
            r#"{"lifetime_secs":-60}"#,
            "ExpiredTokenException",
            "Token expired",
        ),
        (
            r#"{"forge_signature":true}"#,
            "InvalidIdentityToken",
            "signature",
        ),
    ] {
        job.set_claims(claims);
        let out = job.run(&["ci", "--profile", "ci", "--once"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{claims}: {stderr}");
        assert!(
            stderr.contains(code),
            "{claims}: expected {code} in {stderr}"
        );
        assert!(
            stderr.contains(reason),
            "{claims}: expected {reason:?} in {stderr}"
        );
        assert!(out.stdout.is_empty());
    }
    job.set_claims("{}");
    let out = job.run(&["ci", "--profile", "ci", "--once"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Version"], 1);

    let out = job
        .command(&["ci", "--profile", "ci", "--once"])
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("permissions: id-token: write"), "{stderr}");
}

#[test]
fn trust_check_exit_codes() {
    let job = Job::start(900);
    let dir = job.home.path();
    let policy = dir.join("policy.json");
    std::fs::write(
        &policy,
        credbroker::emulator::web_identity::DEMO_TRUST_POLICY,
    )
    .unwrap();
    let policy = policy.to_str().unwrap();
    let claims = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    };
    let good = claims(
        "good.json",
        r#"{"iss":"https://token.actions.githubusercontent.com","aud":"sts.amazonaws.com","sub":"repo:octo-org/octo-repo:environment:production"}"#,
    );
    let pr = claims(
        "pr.json",
        r#"{"aud":"sts.amazonaws.com","sub":"repo:octo-org/octo-repo:pull_request"}"#,
    );
    let broken = claims("broken.json", "[1, 2");

    let out = job.run(&["trust", "check", "--policy", policy, "--claims", &good]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.starts_with("admitted\nstatement: Statement[0] (Sid \"GitHubDeployFromMain\")"),
        "{stdout}"
    );

    let out = job.run(&["trust", "check", "--policy", policy, "--claims", &pr]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("condition: StringEquals token.actions.githubusercontent.com:sub"),
        "{stdout}"
    );
    assert!(
        stdout.contains("is \"repo:octo-org/octo-repo:pull_request\""),
        "{stdout}"
    );

    assert_eq!(
        job.run(&["trust", "check", "--policy", policy, "--claims", &broken])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        job.run(&["trust", "check", "--policy", &good, "--claims", &good])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        job.run(&["trust", "check", "--policy", policy, "--token", "not.a.jwt"])
            .status
            .code(),
        Some(2)
    );

    job.set_claims("{}");
    let token = job.mint();
    let out = job.run(&[
        "trust", "check", "--policy", policy, "--token", &token, "--format", "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let decision: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(decision["admitted"], true);
}

#[test]
fn jwt_inspect_verifies_against_the_issuer_keys() {
    let job = Job::start(900);
    job.set_claims(r#"{"repository":"octo-org@1001/octo-repo@2002","environment":"production"}"#);
    let token = job.mint();
    let jwks = format!("{}/.well-known/jwks", job.base_url);
    let out = job.run(&["jwt", "inspect", &token, "--jwks", &jwks]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("signature:  valid"), "{stdout}");
    assert!(
        stdout.contains("immutable ids: owner 1001, repository 2002"),
        "{stdout}"
    );
    assert!(stdout.contains("environment: production"), "{stdout}");
    assert!(stdout.contains(" left\n"), "{stdout}");

    job.set_claims(r#"{"forge_signature":true}"#);
    let forged = job.mint();
    let out = job.run(&[
        "jwt", "inspect", &forged, "--jwks", &jwks, "--format", "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["signature"]["valid"], false);
    assert_eq!(
        job.run(&["jwt", "inspect", "garbage"]).status.code(),
        Some(2)
    );
    let config = get_json(&format!(
        "{}/.well-known/openid-configuration",
        job.base_url
    ));
    assert_eq!(
        config["issuer"],
        "https://token.actions.githubusercontent.com"
    );
}

#[test]
fn detach_returns_once_serving_and_leaves_the_server_running() {
    let job = Job::start(900);
    let out = job.run(&["ci", "--profile", "ci", "--detach"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid: u32 = stdout
        .split("(pid ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {stdout}"));
    let url = stdout
        .lines()
        .find_map(|l| l.strip_prefix("AWS_CONTAINER_CREDENTIALS_FULL_URI="))
        .unwrap()
        .to_string();
    let token_file = stdout
        .lines()
        .find_map(|l| l.strip_prefix("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="))
        .unwrap()
        .to_string();
    let token = std::fs::read_to_string(token_file).unwrap();
    let (status, creds) = get_credentials(url.trim_end_matches("/v1/credentials/ci"), "ci", &token);
    let _ = Command::new("kill").arg(pid.to_string()).status();
    assert_eq!(status, 200, "{creds}");
    assert!(creds["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
}

#[test]
fn a_token_file_source_is_read_on_every_fetch() {
    let job = Job::start(900);
    let token_file = job.home.path().join("token");
    std::fs::write(
        job.home.path().join("aws-config"),
        format!(
            "[profile pod]\ncredbroker_web_identity_role_arn = {ROLE}\n\
             credbroker_web_identity_source = file:{}\nregion = us-east-1\n",
            token_file.display()
        ),
    )
    .unwrap();
    let out = job.run(&["ci", "--profile", "pod", "--once"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("cannot read the web identity token file"),
        "{stderr}"
    );

    std::fs::write(&token_file, format!("{}\n", job.mint())).unwrap();
    let out = job
        .command(&["ci", "--profile", "pod", "--once"])
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));

    job.set_claims(r#"{"repository":"octo-org/other"}"#);
    std::fs::write(&token_file, job.mint()).unwrap();
    let out = job.run(&["ci", "--profile", "pod", "--once"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("AccessDenied"),
        "the new file is read: {stderr}"
    );
}
