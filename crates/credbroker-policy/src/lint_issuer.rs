//! `trust lint` for the issuers other than GitHub: GitLab (gitlab.com or
//! self-managed), CircleCI, Buildkite, Bitbucket Pipelines, and any other
//! OIDC provider with the generic rules only.
//!
//! Every rule reads the subject through the issuer's grammar
//! ([`super::issuer`]), so it speaks of the part a pattern leaves open (the
//! group of `project_path`, a Buildkite pipeline) and never of GitHub. The
//! audience expected is the issuer's own: a GitLab role that accepts
//! `https://gitlab.com` is right, and nothing here asks for
//! `sts.amazonaws.com`.

use super::condition::{glob_match, has_wildcard, Base, Condition};
use super::finding::Severity;
use super::input::Anchor;
use super::issuer::{tenant_and_project, IssuerKind, Parts, Role};
use super::lint_shared::{positive, Opaque, Report};
use super::Statement;

/// The rules of one Allow statement for `kind`'s `provider`.
pub(super) fn lint_statement(
    statement: &Statement,
    kind: &IssuerKind,
    provider: &str,
    writes: bool,
    opaque: &Opaque<'_>,
    report: &mut Report<'_>,
) {
    const PRINCIPAL: &[Anchor<'static>] = &[Anchor::Key("Principal")];
    let subs: Vec<&Condition> = statement.conditions_on("sub").collect();
    let auds: Vec<&Condition> = statement.conditions_on("aud").collect();
    let on_provider = |c: &&Condition| key_provider(&c.key).eq_ignore_ascii_case(provider);
    let principal_is_provider = !statement.principal.any
        && statement.principal.other.is_empty()
        && !statement.principal.federated.is_empty()
        && statement.principal.federated.iter().all(|arn| {
            super::federated_provider(arn).map(|p| p.trim_end_matches('/')) == Some(provider)
        });
    if !subs.is_empty() && !principal_is_provider {
        report(
            "principal-not-provider",
            Severity::High,
            PRINCIPAL,
            format!("sub conditions name the {} provider {provider}, but the principal is not only that provider: the conditions protect nothing", kind.name),
        );
    }
    if principal_is_provider && !subs.iter().any(|c| positive(c)) {
        let (severity, who) = if kind.is_generic() {
            (Severity::High, format!("any token {provider} issues"))
        } else if kind.shared {
            (
                Severity::Critical,
                format!(
                    "every {} of every {} on {provider}",
                    kind.project_noun, kind.tenant_noun
                ),
            )
        } else {
            (
                Severity::High,
                format!(
                    "every {} of the {} {} {}",
                    kind.project_noun, kind.name, kind.tenant_noun, provider
                ),
            )
        };
        report(
            "sub-missing",
            severity,
            PRINCIPAL,
            format!("no condition pins sub: {who} can assume this role"),
        );
    }
    audience(kind, provider, &auds, opaque, report);
    context_keys(kind, provider, statement, report);
    let pinned = |claims: &[&str]| {
        statement.conditions.iter().any(|c| {
            positive(c)
                && claims.iter().any(|claim| c.claim() == *claim)
                && c.values.iter().all(|v| !has_wildcard(v))
        })
    };
    if kind.is_generic() {
        return;
    }
    for c in subs.iter().filter(|c| positive(c) && on_provider(c)) {
        let like = c.operator.base == Base::StringLike;
        for v in &c.values {
            let anchors = [Anchor::Value(v), Anchor::Key(&c.key)];
            sub_value(
                kind, provider, v, like, writes, opaque, &pinned, &anchors, report,
            );
        }
    }
    if kind.id == "gitlab" && writes && subs.iter().any(|c| positive(c)) {
        let required = statement.conditions.iter().any(|c| {
            positive(c) && c.claim() == "ref_protected" && c.values.iter().all(|v| v == "true")
        });
        if kind.in_context(provider, "ref_protected") && !required {
            report("gitlab-ref-not-protected", Severity::Medium, PRINCIPAL,
                format!("a role that can write does not require {provider}:ref_protected = \"true\": a pipeline on an unprotected branch or tag with the pinned name, or a fork's merge request run in this project, gets the role"));
        } else if !kind.in_context(provider, "ref_protected") {
            report("gitlab-ref-not-protected", Severity::Low, PRINCIPAL,
                format!("STS evaluates only sub and aud for the self-managed GitLab {provider}, so this role that can write cannot require a protected ref: protect the branches and tags its sub names, and keep its jobs off merge request pipelines (`credbroker workflow lint` checks .gitlab-ci.yml)"));
        }
    }
}

/// The fix for a rule shared with GitHub, in this issuer's terms.
pub(super) fn fix(kind: &IssuerKind, provider: &str, rule: &str) -> Option<String> {
    let aud = match (kind.default_audience(provider), kind.audience) {
        (Some(aud), _) => aud.to_string(),
        (None, super::issuer::Audience::Chosen { usual }) if !usual.is_empty() => {
            format!("the audience the job asks for (commonly {usual})")
        }
        _ => "the audience your tokens carry".to_string(),
    };
    let example = if kind.example_sub.is_empty() {
        "the one subject that may assume the role".to_string()
    } else {
        format!(
            "one {} and ref, like {}",
            kind.project_noun, kind.example_sub
        )
    };
    Some(match rule {
        "aud-missing" | "aud-wildcard" => format!("Add StringEquals {provider}:aud = {aud}."),
        "sub-missing" | "sub-wildcard" => {
            format!("Add StringEquals {provider}:sub pinned to {example}.")
        }
        "org-wide-wildcard" => format!(
            "List the {}s that may assume the role, each pinned to a protected branch or tag, or pin a claim STS evaluates for {} (see docs/linting.md).",
            kind.project_noun, kind.name
        ),
        "deploy-branch-wildcard" => format!(
            "Pin the role that can write to one protected branch or tag of one {}.",
            kind.project_noun
        ),
        _ => return None,
    })
}

/// `gitlab.com:sub` -> `gitlab.com`.
pub(super) fn key_provider(key: &str) -> &str {
    key.split_once(':').map_or("", |(p, _)| p)
}

fn audience(
    kind: &IssuerKind,
    provider: &str,
    auds: &[&Condition],
    opaque: &Opaque<'_>,
    report: &mut Report<'_>,
) {
    let Some(c) = auds.iter().find(|c| positive(c)) else {
        report(
            "aud-missing",
            Severity::High,
            &[Anchor::Key("Principal")],
            "no condition on aud: tokens minted for any audience are accepted".into(),
        );
        return;
    };
    let like = c.operator.base == Base::StringLike;
    for v in c.values.iter().filter(|v| !opaque.any(v)) {
        let anchors = [Anchor::Value(v), Anchor::Key(&c.key)];
        if like && has_wildcard(v) {
            report(
                "aud-wildcard",
                Severity::High,
                &anchors,
                format!("aud \"{v}\" admits tokens minted for other services"),
            );
        } else if let Some(expected) = kind.default_audience(provider).filter(|e| e != v) {
            report("aud-unexpected", Severity::Low, &anchors,
                format!("{} tokens carry aud \"{expected}\" (the organization id); only a token minted with `circleci run oidc get --claims '{{\"aud\":\"{v}\"}}'` carries \"{v}\"", kind.name));
        }
    }
}

/// Conditions on claims STS never puts in the request context for this issuer.
pub(super) fn context_keys(
    kind: &IssuerKind,
    provider: &str,
    statement: &Statement,
    report: &mut Report<'_>,
) {
    if kind.is_generic() {
        return;
    }
    for c in &statement.conditions {
        let claim = c.claim();
        if !key_provider(&c.key).eq_ignore_ascii_case(provider) || kind.in_context(provider, claim)
        {
            continue;
        }
        let anchors = [Anchor::Key(&c.key)];
        let vacuous = c.operator.negated() || c.operator.if_exists || c.operator.base == Base::Null;
        if vacuous {
            report("claim-not-in-context", Severity::High, &anchors,
                format!("STS does not evaluate {claim} for {provider}, so {} on {} always holds and restricts nothing", c.operator.name, c.key));
        } else {
            report("claim-not-in-context", Severity::Medium, &anchors,
                format!("STS does not evaluate {claim} for {provider}, so no token meets {} on {} and this statement admits nobody", c.operator.name, c.key));
        }
    }
}

/// The rules on one sub value: which parts it leaves open.
#[allow(clippy::too_many_arguments)]
fn sub_value(
    kind: &IssuerKind,
    provider: &str,
    v: &str,
    like: bool,
    writes: bool,
    opaque: &Opaque<'_>,
    pinned: &dyn Fn(&[&str]) -> bool,
    anchors: &[Anchor<'_>],
    report: &mut Report<'_>,
) {
    let split = |v: &str| -> Option<Parts> {
        if like && v.starts_with('*') {
            return Some(
                kind.parts
                    .iter()
                    .map(|p| (p.name, "*".to_string()))
                    .collect(),
            );
        }
        if like {
            kind.split_pattern(v)
        } else {
            kind.split(v)
        }
    };
    if split(v).is_none() {
        if !opaque.any(v) {
            report(
                "sub-not-issuer-form",
                Severity::Medium,
                anchors,
                format!(
                    "sub \"{v}\" is not in {}'s subject form ({}), so no {} token matches it",
                    kind.name, kind.subjects[0], kind.name
                ),
            );
        }
        return;
    }
    let open = |role: Role, v: &str| -> bool {
        let Some(parts) = split(v) else { return false };
        part_open(kind, &parts, role, pinned)
    };
    if kind.parts.iter().any(|p| p.role == Role::RefType) {
        let ref_pinned = opaque.holds(v, |v| {
            split(v).is_some_and(|p| {
                value(&p, Role::Ref, kind).is_some_and(|r| !like || !has_wildcard(r))
            })
        });
        let type_open = opaque.holds(v, |v| {
            split(v).is_some_and(|p| {
                value(&p, Role::RefType, kind).is_none_or(|t| like && has_wildcard(t))
            })
        });
        if ref_pinned && type_open {
            let severity = if writes {
                Severity::High
            } else {
                Severity::Medium
            };
            report("ref-type-unpinned", severity, anchors,
                format!("sub \"{v}\" pins the ref but not ref_type, so a tag with the branch's name matches too: whoever can push a tag gets the role"));
        }
    }
    if !like {
        return;
    }
    let tenant_open = opaque.holds(v, |v| open(Role::Tenant, v));
    let project_open = opaque.holds(v, |v| open(Role::Project, v));
    if kind.shared && tenant_open {
        let example = example(kind, v);
        report("sub-wildcard", Severity::Critical, anchors,
            format!("sub \"{v}\" has a wildcard in the {} name: it admits {}s of other {}s on {provider}, whose names anyone can register{example}", kind.tenant_noun, kind.project_noun, kind.tenant_noun));
    } else if project_open || tenant_open {
        let severity = if writes {
            Severity::High
        } else {
            Severity::Low
        };
        let scope = if writes {
            " on a role that can write".to_string()
        } else {
            "; this is high if the role can write, which the linter cannot tell: neither its names nor permissions written with it say so (pass --writes, or name the role deploy, admin, prod, ...)".to_string()
        };
        report(
            "org-wide-wildcard",
            severity,
            anchors,
            format!(
                "sub \"{v}\" admits every {} of the {} whose name matches, including ones created later{scope}{}",
                kind.project_noun,
                kind.tenant_noun,
                example(kind, v)
            ),
        );
    }
    if writes && opaque.holds(v, |v| open(Role::Ref, v)) {
        report("deploy-branch-wildcard", Severity::Medium, anchors,
            format!("sub \"{v}\" admits any matching branch or tag on a role that can write: whoever can push one can deploy"));
    }
}

/// The value of the first part with `role`.
fn value<'p>(parts: &'p Parts, role: Role, kind: &IssuerKind) -> Option<&'p str> {
    parts
        .iter()
        .find(|(n, _)| kind.part_role(n) == role)
        .map(|(_, v)| v.as_str())
}

