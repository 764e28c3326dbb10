//! `credbroker trust lint`: the known ways a GitHub OIDC trust policy
//! admits more than its author meant (protocols.md §7).
//!
//! Each Allow statement for `sts:AssumeRoleWithWebIdentity` is read on its
//! own: which conditions pin `sub` and `aud`, with which operators and
//! patterns, and who the principal is. Whether the role can write (deploy,
//! admin) cannot be read from a trust policy, so the caller says so
//! ([`LintOptions::writes`]); [`role_writes_by_name`] guesses it from names
//! like `deploy` or `admin` in the file name or a `Sid`.

use super::condition::{glob_match, has_wildcard, Base, Condition, Qualifier};
use super::finding::{line_of, Finding, Rule, Severity};
use super::{Effect, PolicyError, Statement, TrustPolicy, GITHUB_PROVIDER};

pub const RULES: &[Rule] = &[
    Rule { id: "sub-wildcard", title: "sub admits any repository", help: "Pin sub to one repository and branch or environment with StringEquals." },
    Rule { id: "org-wide-wildcard", title: "sub admits every repository of an organization on a role that can write", help: "List the repositories that deploy, each pinned to a branch or environment." },
    Rule { id: "aud-missing", title: "no aud condition", help: "Add StringEquals token.actions.githubusercontent.com:aud = sts.amazonaws.com." },
    Rule { id: "aud-not-sts", title: "aud other than sts.amazonaws.com", help: "Use the audience sts.amazonaws.com, which configure-aws-credentials and credbroker request." },
    Rule { id: "sub-missing", title: "no sub condition", help: "Add StringEquals token.actions.githubusercontent.com:sub pinned to a repository." },
    Rule { id: "set-operator-on-single-valued-key", title: "ForAnyValue/ForAllValues on sub or aud", help: "sub and aud are single-valued: use StringEquals or StringLike without a qualifier." },
    Rule { id: "stringlike-without-wildcard", title: "StringLike with no wildcard", help: "Use StringEquals when the value has no * or ?." },
    Rule { id: "deploy-admits-pull-request", title: "a role that can write admits pull_request subjects", help: "Pin the deploy role to an environment or a protected branch; give pull requests a read-only role." },
    Rule { id: "principal-not-github", title: "sub conditions on a principal that is not the GitHub OIDC provider", help: "Use Principal.Federated arn:aws:iam::ACCOUNT:oidc-provider/token.actions.githubusercontent.com." },
    Rule { id: "legacy-subject-format", title: "sub in the OWNER/REPO form", help: "Repositories created after 2026-07-15 send repo:OWNER@ID/REPO@ID:...; pin that form for them." },
];

#[derive(Clone, Copy, Debug, Default)]
pub struct LintOptions {
    /// The role can write (deploy, admin): stricter rules apply.
    pub writes: bool,
}

/// Guess from names whether a policy guards a role that can write.
pub fn role_writes_by_name(file: &str, policy: &TrustPolicy) -> bool {
    const WORDS: &[&str] = &[
        "deploy", "admin", "write", "apply", "release", "publish", "prod",
    ];
    let file = file.to_ascii_lowercase();
    WORDS.iter().any(|w| {
        file.contains(w)
            || policy
                .statements
                .iter()
                .filter_map(|s| s.sid.as_deref())
                .any(|sid| sid.to_ascii_lowercase().contains(w))
    })
}

/// Lint the policy text of `file`.
pub fn lint(file: &str, text: &str, options: LintOptions) -> Result<Vec<Finding>, PolicyError> {
    let policy = TrustPolicy::parse(text)?;
    let writes = options.writes || role_writes_by_name(file, &policy);
    let mut findings = Vec::new();
    for statement in &policy.statements {
        if statement.effect == Effect::Allow && statement.covers_web_identity() {
            lint_statement(
                statement,
                writes,
                &mut |rule, severity, needle: &str, reason: String| {
                    let help = RULES.iter().find(|r| r.id == rule).map_or("", |r| r.help);
                    findings.push(Finding {
                        rule,
                        severity,
                        file: file.to_string(),
                        line: line_of(text, needle),
                        reason,
                        fix: help.to_string(),
                    });
                },
            );
        }
    }
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.line.cmp(&b.line)));
    Ok(findings)
}

type Report<'r> = dyn FnMut(&'static str, Severity, &str, String) + 'r;

