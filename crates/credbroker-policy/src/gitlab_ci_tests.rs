use super::*;

fn rules(text: &str) -> Vec<(&'static str, usize)> {
    rules_with(text, None)
}

fn rules_with(text: &str, policy: Option<&TrustPolicy>) -> Vec<(&'static str, usize)> {
    let mut found: Vec<_> = lint(".gitlab-ci.yml", text, policy)
        .unwrap()
        .into_iter()
        .map(|f| (f.rule, f.line))
        .collect();
    found.sort_by_key(|(_, line)| *line);
    found
}

const TOKENS: &str = "  id_tokens:\n    GITLAB_OIDC_TOKEN:\n      aud: https://gitlab.com\n";

#[test]
fn a_role_job_needs_id_tokens_from_itself_extends_or_default() {
    let bare = "deploy:\n  script:\n    - echo hi\n    - credbroker ci --role-arn arn:aws:iam::1:role/x --once\n";
    assert_eq!(rules(bare), vec![("gitlab-missing-id-tokens", 4)]);
    let own = format!("deploy:\n{TOKENS}  script:\n    - credbroker ci --once\n");
    assert_eq!(rules(&own), vec![]);
    let extended = format!(".aws:\n{TOKENS}deploy:\n  extends: .aws\n  script:\n    - aws sts assume-role-with-web-identity --role-arn x\n");
    assert_eq!(rules(&extended), vec![]);
    let default = format!("default:\n{TOKENS}deploy:\n  script: credbroker ci --once\n");
    assert_eq!(rules(&default), vec![]);
    // The SDK's web-identity variables count as assuming a role too.
    let vars =
        "variables:\n  AWS_ROLE_ARN: arn:aws:iam::1:role/x\ndeploy:\n  script:\n    - aws s3 ls\n";
    assert_eq!(rules(vars), vec![("gitlab-missing-id-tokens", 2)]);
    // A block script: the line inside the block.
    let block = "deploy:\n  script: |\n    echo one\n    credbroker ci --once\n";
    assert_eq!(rules(block), vec![("gitlab-missing-id-tokens", 4)]);
    let legacy = "deploy:\n  script:\n    - echo $CI_JOB_JWT_V2 > t\n    - credbroker ci --once\n";
    let f = &lint("x.yml", legacy, None).unwrap()[0];
    assert!(f.reason.contains("CI_JOB_JWT"), "{}", f.reason);
}

#[test]
fn merge_keys_bring_their_keys_into_the_job_as_gitlab_merges_them() {
    let merged =
        format!(".aws: &aws\n{TOKENS}deploy:\n  <<: *aws\n  script: credbroker ci --once\n");
    assert_eq!(rules(&merged), vec![], "{merged}");
    let overridden = "deploy:\n  <<: {script: echo}\n  script: credbroker ci --once\n";
    assert_eq!(rules(overridden), vec![("gitlab-missing-id-tokens", 3)]);
    let keys = ".keys: &keys\n  variables:\n    AWS_ACCESS_KEY_ID: AKIAIOSFODNN7EXAMPLE\njob:\n  <<: *keys\n  script: aws s3 ls\n";
    assert!(
        rules(keys).contains(&("literal-aws-keys", 5)),
        "{:?}",
        rules(keys)
    );
    assert!(looks_like(
        "ci.yml",
        ".t: &t\n  script: make\nbuild:\n  <<: *t\n"
    ));
}

#[test]
fn static_and_literal_keys_in_variables() {
    let text = "variables:\n  AWS_ACCESS_KEY_ID: $PROD_KEY_ID\n  AWS_SECRET_ACCESS_KEY:\n    value: $PROD_SECRET\n    description: the key\njob:\n  variables:\n    AWS_ACCESS_KEY_ID: AKIAIOSFODNN7EXAMPLE\n    AWS_SECRET_ACCESS_KEY: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n  script: aws s3 ls\n";
    assert_eq!(
        rules(text),
        vec![
            ("static-aws-keys", 2),
            ("static-aws-keys", 3),
            ("literal-aws-keys", 8),
            ("literal-aws-keys", 9)
        ]
    );
    let f = lint("x.yml", text, None).unwrap();
    assert!(f.iter().all(|f| !f.reason.contains("wJalrXUtnFEMI")));
}

