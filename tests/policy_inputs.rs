//! `credbroker trust lint` and `trust check` on trust policies where they
//! live: the same bad and correct policies (tests/fixtures/lint/policies,
//! written by scripts/gen-lint-fixtures.py, listed in CASES.json) in IAM
//! JSON, `aws iam get-role` output, Terraform in each style (HCL and JSON) and
//! CloudFormation YAML and JSON must draw the same findings, each naming its
//! file, line and role; a directory with broken files still reports the
//! others; reports for CI carry the file and line and cannot be forged.

use std::collections::BTreeSet;
use std::path::Path;

mod lint_support;
use lint_support::run;

/// The path of `path` under tests/fixtures/lint.
fn fixture(path: &str) -> String {
    lint_support::fixture(&format!("lint/{path}"))
}

#[derive(Debug)]
struct Found {
    rule: String,
    severity: String,
    file: String,
    line: usize,
    resource: Option<String>,
}

fn lint_json(path: &str) -> (i32, Vec<Found>) {
    let (code, stdout, stderr) = run(&["trust", "lint", "--format", "json", path]);
    let v: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}"));
    let found = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| Found {
            rule: f["rule"].as_str().unwrap().into(),
            severity: f["severity"].as_str().unwrap().into(),
            file: f["file"].as_str().unwrap().into(),
            line: f["line"].as_u64().unwrap() as usize,
            resource: f["resource"].as_str().map(String::from),
        })
        .collect();
    (code, found)
}

/// The case a finding is about: from its role, or the file of a bare policy.
fn case_of(f: &Found) -> String {
    let name = match &f.resource {
        // "aws_iam_role.x (data...)", "AWS::IAM::Role X", "role x"
        Some(r) => r
            .split(' ')
            .next()
            .filter(|s| s.starts_with("aws_iam_role."))
            .map_or_else(
                || r.rsplit(' ').next().unwrap().to_string(),
                |s| s.trim_start_matches("aws_iam_role.").to_string(),
            ),
        None => Path::new(&f.file)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned(),
    };
    name.replace('_', "").to_ascii_lowercase()
}

/// (case, expected rule and severity or none) from CASES.json.
fn cases() -> Vec<(String, Option<(String, String)>)> {
    let text = std::fs::read_to_string(fixture("policies/CASES.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let expect = c["expect"].as_array().map(|e| {
                (
                    e[0].as_str().unwrap().to_string(),
                    e[1].as_str().unwrap().to_string(),
                )
            });
            (c["name"].as_str().unwrap().to_string(), expect)
        })
        .collect()
}

const FORMS: &[&str] = &[
    "policies/iam",
    "policies/getrole",
    "policies/terraform/jsonencode",
    "policies/terraform/heredoc",
    "policies/terraform/data-source",
    "policies/terraform/json",
    "policies/terraform/plan/plan.json",
    "policies/cloudformation/template.yaml",
    "policies/cloudformation/template.json",
];

#[test]
fn every_form_draws_the_findings_iam_json_draws() {
    let mut reference: Option<BTreeSet<(String, String, String)>> = None;
    for form in FORMS {
        let (code, found) = lint_json(&fixture(form));
        assert_eq!(code, 1, "{form}: {found:?}");
        for (case, expect) in cases() {
            let key = case.replace('_', "");
            let mine: Vec<&Found> = found.iter().filter(|f| case_of(f) == key).collect();
            match expect {
                Some((rule, severity)) => assert!(
                    mine.iter()
                        .any(|f| f.rule == rule && f.severity == severity),
                    "{form}: {case} should draw {rule} ({severity}); got {mine:?}"
                ),
                None => assert!(mine.is_empty(), "{form}: {case} is correct; got {mine:?}"),
            }
        }
        for f in &found {
            assert!(f.line >= 1, "{form}: {f:?}");
            assert!(
                form.ends_with("iam") || f.resource.is_some(),
                "{form}: {f:?} names no role"
            );
            assert_ne!(f.rule, "input-error", "{form}: {f:?}");
            assert_ne!(f.rule, "unresolved-expression", "{form}: {f:?}");
        }
        let set: BTreeSet<_> = found
            .iter()
            .map(|f| (case_of(f), f.rule.clone(), f.severity.clone()))
            .collect();
        match &reference {
            None => reference = Some(set),
            Some(r) => assert_eq!(r, &set, "{form} differs from IAM JSON"),
        }
    }
}

