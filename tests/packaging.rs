//! The Debian package, checked with the tools that judge one: lintian,
//! `dpkg-deb`, `systemd-analyze`, `man` and the three shells.
//!
//! The package is built by `scripts/package-deb.sh --profile dev` (the same
//! package as the shipping one, from a quicker build), which scripts/test.sh
//! runs before `cargo test` and names in `CREDBROKER_TEST_DEB`. Run outside
//! scripts/test.sh, these tests fail and say so.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn deb() -> PathBuf {
    let path = std::env::var_os("CREDBROKER_TEST_DEB").expect(
        "CREDBROKER_TEST_DEB is not set: run through scripts/test.sh, which builds the package \
         with scripts/package-deb.sh first",
    );
    let path = PathBuf::from(path);
    assert!(path.is_file(), "{} is not a file", path.display());
    path
}

/// The package's files, extracted with dpkg-deb.
struct Extracted {
    dir: tempfile::TempDir,
}

impl Extracted {
    fn new() -> Extracted {
        let dir = tempfile::tempdir().unwrap();
        let out = run(Command::new("dpkg-deb")
            .arg("-x")
            .arg(deb())
            .arg(dir.path()));
        assert!(out.status.success(), "dpkg-deb -x: {}", stderr(&out));
        Extracted { dir }
    }

    fn path(&self, inside: &str) -> PathBuf {
        self.dir.path().join(inside.trim_start_matches('/'))
    }

    fn binary(&self) -> PathBuf {
        self.path("/usr/bin/credbroker")
    }

    /// PATH with the packaged binary first, as the completion scripts
    /// call `credbroker` by name.
    fn path_env(&self) -> std::ffi::OsString {
        let mut paths = vec![self.path("/usr/bin")];
        paths.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        std::env::join_paths(paths).unwrap()
    }
}

fn run(cmd: &mut Command) -> Output {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {program} ({e}): scripts/test.sh installs it (Debian packages lintian, man-db, zsh, fish, systemd)")
    })
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn lintian_reports_no_errors() {
    let out = run(Command::new("lintian")
        .args(["--fail-on", "error", "--no-tag-display-limit"])
        .arg(deb()));
    let report = format!("{}{}", stdout(&out), stderr(&out));
    assert!(out.status.success(), "lintian:\n{report}");
    assert!(
        !report.lines().any(|l| l.starts_with("E: ")),
        "lintian:\n{report}"
    );
}

#[test]
fn the_package_holds_the_binary_unit_pages_completions_and_docs() {
    let package = Extracted::new();
    for file in [
        "/usr/bin/credbroker",
        "/usr/lib/systemd/user/credbroker.service",
        "/usr/share/man/man1/credbroker.1.gz",
        "/usr/share/bash-completion/completions/credbroker",
        "/usr/share/zsh/vendor-completions/_credbroker",
        "/usr/share/fish/vendor_completions.d/credbroker.fish",
        "/usr/share/doc/credbroker/copyright",
        "/usr/share/doc/credbroker/changelog.Debian.gz",
        "/usr/share/doc/credbroker/README.md",
        "/usr/share/doc/credbroker/docs/getting-started.md",
    ] {
        assert!(package.path(file).is_file(), "{file} is not in the package");
    }
    let copyright =
        std::fs::read_to_string(package.path("/usr/share/doc/credbroker/copyright")).unwrap();
    assert!(copyright.contains("License: Apache-2.0"), "{copyright}");
    assert!(
        copyright.contains("/usr/share/common-licenses/Apache-2.0"),
        "{copyright}"
    );
}

