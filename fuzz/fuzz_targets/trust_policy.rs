//! The trust-policy parser, linter and evaluator. The input is a policy
//! document, optionally followed by a NUL byte and a claims JSON object (what
//! `credbroker trust check --claims` reads). Nothing may panic; a policy that
//! parses must evaluate, and must lint, for both kinds of role.
#![no_main]

use credbroker::policy::lint::{lint, LintOptions};
use credbroker::policy::{evaluate, Claims, TrustPolicy, GITHUB_PROVIDER};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let (policy_text, claims_text) = text.split_once('\0').unwrap_or((text, ""));
    let _ = lint("role.json", policy_text, LintOptions { writes: false });
    let _ = lint(
        "deploy-role.json",
        policy_text,
        LintOptions { writes: true },
    );
    let Ok(policy) = TrustPolicy::parse(policy_text) else {
        return;
    };
    let claims = match serde_json::from_str::<serde_json::Value>(claims_text) {
        Ok(serde_json::Value::Object(map)) => Claims::from_token(&map),
        _ => Claims::for_provider(GITHUB_PROVIDER)
            .with(
                "token.actions.githubusercontent.com:sub",
                &["repo:acme/app:ref:refs/heads/main"],
            )
            .with(
                "token.actions.githubusercontent.com:aud",
                &["sts.amazonaws.com"],
            ),
    };
    let decision = evaluate(&policy, &claims.provider, &claims);
    assert!(!decision.reason.is_empty());
    for statement in &policy.statements {
        let _ = statement.covers_web_identity();
    }
});
