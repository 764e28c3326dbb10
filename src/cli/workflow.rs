//! `credbroker workflow lint [PATH...]`: GitHub workflow files and GitLab
//! CI files that give AWS roles to the wrong jobs
//! ([`crate::policy::workflow`], [`crate::policy::gitlab_ci`]). A
//! repository root (the default, `.`) means its `.github/workflows` and its
//! `.gitlab-ci.yml`; another directory its own `*.yml` and `*.yaml` files.
//! Which CI a file is for is told by its name (`.gitlab-ci.yml`) or
//! content, or by `--ci`. A path with no workflow file says so. Exit
//! status as for `trust lint` ([`super::lint_run`]).

use super::lint_run::{Ci, ReportArgs};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: WorkflowCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum WorkflowCommand {
    /// Check GitHub workflows for role assumption without id-token: write,
    /// literal and static AWS keys, script injection and write-all in jobs
    /// that assume a role, and roles on fork-reachable triggers; and
    /// `.gitlab-ci.yml` for role jobs without id_tokens (or with an aud the
    /// `--policy` refuses), static keys, and role jobs that fork merge
    /// request pipelines reach.
    Lint(LintArgs),
}

#[derive(clap::Args, Debug)]
pub struct LintArgs {
    /// Workflow files, directories of them, or repository roots.
    #[arg(default_value = ".", value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Which CI the files are for; `auto` tells by name (`.gitlab-ci.yml`)
    /// and content.
    #[arg(long, value_enum, default_value_t = Ci::Auto)]
    pub ci: Ci,
    /// The role's trust policy (any form `trust lint` reads): GitLab jobs'
    /// id_tokens audiences are checked against it.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Which role of `--policy`, when it holds several.
    #[arg(long, value_name = "NAME", requires = "policy")]
    pub role: Option<String>,
    #[command(flatten)]
    pub report: ReportArgs,
}

pub async fn run(args: Args) -> anyhow::Result<i32> {
    let WorkflowCommand::Lint(args) = args.command;
    let policy = match &args.policy {
        None => None,
        Some(path) => match super::trust::load_policy(path, args.role.as_deref()) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("credbroker: --policy: {e:#}");
                return Ok(2);
            }
        },
    };
    let run = super::lint_run::workflow_lint(&args.paths, args.ci, policy.as_ref());
    let github = crate::policy::workflow::RULES;
    let mut rules = github.to_vec();
    rules.extend(
        crate::policy::gitlab_ci::RULES
            .iter()
            .filter(|r| !github.iter().any(|g| g.id == r.id)),
    );
    Ok(run.finish(
        &rules,
        &args.report,
        "workflow file (*.yml, *.yaml, .gitlab-ci.yml)",
    ))
}