#[test]
fn role_jobs_reachable_from_fork_merge_requests() {
    let job = |rules: &str| {
        format!(
            "deploy:\n  environment: production\n{TOKENS}  script: credbroker ci --once\n{rules}"
        )
    };
    let mr = job("  rules:\n    - if: $CI_PIPELINE_SOURCE == \"merge_request_event\"\n");
    assert_eq!(rules(&mr), vec![("gitlab-role-on-fork-merge-request", 8)]);
    let f = &lint("x.yml", &mr, None).unwrap()[0];
    assert!(f.reason.contains("deploy job"), "{}", f.reason);
    // Forks kept out first: clean.
    let guarded = job("  rules:\n    - if: $CI_MERGE_REQUEST_SOURCE_PROJECT_ID != $CI_PROJECT_ID\n      when: never\n    - if: $CI_PIPELINE_SOURCE == 'merge_request_event'\n");
    assert_eq!(rules(&guarded), vec![]);
    // Only this project's merge requests: clean.
    let same = job("  rules:\n    - if: $CI_PIPELINE_SOURCE == \"merge_request_event\" && $CI_MERGE_REQUEST_SOURCE_PROJECT_ID == $CI_PROJECT_ID\n");
    assert_eq!(rules(&same), vec![]);
    // The default branch only: clean.
    let main = job("  rules:\n    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH\n");
    assert_eq!(rules(&main), vec![]);
    // only: merge_requests.
    let only = job("  only:\n    - merge_requests\n");
    assert_eq!(rules(&only), vec![("gitlab-role-on-fork-merge-request", 7)]);
    // A rule without if, once workflow:rules create merge request pipelines.
    let any = format!("workflow:\n  rules:\n    - if: $CI_PIPELINE_SOURCE == \"merge_request_event\"\n    - if: $CI_COMMIT_BRANCH\n{}", job("  rules:\n    - when: on_success\n"));
    assert_eq!(rules(&any), vec![("gitlab-role-on-fork-merge-request", 12)]);
    // ...but not when no merge request pipelines exist.
    let none = job("  rules:\n    - when: on_success\n");
    assert_eq!(rules(&none), vec![]);
    // Jobs without rules stay off merge request pipelines.
    assert_eq!(rules(&job("")), vec![]);
}

#[test]
fn the_id_token_audience_must_be_one_the_policy_takes() {
    let policy = TrustPolicy::parse(
        r#"{"Statement":{"Effect":"Allow","Action":"sts:AssumeRoleWithWebIdentity",
        "Principal":{"Federated":"arn:aws:iam::1:oidc-provider/gitlab.com"},
        "Condition":{"StringEquals":{"gitlab.com:aud":"https://gitlab.com"}}}}"#,
    )
    .unwrap();
    let text = |aud: &str| {
        format!("deploy:\n  id_tokens:\n    T:\n      aud: {aud}\n  script: credbroker ci --once\n")
    };
    assert_eq!(
        rules_with(&text("https://gitlab.com"), Some(&policy)),
        vec![]
    );
    assert_eq!(
        rules_with(&text("sts.amazonaws.com"), Some(&policy)),
        vec![("gitlab-id-token-aud-rejected", 4)]
    );
    assert_eq!(rules_with(&text("$AUD"), Some(&policy)), vec![]);
    assert_eq!(
        rules_with(&text("[a, https://gitlab.com]"), Some(&policy)),
        vec![]
    );
}

#[test]
fn gitlab_files_are_told_from_github_ones() {
    assert!(looks_like("repo/.gitlab-ci.yml", "x: 1"));
    assert!(looks_like(
        "ci/deploy.yml",
        "stages: [a]\nbuild:\n  script: make\n"
    ));
    assert!(!looks_like(
        "w.yml",
        "on: push\njobs:\n  a:\n    steps: []\n"
    ));
}
