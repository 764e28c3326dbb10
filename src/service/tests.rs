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

#[test]
fn the_packaged_binary_uses_the_packaged_unit() {
    let there = |p: &Path| p == Path::new(PACKAGED_UNIT);
    let nowhere = |_: &Path| false;
    let packaged = Path::new("/usr/bin/credbroker");
    assert_eq!(
        packaged_unit(Manager::Systemd, packaged, there).as_deref(),
        Some(Path::new("/usr/lib/systemd/user/credbroker.service"))
    );
    // Another binary, no package's unit, or launchd: write our own.
    let cargo = Path::new("/home/u/.cargo/bin/credbroker");
    assert_eq!(packaged_unit(Manager::Systemd, cargo, there), None);
    assert_eq!(packaged_unit(Manager::Systemd, packaged, nowhere), None);
    assert_eq!(packaged_unit(Manager::Launchd, packaged, there), None);
}

#[test]
fn installing_the_packaged_unit_writes_nothing_and_enables_it() {
    let install = packaged_plan(Action::Install, None);
    assert_eq!(install.write, None);
    assert_eq!(install.remove, None);
    assert!(install.before_remove.is_empty());
    assert_eq!(
        lines(&install.commands),
        [
            "systemctl --user daemon-reload",
            "systemctl --user enable credbroker.service",
            "systemctl --user restart credbroker.service"
        ]
    );
    // A copy an earlier install wrote would shadow the package's unit.
    let copy = Path::new("/home/u/.config/systemd/user/credbroker.service");
    let replace = packaged_plan(Action::Install, Some(copy));
    assert_eq!(replace.write, None);
    assert_eq!(
        lines(&replace.before_remove),
        ["systemctl --user disable credbroker.service"]
    );
    assert_eq!(replace.remove.as_deref(), Some(copy));
    assert_eq!(replace.commands, install.commands);
}

#[test]
fn uninstalling_the_packaged_unit_leaves_its_file_to_the_package() {
    let uninstall = packaged_plan(Action::Uninstall, None);
    assert_eq!(uninstall.remove, None);
    assert_eq!(
        lines(&uninstall.before_remove),
        ["systemctl --user disable --now credbroker.service"]
    );
    assert_eq!(
        lines(&uninstall.commands)[0],
        "systemctl --user daemon-reload"
    );
    let copy = Path::new("/home/u/.config/systemd/user/credbroker.service");
    let with_copy = packaged_plan(Action::Uninstall, Some(copy));
    assert_eq!(with_copy.remove.as_deref(), Some(copy));
}

#[test]
fn our_own_unit_files_are_told_from_a_persons() {
    assert!(written_by_credbroker(&render_unit(Path::new(
        "/home/u/.cargo/bin/credbroker"
    ))));
    assert!(written_by_credbroker(SYSTEMD_UNIT));
    assert!(!written_by_credbroker(
        "[Unit]\nDescription=my own\n[Service]\nExecStart=/opt/cb daemon\n"
    ));
    assert!(!written_by_credbroker(""));
}