fn is_github_principal(statement: &Statement) -> bool {
    !statement.principal.any
        && statement.principal.other.is_empty()
        && !statement.principal.federated.is_empty()
        && statement
            .principal
            .federated
            .iter()
            .all(|arn| super::federated_provider(arn) == Some(GITHUB_PROVIDER))
}

fn positive(c: &Condition) -> bool {
    !c.operator.negated() && c.operator.base != Base::Null
}

fn lint_statement(statement: &Statement, writes: bool, report: &mut Report<'_>) {
    let subs: Vec<&Condition> = statement.conditions_on("sub").collect();
    let auds: Vec<&Condition> = statement.conditions_on("aud").collect();
    if !subs.is_empty() && !is_github_principal(statement) {
        report(
            "principal-not-github",
            Severity::High,
            "Principal",
            "sub conditions are present but the principal is not only the GitHub OIDC provider"
                .into(),
        );
    }
    if is_github_principal(statement) && !subs.iter().any(|c| positive(c)) {
        report("sub-missing", Severity::Critical, "Principal",
            "no condition pins sub: every workflow of every repository on GitHub can assume this role".into());
    }
    match auds.iter().find(|c| positive(c)) {
        None => report(
            "aud-missing",
            Severity::High,
            "Principal",
            "no condition on aud: tokens minted for any audience are accepted".into(),
        ),
        Some(c) => {
            for v in c.values.iter().filter(|v| *v != "sts.amazonaws.com") {
                report("aud-not-sts", Severity::Medium, &format!("\"{v}\""),
                    format!("aud admits \"{v}\", not the sts.amazonaws.com audience tokens are requested for"));
            }
        }
    }
    for c in subs.iter().chain(auds.iter()) {
        match c.operator.qualifier {
            Some(Qualifier::ForAllValues) => report(
                "set-operator-on-single-valued-key",
                Severity::Critical,
                &c.operator.name,
                format!(
                    "{} on {} holds for a token that has no {}",
                    c.operator.name,
                    c.claim(),
                    c.claim()
                ),
            ),
            Some(Qualifier::ForAnyValue) => report(
                "set-operator-on-single-valued-key",
                Severity::High,
                &c.operator.name,
                format!("{} on the single-valued key {}", c.operator.name, c.claim()),
            ),
            None => {}
        }
    }
    for c in &statement.conditions {
        if matches!(c.operator.base, Base::StringLike | Base::StringNotLike) {
            for v in c.values.iter().filter(|v| !has_wildcard(v)) {
                report(
                    "stringlike-without-wildcard",
                    Severity::Low,
                    &format!("\"{v}\""),
                    format!("{} \"{v}\" has no wildcard", c.operator.name),
                );
            }
        }
    }
    for c in subs.iter().filter(|c| positive(c)) {
        let like = c.operator.base == Base::StringLike;
        for v in &c.values {
            let needle = format!("\"{v}\"");
            if like && (v.starts_with('*') || v.starts_with("repo:*")) {
                report(
                    "sub-wildcard",
                    Severity::Critical,
                    &needle,
                    format!("sub \"{v}\" admits workflows of any repository"),
                );
            } else if like && org_wide(v) {
                let severity = if writes {
                    Severity::High
                } else {
                    Severity::Low
                };
                report(
                    "org-wide-wildcard",
                    severity,
                    &needle,
                    format!(
                        "sub \"{v}\" admits every repository of the organization{}",
                        if writes {
                            " on a role that can write"
                        } else {
                            ""
                        }
                    ),
                );
            }
            if writes && admits_pull_request(v, like) {
                report(
                    "deploy-admits-pull-request",
                    Severity::High,
                    &needle,
                    format!("sub \"{v}\" admits pull_request jobs on a role that can write"),
                );
            }
            if legacy_form(v) {
                report("legacy-subject-format", Severity::Info, &needle,
                    format!("sub \"{v}\" is in the OWNER/REPO form; a repository using OWNER@ID/REPO@ID subjects will not match"));
            }
        }
    }
}

/// `repo:ORG/*...`: a fixed owner with a wildcard repository name.
fn org_wide(value: &str) -> bool {
    let Some((owner, after)) = value.strip_prefix("repo:").and_then(|r| r.split_once('/')) else {
        return false;
    };
    let name = after.split(':').next().unwrap_or(after);
    !has_wildcard(owner) && has_wildcard(name)
}

