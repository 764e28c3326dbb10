//! The OIDC issuers CI systems mint tokens with, as data: how IAM names
//! each one's provider, the grammar of its `sub` with named parts, the
//! audience its tokens carry, and which of its claims STS puts in the
//! request context (protocols.md §15).
//!
//! The linter, `trust check` and `jwt inspect` read a subject through
//! [`IssuerKind::split`]: a value (or a `StringLike` pattern) becomes its
//! named parts, so a rule speaks of "the group of project_path" rather than
//! of characters. Adding an issuer is one entry in [`ISSUERS`]; a provider
//! no entry knows is [`GENERIC`], which only generic rules read.

use super::glob::glob_match;

/// What a part of a subject says, for the rules that read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Who owns the projects: a GitHub owner, a Buildkite organization.
    Tenant,
    /// One project, repository or pipeline of the tenant.
    Project,
    /// `GROUP/PROJECT`: GitLab's path, the top-level group then the rest.
    TenantPath,
    /// Branch or tag (GitLab's `ref_type`).
    RefType,
    /// A branch, tag or ref name.
    Ref,
    /// Anything else (user, commit, step): wildcards here are expected.
    Other,
}

/// One named part of a subject grammar.
#[derive(Clone, Copy, Debug)]
pub struct Part {
    pub name: &'static str,
    pub role: Role,
    /// Claims STS also evaluates that pin what this part names (GitLab's
    /// `project_id` for `project_path`): a condition on one of them makes a
    /// wildcard in the part harmless.
    pub pinned_by: &'static [&'static str],
}

/// The audience an issuer's tokens carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Always this value for AWS (GitHub: what configure-aws-credentials asks for).
    Fixed(&'static str),
    /// The last segment of the provider (CircleCI: the organization id),
    /// unless the job mints a token with another.
    ProviderTail,
    /// Whatever the job asks for; `usual` is what the issuer's AWS guide uses.
    Chosen { usual: &'static str },
}

/// One CI system's issuer.
#[derive(Debug)]
pub struct IssuerKind {
    /// Short id (`gitlab`), as JSON output names it.
    pub id: &'static str,
    /// For people (`GitLab`).
    pub name: &'static str,
    /// Provider names (`HOST[/PATH]`, as in the provider ARN), glob patterns.
    pub providers: &'static [&'static str],
    /// How every `sub` starts: recognises a self-hosted instance whose host
    /// no pattern knows, from the policy's sub conditions.
    pub sub_prefix: &'static str,
    /// Subject templates, `<part>` for each part, the default first.
    pub subjects: &'static [&'static str],
    pub parts: &'static [Part],
    pub audience: Audience,
    /// Claims other than `sub` and `aud` that STS puts in the request
    /// context, per provider pattern; a condition on any other is never met.
    pub context: &'static [(&'static str, &'static [&'static str])],
    /// Every customer shares the issuer, so only `sub` tells tenants apart.
    pub shared: bool,
    /// What a tenant and a project are called (`group`, `project`).
    pub tenant_noun: &'static str,
    pub project_noun: &'static str,
    /// A subject this issuer sends, for messages and tests.
    pub example_sub: &'static str,
}

const GITHUB_CONTEXT: &[&str] = &[
    "actor",
    "actor_id",
    "enterprise_id",
    "environment",
    "job_workflow_ref",
    "ref",
    "repository",
    "repository_id",
    "repository_owner_id",
    "workflow",
];

