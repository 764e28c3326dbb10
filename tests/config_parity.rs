//! credbroker's config parser against botocore's, the loader of boto3 and
//! the AWS CLI: files that both botocore and the SDKs' shared parser cases
//! agree on must give the same profiles, settings and sub-settings here.
//! Where botocore and the other SDKs disagree, credbroker follows the SDKs
//! (docs/protocols.md §11), and the second test pins botocore's side, so
//! the documented difference is checked, not assumed. The last test has the
//! Debian AWS CLI itself read the file that the old parser refused.
//!
//! `scripts/test.sh` provides boto3 and the AWS CLI through
//! `CREDBROKER_TEST_PYTHON` and `CREDBROKER_TEST_AWS_CLI`.

use credbroker::config::{sub_settings, AwsConfig};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> String {
    std::env::var("CREDBROKER_TEST_PYTHON")
        .expect("CREDBROKER_TEST_PYTHON is unset: run the suite with scripts/test.sh")
}

fn aws_cli() -> String {
    std::env::var("CREDBROKER_TEST_AWS_CLI")
        .expect("CREDBROKER_TEST_AWS_CLI is unset: run the suite with scripts/test.sh")
}

/// Loads each file with botocore and prints `{path: {"profiles": ..,
/// "sso_sessions": ..} | {"error": ExceptionName}}`.
const BOTOCORE: &str = r#"
import json, sys
from botocore import configloader
out = {}
for path in sys.argv[1:]:
    try:
        loaded = configloader.load_config(path)
        out[path] = {"profiles": loaded["profiles"], "sso_sessions": loaded.get("sso_sessions", {})}
    except Exception as e:
        out[path] = {"error": type(e).__name__}
print(json.dumps(out))
"#;

/// Files botocore and the SDKs' cases read alike.
const SHARED: &[(&str, &str)] = &[
    ("comment after headers", "# team config\n[profile prod] # careful\nregion = eu-west-1\n[profile dev] ; sandbox\nregion = us-east-1\n[default]# pound\noutput = json\n"),
    ("sso-session and profiles", "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start#/\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n\n[profile dev]\nsso_session = corp\nsso_account_id = 111111111111\nsso_role_name = ReadOnly\n"),
    ("keys lower-cased, values trimmed", "[profile a]\nRegion\t=  eu-west-1 \nCREDBROKER_Role_Name = Admin\n"),
    ("equals and hashes inside values", "[profile a]\nx = a=b=\ny = value#kept\nz = value;kept\n"),
    ("empty value", "[profile a]\nx =\nregion = us-east-1\n"),
    ("continuation lines", "[profile a]\nx = one\n  two\n\tthree\nregion = us-east-1\n"),
    ("s3 sub-settings", "[profile a]\ns3 =\n  max_concurrent_requests = 10\n  addressing_style = path\nregion = us-east-1\n"),
    ("crlf line ends", "[profile a]\r\nregion = us-east-1\r\n\r\n[profile b]\r\nregion = eu-west-1\r\n"),
    ("bare sections are not profiles", "[dev]\nregion = x\n[profilefoo]\nregion = y\n[preview]\ncloudfront = true\n[profile real]\nregion = z\n"),
    ("profile names with punctuation", "[profile team/dev.admin@corp+1]\nregion = us-east-1\n[profile a:b%c_d-e]\nregion = eu-west-1\n"),
    ("default alone", "[default]\nregion = us-east-1\n"),
    ("prefixed default alone", "[profile default]\nregion = eu-west-1\n"),
    ("prefixed default after bare default", "[default]\nregion = us-east-1\noutput = json\n[profile default]\nregion = eu-west-1\n"),
    ("credential_process with arguments", "[profile cp]\ncredential_process = /usr/bin/credbroker credential-process --profile cp\ncredbroker_sso_session = corp\n"),
    ("unicode value", "[profile a]\ndescription = équipe ✓\n"),
];

/// Files where botocore reads otherwise than the SDKs' cases, and how
/// botocore reads them; credbroker's side is in src/config/ini/sdk_cases.rs.
fn divergent() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "botocore keeps an inline comment in the value",
            "[profile a]\nregion = us-east-1 # prod\n",
            json!({"profiles": {"a": {"region": "us-east-1 # prod"}}, "sso_sessions": {}}),
        ),
        (
            "botocore refuses a key given twice",
            "[profile a]\nregion = x\nregion = y\n",
            json!({"error": "ConfigParseError"}),
        ),
        (
            "botocore refuses a section given twice",
            "[profile a]\nregion = x\n[profile a]\noutput = json\n",
            json!({"error": "ConfigParseError"}),
        ),
        (
            "for botocore the later of [profile default] and [default] wins",
            "[profile default]\nregion = eu-west-1\n[default]\nregion = us-east-1\n",
            json!({"profiles": {"default": {"region": "us-east-1"}}, "sso_sessions": {}}),
        ),
        (
            "botocore reads an indented first setting",
            "[profile a]\n  region = us-east-1\n",
            json!({"profiles": {"a": {"region": "us-east-1"}}, "sso_sessions": {}}),
        ),
        (
            "botocore reads key : value",
            "[profile a]\nregion : us-east-1\n",
            json!({"profiles": {"a": {"region": "us-east-1"}}, "sso_sessions": {}}),
        ),
    ]
}

