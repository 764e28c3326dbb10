//! Every CI token source, end to end: a token shaped like the one that CI
//! gives a job is minted by the emulator's issuer for it, and the job's
//! script, read out of that CI's page under docs/ci/, runs with that CI's
//! environment and no AWS config file; a later line's AWS CLI call (Debian's
//! /usr/bin/aws) must succeed as the role. The trust policies are the pages'
//! too, so the docs cannot drift from what is tested.
//!
//! The `circleci` and `buildkite-agent` CLIs are stand-ins on `PATH` that
//! record how they were called and print a token the emulator minted: what
//! is checked is that credbroker calls them with the documented arguments
//! and trades what they print, again before each (15-second) role session
//! ends where the source can mint again.
//!
//! One emulator serves the whole file, in this process ([`ci_job`]).

#[path = "support/ci_job.rs"]
mod ci_job;
mod support;

use ci_job::{assert_caller, doc_block, lines, mint, text, write_script, yaml, Job};
use std::process::Stdio;
use support::BIN;

const GITLAB_ROLE: &str = "arn:aws:iam::111111111111:role/GitLabDeploy";

#[test]
fn gitlab_id_token_with_no_config_file() {
    let token = mint("gitlab", serde_json::json!({}));
    let job = Job::new(&[
        ("GITLAB_CI", "true"),
        ("CI_JOB_ID", "4711"),
        ("GITLAB_OIDC_TOKEN", &token),
    ]);
    // The issue's own command: no config file, the CI detected.
    let out = job.credbroker(&["ci", "--role-arn", GITLAB_ROLE, "--once"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let creds: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(creds["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
    assert!(!job.path("no-config").exists());

    // The documented job, with its variables.
    let doc = yaml("docs/ci/gitlab.md");
    let deploy = &doc["deploy"];
    assert_eq!(
        deploy["id_tokens"]["GITLAB_OIDC_TOKEN"]["aud"].as_str(),
        Some("https://gitlab.com")
    );
    let region = deploy["variables"]["AWS_REGION"].as_str().unwrap();
    let out = job.script(&lines(&deploy["script"]), &[("AWS_REGION", region)]);
    assert_caller(&out, "GitLabDeploy", "credbroker-gitlab-4711");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot be renewed: it expires at"),
        "{stderr}"
    );
    let env_file = std::fs::read_to_string(job.path("credbroker.env")).unwrap();
    assert!(env_file.contains("AWS_REGION=eu-west-1\n"), "{env_file}");
    let served_token = std::fs::read_to_string(job.path("run/token")).unwrap();
    assert!(!env_file.contains(served_token.trim()), "{env_file}");

    // The documented policy is the emulator's default role.
    assert_eq!(
        credbroker::policy::TrustPolicy::parse(&doc_block("docs/ci/gitlab.md", "trust-policy"))
            .unwrap(),
        credbroker::policy::TrustPolicy::parse(credbroker::emulator::roles::GITLAB_TRUST_POLICY)
            .unwrap()
    );

    // A tag named main is not the main branch.
    let tag = mint(
        "gitlab",
        serde_json::json!({"sub": "project_path:octo-group/octo-project:ref_type:tag:ref:main"}),
    );
    let out = job
        .command(BIN)
        .args(["ci", "--role-arn", GITLAB_ROLE, "--once"])
        .env("GITLAB_OIDC_TOKEN", &tag)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("AccessDenied"),
        "{stderr}"
    );

    // An expired token is refused before STS, with what to do.
    let old = chrono::Utc::now().timestamp() - 60;
    let expired = mint("gitlab", serde_json::json!({"exp": old}));
    let out = job
        .command(BIN)
        .args(["ci", "--role-arn", GITLAB_ROLE, "--once"])
        .env("GITLAB_OIDC_TOKEN", &expired)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("expired at") && stderr.contains("timeout:"),
        "{stderr}"
    );

    // No id_tokens entry: the error shows the YAML to add.
    let out = job
        .command(BIN)
        .args(["ci", "--role-arn", GITLAB_ROLE, "--once"])
        .env_remove("GITLAB_OIDC_TOKEN")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(stderr.contains("id_tokens:"), "{stderr}");
}

#[test]
fn circleci_job_renews_with_the_cli() {
    let org = credbroker::emulator::issuers::CIRCLECI_ORG_ID;
    let job = Job::new(&[
        ("CIRCLECI", "true"),
        ("CIRCLE_BUILD_NUM", "99"),
        (
            "CIRCLE_OIDC_TOKEN_V2",
            &mint("circleci", serde_json::json!({})),
        ),
    ]);
    std::fs::write(job.path("bash_env"), "").unwrap();
    std::fs::write(
        job.path("fresh-token"),
        mint("circleci", serde_json::json!({})),
    )
    .unwrap();
    let log = job.path("circleci.log");
    write_script(
        &job.path("bin/circleci"),
        &format!(
            "printf '%s\\n' \"$*\" >> {}\ncat {}\n",
            log.display(),
            job.path("fresh-token").display()
        ),
    );
    let doc = yaml("docs/ci/circleci.md");
    let deploy = &doc["jobs"]["deploy"];
    let region = deploy["environment"]["AWS_REGION"].as_str().unwrap();
    let bash_env = job.path("bash_env").to_string_lossy().into_owned();
    let mut last = None;
    // Each `run` step is a new bash that sources $BASH_ENV, as on CircleCI.
    for step in deploy["steps"].as_vec().unwrap() {
        let run = &step["run"];
        if run.is_badvalue() || run["name"].as_str() == Some("Install credbroker") {
            continue;
        }
        let out = job.script(
            run["command"].as_str().unwrap(),
            &[("AWS_REGION", region), ("BASH_ENV", &bash_env)],
        );
        assert!(
            out.status.success(),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        last = Some(out);
    }
    assert_caller(&last.unwrap(), "CircleCIDeploy", "credbroker-circleci-99");
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(
        calls.contains(&format!("run oidc get --claims {{\"aud\":\"{org}\"}}")),
        "{calls}"
    );
    let exported = std::fs::read_to_string(job.path("bash_env")).unwrap();
    assert!(
        exported.contains("export AWS_CONTAINER_CREDENTIALS_FULL_URI="),
        "{exported}"
    );
}

/// The Buildkite agent is asked again before each role session ends: the
/// job outlives one credential lifetime.
#[test]
fn buildkite_step_asks_the_agent_and_renews() {
    let job = Job::new(&[("BUILDKITE", "true"), ("BUILDKITE_BUILD_NUMBER", "7")]);
    std::fs::write(
        job.path("fresh-token"),
        mint("buildkite", serde_json::json!({})),
    )
    .unwrap();
    let log = job.path("agent.log");
    write_script(
        &job.path("bin/buildkite-agent"),
        &format!(
            "printf '%s\\n' \"$*\" >> {}\ncat {}\n",
            log.display(),
            job.path("fresh-token").display()
        ),
    );
    let doc = yaml("docs/ci/buildkite.md");
    let step = &doc["steps"][0];
    let region = step["env"]["AWS_REGION"].as_str().unwrap();
    let out = job.script(step["command"].as_str().unwrap(), &[("AWS_REGION", region)]);
    assert_caller(&out, "BuildkiteDeploy", "credbroker-buildkite-7");
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(
        calls.contains("oidc request-token --audience sts.amazonaws.com --lifetime 300"),
        "{calls}"
    );
    let deadline = std::time::Instant::now()
        + std::time::Duration::from_secs(3 * ci_job::CREDENTIALS_TTL_SECS);
    let renewed = loop {
        let calls = std::fs::read_to_string(&log).unwrap();
        if calls.lines().count() >= 2 || std::time::Instant::now() > deadline {
            break calls;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert!(
        renewed.lines().count() >= 2,
        "no new token before the {}s session ended: {renewed}",
        ci_job::CREDENTIALS_TTL_SECS
    );
    // After the renewal the same endpoint serves the new session.
    let later = "set -a; . ./credbroker.env; set +a\naws sts get-caller-identity\n";
    assert_caller(
        &job.script(later, &[]),
        "BuildkiteDeploy",
        "credbroker-buildkite-7",
    );
}

#[test]
fn bitbucket_step_token_and_the_warning_before_it_expires() {
    let token = mint("bitbucket", serde_json::json!({}));
    let job = Job::new(&[
        ("BITBUCKET_BUILD_NUMBER", "12"),
        ("BITBUCKET_STEP_OIDC_TOKEN", &token),
    ]);
    let doc = yaml("docs/ci/bitbucket.md");
    let step = &doc["pipelines"]["branches"]["main"][0]["step"];
    assert_eq!(step["oidc"].as_bool(), Some(true));
    let out = job.script(&lines(&step["script"]), &[]);
    assert_caller(&out, "BitbucketDeploy", "credbroker-bitbucket-12");

    // A token with two minutes left: the server warns at once.
    let soon = chrono::Utc::now().timestamp() + 120;
    let short = mint("bitbucket", serde_json::json!({"exp": soon}));
    let mut server = job
        .command(BIN)
        .args([
            "ci",
            "--role-arn",
            "arn:aws:iam::111111111111:role/BitbucketDeploy",
        ])
        .env("BITBUCKET_STEP_OIDC_TOKEN", &short)
        .env("CREDBROKER_RUNTIME_DIR", job.path("run2"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = server.stderr.take().unwrap();
    let seen = std::thread::spawn(move || {
        use std::io::BufRead as _;
        let mut seen = String::new();
        for line in std::io::BufReader::new(stderr).lines() {
            let line = line.unwrap();
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("warning:") {
                break;
            }
        }
        seen
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !seen.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = server.kill();
    let _ = server.wait();
    let seen = seen.join().unwrap();
    assert!(seen.contains("cannot be renewed: it expires at"), "{seen}");
    assert!(
        seen.contains("warning: the job's token expires at"),
        "{seen}"
    );
    assert!(!seen.contains(&short));
}

#[test]
fn env_and_command_sources_outside_any_ci() {
    let job = Job::new(&[]);
    let token = mint("gitlab", serde_json::json!({}));
    let out = job.credbroker(&["ci", "--role-arn", GITLAB_ROLE, "--once"]);
    let stderr = text(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("no CI detected"),
        "{stderr}"
    );

    let out = job
        .command(BIN)
        .args([
            "ci",
            "--role-arn",
            GITLAB_ROLE,
            "--source",
            "env:MY_JWT",
            "--once",
        ])
        .env("MY_JWT", &token)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));

    std::fs::write(job.path("jwt"), &token).unwrap();
    let out = job.credbroker(&[
        "ci",
        "--role-arn",
        GITLAB_ROLE,
        "--source",
        "command:cat jwt",
        "--once",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let creds: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(creds["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));

    // The same source named by a profile.
    std::fs::write(
        job.path("no-config"),
        format!(
            "[profile gl]\ncredbroker_web_identity_role_arn = {GITLAB_ROLE}\n\
             credbroker_web_identity_source = command:cat jwt\n"
        ),
    )
    .unwrap();
    let out = job.credbroker(&["ci", "--profile", "gl", "--once"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}
