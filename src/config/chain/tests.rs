//! Role-chain resolution, case by case. The cases are those of the AWS
//! SDKs' shared assume-role resolution tests (a chain of several hops, a
//! self-referencing profile, missing sources, loops, web identity roots and
//! sources), written here as our own table with SSO sources where the SDKs
//! use static keys; each static-key case becomes credbroker's refusal.

use super::super::AwsConfig;
use super::*;
use std::path::Path;

const SSO: &str = "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n\
                   sso_region = us-east-1\n";

/// An SSO source profile section.
fn sso_profile(name: &str) -> String {
    format!(
        "[profile {name}]\nsso_session = corp\nsso_account_id = 111111111111\n\
         sso_role_name = Admin\nregion = eu-west-1\n"
    )
}

const STATIC: &str = "aws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = example\n";

/// What a chain resolves to, in the shape of the SDKs' expected output:
/// the root, then each role assumed, outermost last.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Sso(&'static str),
    WebIdentity {
        role_arn: &'static str,
        file: &'static str,
        session: Option<&'static str>,
    },
    AssumeRole {
        role_arn: &'static str,
        session: Option<&'static str>,
        external_id: Option<&'static str>,
    },
}

enum Expect {
    Chain(Vec<Step>),
    /// The error must contain each of these.
    Error(&'static [&'static str]),
}

struct Case {
    docs: &'static str,
    config: String,
    profile: &'static str,
    expect: Expect,
}

/// One step as compared: what it is, its token file, its session name and
/// its external id.
type Row = (String, Option<String>, Option<String>, Option<String>);

fn steps(chain: &Chain) -> Vec<Row> {
    let mut out = Vec::new();
    match &chain.root {
        ChainRoot::Sso(t) => out.push((format!("sso:{}", t.profile), None, None, None)),
        ChainRoot::WebIdentity(t) => {
            let TokenSource::File(file) = &t.source else {
                panic!("not a file source")
            };
            out.push((
                format!("web:{}", t.role_arn),
                Some(file.display().to_string()),
                Some(t.session_name.clone()),
                None,
            ));
        }
    }
    for hop in &chain.hops {
        out.push((
            format!("assume:{}", hop.role_arn),
            None,
            Some(hop.session_name.clone()),
            hop.external_id.clone(),
        ));
    }
    out
}

fn expected(steps: &[Step]) -> Vec<Row> {
    steps
        .iter()
        .map(|s| match s {
            Step::Sso(p) => (format!("sso:{p}"), None, None, None),
            Step::WebIdentity {
                role_arn,
                file,
                session,
            } => (
                format!("web:{role_arn}"),
                Some(file.to_string()),
                session.map(String::from),
                None,
            ),
            Step::AssumeRole {
                role_arn,
                session,
                external_id,
            } => (
                format!("assume:{role_arn}"),
                None,
                session.map(String::from),
                external_id.map(String::from),
            ),
        })
        .collect()
}

const ROLE_A: &str = "arn:aws:iam::123456789012:role/RoleA";
const ROLE_B: &str = "arn:aws:iam::123456789012:role/RoleB";

