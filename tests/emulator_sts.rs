//! The emulator's STS `AssumeRole`, driven by clients nobody here wrote: the
//! official `aws-sdk-sts` Rust client, Debian's AWS CLI v2 and boto3. Each
//! starts from the role credentials the emulator's portal served for the dev
//! account's Admin role (an auto-approved device sign-in, then
//! `GetRoleCredentials` through `aws-sdk-sso`), as the broker holds them, and
//! asks for `arn:aws:iam::222222222222:role/Deploy`, whose default trust
//! policy admits Admin sessions with `ExternalId` `credbroker-demo`.
//!
//! What is expected is what AWS documents for STS: the codes, HTTP statuses
//! and sentences of `AccessDenied`, `SignatureDoesNotMatch`, `ExpiredToken`
//! and the role-chaining `ValidationError`, and the XML error shape for
//! injected 500/503/throttling faults.
//!
//! `scripts/test.sh` says where the AWS CLI and boto3 are through
//! `CREDBROKER_TEST_AWS_CLI` and `CREDBROKER_TEST_PYTHON`.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_sts::config::http::HttpResponse;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use credbroker::clock::ManualClock;
use credbroker::emulator::roles::{Roles, DEMO_ROLE_ARN, DEPLOY_EXTERNAL_ID, DEPLOY_ROLE_ARN};
use credbroker::emulator::{self, EmulatorOptions, RunningEmulator};
use credbroker::policy::TrustPolicy;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

const POLL: Duration = Duration::from_millis(200);
const DENIED: &str = "User: arn:aws:sts::111111111111:assumed-role/Admin/dev@example.com \
                      is not authorized to perform: sts:AssumeRole on resource: \
                      arn:aws:iam::222222222222:role/Deploy";
const CHAINED: &str = "The requested DurationSeconds exceeds the 1 hour session limit \
                       for roles assumed by role chaining.";
/// A third role, trusting sessions of Deploy: the second hop of a chain.
const AUDIT_ROLE_ARN: &str = "arn:aws:iam::333333333333:role/Audit";

/// An emulator on a manual clock, and role credentials from its portal.
struct Harness {
    emu: RunningEmulator,
    clock: ManualClock,
    config: SdkConfig,
    /// Admin in 111111111111: access key id, secret, session token.
    admin: (String, String, String),
    /// ReadOnly in 111111111111, which Deploy does not trust.
    read_only: (String, String, String),
}

async fn harness() -> Harness {
    let clock = ManualClock::new(chrono::Utc::now());
    let mut roles = Roles::default();
    roles.roles.insert(
        AUDIT_ROLE_ARN.into(),
        TrustPolicy::parse(&format!(
            r#"{{"Statement": {{"Effect": "Allow", "Action": "sts:AssumeRole",
                "Principal": {{"AWS": "{DEPLOY_ROLE_ARN}"}}}}}}"#
        ))
        .unwrap(),
    );
    let emu = emulator::start(
        "127.0.0.1:0".parse().unwrap(),
        EmulatorOptions {
            auto_approve: true,
            poll_interval: POLL,
            clock: Arc::new(clock.clone()),
            roles,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region("us-east-1")
        .endpoint_url(emu.base_url())
        .no_credentials()
        .retry_config(RetryConfig::disabled())
        .load()
        .await;
    let oidc = aws_sdk_ssooidc::Client::new(&config);
    let reg = oidc
        .register_client()
        .client_name("credbroker-test")
        .client_type("public")
        .send()
        .await
        .unwrap();
    let auth = oidc
        .start_device_authorization()
        .client_id(reg.client_id().unwrap())
        .client_secret(reg.client_secret().unwrap())
        .start_url("https://example.awsapps.com/start")
        .send()
        .await
        .unwrap();
    let token = loop {
        let poll = oidc
            .create_token()
            .client_id(reg.client_id().unwrap())
            .client_secret(reg.client_secret().unwrap())
            .grant_type("urn:ietf:params:oauth:grant-type:device_code")
            .device_code(auth.device_code().unwrap())
            .send()
            .await;
        match poll {
            Ok(out) => break out.access_token().unwrap().to_owned(),
            Err(_) => tokio::time::sleep(POLL).await,
        }
    };
    let sso = aws_sdk_sso::Client::new(&config);
    let role = |name: &'static str| {
        let (sso, token) = (sso.clone(), token.clone());
        async move {
            let out = sso
                .get_role_credentials()
                .access_token(token)
                .account_id("111111111111")
                .role_name(name)
                .send()
                .await
                .unwrap();
            let c = out.role_credentials().unwrap();
            (
                c.access_key_id().unwrap().to_owned(),
                c.secret_access_key().unwrap().to_owned(),
                c.session_token().unwrap().to_owned(),
            )
        }
    };
    Harness {
        admin: role("Admin").await,
        read_only: role("ReadOnly").await,
        emu,
        clock,
        config,
    }
}

