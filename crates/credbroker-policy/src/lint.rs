//! `credbroker trust lint`: the known ways an OIDC trust policy admits more
//! than its author meant (protocols.md §7). This file holds GitHub's rules
//! and the ones every issuer shares; a statement whose provider is another
//! CI's ([`super::issuer`]) goes to [`super::lint_issuer`].
//!
//! Each Allow statement for `sts:AssumeRoleWithWebIdentity` is read on its
//! own: which conditions pin `sub` and `aud`, with which operators and
//! patterns, and who the principal is. Whether the role can write (deploy,
//! admin) cannot be read from a trust policy, so the caller says so
//! ([`LintOptions::writes`]); [`role_writes_by_name`] guesses it from names
//! like `deploy` or `admin` in the file name, the resource or a `Sid`.
//!
//! The policy may come from any form [`super::input`] reads; findings are
//! placed with [`Anchor`]s (the value or key to look for in the text the
//! policy was written in), so a Terraform or CloudFormation finding lands on
//! its line too. The immutable subject form `repo:OWNER@ID/REPO@ID:...` is
//! correct and draws no finding: it survives a rename of the owner or the
//! repository, which the `OWNER/REPO` form does not.

use super::condition::{glob_match, has_wildcard, Base, Condition, Qualifier};
use super::finding::{Finding, Rule, Severity};
use super::input::{Anchor, Extracted};
use super::issuer::IssuerKind;
use super::lint_issuer;
use super::lint_shared::{positive, Opaque, Report};
use super::{Effect, PolicyError, Statement, TrustPolicy};

pub const RULES: &[Rule] = &[
    Rule { id: "sub-wildcard", title: "sub admits any repository", help: "Pin sub to one repository and branch or environment with StringEquals." },
    Rule { id: "sub-owner-or-repo-wildcard", title: "a wildcard in the owner or repository name of sub", help: "Write the owner and repository names in full (repo:OWNER/REPO:... or repo:OWNER@ID/REPO@ID:...); list each repository if several need the role." },
    Rule { id: "deploy-branch-wildcard", title: "a role that can write is pinned to a branch wildcard", help: "Pin the deploy role to a protected GitHub environment (repo:OWNER/REPO:environment:production) or to one protected branch." },
    Rule { id: "unresolved-expression", title: "a part of the policy cannot be evaluated statically", help: "Write the value literally, or lint the rendered policy: `terraform show -json` of a plan, or `aws iam get-role` output after deploying." },
    Rule { id: "org-wide-wildcard", title: "sub admits every repository of an organization on a role that can write", help: "List the repositories that deploy, each pinned to a branch or environment." },
    Rule { id: "aud-missing", title: "no aud condition", help: "Add StringEquals token.actions.githubusercontent.com:aud = sts.amazonaws.com." },
    Rule { id: "aud-not-sts", title: "aud other than sts.amazonaws.com", help: "Use the audience sts.amazonaws.com, which configure-aws-credentials and credbroker request." },
    Rule { id: "sub-missing", title: "no sub condition", help: "Add StringEquals token.actions.githubusercontent.com:sub pinned to a repository." },
    Rule { id: "set-operator-on-single-valued-key", title: "ForAnyValue/ForAllValues on sub or aud", help: "sub and aud are single-valued: use StringEquals or StringLike without a qualifier." },
    Rule { id: "stringlike-without-wildcard", title: "StringLike with no wildcard", help: "Use StringEquals when the value has no * or ?." },
    Rule { id: "deploy-admits-pull-request", title: "a role that can write admits pull_request subjects", help: "Pin the deploy role to an environment or a protected branch; give pull requests a read-only role." },
    Rule { id: "principal-not-github", title: "sub conditions on a principal that is not the GitHub OIDC provider", help: "Use Principal.Federated arn:aws:iam::ACCOUNT:oidc-provider/token.actions.githubusercontent.com." },
    Rule { id: "principal-not-provider", title: "sub conditions on a principal that is not their OIDC provider", help: "Use Principal.Federated arn:aws:iam::ACCOUNT:oidc-provider/HOST, the provider the condition keys name." },
    Rule { id: "aud-wildcard", title: "aud is a wildcard", help: "Pin aud with StringEquals to the audience the job asks for (GitLab: id_tokens aud; Buildkite: --audience; Bitbucket: the workspace audience)." },
    Rule { id: "aud-unexpected", title: "aud other than the one the issuer's tokens carry", help: "CircleCI tokens carry the organization id as aud: pin that, unless the job mints its token with a custom audience." },
    Rule { id: "claim-not-in-context", title: "a condition on a claim STS does not evaluate for this issuer", help: "Pin it through sub, or through a claim STS evaluates for this issuer (docs/linting.md lists them)." },
    Rule { id: "sub-not-issuer-form", title: "sub is not in the issuer's subject form", help: "Write sub in the issuer's form (GitLab: project_path:GROUP/PROJECT:ref_type:branch:ref:main; CircleCI: org/ORG/project/PROJECT/user/*; Buildkite: organization:ORG:pipeline:PIPE:ref:REF:commit:*:step:*)." },
    Rule { id: "ref-type-unpinned", title: "GitLab sub pins a ref but not ref_type", help: "Pin ref_type too: project_path:GROUP/PROJECT:ref_type:branch:ref:main." },
    Rule { id: "gitlab-ref-not-protected", title: "a GitLab role that can write does not require a protected ref", help: "On gitlab.com add StringEquals gitlab.com:ref_protected = \"true\"; on a self-managed instance protect the branches and tags sub names and keep the role's jobs off merge request pipelines." },
    Rule { id: "legacy-subject-format", title: "sub in the OWNER/REPO form", help: "Repositories created after 2026-07-15 send repo:OWNER@ID/REPO@ID:...; pin that form for them." },
];

