use super::*;

fn kind(id: &str) -> &'static IssuerKind {
    ISSUERS.iter().find(|k| k.id == id).unwrap()
}

fn parts(p: &Parts) -> Vec<(&str, &str)> {
    p.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

#[test]
fn providers_are_recognised_by_host_and_self_hosted_ones_by_subject() {
    for (provider, subjects, want) in [
        ("token.actions.githubusercontent.com", vec![], "github"),
        ("token.actions.octo.ghe.com", vec![], "github"),
        ("github.com/enterprises/octo", vec![], "github"),
        ("ghes.example.com/_services/token", vec![], "github"),
        ("gitlab.com", vec![], "gitlab"),
        (
            "gitlab.example.com",
            vec!["project_path:g/p:ref_type:branch:ref:main"],
            "gitlab",
        ),
        ("oidc.circleci.com/org/6c1b3c4e", vec![], "circleci"),
        ("agent.buildkite.com", vec![], "buildkite"),
        (
            "api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc",
            vec![],
            "bitbucket",
        ),
        ("accounts.google.com", vec!["1234567890"], "generic"),
        ("idp.example.com", vec![], "generic"),
    ] {
        let got = IssuerKind::recognise(provider, subjects.iter().copied());
        assert_eq!(got.id, want, "{provider}");
    }
}

#[test]
fn subjects_split_into_named_parts() {
    let gitlab = kind("gitlab");
    assert_eq!(
        parts(
            &gitlab
                .split("project_path:g/sub/p:ref_type:tag:ref:v1.2")
                .unwrap()
        ),
        [
            ("project_path", "g/sub/p"),
            ("ref_type", "tag"),
            ("ref", "v1.2")
        ]
    );
    assert_eq!(
        parts(&gitlab.split("project_path:g/p:ref:main").unwrap()),
        [("project_path", "g/p"), ("ref", "main")]
    );
    let circle = kind("circleci");
    assert_eq!(
        parts(
            &circle
                .split("org/O/project/P/user/U/vcs-origin/github.com/o/r/vcs-ref/refs/heads/main")
                .unwrap()
        ),
        [
            ("org_id", "O"),
            ("project_id", "P"),
            ("user_id", "U"),
            ("vcs_origin", "github.com/o/r"),
            ("vcs_ref", "refs/heads/main")
        ]
    );
    assert_eq!(circle.split("org/O/project/P/user/U").unwrap().len(), 3);
    let bk = kind("buildkite");
    assert_eq!(
        parts(
            &bk.split("organization:acme:pipeline:app:ref:refs/heads/main:commit:abc:step:deploy")
                .unwrap()
        )[1],
        ("pipeline", "app")
    );
    let bb = kind("bitbucket");
    assert_eq!(
        parts(&bb.split("{r-1}{e-2}:{s-3}").unwrap()),
        [
            ("repository_uuid", "r-1"),
            ("environment_uuid", "e-2"),
            ("step_uuid", "s-3")
        ]
    );
    assert_eq!(
        parts(&bb.split("{r-1}:{s-3}").unwrap()),
        [("repository_uuid", "r-1"), ("step_uuid", "s-3")]
    );
    assert_eq!(gitlab.split("repo:o/r:ref:refs/heads/main"), None);
    for k in ISSUERS {
        assert!(k.split(k.example_sub).is_some(), "{}", k.id);
    }
}

#[test]
fn patterns_that_stop_short_leave_later_parts_open() {
    let gitlab = kind("gitlab");
    assert_eq!(
        parts(&gitlab.split_pattern("project_path:*").unwrap()),
        [("project_path", "*"), ("ref_type", "*"), ("ref", "*")]
    );
    assert_eq!(
        parts(&gitlab.split_pattern("project_path:g/p:*").unwrap()),
        [("project_path", "g/p"), ("ref_type", "*"), ("ref", "*")]
    );
    assert_eq!(
        parts(
            &gitlab
                .split_pattern("project_path:g/p:ref_type:*:ref:main")
                .unwrap()
        ),
        [("project_path", "g/p"), ("ref_type", "*"), ("ref", "main")]
    );
    let circle = kind("circleci");
    assert_eq!(
        parts(&circle.split_pattern("org/O/project/*").unwrap())[..2],
        [("org_id", "O"), ("project_id", "*")]
    );
    let bb = kind("bitbucket");
    assert_eq!(
        parts(&bb.split_pattern("{r-1}:*").unwrap())[0],
        ("repository_uuid", "r-1")
    );
    assert_eq!(gitlab.split_pattern("project_path:g/p"), None);
}

#[test]
fn audiences_and_context_keys_per_issuer() {
    let circle = kind("circleci");
    assert_eq!(
        circle.default_audience("oidc.circleci.com/org/O-1"),
        Some("O-1")
    );
    assert_eq!(
        kind("github").default_audience("x"),
        Some("sts.amazonaws.com")
    );
    assert_eq!(kind("gitlab").default_audience("gitlab.com"), None);
    let gitlab = kind("gitlab");
    assert!(gitlab.in_context("gitlab.com", "ref_protected"));
    assert!(!gitlab.in_context("gitlab.example.com", "ref_protected"));
    assert!(!gitlab.in_context("gitlab.com", "environment"));
    assert!(gitlab.in_context("gitlab.example.com", "sub"));
    assert!(circle.in_context("oidc.circleci.com/org/O", "oidc.circleci.com/project-id"));
}

#[test]
fn render_puts_parts_back_in_their_template() {
    let gitlab = kind("gitlab");
    let p = gitlab.split(gitlab.example_sub).unwrap();
    assert_eq!(gitlab.render(&p).as_deref(), Some(gitlab.example_sub));
}

#[test]
fn compare_names_the_parts_that_differ() {
    let gitlab = kind("gitlab");
    let got = gitlab
        .compare(
            "project_path:g/p:ref_type:tag:ref:main",
            "project_path:g/*:ref_type:branch:ref:main",
            true,
        )
        .unwrap();
    let verdicts: Vec<(&str, bool)> = got.iter().map(|m| (m.name, m.matches)).collect();
    assert_eq!(
        verdicts,
        [("project_path", true), ("ref_type", false), ("ref", true)]
    );
    let exact = gitlab
        .compare(
            "project_path:g/p:ref_type:branch:ref:main",
            "project_path:g/p:ref:main",
            false,
        )
        .unwrap();
    assert_eq!(exact[1].pattern, None);
    assert!(!exact[1].matches);
}
