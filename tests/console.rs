//! `credbroker console --print` end to end: the real binary trades a
//! profile's role credentials at the emulator's sign-in service, and a real
//! headless Chromium (Debian's `chromium`, installed by scripts/test.sh)
//! follows the printed URL through the sign-in redirect and its cookie to
//! the emulated console page, which names the role. The same URL a second
//! time is refused, and no credential secret is in the URL.

mod support;

use std::process::{Command, Stdio};
use support::Env;

/// The page a fresh headless Chromium ends on after opening `url`, as HTML.
fn browse(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(support::chromium_binary())
        .args(support::CHROMIUM_FLAGS)
        .arg("--dump-dom")
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("start chromium");
    assert!(out.status.success(), "chromium failed on {url}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `credbroker console --profile P --print ARGS`: the URL, stdout's last line.
fn console_url(env: &Env, profile: &str, extra: &[&str]) -> String {
    let mut args = vec!["console", "--profile", profile, "--print"];
    args.extend_from_slice(extra);
    let out = env.run(&args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "console failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default().to_owned();
    assert!(stdout.ends_with(&format!("{last}\n")), "{stdout:?}");
    last
}

#[test]
fn a_printed_console_url_signs_a_real_browser_in_once() {
    let env = Env::new("console", &["--auto-approve"]);
    env.write_standard_config();
    env.login();

    let url = console_url(&env, "dev", &[]);
    assert!(
        url.starts_with(&format!("{}/federation?Action=login&", env.base_url)),
        "{url}"
    );
    let secrets: Vec<String> = serde_json::from_value(support::get_json(&format!(
        "{}/_emulator/secrets",
        env.base_url
    )))
    .unwrap();
    assert!(!secrets.is_empty());
    for secret in &secrets {
        assert!(!url.contains(secret.as_str()), "a secret is in the URL");
    }

    let page = browse(&url);
    assert!(
        page.contains("arn:aws:sts::111111111111:assumed-role/ReadOnly/"),
        "{page}"
    );
    assert!(page.contains("<dd id=\"region\">us-east-1</dd>"), "{page}");
    assert!(
        page.contains("console.aws.amazon.com/console/home"),
        "{page}"
    );

    let again = browse(&url);
    assert!(again.contains("already been used"), "{again}");
    assert!(!again.contains("assumed-role"), "{again}");

    let s3 = browse(&console_url(
        &env,
        "prod",
        &["--service", "s3", "--region", "eu-west-1"],
    ));
    assert!(
        s3.contains("https://console.aws.amazon.com/s3/home?region=eu-west-1"),
        "{s3}"
    );
    assert!(s3.contains("222222222222:assumed-role/ReadOnly/"), "{s3}");
    assert_eq!(env.stat("GetSigninToken"), 2);
}

#[test]
fn console_refuses_what_aws_would_refuse_before_asking() {
    let env = Env::new("console-refusals", &["--auto-approve"]);
    env.write_standard_config();
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    env.write_config(&format!(
        "{config}\n[profile deploy]\nrole_arn = arn:aws:iam::222222222222:role/Deploy\n\
         source_profile = admin\nexternal_id = credbroker-demo\n"
    ));
    let out = env.run(&[
        "console",
        "--profile",
        "deploy",
        "--session-duration",
        "3600",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("chained role"), "{stderr}");
    assert!(stderr.contains("without --session-duration"), "{stderr}");

    let out = env.run(&["console", "--profile", "dev", "--service", "nope"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("no console shortcut named 'nope'"),
        "{stderr}"
    );
    assert_eq!(env.stat("GetSigninToken"), 0);
}

#[test]
fn a_chained_profile_signs_the_browser_in_as_the_last_role() {
    let env = Env::new("console-chain", &["--auto-approve"]);
    env.write_standard_config();
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    env.write_config(&format!(
        "{config}\n[profile deploy]\nrole_arn = arn:aws:iam::222222222222:role/Deploy\n\
         source_profile = admin\nexternal_id = credbroker-demo\nrole_session_name = deploy-console\n"
    ));
    env.login();
    let page = browse(&console_url(&env, "deploy", &["--service", "iam"]));
    assert!(
        page.contains("arn:aws:sts::222222222222:assumed-role/Deploy/deploy-console"),
        "{page}"
    );
    assert!(page.contains("console.aws.amazon.com/iam/home"), "{page}");
    assert_eq!(env.stat("AssumeRole"), 1);
}