/// Would this sub value admit the pull_request subject of its repository?
fn admits_pull_request(value: &str, like: bool) -> bool {
    if value.ends_with(":pull_request") {
        return true;
    }
    if !like {
        return false;
    }
    let repo = value
        .strip_prefix("repo:")
        .and_then(|r| r.split(':').next())
        .unwrap_or("o/r")
        .replace(['*', '?'], "x");
    glob_match(value, &format!("repo:{repo}:pull_request"))
}

/// `repo:OWNER/REPO:...` without ids (wildcard-only owners excluded).
fn legacy_form(value: &str) -> bool {
    match value
        .strip_prefix("repo:")
        .and_then(|r| r.split(':').next())
    {
        Some(repo) => !repo.contains('@') && !repo.starts_with('*') && repo.contains('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(principal: &str, condition: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRoleWithWebIdentity",
            "Principal":{principal},"Condition":{condition}}}]}}"#
        )
    }

    const GH: &str = r#"{"Federated":"arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com"}"#;
    const AUD: &str = r#""token.actions.githubusercontent.com:aud":"sts.amazonaws.com""#;

    fn rules(file: &str, principal: &str, condition: &str) -> Vec<&'static str> {
        lint(file, &policy(principal, condition), LintOptions::default())
            .unwrap()
            .into_iter()
            .map(|f| f.rule)
            .collect()
    }

    #[test]
    fn each_open_pattern_is_caught() {
        let sub = |op: &str, v: &str| {
            format!(
                r#"{{"StringEquals":{{{AUD}}},"{op}":{{"token.actions.githubusercontent.com:sub":"{v}"}}}}"#
            )
        };
        assert!(rules("r.json", GH, &sub("StringLike", "repo:*")).contains(&"sub-wildcard"));
        assert!(rules("r.json", GH, &sub("StringLike", "*")).contains(&"sub-wildcard"));
        assert!(rules("deploy.json", GH, &sub("StringLike", "repo:org/*"))
            .contains(&"org-wide-wildcard"));
        assert!(
            rules("deploy.json", GH, &sub("StringLike", "repo:org/app:*"))
                .contains(&"deploy-admits-pull-request")
        );
        assert!(rules(
            "deploy.json",
            GH,
            &sub("StringEquals", "repo:org/app:pull_request")
        )
        .contains(&"deploy-admits-pull-request"));
        assert!(!rules(
            "read.json",
            GH,
            &sub("StringEquals", "repo:org/app:pull_request")
        )
        .contains(&"deploy-admits-pull-request"));
        assert!(rules(
            "r.json",
            GH,
            &sub("StringLike", "repo:org/app:ref:refs/heads/main")
        )
        .contains(&"stringlike-without-wildcard"));
        assert!(rules(
            "r.json",
            GH,
            &sub("ForAllValues:StringEquals", "repo:o/r:ref:refs/heads/main")
        )
        .contains(&"set-operator-on-single-valued-key"));
        assert!(rules(
            "r.json",
            GH,
            &sub("StringEquals", "repo:o/r:ref:refs/heads/main")
        )
        .contains(&"legacy-subject-format"));
        assert!(rules("r.json", GH, r#"{"StringEquals":{"token.actions.githubusercontent.com:sub":"repo:o/r:ref:refs/heads/main"}}"#).contains(&"aud-missing"));
        assert!(rules(
            "r.json",
            GH,
            r#"{"StringEquals":{"token.actions.githubusercontent.com:aud":"api://x"}}"#
        )
        .contains(&"aud-not-sts"));
        assert!(
            rules("r.json", GH, &format!(r#"{{"StringEquals":{{{AUD}}}}}"#))
                .contains(&"sub-missing")
        );
        assert!(rules(
            "r.json",
            r#"{"AWS":"arn:aws:iam::1:root"}"#,
            &sub("StringEquals", "repo:o/r:environment:prod")
        )
        .contains(&"principal-not-github"));
    }

    #[test]
    fn a_pinned_policy_is_clean() {
        let clean = format!(
            r#"{{"StringEquals":{{{AUD},"token.actions.githubusercontent.com:sub":"repo:org@1/app@2:environment:production"}}}}"#
        );
        assert_eq!(rules("deploy.json", GH, &clean), Vec::<&str>::new());
    }
}
