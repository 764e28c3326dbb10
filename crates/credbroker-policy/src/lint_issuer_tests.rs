//! One table per issuer: clean policies draw nothing, and each open pattern
//! draws exactly its rules.

use super::super::finding::Severity;
use super::super::lint::{lint, LintOptions};

const ORG: &str = "6c1b3c4e-0d8a-4d1e-9f4e-2a7b5e1c0d9f";
const PROJECT: &str = "5e0f9b2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
const BB: &str = "api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc";

fn policy(provider: &str, condition: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRoleWithWebIdentity",
        "Principal":{{"Federated":"arn:aws:iam::111111111111:oidc-provider/{provider}"}},"Condition":{condition}}}]}}"#
    )
}

/// (file, provider, Condition JSON, expected (rule, severity) sorted).
type Case = (&'static str, String, String, Vec<(&'static str, Severity)>);

fn check(cases: Vec<Case>) {
    for (file, provider, condition, want) in cases {
        let text = policy(&provider, &condition);
        let mut got: Vec<(&str, Severity)> = lint(file, &text, LintOptions::default())
            .unwrap()
            .into_iter()
            .map(|f| {
                assert!(!f.reason.contains("GitHub"), "{}", f.reason);
                assert!(
                    !f.fix.contains("GitHub")
                        && !f.fix.contains("githubusercontent")
                        && !f.fix.contains("repositor")
                        || kind_is_bitbucket(&provider),
                    "{}: {}",
                    f.rule,
                    f.fix
                );
                (f.rule, f.severity)
            })
            .collect();
        got.sort();
        let mut want = want;
        want.sort();
        assert_eq!(got, want, "{file} {provider} {condition}");
    }
}

fn kind_is_bitbucket(provider: &str) -> bool {
    provider.contains("bitbucket")
}

