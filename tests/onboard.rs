//! `credbroker onboard` end to end: the real binary signs in to the emulator
//! (auto-approved; with PKCE through a `$BROWSER` that fetches the page and
//! follows the redirect back, or with the device code), lists a directory of 200 accounts × 3 roles, writes the
//! managed block into a config file that already has text of its own, and
//! proves the result with the AWS CLI from Debian calling STS through one of
//! the written profiles (`$CREDBROKER_TEST_AWS_CLI`, set by scripts/test.sh).

mod support;

use credbroker::config::AwsConfig;
use std::path::Path;
use support::Env;

const ACCOUNTS: usize = 200;
const ROLES: [&str; 3] = ["ReadOnly", "PowerUser", "Admin"];

/// Text of the person's own that must survive every run byte for byte.
const HEAD: &str = "# my settings\n[default]\nregion = eu-west-1\noutput = json\n\n[profile personal]\nregion = us-west-2\ns3 =\n  max_concurrent_requests = 4\n";
const TAIL: &str = "\n[profile added-later]\nregion = ap-south-1\n";

fn aws_cli() -> String {
    std::env::var("CREDBROKER_TEST_AWS_CLI")
        .expect("CREDBROKER_TEST_AWS_CLI is unset: run the suite with scripts/test.sh")
}

fn account_id(i: usize) -> String {
    format!("{}", 100_000_000_000u64 + i as u64)
}

