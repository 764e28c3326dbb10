//! The SDKs' standard client settings reach credbroker's own calls, read
//! from the served profile and the context's environment as the AWS CLI
//! reads them: a profile's `[services ...]` section alone points the
//! sign-in, the portal and STS at the emulator (no `AWS_ENDPOINT_URL`
//! anywhere), each hop of a chain calls with its own profile's settings,
//! and `AWS_MAX_ATTEMPTS` / `max_attempts` bound the retries of a 500.
//! In-process (emulator, broker) with a memory vault.

use credbroker::broker::Broker;
use credbroker::config::AwsConfig;
use credbroker::context::Context;
use credbroker::emulator::{self, EmulatorOptions, Fault, RunningEmulator};
use credbroker::env::Env;
use credbroker::source::{CredentialSource, ErrorKind};
use credbroker::sso::login::{device_login, LoginOptions};
use credbroker::store::Vault;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const DEPLOY: &str = "arn:aws:iam::222222222222:role/Deploy";

const SESSION: &str = "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n\
    sso_region = us-east-1\nsso_registration_scopes = sso:account:access\n";

async fn emulator() -> RunningEmulator {
    emulator::start(
        "127.0.0.1:0".parse().unwrap(),
        EmulatorOptions {
            auto_approve: true,
            ..EmulatorOptions::default()
        },
    )
    .await
    .unwrap()
}

/// `[profile NAME]` signing in through the `corp` session for ROLE in
/// ACCOUNT, then the lines in `extra`.
fn sso_profile(name: &str, account: &str, role: &str, extra: &str) -> String {
    format!(
        "[profile {name}]\ncredbroker_sso_session = corp\ncredbroker_account_id = {account}\n\
         credbroker_role_name = {role}\n{extra}"
    )
}

/// The chain every test here starts from: `admin` (SSO, account
/// 111111111111) and `deploy` (the Deploy role of 222222222222, assumed
/// from admin), each followed by its `extra` lines, then `rest`.
fn chained_config(admin_extra: &str, deploy_extra: &str, rest: &str) -> String {
    format!(
        "{SESSION}{}[profile deploy]\nrole_arn = {DEPLOY}\nsource_profile = admin\n\
         external_id = credbroker-demo\n{deploy_extra}{rest}",
        sso_profile(
            "admin",
            "111111111111",
            "Admin",
            &format!("region = us-east-1\n{admin_extra}")
        )
    )
}

fn write(dir: &Path, text: &str) -> (PathBuf, AwsConfig) {
    let path = dir.join("config");
    std::fs::write(&path, text).unwrap();
    let config = AwsConfig::parse(text, &path).unwrap();
    (path, config)
}

fn stat(emu: &RunningEmulator, operation: &str) -> u64 {
    emu.stats().get(operation).copied().unwrap_or_default()
}

fn arm(emu: &RunningEmulator, operation: &str, status: u16) {
    emu.emulator().set_faults(HashMap::from([(
        operation.to_string(),
        Fault {
            status: Some(status),
            count: Some(1),
            ..Fault::default()
        },
    )]));
}

