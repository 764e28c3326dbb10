//! `credbroker workflow lint`: GitHub workflow files that hand AWS
//! credentials to the wrong jobs, or keep static keys.
//!
//! First each job is read for role assumption: a step using
//! `aws-actions/configure-aws-credentials` with `role-to-assume`, or one
//! running `credbroker ci` (YAML anchors and aliases resolved, so a step
//! reused through `*alias` counts). Then, for those jobs: the permissions
//! that apply (the job's own block replaces the workflow's, as on GitHub)
//! must grant `id-token: write` and should not be `write-all`; the triggers
//! must not let code from forks run with the role; and no `run:` script may
//! expand a context an outsider writes (a pull request title, a branch
//! name), since that text runs as shell with the role's credentials at hand.
//! Everywhere: literal AWS keys in `env:` or `with:` are leaks, and keys
//! from secrets are marked for migration.

use super::finding::{Finding, Rule, Severity};
use super::workflow_checks::{access_key_id, masked, secret_value, untrusted_contexts};
use super::yaml::{self, Node};

pub const RULES: &[Rule] = &[
    Rule { id: "missing-id-token-permission", title: "a job assumes an AWS role without permissions: id-token: write", help: "Add `permissions: { id-token: write, contents: read }` to the job (or the workflow)." },
    Rule { id: "static-aws-keys", title: "static AWS access keys from secrets", help: "Migrate to OIDC: an IAM role trusted for this repository, assumed with `credbroker ci` or configure-aws-credentials `role-to-assume`; then delete the keys." },
    Rule { id: "literal-aws-keys", title: "an AWS key written out in the workflow file", help: "Deactivate the key in IAM now (it is in the repository's history), delete it from the file, and use OIDC: an IAM role assumed with `credbroker ci` or configure-aws-credentials `role-to-assume`." },
    Rule { id: "role-on-pull-request-target", title: "an AWS role assumed on pull_request_target", help: "Assume roles only on push, workflow_dispatch or environment-gated jobs; never run fork code with credentials." },
    Rule { id: "role-on-fork-reachable-trigger", title: "an AWS role assumed on a trigger that fork contributors can fire", help: "Move role assumption to a workflow triggered by push or workflow_dispatch, behind a protected environment." },
    Rule { id: "template-injection-in-role-job", title: "an outsider-controlled ${{ }} context expanded in a script of a job that assumes an AWS role", help: "Pass the value through env: (`env: { TITLE: ${{ github.event.pull_request.title }} }`) and use \"$TITLE\" in the script, so it stays data and never becomes shell." },
    Rule { id: "write-all-permissions", title: "permissions: write-all on a job that assumes an AWS role", help: "List only what the job needs: `permissions: { id-token: write, contents: read }`." },
];

/// Triggers a fork contributor can fire that run with the base repository's
/// token and secrets, and how bad assuming a role there is.
const FORK_REACHABLE: &[(&str, Severity)] = &[
    ("workflow_run", Severity::High),
    ("issue_comment", Severity::High),
    ("pull_request_review", Severity::High),
    ("pull_request_review_comment", Severity::High),
    // Fork pull requests get no id token, but same-repository branches do.
    ("pull_request", Severity::Low),
];

type Report<'r> = dyn FnMut(&'static str, Severity, usize, Option<&str>, String) + 'r;

/// Lint one workflow file. `Err` holds the YAML parser's message and line.
pub fn lint(file: &str, text: &str) -> Result<Vec<Finding>, (String, usize)> {
    let doc = yaml::parse(text).map_err(|e| (format!("invalid YAML: {}", e.message), e.line))?;
    let mut findings = Vec::new();
    let mut report = |rule: &'static str, severity, line, job: Option<&str>, reason: String| {
        let fix = RULES.iter().find(|r| r.id == rule).map_or("", |r| r.help);
        findings.push(Finding {
            rule,
            severity,
            file: file.to_string(),
            line,
            resource: job.map(|j| format!("job '{j}'")),
            reason,
            fix: fix.to_string(),
        });
    };
    let triggers = triggers(&doc);
    let workflow_permissions = doc.entry("permissions");
    check_values(doc.get("env"), None, "env", &mut report);
    for (job_name, _, job) in doc.get("jobs").map(Node::entries).unwrap_or_default() {
        let job_name = job_name.as_str();
        check_values(job.get("env"), Some(job_name), "env", &mut report);
        let steps = job.get("steps").map(Node::items).unwrap_or_default();
        let mut assumes_at = None;
        for step in steps {
            check_values(step.get("env"), Some(job_name), "env", &mut report);
            check_values(step.get("with"), Some(job_name), "with", &mut report);
            let with = step.get("with");
            for key in ["aws-access-key-id", "aws-secret-access-key"] {
                if let Some((line, _)) = with.and_then(|w| w.entry(key)) {
                    report(
                        "static-aws-keys",
                        Severity::Medium,
                        line,
                        Some(job_name),
                        format!("passes a static {key}; marked for migration to OIDC"),
                    );
                }
            }
            if let Some(line) = assumes_role(step) {
                assumes_at.get_or_insert(line);
            }
        }
        let Some(step_line) = assumes_at else {
            continue;
        };
        let (permissions, scope) = match job.entry("permissions") {
            Some(p) => (Some(p), "the job's permissions"),
            None => (workflow_permissions, "the workflow's permissions"),
        };
        if !grants_id_token(permissions.map(|(_, p)| p)) {
            let why = match permissions {
                None => "neither the job nor the workflow sets permissions".to_string(),
                Some(_) => format!("{scope} do not include id-token: write"),
            };
            report(
                "missing-id-token-permission",
                Severity::High,
                step_line,
                Some(job_name),
                format!("assumes an AWS role but {why}, so it gets no OIDC token"),
            );
        }
        if let Some((line, Node::Scalar(p, _))) = permissions {
            if p == "write-all" {
                report("write-all-permissions", Severity::Medium, line, Some(job_name),
                    format!("assumes an AWS role with {scope} write-all: any step that is subverted can also push code and change releases"));
            }
        }
        for (trigger, line) in &triggers {
            if trigger == "pull_request_target" {
                report("role-on-pull-request-target", Severity::Critical, *line, Some(job_name),
                    "assumes an AWS role on pull_request_target, which runs with secrets for fork pull requests".to_string());
            } else if let Some((_, severity)) = FORK_REACHABLE.iter().find(|(t, _)| t == trigger) {
                report("role-on-fork-reachable-trigger", *severity, *line, Some(job_name),
                    format!("assumes an AWS role on {trigger}, which contributors from forks can trigger"));
            }
        }
        for step in steps {
            check_injection(step, job_name, &mut report);
        }
    }
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.line.cmp(&b.line)));
    Ok(findings)
}