fn write_directory(dir: &Path) -> std::path::PathBuf {
    let mut toml = String::from("user = \"new.engineer@example.com\"\n");
    for i in 0..ACCOUNTS {
        toml.push_str(&format!(
            "\n[[accounts]]\nid = \"{}\"\nname = \"Team {i:03}\"\nroles = [{}]\n",
            account_id(i),
            ROLES.map(|r| format!("\"{r}\"")).join(", ")
        ));
    }
    let path = dir.join("directory.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

fn write_team_file(dir: &Path, extra: &str) -> String {
    let path = dir.join("team.toml");
    std::fs::write(
        &path,
        format!(
            "start_url = \"https://corp.awsapps.com/start\"\nregion = \"us-east-1\"\n\
             session_name = \"corp\"\nprofile_template = \"{{account_name}}-{{role_name}}\"\n\
             default_region = \"eu-central-1\"\ndefault_profile = \"team-007-readonly\"\n{extra}"
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

/// A `$BROWSER` that fetches the URL it is given in the background and
/// follows its redirects: the auto-approving emulator sends it straight
/// back to credbroker's loopback listener.
fn fetching_browser(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("fetch-url");
    std::fs::write(
        &script,
        "#!/bin/sh
python3 -c 'import sys, urllib.request; \
         urllib.request.build_opener(urllib.request.ProxyHandler({})).open(sys.argv[1]).read()' \
         \"$1\" >/dev/null 2>&1 &\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// `onboard` signing in with PKCE in a "browser" when it must sign in.
fn onboard(env: &Env, team: &str, extra: &[&str]) -> (String, String) {
    let out = env
        .command()
        .args(["onboard", "--team-file", team, "--no-service"])
        .args(["--aws-cli", &aws_cli()])
        .args(extra)
        .env("BROWSER", fetching_browser(env.home.path()))
        .env_remove("SSH_CONNECTION")
        .env_remove("SSH_TTY")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "onboard failed\nstdout: {stdout}\nstderr: {stderr}"
    );
    (stdout, stderr)
}

fn block(text: &str) -> &str {
    let start = text
        .find("# BEGIN credbroker managed: sso-session corp\n")
        .expect("no block");
    let end = text
        .find("# END credbroker managed: sso-session corp\n")
        .expect("no end");
    &text[start..end]
}

#[test]
fn onboarding_writes_600_profiles_idempotently_and_the_aws_cli_uses_one() {
    let scratch = tempfile::tempdir().unwrap();
    let directory = write_directory(scratch.path());
    let env = Env::new(
        "onboard",
        &["--auto-approve", "--directory", directory.to_str().unwrap()],
    );
    let team = write_team_file(scratch.path(), "");
    env.write_config(HEAD);
    let config_path = env.config_path();
    let binary = std::fs::canonicalize(support::BIN).unwrap();

    // A dry run signs in (with PKCE, as `login` does) and lists, shows the
    // diff, writes nothing.
    let (diff, _) = onboard(&env, &team, &["--dry-run"]);
    assert_eq!(env.stat("StartDeviceAuthorization"), 0);
    assert_eq!(env.stat("CreateToken"), 1);
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), HEAD);
    assert!(diff.starts_with("--- "), "{diff}");
    assert_eq!(diff.matches("\n+[profile ").count(), 600, "{diff}");
    assert!(diff.contains("+[profile team-000-poweruser]\n"));
    assert!(!config_path
        .with_file_name("config.credbroker-backup")
        .exists());

    // The real run: 600 profiles, the person's text untouched, a backup, a working profile.
    let (json, stderr) = onboard(&env, &team, &["--json"]);
    assert!(stderr.contains("Already signed in"), "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(summary["profiles"], 600, "{summary}");
    assert_eq!(summary["verified"]["via"], "aws-cli", "{summary}");
    assert_eq!(summary["verified"]["profile"], "team-007-readonly");
    let arn = summary["verified"]["arn"].as_str().unwrap();
    assert!(
        arn.starts_with(&format!(
            "arn:aws:sts::{}:assumed-role/ReadOnly/",
            account_id(7)
        )),
        "{arn}"
    );

    let first = std::fs::read_to_string(&config_path).unwrap();
    assert!(first.starts_with(HEAD), "{first}");
    assert_eq!(
        std::fs::read_to_string(config_path.with_file_name("config.credbroker-backup")).unwrap(),
        HEAD
    );
    let config = AwsConfig::parse(&first, &config_path).unwrap();
    let session = config.session("corp").unwrap();
    assert_eq!(session.registration_scopes, ["sso:account:access"]);
    let managed = block(&first);
    assert_eq!(managed.matches("\n[profile ").count(), 600);
    for i in 0..ACCOUNTS {
        for role in ROLES {
            let name = format!("team-{i:03}-{}", role.to_lowercase());
            let target = config.role_target(&name).unwrap();
            assert_eq!(target.account_id, account_id(i));
            assert_eq!(target.role_name, role);
            assert_eq!(target.region.as_deref(), Some("eu-central-1"));
            let profile = &config.profiles[&name];
            assert!(
                profile.settings.keys().all(|k| !k.starts_with("sso_")),
                "{profile:?}"
            );
            assert_eq!(
                profile.settings["credential_process"],
                format!("{} credential-process --profile {name}", binary.display())
            );
        }
    }

    // Running again changes nothing, byte for byte.
    onboard(&env, &team, &[]);
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), first);

    // Text added after the block survives a run that changes the block.
    std::fs::write(&config_path, format!("{first}{TAIL}")).unwrap();
    let team = write_team_file(scratch.path(), "[roles]\nexclude = [\"Admin\"]\n");
    let (_, stderr) = onboard(&env, &team, &[]);
    assert!(stderr.contains("Wrote 400 profile(s)"), "{stderr}");
    let second = std::fs::read_to_string(&config_path).unwrap();
    assert!(second.starts_with(HEAD));
    assert!(second.ends_with(&format!(
        "# END credbroker managed: sso-session corp\n{TAIL}"
    )));
    assert_eq!(block(&second).matches("\n[profile ").count(), 400);
    assert!(!second.contains("[profile team-000-admin]"));
    assert_eq!(
        std::fs::read_to_string(config_path.with_file_name("config.credbroker-backup")).unwrap(),
        format!("{first}{TAIL}")
    );
}

/// Replace the emulator's fault table (`POST /_emulator/faults`).
fn set_faults(base_url: &str, body: &str) {
    use std::io::{Read, Write};
    let addr = base_url.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST /_emulator/faults HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[test]
fn start_url_flags_and_shell_rc_are_idempotent_and_throttling_is_ridden_out() {
    let env = Env::new("onboard-flags", &["--auto-approve"]);
    // More 429s in a row than the SDK's own retries absorb.
    set_faults(
        &env.base_url,
        r#"{"ListAccounts":{"status":429,"count":4},"ListAccountRoles":{"status":429,"count":6}}"#,
    );
    let run = || {
        let out = env
            .command()
            .args([
                "onboard",
                "--start-url",
                "https://corp.awsapps.com/start",
                "--region",
                "us-east-1",
            ])
            .args([
                "--no-service",
                "--no-browser",
                "--shell-rc",
                "--aws-cli",
                &aws_cli(),
            ])
            .env("SHELL", "/bin/zsh")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        stderr
    };
    let stderr = run();
    assert!(stderr.contains("Checked profile 'dev-admin'"), "{stderr}");
    // --no-browser signs in with the device code.
    assert_eq!(env.stat("StartDeviceAuthorization"), 1);
    assert!(env.stat("ListAccounts") >= 5, "{}", env.stats());
    assert!(env.stat("ListAccountRoles") >= 8, "{}", env.stats());
    let rc = env.home.path().join(".zshrc");
    let text = std::fs::read_to_string(&rc).unwrap();
    assert!(text.contains("# >>> credbroker >>>\n"), "{text}");
    assert!(text.contains("export AWS_SDK_LOAD_CONFIG=1\n"), "{text}");
    let stderr = run();
    assert!(stderr.contains("already in"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&rc).unwrap(), text);
    let config = AwsConfig::load(&env.config_path()).unwrap();
    let names: Vec<&String> = config.profiles.keys().collect();
    assert_eq!(names, ["dev-admin", "dev-readonly", "prod-readonly"]);
}