#[test]
fn the_extracted_binary_runs() {
    let package = Extracted::new();
    let out = run(Command::new(package.binary()).arg("--version"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        format!("credbroker {}", env!("CARGO_PKG_VERSION"))
    );
    let help = run(Command::new(package.binary()).args(["service", "--help"]));
    assert!(help.status.success(), "{}", stderr(&help));
    assert!(stdout(&help).contains("install"), "{}", stdout(&help));
}

#[test]
fn the_packaged_unit_runs_the_packaged_binary_and_passes_systemd_analyze() {
    let package = Extracted::new();
    let unit =
        std::fs::read_to_string(package.path("/usr/lib/systemd/user/credbroker.service")).unwrap();
    // The committed unit, with only ExecStart pointing at /usr/bin.
    assert_eq!(
        unit,
        credbroker::service::render_unit(Path::new("/usr/bin/credbroker"))
    );
    assert!(unit.contains("\nExecStart=/usr/bin/credbroker daemon\n"));

    // systemd-analyze checks that ExecStart's program exists: verify the
    // same unit naming the extracted copy of /usr/bin/credbroker.
    let dir = tempfile::tempdir().unwrap();
    let runtime = dir.path().join("run");
    std::fs::create_dir_all(&runtime).unwrap();
    let checked = dir.path().join("credbroker.service");
    let rewritten = unit.replace(
        "ExecStart=/usr/bin/credbroker daemon",
        &format!("ExecStart={} daemon", package.binary().display()),
    );
    std::fs::write(&checked, rewritten).unwrap();
    let out = run(Command::new("systemd-analyze")
        .args(["--user", "verify"])
        .arg(&checked)
        .env("XDG_RUNTIME_DIR", &runtime));
    assert!(out.status.success(), "{}", stderr(&out));
    // Unknown settings are warnings only; refuse those too.
    assert!(
        !stderr(&out).contains("credbroker.service"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn every_man_page_renders() {
    let package = Extracted::new();
    // One page per visible command, as the packaged binary itself writes them.
    let fresh = tempfile::tempdir().unwrap();
    let out = run(Command::new(package.binary())
        .arg("man")
        .arg("--out")
        .arg(fresh.path()));
    assert!(out.status.success(), "{}", stderr(&out));
    let expected: Vec<String> = stdout(&out)
        .lines()
        .map(|l| format!("{}.gz", Path::new(l).file_name().unwrap().to_string_lossy()))
        .collect();
    let man1 = package.path("/usr/share/man/man1");
    let mut shipped: Vec<String> = std::fs::read_dir(&man1)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    shipped.sort();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(shipped, expected_sorted);
    assert!(shipped.len() > 20, "{shipped:?}");

    for page in &shipped {
        let out = run(Command::new("man")
            .args(["--warnings", "-l"])
            .arg(man1.join(page))
            .env("MANWIDTH", "80")
            .env_remove("MAN_KEEP_FORMATTING"));
        let text = stdout(&out);
        assert!(out.status.success(), "man -l {page}: {}", stderr(&out));
        assert!(
            stderr(&out).trim().is_empty(),
            "man -l {page}: {}",
            stderr(&out)
        );
        let name = page.trim_end_matches(".1.gz");
        assert!(text.contains("NAME"), "{page}:\n{text}");
        assert!(text.contains(name), "{page}:\n{text}");
    }
}

/// An AWS config with two profiles and a session, for the completions.
fn aws_config(dir: &Path) -> PathBuf {
    let path = dir.join("config");
    std::fs::write(
        &path,
        "[profile dev]\ncredbroker_sso_session = corp\ncredbroker_account_id = 111111111111\n\
         credbroker_role_name = ReadOnly\n\n[profile prod-admin]\nregion = eu-west-1\n\n\
         [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n",
    )
    .unwrap();
    path
}

#[test]
fn the_completion_files_are_what_the_binary_prints() {
    let package = Extracted::new();
    for (shell, file) in [
        ("bash", "/usr/share/bash-completion/completions/credbroker"),
        ("zsh", "/usr/share/zsh/vendor-completions/_credbroker"),
        (
            "fish",
            "/usr/share/fish/vendor_completions.d/credbroker.fish",
        ),
    ] {
        let out = run(Command::new(package.binary()).args(["completions", shell]));
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            std::fs::read_to_string(package.path(file)).unwrap(),
            stdout(&out),
            "{file}"
        );
    }
}

#[test]
fn bash_loads_the_completion_and_completes_profiles() {
    let package = Extracted::new();
    let file = package.path("/usr/share/bash-completion/completions/credbroker");
    let syntax = run(Command::new("bash").arg("-n").arg(&file));
    assert!(syntax.status.success(), "bash -n: {}", stderr(&syntax));

    let dir = tempfile::tempdir().unwrap();
    // What bash does on Tab after `credbroker exec --profile `.
    let script = r#"
        source "$1" || exit 1
        complete -p credbroker || exit 1
        COMP_WORDS=(credbroker exec --profile ""); COMP_CWORD=3; COMP_TYPE=9
        _clap_complete_credbroker credbroker "" --profile
        printf '%s\n' "${COMPREPLY[@]}"
        COMP_WORDS=(credbroker login --sso-session ""); COMP_CWORD=3
        _clap_complete_credbroker credbroker "" --sso-session
        printf '%s\n' "${COMPREPLY[@]}"
        COMP_WORDS=(credbroker serv); COMP_CWORD=1
        _clap_complete_credbroker credbroker serv credbroker
        printf '%s\n' "${COMPREPLY[@]}"
    "#;
    let out = run(Command::new("bash")
        .args(["--norc", "--noprofile", "-c", script, "bash"])
        .arg(&file)
        .env("PATH", package.path_env())
        .env("AWS_CONFIG_FILE", aws_config(dir.path())));
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert!(lines[0].contains("_clap_complete_credbroker"), "{lines:?}");
    assert_eq!(&lines[1..], ["dev", "prod-admin", "corp", "service"]);
}

#[test]
fn fish_loads_the_completion_and_completes_profiles() {
    let package = Extracted::new();
    let file = package.path("/usr/share/fish/vendor_completions.d/credbroker.fish");
    let syntax = run(Command::new("fish").arg("--no-execute").arg(&file));
    assert!(
        syntax.status.success(),
        "fish --no-execute: {}",
        stderr(&syntax)
    );

    let dir = tempfile::tempdir().unwrap();
    let out = run(Command::new("fish")
        .args(["--no-config", "-c"])
        .arg(format!(
            "source '{}'; and complete -C 'credbroker exec --profile '",
            file.display()
        ))
        .env("PATH", package.path_env())
        .env("AWS_CONFIG_FILE", aws_config(dir.path())));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).lines().collect::<Vec<_>>(),
        ["dev\tReadOnly in 111111111111", "prod-admin"]
    );
}

#[test]
fn zsh_loads_the_completion_from_its_vendor_directory() {
    let package = Extracted::new();
    let file = package.path("/usr/share/zsh/vendor-completions/_credbroker");
    let syntax = run(Command::new("zsh").arg("-n").arg(&file));
    assert!(syntax.status.success(), "zsh -n: {}", stderr(&syntax));

    // compinit finds `_credbroker` on fpath by its #compdef line, as it
    // does in /usr/share/zsh/vendor-completions, and binds it to credbroker.
    let dir = tempfile::tempdir().unwrap();
    let out = run(Command::new("zsh")
        .args(["-f", "-c"])
        .arg(format!(
            "fpath=('{}' $fpath); autoload -Uz compinit && compinit -u -d '{}' && \
             print -r -- ${{_comps[credbroker]}} && autoload -Uz +X _credbroker && \
             print -r -- ok",
            file.parent().unwrap().display(),
            dir.path().join("zcompdump").display()
        ))
        .env("PATH", package.path_env()));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "_credbroker\nok\n");
}
