//! `credbroker env --format fish` sourced by a real fish (Debian's `fish`,
//! installed by scripts/test.sh): the variables land, the shadowing ones
//! are gone, and the AWS CLI in that shell reaches the daemon.

mod support;

use support::{on_a_terminal, Env};

#[test]
fn fish_sources_env_and_its_aws_cli_gets_credentials() {
    let mut env = Env::new("fish", &["--auto-approve"]);
    env.write_standard_config();
    env.login();
    let base = env.start_daemon();
    let aws = std::env::var("CREDBROKER_TEST_AWS_CLI")
        .expect("CREDBROKER_TEST_AWS_CLI is unset: run the suite with scripts/test.sh");
    let script = format!(
        "{bin} env --profile dev --format fish | source\n\
         echo \"uri=$AWS_CONTAINER_CREDENTIALS_FULL_URI\"\n\
         set -q AWS_PROFILE; or echo profile-unset\n\
         {aws} --endpoint-url {endpoint} sts get-caller-identity --query Arn --output text\n",
        bin = support::BIN,
        endpoint = env.base_url,
    );
    let mut cmd = std::process::Command::new("fish");
    env.apply_env(&mut cmd);
    let out = cmd
        .args(["--no-config", "-c", &script])
        .env("AWS_PROFILE", "prod")
        .output()
        .expect("fish is missing: scripts/test.sh installs it");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("uri={}/v1/credentials/dev", base.trim())),
        "{stdout}"
    );
    assert!(stdout.contains("profile-unset"), "{stdout}");
    assert!(
        stdout.contains("arn:aws:sts::111111111111:assumed-role/ReadOnly/"),
        "{stdout}"
    );
}

#[test]
fn without_a_profile_a_terminal_gets_a_picker_most_recent_first() {
    let env = Env::new("picker", &[]);
    env.write_standard_config();
    let show = "-- sh -c 'echo \"picked=$AWS_CONTAINER_CREDENTIALS_FULL_URI\"'";

    // With no terminal: a clear error naming the flag.
    let out = env.run(&["exec", "--", "true"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("credbroker exec --profile NAME"),
        "{stderr}"
    );

    // Typing filters the list; Enter takes the match.
    let (ok, text) = on_a_terminal(&env, &format!("exec {show}"), b"prod\r");
    assert!(ok, "{text}");
    assert!(
        text.contains("/v1/credentials/prod\r\n") || text.contains("/v1/credentials/prod\n"),
        "{text}"
    );

    // The profile used last comes first: Enter alone takes it.
    let out = env.run(&["env", "--profile", "admin"]);
    assert!(out.status.success());
    let (ok, text) = on_a_terminal(&env, &format!("exec {show}"), b"\r");
    assert!(ok, "{text}");
    assert!(text.contains("/v1/credentials/admin"), "{text}");
}