/// Sign in to session `corp` with `ctx`'s clients.
async fn signed_in(ctx: &Context, config: &AwsConfig) -> Vault {
    let vault = Vault::in_memory();
    let session = config.session("corp").unwrap();
    device_login(&session, &vault, &LoginOptions::no_browser(ctx.clone()))
        .await
        .unwrap();
    vault
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_services_section_points_the_sign_in_the_portal_and_sts_at_the_emulator() {
    let emu = emulator().await;
    let url = emu.base_url();
    let dir = tempfile::tempdir().unwrap();
    let (path, config) = write(
        dir.path(),
        &chained_config(
            "services = emulator\n",
            "services = emulator\n",
            &format!(
                "# The same role from the same source, but this hop's own profile\n\
                 # sends STS elsewhere (a closed port), once.\n\
                 [profile deploy-elsewhere]\nrole_arn = {DEPLOY}\nsource_profile = admin\n\
                 external_id = credbroker-demo\nendpoint_url = http://127.0.0.1:1\nmax_attempts = 1\n\
                 [services emulator]\n\
                 sso =\n  endpoint_url = {url}\n\
                 sso_oidc =\n  endpoint_url = {url}/\n\
                 sts =\n  endpoint_url = {url}\n"
            ),
        ),
    );
    // No AWS_ENDPOINT_URL: only the file names the emulator.
    let ctx = Context::new(Env::empty());
    assert_eq!(ctx.clients.endpoint(credbroker::sdk::Service::Sts), None);

    // `credbroker login --profile admin` signs in with the profile's settings.
    let vault = signed_in(&ctx.for_profile(&config, "admin").unwrap(), &config).await;
    assert_eq!(
        stat(&emu, "StartDeviceAuthorization"),
        1,
        "{:?}",
        emu.stats()
    );

    let broker = Broker::new(vault, path, &ctx);
    let creds = broker.credentials("deploy").await.unwrap();
    assert_eq!(creds.account_id.as_deref(), Some("222222222222"));
    assert_eq!(stat(&emu, "GetRoleCredentials"), 1, "{:?}", emu.stats());
    assert_eq!(stat(&emu, "AssumeRole"), 1, "{:?}", emu.stats());

    // Each hop with its own profile's settings: the source (admin) still
    // comes from the emulator's portal, the hop's STS call goes where
    // deploy-elsewhere says, and fails there.
    let e = broker.credentials("deploy-elsewhere").await.unwrap_err();
    assert!(e.is(ErrorKind::Upstream), "{e:?}");
    assert!(
        e.message().contains("http://127.0.0.1:1"),
        "{}",
        e.message()
    );
    assert_eq!(stat(&emu, "AssumeRole"), 1, "{:?}", emu.stats());
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_attempts_one_fails_a_500_at_once_and_the_default_retries_it() {
    let emu = emulator().await;
    let url = emu.base_url();
    let dir = tempfile::tempdir().unwrap();
    let (path, config) = write(
        dir.path(),
        &chained_config(
            "",
            "",
            &format!(
                "{}{}",
                sso_profile("readonly", "111111111111", "ReadOnly", ""),
                sso_profile(
                    "prod-once",
                    "222222222222",
                    "ReadOnly",
                    "max_attempts = 1\n"
                )
            ),
        ),
    );
    let standard = Context::new(Env::from_pairs([("AWS_ENDPOINT_URL", url.as_str())]));
    let once = Context::new(Env::from_pairs([
        ("AWS_ENDPOINT_URL", url.as_str()),
        ("AWS_MAX_ATTEMPTS", "1"),
    ]));
    let vault = signed_in(&standard, &config).await;
    let standard_broker = Broker::new(vault, path.clone(), &standard);
    let once_broker = Broker::new(signed_in(&standard, &config).await, path, &once);

    // STS, AWS_MAX_ATTEMPTS=1: one attempt, and the 500 is the answer.
    let before = stat(&emu, "AssumeRole");
    arm(&emu, "AssumeRole", 500);
    let e = once_broker.credentials("deploy").await.unwrap_err();
    assert!(e.is(ErrorKind::Upstream), "{e:?}");
    assert!(e.message().contains("InternalFailure"), "{}", e.message());
    assert_eq!(stat(&emu, "AssumeRole") - before, 1, "{:?}", emu.stats());

    // The default (standard, three attempts) retries the same 500.
    let before = stat(&emu, "AssumeRole");
    arm(&emu, "AssumeRole", 500);
    let creds = standard_broker.credentials("deploy").await.unwrap();
    assert_eq!(creds.account_id.as_deref(), Some("222222222222"));
    assert_eq!(stat(&emu, "AssumeRole") - before, 2, "{:?}", emu.stats());

    // The portal, with the profile's own `max_attempts = 1`.
    let before = stat(&emu, "GetRoleCredentials");
    arm(&emu, "GetRoleCredentials", 500);
    let e = standard_broker.credentials("prod-once").await.unwrap_err();
    assert!(e.is(ErrorKind::Upstream), "{e:?}");
    assert_eq!(
        stat(&emu, "GetRoleCredentials") - before,
        1,
        "{:?}",
        emu.stats()
    );
    let before = stat(&emu, "GetRoleCredentials");
    arm(&emu, "GetRoleCredentials", 500);
    standard_broker.credentials("readonly").await.unwrap();
    assert_eq!(
        stat(&emu, "GetRoleCredentials") - before,
        2,
        "{:?}",
        emu.stats()
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn a_bad_setting_in_the_served_profile_is_a_config_error_naming_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write(
        dir.path(),
        &format!(
            "{SESSION}{}",
            sso_profile("fast", "111111111111", "Admin", "retry_mode = fast\n")
        ),
    );
    let ctx = Context::new(Env::empty());
    let broker = Broker::new(Vault::in_memory(), path.clone(), &ctx);
    let e = broker.credentials("fast").await.unwrap_err();
    assert!(e.is(ErrorKind::Config), "{e:?}");
    let expected = format!(
        "`retry_mode` in profile 'fast' ({}) is `fast`",
        path.display()
    );
    assert!(e.message().starts_with(&expected), "{}", e.message());
}

/// The URL the Rust SDK's own endpoint rules give a client of `$sdk` with
/// these settings, in us-east-1.
macro_rules! sdk_url {
    ($sdk:ident, $settings:expr) => {{
        use $sdk::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
        let s: &credbroker::sdk::ServiceSettings = $settings;
        let params = Params::builder()
            .region("us-east-1")
            .use_fips(s.use_fips)
            .use_dual_stack(s.use_dual_stack)
            .set_endpoint(s.endpoint.clone())
            .build()
            .unwrap();
        DefaultResolver::new()
            .resolve_endpoint(&params)
            .await
            .map(|e| e.url().trim_end_matches('/').to_string())
            .map_err(|e| e.to_string())
    }};
}

/// botocore, a client nobody here wrote, reads the same file and
/// environment: for each case it resolves the three services' endpoints,
/// the retry mode and attempts, and the FIPS and dual-stack flags (or
/// refuses), and credbroker's resolution must agree, down to the URL the
/// Rust SDK's endpoint rules then pick.
#[tokio::test]
async fn botocore_resolves_the_same_endpoints_and_retries() {
    let python = std::env::var("CREDBROKER_TEST_PYTHON")
        .expect("CREDBROKER_TEST_PYTHON is unset: run the suite with scripts/test.sh");
    let dir = tempfile::tempdir().unwrap();
    let (path, config) = write(
        dir.path(),
        "[profile all]\nendpoint_url = http://profile-global\nservices = local\n\
         max_attempts = 7\nretry_mode = adaptive\n\
         [profile global-only]\nendpoint_url = http://profile-global/\n\
         [profile services-only]\nservices = local\n\
         [profile ignoring]\nendpoint_url = http://profile-global\nservices = local\n\
         ignore_configured_endpoint_urls = true\n\
         [profile not-ignoring]\nendpoint_url = http://profile-global\n\
         ignore_configured_endpoint_urls = false\n\
         [profile fips]\nuse_fips_endpoint = true\nuse_dualstack_endpoint = true\n\
         [profile fips-and-url]\nuse_fips_endpoint = true\nendpoint_url = http://profile-global\n\
         [profile plain]\nregion = us-east-1\n\
         [profile missing-services]\nservices = nowhere\n\
         [profile bad-mode]\nretry_mode = fast\n\
         [profile bad-attempts]\nmax_attempts = 0\n\
         [services local]\nsts =\n  endpoint_url = http://services-sts\n\
         sso =\n  endpoint_url = http://services-sso/\n",
    );
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("all", vec![]),
        (
            "all",
            vec![
                ("AWS_ENDPOINT_URL", "http://env-global"),
                ("AWS_ENDPOINT_URL_STS", "http://env-sts"),
            ],
        ),
        (
            "all",
            vec![("AWS_ENDPOINT_URL_SSO_OIDC", "http://env-oidc")],
        ),
        ("all", vec![("AWS_ENDPOINT_URL", "")]),
        ("all", vec![("AWS_MAX_ATTEMPTS", "1")]),
        ("all", vec![("AWS_RETRY_MODE", "standard")]),
        ("all", vec![("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")]),
        ("services-only", vec![]),
        ("global-only", vec![]),
        ("ignoring", vec![("AWS_ENDPOINT_URL", "http://env-global")]),
        (
            "ignoring",
            vec![("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false")],
        ),
        (
            "not-ignoring",
            vec![("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")],
        ),
        ("fips", vec![]),
        ("fips", vec![("AWS_USE_FIPS_ENDPOINT", "false")]),
        ("fips-and-url", vec![]),
        ("plain", vec![("AWS_USE_DUALSTACK_ENDPOINT", "true")]),
        ("plain", vec![("AWS_MAX_ATTEMPTS", "x")]),
        ("plain", vec![("AWS_MAX_ATTEMPTS", "0")]),
        ("plain", vec![("AWS_RETRY_MODE", "fast")]),
        ("missing-services", vec![]),
        ("bad-mode", vec![]),
        ("bad-attempts", vec![]),
    ];
    let input: Vec<serde_json::Value> = cases
        .iter()
        .map(|(profile, env)| {
            let env: serde_json::Map<String, serde_json::Value> = env
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
                .collect();
            serde_json::json!({"profile": profile, "env": env})
        })
        .collect();
    let script = r#"
import json, os, sys
import botocore.session
for case in json.load(sys.stdin):
    for k in [k for k in os.environ if k.startswith("AWS_") and k != "AWS_CONFIG_FILE"]:
        del os.environ[k]
    os.environ.update(case["env"])
    out = {}
    try:
        s = botocore.session.Session(profile=case["profile"])
        for svc in ["sso", "sso-oidc", "sts"]:
            c = s.create_client(svc, region_name="us-east-1",
                                aws_access_key_id="x", aws_secret_access_key="y")
            out[svc] = c.meta.endpoint_url
        out["retries"] = c.meta.config.retries
        out["fips"] = bool(c.meta.config.use_fips_endpoint)
        out["dualstack"] = bool(c.meta.config.use_dualstack_endpoint)
    except Exception as e:
        out = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(out))
"#;
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .env("AWS_CONFIG_FILE", &path)
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.path().join("credentials"),
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), &input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "botocore failed");
    let answers: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), cases.len());
    use credbroker::sdk::settings::{resolve, ProfileSource, RetryMode};
    use credbroker::sdk::Service;
    for ((profile, env), boto) in cases.iter().zip(&answers) {
        let ours = resolve(
            |name| {
                env.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            },
            Some(ProfileSource {
                config: &config,
                profile: config.profile(profile).unwrap(),
            }),
        );
        let case = format!("{profile} {env:?}: botocore {boto}");
        let Ok(ours) = ours else {
            assert!(boto.get("error").is_some(), "{case}; ours {ours:?}");
            continue;
        };
        assert!(boto.get("error").is_none(), "{case}; ours {ours:?}");
        let urls = [
            ("sso", sdk_url!(aws_sdk_sso, &ours.service(Service::Portal))),
            (
                "sso-oidc",
                sdk_url!(aws_sdk_ssooidc, &ours.service(Service::Oidc)),
            ),
            ("sts", sdk_url!(aws_sdk_sts, &ours.service(Service::Sts))),
        ];
        for (name, url) in urls {
            let theirs = boto[name].as_str().unwrap().trim_end_matches('/');
            assert_eq!(url.as_deref(), Ok(theirs), "{name} in {case}");
        }
        let mode = match ours.retry.mode {
            RetryMode::Standard => "standard",
            RetryMode::Adaptive => "adaptive",
        };
        assert_eq!(boto["retries"]["mode"], mode, "{case}");
        let attempts = boto["retries"]["total_max_attempts"].as_u64().unwrap_or(3);
        assert_eq!(u64::from(ours.retry.max_attempts), attempts, "{case}");
        assert_eq!(boto["fips"], ours.use_fips, "{case}");
        assert_eq!(boto["dualstack"], ours.use_dual_stack, "{case}");
    }
}