impl Harness {
    fn sts(&self, (akid, secret, token): &(String, String, String)) -> aws_sdk_sts::Client {
        self.sts_with(akid, secret, token, RetryConfig::disabled())
    }

    fn sts_with(
        &self,
        akid: &str,
        secret: &str,
        token: &str,
        retry: RetryConfig,
    ) -> aws_sdk_sts::Client {
        let config = aws_sdk_sts::config::Builder::from(&self.config)
            .credentials_provider(Credentials::new(
                akid,
                secret,
                Some(token.to_owned()),
                None,
                "test",
            ))
            .retry_config(retry)
            .build();
        aws_sdk_sts::Client::from_conf(config)
    }

    async fn set_faults(&self, table: &str) {
        let r = reqwest::Client::new()
            .post(format!("{}/_emulator/faults", self.emu.base_url()))
            .body(table.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
}

/// HTTP status, error code and message of a failed SDK call.
fn failure<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    result: Result<R, SdkError<E, HttpResponse>>,
) -> (u16, String, String) {
    let err = result.unwrap_err();
    let status = err.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    let body = err
        .raw_response()
        .and_then(|r| r.body().bytes())
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    assert!(
        body.starts_with("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"),
        "not STS's XML error shape: {body}"
    );
    (
        status,
        err.code().unwrap_or_default().to_owned(),
        err.message().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn sdk_assumes_deploy_and_chains_on() {
    let h = harness().await;
    let out = h
        .sts(&h.admin)
        .assume_role()
        .role_arn(DEPLOY_ROLE_ARN)
        .role_session_name("release-42")
        .external_id(DEPLOY_EXTERNAL_ID)
        .duration_seconds(3600)
        .send()
        .await
        .unwrap();
    let user = out.assumed_role_user().unwrap();
    assert_eq!(
        user.arn(),
        "arn:aws:sts::222222222222:assumed-role/Deploy/release-42"
    );
    assert!(user.assumed_role_id().starts_with("AROA"));
    assert!(user.assumed_role_id().ends_with(":release-42"));
    let c = out.credentials().unwrap();
    assert!(c.access_key_id().starts_with("ASIA"));
    assert_ne!(c.access_key_id(), h.admin.0);
    let in_an_hour = h.clock_now() + chrono::Duration::seconds(3600);
    assert_eq!(c.expiration().secs(), in_an_hour.timestamp());
    #[allow(deprecated)] // still sent by STS, and read by older clients
    let packed = out.packed_policy_size();
    assert_eq!(packed, None);
    let deploy = (
        c.access_key_id().to_owned(),
        c.secret_access_key().to_owned(),
        c.session_token().to_owned(),
    );

    let me = h.sts(&deploy).get_caller_identity().send().await.unwrap();
    assert_eq!(
        me.arn(),
        Some("arn:aws:sts::222222222222:assumed-role/Deploy/release-42")
    );
    assert_eq!(me.account(), Some("222222222222"));

    // A session policy is accepted and sized.
    let scoped = h
        .sts(&h.admin)
        .assume_role()
        .role_arn(DEPLOY_ROLE_ARN)
        .role_session_name("scoped")
        .external_id(DEPLOY_EXTERNAL_ID)
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    #[allow(deprecated)]
    let packed = scoped.packed_policy_size();
    assert!(packed.unwrap_or_default() > 0);

    // Second hop: Audit trusts Deploy's sessions, and the Deploy session
    // is itself a chained session.
    let audit = h
        .sts(&deploy)
        .assume_role()
        .role_arn(AUDIT_ROLE_ARN)
        .role_session_name("audit")
        .send()
        .await
        .unwrap();
    let c = audit.credentials().unwrap();
    let audit = (
        c.access_key_id().to_owned(),
        c.secret_access_key().to_owned(),
        c.session_token().to_owned(),
    );
    let me = h.sts(&audit).get_caller_identity().send().await.unwrap();
    assert_eq!(
        me.arn(),
        Some("arn:aws:sts::333333333333:assumed-role/Audit/audit")
    );
    // Admin is not Deploy: the second role refuses it.
    let (status, code, _) = failure(
        h.sts(&h.admin)
            .assume_role()
            .role_arn(AUDIT_ROLE_ARN)
            .role_session_name("audit")
            .send()
            .await,
    );
    assert_eq!((status, code.as_str()), (403, "AccessDenied"));
    assert_eq!(h.emu.stats()["AssumeRole"], 4);
}

impl Harness {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use credbroker::clock::Clock;
        self.clock.now()
    }
}

#[tokio::test]
async fn sdk_sees_stss_refusals() {
    let h = harness().await;
    let assume = |creds: &(String, String, String)| {
        h.sts(creds)
            .assume_role()
            .role_arn(DEPLOY_ROLE_ARN)
            .role_session_name("x-1")
            .external_id(DEPLOY_EXTERNAL_ID)
    };

    let wrong_id = assume(&h.admin).external_id("guessed").send().await;
    assert_eq!(
        failure(wrong_id),
        (403, "AccessDenied".into(), DENIED.into())
    );
    let (_, code, message) = failure(assume(&h.read_only).send().await);
    assert_eq!(code, "AccessDenied");
    assert!(
        message.starts_with("User: arn:aws:sts::111111111111:assumed-role/ReadOnly/"),
        "{message}"
    );

    let (akid, secret, token) = &h.admin;
    let forged = (akid.clone(), format!("{secret}x"), token.clone());
    let (status, code, _) = failure(assume(&forged).send().await);
    assert_eq!((status, code.as_str()), (403, "SignatureDoesNotMatch"));
    let unknown = ("ASIAUNKNOWNUNKNOWN00".into(), secret.clone(), token.clone());
    let (status, code, message) = failure(assume(&unknown).send().await);
    assert_eq!((status, code.as_str()), (403, "InvalidClientTokenId"));
    assert_eq!(
        message,
        "The security token included in the request is invalid."
    );

    let long = assume(&h.admin).duration_seconds(7200).send().await;
    assert_eq!(
        failure(long),
        (400, "ValidationError".into(), CHAINED.into())
    );

    h.clock.advance(chrono::Duration::seconds(3601));
    let (status, code, message) = failure(assume(&h.admin).send().await);
    assert_eq!((status, code.as_str()), (400, "ExpiredToken"));
    assert_eq!(
        message,
        "The security token included in the request is expired"
    );
}

/// The faults another part of the suite relies on, on both STS calls that
/// make credentials: each answers in STS's XML, with STS's code, and the
/// SDK's standard retries ride out two of them.
#[tokio::test]
async fn sdk_sees_injected_faults_in_stss_xml() {
    let h = harness().await;
    let github: serde_json::Value = reqwest::get(format!("{}/_emulator/github", h.emu.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = format!(
        "{}&audience=sts.amazonaws.com",
        github["request_url"].as_str().unwrap()
    );
    let body: serde_json::Value = reqwest::Client::new()
        .get(url)
        .bearer_auth(github["request_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let web_token = body["value"].as_str().unwrap().to_owned();
    let (akid, secret, token) = &h.admin;
    let client = |retry| h.sts_with(akid, secret, token, retry);
    let assume = |c: &aws_sdk_sts::Client| {
        c.assume_role()
            .role_arn(DEPLOY_ROLE_ARN)
            .role_session_name("faulty")
            .external_id(DEPLOY_EXTERNAL_ID)
            .send()
    };
    let web = |c: &aws_sdk_sts::Client| {
        c.assume_role_with_web_identity()
            .role_arn(DEMO_ROLE_ARN)
            .role_session_name("faulty")
            .web_identity_token(&web_token)
            .send()
    };
    let once = client(RetryConfig::disabled());
    for (status, code) in [
        (500, "InternalFailure"),
        (503, "ServiceUnavailable"),
        (400, "Throttling"),
    ] {
        h.set_faults(&format!(
            r#"{{"AssumeRole": {{"status": {status}, "count": 1}},
                "AssumeRoleWithWebIdentity": {{"status": {status}, "count": 1}}}}"#
        ))
        .await;
        let (s, c, m) = failure(assume(&once).await);
        assert_eq!((s, c.as_str()), (status, code), "AssumeRole: {m}");
        let (s, c, m) = failure(web(&once).await);
        assert_eq!(
            (s, c.as_str()),
            (status, code),
            "AssumeRoleWithWebIdentity: {m}"
        );
    }

    let retrying = client(
        RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(5)),
    );
    h.set_faults(
        r#"{"AssumeRole": {"status": 503, "count": 2},
            "AssumeRoleWithWebIdentity": {"status": 400, "code": "Throttling", "count": 2}}"#,
    )
    .await;
    assume(&retrying).await.unwrap();
    let out = web(&retrying).await.unwrap();
    assert_eq!(
        out.assumed_role_user().unwrap().arn(),
        "arn:aws:sts::111111111111:assumed-role/GitHubDeploy/faulty"
    );
    let stats = h.emu.stats();
    assert_eq!(stats["AssumeRole"], 3 + 3);
    assert_eq!(stats["AssumeRoleWithWebIdentity"], 3 + 3);
}

fn aws_cli() -> String {
    std::env::var("CREDBROKER_TEST_AWS_CLI")
        .expect("CREDBROKER_TEST_AWS_CLI is unset: run the suite with scripts/test.sh")
}

fn python() -> String {
    std::env::var("CREDBROKER_TEST_PYTHON")
        .expect("CREDBROKER_TEST_PYTHON is unset: run the suite with scripts/test.sh")
}

/// A client process with these credentials and no AWS files of the user's.
fn client(program: &str, home: &std::path::Path, creds: &(String, String, String)) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_ACCESS_KEY_ID", &creds.0)
        .env("AWS_SECRET_ACCESS_KEY", &creds.1)
        .env("AWS_SESSION_TOKEN", &creds.2)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_PAGER", "")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_RETRY_MODE", "standard");
    for name in [
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_STS",
    ] {
        cmd.env_remove(name);
    }
    cmd
}

