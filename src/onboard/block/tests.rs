use super::*;
use crate::config::AwsConfig;
use proptest::prelude::*;

const CMD: &str = "/opt/credbroker credential-process --profile";

fn spec() -> BlockSpec<'static> {
    BlockSpec {
        session_name: "corp",
        start_url: "https://corp.awsapps.com/start",
        region: "us-east-1",
        command: CMD,
    }
}

fn profile(name: &str, account: &str, role: &str) -> PlannedProfile {
    PlannedProfile {
        name: name.into(),
        account_id: account.into(),
        account_name: name.into(),
        role_name: role.into(),
        region: "eu-west-1".into(),
    }
}

fn path() -> &'static Path {
    Path::new("/home/u/.aws/config")
}

#[test]
fn block_has_session_and_credential_process_profiles_without_sso_keys() {
    let profiles = [profile("dev-readonly", "111111111111", "ReadOnly")];
    let out = splice("", &spec(), &profiles, path()).unwrap();
    assert_eq!(
        out.text,
        "# BEGIN credbroker managed: sso-session corp\n\
         # Written by `credbroker onboard`; edits inside this block are replaced on the next run.\n\
         [sso-session corp]\n\
         sso_start_url = https://corp.awsapps.com/start\n\
         sso_region = us-east-1\n\
         sso_registration_scopes = sso:account:access\n\
         \n\
         [profile dev-readonly]\n\
         credential_process = /opt/credbroker credential-process --profile dev-readonly\n\
         credbroker_sso_session = corp\n\
         credbroker_account_id = 111111111111\n\
         credbroker_role_name = ReadOnly\n\
         region = eu-west-1\n\
         # END credbroker managed: sso-session corp\n"
    );
    let config = AwsConfig::parse(&out.text, path()).unwrap();
    let p = &config.profiles["dev-readonly"];
    assert!(p.settings.keys().all(|k| !k.starts_with("sso_")), "{p:?}");
    let target = config.role_target("dev-readonly").unwrap();
    assert_eq!(target.session.registration_scopes, ["sso:account:access"]);
}

#[test]
fn rerun_replaces_only_the_block() {
    let head = "[default]\nregion = us-east-1\n";
    let tail = "[profile mine]\nregion = eu-west-2\n";
    let first = splice(head, &spec(), &[profile("a", "111111111111", "R")], path()).unwrap();
    assert!(first.text.starts_with(&format!("{head}\n# BEGIN")));
    let with_tail = format!("{}{tail}", first.text);
    let second = splice(
        &with_tail,
        &spec(),
        &[profile("b", "222222222222", "R")],
        path(),
    )
    .unwrap();
    assert!(second.text.starts_with(&format!("{head}\n# BEGIN")));
    assert!(second.text.ends_with(&format!(
        "# END credbroker managed: sso-session corp\n{tail}"
    )));
    assert!(!second.text.contains("[profile a]"));
    assert!(second.text.contains("[profile b]"));
    let again = splice(
        &second.text,
        &spec(),
        &[profile("b", "222222222222", "R")],
        path(),
    )
    .unwrap();
    assert_eq!(again.text, second.text);
}

#[test]
fn appending_to_a_file_without_final_newline() {
    let out = splice("[profile x]\nregion = a", &spec(), &[], path()).unwrap();
    assert!(
        out.text.starts_with("[profile x]\nregion = a\n\n# BEGIN"),
        "{}",
        out.text
    );
}

#[test]
fn profiles_named_outside_are_skipped() {
    let text = "[profile taken]\nregion = x\n\n[default]\n";
    let out = splice(
        text,
        &spec(),
        &[
            profile("taken", "111111111111", "R"),
            profile("default", "111111111111", "S"),
            profile("free", "111111111111", "T"),
        ],
        path(),
    )
    .unwrap();
    assert_eq!(out.skipped, ["taken", "default"]);
    assert!(out.text.starts_with(text));
    assert_eq!(out.text.matches("[profile taken]").count(), 1);
    assert!(out.text.contains("[profile free]"));
}

#[test]
fn session_outside_is_reused_or_refused() {
    let same = "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n";
    let out = splice(same, &spec(), &[], path()).unwrap();
    assert!(out.session_outside);
    assert_eq!(out.text.matches("[sso-session corp]").count(), 1);
    let other = same.replace("us-east-1", "eu-west-1");
    let err = splice(&other, &spec(), &[], path()).unwrap_err();
    assert!(matches!(err, BlockError::SessionConflict { .. }), "{err}");
}