/// Does the pattern leave what `role` names open? For a `GROUP/PROJECT`
/// path, the tenant is the top-level group and the project the rest.
fn part_open(
    kind: &IssuerKind,
    parts: &Parts,
    role: Role,
    pinned: &dyn Fn(&[&str]) -> bool,
) -> bool {
    parts.iter().any(|(name, v)| {
        let part = kind.parts.iter().find(|p| p.name == *name);
        if part.is_some_and(|p| pinned(p.pinned_by)) {
            return false;
        }
        match (kind.part_role(name), role) {
            (Role::TenantPath, Role::Tenant) => has_wildcard(tenant_and_project(v).0),
            (Role::TenantPath, Role::Project) => {
                let (tenant, project) = tenant_and_project(v);
                !has_wildcard(tenant) && project.is_some_and(has_wildcard)
            }
            (r, wanted) => r == wanted && has_wildcard(v),
        }
    })
}

/// `, such as "..."`: a subject the pattern admits that its author did not mean.
fn example(kind: &IssuerKind, pattern: &str) -> String {
    let parts = match kind.split_pattern(pattern) {
        Some(p) if !pattern.starts_with('*') => p,
        _ => kind
            .split(kind.example_sub)
            .unwrap_or_default()
            .into_iter()
            .map(|(n, _)| (n, "*".to_string()))
            .collect(),
    };
    let filled: Parts = parts
        .iter()
        .map(|(name, v)| {
            let stand_in = match kind.part_role(name) {
                Role::TenantPath if !v.contains('/') => "evil/app",
                Role::Tenant | Role::TenantPath => "evil",
                Role::Project => "other",
                Role::RefType => "branch",
                Role::Ref => "main",
                Role::Other => "1",
            };
            (*name, v.replace('*', stand_in).replace('?', "x"))
        })
        .collect();
    match kind.render(&filled) {
        Some(s) if glob_match(pattern, &s) => format!(", such as \"{s}\""),
        _ => String::new(),
    }
}

#[cfg(test)]
#[path = "lint_issuer_tests.rs"]
mod tests;
