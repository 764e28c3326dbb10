//! `credbroker trust check` and `credbroker trust lint`: is this trust
//! policy right?
//!
//! `check` answers "would STS admit this token to this role?" with the
//! same engine the emulator's STS uses ([`crate::policy::evaluate`]) and
//! names the statement and condition that decided. Exit status: 0 admitted,
//! 1 rejected, 2 bad input (unreadable file, invalid JSON or JWT).
//!
//! `lint` reports the known open patterns ([`crate::policy::lint`]); it
//! exits 1 when a finding is at or above `--fail-on`, 2 on bad input.

use crate::policy::finding::{self, Finding, Rule, Severity};
use crate::policy::{self, jwt::Jwt, Claims, TrustPolicy};
use anyhow::Context as _;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: TrustCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum TrustCommand {
    /// Would STS admit this token (or these claims) to the role with this trust policy?
    Check(CheckArgs),
    /// Find the known open patterns in trust policy files.
    Lint(LintArgs),
}

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["token", "claims"])))]
pub struct CheckArgs {
    /// The role's trust policy (IAM JSON).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// A JWT (its claims are used; the signature is not checked here), or `-` for stdin.
    #[arg(long, value_name = "JWT")]
    pub token: Option<String>,
    /// A JSON object of claims, as in a token.
    #[arg(long, value_name = "FILE")]
    pub claims: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckFormat {
    Text,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct LintArgs {
    /// Trust policy files (IAM JSON).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Treat every role as one that can write (deploy, admin). Without it,
    /// names like deploy/admin/prod in the file name or a Sid say so.
    #[arg(long)]
    pub writes: bool,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// Output and exit options shared by the two linters.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = Severity::High)]
    pub fail_on: Severity,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Text,
    Json,
    Sarif,
}

pub async fn run(args: Args) -> anyhow::Result<i32> {
    match args.command {
        TrustCommand::Check(args) => match check(&args) {
            Ok(code) => Ok(code),
            Err(e) => {
                eprintln!("credbroker: {e:#}");
                Ok(2)
            }
        },
        TrustCommand::Lint(args) => {
            let mut findings = Vec::new();
            for path in &args.files {
                let file = path.display().to_string();
                let text = match std::fs::read_to_string(path) {
                    Ok(t) => t,
                    Err(e) => return bad_input(format!("cannot read {file}: {e}")),
                };
                let options = policy::lint::LintOptions {
                    writes: args.writes,
                };
                match policy::lint::lint(&file, &text, options) {
                    Ok(found) => findings.extend(found),
                    Err(e) => return bad_input(format!("{file}: {e}")),
                }
            }
            Ok(report(&findings, policy::lint::RULES, &args.report))
        }
    }
}

fn bad_input(message: String) -> anyhow::Result<i32> {
    eprintln!("credbroker: {message}");
    Ok(2)
}

/// Print the findings; the exit status for `--fail-on`.
pub(super) fn report(findings: &[Finding], rules: &[Rule], args: &ReportArgs) -> i32 {
    let text = match args.format {
        ReportFormat::Text => finding::text_report(findings),
        ReportFormat::Json => finding::json_report(findings),
        ReportFormat::Sarif => finding::sarif_report(findings, rules),
    };
    print!("{text}");
    i32::from(findings.iter().any(|f| f.severity >= args.fail_on))
}

fn check(args: &CheckArgs) -> anyhow::Result<i32> {
    let text = std::fs::read_to_string(&args.policy)
        .with_context(|| format!("cannot read {}", args.policy.display()))?;
    let policy = TrustPolicy::parse(&text).with_context(|| format!("{}", args.policy.display()))?;
    let claims = match (&args.token, &args.claims) {
        (Some(token), _) => {
            let token = super::jwt::read_token(Some(token))?;
            Jwt::decode(&token)?.claims
        }
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            match serde_json::from_str(&text) {
                Ok(serde_json::Value::Object(map)) => map,
                _ => anyhow::bail!("{} is not a JSON object of claims", path.display()),
            }
        }
        (None, None) => anyhow::bail!("give --token or --claims"),
    };
    let claims = Claims::from_token(&claims);
    let decision = policy::evaluate(&policy, &claims.provider, &claims);
    match args.format {
        CheckFormat::Json => println!("{}", serde_json::to_string_pretty(&decision)?),
        CheckFormat::Text => {
            println!(
                "{}",
                if decision.admitted {
                    "admitted"
                } else {
                    "rejected"
                }
            );
            if let Some(s) = &decision.statement {
                println!("statement: {s}");
            }
            if let Some(c) = &decision.condition {
                println!("condition: {c}");
            }
            println!("reason:    {}", decision.reason);
        }
    }
    Ok(if decision.admitted { 0 } else { 1 })
}
