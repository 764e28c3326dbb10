//! The crates as `cargo package` builds them for crates.io: what each one
//! ships, read from `cargo package --list` (offline, no build).
//!
//! A published crate is built from its tarball alone, so a file the code
//! embeds (`include_str!`) that the `include` list leaves out breaks every
//! `cargo install credbroker`, while the build in the repository still
//! passes. The reverse matters too: the fuzz corpus, build output and test
//! scratch do not belong in what every user downloads.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const PACKAGES: [&str; 4] = [
    "credbroker",
    "credbroker-clock",
    "credbroker-policy",
    "credbroker-emulator",
];

/// The files `cargo package` would put in `package`'s tarball.
fn listed(package: &str) -> BTreeSet<String> {
    let out = Command::new(env!("CARGO"))
        .args([
            "package",
            "--list",
            "--allow-dirty",
            "--offline",
            "-p",
            package,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo package --list -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_crate_ships_its_sources_and_the_license_and_nothing_else_of_the_repo() {
    for package in PACKAGES {
        let files = listed(package);
        for needed in ["Cargo.toml", "LICENSE"] {
            assert!(
                files.contains(needed),
                "{package} ships no {needed}: {files:?}"
            );
        }
        let entry = if package == "credbroker" {
            "src/main.rs"
        } else {
            "src/lib.rs"
        };
        assert!(
            files.contains(entry),
            "{package} ships no {entry}: {files:?}"
        );
        for file in &files {
            for refused in [
                "target/",
                "fuzz/",
                "tests/",
                "scripts/",
                "examples/",
                ".github/",
                "crates/",
            ] {
                assert!(
                    !file.starts_with(refused),
                    "{package} would ship {file}, which is not part of the crate"
                );
            }
        }
    }
}

#[test]
fn the_broker_crate_ships_every_file_its_code_embeds() {
    let files = listed("credbroker");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut embedded = Vec::new();
    for entry in walk(&root.join("src")) {
        let text = std::fs::read_to_string(&entry).unwrap();
        const EMBED: &str = "include_str!(\"";
        for (at, _) in text.match_indices(EMBED) {
            let rest = &text[at + EMBED.len()..];
            let relative = &rest[..rest.find('"').unwrap()];
            let target = entry.parent().unwrap().join(relative);
            let target = target.canonicalize().unwrap_or_else(|e| {
                panic!(
                    "{} embeds {relative}, which is missing: {e}",
                    entry.display()
                )
            });
            let inside = target.strip_prefix(root.canonicalize().unwrap()).unwrap();
            embedded.push(inside.to_string_lossy().into_owned());
        }
    }
    assert!(
        embedded.len() >= 2,
        "the service unit and the launchd agent are embedded: {embedded:?}"
    );
    for file in embedded {
        assert!(
            files.contains(&file),
            "the code embeds {file}, but the crate's `include` leaves it out"
        );
    }
    for doc in ["README.md", "Cargo.lock", "docs/getting-started.md"] {
        assert!(files.contains(doc), "the crate ships no {doc}");
    }
}

/// Every `.rs` file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found
}