#[derive(Clone, Copy, Debug, Default)]
pub struct LintOptions {
    /// The role can write (deploy, admin): stricter rules apply.
    pub writes: bool,
}

pub use super::lint_writes::{role_writes_by_name, role_writes_by_permissions};

/// Lint the IAM JSON policy text of `file`.
pub fn lint(file: &str, text: &str, options: LintOptions) -> Result<Vec<Finding>, PolicyError> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| PolicyError(format!("not JSON: {e}")))?;
    let extracted = Extracted {
        file: file.to_string(),
        resource: None,
        document: Some(doc),
        start: 1,
        excerpt: text.to_string(),
        unresolved: Vec::new(),
        written: Vec::new(),
    };
    lint_extracted(&extracted, options)
}

/// Lint one policy read by [`super::input`]: every unresolved expression,
/// then the open patterns of its statements.
pub fn lint_extracted(ex: &Extracted, options: LintOptions) -> Result<Vec<Finding>, PolicyError> {
    let mut findings = Vec::new();
    let finding = |rule: &'static str, severity, line, reason| {
        let help = RULES.iter().find(|r| r.id == rule).map_or("", |r| r.help);
        Finding {
            rule,
            severity,
            file: ex.file.clone(),
            line,
            resource: ex.resource.clone(),
            reason,
            fix: help.to_string(),
        }
    };
    for u in &ex.unresolved {
        let place = match u.path.trim_start_matches('.') {
            p if p.contains("Condition") => format!(" in {p}"),
            "" => String::new(),
            p => format!(" in {p}"),
        };
        findings.push(finding(
            "unresolved-expression",
            Severity::Medium,
            u.line,
            format!("`{}`{place} cannot be evaluated statically, so what the policy admits depends on a value the linter does not know", u.expression),
        ));
    }
    let Some(doc) = &ex.document else {
        return Ok(findings);
    };
    let policy = TrustPolicy::from_value(doc)?;
    let hint = format!("{} {}", ex.file, ex.resource.as_deref().unwrap_or_default());
    let writes = options.writes
        || role_writes_by_name(&hint, &policy)
        || ex.resource.is_some() && role_writes_by_permissions(&ex.excerpt, doc);
    let opaque = Opaque(
        ex.unresolved
            .iter()
            .map(|u| u.placeholder.as_str())
            .filter(|p| !p.is_empty())
            .collect(),
    );
    for statement in &policy.statements {
        if statement.effect == Effect::Allow && statement.covers_web_identity() {
            // Another issuer's findings carry that issuer's fix, never GitHub's.
            let issuer = issuer_of(statement).filter(|(kind, _)| kind.id != "github");
            lint_statement(
                statement,
                writes,
                &opaque,
                &mut |rule, severity, anchors: &[Anchor<'_>], reason: String| {
                    let mut f = finding(rule, severity, ex.line_of(anchors), reason);
                    if let Some(fix) = issuer
                        .as_ref()
                        .and_then(|(kind, provider)| lint_issuer::fix(kind, provider, rule))
                    {
                        f.fix = fix;
                    }
                    findings.push(f);
                },
            );
        }
    }
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.line.cmp(&b.line)));
    Ok(findings)
}

fn is_github_principal(statement: &Statement) -> bool {
    !statement.principal.any
        && statement.principal.other.is_empty()
        && !statement.principal.federated.is_empty()
        && statement.principal.federated.iter().all(|arn| {
            super::federated_provider(arn)
                .and_then(IssuerKind::of_provider)
                .is_some_and(|k| k.id == "github")
        })
}