/// The events of `on:` (a name, a list or a map), with their lines.
fn triggers(doc: &Node) -> Vec<(String, usize)> {
    let Some((line, on)) = doc.entry("on").or_else(|| doc.entry("true")) else {
        return Vec::new();
    };
    match on {
        Node::Scalar(s, _) => vec![(s.clone(), line)],
        Node::List(items, _) => items
            .iter()
            .filter_map(|n| Some((n.as_str()?.to_string(), n.line())))
            .collect(),
        Node::Map(entries, _) => entries.iter().map(|(k, l, _)| (k.clone(), *l)).collect(),
    }
}

/// The line of the step if it assumes an AWS role.
fn assumes_role(step: &Node) -> Option<usize> {
    if let Some((line, uses)) = step.entry("uses") {
        let uses = uses.as_str().unwrap_or_default();
        if uses.starts_with("aws-actions/configure-aws-credentials")
            && step
                .get("with")
                .and_then(|w| w.get("role-to-assume"))
                .is_some()
        {
            return Some(line);
        }
    }
    let (line, run) = step.entry("run")?;
    run.as_str()?.contains("credbroker ci").then_some(line)
}

fn grants_id_token(permissions: Option<&Node>) -> bool {
    match permissions {
        Some(Node::Scalar(s, _)) => s == "write-all",
        Some(map @ Node::Map(..)) => map.get("id-token").and_then(Node::as_str) == Some("write"),
        _ => false,
    }
}

/// `env:` or `with:` values: literal keys (leaks) and keys from secrets.
fn check_values(values: Option<&Node>, job: Option<&str>, block: &str, report: &mut Report<'_>) {
    for (name, line, value) in values.map(Node::entries).unwrap_or_default() {
        let Some(value) = value.as_str() else {
            continue;
        };
        if let Some(kind) = access_key_id(value) {
            let severity = if kind.starts_with("long-term") {
                Severity::Critical
            } else {
                Severity::High
            };
            let shown = value
                .split(|c: char| !c.is_ascii_alphanumeric())
                .find(|w| access_key_id(w).is_some())
                .map(masked)
                .unwrap_or_default();
            report(
                "literal-aws-keys",
                severity,
                *line,
                job,
                format!("{block}: {name} holds a {kind} written out ({shown})"),
            );
        } else if secret_value(name, value) {
            report(
                "literal-aws-keys",
                Severity::Critical,
                *line,
                job,
                format!("{block}: {name} holds a literal secret value (not shown)"),
            );
        } else if block == "env"
            && matches!(name.as_str(), "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY")
            && value.contains("secrets.")
        {
            report(
                "static-aws-keys",
                Severity::Medium,
                *line,
                job,
                format!("{name} comes from a repository secret; marked for migration to OIDC"),
            );
        }
    }
}

/// `${{ }}` contexts an outsider writes, expanded into a script.
fn check_injection(step: &Node, job: &str, report: &mut Report<'_>) {
    let script = step.entry("run").or_else(|| {
        let uses = step.get("uses")?.as_str()?;
        uses.starts_with("actions/github-script")
            .then(|| step.get("with")?.entry("script"))
            .flatten()
    });
    let Some((key_line, Node::Scalar(text, _))) = script else {
        return;
    };
    for context in untrusted_contexts(text) {
        let line = if text.contains('\n') {
            key_line + 1 + text.lines().position(|l| l.contains(&context)).unwrap_or(0)
        } else {
            key_line
        };
        report("template-injection-in-role-job", Severity::High, line, Some(job),
            format!("assumes an AWS role and expands ${{{{ {context} }}}} into a script: whoever writes that text runs commands with the role's credentials"));
    }
}

#[cfg(test)]
#[path = "workflow_tests.rs"]
mod tests;
