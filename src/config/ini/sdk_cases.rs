//! The AWS SDKs' shared profile-parser cases (smithy-rs
//! `aws/rust-runtime/aws-runtime/test-data/profile-parser-tests.json`), as a
//! table of our own: each row is named after the suite's case, with the
//! config text it gives and what the SDKs read from it. Where the SDKs
//! refuse a file, the row holds the line we refuse and a piece of our own
//! message (ours say what to write instead; theirs are not copied).
//!
//! credbroker reads `~/.aws/config` only, never `~/.aws/credentials` (it
//! serves no plaintext keys), so the suite's credentials-file cases do not
//! apply: "Credentials profiles with prefix are ignored.", "profile name
//! with extra whitespace in credentials" and "sso-session without the space
//! before the name is a profile" are left out, and of the four cases that
//! give both files only the config file's half is here, named
//! "... (config half)". The suite lists "Profiles can contain multiple
//! properties." twice, with the same input; it is one row here.

use crate::config::{parse_sections, AwsConfig, ConfigError};
use std::collections::BTreeMap;
use std::path::Path;

type Settings = &'static [(&'static str, &'static str)];

enum Expect {
    /// The profiles read, with their settings, and the sso-sessions read.
    Read {
        profiles: &'static [(&'static str, Settings)],
        sessions: &'static [(&'static str, Settings)],
    },
    /// Refused: the line, and a piece of our message.
    Refused(usize, &'static str),
}

use Expect::{Read, Refused};

const fn profiles(profiles: &'static [(&'static str, Settings)]) -> Expect {
    Read {
        profiles,
        sessions: &[],
    }
}

struct Case {
    name: &'static str,
    config: &'static str,
    expect: Expect,
}

const fn case(name: &'static str, config: &'static str, expect: Expect) -> Case {
    Case {
        name,
        config,
        expect,
    }
}

const NO_SETTING_ABOVE: &str = "has no setting before it";
const BEFORE_ANY_SECTION: &str = "comes before any section";