#[test]
fn sub_findings_land_on_the_line_that_wrote_the_pattern() {
    for form in [
        "policies/iam",
        "policies/terraform/jsonencode",
        "policies/terraform/heredoc",
        "policies/terraform/data-source",
        "policies/terraform/json",
        "policies/cloudformation/template.yaml",
        "policies/cloudformation/template.json",
    ] {
        let (_, found) = lint_json(&fixture(form));
        let owner: Vec<&Found> = found
            .iter()
            .filter(|f| f.rule == "sub-owner-or-repo-wildcard")
            .collect();
        assert_eq!(owner.len(), 3, "{form}: {owner:?}");
        for f in found
            .iter()
            .filter(|f| f.rule.starts_with("sub-") && f.rule != "sub-missing")
        {
            let text = std::fs::read_to_string(&f.file).unwrap();
            let line = text.lines().nth(f.line - 1).unwrap();
            assert!(line.contains("repo:"), "{form}: {f:?} points at {line:?}");
        }
    }
}

#[test]
fn owner_prefix_message_shows_a_subject_it_admits() {
    let (code, stdout, _) = run(&[
        "trust",
        "lint",
        &fixture("policies/cloudformation/template.yaml"),
    ]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains(
            "critical [sub-owner-or-repo-wildcard] AWS::IAM::Role OwnerPrefix: sub \"repo:acme*\""
        ) && stdout.contains("such as \"repo:acme-evil/infra:ref:refs/heads/main\""),
        "{stdout}"
    );
}

#[test]
fn a_directory_with_broken_files_still_reports_the_others() {
    let (code, found) = lint_json(&fixture("broken"));
    assert_eq!(code, 1);
    let errors: Vec<(String, usize)> = found
        .iter()
        .filter(|f| f.rule == "input-error")
        .map(|f| {
            (
                Path::new(&f.file)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                f.line,
            )
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            ("broken.json".into(), 4),
            ("broken.yaml".into(), 6),
            ("broken.tf".into(), 3)
        ],
        "{found:?}"
    );
    assert!(found
        .iter()
        .any(|f| f.rule == "sub-owner-or-repo-wildcard" && f.file.ends_with("owner-prefix.json")));
    // The variable in the sub is named, never guessed.
    let unresolved = found
        .iter()
        .find(|f| f.rule == "unresolved-expression")
        .unwrap();
    assert_eq!(
        (unresolved.line, unresolved.resource.as_deref()),
        (15, Some("aws_iam_role.ci"))
    );
    assert_eq!(
        found.len(),
        5,
        "package.json and README.md are not policies: {found:?}"
    );

    let (_, stdout, _) = run(&["trust", "lint", &fixture("broken")]);
    assert!(stdout.contains("`var.github_org`"), "{stdout}");
    assert!(
        stdout.contains(
            "broken.json:4: high [input-error] invalid JSON: key must be a string at line 4"
        ),
        "{stdout}"
    );

    // 2 only when nothing at all could be read.
    let (code, found) = lint_json(&fixture("broken/broken.json"));
    assert_eq!((code, found.len()), (2, 1));
    let (code, _, stderr) = run(&["trust", "lint", &fixture("broken/missing.json")]);
    assert_eq!(code, 2, "{stderr}");
    let (code, found) = lint_json(&fixture("broken/package.json"));
    assert_eq!(code, 2);
    assert!(found[0].rule == "input-error");
}

