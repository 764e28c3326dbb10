//! `credbroker workflow lint` for GitLab CI: `.gitlab-ci.yml` jobs that
//! assume an AWS role without an ID token, with an audience the role will
//! not take, in pipelines a fork's merge request can run, or that keep
//! static keys.
//!
//! A job "assumes a role" when a script runs `credbroker ci` or
//! `aws sts assume-role-with-web-identity`, or its variables set
//! `AWS_ROLE_ARN` (the SDKs' web-identity variables). Its keys are read as
//! GitLab reads them: the job's own, then those of the jobs it `extends`,
//! then `default:`; variables from the top level too. Merge keys (`<<:
//! *anchor`) are applied first, as GitLab applies them. A fork's merge
//! request runs in this project when a member runs its pipeline here
//! (protocols.md §15): the fork's code then gets this project's ID token,
//! whose sub names this project and the fork's branch name, so a rule that
//! admits merge request pipelines hands the role to the fork.

use super::condition::{glob_match, Base};
use super::finding::{Finding, Rule, Severity};
use super::workflow_checks::{access_key_id, masked, secret_value};
use super::yaml::{self, Node};
use super::TrustPolicy;

pub const RULES: &[Rule] = &[
    Rule { id: "gitlab-missing-id-tokens", title: "a GitLab job assumes an AWS role without id_tokens", help: "Add `id_tokens: { GITLAB_OIDC_TOKEN: { aud: https://gitlab.com } }` to the job, with the aud the role's trust policy pins." },
    Rule { id: "gitlab-id-token-aud-rejected", title: "a GitLab job's ID token has an aud the role's trust policy does not accept", help: "Set the id_tokens aud to the value the trust policy pins in HOST:aud, or fix the policy." },
    Rule { id: "gitlab-role-on-fork-merge-request", title: "a GitLab job assumes an AWS role in merge request pipelines, which forks can reach", help: "Run role jobs on protected branches or tags only (`if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH`), or put `- if: $CI_MERGE_REQUEST_SOURCE_PROJECT_ID != $CI_PROJECT_ID` with `when: never` first; on gitlab.com also pin gitlab.com:ref_protected = \"true\" in the role." },
    Rule { id: "static-aws-keys", title: "static AWS access keys from CI/CD variables", help: "Migrate to OIDC: an IAM role trusted for this project, assumed with `credbroker ci` and an id_tokens token; then delete the keys." },
    Rule { id: "literal-aws-keys", title: "an AWS key written out in the pipeline file", help: "Deactivate the key in IAM now (it is in the repository's history), delete it from the file, and use OIDC." },
];

/// Top-level keys that are not jobs.
const GLOBAL_KEYS: &[&str] = &[
    "default",
    "include",
    "stages",
    "variables",
    "workflow",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
    "spec",
];

/// Does this file look like GitLab CI? By name, else by content: no
/// GitHub `jobs:`/`on:`, and a top-level job with a `script`.
pub fn looks_like(name: &str, text: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    if base.ends_with(".gitlab-ci.yml") || base.ends_with(".gitlab-ci.yaml") {
        return true;
    }
    let Ok(doc) = yaml::parse(text).map(yaml::merge_keys) else {
        return false;
    };
    doc.get("jobs").is_none()
        && doc.get("on").is_none()
        && doc
            .entries()
            .iter()
            .any(|(_, _, job)| job.get("script").is_some() || job.get("trigger").is_some())
}

type Report<'r> = dyn FnMut(&'static str, Severity, usize, &str, String) + 'r;