const CASES: &[Case] = &[
    case("Empty files have no profiles.", "", profiles(&[])),
    case(
        "Empty profiles have no properties.",
        "[profile foo]",
        profiles(&[("foo", &[])]),
    ),
    case(
        "Profile names support alphanumeric characters and - / . % @ _ : +",
        "[profile a-b:c/d_e%f.g@h+]\n[profile foo!bar]",
        profiles(&[("a-b:c/d_e%f.g@h+", &[])]),
    ),
    case(
        "Profile definitions must end with brackets.",
        "[profile foo",
        Refused(1, "has no closing `]`"),
    ),
    case(
        "Profile names should be trimmed.",
        "[profile \t foo\t ]",
        profiles(&[("foo", &[])]),
    ),
    case(
        "Tabs can separate profile names from profile prefix.",
        "[profile\tfoo]",
        profiles(&[("foo", &[])]),
    ),
    case(
        "Properties must be defined in a profile.",
        "name = value",
        Refused(1, BEFORE_ANY_SECTION),
    ),
    case(
        "Profiles can contain properties.",
        "[profile foo]\nname = value",
        profiles(&[("foo", &[("name", "value")])]),
    ),
    case(
        "Windows style line endings are supported.",
        "[profile foo]\r\nname = value\r\n",
        profiles(&[("foo", &[("name", "value")])]),
    ),
    case(
        "Equals signs are supported in property values.",
        "[profile foo]\nname = a=b=",
        profiles(&[("foo", &[("name", "a=b=")])]),
    ),
    case(
        "Unicode characters are supported in property values.",
        "[profile foo]\nname = ✓ ünïcödé 😀",
        profiles(&[("foo", &[("name", "✓ ünïcödé 😀")])]),
    ),
    case(
        "Profiles can contain multiple properties.",
        "[profile foo]\nname = value\nname2 = value2",
        profiles(&[("foo", &[("name", "value"), ("name2", "value2")])]),
    ),
    case(
        "Property keys and values are trimmed.",
        "[profile foo]\nname\t =  \t value\t ",
        profiles(&[("foo", &[("name", "value")])]),
    ),
    case(
        "Property values can be empty.",
        "[profile foo]\nname =",
        profiles(&[("foo", &[("name", "")])]),
    ),
    case(
        "Property key cannot be empty.",
        "[profile foo]\n= value",
        Refused(2, "has no key before it"),
    ),
    case(
        "Property definitions must contain an equals sign.",
        "[profile foo]\nkey : value",
        Refused(2, "uses `:`"),
    ),
    case(
        "Multiple profiles can be empty.",
        "[profile foo]\n[profile bar]",
        profiles(&[("foo", &[]), ("bar", &[])]),
    ),
    case(
        "Multiple profiles can have properties.",
        "[profile foo]\nname = value\n[profile bar]\nname2 = value2",
        profiles(&[("foo", &[("name", "value")]), ("bar", &[("name2", "value2")])]),
    ),
    case(
        "Blank lines are ignored.",
        " \t\n[profile foo]\n \n\t\nname = value\n \t\n[profile bar]\n\t ",
        profiles(&[("foo", &[("name", "value")]), ("bar", &[])]),
    ),
    case(
        "Pound sign comments are ignored.",
        "# a comment\n[profile foo] # after the header\nname = value # with # inside",
        profiles(&[("foo", &[("name", "value")])]),
    ),
    case(
        "Semicolon sign comments are ignored.",
        "; a comment\n[profile foo] ; after the header\nname = value ; with ; inside",
        profiles(&[("foo", &[("name", "value")])]),
    ),
    case(
        "All comment types can be used together.",
        "# a comment\n[profile foo] ; after the header\nname = value # with ; inside",
        profiles(&[("foo", &[("name", "value")])]),
    ),
    case(
        "Comments can be empty.",
        ";\n[profile foo];\nname = value ;\n#\n",
        profiles(&[("foo", &[("name", "value")])]),
    ),
    case(
        "Comments can be adjacent to profile names.",
        "[profile foo];right after\n[profile bar]#right after",
        profiles(&[("foo", &[]), ("bar", &[])]),
    ),
    case(
        "Comments adjacent to values are included in the value.",
        "[profile foo]\nname = value;kept\nname2 = value#kept",
        profiles(&[("foo", &[("name", "value;kept"), ("name2", "value#kept")])]),
    ),
    case(
        "Property values can be continued on the next line.",
        "[profile foo]\nname = value\n -more",
        profiles(&[("foo", &[("name", "value\n-more")])]),
    ),
    case(
        "Property values can be continued with multiple lines.",
        "[profile foo]\nname = value\n -more\n\t-and-more",
        profiles(&[("foo", &[("name", "value\n-more\n-and-more")])]),
    ),
    case(
        "Continuations are trimmed.",
        "[profile foo]\nname = value\n\t  -more \t ",
        profiles(&[("foo", &[("name", "value\n-more")])]),
    ),
    case(
        "Continuation values include pound comments.",
        "[profile foo]\nname = value\n -more # not a comment",
        profiles(&[("foo", &[("name", "value\n-more # not a comment")])]),
    ),
    case(
        "Continuation values include semicolon comments.",
        "[profile foo]\nname = value\n -more ; not a comment",
        profiles(&[("foo", &[("name", "value\n-more ; not a comment")])]),
    ),
    case(
        "Continuations cannot be used outside of a profile.",
        " -more",
        Refused(1, BEFORE_ANY_SECTION),
    ),
    case(
        "Continuations cannot be used outside of a property.",
        "[profile foo]\n -more",
        Refused(2, NO_SETTING_ABOVE),
    ),
    case(
        "Continuations reset with profile definitions.",
        "[profile foo]\nname = value\n[profile foo]\n -more",
        Refused(4, NO_SETTING_ABOVE),
    ),
    case(
        "Duplicate profiles in the same file merge properties.",
        "[profile foo]\nname = value\n[profile foo]\nname2 = value2",
        profiles(&[("foo", &[("name", "value"), ("name2", "value2")])]),
    ),
    case(
        "Duplicate properties in a profile use the last one defined.",
        "[profile foo]\nname = first\nname = last",
        profiles(&[("foo", &[("name", "last")])]),
    ),
    case(
        "Duplicate properties in duplicate profiles use the last one defined.",
        "[profile foo]\nname = first\n[profile foo]\nname = last",
        profiles(&[("foo", &[("name", "last")])]),
    ),
    case(
        "Duplicate properties in duplicate profiles use the last one defined (case insensitive).",
        "[profile foo]\nNAME = first\n[profile foo]\nname = last",
        profiles(&[("foo", &[("name", "last")])]),
    ),
    case(
        "Default profile with profile prefix overrides default profile without prefix when profile prefix is first.",
        "[profile default]\nname = value\n[default]\nname2 = value2",
        profiles(&[("default", &[("name", "value")])]),
    ),
    case(
        "Default profile with profile prefix overrides default profile without prefix when profile prefix is last.",
        "[default]\nname2 = value2\n[profile default]\nname = value",
        profiles(&[("default", &[("name", "value")])]),
    ),
    case(
        "Invalid profile names are ignored. (config half)",
        "[profile in valid]\nname = value",
        profiles(&[]),
    ),
    case(
        "Invalid property names are ignored.",
        "[profile foo]\nin valid = value",
        profiles(&[("foo", &[])]),
    ),
    case(
        "All valid profile name characters are supported.",
        "[profile ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_]",
        profiles(&[("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", &[])]),
    ),
    case(
        "All valid property name characters are supported.",
        "[profile foo]\nABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_ = value",
        profiles(&[(
            "foo",
            &[("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz0123456789-_", "value")],
        )]),
    ),
    case(
        "Properties can have sub-properties.",
        "[profile foo]\ns3 =\n name = value",
        profiles(&[("foo", &[("s3", "\nname = value")])]),
    ),
    case(
        "Invalid sub-property definitions cause an error.",
        "[profile foo]\ns3 =\n invalid",
        Refused(3, "must be a `key = value` sub-setting"),
    ),
    case(
        "Sub-property definitions can have an empty value.",
        "[profile foo]\ns3 =\n name =",
        profiles(&[("foo", &[("s3", "\nname =")])]),
    ),
    case(
        "Sub-property definitions cannot have an empty name.",
        "[profile foo]\ns3 =\n = value",
        Refused(3, "starts with `=`, so it has no key"),
    ),
    case(
        "Sub-property definitions can have an invalid name.",
        "[profile foo]\ns3 =\n in valid = value",
        profiles(&[("foo", &[("s3", "\nin valid = value")])]),
    ),
    case(
        "Sub-properties can have blank lines that are ignored",
        "[profile foo]\ns3 =\n name = value\n \t\n name2 = value2",
        profiles(&[("foo", &[("s3", "\nname = value\nname2 = value2")])]),
    ),
    case(
        "Profiles duplicated in multiple files are merged. (config half)",
        "[profile foo]\nname = value",
        profiles(&[("foo", &[("name", "value")])]),
    ),
    case(
        "Default profiles with mixed prefixes in the config file ignore the one without prefix when merging.",
        "[profile default]\nname = value\n[default]\nname2 = value2\n[profile default]\nname3 = value3",
        profiles(&[("default", &[("name", "value"), ("name3", "value3")])]),
    ),
    case(
        "Default profiles with mixed prefixes merge with credentials (config half)",
        "[profile default]\nname = value\n[default]\nname2 = value2\n[profile default]\nname3 = value3",
        profiles(&[("default", &[("name", "value"), ("name3", "value3")])]),
    ),
    case(
        "Duplicate properties between files uses credentials property. (config half)",
        "[profile foo]\nname = value",
        profiles(&[("foo", &[("name", "value")])]),
    ),
    case(
        "Config profiles without prefix are ignored.",
        "[foo]\nname = value",
        profiles(&[]),
    ),
    case(
        "Comment characters adjacent to profile decls",
        "[profile foo]; semicolon\n[profile bar]# pound",
        profiles(&[("foo", &[]), ("bar", &[])]),
    ),
    case(
        "Invalid continuation",
        "[profile foo]\nname = value\n[profile foo]\n -more",
        Refused(4, NO_SETTING_ABOVE),
    ),
    case(
        "sneaky profile name",
        "[profilefoo]\nname = value\n[profile bar]",
        profiles(&[("bar", &[])]),
    ),
    case(
        "profile name with extra whitespace",
        "[   profile foo    ]\nname = value\n[profile bar]",
        profiles(&[("foo", &[("name", "value")]), ("bar", &[])]),
    ),
    case(
        "properties from an invalid profile name are ignored",
        "[profile foo]\nname = value\n[profile in valid]\nx = 1\n[profile bar]\nname = value2",
        profiles(&[("foo", &[("name", "value")]), ("bar", &[("name", "value2")])]),
    ),
    case(
        "sso-session with properties",
        "[sso-session foo]\nname = value\n[profile bar]",
        Read {
            profiles: &[("bar", &[])],
            sessions: &[("foo", &[("name", "value")])],
        },
    ),
    case(
        "A typo'd sso-session will be ignored",
        "[sso-sesion foo]\nname = value\n[profile bar]",
        profiles(&[("bar", &[])]),
    ),
];