/// The issuer a statement speaks of, and its provider name: from
/// `Principal.Federated`, else from the provider its condition keys name.
pub fn issuer_of(statement: &Statement) -> Option<(&'static IssuerKind, String)> {
    let subjects: Vec<&str> = statement
        .conditions_on("sub")
        .flat_map(|c| c.values.iter().map(String::as_str))
        .collect();
    let provider = statement
        .principal
        .federated
        .iter()
        .find_map(|arn| super::federated_provider(arn))
        .map(|p| p.trim_end_matches('/').to_string())
        .or_else(|| {
            statement
                .conditions
                .iter()
                .map(|c| lint_issuer::key_provider(&c.key))
                .find(|p| p.contains('.'))
                .map(String::from)
        })?;
    Some((IssuerKind::recognise(&provider, subjects), provider))
}

/// The rules every issuer shares: set operators on single-valued keys, and
/// `StringLike` written where `StringEquals` is meant.
fn common_rules(statement: &Statement, opaque: &Opaque<'_>, report: &mut Report<'_>) {
    let subs: Vec<&Condition> = statement.conditions_on("sub").collect();
    let auds: Vec<&Condition> = statement.conditions_on("aud").collect();
    for c in subs.iter().chain(auds.iter()) {
        let anchors = [Anchor::Value(&c.operator.name), Anchor::Key(&c.key)];
        match c.operator.qualifier {
            Some(Qualifier::ForAllValues) => report(
                "set-operator-on-single-valued-key",
                Severity::Critical,
                &anchors,
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
                &anchors,
                format!("{} on the single-valued key {}", c.operator.name, c.claim()),
            ),
            None => {}
        }
    }
    for c in &statement.conditions {
        if matches!(c.operator.base, Base::StringLike | Base::StringNotLike) {
            for v in c
                .values
                .iter()
                .filter(|v| opaque.holds(v, |v| !has_wildcard(v)))
            {
                report(
                    "stringlike-without-wildcard",
                    Severity::Low,
                    &[Anchor::Value(v), Anchor::Key(&c.key)],
                    format!("{} \"{v}\" has no wildcard", c.operator.name),
                );
            }
        }
    }
}

