//! What the linter tests share, apart from tests/support (which starts the
//! emulator and needs a keychain; these need neither): the fixtures under
//! tests/fixtures and a run of the binary that keeps its exit code and
//! both streams.

// Each test crate that includes this uses only part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_credbroker");

/// The path of `path` under tests/fixtures.
pub fn fixture(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
        .to_string_lossy()
        .into_owned()
}

/// Run the binary with `args`: (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}
