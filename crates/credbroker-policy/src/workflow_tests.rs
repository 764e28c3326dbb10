use super::*;

fn rules(text: &str) -> Vec<(&'static str, usize)> {
    lint("w.yml", text)
        .unwrap()
        .into_iter()
        .map(|f| (f.rule, f.line))
        .collect()
}

const ASSUME: &str = "      - uses: aws-actions/configure-aws-credentials@v4\n        with:\n          role-to-assume: arn:aws:iam::1:role/x\n";

#[test]
fn job_permissions_replace_workflow_permissions() {
    let text = format!("on: push\npermissions:\n  id-token: write\njobs:\n  a:\n    permissions:\n      contents: read\n    steps:\n{ASSUME}");
    assert_eq!(rules(&text), vec![("missing-id-token-permission", 9)]);
    let text =
        format!("on: push\npermissions:\n  id-token: write\njobs:\n  a:\n    steps:\n{ASSUME}");
    assert_eq!(rules(&text), vec![]);
    let text = format!("on: [push]\njobs:\n  a:\n    steps:\n{ASSUME}");
    assert_eq!(rules(&text), vec![("missing-id-token-permission", 5)]);
}

#[test]
fn triggers_and_static_keys() {
    let text = format!("on:\n  pull_request_target:\n  workflow_run:\n    workflows: [x]\npermissions: write-all\njobs:\n  a:\n    steps:\n{ASSUME}");
    let found = rules(&text);
    assert!(
        found.contains(&("role-on-pull-request-target", 2)),
        "{found:?}"
    );
    assert!(
        found.contains(&("role-on-fork-reachable-trigger", 3)),
        "{found:?}"
    );
    assert!(found.contains(&("write-all-permissions", 5)), "{found:?}");
    let text = "on: push\nenv:\n  AWS_SECRET_ACCESS_KEY: ${{ secrets.KEY }}\njobs:\n  a:\n    steps:\n      - uses: aws-actions/configure-aws-credentials@v4\n        with:\n          aws-access-key-id: ${{ secrets.ID }}\n";
    assert_eq!(
        rules(text),
        vec![("static-aws-keys", 3), ("static-aws-keys", 9)]
    );
}

#[test]
fn literal_keys_anywhere_and_never_printed() {
    let text = "on: push\njobs:\n  a:\n    env:\n      AWS_ACCESS_KEY_ID: AKIAIOSFODNN7EXAMPLE\n    steps:\n      - uses: some/action@v1\n        with:\n          token: ASIAIOSFODNN7EXAMPLE\n          secret-key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";
    let found = lint("w.yml", text).unwrap();
    let got: Vec<_> = found.iter().map(|f| (f.rule, f.severity, f.line)).collect();
    assert_eq!(
        got,
        vec![
            ("literal-aws-keys", Severity::Critical, 5),
            ("literal-aws-keys", Severity::Critical, 10),
            ("literal-aws-keys", Severity::High, 9),
        ]
    );
    for f in &found {
        assert!(
            !f.reason.contains("IOSFODNN7") && !f.reason.contains("bPxRfiCY"),
            "{}",
            f.reason
        );
        assert_eq!(f.resource.as_deref(), Some("job 'a'"));
    }
}

#[test]
fn injection_only_in_role_jobs_and_env_is_the_fix() {
    let text = format!("on: pull_request\npermissions:\n  id-token: write\njobs:\n  a:\n    steps:\n{ASSUME}      - run: |\n          echo ok\n          echo \"${{{{ github.event.pull_request.title }}}}\"\n      - env:\n          TITLE: ${{{{ github.event.pull_request.title }}}}\n        run: echo \"$TITLE\"\n  b:\n    steps:\n      - run: echo ${{{{ github.head_ref }}}}\n");
    let found = rules(&text);
    assert!(
        found.contains(&("template-injection-in-role-job", 12)),
        "{found:?}"
    );
    assert_eq!(
        found
            .iter()
            .filter(|(r, _)| *r == "template-injection-in-role-job")
            .count(),
        1,
        "{found:?}"
    );
}

#[test]
fn aliased_steps_are_seen() {
    let text = "on: push\njobs:\n  a:\n    steps:\n      - &assume\n        uses: aws-actions/configure-aws-credentials@v4\n        with:\n          role-to-assume: arn:aws:iam::1:role/x\n  b:\n    permissions:\n      id-token: write\n    steps:\n      - *assume\n";
    let found = lint("w.yml", text).unwrap();
    let got: Vec<_> = found
        .iter()
        .map(|f| (f.rule, f.resource.clone().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![("missing-id-token-permission", "job 'a'".to_string())]
    );
    let text = "on: push\njobs:\n  b:\n    steps:\n      - *nowhere\n";
    assert!(lint("w.yml", text).is_err() || rules(text).is_empty());
}