fn owned(settings: Settings) -> BTreeMap<String, String> {
    settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn expected(rows: &[(&str, Settings)]) -> BTreeMap<String, BTreeMap<String, String>> {
    rows.iter()
        .map(|(name, settings)| (name.to_string(), owned(settings)))
        .collect()
}

/// What one case reads, or the failure to report.
fn check(case: &Case) -> Result<(), String> {
    let path = Path::new("/home/u/.aws/config");
    let parsed = AwsConfig::parse(case.config, path);
    match (&case.expect, parsed) {
        (Read { profiles, sessions }, Ok(config)) => {
            let read: BTreeMap<_, _> = config
                .profiles
                .iter()
                .map(|(name, p)| (name.clone(), p.settings.clone()))
                .collect();
            if read != expected(profiles) {
                return Err(format!("profiles {read:?}"));
            }
            // The full parser keeps only the sso-session fields it knows, so
            // a session's settings are compared on the sections.
            let mut read_sessions = BTreeMap::<String, BTreeMap<String, String>>::new();
            for s in parse_sections(case.config, path).map_err(|e| e.to_string())? {
                if let Some(name) = s.name.strip_prefix("sso-session ") {
                    read_sessions
                        .entry(name.to_string())
                        .or_default()
                        .extend(s.settings);
                }
            }
            if read_sessions != expected(sessions)
                || !read_sessions.keys().eq(config.sessions.keys())
            {
                return Err(format!("sso-sessions {read_sessions:?}"));
            }
            Ok(())
        }
        (Read { .. }, Err(e)) => Err(format!("refused: {e}")),
        (
            Refused(line, fragment),
            Err(ConfigError::Syntax {
                line: at, message, ..
            }),
        ) => {
            if at == *line && message.contains(fragment) {
                Ok(())
            } else {
                Err(format!("refused at line {at}: {message}"))
            }
        }
        (Refused(..), other) => Err(format!("not refused as a syntax error: {other:?}")),
    }
}

#[test]
fn the_sdks_profile_parser_cases() {
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|case| {
            check(case)
                .err()
                .map(|why| format!("{}\n    {why}", case.name))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases disagree with the SDKs:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn every_case_has_its_own_name() {
    let mut names: Vec<_> = CASES.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), CASES.len());
    assert_eq!(CASES.len(), 61, "57 config-file cases and 4 config halves");
}
