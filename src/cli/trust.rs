//! `credbroker trust check` and `credbroker trust lint`: is this trust
//! policy right?
//!
//! Both read a policy in any form [`crate::policy::input`] knows: IAM JSON,
//! `aws iam get-role` output, Terraform (`.tf`, `.tf.json`, or `terraform show -json`)
//! and CloudFormation (YAML or JSON).
//!
//! `check` answers "would STS admit this token to this role?" with the
//! same engine the emulator's STS uses ([`crate::policy::evaluate`]) and
//! names the statement and condition that decided, then reads the token's
//! `sub` in its issuer's terms: each part (GitLab's `project_path`,
//! `ref_type`, `ref`) beside the same part of every sub value of that
//! statement, so "rejected" says which part failed. Exit status: 0 admitted,
//! 1 rejected, 2 bad input (unreadable file, invalid policy or JWT, or a
//! policy with an expression that cannot be evaluated statically).
//!
//! `lint` reports the known open patterns ([`crate::policy::lint`]) of
//! every file and directory given ([`super::lint_run`] has the exit rules).

use crate::policy::condition::{glob_match, Base};
use crate::policy::input::{self, Extracted, Parsed};
use crate::policy::issuer::{IssuerKind, PartMatch};
use crate::policy::{self, jwt::Jwt, Claims, TrustPolicy};
use anyhow::Context as _;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: TrustCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum TrustCommand {
    /// Would STS admit this token (or these claims) to the role with this
    /// trust policy? Names the statement and condition that decided, and
    /// each part of the token's sub against the policy's.
    Check(CheckArgs),
    /// Find the known open patterns in trust policy files, in the terms of
    /// the CI that issues the tokens (GitHub, GitLab, CircleCI, Buildkite,
    /// Bitbucket; generic rules for any other OIDC provider).
    Lint(LintArgs),
}

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["token", "claims"])))]
pub struct CheckArgs {
    /// The role's trust policy: IAM JSON, `aws iam get-role` output, a
    /// Terraform file or module directory, `terraform show -json` output, or
    /// a CloudFormation template.
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// Which role, when the file holds several (`aws_iam_role.deploy`,
    /// `deploy`, a CloudFormation logical id, a role name).
    #[arg(long, value_name = "NAME")]
    pub role: Option<String>,
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
    /// Trust policy files or directories (searched recursively): IAM JSON
    /// (`*.json`), `aws iam get-role` output, Terraform (`*.tf`, `*.tf.json`, a plan or
    /// state from `terraform show -json`), CloudFormation (`*.yaml`,
    /// `*.yml`, `*.json`, `*.template`).
    #[arg(required = true, value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// Treat every role as one that can write (deploy, admin). Without it,
    /// names like deploy/admin/prod in the file name or a Sid say so.
    #[arg(long)]
    pub writes: bool,
    #[command(flatten)]
    pub report: ReportArgs,
}

// The linters' shared output options live with the rest of what they
// share, so neither module imports the other for them.
pub use super::lint_run::{ReportArgs, ReportFormat};

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
            let options = policy::lint::LintOptions {
                writes: args.writes,
            };
            let run = super::lint_run::trust_lint(&args.files, options);
            Ok(run.finish(
                policy::lint::RULES,
                &args.report,
                "trust policy file (*.json, *.tf, *.tf.json, *.yaml, *.yml, *.template)",
            ))
        }
    }
}

/// The one policy `trust check` decides on.
pub(super) fn load_policy(path: &Path, role: Option<&str>) -> anyhow::Result<TrustPolicy> {
    let name = path.display().to_string();
    let found: Vec<Extracted> = if path.is_dir() || input::terraform::is_module_file(&name) {
        // A module: the directory's .tf and .tf.json files, so data sources resolve.
        let dir = if path.is_dir() {
            path
        } else {
            path.parent().unwrap_or(Path::new("."))
        };
        let mut files = Vec::new();
        for entry in
            std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?
        {
            let p = entry?.path();
            if input::terraform::is_module_file(&p.to_string_lossy()) {
                let text = std::fs::read_to_string(&p)
                    .with_context(|| format!("cannot read {}", p.display()))?;
                files.push((p.display().to_string(), text));
            }
        }
        files.sort();
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        let (found, errors) = input::terraform::extract_module(&refs);
        if let Some((file, e)) = errors.first() {
            anyhow::bail!("{file}:{}: {}", e.line, e.message);
        }
        found
    } else {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {name}"))?;
        match input::extract(&name, &text) {
            Err(e) => anyhow::bail!("{name}:{}: {}", e.line, e.message),
            Ok(Parsed::Other(what)) => anyhow::bail!("{name} holds no trust policy: {what}"),
            Ok(Parsed::Policies(found)) => found,
        }
    };
    let names: Vec<String> = found.iter().filter_map(|e| e.resource.clone()).collect();
    let chosen: Vec<&Extracted> = match role {
        Some(role) => found
            .iter()
            .filter(|e| {
                e.resource.as_deref().is_some_and(|r| {
                    r == role
                        || r.split(' ').any(|word| word == role)
                        || r.split([' ', '.', '(', ')']).any(|part| part == role)
                })
            })
            .collect(),
        None => found.iter().collect(),
    };
    let ex = match chosen.as_slice() {
        [one] => *one,
        [] if found.is_empty() => anyhow::bail!("{name} holds no trust policy"),
        [] => anyhow::bail!(
            "no role {} in {name}; it has: {}",
            role.unwrap_or_default(),
            names.join(", ")
        ),
        _ => anyhow::bail!(
            "{name} holds several roles; pick one with --role: {}",
            names.join(", ")
        ),
    };
    if let Some(u) = ex.unresolved.first() {
        anyhow::bail!(
            "{}:{}: `{}` cannot be evaluated statically, so the decision is unknown; check the rendered policy (`terraform show -json` of a plan, or `aws iam get-role`)",
            ex.file, u.line, u.expression
        );
    }
    let doc = ex.document.as_ref().context("no policy document")?;
    TrustPolicy::from_value(doc).with_context(|| name.clone())
}