/// Lint one `.gitlab-ci.yml`; `policy` is the role's trust policy, when
/// given, to check the ID tokens' audience. `Err`: the YAML error and line.
pub fn lint(
    file: &str,
    text: &str,
    policy: Option<&TrustPolicy>,
) -> Result<Vec<Finding>, (String, usize)> {
    let doc = yaml::parse(text)
        .map(yaml::merge_keys)
        .map_err(|e| (format!("invalid YAML: {}", e.message), e.line))?;
    let mut findings = Vec::new();
    let mut report = |rule: &'static str, severity, line, job: &str, reason: String| {
        let fix = RULES.iter().find(|r| r.id == rule).map_or("", |r| r.help);
        findings.push(Finding {
            rule,
            severity,
            file: file.to_string(),
            line,
            resource: (!job.is_empty()).then(|| format!("job '{job}'")),
            reason,
            fix: fix.to_string(),
        });
    };
    check_variables(doc.get("variables"), "", &mut report);
    let workflow = doc
        .get("workflow")
        .and_then(|w| w.get("rules"))
        .map(first_reach);
    // Merge request pipelines exist when workflow:rules create them, or
    // (without workflow:rules) when some job's rules ask for them.
    let mr_pipelines = match workflow {
        Some(reach) => matches!(reach, Some(Reach::Fork | Reach::Any)),
        None => doc.entries().iter().any(|(name, _, job)| {
            !name.starts_with('.')
                && !GLOBAL_KEYS.contains(&name.as_str())
                && (job
                    .get("rules")
                    .is_some_and(|r| first_reach(r) == Some(Reach::Fork))
                    || job
                        .get("only")
                        .is_some_and(|o| only_refs(o).contains(&"merge_requests")))
        }),
    };
    for (name, _, job) in doc.entries() {
        if GLOBAL_KEYS.contains(&name.as_str()) || !matches!(job, Node::Map(..)) {
            continue;
        }
        check_variables(job.get("variables"), name, &mut report);
        if name.starts_with('.') {
            continue;
        }
        let job_ref = Job { doc: &doc, job };
        let Some(assumes_at) = assumes_role(&job_ref) else {
            continue;
        };
        let tokens = job_ref.get("id_tokens", true);
        match tokens {
            None => report(
                "gitlab-missing-id-tokens",
                Severity::High,
                assumes_at,
                name,
                format!(
                    "assumes an AWS role but has no id_tokens, so GitLab mints it no ID token{}",
                    legacy_jwt(&job_ref)
                ),
            ),
            Some((_, tokens)) => {
                if let Some(policy) = policy {
                    check_audience(tokens, policy, name, &mut report);
                }
            }
        }
        if let Some((line, why)) = fork_reachable(&job_ref, mr_pipelines) {
            let what = if job.get("environment").is_some() || name.contains("deploy") {
                "deploy job"
            } else {
                "job"
            };
            report("gitlab-role-on-fork-merge-request", Severity::High, line, name,
                format!("this {what} assumes an AWS role and runs in merge request pipelines ({why}): when a member runs a fork's merge request pipeline in this project, the fork's code gets this project's ID token, whose sub names the fork's branch (a branch named main matches ref:main)"));
        }
    }
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.line.cmp(&b.line)));
    Ok(findings)
}

/// A job and the document, to follow `extends` and `default`.
struct Job<'a> {
    doc: &'a Node,
    job: &'a Node,
}

impl<'a> Job<'a> {
    /// A key of the job, of what it extends (depth-first, as GitLab merges
    /// them), then of `default:` when `defaults` says the key can be there.
    fn get(&self, key: &str, defaults: bool) -> Option<(usize, &'a Node)> {
        fn find<'a>(
            doc: &'a Node,
            job: &'a Node,
            key: &str,
            depth: usize,
        ) -> Option<(usize, &'a Node)> {
            if let Some(found) = job.entry(key) {
                return Some(found);
            }
            if depth > 10 {
                return None;
            }
            let parents: Vec<&str> = match job.get("extends") {
                Some(Node::Scalar(s, _)) => vec![s.as_str()],
                Some(list) => list.items().iter().filter_map(Node::as_str).collect(),
                None => Vec::new(),
            };
            parents
                .iter()
                .rev()
                .find_map(|p| find(doc, doc.get(p)?, key, depth + 1))
        }
        find(self.doc, self.job, key, 0).or_else(|| {
            defaults
                .then(|| self.doc.get("default")?.entry(key))
                .flatten()
        })
    }

    /// Every script line with its line number.
    fn script_lines(&self) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for key in ["before_script", "script", "after_script"] {
            let found = self
                .get(key, true)
                .or_else(|| (key != "script").then(|| self.doc.entry(key)).flatten());
            if let Some((_, node)) = found {
                lines_of(node, &mut out);
            }
        }
        out
    }
}