/// Run a client process off the runtime's threads, so the emulator serves it.
async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn stdout(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "stdout: {text}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The AWS CLI's one-line error, `An error occurred (CODE) when calling ...: MESSAGE`.
fn cli_error(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cli_assumes_deploy_and_reads_stss_errors() {
    let h = harness().await;
    let home = tempfile::tempdir().unwrap();
    let base = h.emu.base_url();
    let assume = |creds: &(String, String, String), extra: &[&str]| {
        let mut cmd = client(&aws_cli(), home.path(), creds);
        cmd.args(["sts", "assume-role", "--role-arn", DEPLOY_ROLE_ARN])
            .args(["--role-session-name", "cli-session"])
            .args(["--output", "json", "--endpoint-url", &base])
            .args(extra);
        run(cmd)
    };

    let out = assume(&h.admin, &["--external-id", DEPLOY_EXTERNAL_ID]).await;
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        json["AssumedRoleUser"]["Arn"],
        "arn:aws:sts::222222222222:assumed-role/Deploy/cli-session"
    );
    let c = &json["Credentials"];
    let deploy = (
        c["AccessKeyId"].as_str().unwrap().to_owned(),
        c["SecretAccessKey"].as_str().unwrap().to_owned(),
        c["SessionToken"].as_str().unwrap().to_owned(),
    );
    let mut who = client(&aws_cli(), home.path(), &deploy);
    who.args([
        "sts",
        "get-caller-identity",
        "--output",
        "json",
        "--endpoint-url",
        &base,
    ]);
    let me: serde_json::Value = serde_json::from_str(&stdout(&run(who).await)).unwrap();
    assert_eq!(
        me["Arn"],
        "arn:aws:sts::222222222222:assumed-role/Deploy/cli-session"
    );
    assert_eq!(me["Account"], "222222222222");

    let denied = cli_error(&assume(&h.admin, &["--external-id", "guessed"]).await);
    assert!(denied.contains("(AccessDenied)"), "{denied}");
    assert!(
        denied.contains("User: arn:aws:sts::111111111111:assumed-role/Admin/dev@example.com is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/Deploy"),
        "{denied}"
    );
    let (akid, secret, token) = &h.admin;
    let forged = (akid.clone(), format!("{secret}x"), token.clone());
    let bad = cli_error(&assume(&forged, &["--external-id", DEPLOY_EXTERNAL_ID]).await);
    assert!(bad.contains("(SignatureDoesNotMatch)"), "{bad}");
    let long = assume(
        &h.admin,
        &[
            "--external-id",
            DEPLOY_EXTERNAL_ID,
            "--duration-seconds",
            "7200",
        ],
    );
    let long = cli_error(&long.await);
    assert!(
        long.contains("(ValidationError)") && long.contains(CHAINED),
        "{long}"
    );

    h.set_faults(r#"{"AssumeRole": {"status": 400, "code": "Throttling", "count": 1}}"#)
        .await;
    let throttled = cli_error(&assume(&h.admin, &["--external-id", DEPLOY_EXTERNAL_ID]).await);
    assert!(throttled.contains("(Throttling)"), "{throttled}");
    assert!(throttled.contains("injected fault"), "{throttled}");

    h.clock.advance(chrono::Duration::seconds(3601));
    let expired = cli_error(&assume(&h.admin, &["--external-id", DEPLOY_EXTERNAL_ID]).await);
    assert!(expired.contains("(ExpiredToken)"), "{expired}");
}

/// One boto3 call per run: prints `{"ok": RESULT}` or `{"code", "message", "status"}`.
const BOTO3: &str = r#"
import json, os, sys, boto3
from botocore.exceptions import ClientError
sts = boto3.client("sts", endpoint_url=os.environ["EMULATOR"], region_name="us-east-1")
try:
    if sys.argv[1] == "whoami":
        out = sts.get_caller_identity()
        print(json.dumps({"ok": {"Arn": out["Arn"], "Account": out["Account"]}}))
    else:
        kwargs = {"RoleArn": os.environ["ROLE"], "RoleSessionName": "boto3-session"}
        if os.environ.get("EXTERNAL_ID"):
            kwargs["ExternalId"] = os.environ["EXTERNAL_ID"]
        if os.environ.get("DURATION"):
            kwargs["DurationSeconds"] = int(os.environ["DURATION"])
        out = sts.assume_role(**kwargs)
        c = out["Credentials"]
        print(json.dumps({"ok": {"Arn": out["AssumedRoleUser"]["Arn"], "AccessKeyId": c["AccessKeyId"],
                                 "SecretAccessKey": c["SecretAccessKey"], "SessionToken": c["SessionToken"]}}))
except ClientError as e:
    print(json.dumps({"code": e.response["Error"]["Code"], "message": e.response["Error"]["Message"],
                      "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_assumes_deploy_and_reads_stss_errors() {
    let h = harness().await;
    let home = tempfile::tempdir().unwrap();
    let boto3 = |creds: &(String, String, String), what: &str, vars: &[(&str, &str)]| {
        let mut cmd = client(&python(), home.path(), creds);
        cmd.args(["-c", BOTO3, what])
            .env("EMULATOR", h.emu.base_url())
            .env("ROLE", DEPLOY_ROLE_ARN)
            .env("EXTERNAL_ID", DEPLOY_EXTERNAL_ID);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let cmd = run(cmd);
        async move {
            let out = cmd.await;
            serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()
        }
    };
    let error = |v: serde_json::Value| {
        (
            v["status"].as_u64().unwrap_or_default(),
            v["code"].as_str().unwrap_or_default().to_owned(),
            v["message"].as_str().unwrap_or_default().to_owned(),
        )
    };

    let ok = boto3(&h.admin, "assume", &[]).await;
    let ok = &ok["ok"];
    assert_eq!(
        ok["Arn"],
        "arn:aws:sts::222222222222:assumed-role/Deploy/boto3-session"
    );
    let deploy = (
        ok["AccessKeyId"].as_str().unwrap().to_owned(),
        ok["SecretAccessKey"].as_str().unwrap().to_owned(),
        ok["SessionToken"].as_str().unwrap().to_owned(),
    );
    let me = boto3(&deploy, "whoami", &[]).await;
    assert_eq!(
        me["ok"]["Arn"],
        "arn:aws:sts::222222222222:assumed-role/Deploy/boto3-session"
    );

    let denied = boto3(&h.admin, "assume", &[("EXTERNAL_ID", "guessed")]).await;
    assert_eq!(error(denied), (403, "AccessDenied".into(), DENIED.into()));
    let (akid, secret, token) = &h.admin;
    let forged = (akid.clone(), format!("{secret}x"), token.clone());
    let (status, code, _) = error(boto3(&forged, "assume", &[]).await);
    assert_eq!((status, code.as_str()), (403, "SignatureDoesNotMatch"));
    let long = boto3(&h.admin, "assume", &[("DURATION", "7200")]).await;
    assert_eq!(error(long), (400, "ValidationError".into(), CHAINED.into()));

    h.set_faults(r#"{"AssumeRole": {"status": 500, "count": 1}}"#)
        .await;
    let (status, code, _) = error(boto3(&h.admin, "assume", &[]).await);
    assert_eq!((status, code.as_str()), (500, "InternalFailure"));

    h.clock.advance(chrono::Duration::seconds(3601));
    let (status, code, _) = error(boto3(&h.admin, "assume", &[]).await);
    assert_eq!((status, code.as_str()), (400, "ExpiredToken"));
}