#[test]
fn unterminated_block_is_refused() {
    let text = "# BEGIN credbroker managed: sso-session corp\n[profile a]\n";
    let err = splice(text, &spec(), &[], path()).unwrap_err().to_string();
    assert!(
        err.contains("no matching") && err.contains("/home/u/.aws/config"),
        "{err}"
    );
}

#[test]
fn other_sessions_blocks_are_outside() {
    let other = BlockSpec {
        session_name: "other",
        ..spec()
    };
    let first = splice("", &other, &[profile("o", "111111111111", "R")], path()).unwrap();
    let both = splice(
        &first.text,
        &spec(),
        &[profile("c", "111111111111", "R")],
        path(),
    )
    .unwrap();
    assert!(both.text.starts_with(&first.text));
    let config = AwsConfig::parse(&both.text, path()).unwrap();
    assert_eq!(config.sessions.len(), 2);
}

#[test]
fn diff_shows_added_lines_only_when_changed() {
    let new = splice(
        "[default]\n",
        &spec(),
        &[profile("a", "111111111111", "R")],
        path(),
    )
    .unwrap()
    .text;
    let diff = unified_diff("[default]\n", &new, path());
    assert!(diff.starts_with("--- /home/u/.aws/config"), "{diff}");
    assert!(diff.contains("+[profile a]\n"), "{diff}");
    assert!(unified_diff(&new, &new, path()).is_empty());
}

/// Lines of a plausible config file (no managed-block markers in it).
fn surrounding() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just(String::new()),
        "# [a-zA-Z0-9 =#-]{0,20}",
        "; [a-z ]{0,10}",
        "[a-z_]{1,8} = [a-zA-Z0-9 :/._#-]{0,20}",
        "  [a-z_]{1,8} = [a-z0-9]{0,5}",
        "\\[profile [a-z]{1,6}\\]",
        "\\[sso-session [a-z]{1,6}\\]",
        "\\[services [a-z]{1,6}\\]",
        Just("[default]".to_owned()),
    ];
    (
        prop::collection::vec(line, 0..12),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(mut lines, crlf, final_newline)| {
            // An indented line continues a setting, so the SDKs refuse one
            // right after a header; keep only those that follow a setting.
            let mut in_setting = false;
            lines.retain(|l| {
                if l.starts_with("  ") {
                    return in_setting;
                }
                if l.starts_with('[') {
                    in_setting = false;
                } else if l.contains(" = ") && !l.starts_with(['#', ';']) {
                    in_setting = true;
                }
                true
            });
            let mut text = String::from("[profile head]\n");
            let nl = if crlf { "\r\n" } else { "\n" };
            text = text.replace('\n', nl);
            text.push_str(&lines.join(nl));
            if final_newline {
                text.push_str(nl);
            }
            text
        })
}

fn planned() -> impl Strategy<Value = Vec<PlannedProfile>> {
    prop::collection::btree_map(
        "[a-z][a-z0-9-]{0,10}",
        ("[0-9]{12}", "[A-Za-z]{1,10}"),
        0..8,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(name, (account, role))| profile(&name, &account, &role))
            .collect()
    })
}

proptest! {
    #[test]
    fn block_round_trips_and_preserves_surroundings(
        before in surrounding(),
        after in surrounding(),
        old in planned(),
        new in planned(),
    ) {
        prop_assume!(!format!("{before}{after}").contains("[sso-session corp]"));
        // First run appends; text the person adds after the block stays there.
        let first = splice(&before, &spec(), &old, path()).unwrap();
        prop_assert!(first.text.starts_with(&before));
        let edited = format!("{}{after}", first.text);
        let second = splice(&edited, &spec(), &new, path()).unwrap();
        let block_start = second.text.find("# BEGIN credbroker managed").unwrap();
        prop_assert_eq!(&second.text[..block_start], &first.text[..first.text.find("# BEGIN").unwrap()]);
        let expected_tail = format!("# END credbroker managed: sso-session corp\n{after}");
        prop_assert!(second.text.ends_with(&expected_tail));

        // Re-parsing finds every planned profile not named outside, as planned.
        let config = AwsConfig::parse(&second.text, path()).unwrap();
        for p in &new {
            if second.skipped.contains(&p.name) {
                continue;
            }
            let target = config.role_target(&p.name).unwrap();
            prop_assert_eq!(&target.account_id, &p.account_id);
            prop_assert_eq!(&target.role_name, &p.role_name);
            prop_assert_eq!(target.session.start_url.as_str(), "https://corp.awsapps.com/start");
        }
        // And the same plan again changes nothing.
        let third = splice(&second.text, &spec(), &new, path()).unwrap();
        prop_assert_eq!(third.text, second.text);
    }
}
