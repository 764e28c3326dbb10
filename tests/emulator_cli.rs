//! `credbroker emulator` as a person or a script runs it: its log when
//! stderr is a pipe, its `--help`, and its roles file.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_credbroker");

/// Escape codes in a log that is not read on a terminal end up as noise in
/// every log collector and file (`\x1b[2m...`). Run the emulator with
/// stderr to a pipe, no `NO_COLOR`, serve one call, and read the log.
#[test]
fn the_log_has_no_colour_codes_when_stderr_is_a_pipe() {
    let mut child = Command::new(BIN)
        .args(["emulator", "--listen", "127.0.0.1:0"])
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    let stats =
        std::net::TcpStream::connect(base.trim_start_matches("http://")).and_then(|mut stream| {
            use std::io::Write;
            write!(
                stream,
                "GET /_emulator/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )?;
            let mut answer = String::new();
            stream.read_to_string(&mut answer)?;
            Ok(answer)
        });
    assert!(stats.unwrap().starts_with("HTTP/1.1 200"));
    // Every line of the log is written before the answer: stop it and read.
    child.kill().unwrap();
    child.wait().unwrap();
    let mut log = Vec::new();
    child.stderr.take().unwrap().read_to_end(&mut log).unwrap();
    let text = String::from_utf8_lossy(&log);
    assert!(text.contains("emulator listening"), "{text}");
    assert!(text.contains("served"), "{text}");
    assert!(
        !log.contains(&0x1b),
        "colour codes in a piped log: {text:?}"
    );
}

#[test]
fn help_points_to_the_emulator_page() {
    let out = Command::new(BIN)
        .args(["emulator", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "docs/emulator.md",
        "/_emulator/stats",
        "/_emulator/faults",
        "AssumeRole",
        "--roles <FILE>",
    ] {
        assert!(help.contains(needle), "{needle} not in:\n{help}");
    }
    let page = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/emulator.md");
    assert!(page.is_file(), "--help names a page that is not there");
}

#[test]
fn a_bad_roles_file_stops_start_up_naming_file_and_role() {
    let dir = tempfile::tempdir().unwrap();
    let roles = dir.path().join("roles.json");
    std::fs::write(
        &roles,
        r#"{"arn:aws:iam::222222222222:role/Deploy": {"Statement": [{"Effect": "Sometimes"}]}}"#,
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["emulator", "--listen", "127.0.0.1:0", "--roles"])
        .arg(&roles)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("roles.json")
            && stderr.contains("role/Deploy")
            && stderr.contains("Effect"),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "no URL is printed when start-up fails"
    );
}