fn eq(provider: &str, pairs: &[(&str, &str)]) -> String {
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!(r#""{provider}:{k}":"{v}""#))
        .collect();
    format!(r#"{{"StringEquals":{{{}}}}}"#, body.join(","))
}

fn eq_like(provider: &str, aud: &str, sub: &str) -> String {
    format!(
        r#"{{"StringEquals":{{"{provider}:aud":"{aud}"}},"StringLike":{{"{provider}:sub":"{sub}"}}}}"#
    )
}

#[test]
fn gitlab_table() {
    use Severity::*;
    let gl = "gitlab.com".to_string();
    let aud = "https://gitlab.com";
    let main = "project_path:octo-group/octo-project:ref_type:branch:ref:main";
    let sm = "gitlab.example.com".to_string();
    check(vec![
        // Clean: pinned project, branch, protected ref on a deploy role.
        (
            "deploy.json",
            gl.clone(),
            eq(
                &gl,
                &[("aud", aud), ("sub", main), ("ref_protected", "true")],
            ),
            vec![],
        ),
        (
            "readonly.json",
            gl.clone(),
            eq(&gl, &[("aud", aud), ("sub", main)]),
            vec![],
        ),
        // Self-managed: recognised from the subject; STS cannot see ref_protected there.
        (
            "readonly.json",
            sm.clone(),
            eq(&sm, &[("aud", "https://gitlab.example.com"), ("sub", main)]),
            vec![],
        ),
        (
            "deploy.json",
            sm.clone(),
            eq(&sm, &[("aud", "https://gitlab.example.com"), ("sub", main)]),
            vec![("gitlab-ref-not-protected", Low)],
        ),
        // Any project on gitlab.com.
        (
            "readonly.json",
            gl.clone(),
            eq_like(&gl, aud, "project_path:*"),
            vec![("sub-wildcard", Critical)],
        ),
        (
            "readonly.json",
            gl.clone(),
            eq_like(&gl, aud, "project_path:octo*"),
            vec![("sub-wildcard", Critical)],
        ),
        (
            "readonly.json",
            gl.clone(),
            eq_like(&gl, aud, "*"),
            vec![("sub-wildcard", Critical)],
        ),
        // A group: narrower, high only on a role that can write.
        (
            "readonly.json",
            gl.clone(),
            eq_like(
                &gl,
                aud,
                "project_path:octo-group/*:ref_type:branch:ref:main",
            ),
            vec![("org-wide-wildcard", Low)],
        ),
        (
            "deploy.json",
            gl.clone(),
            format!(
                r#"{{"StringEquals":{{"gitlab.com:aud":"{aud}","gitlab.com:ref_protected":"true"}},"StringLike":{{"gitlab.com:sub":"project_path:octo-group/*:ref_type:branch:ref:main"}}}}"#
            ),
            vec![("org-wide-wildcard", High)],
        ),
        // A project_id pin makes a path wildcard harmless.
        (
            "readonly.json",
            gl.clone(),
            format!(
                r#"{{"StringEquals":{{"gitlab.com:aud":"{aud}","gitlab.com:project_id":"42"}},"StringLike":{{"gitlab.com:sub":"project_path:*:ref_type:branch:ref:main"}}}}"#
            ),
            vec![],
        ),
        // A tag named main matches a rule without ref_type.
        (
            "readonly.json",
            gl.clone(),
            eq_like(
                &gl,
                aud,
                "project_path:octo-group/octo-project:ref_type:*:ref:main",
            ),
            vec![("ref-type-unpinned", Medium)],
        ),
        (
            "readonly.json",
            gl.clone(),
            eq(
                &gl,
                &[
                    ("aud", aud),
                    ("sub", "project_path:octo-group/octo-project:ref:main"),
                ],
            ),
            vec![("ref-type-unpinned", Medium)],
        ),
        (
            "deploy.json",
            gl.clone(),
            eq_like(&gl, aud, "project_path:octo-group/octo-project:*"),
            vec![
                ("deploy-branch-wildcard", Medium),
                ("gitlab-ref-not-protected", Medium),
            ],
        ),
        // Audience: missing, or a wildcard; any exact one is the job's choice.
        (
            "readonly.json",
            gl.clone(),
            eq(&gl, &[("sub", main)]),
            vec![("aud-missing", High)],
        ),
        (
            "readonly.json",
            gl.clone(),
            format!(
                r#"{{"StringLike":{{"gitlab.com:aud":"*"}},"StringEquals":{{"gitlab.com:sub":"{main}"}}}}"#
            ),
            vec![("aud-wildcard", High)],
        ),
        (
            "readonly.json",
            gl.clone(),
            eq(&gl, &[("aud", "sts.amazonaws.com"), ("sub", main)]),
            vec![],
        ),
        // No sub at all; a GitHub-shaped sub; a claim STS does not evaluate.
        (
            "readonly.json",
            gl.clone(),
            eq(&gl, &[("aud", aud)]),
            vec![("sub-missing", Critical)],
        ),
        (
            "readonly.json",
            gl.clone(),
            eq(
                &gl,
                &[("aud", aud), ("sub", "repo:o/r:ref:refs/heads/main")],
            ),
            vec![("sub-not-issuer-form", Medium)],
        ),
        (
            "readonly.json",
            gl.clone(),
            eq(&gl, &[("aud", aud), ("sub", main), ("environment", "prod")]),
            vec![("claim-not-in-context", Medium)],
        ),
        (
            "readonly.json",
            gl.clone(),
            format!(
                r#"{{"StringEquals":{{"gitlab.com:aud":"{aud}","gitlab.com:sub":"{main}"}},"StringEqualsIfExists":{{"gitlab.com:environment":"prod"}}}}"#
            ),
            vec![("claim-not-in-context", High)],
        ),
    ]);
}

#[test]
fn circleci_table() {
    use Severity::*;
    let p = format!("oidc.circleci.com/org/{ORG}");
    let project = format!("org/{ORG}/project/{PROJECT}/user/*");
    check(vec![
        ("deploy.json", p.clone(), eq_like(&p, ORG, &project), vec![]),
        (
            "deploy.json",
            p.clone(),
            eq_like(
                &p,
                ORG,
                &format!("{project}/vcs-origin/github.com/acme/app/vcs-ref/refs/heads/main"),
            ),
            vec![],
        ),
        // Org-wide: the issuer is the organization's own, so never critical.
        (
            "deploy.json",
            p.clone(),
            eq_like(&p, ORG, &format!("org/{ORG}/project/*/user/*")),
            vec![("org-wide-wildcard", High)],
        ),
        (
            "readonly.json",
            p.clone(),
            eq_like(&p, ORG, &format!("org/{ORG}/project/*")),
            vec![("org-wide-wildcard", Low)],
        ),
        (
            "readonly.json",
            p.clone(),
            eq_like(&p, ORG, "*"),
            vec![("org-wide-wildcard", Low)],
        ),
        // ...unless the project id claim pins it.
        (
            "deploy.json",
            p.clone(),
            format!(
                r#"{{"StringEquals":{{"{p}:aud":"{ORG}","{p}:oidc.circleci.com/project-id":"{PROJECT}"}},"StringLike":{{"{p}:sub":"org/{ORG}/project/*/user/*"}}}}"#
            ),
            vec![],
        ),
        (
            "readonly.json",
            p.clone(),
            eq(&p, &[("aud", ORG)]),
            vec![("sub-missing", High)],
        ),
        (
            "readonly.json",
            p.clone(),
            eq_like(&p, "sts.amazonaws.com", &project),
            vec![("aud-unexpected", Low)],
        ),
        (
            "readonly.json",
            p.clone(),
            format!(r#"{{"StringLike":{{"{p}:sub":"{project}"}}}}"#),
            vec![("aud-missing", High)],
        ),
    ]);
}

#[test]
fn buildkite_table() {
    use Severity::*;
    let p = "agent.buildkite.com".to_string();
    let aud = "sts.amazonaws.com";
    let pinned = "organization:acme:pipeline:deploy-app:ref:refs/heads/main:commit:*:step:*";
    check(vec![
        ("deploy.json", p.clone(), eq_like(&p, aud, pinned), vec![]),
        (
            "readonly.json",
            p.clone(),
            eq_like(&p, aud, "organization:acme:pipeline:*"),
            vec![("org-wide-wildcard", Low)],
        ),
        (
            "deploy.json",
            p.clone(),
            eq_like(
                &p,
                aud,
                "organization:acme:pipeline:deploy-*:ref:refs/heads/main:commit:*:step:*",
            ),
            vec![("org-wide-wildcard", High)],
        ),
        (
            "readonly.json",
            p.clone(),
            eq_like(&p, aud, "organization:*"),
            vec![("sub-wildcard", Critical)],
        ),
        (
            "readonly.json",
            p.clone(),
            eq_like(
                &p,
                aud,
                "organization:acme*:pipeline:app:ref:refs/heads/main:commit:*:step:*",
            ),
            vec![("sub-wildcard", Critical)],
        ),
        (
            "deploy.json",
            p.clone(),
            eq_like(
                &p,
                aud,
                "organization:acme:pipeline:deploy-app:ref:*:commit:*:step:*",
            ),
            vec![("deploy-branch-wildcard", Medium)],
        ),
        (
            "readonly.json",
            p.clone(),
            eq(&p, &[("aud", aud)]),
            vec![("sub-missing", Critical)],
        ),
        // The organization_id claim pins the tenant whatever the slug.
        (
            "readonly.json",
            p.clone(),
            format!(
                r#"{{"StringEquals":{{"{p}:aud":"{aud}","{p}:organization_id":"0f1e"}},"StringLike":{{"{p}:sub":"organization:*:pipeline:app:ref:refs/heads/main:commit:*:step:*"}}}}"#
            ),
            vec![],
        ),
    ]);
}

#[test]
fn bitbucket_and_generic_tables() {
    use Severity::*;
    let p = BB.to_string();
    let aud = "ari:cloud:bitbucket::workspace/9a8b7c6d";
    check(vec![
        (
            "deploy.json",
            p.clone(),
            eq_like(&p, aud, "{0f9a8b7c-6d5e}:*"),
            vec![],
        ),
        (
            "deploy.json",
            p.clone(),
            eq_like(&p, aud, "*"),
            vec![("org-wide-wildcard", High)],
        ),
        (
            "readonly.json",
            p.clone(),
            eq(&p, &[("aud", aud)]),
            vec![("sub-missing", High)],
        ),
        // Any other issuer: generic rules only.
        (
            "readonly.json",
            "idp.example.com".into(),
            eq("idp.example.com", &[("aud", "my-app"), ("sub", "user-1")]),
            vec![],
        ),
        (
            "readonly.json",
            "idp.example.com".into(),
            eq("idp.example.com", &[("aud", "my-app")]),
            vec![("sub-missing", High)],
        ),
        (
            "readonly.json",
            "idp.example.com".into(),
            eq("idp.example.com", &[("sub", "user-1")]),
            vec![("aud-missing", High)],
        ),
    ]);
}

#[test]
fn messages_name_the_open_part_and_an_admitted_subject() {
    let text = policy(
        "gitlab.com",
        &eq_like("gitlab.com", "https://gitlab.com", "project_path:*"),
    );
    let f = &lint("r.json", &text, LintOptions::default()).unwrap()[0];
    assert!(f.reason.contains("group"), "{}", f.reason);
    assert!(
        f.reason
            .contains("\"project_path:evil/app:ref_type:branch:ref:main\""),
        "{}",
        f.reason
    );
    let text = policy(
        "agent.buildkite.com",
        &eq_like(
            "agent.buildkite.com",
            "sts.amazonaws.com",
            "organization:acme:pipeline:*",
        ),
    );
    let f = &lint("r.json", &text, LintOptions::default()).unwrap()[0];
    assert!(f.reason.contains("every pipeline"), "{}", f.reason);
    assert!(f.reason.contains("--writes"), "{}", f.reason);
}
