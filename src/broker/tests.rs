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
    Broker::new(
        Vault::in_memory(),
        path,
        &crate::context::Context::new(crate::env::Env::empty()),
    )
}

fn sso_role(broker: &Broker, profile: &str) -> Arc<SsoRole> {
    match broker.resolve(profile) {
        Ok(role) if matches!(role.slot.key, SlotKey::Sso(_)) => role,
        Ok(role) => panic!("{profile} resolved to {:?}", role.slot.key),
        Err(e) => panic!("{profile}: {e}"),
    }
}

fn role_name(role: &SsoRole) -> String {
    role.subject.role.clone().unwrap()
}

#[test]
fn a_profile_is_resolved_once_per_parse() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(&dir, "ReadOnly");
    let first = sso_role(&broker, "dev");
    assert_eq!(role_name(&first), "ReadOnly");
    assert!(Arc::ptr_eq(&first, &sso_role(&broker, "dev")));
    assert!(matches!(
        broker.resolve("ci").map(|r| r.slot.key.clone()),
        Ok(SlotKey::WebIdentity(_))
    ));
    assert!(matches!(
        broker.resolve("nope"),
        Err(e) if e.is(ErrorKind::UnknownProfile)
    ));
}

#[test]
fn an_edit_is_seen_on_the_next_request_without_a_watcher() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(&dir, "ReadOnly");
    let before = sso_role(&broker, "dev");
    std::fs::write(broker.config_path(), config_with("PowerUserAccess")).unwrap();
    let after = sso_role(&broker, "dev");
    assert_eq!(role_name(&after), "PowerUserAccess");
    // A new role has its own cache slot.
    assert!(!Arc::ptr_eq(&before.slot, &after.slot));
}

#[test]
fn with_a_watcher_the_reload_applies_the_edit() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(&dir, "ReadOnly");
    broker.set_config_watched(true);
    assert_eq!(role_name(&sso_role(&broker, "dev")), "ReadOnly");
    std::fs::write(broker.config_path(), config_with("PowerUserAccess")).unwrap();
    broker.reload_config().unwrap();
    assert_eq!(role_name(&sso_role(&broker, "dev")), "PowerUserAccess");
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

#[test]
fn a_chain_shares_its_source_slot_with_the_source_profile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    std::fs::write(
        &path,
        format!(
            "{}\n[profile deploy]\nrole_arn = arn:aws:iam::222222222222:role/Deploy\n\
             source_profile = dev\nexternal_id = x\n\
             [profile deeper]\nrole_arn = arn:aws:iam::333333333333:role/Ops\nsource_profile = deploy\n",
            config_with("Admin")
        ),
    )
    .unwrap();
    let broker = Broker::new(
        Vault::in_memory(),
        path,
        &crate::context::Context::new(crate::env::Env::empty()),
    );
    let dev = sso_role(&broker, "dev");
    let deploy = broker.resolve("deploy").unwrap();
    assert_eq!(deploy.subject.account.as_deref(), Some("222222222222"));
    assert_eq!(deploy.subject.role.as_deref(), Some("Deploy"));
    let SlotKey::Assumed(source, hop) = &deploy.slot.key else {
        panic!("{:?}", deploy.slot.key)
    };
    assert_eq!(**source, dev.slot.key);
    assert_eq!(hop.external_id.as_deref(), Some("x"));
    let deeper = broker.resolve("deeper").unwrap();
    let Some(Fetch::Assumed { source, .. }) = deeper.slot.how.lock().unwrap().clone() else {
        panic!("not an assumed role")
    };
    assert!(Arc::ptr_eq(&source, &deploy.slot), "one slot per hop");
    assert_eq!(
        describe(&deeper.slot.key).via.as_deref(),
        Some("222222222222/Deploy")
    );
    assert_eq!(
        deeper.subject.chain.as_deref(),
        Some("111111111111/Admin -> 222222222222/Deploy -> 333333333333/Ops")
    );
}

#[test]
fn errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(&dir, "ReadOnly");
    let e = broker.resolve("nope").unwrap_err().to_string();
    assert!(
        e.contains(&broker.config_path().display().to_string()),
        "{e}"
    );
}

/// Credentials for `dev`'s slot as a fetch leaves them (the epoch bumped).
fn hold(broker: &Broker, lifetime: chrono::Duration) {
    let now = broker.clock.now();
    let credentials = RoleCredentials {
        access_key_id: "ASIAKEPT".into(),
        secret_access_key: crate::model::Secret::new("secret"),
        session_token: crate::model::Secret::new("token"),
        expiration: now + lifetime,
        account_id: None,
        issued_at: Some(now),
    };
    let role = sso_role(broker, "dev");
    *role.slot.current.write().unwrap() = Some(Arc::new(Vended::new(credentials)));
    broker.changed();
}

#[test]
fn a_kept_answer_goes_stale_on_a_reload_a_logout_or_new_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(&dir, "ReadOnly");
    hold(&broker, chrono::Duration::hours(1));
    assert!(
        broker.cached_to_keep("dev").is_none(),
        "without a watcher every request looks at the file: nothing is kept"
    );
    broker.set_config_watched(true);
    let (served, freshness) = broker.cached_to_keep("dev").unwrap();
    assert_eq!(served.body, broker.cached("dev").unwrap().body);
    assert!(broker.is_fresh(&freshness));
    // A servable time is the credentials' own.
    assert!(freshness.servable_until > broker.clock.now() + chrono::Duration::minutes(44));

    broker.reload_config().unwrap();
    assert!(!broker.is_fresh(&freshness), "a reload");
    let (_, freshness) = broker.cached_to_keep("dev").unwrap();
    hold(&broker, chrono::Duration::hours(1));
    assert!(!broker.is_fresh(&freshness), "new credentials");
    let (_, freshness) = broker.cached_to_keep("dev").unwrap();
    assert!(broker.is_fresh(&freshness));
    broker.forget_sessions(&["corp".to_owned()], false);
    assert!(!broker.is_fresh(&freshness), "a logout");
    assert!(broker.cached_to_keep("dev").is_none());
}
