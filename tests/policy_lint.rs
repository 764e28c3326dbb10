//! `credbroker trust lint` and `credbroker workflow lint` on the fixture
//! files: every open pattern of the issue is caught in a bad fixture, the
//! clean fixtures pass, and the exit status follows `--fail-on`.

use std::path::Path;
use std::process::Command;

mod lint_support;
use lint_support::{fixture, BIN};

/// Run the binary; (exit code, stdout as JSON findings or text).
fn run(args: &[&str]) -> (i32, String) {
    let (code, stdout, _) = lint_support::run(args);
    (code, stdout)
}

/// (rule, severity, line) of every finding of a JSON report.
fn findings(stdout: &str) -> Vec<(String, String, u64)> {
    let v: serde_json::Value = serde_json::from_str(stdout).unwrap();
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert!(!f["reason"].as_str().unwrap().is_empty());
            assert!(!f["fix"].as_str().unwrap().is_empty());
            (
                f["rule"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn trust_lint_catches_every_open_pattern() {
    for (file, rule, severity) in [
        ("sub-wildcard.json", "sub-wildcard", "critical"),
        ("deploy-org-wide.json", "org-wide-wildcard", "high"),
        ("aud-missing.json", "aud-missing", "high"),
        ("aud-not-sts.json", "aud-not-sts", "medium"),
        ("sub-missing.json", "sub-missing", "critical"),
        (
            "for-all-values-sub.json",
            "set-operator-on-single-valued-key",
            "critical",
        ),
        (
            "stringlike-without-wildcard.json",
            "stringlike-without-wildcard",
            "low",
        ),
        (
            "deploy-pull-request.json",
            "deploy-admits-pull-request",
            "high",
        ),
        ("principal-not-github.json", "principal-not-github", "high"),
        ("legacy-subject.json", "legacy-subject-format", "info"),
    ] {
        let path = fixture(&format!("trust/bad/{file}"));
        let (code, stdout) = run(&["trust", "lint", "--format", "json", &path]);
        let found = findings(&stdout);
        assert!(
            found.iter().any(|(r, s, _)| r == rule && s == severity),
            "{file}: expected {rule} ({severity}), got {found:?}"
        );
        let worst_is_high = found.iter().any(|(_, s, _)| s == "high" || s == "critical");
        assert_eq!(code, i32::from(worst_is_high), "{file}: {found:?}");
    }
}

#[test]
fn trust_lint_passes_clean_policies() {
    let (code, stdout) = run(&[
        "trust",
        "lint",
        "--fail-on",
        "info",
        &fixture("trust/clean/deploy-production.json"),
        &fixture("trust/clean/readonly-branches.json"),
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(stdout, "no findings\n");
}

#[test]
fn trust_lint_text_names_file_line_severity_and_fix() {
    let path = fixture("trust/bad/sub-wildcard.json");
    let (code, stdout) = run(&["trust", "lint", &path]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains(&format!("{path}:7: critical [sub-wildcard]")),
        "{stdout}"
    );
    assert!(stdout.contains("    fix: "), "{stdout}");
    let (code, _) = run(&[
        "trust",
        "lint",
        "--fail-on",
        "critical",
        &fixture("trust/bad/aud-not-sts.json"),
    ]);
    assert_eq!(code, 0);
    let (code, _) = run(&["trust", "lint", &fixture("workflows/clean/deploy.yml")]);
    assert_eq!(code, 2, "a file that is not a policy is bad input");
}

#[test]
fn workflow_lint_catches_every_pattern_with_its_line() {
    for (file, rule, line) in [
        ("no-id-token.yml", "missing-id-token-permission", 12),
        ("static-keys.yml", "static-aws-keys", 7),
        ("static-keys.yml", "static-aws-keys", 11),
        ("static-keys.yml", "static-aws-keys", 12),
        ("pull-request-target.yml", "role-on-pull-request-target", 3),
        ("fork-reachable.yml", "role-on-fork-reachable-trigger", 3),
    ] {
        let (_, stdout) = run(&[
            "workflow",
            "lint",
            "--format",
            "json",
            &fixture(&format!("workflows/bad/{file}")),
        ]);
        let found = findings(&stdout);
        assert!(
            found.iter().any(|(r, _, l)| r == rule && *l == line),
            "{file}: expected {rule} at line {line}, got {found:?}"
        );
    }
    let (code, _) = run(&["workflow", "lint", &fixture("workflows/bad")]);
    assert_eq!(code, 1);
}

#[test]
fn workflow_lint_passes_clean_workflows() {
    let (code, stdout) = run(&[
        "workflow",
        "lint",
        "--fail-on",
        "info",
        &fixture("workflows/clean"),
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(stdout, "no findings\n");
}

#[test]
fn sarif_reports_are_code_scanning_shaped() {
    let (code, stdout) = run(&[
        "workflow",
        "lint",
        "--format",
        "sarif",
        &fixture("workflows/bad"),
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let sarif_run = &v["runs"][0];
    let rules: Vec<&str> = sarif_run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let results = sarif_run["results"].as_array().unwrap();
    assert!(results.len() >= 6, "{stdout}");
    for r in results {
        assert!(rules.contains(&r["ruleId"].as_str().unwrap()));
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        let location = &r["locations"][0]["physicalLocation"];
        assert!(location["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with(".yml"));
        assert!(location["region"]["startLine"].as_u64().unwrap() >= 1);
    }
    let (_, stdout) = run(&[
        "trust",
        "lint",
        "--format",
        "sarif",
        &fixture("trust/bad/sub-missing.json"),
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["runs"][0]["results"][0]["ruleId"], "sub-missing");
}

/// (file name, rule, severity, line) of a JSON report.
fn located(stdout: &str) -> Vec<(String, String, String, u64)> {
    let v: serde_json::Value = serde_json::from_str(stdout).unwrap();
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let file = f["file"].as_str().unwrap();
            (
                Path::new(file)
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

#[test]
fn workflow_lint_at_a_repository_root_finds_every_aws_case() {
    let root = fixture("../fixtures/lint/workflows/repo");
    // From the root itself, with no argument (the default is `.`), and by path.
    let out = Command::new(BIN)
        .args(["workflow", "lint", "--format", "json"])
        .current_dir(&root)
        .output()
        .unwrap();
    let from_root = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{from_root}");
    let (code, by_path) = run(&["workflow", "lint", "--format", "json", &root]);
    assert_eq!(code, 1);
    let found = located(&by_path);
    assert_eq!(located(&from_root), found);
    let has = |file: &str, rule: &str, severity: &str, line: u64| {
        found.contains(&(file.into(), rule.into(), severity.into(), line))
    };
    // A role step reused through an alias, in a job without id-token: write,
    // reported at the alias.
    assert!(
        has("anchors.yml", "missing-id-token-permission", "high", 23),
        "{found:?}"
    );
    // Literal keys in env: and with:, long-term and temporary.
    assert!(
        has("literal-keys.yml", "literal-aws-keys", "critical", 4),
        "{found:?}"
    );
    assert!(
        has("literal-keys.yml", "literal-aws-keys", "critical", 5),
        "{found:?}"
    );
    assert!(
        has("literal-keys.yml", "literal-aws-keys", "high", 12),
        "{found:?}"
    );
    assert!(
        !by_path.contains("IOSFODNN7") && !by_path.contains("bPxRfiCY"),
        "keys are never printed"
    );
    // Untrusted contexts in run: of the job that assumes a role, not of the
    // other job, and not when passed through env:.
    assert!(
        has(
            "injection.yml",
            "template-injection-in-role-job",
            "high",
            18
        ),
        "{found:?}"
    );
    assert!(
        has(
            "injection.yml",
            "template-injection-in-role-job",
            "high",
            19
        ),
        "{found:?}"
    );
    assert_eq!(
        found
            .iter()
            .filter(|f| f.1 == "template-injection-in-role-job")
            .count(),
        2,
        "{found:?}"
    );
    assert!(by_path.contains("Pass the value through env:"), "{by_path}");
    assert!(
        has("write-all.yml", "write-all-permissions", "medium", 8),
        "{found:?}"
    );
    assert!(found.iter().all(|f| f.0 != "clean.yml"), "{found:?}");
}

#[test]
fn workflow_lint_says_when_a_path_has_no_workflow_and_keeps_going_past_bad_yaml() {
    let out = Command::new(BIN)
        .args([
            "workflow",
            "lint",
            &fixture("../fixtures/lint/workflows/empty"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("no workflow files (*.yml, *.yaml) in"),
        "{stderr}"
    );

    let dir = std::env::temp_dir().join(format!("credbroker-wf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("broken.yml"), "on: push\njobs: [\n").unwrap();
    std::fs::copy(
        fixture("workflows/bad/no-id-token.yml"),
        dir.join("no-id-token.yml"),
    )
    .unwrap();
    let (code, stdout) = run(&[
        "workflow",
        "lint",
        "--format",
        "json",
        &dir.to_string_lossy(),
    ]);
    let found = located(&stdout);
    assert_eq!(code, 1);
    assert!(
        found
            .iter()
            .any(|f| f.0 == "broken.yml" && f.1 == "input-error" && f.3 == 3),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.0 == "no-id-token.yml" && f.1 == "missing-id-token-permission"),
        "{found:?}"
    );
    let (code, _) = run(&[
        "workflow",
        "lint",
        &dir.join("broken.yml").to_string_lossy(),
    ]);
    assert_eq!(code, 2, "nothing could be read");
    std::fs::remove_dir_all(&dir).unwrap();
}