#[test]
fn sarif_and_github_reports_carry_file_and_line_for_every_form() {
    let (_, json) = lint_json(&fixture("policies"));
    let (code, stdout, _) = run(&["trust", "lint", "--format", "sarif", &fixture("policies")]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), json.len());
    for (r, f) in results.iter().zip(&json) {
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(
            loc["artifactLocation"]["uri"].as_str().unwrap(),
            f.file.trim_start_matches("./")
        );
        assert_eq!(
            loc["region"]["startLine"].as_u64().unwrap() as usize,
            f.line
        );
    }
    let (_, stdout, _) = run(&[
        "trust",
        "lint",
        "--format",
        "github",
        &fixture("policies/terraform/data-source"),
    ]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines.iter().all(|l| l.starts_with("::error file=")
            || l.starts_with("::warning file=")
            || l.starts_with("::notice file=")),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "trust.tf,line=36,title=critical sub-owner-or-repo-wildcard::aws_iam_role.owner_prefix"
        ),
        "{stdout}"
    );
}

#[test]
fn hostile_values_and_file_names_cannot_forge_workflow_commands() {
    let (code, stdout, _) = run(&["trust", "lint", "--format", "github", &fixture("hostile")]);
    assert_eq!(code, 1);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.contains("/hostile%2Cname%25.json,line=9,"),
        "{stdout}"
    );
    assert!(
        stdout.contains("repo:acme*%0A::error file=x,line=1::forged%0D%0A::add-mask::%250A"),
        "{stdout}"
    );
}

#[test]
fn trust_check_reads_every_form_and_names_what_it_cannot_evaluate() {
    let claims =
        std::env::temp_dir().join(format!("credbroker-claims-{}.json", std::process::id()));
    std::fs::write(
        &claims,
        r#"{"iss":"https://token.actions.githubusercontent.com","aud":"sts.amazonaws.com","sub":"repo:acme-evil/infra:ref:refs/heads/main"}"#,
    )
    .unwrap();
    let claims = claims.to_string_lossy().into_owned();
    for (policy, role) in [
        ("policies/iam/owner_prefix.json", None),
        ("policies/getrole/owner_prefix.json", None),
        (
            "policies/terraform/jsonencode/main.tf",
            Some("owner_prefix"),
        ),
        (
            "policies/terraform/data-source",
            Some("aws_iam_role.owner_prefix"),
        ),
        ("policies/terraform/plan/plan.json", Some("owner_prefix")),
        ("policies/cloudformation/template.yaml", Some("OwnerPrefix")),
        ("policies/cloudformation/template.json", Some("OwnerPrefix")),
    ] {
        let mut args = vec!["trust", "check", "--claims", &claims];
        let path = fixture(policy);
        args.extend(["--policy", &path]);
        if let Some(role) = role {
            args.extend(["--role", role]);
        }
        let (code, stdout, stderr) = run(&args);
        assert_eq!(
            code, 0,
            "{policy}: the owner prefix admits acme-evil: {stdout}{stderr}"
        );
        assert!(stdout.starts_with("admitted"), "{stdout}");
        // The correct role of the same file rejects it.
        if let Some(role) = role {
            let good = if role.contains('O') {
                "GoodDeployEnvironment"
            } else {
                "good_deploy_environment"
            };
            let args: Vec<&str> = args
                .iter()
                .map(|a| if *a == role { good } else { a })
                .collect();
            let (code, stdout, stderr) = run(&args);
            assert_eq!(code, 1, "{policy}: {stdout}{stderr}");
        }
    }
    let (code, _, stderr) = run(&[
        "trust",
        "check",
        "--claims",
        &claims,
        "--policy",
        &fixture("policies/cloudformation/template.yaml"),
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("several roles") && stderr.contains("OwnerPrefix"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&[
        "trust",
        "check",
        "--claims",
        &claims,
        "--policy",
        &fixture("broken/module/main.tf"),
        "--role",
        "ci",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("invalid HCL"), "{stderr}");
    let (code, _, stderr) = run(&[
        "trust",
        "check",
        "--claims",
        &claims,
        "--policy",
        &fixture("unresolved/main.tf"),
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`var.github_org` cannot be evaluated statically"),
        "{stderr}"
    );
}
