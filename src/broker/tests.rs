//! Resolution and its memo: a profile is resolved once per parse of the
//! config file, and an edit (seen by the stamp, or reported by the watcher)
//! starts afresh.

use super::*;

const SESSION: &str = "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n\
                       sso_region = us-east-1\nsso_registration_scopes = sso:account:access\n";

fn config_with(role: &str) -> String {
    format!(
        "{SESSION}[profile dev]\ncredbroker_sso_session = corp\n\
         credbroker_account_id = 111111111111\ncredbroker_role_name = {role}\n\
         [profile ci]\ncredbroker_web_identity_role_arn = arn:aws:iam::111111111111:role/Deploy\n\
         credbroker_web_identity_source = github-actions\n"
    )
}

fn broker(dir: &tempfile::TempDir, role: &str) -> Broker {
    let path = dir.path().join("config");
    std::fs::write(&path, config_with(role)).unwrap();
    Broker::new(Vault::in_memory(), path, crate::clock::system())
}

fn sso_role(broker: &Broker, profile: &str) -> Arc<SsoRole> {
    match broker.resolve(profile) {
        Ok(Resolved::Sso(role)) => role,
        Ok(Resolved::WebIdentity(_)) => panic!("{profile} resolved to a web identity"),
        Err(e) => panic!("{profile}: {e}"),
    }
}

#[test]
fn a_profile_is_resolved_once_per_parse() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(&dir, "ReadOnly");
    let first = sso_role(&broker, "dev");
    assert_eq!(first.target.role_name, "ReadOnly");
    assert!(Arc::ptr_eq(&first, &sso_role(&broker, "dev")));
    assert!(matches!(broker.resolve("ci"), Ok(Resolved::WebIdentity(_))));
    assert!(matches!(
        broker.resolve("nope"),
        Err(BrokerError::UnknownProfile(_))
    ));
}

#[test]
fn an_edit_is_seen_on_the_next_request_without_a_watcher() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(&dir, "ReadOnly");
    let before = sso_role(&broker, "dev");
    std::fs::write(broker.config_path(), config_with("PowerUserAccess")).unwrap();
    let after = sso_role(&broker, "dev");
    assert_eq!(after.target.role_name, "PowerUserAccess");
    // A new role has its own cache slot.
    assert!(!Arc::ptr_eq(&before.slot, &after.slot));
}

#[test]
fn with_a_watcher_the_reload_applies_the_edit() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(&dir, "ReadOnly");
    broker.set_config_watched(true);
    assert_eq!(sso_role(&broker, "dev").target.role_name, "ReadOnly");
    std::fs::write(broker.config_path(), config_with("PowerUserAccess")).unwrap();
    broker.reload_config().unwrap();
    assert_eq!(sso_role(&broker, "dev").target.role_name, "PowerUserAccess");
}

#[test]
fn the_same_role_keeps_its_slot_across_edits() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(&dir, "ReadOnly");
    let before = sso_role(&broker, "dev");
    let edited = format!(
        "{}\n[profile other]\nregion = us-east-1\n",
        config_with("ReadOnly")
    );
    std::fs::write(broker.config_path(), edited).unwrap();
    let after = sso_role(&broker, "dev");
    assert!(!Arc::ptr_eq(&before, &after), "a new parse resolves afresh");
    assert!(
        Arc::ptr_eq(&before.slot, &after.slot),
        "the cached credentials stay"
    );
}