/// A block scalar's node line is its first content line (yaml-rust2's mark).
fn lines_of(node: &Node, out: &mut Vec<(usize, String)>) {
    match node {
        Node::Scalar(s, line) => {
            for (i, l) in s.lines().enumerate() {
                out.push((line + i, l.to_string()));
            }
        }
        Node::List(items, _) => items.iter().for_each(|n| lines_of(n, out)),
        Node::Map(..) => {}
    }
}

/// The line where the job assumes a role, if it does.
fn assumes_role(job: &Job<'_>) -> Option<usize> {
    let script = job
        .script_lines()
        .into_iter()
        .find(|(_, l)| l.contains("credbroker ci") || l.contains("assume-role-with-web-identity"));
    if let Some((line, _)) = script {
        return Some(line);
    }
    [job.get("variables", false), job.doc.entry("variables")]
        .into_iter()
        .flatten()
        .find_map(|(_, vars)| vars.entry("AWS_ROLE_ARN").map(|(line, _)| line))
}

/// A hint when the job still reads the ID token GitLab no longer mints.
fn legacy_jwt(job: &Job<'_>) -> &'static str {
    if job
        .script_lines()
        .iter()
        .any(|(_, l)| l.contains("CI_JOB_JWT"))
    {
        " (it reads CI_JOB_JWT, which GitLab 17.0 removed)"
    } else {
        ""
    }
}

/// `variables:` keys: literal keys are leaks, references are static keys.
fn check_variables(vars: Option<&Node>, job: &str, report: &mut Report<'_>) {
    for (name, line, value) in vars.map(Node::entries).unwrap_or_default() {
        let value = match value {
            Node::Map(..) => value.get("value").and_then(Node::as_str),
            other => other.as_str(),
        };
        let Some(value) = value else { continue };
        let reference = value.trim_start().starts_with('$');
        if let Some(kind) = access_key_id(value).filter(|_| !reference) {
            let severity = if kind.starts_with("long-term") {
                Severity::Critical
            } else {
                Severity::High
            };
            report(
                "literal-aws-keys",
                severity,
                *line,
                job,
                format!(
                    "variables: {name} holds a {kind} written out ({})",
                    masked(value)
                ),
            );
        } else if !reference && secret_value(name, value) {
            report(
                "literal-aws-keys",
                Severity::Critical,
                *line,
                job,
                format!("variables: {name} holds a literal secret value (not shown)"),
            );
        } else if reference
            && matches!(
                name.as_str(),
                "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" | "AWS_SESSION_TOKEN"
            )
        {
            report(
                "static-aws-keys",
                Severity::Medium,
                *line,
                job,
                format!(
                    "{name} comes from the CI/CD variable {value}; marked for migration to OIDC"
                ),
            );
        }
    }
}

/// Is the job's ID token audience one the role's trust policy accepts?
fn check_audience(tokens: &Node, policy: &TrustPolicy, job: &str, report: &mut Report<'_>) {
    let mut asked = Vec::new();
    for (_, _, token) in tokens.entries() {
        let Some((line, aud)) = token.entry("aud") else {
            continue;
        };
        let values: Vec<&str> = match aud {
            Node::Scalar(s, _) => vec![s.as_str()],
            list => list.items().iter().filter_map(Node::as_str).collect(),
        };
        if values.iter().any(|v| v.contains('$')) {
            return; // set by a variable: not known here
        }
        asked.push((line, values));
    }
    let accepted: Vec<&[String]> = policy
        .statements
        .iter()
        .filter(|s| s.effect == super::Effect::Allow && s.covers_web_identity())
        .flat_map(|s| s.conditions_on("aud"))
        .filter(|c| !c.operator.negated() && c.operator.base != Base::Null)
        .map(|c| c.values.as_slice())
        .collect();
    if accepted.is_empty() {
        return;
    }
    let takes = |aud: &str| {
        accepted
            .iter()
            .any(|values| values.iter().any(|v| v == aud || glob_match(v, aud)))
    };
    if asked
        .iter()
        .any(|(_, values)| values.iter().any(|v| takes(v)))
    {
        return;
    }
    if let Some((line, values)) = asked.first() {
        let wants: Vec<String> = accepted.iter().flat_map(|v| v.iter().cloned()).collect();
        report("gitlab-id-token-aud-rejected", Severity::High, *line, job,
            format!("id_tokens asks for aud {values:?}, which the role's trust policy does not accept (it takes {wants:?}): STS will refuse the token"));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    /// The rule admits merge request pipelines, forks' included.
    Fork,
    /// It keeps forks out (`when: never` on them, or it only admits this project's).
    ForksExcluded,
    /// It is about other pipelines.
    Other,
    /// It matches any pipeline (no `if`).
    Any,
}

/// What one `rules:` entry does for a fork's merge request pipeline.
fn mr_rule(rule: &Node) -> Reach {
    let never = rule.get("when").and_then(Node::as_str) == Some("never");
    let Some(expr) = rule.get("if").and_then(Node::as_str) else {
        return if never { Reach::Other } else { Reach::Any };
    };
    let compact: String = expr.chars().filter(|c| !c.is_whitespace()).collect();
    let fork_test = compact.contains("CI_MERGE_REQUEST_SOURCE_PROJECT_ID")
        || compact.contains("CI_MERGE_REQUEST_SOURCE_PROJECT_PATH");
    if fork_test {
        return match (never, compact.contains("!=")) {
            (true, true) | (false, false) => Reach::ForksExcluded,
            (true, false) => Reach::Other,
            (false, true) => Reach::Fork,
        };
    }
    let mr = compact.contains("==\"merge_request_event\"")
        || compact.contains("=='merge_request_event'")
        || compact.contains("=~/merge_request")
        || (compact.contains("$CI_MERGE_REQUEST_IID")
            && !compact.contains("$CI_MERGE_REQUEST_IID=="));
    match (mr, never) {
        (true, false) => Reach::Fork,
        (true, true) => Reach::ForksExcluded,
        _ => Reach::Other,
    }
}

/// The first rule that decides for a fork's merge request pipeline.
fn first_reach(rules: &Node) -> Option<Reach> {
    rules
        .items()
        .iter()
        .map(mr_rule)
        .find(|r| *r != Reach::Other)
}

/// Why and where a job runs in a fork's merge request pipelines, if it
/// does; `mr_pipelines`: the file creates such pipelines at all.
fn fork_reachable(job: &Job<'_>, mr_pipelines: bool) -> Option<(usize, String)> {
    if !mr_pipelines {
        return None;
    }
    if let Some((_, rules)) = job.get("rules", false) {
        let rule = rules.items().iter().find(|r| mr_rule(r) != Reach::Other)?;
        return match mr_rule(rule) {
            Reach::Fork => Some((rule.line(), "its rules admit merge_request_event".into())),
            Reach::Any => Some((rule.line(), "a rule without if matches them too".into())),
            _ => None,
        };
    }
    let (line, only) = job.get("only", false)?;
    only_refs(only)
        .contains(&"merge_requests")
        .then(|| (line, "only: merge_requests".to_string()))
}

/// The refs of `only:` (a name, a list, or a map with `refs:`).
fn only_refs(only: &Node) -> Vec<&str> {
    match only {
        Node::Scalar(s, _) => vec![s.as_str()],
        Node::List(items, _) => items.iter().filter_map(Node::as_str).collect(),
        map => map
            .get("refs")
            .map(|r| r.items().iter().filter_map(Node::as_str).collect())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
#[path = "gitlab_ci_tests.rs"]
mod tests;
