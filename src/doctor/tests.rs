use super::*;
use crate::control::protocol::NeedsLoginStatus;
use crate::status::{ConfigState, DaemonState, ServiceState, SessionState, FORMAT};
use chrono::TimeZone;

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, h, 0, 0).unwrap()
}

/// A machine where everything is right.
fn healthy() -> Facts {
    let config = AwsConfig::parse(
        "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n\n\
         [profile dev]\ncredential_process = /usr/bin/credbroker credential-process --profile dev\n\
         credbroker_sso_session = corp\ncredbroker_account_id = 111111111111\ncredbroker_role_name = ReadOnly\n",
        std::path::Path::new("/home/u/.aws/config"),
    )
    .unwrap();
    Facts {
        status: Some(StatusReport {
            format: FORMAT,
            daemon: DaemonState {
                running: true,
                pid: Some(7),
                socket: "/run/user/1000/credbroker/daemon.sock".into(),
            },
            endpoint: Some("http://127.0.0.1:9911".into()),
            service: ServiceState {
                manager: "systemd".into(),
                state: "active".into(),
            },
            config: ConfigState {
                path: "/home/u/.aws/config".into(),
                exists: true,
                error: None,
            },
            sessions: vec![SessionState {
                name: "corp".into(),
                start_url: "https://corp.awsapps.com/start".into(),
                region: "us-east-1".into(),
                expires_at: at(18),
                expired: false,
                refreshable: true,
            }],
            keychain_error: None,
            roles: vec![],
            needs_login: vec![],
            last_upstream_error: None,
        }),
        endpoint_answer: Some(Ok(404)),
        config: Some(config),
        env: vec![],
        credentials_file: None,
        idp_clock: vec![(
            "us-east-1".into(),
            Ok((at(10), at(10) + Duration::seconds(2))),
        )],
    }
}

fn findings(facts: &Facts) -> Vec<Check> {
    diagnose(facts)
        .into_iter()
        .filter(|c| c.level != Level::Ok)
        .collect()
}

fn only(facts: &Facts) -> Check {
    let found = findings(facts);
    assert_eq!(found.len(), 1, "{found:#?}");
    let c = found.into_iter().next().unwrap();
    assert!(!c.fix.is_empty(), "{c:?}");
    c
}

#[test]
fn a_healthy_machine_passes_every_check() {
    let checks = diagnose(&healthy());
    assert!(checks.iter().all(|c| c.level == Level::Ok), "{checks:#?}");
    assert_eq!(exit_code(&checks), 0);
    for name in [
        "keychain",
        "daemon",
        "service",
        "config",
        "sessions",
        "clock",
        "environment",
        "profiles",
    ] {
        assert!(checks.iter().any(|c| c.check == name), "{name}");
    }
}

#[test]
fn the_keychain_daemon_service_and_config_are_each_found() {
    let mut f = healthy();
    f.status.as_mut().unwrap().keychain_error = Some("no Secret Service".into());
    f.status.as_mut().unwrap().sessions.clear();
    assert_eq!(only(&f).check, "keychain");

    let mut f = healthy();
    let s = f.status.as_mut().unwrap();
    s.daemon.running = false;
    s.endpoint = None;
    f.endpoint_answer = None;
    let c = only(&f);
    assert!(c.check == "daemon" && c.level == Level::Warning, "{c:?}");

    let mut f = healthy();
    f.endpoint_answer = Some(Ok(401));
    assert!(only(&f).message.contains("refuses the token"));

    let mut f = healthy();
    f.status.as_mut().unwrap().service.state = "not-installed".into();
    assert!(only(&f).fix.contains("service install"));

    let mut f = healthy();
    f.status.as_mut().unwrap().config.error = Some("line 3: no closing ]".into());
    let c = only(&f);
    assert!(c.check == "config" && c.level == Level::Error && c.message.contains("line 3"));

    let mut f = healthy();
    f.status.as_mut().unwrap().config.exists = false;
    assert!(only(&f).message.contains("does not exist"));
}

