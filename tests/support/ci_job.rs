//! A CI job's machine for the CI tests (tests/ci_sources.rs,
//! tests/action.rs): one in-process emulator per test binary, tokens minted
//! by its issuers, blocks read out of the docs, and a temporary HOME with
//! credbroker and Debian's AWS CLI on PATH.

#![allow(dead_code)]

use crate::support::BIN;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// A block of a docs page: the fenced block after `<!-- test: NAME -->`.
pub fn doc_block(page: &str, name: &str) -> String {
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

pub fn yaml(page: &str) -> yaml_rust2::Yaml {
    yaml_rust2::YamlLoader::load_from_str(&doc_block(page, "ci-job"))
        .unwrap()
        .remove(0)
}

/// The lifetime of the emulator's role sessions.
pub const CREDENTIALS_TTL_SECS: u64 = 15;

/// The emulator, with the docs' trust policies for the roles it has no default for.
pub fn emulator() -> &'static str {
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
                // Short role sessions, so a test sees renewals within seconds.
                let options = credbroker::emulator::EmulatorOptions {
                    roles,
                    credentials_ttl: std::time::Duration::from_secs(CREDENTIALS_TTL_SECS),
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
pub fn mint(issuer: &str, claims: serde_json::Value) -> String {
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
    let v: serde_json::Value = serde_json::from_str(&crate::support::dechunk(body)).unwrap();
    v["token"].as_str().unwrap().to_string()
}

/// A job's machine: a temporary HOME, `bin/` first on PATH with credbroker,
/// an `aws` that is Debian's, and that CI's variables. Background servers
/// that `--detach` started are stopped when it is dropped.
pub struct Job {
    pub dir: tempfile::TempDir,
    pub vars: Vec<(String, String)>,
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
    pub fn new(ci_vars: &[(&str, &str)]) -> Job {
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

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        cmd
    }

    /// Run a script as the CI runs it (`bash -e`), remembering background servers.
    pub fn script(&self, script: &str, extra: &[(&str, &str)]) -> Output {
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

    pub fn credbroker(&self, args: &[&str]) -> Output {
        self.command(BIN).args(args).output().unwrap()
    }
}

pub fn write_script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `aws sts get-caller-identity` printed this role's session.
pub fn assert_caller(out: &Output, role: &str, session: &str) {
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let arn = format!("arn:aws:sts::111111111111:assumed-role/{role}/{session}");
    assert!(stdout.contains(&arn), "expected {arn} in {stdout}");
}

/// The lines of a YAML list of strings.
pub fn lines(list: &yaml_rust2::Yaml) -> String {
    list.as_vec()
        .unwrap()
        .iter()
        .map(|l| format!("{}\n", l.as_str().unwrap()))
        .collect()
}
