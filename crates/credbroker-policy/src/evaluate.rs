//! "Would STS admit this token to this role?", decided the way IAM decides.
//!
//! A statement applies when it covers `sts:AssumeRoleWithWebIdentity` and
//! its principal names the token's provider. Its conditions are ANDed (every
//! operator, every key). Then: an applicable Deny whose conditions all hold
//! rejects, whatever else allows; otherwise an applicable Allow whose
//! conditions all hold admits; otherwise the request is implicitly denied.
//! The [`Decision`] names the statement and the condition that decided, so a
//! person can fix the right line.
//!
//! [`evaluate_assume_role`] decides `sts:AssumeRole` the same way, on the
//! statements whose `Principal.AWS` names the calling role session.

use super::claims::Claims;
use super::{Effect, Statement, TrustPolicy};

/// Which statement decided: its position and its `Sid`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StatementRef {
    pub index: usize,
    pub sid: Option<String>,
}

impl std::fmt::Display for StatementRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.sid {
            Some(sid) => write!(f, "Statement[{}] (Sid \"{sid}\")", self.index),
            None => write!(f, "Statement[{}]", self.index),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Decision {
    pub admitted: bool,
    /// The statement that decided; `None` for an implicit deny with no
    /// applicable statement.
    pub statement: Option<StatementRef>,
    /// The deciding condition, as written (`StringEquals KEY [VALUES]`).
    pub condition: Option<String>,
    /// One sentence, for people.
    pub reason: String,
}

/// Evaluate `policy` for a token from `provider` (the issuer host) with `claims`.
pub fn evaluate(policy: &TrustPolicy, provider: &str, claims: &Claims) -> Decision {
    let applies = |s: &Statement| s.covers_web_identity() && s.names_provider(provider);
    let action = super::ASSUME_ROLE_WITH_WEB_IDENTITY;
    let nobody = format!("no statement allows {action} for the provider {provider}");
    decide(
        policy,
        claims,
        applies,
        &format!("token from {provider}"),
        nobody,
    )
}

/// Evaluate `policy` for `sts:AssumeRole` by a caller that `Principal.AWS`
/// knows by any of `names` (see [`Statement::names_aws`]; the first is shown),
/// on the request `context` (`aws:PrincipalArn`, `sts:ExternalId`, ...).
pub fn evaluate_assume_role(policy: &TrustPolicy, names: &[&str], context: &Claims) -> Decision {
    let applies = |s: &Statement| s.covers(super::ASSUME_ROLE) && s.names_aws(names);
    let who = names.first().copied().unwrap_or_default();
    let nobody = format!("no statement allows {} for {who}", super::ASSUME_ROLE);
    decide(
        policy,
        context,
        applies,
        &format!("call from {who}"),
        nobody,
    )
}

/// The IAM decision over the statements that `applies` selects; `who` and
/// `nobody` word the reasons.
fn decide(
    policy: &TrustPolicy,
    claims: &Claims,
    applies: impl Fn(&Statement) -> bool,
    who: &str,
    nobody: String,
) -> Decision {
    // (statement index, first failing condition or None when all hold)
    let mut allows = Vec::new();
    for (index, statement) in policy.statements.iter().enumerate() {
        if !applies(statement) {
            continue;
        }
        let failing = statement
            .conditions
            .iter()
            .map(|c| (c, c.evaluate(claims)))
            .find(|(_, outcome)| !outcome.holds);
        let at = StatementRef {
            index,
            sid: statement.sid.clone(),
        };
        match (statement.effect, failing) {
            (Effect::Deny, None) => {
                let condition = statement.conditions.first().map(|c| c.describe());
                return Decision {
                    admitted: false,
                    reason: match &condition {
                        Some(c) => format!("{at} denies it: {c} holds"),
                        None => format!("{at} denies every {who}"),
                    },
                    statement: Some(at),
                    condition,
                };
            }
            (Effect::Deny, Some(_)) => {}
            (Effect::Allow, failing) => allows.push((at, statement, failing)),
        }
    }
    if let Some((at, statement, _)) = allows.iter().find(|(_, _, failing)| failing.is_none()) {
        let condition = statement.conditions.first().map(|c| c.describe());
        let all: Vec<String> = statement.conditions.iter().map(|c| c.describe()).collect();
        return Decision {
            admitted: true,
            reason: if all.is_empty() {
                format!("{at} allows every {who} (no conditions)")
            } else {
                format!("{at} allows it: {} all hold", all.join(" AND "))
            },
            statement: Some(at.clone()),
            condition,
        };
    }
    match allows.into_iter().next() {
        Some((at, _, Some((condition, outcome)))) => Decision {
            admitted: false,
            reason: format!(
                "{at} does not allow it: {} fails because {}",
                condition.describe(),
                outcome.reason
            ),
            statement: Some(at),
            condition: Some(condition.describe()),
        },
        _ => Decision {
            admitted: false,
            statement: None,
            condition: None,
            reason: nobody,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::GITHUB_PROVIDER as GH;
    use super::*;

    const SUB: &str = "token.actions.githubusercontent.com:sub";
    const AUD: &str = "token.actions.githubusercontent.com:aud";
    const ENV: &str = "token.actions.githubusercontent.com:environment";

    fn policy(condition: &str) -> TrustPolicy {
        TrustPolicy::parse(&format!(
            r#"{{"Statement":{{"Effect":"Allow","Action":"sts:AssumeRoleWithWebIdentity",
            "Principal":{{"Federated":"arn:aws:iam::111111111111:oidc-provider/{GH}"}},
            "Condition":{condition}}}}}"#
        ))
        .unwrap()
    }

    fn token(sub: Option<&str>, aud: &[&str], env: Option<&str>) -> Claims {
        let mut c = Claims::for_provider(GH);
        if let Some(sub) = sub {
            c = c.with(SUB, &[sub]);
        }
        if !aud.is_empty() {
            c = c.with(AUD, aud);
        }
        if let Some(env) = env {
            c = c.with(ENV, &[env]);
        }
        c
    }

    /// (rule, Condition JSON, sub, aud, environment, admitted).
    type Case<'a> = (
        &'a str,
        String,
        Option<&'a str>,
        &'a [&'a str],
        Option<&'a str>,
        bool,
    );

    /// Every rule of protocols.md §7, one row each:
    /// (rule, Condition JSON, sub, aud, environment, admitted).
    #[test]
    fn condition_semantics_table() {
        let main = "repo:o/r:ref:refs/heads/main";
        let pr = "repo:o/r:pull_request";
        let sts = &["sts.amazonaws.com"][..];
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("StringEquals exact", format!(r#"{{"StringEquals":{{"{SUB}":"{main}"}}}}"#), Some(main), sts, None, true),
            ("StringEquals is case-sensitive", format!(r#"{{"StringEquals":{{"{SUB}":"repo:O/R:ref:refs/heads/main"}}}}"#), Some(main), sts, None, false),
            ("StringEqualsIgnoreCase", format!(r#"{{"StringEqualsIgnoreCase":{{"{SUB}":"REPO:O/R:REF:REFS/HEADS/MAIN"}}}}"#), Some(main), sts, None, true),
            ("StringNotEquals matching value", format!(r#"{{"StringNotEquals":{{"{SUB}":"{pr}"}}}}"#), Some(pr), sts, None, false),
            ("StringNotEquals other value", format!(r#"{{"StringNotEquals":{{"{SUB}":"{pr}"}}}}"#), Some(main), sts, None, true),
            ("StringNotEqualsIgnoreCase", format!(r#"{{"StringNotEqualsIgnoreCase":{{"{SUB}":"REPO:O/R:PULL_REQUEST"}}}}"#), Some(pr), sts, None, false),
            ("StringLike star", format!(r#"{{"StringLike":{{"{SUB}":"repo:o/r:*"}}}}"#), Some(main), sts, None, true),
            ("StringLike question mark is one char", format!(r#"{{"StringLike":{{"{SUB}":"repo:o/?:*"}}}}"#), Some(main), sts, None, true),
            ("StringLike is case-sensitive", format!(r#"{{"StringLike":{{"{SUB}":"repo:O/*"}}}}"#), Some(main), sts, None, false),
            ("StringNotLike", format!(r#"{{"StringNotLike":{{"{SUB}":"*:pull_request"}}}}"#), Some(pr), sts, None, false),
            ("values are OR", format!(r#"{{"StringEquals":{{"{SUB}":["{pr}","{main}"]}}}}"#), Some(main), sts, None, true),
            ("negated values are NOR", format!(r#"{{"StringNotEquals":{{"{SUB}":["x","{main}"]}}}}"#), Some(main), sts, None, false),
            ("negated values are NOR, none match", format!(r#"{{"StringNotEquals":{{"{SUB}":["x","y"]}}}}"#), Some(main), sts, None, true),
            ("keys are AND: one fails", format!(r#"{{"StringEquals":{{"{SUB}":"{main}","{AUD}":"sts.amazonaws.com"}}}}"#), Some(main), &["other"], None, false),
            ("keys are AND: both hold", format!(r#"{{"StringEquals":{{"{SUB}":"{main}","{AUD}":"sts.amazonaws.com"}}}}"#), Some(main), sts, None, true),
            ("operators are AND", format!(r#"{{"StringEquals":{{"{AUD}":"sts.amazonaws.com"}},"StringLike":{{"{SUB}":"repo:o/r:environment:*"}}}}"#), Some(main), sts, None, false),
            ("absent key: positive is false", format!(r#"{{"StringEquals":{{"{ENV}":"prod"}}}}"#), Some(main), sts, None, false),
            ("absent key: negated is true", format!(r#"{{"StringNotEquals":{{"{ENV}":"prod"}}}}"#), Some(main), sts, None, true),
            ("IfExists: absent is true", format!(r#"{{"StringEqualsIfExists":{{"{ENV}":"prod"}}}}"#), Some(main), sts, None, true),
            ("IfExists: present still checked", format!(r#"{{"StringEqualsIfExists":{{"{ENV}":"prod"}}}}"#), Some(main), sts, Some("dev"), false),
            ("Null true: absent", format!(r#"{{"Null":{{"{ENV}":"true"}}}}"#), Some(main), sts, None, true),
            ("Null true: present", format!(r#"{{"Null":{{"{ENV}":"true"}}}}"#), Some(main), sts, Some("prod"), false),
            ("Null false (boolean): present", format!(r#"{{"Null":{{"{ENV}":false}}}}"#), Some(main), sts, Some("prod"), true),
            ("Null false: absent", format!(r#"{{"Null":{{"{ENV}":"false"}}}}"#), Some(main), sts, None, false),
            ("ForAllValues on an absent key is true", format!(r#"{{"ForAllValues:StringEquals":{{"{SUB}":"{main}"}}}}"#), None, sts, None, true),
            ("ForAllValues: every value must match", format!(r#"{{"ForAllValues:StringEquals":{{"{AUD}":"sts.amazonaws.com"}}}}"#), Some(main), &["sts.amazonaws.com", "x"], None, false),
            ("ForAllValues: all match", format!(r#"{{"ForAllValues:StringLike":{{"{AUD}":"*.amazonaws.com"}}}}"#), Some(main), &["sts.amazonaws.com", "a.amazonaws.com"], None, true),
            ("ForAnyValue: one value is enough", format!(r#"{{"ForAnyValue:StringEquals":{{"{AUD}":"sts.amazonaws.com"}}}}"#), Some(main), &["x", "sts.amazonaws.com"], None, true),
            ("ForAnyValue on an absent key is false", format!(r#"{{"ForAnyValue:StringEquals":{{"{ENV}":"prod"}}}}"#), Some(main), sts, None, false),
            ("ForAnyValue IfExists on an absent key is true", format!(r#"{{"ForAnyValue:StringEqualsIfExists":{{"{ENV}":"prod"}}}}"#), Some(main), sts, None, true),
            ("ForAnyValue negated: one value outside", format!(r#"{{"ForAnyValue:StringNotEquals":{{"{AUD}":"sts.amazonaws.com"}}}}"#), Some(main), &["sts.amazonaws.com", "x"], None, true),
            ("keys compare without case", format!(r#"{{"StringEquals":{{"Token.Actions.GithubUserContent.com:SUB":"{main}"}}}}"#), Some(main), sts, None, true),
            ("no conditions at all", "{}".to_string(), None, &[], None, true),
        ];
        for (rule, condition, sub, aud, env, want) in cases {
            let decision = evaluate(&policy(condition), GH, &token(*sub, aud, *env));
            assert_eq!(decision.admitted, *want, "{rule}: {}", decision.reason);
        }
    }

    #[test]
    fn deny_wins_and_decisions_name_the_statement_and_condition() {
        let p = TrustPolicy::parse(&format!(
            r#"{{"Statement":[
            {{"Sid":"AllowRepo","Effect":"Allow","Action":"sts:AssumeRoleWithWebIdentity",
              "Principal":{{"Federated":"arn:aws:iam::1:oidc-provider/{GH}"}},
              "Condition":{{"StringEquals":{{"{AUD}":"sts.amazonaws.com"}},"StringLike":{{"{SUB}":"repo:o/r:*"}}}}}},
            {{"Sid":"NoPullRequests","Effect":"Deny","Action":"sts:AssumeRoleWithWebIdentity",
              "Principal":{{"Federated":"arn:aws:iam::1:oidc-provider/{GH}"}},
              "Condition":{{"StringLike":{{"{SUB}":"*:pull_request"}}}}}}]}}"#
        ))
        .unwrap();
        let aud = &["sts.amazonaws.com"];
        let ok = evaluate(
            &p,
            GH,
            &token(Some("repo:o/r:ref:refs/heads/main"), aud, None),
        );
        assert!(ok.admitted, "{}", ok.reason);
        assert_eq!(ok.statement.unwrap().sid.as_deref(), Some("AllowRepo"));

        let denied = evaluate(&p, GH, &token(Some("repo:o/r:pull_request"), aud, None));
        assert!(!denied.admitted);
        assert_eq!(denied.statement.as_ref().unwrap().index, 1);
        assert!(denied.condition.unwrap().contains("*:pull_request"));

        let other = evaluate(
            &p,
            GH,
            &token(Some("repo:o/other:ref:refs/heads/main"), aud, None),
        );
        assert!(!other.admitted);
        assert_eq!(other.statement.as_ref().unwrap().index, 0);
        assert!(
            other
                .condition
                .as_deref()
                .unwrap()
                .starts_with("StringLike"),
            "{other:?}"
        );
        assert!(other.reason.contains("repo:o/other"), "{}", other.reason);

        let wrong_aud = evaluate(
            &p,
            GH,
            &token(Some("repo:o/r:ref:refs/heads/main"), &["x"], None),
        );
        assert!(wrong_aud.condition.unwrap().starts_with("StringEquals"));

        let elsewhere = evaluate(
            &p,
            "accounts.google.com",
            &token(Some("repo:o/r:x"), aud, None),
        );
        assert!(
            !elsewhere.admitted && elsewhere.statement.is_none(),
            "{}",
            elsewhere.reason
        );
    }
}
