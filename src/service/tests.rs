use super::*;

#[test]
fn unit_names_the_installed_binary() {
    let unit = render_unit(Path::new("/opt/credbroker/bin/credbroker"));
    assert!(
        unit.contains("\nExecStart=/opt/credbroker/bin/credbroker daemon\n"),
        "{unit}"
    );
    assert!(!unit.contains(UNIT_BINARY));
    for line in [
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectHome=read-only",
        "WantedBy=default.target",
    ] {
        assert!(unit.contains(line), "{line}");
    }
    let odd = render_unit(Path::new("/home/a b/100%/credbroker"));
    assert!(
        odd.contains("ExecStart=\"/home/a b/100%%/credbroker\" daemon"),
        "{odd}"
    );
}

#[test]
fn plist_names_the_binary_and_home() {
    let plist = render_plist(
        Path::new("/Users/me/.cargo/bin/credbroker"),
        Path::new("/Users/me & co"),
    );
    assert!(plist.contains("<string>/Users/me/.cargo/bin/credbroker</string>"));
    assert!(
        plist.contains("<string>/Users/me &amp; co/Library/Logs/credbroker/daemon.log</string>")
    );
    assert!(!plist.contains(PLIST_BINARY) && !plist.contains(PLIST_HOME));
}

#[test]
fn files_go_where_the_managers_look() {
    let home = Path::new("/home/u");
    assert_eq!(
        Manager::Systemd.service_file(home, None),
        Path::new("/home/u/.config/systemd/user/credbroker.service")
    );
    assert_eq!(
        Manager::Systemd.service_file(home, Some(Path::new("/x"))),
        Path::new("/x/systemd/user/credbroker.service")
    );
    assert_eq!(
        Manager::Launchd.service_file(home, None),
        Path::new("/home/u/Library/LaunchAgents/com.credbroker.daemon.plist")
    );
}

fn lines(steps: &[Step]) -> Vec<String> {
    steps.iter().map(Step::shell_line).collect()
}

#[test]
fn uninstall_reverses_install() {
    let file = Path::new("/u/credbroker.service");
    let install = plan(Manager::Systemd, Action::Install, file, "unit".into(), 1000);
    assert_eq!(install.write, Some((file.to_path_buf(), "unit".to_owned())));
    assert_eq!(
        lines(&install.commands),
        [
            "systemctl --user daemon-reload",
            "systemctl --user enable credbroker.service",
            "systemctl --user restart credbroker.service"
        ]
    );
    let uninstall = plan(
        Manager::Systemd,
        Action::Uninstall,
        file,
        String::new(),
        1000,
    );
    assert_eq!(
        lines(&uninstall.before_remove),
        ["systemctl --user disable --now credbroker.service"]
    );
    assert_eq!(uninstall.remove.as_deref(), Some(file));
    assert_eq!(
        lines(&uninstall.commands)[0],
        "systemctl --user daemon-reload"
    );

    let plist = Path::new("/Users/u/Library/LaunchAgents/com.credbroker.daemon.plist");
    let install = plan(Manager::Launchd, Action::Install, plist, String::new(), 501);
    assert!(lines(&install.commands)
        .contains(&format!("launchctl bootstrap gui/501 {}", plist.display())));
    let uninstall = plan(
        Manager::Launchd,
        Action::Uninstall,
        plist,
        String::new(),
        501,
    );
    assert_eq!(
        lines(&uninstall.before_remove),
        ["launchctl bootout gui/501/com.credbroker.daemon"]
    );
    assert_eq!(uninstall.remove.as_deref(), Some(plist));
}

#[test]
fn user_manager_states() {
    assert!(systemd_state_usable("running\n"));
    assert!(systemd_state_usable("degraded\n"));
    assert!(!systemd_state_usable("offline\n"));
    assert!(!systemd_state_usable(""));
}
