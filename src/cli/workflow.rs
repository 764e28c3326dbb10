//! `credbroker workflow lint [PATH...]`: GitHub workflow files that give
//! AWS roles to the wrong jobs ([`crate::policy::workflow`]). A directory
//! (default `.github/workflows`) means its `*.yml` and `*.yaml` files.
//! Exits 1 when a finding is at or above `--fail-on`, 2 on bad input.

use super::trust::{report, ReportArgs};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: WorkflowCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum WorkflowCommand {
    /// Check workflow files for role assumption without id-token: write,
    /// static AWS keys, and roles on fork-reachable triggers.
    Lint(LintArgs),
}

#[derive(clap::Args, Debug)]
pub struct LintArgs {
    /// Workflow files or directories.
    #[arg(default_value = ".github/workflows", value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub report: ReportArgs,
}

pub async fn run(args: Args) -> anyhow::Result<i32> {
    let WorkflowCommand::Lint(args) = args.command;
    let mut files = Vec::new();
    for path in &args.paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = match std::fs::read_dir(path) {
                Ok(entries) => entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
                    .collect(),
                Err(e) => return bad_input(format!("cannot read {}: {e}", path.display())),
            };
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    let mut findings = Vec::new();
    for path in &files {
        let file = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => return bad_input(format!("cannot read {file}: {e}")),
        };
        match crate::policy::workflow::lint(&file, &text) {
            Ok(found) => findings.extend(found),
            Err(e) => return bad_input(format!("{file}: invalid YAML: {e}")),
        }
    }
    Ok(report(
        &findings,
        crate::policy::workflow::RULES,
        &args.report,
    ))
}

fn bad_input(message: String) -> anyhow::Result<i32> {
    eprintln!("credbroker: {message}");
    Ok(2)
}