struct Files {
    dir: PathBuf,
}

impl Files {
    fn new(name: &str) -> Files {
        let dir = std::env::temp_dir().join(format!(
            "credbroker-config-parity-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Files { dir }
    }

    fn write(&self, index: usize, text: &str) -> PathBuf {
        let path = self.dir.join(format!("config-{index}"));
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn botocore(paths: &[PathBuf]) -> Map<String, Value> {
    let out = Command::new(python())
        .arg("-c")
        .arg(BOTOCORE)
        .args(paths)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    match serde_json::from_slice(&out.stdout).expect("botocore's JSON") {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// What credbroker read, in botocore's shape: nested values as objects.
fn credbroker(text: &str, path: &Path) -> Value {
    let config = AwsConfig::parse(text, path).expect("credbroker reads it");
    let as_object = |settings: &std::collections::BTreeMap<String, String>| -> Value {
        settings
            .iter()
            .map(|(k, v)| {
                let value = if v.starts_with('\n') {
                    json!(sub_settings(v))
                } else {
                    json!(v)
                };
                (k.clone(), value)
            })
            .collect::<Map<_, _>>()
            .into()
    };
    let profiles: Map<_, _> = config
        .profiles
        .iter()
        .map(|(name, p)| (name.clone(), as_object(&p.settings)))
        .collect();
    let sessions: Map<_, _> = credbroker::config::parse_sections(text, path)
        .unwrap()
        .iter()
        .filter_map(|s| {
            let name = s.name.strip_prefix("sso-session ")?;
            Some((name.to_string(), as_object(&s.settings)))
        })
        .collect();
    json!({"profiles": profiles, "sso_sessions": sessions})
}

#[test]
fn files_botocore_and_the_sdks_agree_on_read_the_same_here() {
    let files = Files::new("shared");
    let paths: Vec<PathBuf> = SHARED
        .iter()
        .enumerate()
        .map(|(i, (_, text))| files.write(i, text))
        .collect();
    let theirs = botocore(&paths);
    let mut differences = Vec::new();
    for ((name, text), path) in SHARED.iter().zip(&paths) {
        let expected = &theirs[path.to_str().unwrap()];
        let ours = credbroker(text, path);
        if &ours != expected {
            differences.push(format!(
                "{name}:\n  botocore   {expected}\n  credbroker {ours}"
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

#[test]
fn where_botocore_differs_it_differs_as_documented() {
    let files = Files::new("divergent");
    let cases = divergent();
    let paths: Vec<PathBuf> = cases
        .iter()
        .enumerate()
        .map(|(i, (_, text, _))| files.write(i, text))
        .collect();
    let theirs = botocore(&paths);
    for ((name, text, expected), path) in cases.iter().zip(&paths) {
        assert_eq!(&theirs[path.to_str().unwrap()], expected, "{name}");
        // And credbroker, following the SDKs, reads it otherwise.
        let ours = AwsConfig::parse(text, path).map(|c| {
            let p: Map<_, _> = c
                .profiles
                .iter()
                .map(|(n, p)| (n.clone(), json!(p.settings)))
                .collect();
            json!({"profiles": p, "sso_sessions": {}})
        });
        assert_ne!(ours.as_ref().ok(), Some(expected), "{name}");
    }
}

#[test]
fn the_aws_cli_reads_a_comment_after_a_header_as_credbroker_does() {
    let files = Files::new("cli");
    let text = SHARED[0].1;
    let path = files.write(0, text);
    let ours = AwsConfig::parse(text, &path).unwrap();
    for profile in ["prod", "dev"] {
        let out = Command::new(aws_cli())
            .args(["configure", "get", "region", "--profile", profile])
            .env("AWS_CONFIG_FILE", &path)
            .env("AWS_SHARED_CREDENTIALS_FILE", files.dir.join("none"))
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .output()
            .expect("run the AWS CLI");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            ours.profile(profile).unwrap().region.as_deref().unwrap(),
            "{profile}"
        );
    }
}
