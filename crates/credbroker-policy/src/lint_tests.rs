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
    assert!(
        rules("deploy.json", GH, &sub("StringLike", "repo:org/*")).contains(&"org-wide-wildcard")
    );
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
        rules("r.json", GH, &format!(r#"{{"StringEquals":{{{AUD}}}}}"#)).contains(&"sub-missing")
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

#[test]
fn owner_and_repository_wildcards_are_critical_on_every_role() {
    let sub = |v: &str| {
        format!(
            r#"{{"StringEquals":{{{AUD}}},"StringLike":{{"token.actions.githubusercontent.com:sub":"{v}"}}}}"#
        )
    };
    for (pattern, example) in [
        ("repo:acme*", "repo:acme-evil/infra:ref:refs/heads/main"),
        ("repo:ac?me/infra:*", "repo:acxme/infra:ref:refs/heads/main"),
        ("repo:acme/inf*", "repo:acme/inf-evil:ref:refs/heads/main"),
        (
            "repo:acme*/infra:ref:refs/heads/main",
            "repo:acme-evil/infra:ref:refs/heads/main",
        ),
        (
            "repo:acme@1*/app@2:*",
            "repo:acme@1-evil/app@2:ref:refs/heads/main",
        ),
    ] {
        for file in ["readonly.json", "deploy.json"] {
            let found = lint(file, &policy(GH, &sub(pattern)), LintOptions::default()).unwrap();
            let f = found
                .iter()
                .find(|f| f.rule == "sub-owner-or-repo-wildcard")
                .unwrap_or_else(|| panic!("{pattern} in {file}: {found:?}"));
            assert_eq!(f.severity, Severity::Critical);
            assert!(f.reason.contains(&format!("\"{example}\"")), "{}", f.reason);
            assert!(glob_match(pattern, example));
        }
    }
    // A bare repository wildcard stays org-wide; repo:* stays sub-wildcard.
    assert!(!rules("r.json", GH, &sub("repo:acme/*")).contains(&"sub-owner-or-repo-wildcard"));
    assert!(!rules("r.json", GH, &sub("repo:*")).contains(&"sub-owner-or-repo-wildcard"));
    // Negated patterns restrict rather than admit.
    let negated = format!(
        r#"{{"StringEquals":{{{AUD},"token.actions.githubusercontent.com:sub":"repo:acme/app:environment:prod"}},"StringNotLike":{{"token.actions.githubusercontent.com:sub":"repo:acme*"}}}}"#
    );
    assert!(!rules("r.json", GH, &negated).contains(&"sub-owner-or-repo-wildcard"));
}

#[test]
fn branch_wildcards_are_medium_on_roles_that_write() {
    let sub = format!(
        r#"{{"StringEquals":{{{AUD}}},"StringLike":{{"token.actions.githubusercontent.com:sub":"repo:o@1/r@2:ref:refs/heads/*"}}}}"#
    );
    let found = lint("deploy.json", &policy(GH, &sub), LintOptions::default()).unwrap();
    let got: Vec<_> = found.iter().map(|f| (f.rule, f.severity)).collect();
    assert_eq!(got, vec![("deploy-branch-wildcard", Severity::Medium)]);
    assert!(rules("readonly.json", GH, &sub).is_empty());
}

#[test]
fn rules_on_unresolved_values_fire_only_when_they_hold_whatever_the_value() {
    use super::super::input::Unresolved;
    let lint_sub = |value: &str| {
        let doc: serde_json::Value = serde_json::from_str(&policy(
            GH,
            &format!(
                r#"{{"StringEquals":{{{AUD}}},"StringLike":{{"token.actions.githubusercontent.com:sub":"{value}"}}}}"#
            ),
        ))
        .unwrap();
        let ex = Extracted {
            file: "main.tf".into(),
            resource: Some("aws_iam_role.deploy".into()),
            document: Some(doc),
            start: 1,
            excerpt: String::new(),
            unresolved: vec![Unresolved {
                expression: "var.org".into(),
                line: 7,
                path: "Condition.StringLike".into(),
                placeholder: "${var.org}".into(),
            }],
            written: Vec::new(),
        };
        let mut rules: Vec<&str> = lint_extracted(&ex, LintOptions::default())
            .unwrap()
            .into_iter()
            .map(|f| f.rule)
            .collect();
        rules.sort();
        rules
    };
    // The owner is unknown: org-wide, pull-request and legacy rules depend on it.
    assert_eq!(
        lint_sub("repo:${var.org}/app:ref:refs/heads/main"),
        vec!["unresolved-expression"]
    );
    // A wildcard after the unknown owner admits other owners whatever it is.
    assert_eq!(
        lint_sub("repo:${var.org}*"),
        vec![
            "deploy-admits-pull-request",
            "sub-owner-or-repo-wildcard",
            "unresolved-expression"
        ]
    );
}

/// A correct GitLab trust policy: the provider is GitLab, the audience is
/// the one `id_tokens` asks for, the subject pins one project's protected
/// branch. Read as GitHub, it drew two false high findings.
#[test]
fn a_correct_gitlab_policy_draws_no_github_findings() {
    let principal = r#"{"Federated":"arn:aws:iam::111111111111:oidc-provider/gitlab.com"}"#;
    let condition = r#"{"StringEquals":{"gitlab.com:aud":"https://gitlab.com",
        "gitlab.com:sub":"project_path:octo-group/octo-project:ref_type:branch:ref:main",
        "gitlab.com:ref_protected":"true"}}"#;
    assert_eq!(
        rules("deploy.json", principal, condition),
        Vec::<&str>::new()
    );
}