/// The issuers the linters know, most specific first.
pub const ISSUERS: &[IssuerKind] = &[
    IssuerKind {
        id: "github",
        name: "GitHub Actions",
        providers: &[
            "token.actions.githubusercontent.com",
            "token.actions.githubusercontent.com/*",
            "token.actions.*.ghe.com",
            "github.com/enterprises/*",
            "*/_services/token",
        ],
        sub_prefix: "repo:",
        subjects: &["repo:<repository>:<context>"],
        parts: &[
            Part { name: "repository", role: Role::TenantPath, pinned_by: &["repository", "repository_id"] },
            Part { name: "context", role: Role::Ref, pinned_by: &[] },
        ],
        audience: Audience::Fixed("sts.amazonaws.com"),
        context: &[("*", GITHUB_CONTEXT)],
        shared: true,
        tenant_noun: "owner",
        project_noun: "repository",
        example_sub: "repo:octo-org/octo-repo:ref:refs/heads/main",
    },
    IssuerKind {
        id: "gitlab",
        name: "GitLab",
        providers: &["gitlab.com"],
        sub_prefix: "project_path:",
        subjects: &[
            "project_path:<project_path>:ref_type:<ref_type>:ref:<ref>",
            "project_path:<project_path>:ref:<ref>:ref_type:<ref_type>",
            "project_path:<project_path>:ref:<ref>",
            "project_path:<project_path>:ref_type:<ref_type>",
        ],
        parts: &[
            Part { name: "project_path", role: Role::TenantPath, pinned_by: &["project_id"] },
            Part { name: "ref_type", role: Role::RefType, pinned_by: &[] },
            Part { name: "ref", role: Role::Ref, pinned_by: &[] },
        ],
        audience: Audience::Chosen { usual: "https://gitlab.com" },
        context: &[(
            "gitlab.com",
            &[
                "namespace_id",
                "pipeline_source",
                "project_id",
                "ref_protected",
                "runner_environment",
                "user_access_level",
                "user_email",
                "user_id",
                "user_login",
            ],
        )],
        shared: true,
        tenant_noun: "group",
        project_noun: "project",
        example_sub: "project_path:octo-group/octo-project:ref_type:branch:ref:main",
    },
    IssuerKind {
        id: "circleci",
        name: "CircleCI",
        providers: &["oidc.circleci.com/org/*"],
        sub_prefix: "org/",
        subjects: &[
            "org/<org_id>/project/<project_id>/user/<user_id>/vcs-origin/<vcs_origin>/vcs-ref/<vcs_ref>",
            "org/<org_id>/project/<project_id>/user/<user_id>",
        ],
        parts: &[
            Part { name: "org_id", role: Role::Tenant, pinned_by: &[] },
            Part { name: "project_id", role: Role::Project, pinned_by: &["oidc.circleci.com/project-id"] },
            Part { name: "user_id", role: Role::Other, pinned_by: &[] },
            Part { name: "vcs_origin", role: Role::Other, pinned_by: &[] },
            Part { name: "vcs_ref", role: Role::Ref, pinned_by: &[] },
        ],
        audience: Audience::ProviderTail,
        context: &[("*", &["oidc.circleci.com/project-id"])],
        shared: false,
        tenant_noun: "organization",
        project_noun: "project",
        example_sub: "org/6c1b3c4e-0d8a-4d1e-9f4e-2a7b5e1c0d9f/project/5e0f9b2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b/user/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    },
    IssuerKind {
        id: "buildkite",
        name: "Buildkite",
        providers: &["agent.buildkite.com", "agent.*.buildkite.dev", "agent.*.buildkite.site"],
        sub_prefix: "organization:",
        subjects: &["organization:<organization>:pipeline:<pipeline>:ref:<ref>:commit:<commit>:step:<step>"],
        parts: &[
            Part { name: "organization", role: Role::Tenant, pinned_by: &["organization_id", "organization_slug"] },
            Part { name: "pipeline", role: Role::Project, pinned_by: &["pipeline_id", "pipeline_slug"] },
            Part { name: "ref", role: Role::Ref, pinned_by: &[] },
            Part { name: "commit", role: Role::Other, pinned_by: &[] },
            Part { name: "step", role: Role::Other, pinned_by: &[] },
        ],
        audience: Audience::Chosen { usual: "sts.amazonaws.com" },
        context: &[(
            "*",
            &[
                "build_branch",
                "cluster_id",
                "cluster_name",
                "organization_id",
                "organization_slug",
                "pipeline_id",
                "pipeline_slug",
            ],
        )],
        shared: true,
        tenant_noun: "organization",
        project_noun: "pipeline",
        example_sub: "organization:acme:pipeline:deploy:ref:refs/heads/main:commit:9f2c1e7:step:deploy",
    },
    IssuerKind {
        id: "bitbucket",
        name: "Bitbucket Pipelines",
        providers: &["api.bitbucket.org/2.0/workspaces/*/pipelines-config/identity/oidc"],
        sub_prefix: "{",
        subjects: &[
            "{<repository_uuid>}{<environment_uuid>}:{<step_uuid>}",
            "{<repository_uuid>}:{<step_uuid>}",
        ],
        parts: &[
            Part { name: "repository_uuid", role: Role::Project, pinned_by: &[] },
            Part { name: "environment_uuid", role: Role::Other, pinned_by: &[] },
            Part { name: "step_uuid", role: Role::Other, pinned_by: &[] },
        ],
        audience: Audience::Chosen { usual: "ari:cloud:bitbucket::workspace/WORKSPACE_UUID" },
        context: &[],
        shared: false,
        tenant_noun: "workspace",
        project_noun: "repository",
        example_sub: "{0f9a8b7c-6d5e-4f3a-2b1c-0d9e8f7a6b5c}:{1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d}",
    },
];

/// Any other issuer: generic rules only.
pub const GENERIC: IssuerKind = IssuerKind {
    id: "generic",
    name: "an OIDC issuer",
    providers: &[],
    sub_prefix: "",
    subjects: &[],
    parts: &[],
    audience: Audience::Chosen { usual: "" },
    context: &[],
    shared: false,
    tenant_noun: "tenant",
    project_noun: "project",
    example_sub: "",
};

/// A subject (or a pattern of one) split into its parts: `(name, value)`
/// in grammar order. A part the text does not reach is absent.
pub type Parts = Vec<(&'static str, String)>;

impl IssuerKind {
    /// The issuer of a provider (`HOST[/PATH]`), from the host patterns only.
    pub fn of_provider(provider: &str) -> Option<&'static IssuerKind> {
        let provider = provider.trim_end_matches('/');
        ISSUERS
            .iter()
            .find(|k| k.providers.iter().any(|p| glob_match(p, provider)))
    }

    /// The issuer of a provider, or of the subjects it is asked for when no
    /// host pattern knows it (a self-managed GitLab, a GHES host).
    pub fn recognise<'a>(
        provider: &str,
        subjects: impl IntoIterator<Item = &'a str>,
    ) -> &'static IssuerKind {
        if let Some(kind) = Self::of_provider(provider) {
            return kind;
        }
        let subjects: Vec<&str> = subjects.into_iter().collect();
        ISSUERS
            .iter()
            .find(|k| !subjects.is_empty() && subjects.iter().all(|s| s.starts_with(k.sub_prefix)))
            .unwrap_or(&GENERIC)
    }

    pub fn is_generic(&self) -> bool {
        self.id == GENERIC.id
    }

    /// Does STS put `claim` of `provider` in the request context?
    /// `sub`, `aud` and the OIDC keys every provider has always are.
    pub fn in_context(&self, provider: &str, claim: &str) -> bool {
        matches!(claim, "sub" | "aud" | "amr" | "oaud" | "azp")
            || self
                .context
                .iter()
                .any(|(p, claims)| glob_match(p, provider) && claims.contains(&claim))
    }

    /// The audience this provider's tokens carry by default, if fixed.
    pub fn default_audience<'p>(&self, provider: &'p str) -> Option<&'p str> {
        match self.audience {
            Audience::Fixed(aud) => Some(aud),
            Audience::ProviderTail => provider.rsplit('/').next(),
            Audience::Chosen { .. } => None,
        }
    }

    /// Split a subject into its named parts with the first template it fits.
    /// Exact values only; for patterns see [`IssuerKind::split_pattern`].
    pub fn split(&self, sub: &str) -> Option<Parts> {
        self.subjects.iter().find_map(|t| split_with(t, sub, false))
    }

    /// Split a `StringLike` pattern: a `*` that swallows the rest of the
    /// template leaves every later part `*` (it admits any value there).
    pub fn split_pattern(&self, pattern: &str) -> Option<Parts> {
        self.split(pattern).or_else(|| {
            self.subjects
                .iter()
                .find_map(|t| split_with(t, pattern, true))
        })
    }

    pub fn part_role(&self, name: &str) -> Role {
        self.parts
            .iter()
            .find(|p| p.name == name)
            .map_or(Role::Other, |p| p.role)
    }

    /// A subject like `example_sub`, with `parts` put in its template.
    pub fn render(&self, parts: &Parts) -> Option<String> {
        let template = self.subjects.iter().find(|t| {
            placeholders(t).len() == parts.len()
                && placeholders(t).iter().zip(parts).all(|(a, (b, _))| a == b)
        })?;
        let mut out = template.to_string();
        for (name, value) in parts {
            out = out.replace(&format!("<{name}>"), value);
        }
        Some(out)
    }
}