fn lint_statement(
    statement: &Statement,
    writes: bool,
    opaque: &Opaque<'_>,
    report: &mut Report<'_>,
) {
    common_rules(statement, opaque, report);
    match issuer_of(statement) {
        Some((kind, provider)) if kind.id != "github" => {
            return lint_issuer::lint_statement(statement, kind, &provider, writes, opaque, report)
        }
        Some((kind, provider)) => lint_issuer::context_keys(kind, &provider, statement, report),
        None => {}
    }
    const PRINCIPAL: &[Anchor<'static>] = &[Anchor::Key("Principal")];
    let subs: Vec<&Condition> = statement.conditions_on("sub").collect();
    let auds: Vec<&Condition> = statement.conditions_on("aud").collect();
    if !subs.is_empty() && !is_github_principal(statement) {
        report(
            "principal-not-github",
            Severity::High,
            PRINCIPAL,
            "sub conditions are present but the principal is not only the GitHub OIDC provider"
                .into(),
        );
    }
    if is_github_principal(statement) && !subs.iter().any(|c| positive(c)) {
        report("sub-missing", Severity::Critical, PRINCIPAL,
            "no condition pins sub: every workflow of every repository on GitHub can assume this role".into());
    }
    match auds.iter().find(|c| positive(c)) {
        None => report(
            "aud-missing",
            Severity::High,
            PRINCIPAL,
            "no condition on aud: tokens minted for any audience are accepted".into(),
        ),
        Some(c) => {
            for v in c
                .values
                .iter()
                .filter(|v| *v != "sts.amazonaws.com" && !opaque.any(v))
            {
                report("aud-not-sts", Severity::Medium, &[Anchor::Value(v), Anchor::Key(&c.key)],
                    format!("aud admits \"{v}\", not the sts.amazonaws.com audience tokens are requested for"));
            }
        }
    }
    for c in subs.iter().filter(|c| positive(c)) {
        let like = c.operator.base == Base::StringLike;
        for v in &c.values {
            let anchors = [Anchor::Value(v), Anchor::Key(&c.key)];
            if like && opaque.holds(v, |v| v.starts_with('*') || v.starts_with("repo:*")) {
                report(
                    "sub-wildcard",
                    Severity::Critical,
                    &anchors,
                    format!("sub \"{v}\" admits workflows of any repository"),
                );
            } else if let Some(part) = like
                .then(|| owner_or_repo_wildcard(v))
                .flatten()
                .filter(|_| opaque.holds(v, |v| owner_or_repo_wildcard(v).is_some()))
            {
                report(
                    "sub-owner-or-repo-wildcard",
                    Severity::Critical,
                    &anchors,
                    format!(
                        "sub \"{v}\" has a wildcard in the {part} name, so it admits {}, such as \"{}\"",
                        if part == "owner" {
                            "repositories of other owners, whose names anyone can register"
                        } else {
                            "any repository of the owner whose name matches, including ones not yet created"
                        },
                        example_subject(v)
                    ),
                );
            } else if like && opaque.holds(v, org_wide) {
                let severity = if writes {
                    Severity::High
                } else {
                    Severity::Low
                };
                report(
                    "org-wide-wildcard",
                    severity,
                    &anchors,
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
            if writes && opaque.holds(v, |v| admits_pull_request(v, like)) {
                report(
                    "deploy-admits-pull-request",
                    Severity::High,
                    &anchors,
                    format!("sub \"{v}\" admits pull_request jobs on a role that can write"),
                );
            } else if writes && like && opaque.holds(v, branch_wildcard) {
                report(
                    "deploy-branch-wildcard",
                    Severity::Medium,
                    &anchors,
                    format!("sub \"{v}\" admits any matching branch on a role that can write: whoever can push a branch can deploy"),
                );
            }
            if opaque.holds(v, legacy_form) {
                report("legacy-subject-format", Severity::Info, &anchors,
                    format!("sub \"{v}\" is in the OWNER/REPO form; a repository using OWNER@ID/REPO@ID subjects will not match"));
            }
        }
    }
}

/// `repo:OWNER/REPO:CONTEXT` split in three (owner and repository may be missing).
fn sub_parts(value: &str) -> Option<(&str, Option<&str>, Option<&str>)> {
    let rest = value.strip_prefix("repo:")?;
    let (repo, context) = match rest.split_once(':') {
        Some((r, c)) => (r, Some(c)),
        None => (rest, None),
    };
    Some(match repo.split_once('/') {
        Some((owner, name)) => (owner, Some(name), context),
        None => (repo, None, context),
    })
}

/// Which part ("owner" or "repository") holds a wildcard that admits other
/// names: any wildcard in the owner, or a partial one (`inf*`) in the
/// repository (a bare `*` is [`org_wide`]).
fn owner_or_repo_wildcard(value: &str) -> Option<&'static str> {
    let (owner, name, _) = sub_parts(value)?;
    if has_wildcard(owner) {
        return Some("owner");
    }
    name.filter(|n| has_wildcard(n) && *n != "*")
        .map(|_| "repository")
}

/// An example subject the pattern admits, each wildcard filled so that the
/// owner or repository differs from what the author had in mind.
fn example_subject(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut part = 0; // 0 before "repo:", 1 owner, 2 repository, 3 context
    for (i, c) in chars.iter().enumerate() {
        let rest: String = chars[i + 1..].iter().collect();
        match c {
            ':' if part == 0 => part = 1,
            '/' if part == 1 => part = 2,
            ':' if part == 2 => part = 3,
            _ => {}
        }
        match c {
            '*' if part <= 2 => {
                out.push_str(if out.ends_with('@') { "666" } else { "-evil" });
                if part == 1 && !rest.contains('/') {
                    out.push_str("/infra");
                    part = 2;
                }
                if part == 2 && !rest.contains(':') {
                    out.push_str(":ref:refs/heads/main");
                    part = 3;
                }
            }
            '*' if out.ends_with(':') => out.push_str("ref:refs/heads/main"),
            '*' => out.push_str("main"),
            '?' => out.push('x'),
            c => out.push(*c),
        }
    }
    if glob_match(pattern, &out) {
        out
    } else {
        pattern.replace(['*', '?'], "x")
    }
}

/// `repo:O/R:ref:refs/heads/*` and the like: a wildcard in a ref.
fn branch_wildcard(value: &str) -> bool {
    matches!(sub_parts(value), Some((_, _, Some(context))) if context.starts_with("ref:") && has_wildcard(context))
}

/// `repo:ORG/*...`: a fixed owner with a wildcard repository name.
fn org_wide(value: &str) -> bool {
    let Some((owner, after)) = value.strip_prefix("repo:").and_then(|r| r.split_once('/')) else {
        return false;
    };
    let name = after.split(':').next().unwrap_or(after);
    !has_wildcard(owner) && name == "*"
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
#[path = "lint_tests.rs"]
mod tests;