/// A GitHub Enterprise Server issuer is GitHub: its rules apply, and it is
/// not "a principal other than the GitHub provider".
#[test]
fn a_ghes_provider_is_read_as_github() {
    let ghes = r#"{"Federated":"arn:aws:iam::111111111111:oidc-provider/ghes.example.com/_services/token"}"#;
    let pinned = r#"{"StringEquals":{"ghes.example.com/_services/token:aud":"sts.amazonaws.com",
        "ghes.example.com/_services/token:sub":"repo:org@1/app@2:environment:production"}}"#;
    assert_eq!(rules("deploy.json", ghes, pinned), Vec::<&str>::new());
    let open = r#"{"StringEquals":{"ghes.example.com/_services/token:aud":"sts.amazonaws.com"},
        "StringLike":{"ghes.example.com/_services/token:sub":"repo:*"}}"#;
    assert!(rules("r.json", ghes, open).contains(&"sub-wildcard"));
}

#[test]
fn permissions_written_with_the_role_say_whether_it_writes() {
    for (text, writes) in [
        (
            "Policies:\n  - PolicyDocument:\n      Statement:\n        - Action: s3:PutObject",
            true,
        ),
        (
            "ManagedPolicyArns: [arn:aws:iam::aws:policy/AdministratorAccess]",
            true,
        ),
        (
            "inline_policy { policy = jsonencode({Statement = [{Action = \"ec2:*\"}]}) }",
            true,
        ),
        ("Policies:\n  - Action: \"*\"", true),
        (
            "Policies: []\nCondition: {StringLike: {x:sub: repo:*}}",
            false,
        ),
        (
            "Policies:\n  - Action: [s3:GetObject, s3:ListBucket]\n    Resource: \"*\"",
            false,
        ),
        (
            "Policies:\n  Action: sts:AssumeRoleWithWebIdentity\nPrincipal: {Federated: x}",
            false,
        ),
    ] {
        let trust = serde_json::json!({"Condition": {"StringLike": {"x:sub": "repo:*"}}});
        assert_eq!(role_writes_by_permissions(text, &trust), writes, "{text}");
    }
}
