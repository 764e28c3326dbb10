//! A wave of `credential-process` with no daemon running, as Terraform with
//! many provider aliases or a CI job with parallel steps starts them: 20 at
//! once for a role not yet fetched cost one GetRoleCredentials, and all 20
//! get the credentials.

mod support;

use std::process::Stdio;
use support::Env;

#[test]
fn twenty_at_once_with_no_daemon_cost_one_upstream_call() {
    let env = Env::new("wave", &["--auto-approve"]);
    env.write_standard_config();
    env.login();
    let children: Vec<_> = (0..20)
        .map(|_| {
            env.command()
                .args(["credential-process", "--profile", "dev"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let keys: Vec<String> = children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            doc["AccessKeyId"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(env.stat("GetRoleCredentials"), 1, "{}", env.stats());
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
}
