//! The GitHub Action (`action.yml`), step by step as a runner runs it: each
//! `run:` script of the composite action is taken out of action.yml and
//! run with `bash -e`, with the step's `env:` (its `${{ inputs.* }}`
//! resolved as the runner would), and the files and variables a runner
//! provides: `GITHUB_ENV`, `GITHUB_PATH`, `GITHUB_OUTPUT`, `RUNNER_TEMP`,
//! `RUNNER_TOOL_CACHE` and `ACTIONS_ID_TOKEN_REQUEST_*`, the last pointed at
//! the emulator's GitHub issuer. What a step appends to `GITHUB_ENV` and
//! `GITHUB_PATH` is given to the steps after it.
//!
//! The install step is short-circuited by putting the binary this build
//! made on `PATH` first (as a runner with credbroker preinstalled has it):
//! the step must find it and install nothing, which the test checks. Then a
//! later step's Debian AWS CLI call must be the role, the broker's
//! environment must hold no secret, and the documented final step must stop
//! the broker.

#[path = "support/ci_job.rs"]
mod ci_job;
mod support;

use ci_job::{assert_caller, doc_block, emulator, text, Job};
use std::collections::BTreeMap;
use support::get_json;
use yaml_rust2::Yaml;

/// `${{ EXPR }}` in a step's `env:` value, resolved from what the runner
/// knows; any expression the test does not know fails the test.
fn resolve(
    value: &str,
    inputs: &BTreeMap<String, String>,
    runner: &BTreeMap<&str, String>,
) -> String {
    let Some(expr) = value
        .trim()
        .strip_prefix("${{")
        .and_then(|v| v.strip_suffix("}}"))
    else {
        assert!(!value.contains("${{"), "an expression inside text: {value}");
        return value.to_string();
    };
    let expr = expr.trim();
    if let Some(name) = expr.strip_prefix("inputs.") {
        return inputs
            .get(name)
            .unwrap_or_else(|| panic!("no input {name}"))
            .clone();
    }
    if expr.starts_with("steps.") {
        return runner.get(expr).cloned().unwrap_or_default();
    }
    runner
        .get(expr)
        .unwrap_or_else(|| panic!("the test does not know {expr}"))
        .clone()
}

