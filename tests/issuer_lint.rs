//! The linters and `trust check`/`jwt inspect` on issuers other than
//! GitHub, through the binary: correct GitLab and CircleCI policies lint
//! clean at `--fail-on high`, `project_path:*` is flagged, every policy form
//! recognises its issuer, decisions and tokens are explained in the issuer's
//! own parts, and `.gitlab-ci.yml` is linted with its lines.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::path::Path;
use std::process::Command;

mod lint_support;
use lint_support::{fixture, run, BIN};

/// (file name, rule, severity, line) of a JSON report.
fn located(stdout: &str) -> Vec<(String, String, String, u64)> {
    let v: serde_json::Value = serde_json::from_str(stdout).unwrap();
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert!(!f["reason"].as_str().unwrap().contains("GitHub"), "{f}");
            assert!(!f["fix"].as_str().unwrap().contains("GitHub"), "{f}");
            (
                Path::new(f["file"].as_str().unwrap())
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                f["rule"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn found(rows: &[(String, String, String, u64)]) -> Vec<(&str, &str, &str, u64)> {
    rows.iter()
        .map(|(f, r, s, l)| (f.as_str(), r.as_str(), s.as_str(), *l))
        .collect()
}

#[test]
fn correct_gitlab_and_circleci_policies_lint_clean_at_fail_on_high() {
    let (code, stdout, _) = run(&[
        "trust",
        "lint",
        "--fail-on",
        "high",
        &fixture("trust/issuers/gitlab-deploy.json"),
        &fixture("trust/issuers/circleci-deploy.json"),
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(stdout, "no findings\n");
}

#[test]
fn every_form_recognises_its_issuer_and_flags_the_open_part() {
    let (code, stdout, _) = run(&[
        "trust",
        "lint",
        "--format",
        "json",
        &fixture("trust/issuers/gitlab-any-project.json"),
        &fixture("trust/issuers/circleci-org-wide-deploy.json"),
        &fixture("trust/issuers/gitlab.tf"),
        &fixture("trust/issuers/buildkite.yaml"),
        &fixture("trust/issuers/circleci.yaml"),
    ]);
    assert_eq!(code, 1, "{stdout}");
    let rows = located(&stdout);
    let mut got = found(&rows);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("buildkite.yaml", "org-wide-wildcard", "low", 21),
            (
                "circleci-org-wide-deploy.json",
                "org-wide-wildcard",
                "high",
                15
            ),
            // Named for neither, but its policy can s3:PutObject: it writes.
            ("circleci.yaml", "org-wide-wildcard", "high", 17),
            ("gitlab-any-project.json", "sub-wildcard", "critical", 15),
            // The Terraform role is named release: a role that can write.
            ("gitlab.tf", "gitlab-ref-not-protected", "medium", 4),
            ("gitlab.tf", "org-wide-wildcard", "high", 16),
        ]
    );
    let (_, text, _) = run(&[
        "trust",
        "lint",
        &fixture("trust/issuers/gitlab-any-project.json"),
    ]);
    assert!(
        text.contains("\"project_path:evil/app:ref_type:branch:ref:main\""),
        "{text}"
    );
}

#[test]
fn sarif_of_a_gitlab_finding_is_code_scanning_shaped() {
    let (_, stdout, _) = run(&[
        "trust",
        "lint",
        "--format",
        "sarif",
        &fixture("trust/issuers/gitlab-any-project.json"),
    ]);
    check_sarif(&stdout, "sub-wildcard", ".json");
}

/// The shape GitHub code scanning takes (the same checks as
/// tests/policy_lint.rs makes of GitHub findings).
fn check_sarif(stdout: &str, rule: &str, extension: &str) {
    let v: serde_json::Value = serde_json::from_str(stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert!(v["$schema"].as_str().unwrap().contains("sarif"));
    let run = &v["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let results = run["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["ruleId"] == rule), "{stdout}");
    for r in results {
        assert!(rules.contains(&r["ruleId"].as_str().unwrap()));
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        assert!(!r["message"]["text"].as_str().unwrap().is_empty());
        let location = &r["locations"][0]["physicalLocation"];
        assert!(location["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with(extension));
        assert!(location["region"]["startLine"].as_u64().unwrap() >= 1);
    }
}

fn token(claims: serde_json::Value) -> String {
    let part = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        part(&serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "k1"})),
        part(&claims),
        URL_SAFE_NO_PAD.encode(b"not checked here")
    )
}

fn gitlab_claims(ref_type: &str) -> serde_json::Value {
    serde_json::json!({
        "iss": "https://gitlab.com",
        "aud": "https://gitlab.com",
        "sub": format!("project_path:octo-group/octo-project:ref_type:{ref_type}:ref:main"),
        "project_path": "octo-group/octo-project",
        "ref": "main",
        "ref_type": ref_type,
        "ref_protected": "true",
        "exp": 4_000_000_000u64,
    })
}

#[test]
fn trust_check_explains_in_the_issuers_parts() {
    let policy = fixture("trust/issuers/gitlab-deploy.json");
    let (code, stdout, _) = run(&[
        "trust",
        "check",
        "--policy",
        &policy,
        "--token",
        &token(gitlab_claims("branch")),
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("issuer:    GitLab"), "{stdout}");
    assert!(
        stdout.contains("  ref_type: branch matches branch"),
        "{stdout}"
    );

    // A tag named main: rejected, and the part that failed is named.
    let (code, stdout, _) = run(&[
        "trust",
        "check",
        "--policy",
        &policy,
        "--format",
        "json",
        "--token",
        &token(gitlab_claims("tag")),
    ]);
    assert_eq!(code, 1, "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["admitted"], false);
    assert_eq!(v["issuer"]["id"], "gitlab");
    let parts = v["sub_checks"][0]["parts"].as_array().unwrap();
    let failed: Vec<&str> = parts
        .iter()
        .filter(|p| p["matches"] == false)
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["ref_type"]);
    assert_eq!(v["subject_parts"][1]["value"], "tag");
}

#[test]
fn jwt_inspect_breaks_each_issuers_sub_into_parts() {
    for (claims, issuer, part, value) in [
        (
            gitlab_claims("branch"),
            "GitLab",
            "project_path",
            "octo-group/octo-project",
        ),
        (
            serde_json::json!({"iss": "https://oidc.circleci.com/org/O1", "aud": "O1",
                "sub": "org/O1/project/P1/user/U1/vcs-origin/github.com/acme/app/vcs-ref/refs/heads/main"}),
            "CircleCI",
            "vcs_origin",
            "github.com/acme/app",
        ),
        (
            serde_json::json!({"iss": "https://agent.buildkite.com", "aud": "sts.amazonaws.com",
                "sub": "organization:acme:pipeline:app:ref:refs/heads/main:commit:abc123:step:deploy"}),
            "Buildkite",
            "pipeline",
            "app",
        ),
        (
            serde_json::json!({"iss": "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc",
                "sub": "{r-1}:{s-2}"}),
            "Bitbucket Pipelines",
            "repository_uuid",
            "r-1",
        ),
    ] {
        let jwt = token(claims);
        let (code, text, _) = run(&["jwt", "inspect", &jwt]);
        assert_eq!(code, 0);
        assert!(text.contains(&format!("issuer:     {issuer}\n")), "{text}");
        assert!(text.contains(&format!("  {part}: {value}\n")), "{text}");
        let (_, json, _) = run(&["jwt", "inspect", "--format", "json", &jwt]);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["issuer"]["name"], issuer);
        assert!(v["subject_parts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == part && p["value"] == value));
    }
}

#[test]
fn workflow_lint_reads_gitlab_ci_with_lines_in_every_format() {
    let repo = fixture("gitlab/repo");
    let policy = fixture("trust/issuers/gitlab-deploy.json");
    let (code, stdout, _) = run(&[
        "workflow", "lint", "--format", "json", "--policy", &policy, &repo,
    ]);
    assert_eq!(code, 1, "{stdout}");
    let rows = located(&stdout);
    let mut got = found(&rows);
    got.sort_by_key(|r| r.3);
    assert_eq!(
        got,
        vec![
            (".gitlab-ci.yml", "static-aws-keys", "medium", 6),
            (".gitlab-ci.yml", "gitlab-missing-id-tokens", "high", 17),
            (
                ".gitlab-ci.yml",
                "gitlab-role-on-fork-merge-request",
                "high",
                23
            ),
            (".gitlab-ci.yml", "gitlab-id-token-aud-rejected", "high", 32),
            (".gitlab-ci.yml", "literal-aws-keys", "critical", 42),
        ]
    );
    // Without the policy, the audience is not judged.
    let (_, stdout, _) = run(&["workflow", "lint", "--format", "json", &repo]);
    assert!(!stdout.contains("gitlab-id-token-aud-rejected"));
    // The secret is never printed, in any format.
    for format in ["text", "json", "sarif", "github"] {
        let (_, out, _) = run(&["workflow", "lint", "--format", format, &repo]);
        assert!(!out.contains("wJalrXUtnFEMI"), "{format}");
    }
    let (_, sarif, _) = run(&["workflow", "lint", "--format", "sarif", &repo]);
    check_sarif(
        &sarif,
        "gitlab-role-on-fork-merge-request",
        ".gitlab-ci.yml",
    );
    let (_, github, _) = run(&["workflow", "lint", "--format", "github", &repo]);
    assert!(github.contains(".gitlab-ci.yml,line=23,"), "{github}");
    // A correct pipeline is clean; --ci gitlab reads a file of any name.
    let clean = fixture("gitlab/clean/.gitlab-ci.yml");
    let (code, stdout, _) = run(&[
        "workflow",
        "lint",
        "--fail-on",
        "info",
        "--policy",
        &policy,
        &clean,
    ]);
    assert_eq!((code, stdout.as_str()), (0, "no findings\n"));
    let dir = std::env::temp_dir().join(format!("credbroker-gitlab-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let renamed = dir.join("pipeline.yml");
    std::fs::copy(fixture("gitlab/repo/.gitlab-ci.yml"), &renamed).unwrap();
    let (_, json, _) = run(&[
        "workflow",
        "lint",
        "--ci",
        "gitlab",
        "--format",
        "json",
        renamed.to_str().unwrap(),
    ]);
    assert!(json.contains("gitlab-missing-id-tokens"), "{json}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// STS evaluates ref_protected for gitlab.com only: on a self-managed
/// instance a condition on it never sees the token's value, so the role
/// rejects every token, and both linters say why.
#[test]
fn a_self_managed_gitlab_condition_sts_ignores_is_explained() {
    let policy = fixture("trust/issuers/gitlab-self-managed-deploy.json");
    let mut claims = gitlab_claims("branch");
    claims["iss"] = "https://gitlab.example.com".into();
    claims["aud"] = "https://gitlab.example.com".into();
    let (code, stdout, _) = run(&[
        "trust",
        "check",
        "--policy",
        &policy,
        "--token",
        &token(claims),
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("note:      STS does not evaluate ref_protected for gitlab.example.com"),
        "{stdout}"
    );
    let (_, json, _) = run(&["trust", "lint", "--format", "json", &policy]);
    let rows = located(&json);
    assert!(
        found(&rows).contains(&(
            "gitlab-self-managed-deploy.json",
            "claim-not-in-context",
            "medium",
            15
        )),
        "{json}"
    );
}

/// The fenced block after `<!-- test: NAME -->` in a CI page.
fn ci_page_block(ci: &str, name: &str) -> String {
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("docs/ci/{ci}.md"));
    let text = std::fs::read_to_string(&page).unwrap();
    let block = text
        .split(&format!("<!-- test: {name} -->"))
        .nth(1)
        .and_then(|rest| rest.split("```").nth(1))
        .unwrap_or_else(|| panic!("{} has no {name} block", page.display()));
    block.split_once('\n').unwrap().1.to_string()
}

const CI_PAGES: [&str; 4] = ["gitlab", "circleci", "buildkite", "bitbucket"];

/// Every CI page's recommended trust policy is one the linter has nothing
/// to say about: the docs never teach what `trust lint` flags.
#[test]
fn every_ci_page_policy_lints_clean() {
    let dir = tempfile::tempdir().unwrap();
    for ci in CI_PAGES {
        let file = dir.path().join(format!("{ci}.json"));
        std::fs::write(&file, ci_page_block(ci, "trust-policy")).unwrap();
        let (code, stdout, stderr) =
            run(&["trust", "lint", "--fail-on", "low", file.to_str().unwrap()]);
        assert_eq!(code, 0, "{ci}: {stdout}{stderr}");
        assert!(stdout.contains("no findings"), "{ci}: {stdout}");
    }
}

/// Each CI page shows a common mistake and what `trust lint` says about
/// it: the findings shown are the ones the linter prints, word for word.
#[test]
fn every_ci_page_mistake_gets_the_findings_it_shows() {
    for ci in CI_PAGES {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("trust-policy.json"),
            ci_page_block(ci, "lint-mistake"),
        )
        .unwrap();
        let out = Command::new(BIN)
            .args(["trust", "lint", "trust-policy.json"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(1), "{ci}: {stdout}");
        assert_eq!(
            stdout.trim_end(),
            ci_page_block(ci, "lint-findings").trim_end(),
            "{ci}: docs/ci/{ci}.md shows other findings than trust lint prints"
        );
    }
}