fn assume(role_arn: &'static str) -> Step {
    Step::AssumeRole {
        role_arn,
        session: None,
        external_id: None,
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            docs: "a role_arn on top of a source profile",
            config: format!(
                "{SSO}[profile A]\nrole_arn = {ROLE_A}\nsource_profile = B\n{}",
                sso_profile("B")
            ),
            profile: "A",
            expect: Expect::Chain(vec![Step::Sso("B"), assume(ROLE_A)]),
        },
        Case {
            docs: "static keys beside role_arn + source_profile are ignored, as the SDKs ignore them",
            config: format!(
                "{SSO}[profile A]\n{STATIC}role_arn = {ROLE_A}\nsource_profile = B\n{}",
                sso_profile("B")
            ),
            profile: "A",
            expect: Expect::Chain(vec![Step::Sso("B"), assume(ROLE_A)]),
        },
        Case {
            docs: "role_session_name is passed on",
            config: format!(
                "{SSO}[profile A]\nrole_arn = {ROLE_A}\nrole_session_name = my_session_name\n\
                 source_profile = B\n{}",
                sso_profile("B")
            ),
            profile: "A",
            expect: Expect::Chain(vec![
                Step::Sso("B"),
                Step::AssumeRole {
                    role_arn: ROLE_A,
                    session: Some("my_session_name"),
                    external_id: None,
                },
            ]),
        },
        Case {
            docs: "external_id is passed on",
            config: format!(
                "{SSO}[profile A]\nrole_arn = {ROLE_A}\nexternal_id = my_external_id\n\
                 source_profile = B\n{}",
                sso_profile("B")
            ),
            profile: "A",
            expect: Expect::Chain(vec![
                Step::Sso("B"),
                Step::AssumeRole {
                    role_arn: ROLE_A,
                    session: Some("credbroker-A"),
                    external_id: Some("my_external_id"),
                },
            ]),
        },
        Case {
            docs: "a self-referencing profile with static keys: the SDKs use the keys; refused",
            config: format!("[profile A]\n{STATIC}role_arn = {ROLE_A}\nsource_profile = A\n"),
            profile: "A",
            expect: Expect::Error(&["profile 'A'", "/cfg", "plaintext keys", "credbroker_sso_session"]),
        },
        Case {
            docs: "a self-referencing profile without keys",
            config: format!("[profile A]\nrole_arn = {ROLE_A}\nsource_profile = A\n"),
            profile: "A",
            expect: Expect::Error(&["profile 'A'", "/cfg", "itself"]),
        },
        Case {
            docs: "credential_source is refused, not skipped",
            config: format!("[profile A]\nrole_arn = {ROLE_A}\ncredential_source = Ec2InstanceMetadata\n"),
            profile: "A",
            expect: Expect::Error(&["profile 'A'", "/cfg", "credential_source = Ec2InstanceMetadata", "source_profile"]),
        },
        Case {
            docs: "role_arn without a source",
            config: format!("[profile A]\nrole_arn = {ROLE_A}\n"),
            profile: "A",
            expect: Expect::Error(&["profile 'A'", "/cfg", "no source_profile"]),
        },
        Case {
            docs: "source_profile and credential_source both present",
            config: format!(
                "{SSO}[profile A]\nrole_arn = {ROLE_A}\ncredential_source = Environment\n\
                 source_profile = B\n{}",
                sso_profile("B")
            ),
            profile: "A",
            expect: Expect::Error(&["profile 'A'", "both source_profile and credential_source"]),
        },
        Case {
            docs: "a source with part of a static key pair (missing secret): refused as static keys",
            config: format!(
                "[profile A]\nrole_arn = {ROLE_A}\nsource_profile = B\n\
                 [profile B]\naws_access_key_id = AKIAEXAMPLE\n"
            ),
            profile: "A",
            expect: Expect::Error(&["profile 'B'", "/cfg", "static keys"]),
        },
        Case {
            docs: "a source with part of a static key pair (missing access key): refused as static keys",
            config: format!(
                "[profile A]\nrole_arn = {ROLE_A}\nsource_profile = B\n\
                 [profile B]\naws_secret_access_key = example\n"
            ),
            profile: "A",
            expect: Expect::Error(&["profile 'B'", "static keys"]),
        },
        Case {
            docs: "an empty source profile",
            config: format!("[profile A]\nrole_arn = {ROLE_A}\nsource_profile = B\n[profile B]\n"),
            profile: "A",
            expect: Expect::Error(&["profile 'B'", "/cfg", "names no SSO session"]),
        },
        Case {
            docs: "a missing source profile",
            config: format!("[profile A]\nrole_arn = {ROLE_A}\nsource_profile = B\n"),
            profile: "A",
            expect: Expect::Error(&["profile 'A'", "/cfg", "source_profile 'B' is not in the file"]),
        },
        Case {
            docs: "no profiles at all",
            config: String::new(),
            profile: "A",
            expect: Expect::Error(&["no profile named 'A' in /cfg"]),
        },
        Case {
            docs: "several chained roles",
            config: format!(
                "{SSO}[profile A]\nrole_arn = {ROLE_A}\nsource_profile = B\n\
                 [profile B]\nrole_arn = {ROLE_B}\nsource_profile = C\n{}",
                sso_profile("C")
            ),
            profile: "A",
            expect: Expect::Chain(vec![Step::Sso("C"), assume(ROLE_B), assume(ROLE_A)]),
        },
        Case {
            docs: "a chained source with static keys: the SDKs stop at its keys; refused",
            config: format!(
                "{SSO}[profile A]\nrole_arn = {ROLE_A}\n{STATIC}source_profile = B\n\
                 [profile B]\nrole_arn = {ROLE_B}\nsource_profile = C\n{STATIC}{}",
                sso_profile("C")
            ),
            profile: "A",
            expect: Expect::Error(&["profile 'B'", "plaintext keys"]),
        },
        Case {
            docs: "a loop of two profiles",
            config: format!(
                "[profile A]\nrole_arn = {ROLE_A}\nsource_profile = B\n\
                 [profile B]\nrole_arn = {ROLE_B}\nsource_profile = A\n"
            ),
            profile: "A",
            expect: Expect::Error(&["profile 'A'", "/cfg", "cycle: A -> B -> A"]),
        },
        Case {
            docs: "a loop entered from outside it",
            config: format!(
                "[profile X]\nrole_arn = {ROLE_A}\nsource_profile = A\n\
                 [profile A]\nrole_arn = {ROLE_A}\nsource_profile = B\n\
                 [profile B]\nrole_arn = {ROLE_B}\nsource_profile = A\n"
            ),
            profile: "X",
            expect: Expect::Error(&["profile 'X'", "cycle: A -> B -> A"]),
        },
        Case {
            docs: "the AWS CLI's web identity profile",
            config: format!("[profile A]\nrole_arn = {ROLE_A}\nweb_identity_token_file = /var/token.jwt\n"),
            profile: "A",
            expect: Expect::Chain(vec![Step::WebIdentity {
                role_arn: ROLE_A,
                file: "/var/token.jwt",
                session: Some("credbroker-A"),
            }]),
        },
        Case {
            docs: "a web identity profile with a session name",
            config: format!(
                "[profile A]\nrole_arn = {ROLE_A}\nweb_identity_token_file = /var/token.jwt\n\
                 role_session_name = some_session_name\n"
            ),
            profile: "A",
            expect: Expect::Chain(vec![Step::WebIdentity {
                role_arn: ROLE_A,
                file: "/var/token.jwt",
                session: Some("some_session_name"),
            }]),
        },
        Case {
            docs: "a web identity token file without role_arn",
            config: "[profile A]\nweb_identity_token_file = /var/token.jwt\n".into(),
            profile: "A",
            expect: Expect::Error(&["profile 'A'", "no role_arn"]),
        },
        Case {
            docs: "a web identity profile as the source",
            config: format!(
                "[profile A]\nrole_arn = {ROLE_A}\nsource_profile = B\n\
                 [profile B]\nrole_arn = {ROLE_B}\nweb_identity_token_file = /var/token.jwt\n\
                 role_session_name = some_session_name\n"
            ),
            profile: "A",
            expect: Expect::Chain(vec![
                Step::WebIdentity {
                    role_arn: ROLE_B,
                    file: "/var/token.jwt",
                    session: Some("some_session_name"),
                },
                assume(ROLE_A),
            ]),
        },
        Case {
            docs: "the credbroker_ forms, for credential_process profiles",
            config: format!(
                "{SSO}[profile A]\ncredential_process = credbroker credential-process --profile A\n\
                 credbroker_role_arn = {ROLE_A}\ncredbroker_source_profile = B\n\
                 credbroker_external_id = x-1\ncredbroker_role_session_name = deploy\n{}",
                sso_profile("B")
            ),
            profile: "A",
            expect: Expect::Chain(vec![
                Step::Sso("B"),
                Step::AssumeRole {
                    role_arn: ROLE_A,
                    session: Some("deploy"),
                    external_id: Some("x-1"),
                },
            ]),
        },
        Case {
            docs: "a plain static-key profile is refused with what to use",
            config: format!("[profile A]\n{STATIC}"),
            profile: "A",
            expect: Expect::Error(&["profile 'A'", "/cfg", "plaintext keys", "IAM Identity Center"]),
        },
        Case {
            docs: "a bad duration_seconds",
            config: format!(
                "{SSO}[profile A]\nrole_arn = {ROLE_A}\nsource_profile = B\nduration_seconds = 60\n{}",
                sso_profile("B")
            ),
            profile: "A",
            expect: Expect::Error(&["profile 'A'", "duration_seconds must be 900..43200"]),
        },
        Case {
            docs: "not a role ARN",
            config: format!(
                "{SSO}[profile A]\nrole_arn = arn:foo\nsource_profile = B\n{}",
                sso_profile("B")
            ),
            profile: "A",
            expect: Expect::Error(&["profile 'A'", "not a role ARN"]),
        },
    ]
}