/// `NAME=value` lines of an environment file (the runner's heredoc form is
/// not used by the action, so it fails the test).
fn env_file_lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            assert!(!l.contains("<<"), "heredoc in an environment file: {l}");
            let (k, v) = l.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn the_action_serves_the_role_to_later_steps_and_stops() {
    let base = emulator();
    let github = get_json(&format!("{base}/_emulator/github"));
    let job = Job::new(&[
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_RUN_ID", "1234"),
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            github["request_url"].as_str().unwrap(),
        ),
        (
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            github["request_token"].as_str().unwrap(),
        ),
    ]);
    for dir in ["temp", "tool-cache"] {
        std::fs::create_dir(job.path(dir)).unwrap();
    }
    let (github_env, github_path) = (job.path("github_env"), job.path("github_path"));
    std::fs::write(&github_env, "").unwrap();
    std::fs::write(&github_path, "").unwrap();

    let action_text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml"),
    )
    .unwrap();
    let action = yaml_rust2::YamlLoader::load_from_str(&action_text)
        .unwrap()
        .remove(0);
    assert_eq!(action["runs"]["using"].as_str(), Some("composite"));
    let mut inputs: BTreeMap<String, String> = action["inputs"]
        .as_hash()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let default = v["default"].as_str().unwrap_or_default().to_string();
            (k.as_str().unwrap().to_string(), default)
        })
        .collect();
    for name in [
        "role-to-assume",
        "aws-region",
        "audience",
        "role-session-name",
        "role-duration-seconds",
        "version",
    ] {
        assert!(inputs.contains_key(name), "no input {name}");
    }
    inputs.insert(
        "role-to-assume".into(),
        "arn:aws:iam::111111111111:role/GitHubDeploy".into(),
    );
    inputs.insert("aws-region".into(), "eu-west-1".into());
    inputs.insert("role-session-name".into(), "octo-deploy".into());
    inputs.insert("role-duration-seconds".into(), "900".into());
    let mut runner: BTreeMap<&str, String> = BTreeMap::from([
        (
            "github.action_repository",
            "octo-org/credbroker".to_string(),
        ),
        (
            "runner.tool_cache",
            job.path("tool-cache").to_string_lossy().into_owned(),
        ),
    ]);

    let mut path = job
        .vars
        .iter()
        .find(|(k, _)| k == "PATH")
        .unwrap()
        .1
        .clone();
    let mut exported: Vec<(String, String)> = Vec::new();
    for step in action["runs"]["steps"].as_vec().unwrap() {
        let script = step["run"].as_str().expect("every step is a run: script");
        assert!(
            !script.contains("${{"),
            "expressions belong in env:, not in the script: {script}"
        );
        assert_eq!(step["shell"].as_str(), Some("bash"));
        let output = job.path("github_output");
        std::fs::write(&output, "").unwrap();
        let mut env: Vec<(String, String)> = exported.clone();
        if let Some(map) = step["env"].as_hash() {
            for (k, v) in map {
                let value = match v {
                    Yaml::String(s) => resolve(s, &inputs, &runner),
                    other => panic!("env value {other:?}"),
                };
                env.push((k.as_str().unwrap().to_string(), value));
            }
        }
        let runner_files = [
            ("PATH", path.clone()),
            ("GITHUB_ENV", github_env.to_string_lossy().into_owned()),
            ("GITHUB_PATH", github_path.to_string_lossy().into_owned()),
            ("GITHUB_OUTPUT", output.to_string_lossy().into_owned()),
            (
                "RUNNER_TEMP",
                job.path("temp").to_string_lossy().into_owned(),
            ),
            (
                "RUNNER_TOOL_CACHE",
                job.path("tool-cache").to_string_lossy().into_owned(),
            ),
        ];
        env.extend(runner_files.iter().map(|(k, v)| (k.to_string(), v.clone())));
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let out = job.script(script, &pairs);
        let name = step["name"].as_str().unwrap_or("step");
        assert!(
            out.status.success(),
            "{name}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        if name == "Install credbroker" {
            assert!(
                text(&out.stdout).contains("nothing to install"),
                "{}",
                text(&out.stdout)
            );
        }
        let id = step["id"].as_str().unwrap_or_default();
        for (k, v) in env_file_lines(&std::fs::read_to_string(&output).unwrap()) {
            let key: &'static str = Box::leak(format!("steps.{id}.outputs.{k}").into_boxed_str());
            runner.insert(key, v);
        }
        exported = env_file_lines(&std::fs::read_to_string(&github_env).unwrap());
        for dir in std::fs::read_to_string(&github_path).unwrap().lines() {
            path = format!("{dir}:{path}");
        }
    }

    // What later steps get: the endpoint and the token file, no secret.
    let names: Vec<&str> = exported.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        names.contains(&"AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        "{names:?}"
    );
    assert!(
        names.contains(&"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
        "{names:?}"
    );
    assert!(
        !names.contains(&"AWS_CONTAINER_AUTHORIZATION_TOKEN"),
        "{names:?}"
    );
    let token_file = &exported
        .iter()
        .find(|(k, _)| k == "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
        .unwrap()
        .1;
    let served_token = std::fs::read_to_string(token_file).unwrap();
    let env_text = std::fs::read_to_string(&github_env).unwrap();
    assert!(!env_text.contains(served_token.trim()));
    assert_eq!(
        runner.get("steps.serve.outputs.token-file"),
        Some(token_file)
    );

    // A later step: Debian's AWS CLI, with what GITHUB_ENV holds.
    let pairs: Vec<(&str, &str)> = exported
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain([("PATH", path.as_str())])
        .collect();
    let out = job.script("aws sts get-caller-identity", &pairs);
    assert_caller(&out, "GitHubDeploy", "octo-deploy");

    // The documented final step stops the broker.
    let pid = runner.get("steps.serve.outputs.pid").unwrap().clone();
    let stop = yaml_rust2::YamlLoader::load_from_str(&doc_block("docs/ci/github.md", "stop-step"))
        .unwrap()
        .remove(0);
    let stop = &stop[0];
    assert_eq!(stop["if"].as_str(), Some("always()"));
    let out = job.script(stop["run"].as_str().unwrap(), &[("CREDBROKER_PID", &pid)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let gone = (0..50).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z "))
    });
    assert!(gone, "the broker {pid} still runs");
}
