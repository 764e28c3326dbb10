//! `credbroker man --out DIR` (hidden): write the man pages, one for the
//! command and one for each subcommand (`credbroker-login.1`, ...).
//!
//! A subcommand of the binary rather than a separate generator, so the pages
//! are made from the very binary that is packaged (`scripts/package-deb.sh`
//! runs it) and cannot drift from its `--help`; and a person who installed
//! with `cargo install` can write them too. Hidden: it is a packaging tool,
//! not something to learn the product from.

use anyhow::Context as _;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The directory to write the pages to (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    for page in write_pages(&args.out)? {
        println!("{}", page.display());
    }
    Ok(())
}

/// Write every page into `dir`; returns their paths, in the order written.
pub fn write_pages(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut cmd = <super::Cli as clap::CommandFactory>::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    write_tree(&cmd, dir, &mut pages)
        .with_context(|| format!("cannot write the man pages in {}", dir.display()))?;
    Ok(pages)
}

/// The page of `cmd`, then those of its visible subcommands, each saying
/// which credbroker version it documents.
fn write_tree(cmd: &clap::Command, dir: &Path, pages: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let page = clap_mangen::Man::new(cmd.clone())
        .source(format!("credbroker {}", env!("CARGO_PKG_VERSION")))
        .manual("credbroker manual");
    pages.push(page.generate_to(dir)?);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_tree(sub, dir, pages)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_for_the_command_and_each_visible_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        let pages = write_pages(dir.path()).unwrap();
        let names: Vec<String> = pages
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for expected in [
            "credbroker.1",
            "credbroker-login.1",
            "credbroker-daemon.1",
            "credbroker-service.1",
            "credbroker-service-install.1",
            "credbroker-completions.1",
        ] {
            assert!(names.iter().any(|n| n == expected), "{expected}: {names:?}");
        }
        // The hidden packaging tool has no page of its own.
        assert!(!names.iter().any(|n| n == "credbroker-man.1"), "{names:?}");
        let login = std::fs::read_to_string(dir.path().join("credbroker-login.1")).unwrap();
        let version = env!("CARGO_PKG_VERSION");
        assert!(
            login.contains(&format!(
                "\n.TH credbroker-login 1  \"credbroker {version}\" \"credbroker manual\"\n"
            )),
            "{login}"
        );
        assert!(login.contains("sso\\-session"), "{login}");
    }
}