/// One part of a token's subject beside the same part of a policy's value.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PartMatch {
    pub name: &'static str,
    /// The token's value; `None` when its subject has no such part.
    pub value: Option<String>,
    /// The policy's value or pattern; `None` when it names no such part.
    pub pattern: Option<String>,
    pub matches: bool,
}

impl IssuerKind {
    /// Compare a token's `sub` with one policy value part by part (`like`:
    /// the value is a `StringLike` pattern). `None` when either is not in
    /// this issuer's form.
    pub fn compare(&self, sub: &str, value: &str, like: bool) -> Option<Vec<PartMatch>> {
        let token = self.split(sub)?;
        let policy = if like {
            self.split_pattern(value)?
        } else {
            self.split(value)?
        };
        let get = |parts: &Parts, name: &str| {
            parts
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        Some(
            self.parts
                .iter()
                .filter_map(|part| {
                    let (value, pattern) = (get(&token, part.name), get(&policy, part.name));
                    let matches = match (&value, &pattern) {
                        (Some(v), Some(p)) if like => glob_match(p, v),
                        (Some(v), Some(p)) => v == p,
                        (None, None) => return None,
                        _ => false,
                    };
                    Some(PartMatch {
                        name: part.name,
                        value,
                        pattern,
                        matches,
                    })
                })
                .collect(),
        )
    }
}

fn placeholders(template: &str) -> Vec<&str> {
    template
        .split('<')
        .skip(1)
        .filter_map(|s| s.split_once('>').map(|(n, _)| n))
        .collect()
}

/// Template pieces: literal text and placeholders, alternating from a literal.
fn pieces(template: &str) -> (Vec<&str>, Vec<&str>) {
    let mut literals = Vec::new();
    let mut names = Vec::new();
    let mut rest = template;
    while let Some((lit, after)) = rest.split_once('<') {
        literals.push(lit);
        let (name, tail) = after.split_once('>').unwrap_or((after, ""));
        names.push(name);
        rest = tail;
    }
    literals.push(rest);
    (literals, names)
}

/// Match `text` to one template: each part runs to the next literal (the
/// last to the end). With `lenient`, a pattern ending in a wildcard may stop
/// short of the template: its part ends at the next separator, and every
/// later part is `*` (the wildcard admits any value there).
fn split_with(template: &str, text: &str, lenient: bool) -> Option<Parts> {
    let (literals, names) = pieces(template);
    let mut rest = text.strip_prefix(literals[0])?;
    let mut out: Parts = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let name = static_name(name);
        let next = literals[i + 1];
        if next.is_empty() && i + 1 == names.len() {
            if rest.is_empty() {
                return None;
            }
            out.push((name, rest.to_string()));
            return Some(out);
        }
        match rest.find(next) {
            Some(at) if at > 0 => {
                out.push((name, rest[..at].to_string()));
                rest = &rest[at + next.len()..];
            }
            _ if lenient && rest.ends_with('*') => {
                let sep = next.chars().next().unwrap_or('*');
                let value = match rest.find(sep) {
                    Some(at) if at > 0 => &rest[..at],
                    _ => rest,
                };
                out.push((name, value.to_string()));
                for later in &names[i + 1..] {
                    out.push((static_name(later), "*".to_string()));
                }
                return Some(out);
            }
            _ => return None,
        }
    }
    rest.is_empty().then_some(out)
}

/// The `'static` name of a part from the templates (they are all `'static`).
fn static_name(name: &str) -> &'static str {
    ISSUERS
        .iter()
        .flat_map(|k| k.parts.iter())
        .find(|p| p.name == name)
        .map_or("part", |p| p.name)
}

/// `GROUP/PROJECT` -> (`GROUP`, `PROJECT`); the project is what follows the
/// first `/` (subgroups included).
pub fn tenant_and_project(path: &str) -> (&str, Option<&str>) {
    match path.split_once('/') {
        Some((t, p)) => (t, Some(p)),
        None => (path, None),
    }
}

#[cfg(test)]
#[path = "issuer_tests.rs"]
mod tests;
