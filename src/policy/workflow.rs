//! `credbroker workflow lint`: GitHub workflow files that hand AWS
//! credentials to the wrong jobs, or keep static keys.
//!
//! First each job is read for role assumption: a step using
//! `aws-actions/configure-aws-credentials` with `role-to-assume`, or one
//! running `credbroker ci`. Then, for those jobs, the permissions that apply
//! (the job's own block replaces the workflow's, as on GitHub) must grant
//! `id-token: write`, and the triggers must not let code from forks run with
//! the role. Static `aws-access-key-id`/`aws-secret-access-key` inputs and
//! `AWS_SECRET_ACCESS_KEY` secrets in `env` are marked for migration
//! wherever they appear.

use super::finding::{Finding, Rule, Severity};
use super::yaml::{self, Node};

pub const RULES: &[Rule] = &[
    Rule { id: "missing-id-token-permission", title: "a job assumes an AWS role without permissions: id-token: write", help: "Add `permissions: { id-token: write, contents: read }` to the job (or the workflow)." },
    Rule { id: "static-aws-keys", title: "static AWS access keys from secrets", help: "Migrate to OIDC: an IAM role trusted for this repository, assumed with `credbroker ci` or configure-aws-credentials `role-to-assume`; then delete the keys." },
    Rule { id: "role-on-pull-request-target", title: "an AWS role assumed on pull_request_target", help: "Assume roles only on push, workflow_dispatch or environment-gated jobs; never run fork code with credentials." },
    Rule { id: "role-on-fork-reachable-trigger", title: "an AWS role assumed on a trigger that fork contributors can fire", help: "Move role assumption to a workflow triggered by push or workflow_dispatch, behind a protected environment." },
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

pub fn lint(file: &str, text: &str) -> Result<Vec<Finding>, String> {
    let doc = yaml::parse(text)?;
    let mut findings = Vec::new();
    let mut report = |rule: &'static str, severity, line, reason: String| {
        let fix = RULES.iter().find(|r| r.id == rule).map_or("", |r| r.help);
        findings.push(Finding {
            rule,
            severity,
            file: file.to_string(),
            line,
            reason,
            fix: fix.to_string(),
        });
    };
    let triggers = triggers(&doc);
    let workflow_permissions = doc.get("permissions");
    check_env(doc.get("env"), &mut report);
    for (job_name, _, job) in doc.get("jobs").map(Node::entries).unwrap_or_default() {
        check_env(job.get("env"), &mut report);
        let mut assumes_at = None;
        for step in job.get("steps").map(Node::items).unwrap_or_default() {
            check_env(step.get("env"), &mut report);
            let with = step.get("with");
            for key in ["aws-access-key-id", "aws-secret-access-key"] {
                if let Some((line, _)) = with.and_then(|w| w.entry(key)) {
                    report(
                        "static-aws-keys",
                        Severity::Medium,
                        line,
                        format!(
                            "job '{job_name}' passes a static {key}; marked for migration to OIDC"
                        ),
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
        let (permissions, scope) = match job.get("permissions") {
            Some(p) => (Some(p), "the job's permissions"),
            None => (workflow_permissions, "the workflow's permissions"),
        };
        if !grants_id_token(permissions) {
            let why = match permissions {
                None => "neither the job nor the workflow sets permissions".to_string(),
                Some(_) => format!("{scope} do not include id-token: write"),
            };
            report(
                "missing-id-token-permission",
                Severity::High,
                step_line,
                format!("job '{job_name}' assumes an AWS role but {why}, so it gets no OIDC token"),
            );
        }
        for (trigger, line) in &triggers {
            if trigger == "pull_request_target" {
                report("role-on-pull-request-target", Severity::Critical, *line,
                    format!("job '{job_name}' assumes an AWS role on pull_request_target, which runs with secrets for fork pull requests"));
            } else if let Some((_, severity)) = FORK_REACHABLE.iter().find(|(t, _)| t == trigger) {
                report("role-on-fork-reachable-trigger", *severity, *line,
                    format!("job '{job_name}' assumes an AWS role on {trigger}, which contributors from forks can trigger"));
            }
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

fn check_env(env: Option<&Node>, report: &mut impl FnMut(&'static str, Severity, usize, String)) {
    for (name, line, value) in env.map(Node::entries).unwrap_or_default() {
        let static_key = matches!(name.as_str(), "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY");
        if static_key && value.as_str().is_some_and(|v| v.contains("secrets.")) {
            report(
                "static-aws-keys",
                Severity::Medium,
                *line,
                format!("{name} comes from a repository secret; marked for migration to OIDC"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<(&'static str, usize)> {
        lint("w.yml", text)
            .unwrap()
            .into_iter()
            .map(|f| (f.rule, f.line))
            .collect()
    }

    const ASSUME: &str = "      - uses: aws-actions/configure-aws-credentials@v4\n        with:\n          role-to-assume: arn:aws:iam::1:role/x\n";

    #[test]
    fn job_permissions_replace_workflow_permissions() {
        let text = format!("on: push\npermissions:\n  id-token: write\njobs:\n  a:\n    permissions:\n      contents: read\n    steps:\n{ASSUME}");
        assert_eq!(rules(&text), vec![("missing-id-token-permission", 9)]);
        let text =
            format!("on: push\npermissions:\n  id-token: write\njobs:\n  a:\n    steps:\n{ASSUME}");
        assert_eq!(rules(&text), vec![]);
        let text = format!("on: [push]\njobs:\n  a:\n    steps:\n{ASSUME}");
        assert_eq!(rules(&text), vec![("missing-id-token-permission", 5)]);
    }

    #[test]
    fn triggers_and_static_keys() {
        let text = format!("on:\n  pull_request_target:\n  workflow_run:\n    workflows: [x]\npermissions: write-all\njobs:\n  a:\n    steps:\n{ASSUME}");
        let found = rules(&text);
        assert!(
            found.contains(&("role-on-pull-request-target", 2)),
            "{found:?}"
        );
        assert!(
            found.contains(&("role-on-fork-reachable-trigger", 3)),
            "{found:?}"
        );
        let text = "on: push\nenv:\n  AWS_SECRET_ACCESS_KEY: ${{ secrets.KEY }}\njobs:\n  a:\n    steps:\n      - uses: aws-actions/configure-aws-credentials@v4\n        with:\n          aws-access-key-id: ${{ secrets.ID }}\n";
        assert_eq!(
            rules(text),
            vec![("static-aws-keys", 3), ("static-aws-keys", 9)]
        );
    }
}