#[test]
fn the_sdks_assume_role_cases() {
    for case in cases() {
        let config = AwsConfig::parse(&case.config, Path::new("/cfg")).unwrap();
        let result = config.chain(case.profile);
        match (&case.expect, result) {
            (Expect::Chain(want), Ok(chain)) => {
                // A session name left out of the expectation is not checked.
                let got = steps(&chain);
                let want = expected(want);
                assert_eq!(got.len(), want.len(), "{}: {chain:?}", case.docs);
                for (g, w) in got.iter().zip(&want) {
                    assert_eq!(g.0, w.0, "{}", case.docs);
                    assert_eq!(g.1, w.1, "{}", case.docs);
                    if w.2.is_some() {
                        assert_eq!(g.2, w.2, "{}", case.docs);
                    }
                    assert_eq!(g.3, w.3, "{}", case.docs);
                }
            }
            (Expect::Error(parts), Err(e)) => {
                let text = e.to_string();
                for part in *parts {
                    assert!(text.contains(part), "{}: {part:?} not in {text}", case.docs);
                }
            }
            (Expect::Chain(_), Err(e)) => panic!("{}: {e}", case.docs),
            (Expect::Error(_), Ok(chain)) => panic!("{}: resolved to {chain:?}", case.docs),
        }
    }
}

#[test]
fn hops_take_their_sources_region_unless_they_name_one() {
    let config = AwsConfig::parse(
        &format!(
            "{SSO}[profile A]\nrole_arn = {ROLE_A}\nsource_profile = B\nduration_seconds = 3600\n\
             [profile B]\nrole_arn = {ROLE_B}\nsource_profile = C\nregion = us-west-2\n{}",
            sso_profile("C")
        ),
        Path::new("/cfg"),
    )
    .unwrap();
    let chain = config.chain("A").unwrap();
    assert_eq!(chain.hops[0].region.as_deref(), Some("us-west-2"));
    assert_eq!(chain.hops[1].region.as_deref(), Some("us-west-2"));
    assert_eq!(chain.hops[1].duration_seconds, Some(3600));
    let root = config.chain("C").unwrap();
    assert!(root.hops.is_empty());
    assert_eq!(root.root.profile(), "C");
}