#[test]
fn sessions_that_cannot_renew_name_the_command() {
    let mut f = healthy();
    f.status
        .as_mut()
        .unwrap()
        .needs_login
        .push(NeedsLoginStatus {
            session: "corp".into(),
            reason: "the refresh token was revoked".into(),
            command: "credbroker login --sso-session corp".into(),
            since: at(9),
        });
    let c = only(&f);
    assert!(
        c.fix.contains("credbroker login --sso-session corp"),
        "{c:?}"
    );

    let mut f = healthy();
    let s = &mut f.status.as_mut().unwrap().sessions[0];
    s.refreshable = false;
    s.expired = true;
    assert_eq!(only(&f).level, Level::Error);
}

#[test]
fn clock_skew_is_measured_against_the_idp() {
    let mut f = healthy();
    f.idp_clock = vec![(
        "us-east-1".into(),
        Ok((at(10), at(10) + Duration::minutes(10))),
    )];
    let c = only(&f);
    assert!(
        c.level == Level::Error && c.message.contains("600s ahead of"),
        "{c:?}"
    );
    f.idp_clock = vec![(
        "us-east-1".into(),
        Ok((at(10), at(10) - Duration::seconds(45))),
    )];
    let c = only(&f);
    assert!(
        c.level == Level::Warning && c.message.contains("behind"),
        "{c:?}"
    );
}

#[test]
fn what_shadows_credbroker_is_found() {
    let mut f = healthy();
    f.env = vec![("AWS_ACCESS_KEY_ID".into(), "AKIAEXAMPLE".into())];
    let c = only(&f);
    assert!(c.message.contains("AWS_ACCESS_KEY_ID") && !c.message.contains("AKIAEXAMPLE"));

    let mut f = healthy();
    f.env = vec![(
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI".into(),
        "/v2/x".into(),
    )];
    assert!(only(&f).message.contains("RELATIVE_URI"));

    let mut f = healthy();
    f.credentials_file = Some((
        "/home/u/.aws/credentials".into(),
        "[other]\naws_access_key_id = A\n[default]\nregion = x\naws_access_key_id=B\n".into(),
    ));
    assert!(only(&f).message.contains("[default]"));
    assert!(!default_has_static_keys(
        "[default]\nregion = x\n[other]\naws_access_key_id = A\n"
    ));

    let mut f = healthy();
    let text = "[sso-session corp]\nsso_start_url = https://x/start\nsso_region = us-east-1\n\n\
                [profile plain]\nsso_session = corp\nsso_account_id = 111111111111\nsso_role_name = R\n";
    f.config = Some(AwsConfig::parse(text, std::path::Path::new("/c")).unwrap());
    f.env = vec![("AWS_PROFILE".into(), "plain".into())];
    let c = only(&f);
    assert!(
        c.message.contains("AWS_PROFILE=plain") && c.fix.contains("credbroker exec"),
        "{c:?}"
    );
}

#[test]
fn profiles_the_aws_cli_reads_differently_are_found() {
    let mut f = healthy();
    let text = "[profile both]\ncredential_process = credbroker credential-process --profile both\n\
                sso_session = corp\n\n\
                [profile other]\ncredential_process = credbroker credential-process --profile dev\n";
    f.config = Some(AwsConfig::parse(text, std::path::Path::new("/c")).unwrap());
    let found = findings(&f);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found.iter().any(|c| c.level == Level::Error
        && c.message.contains("'both'")
        && c.fix.contains("credbroker_sso_session")));
    assert!(found
        .iter()
        .any(|c| c.level == Level::Warning && c.message.contains("'other'")));
    assert_eq!(exit_code(&found), 1);
    let text = render(&found);
    assert!(
        text.contains("FAIL") && text.contains("fix:") && text.contains("1 error(s), 1 warning(s)"),
        "{text}"
    );
}