/// A bad variable stops a command before it does anything, named.
#[test]
fn a_bad_variable_stops_the_command_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    for (name, value) in [
        ("AWS_MAX_ATTEMPTS", "0"),
        ("AWS_MAX_ATTEMPTS", "x"),
        ("AWS_RETRY_MODE", "fast"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_credbroker"))
            .args(["credential-process", "--profile", "dev"])
            .env_clear()
            .env("HOME", dir.path())
            .env("AWS_CONFIG_FILE", dir.path().join("config"))
            .env(name, value)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{name}={value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("{name} is `{value}`")),
            "{name}={value}: {stderr}"
        );
    }
}

/// The offline commands (the linters, completions) make no AWS call, so a
/// bad SDK setting does not stop them.
#[test]
fn a_bad_variable_does_not_stop_an_offline_command() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("trust.json");
    std::fs::write(&policy, r#"{"Version": "2012-10-17", "Statement": []}"#).unwrap();
    for args in [
        vec!["trust", "lint", policy.to_str().unwrap()],
        vec!["completions", "bash"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_credbroker"))
            .args(&args)
            .env_clear()
            .env("HOME", dir.path())
            .env("AWS_MAX_ATTEMPTS", "x")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("AWS_MAX_ATTEMPTS"), "{args:?}: {stderr}");
        assert!(out.status.success(), "{args:?}: {stderr}");
    }
}
