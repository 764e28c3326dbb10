//! Clients nobody here wrote resolve credentials from credbroker and then
//! sign an STS GetCallerIdentity call that the emulator verifies:
//! the AWS CLI v2 from Debian (`/usr/bin/aws`) and boto3 from PyPI, each
//! through the container-credentials endpoint (`credbroker exec`) and
//! through a `credential_process` profile.
//!
//! `scripts/test.sh` installs both and says where they are through
//! `CREDBROKER_TEST_AWS_CLI` and `CREDBROKER_TEST_PYTHON`.

mod support;

use support::Env;

fn aws_cli() -> String {
    std::env::var("CREDBROKER_TEST_AWS_CLI")
        .expect("CREDBROKER_TEST_AWS_CLI is unset: run the suite with scripts/test.sh")
}

fn python() -> String {
    std::env::var("CREDBROKER_TEST_PYTHON")
        .expect("CREDBROKER_TEST_PYTHON is unset: run the suite with scripts/test.sh")
}

fn assert_arn(out: &std::process::Output, account: &str, role: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    let expected = format!("arn:aws:sts::{account}:assumed-role/{role}/");
    assert!(
        stdout.contains(&expected),
        "expected {expected} in {stdout}"
    );
}

fn signed_in_env(name: &str) -> Env {
    let mut env = Env::new(name, &["--auto-approve"]);
    env.write_standard_config();
    env.login();
    env.start_daemon();
    env
}

#[test]
fn aws_cli_through_the_endpoint() {
    let env = signed_in_env("cli-endpoint");
    let out = env
        .command()
        .args(["exec", "--profile", "dev", "--", &aws_cli()])
        .args([
            "sts",
            "get-caller-identity",
            "--output",
            "json",
            "--region",
            "us-east-1",
        ])
        .args(["--endpoint-url", &env.base_url])
        .output()
        .unwrap();
    assert_arn(&out, "111111111111", "ReadOnly");
}

#[test]
fn aws_cli_through_credential_process() {
    let env = signed_in_env("cli-process");
    let mut cmd = std::process::Command::new(aws_cli());
    env.apply_env(&mut cmd);
    let out = cmd
        .args([
            "--profile",
            "cp",
            "sts",
            "get-caller-identity",
            "--output",
            "json",
        ])
        .args(["--endpoint-url", &env.base_url])
        .output()
        .unwrap();
    assert_arn(&out, "222222222222", "ReadOnly");
}

const BOTO3_ENDPOINT: &str = r#"
import os, sys, boto3
sts = boto3.client("sts", endpoint_url=os.environ["EMULATOR"], region_name="us-east-1")
print(sts.get_caller_identity()["Arn"])
"#;

const BOTO3_PROFILE: &str = r#"
import os, sys, boto3
session = boto3.Session(profile_name="cp")
creds = session.get_credentials().get_frozen_credentials()
assert creds.token, "no session token"
sts = session.client("sts", endpoint_url=os.environ["EMULATOR"], region_name="us-east-1")
print(sts.get_caller_identity()["Arn"])
"#;

#[test]
fn boto3_through_the_endpoint() {
    let env = signed_in_env("boto3-endpoint");
    let out = env
        .command()
        .args([
            "exec",
            "--profile",
            "admin",
            "--",
            &python(),
            "-c",
            BOTO3_ENDPOINT,
        ])
        .env("EMULATOR", &env.base_url)
        .output()
        .unwrap();
    assert_arn(&out, "111111111111", "Admin");
}

#[test]
fn boto3_through_credential_process() {
    let env = signed_in_env("boto3-process");
    let mut cmd = std::process::Command::new(python());
    env.apply_env(&mut cmd);
    let out = cmd
        .args(["-c", BOTO3_PROFILE])
        .env("EMULATOR", &env.base_url)
        .output()
        .unwrap();
    assert_arn(&out, "222222222222", "ReadOnly");
}
