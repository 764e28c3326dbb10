//! `credbroker login --export-aws-cli-cache` writes the token where the AWS
//! CLI and the SDKs look for it, and boto3 (from PyPI, installed by
//! `scripts/test.sh`) then uses a plain `sso_session` profile against the
//! emulator with no sign-in of its own: GetRoleCredentials at the portal
//! (through `AWS_ENDPOINT_URL`) and a signed STS GetCallerIdentity.

mod support;

use sha1::Digest;
use support::Env;

fn python() -> String {
    std::env::var("CREDBROKER_TEST_PYTHON")
        .expect("CREDBROKER_TEST_PYTHON is unset: run the suite with scripts/test.sh")
}

const CALLER_IDENTITY: &str = "\
import boto3, json, os
session = boto3.Session(profile_name='prod')
sts = session.client('sts', endpoint_url=os.environ['AWS_ENDPOINT_URL'], region_name='us-east-1')
print(json.dumps(sts.get_caller_identity()))
";

fn boto3_caller_identity(env: &Env) -> std::process::Output {
    let mut cmd = std::process::Command::new(python());
    env.apply_env(&mut cmd);
    cmd.args(["-c", CALLER_IDENTITY]).output().unwrap()
}

#[test]
fn boto3_signs_in_from_the_exported_cache() {
    let env = Env::new("aws-cli-cache", &["--auto-approve"]);
    env.write_standard_config();
    let cache = env
        .home
        .path()
        .join(".aws/sso/cache")
        .join(format!("{}.json", hex::encode(sha1::Sha1::digest(b"corp"))));

    // Off by default: a sign-in leaves no plaintext token behind, and boto3
    // has nothing to use.
    let out = env.run(&["login", "--sso-session", "corp", "--device-code"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!cache.exists());
    let out = boto3_caller_identity(&env);
    assert!(!out.status.success(), "boto3 worked without the cache?");

    let out = env.run(&[
        "login",
        "--sso-session",
        "corp",
        "--device-code",
        "--export-aws-cli-cache",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(".aws/sso/cache"), "{stderr}");

    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cache).unwrap()).unwrap();
    assert_eq!(v["startUrl"], "https://corp.awsapps.com/start");
    assert_eq!(v["region"], "us-east-1");
    for key in ["accessToken", "clientId", "clientSecret", "refreshToken"] {
        assert!(v[key].as_str().is_some_and(|s| !s.is_empty()), "{key}: {v}");
    }
    for key in ["expiresAt", "registrationExpiresAt"] {
        let t = v[key].as_str().unwrap();
        assert!(t.len() == 20 && t.ends_with('Z'), "{key}: {t}");
    }
    assert!(!stderr.contains(v["accessToken"].as_str().unwrap()));

    let out = boto3_caller_identity(&env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let identity: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(identity["Account"], "222222222222");
    assert!(
        identity["Arn"]
            .as_str()
            .unwrap()
            .contains(":assumed-role/ReadOnly/"),
        "{identity}"
    );

    // Signing out leaves no plaintext token behind.
    let out = env.run(&["logout", "--sso-session", "corp"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("Removed the AWS CLI token cache"),
        "{stderr}"
    );
    assert!(!cache.exists());

    // A cache file of the AWS CLI's own sign-in is not credbroker's to remove.
    let out = env.run(&["login", "--sso-session", "corp", "--device-code"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let own = r#"{"startUrl":"https://corp.awsapps.com/start","region":"us-east-1","accessToken":"from-aws-sso-login","expiresAt":"2030-01-01T00:00:00Z"}"#;
    std::fs::write(&cache, own).unwrap();
    let out = env.run(&["logout", "--sso-session", "corp"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("aws sso logout"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&cache).unwrap(), own);
}
