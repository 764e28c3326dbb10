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
//! and trades what they print.
//!
//! One emulator serves the whole file, in this process.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use support::BIN;

const GITLAB_ROLE: &str = "arn:aws:iam::111111111111:role/GitLabDeploy";

/// A block of a docs page: the fenced block after `<!-- test: NAME -->`.
fn doc_block(page: &str, name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(page);
    let text = std::fs::read_to_string(&path).unwrap();
    let marker = format!("<!-- test: {name} -->");
    let rest = &text[text
        .find(&marker)
        .unwrap_or_else(|| panic!("{page} has no {marker}"))..];
    let body = rest.split_once("```").unwrap().1;
    let body = body.split_once('\n').unwrap().1;
    body.split_once("\n```").unwrap().0.to_string() + "\n"
}

fn yaml(page: &str) -> yaml_rust2::Yaml {
    yaml_rust2::YamlLoader::load_from_str(&doc_block(page, "ci-job"))
        .unwrap()
        .remove(0)
}

/// The emulator, with the docs' trust policies for the roles it has no default for.
fn emulator() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let mut roles = credbroker::emulator::roles::Roles::default();
        for (ci, role) in [
            ("circleci", "CircleCIDeploy"),
            ("buildkite", "BuildkiteDeploy"),
            ("bitbucket", "BitbucketDeploy"),
        ] {
            let policy = doc_block(&format!("docs/ci/{ci}.md"), "trust-policy");
            roles.roles.insert(
                format!("arn:aws:iam::111111111111:role/{role}"),
                credbroker::policy::TrustPolicy::parse(&policy).unwrap(),
            );
        }
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async move {
                let options = credbroker::emulator::EmulatorOptions {
                    roles,
                    ..Default::default()
                };
                let running = credbroker::emulator::start("127.0.0.1:0".parse().unwrap(), options)
                    .await
                    .unwrap();
                tx.send(running.base_url()).unwrap();
                std::future::pending::<()>().await;
            });
        });
        rx.recv().unwrap()
    })
}

/// `POST /_emulator/oidc/mint` -> the token.
fn mint(issuer: &str, claims: serde_json::Value) -> String {
    use std::io::{Read, Write};
    let base = emulator();
    let addr = base.strip_prefix("http://").unwrap();
    let body = serde_json::json!({ "issuer": issuer, "claims": claims }).to_string();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST /_emulator/oidc/mint HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{response}");
    let v: serde_json::Value = serde_json::from_str(&support::dechunk(body)).unwrap();
    v["token"].as_str().unwrap().to_string()
}

/// A job's machine: a temporary HOME, `bin/` first on PATH with credbroker,
/// an `aws` that is Debian's, and that CI's variables. Background servers
/// that `--detach` started are stopped when it is dropped.
struct Job {
    dir: tempfile::TempDir,
    vars: Vec<(String, String)>,
    pids: std::cell::RefCell<Vec<u32>>,
}

impl Drop for Job {
    fn drop(&mut self) {
        for pid in self.pids.borrow().iter() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

impl Job {
    fn new(ci_vars: &[(&str, &str)]) -> Job {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink(BIN, bin.join("credbroker")).unwrap();
        let aws = std::env::var("CREDBROKER_TEST_AWS_CLI")
            .expect("CREDBROKER_TEST_AWS_CLI is unset: run the suite with scripts/test.sh");
        // Debian 12's AWS CLI (2.9) reads neither AWS_ENDPOINT_URL nor
        // AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (both came later): hand
        // it the emulator's URL and the token the file holds.
        write_script(
            &bin.join("aws"),
            &format!(
                "AWS_CONTAINER_AUTHORIZATION_TOKEN=\"$(cat \"$AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE\")\" \
                 exec {aws} --endpoint-url \"$AWS_ENDPOINT_URL\" --output json \"$@\"\n"
            ),
        );
        let home = dir.path().to_string_lossy().into_owned();
        let mut vars: Vec<(String, String)> = [
            ("PATH", format!("{}:/usr/bin:/bin", bin.display())),
            ("HOME", home.clone()),
            ("CREDBROKER_RUNTIME_DIR", format!("{home}/run")),
            ("AWS_CONFIG_FILE", format!("{home}/no-config")),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                format!("{home}/no-credentials"),
            ),
            ("AWS_ENDPOINT_URL", emulator().to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        vars.extend(ci_vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Job {
            dir,
            vars,
            pids: Default::default(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        cmd
    }

    /// Run a script as the CI runs it (`bash -e`), remembering background servers.
    fn script(&self, script: &str, extra: &[(&str, &str)]) -> Output {
        let out = self
            .command("bash")
            .args(["-e", "-o", "pipefail", "-c", script])
            .envs(extra.iter().copied())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        for pid in stdout.split("(pid ").skip(1) {
            if let Some(pid) = pid.split(',').next().and_then(|p| p.parse().ok()) {
                self.pids.borrow_mut().push(pid);
            }
        }
        out
    }

    fn credbroker(&self, args: &[&str]) -> Output {
        self.command(BIN).args(args).output().unwrap()
    }
}

fn write_script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `aws sts get-caller-identity` printed this role's session.
fn assert_caller(out: &Output, role: &str, session: &str) {
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let arn = format!("arn:aws:sts::111111111111:assumed-role/{role}/{session}");
    assert!(stdout.contains(&arn), "expected {arn} in {stdout}");
}

/// The lines of a YAML list of strings.
fn lines(list: &yaml_rust2::Yaml) -> String {
    list.as_vec()
        .unwrap()
        .iter()
        .map(|l| format!("{}\n", l.as_str().unwrap()))
        .collect()
}

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

#[test]
fn buildkite_step_asks_the_agent() {
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
