//! `credbroker workflow lint [PATH...]`: GitHub workflow files that give
//! AWS roles to the wrong jobs ([`crate::policy::workflow`]). A repository
//! root (the default, `.`) means its `.github/workflows`; another directory
//! its own `*.yml` and `*.yaml` files. A path with no workflow file says so.
//! Exit status as for `trust lint` ([`super::lint_run`]).

use super::lint_run::ReportArgs;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: WorkflowCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum WorkflowCommand {
    /// Check workflow files for role assumption without id-token: write,
    /// literal and static AWS keys, script injection and write-all in jobs
    /// that assume a role, and roles on fork-reachable triggers.
    Lint(LintArgs),
}

#[derive(clap::Args, Debug)]
pub struct LintArgs {
    /// Workflow files, directories of them, or repository roots.
    #[arg(default_value = ".", value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub report: ReportArgs,
}

pub async fn run(args: Args) -> anyhow::Result<i32> {
    let WorkflowCommand::Lint(args) = args.command;
    let run = super::lint_run::workflow_lint(&args.paths);
    Ok(run.finish(
        crate::policy::workflow::RULES,
        &args.report,
        "workflow file (*.yml, *.yaml)",
    ))
}