fn check(args: &CheckArgs) -> anyhow::Result<i32> {
    let policy = load_policy(&args.policy, args.role.as_deref())?;
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
    // Decide on what STS sees: for a known issuer, only the claims it evaluates.
    let decision = policy::evaluate(&policy, &claims.provider, &claims.in_sts_context());
    let unseen = claims.outside_sts_context();
    let explained = explain(
        &policy,
        &claims,
        decision.statement.as_ref().map(|s| s.index),
    );
    match args.format {
        CheckFormat::Json => {
            let mut v = serde_json::to_value(&decision)?;
            v["issuer"] = serde_json::json!({
                "id": explained.kind.id,
                "name": explained.kind.name,
                "provider": claims.provider,
            });
            v["subject"] = serde_json::json!(explained.sub);
            v["subject_parts"] = serde_json::json!(explained
                .sub
                .as_deref()
                .and_then(|s| explained.kind.split(s))
                .map(|parts| parts
                    .into_iter()
                    .map(|(name, value)| serde_json::json!({"name": name, "value": value}))
                    .collect::<Vec<_>>()));
            v["sub_checks"] = serde_json::to_value(&explained.checks)?;
            v["claims_sts_ignores"] = serde_json::json!(unseen);
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
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
            print!("{}", explained.text());
            let conditioned: Vec<&String> = unseen
                .iter()
                .filter(|c| {
                    policy
                        .statements
                        .iter()
                        .any(|s| s.conditions.iter().any(|k| k.claim() == c.as_str()))
                })
                .collect();
            if !conditioned.is_empty() {
                println!(
                    "note:      STS does not evaluate {} for {}: conditions on them see no value",
                    conditioned
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    claims.provider
                );
            }
        }
    }
    Ok(if decision.admitted { 0 } else { 1 })
}

/// The token's subject read in its issuer's terms, beside each sub value
/// of the statement that decided.
struct Explained {
    kind: &'static IssuerKind,
    sub: Option<String>,
    checks: Vec<SubCheck>,
}

#[derive(serde::Serialize)]
struct SubCheck {
    /// `StringLike gitlab.com:sub`
    condition: String,
    value: String,
    matches: bool,
    /// Part by part; `null` when the value is not in the issuer's form.
    parts: Option<Vec<PartMatch>>,
}

fn explain(policy: &TrustPolicy, claims: &Claims, statement: Option<usize>) -> Explained {
    let sub = claims.claim("sub").map(String::from);
    let kind = IssuerKind::recognise(&claims.provider, sub.as_deref());
    let mut checks = Vec::new();
    if let (Some(sub), Some(statement)) = (&sub, statement.and_then(|i| policy.statements.get(i))) {
        for c in statement.conditions_on("sub") {
            let like = matches!(c.operator.base, Base::StringLike | Base::StringNotLike);
            for value in &c.values {
                let parts = kind.compare(sub, value, like);
                let matches = if like {
                    glob_match(value, sub)
                } else {
                    value == sub
                };
                checks.push(SubCheck {
                    condition: format!("{} {}", c.operator.name, c.key),
                    value: value.clone(),
                    matches,
                    parts,
                });
            }
        }
    }
    Explained { kind, sub, checks }
}

impl Explained {
    fn text(&self) -> String {
        let mut out = format!("issuer:    {}\n", self.kind.name);
        let Some(sub) = &self.sub else {
            return out + "subject:   (the token has no sub)\n";
        };
        out.push_str(&format!("subject:   {sub}\n"));
        if let Some(parts) = self.kind.split(sub) {
            for (name, value) in parts {
                out.push_str(&format!("  {name}: {value}\n"));
            }
        }
        for check in &self.checks {
            out.push_str(&format!(
                "{} \"{}\": {}\n",
                check.condition,
                check.value,
                if check.matches {
                    "matches"
                } else {
                    "does not match"
                }
            ));
            for part in check.parts.iter().flatten() {
                let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
                out.push_str(&format!(
                    "  {}: {} {} {}\n",
                    part.name,
                    shown(&part.value),
                    if part.matches {
                        "matches"
                    } else {
                        "differs from"
                    },
                    shown(&part.pattern)
                ));
            }
        }
        out
    }
}
