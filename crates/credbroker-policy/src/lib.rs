//! IAM trust policies for web identities, and the linters that keep them
//! (and the GitHub workflows that use them) honest.
//!
//! Everything here is pure: text in, values out. First [`TrustPolicy::parse`]
//! reads the IAM JSON (a `Statement` may be one object or an array; `Action`
//! and principals a string or a list), then [`evaluate`] answers "would STS
//! admit a token with these claims to this role?" with IAM's condition
//! semantics (protocols.md §7, in [`condition`]). The emulator's STS and
//! `credbroker trust check` share this one engine, so what the tests prove
//! about the emulator is what the command tells people.
//!
//! [`jwt`] decodes and verifies the tokens; [`issuer`] knows each CI's
//! issuer (GitHub, GitLab, CircleCI, Buildkite, Bitbucket) as data: its
//! provider names, `sub` grammar, audience and the claims STS evaluates;
//! [`lint`] and [`workflow`] (GitHub) and [`gitlab_ci`] find the known open
//! patterns in each issuer's terms; [`input`] reads policies where they live (IAM JSON,
//! `aws iam get-role` output, Terraform, CloudFormation); [`finding`] prints
//! their reports as text, JSON, SARIF or GitHub workflow commands.
//!
//! A crate of its own (re-exported by credbroker as `credbroker::policy`):
//! it needs nothing of the broker, and the broker's commands and the
//! emulator both build on it.

pub mod claims;
pub mod condition;
pub mod evaluate;
pub mod finding;
pub mod gitlab_ci;
pub mod glob;
pub mod input;
pub mod issuer;
pub mod jwt;
pub mod lint;
mod lint_issuer;
mod lint_shared;
mod lint_writes;
pub mod workflow;
pub mod workflow_checks;
mod yaml;

pub use claims::Claims;
pub use condition::{Condition, Operator, Qualifier};
pub use evaluate::{evaluate, Decision, StatementRef};

use serde_json::Value;

/// The action a web-identity trust policy must allow.
pub const ASSUME_ROLE_WITH_WEB_IDENTITY: &str = "sts:AssumeRoleWithWebIdentity";
/// The action a role-to-role trust policy must allow.
pub const ASSUME_ROLE: &str = "sts:AssumeRole";
/// GitHub Actions' OIDC issuer host: the prefix of its condition keys.
pub const GITHUB_PROVIDER: &str = "token.actions.githubusercontent.com";

/// A role's trust policy (its `AssumeRolePolicyDocument`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustPolicy {
    pub statements: Vec<Statement>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// One statement, with every list-or-string field normalized to a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: Principal,
    pub actions: Vec<String>,
    /// In document order: operator blocks, then keys within each.
    pub conditions: Vec<Condition>,
}

/// Who a statement speaks of. `Any` is the bare `"*"` principal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Principal {
    pub any: bool,
    pub federated: Vec<String>,
    /// `AWS` and `Service` principals: they never match a web identity.
    pub other: Vec<String>,
    /// The `AWS` principals alone (also in `other`): what `sts:AssumeRole` matches.
    pub aws: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid trust policy: {0}")]
pub struct PolicyError(pub String);

impl TrustPolicy {
    /// Parse IAM policy JSON.
    pub fn parse(text: &str) -> Result<TrustPolicy, PolicyError> {
        let doc: Value =
            serde_json::from_str(text).map_err(|e| PolicyError(format!("not JSON: {e}")))?;
        Self::from_value(&doc)
    }

    /// Read an IAM policy document already parsed (from Terraform, CloudFormation, ...).
    pub fn from_value(doc: &Value) -> Result<TrustPolicy, PolicyError> {
        let statements = match doc.get("Statement") {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => return Err(PolicyError("no \"Statement\" object or array".into())),
        };
        let statements = statements
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                parse_statement(s).map_err(|e| PolicyError(format!("Statement[{i}]: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustPolicy { statements })
    }
}

/// A string or a list of strings (numbers and booleans as written), as IAM takes them.
pub(crate) fn string_list(value: &Value) -> Result<Vec<String>, String> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!("expected a string, found {other}")),
    };
    match value {
        Value::Array(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

fn parse_statement(s: &Value) -> Result<Statement, String> {
    let effect = match s.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        other => {
            return Err(format!(
                "Effect must be \"Allow\" or \"Deny\", not {other:?}"
            ))
        }
    };
    let actions = match s.get("Action") {
        Some(v) => string_list(v).map_err(|e| format!("Action: {e}"))?,
        None => return Err("no Action".into()),
    };
    let mut principal = Principal::default();
    match s.get("Principal") {
        Some(Value::String(star)) if star == "*" => principal.any = true,
        Some(Value::Object(map)) => {
            for (kind, v) in map {
                let list = string_list(v).map_err(|e| format!("Principal.{kind}: {e}"))?;
                if kind == "AWS" {
                    principal
                        .aws
                        .extend(list.iter().filter(|p| *p != "*").cloned());
                }
                match kind.as_str() {
                    "Federated" => principal.federated.extend(list),
                    _ if list.iter().any(|p| p == "*") && kind == "AWS" => principal.any = true,
                    _ => principal.other.extend(list),
                }
            }
        }
        Some(other) => return Err(format!("Principal must be \"*\" or an object, not {other}")),
        None => return Err("no Principal".into()),
    }
    let conditions = match s.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(blocks)) => {
            let mut out = Vec::new();
            for (operator, keys) in blocks {
                let op = Operator::parse(operator)?;
                let Value::Object(keys) = keys else {
                    return Err(format!("Condition.{operator} must be an object of keys"));
                };
                for (key, values) in keys {
                    let values = string_list(values)
                        .map_err(|e| format!("Condition.{operator}.{key}: {e}"))?;
                    out.push(Condition {
                        operator: op.clone(),
                        key: key.clone(),
                        values,
                    });
                }
            }
            out
        }
        Some(_) => return Err("Condition must be an object".into()),
    };
    Ok(Statement {
        sid: s.get("Sid").and_then(Value::as_str).map(String::from),
        effect,
        principal,
        actions,
        conditions,
    })
}

impl Statement {
    /// Does this statement speak of `sts:AssumeRoleWithWebIdentity`?
    pub fn covers_web_identity(&self) -> bool {
        self.actions.iter().any(|a| {
            condition::glob_match(
                &a.to_ascii_lowercase(),
                &ASSUME_ROLE_WITH_WEB_IDENTITY.to_ascii_lowercase(),
            )
        })
    }

    /// Does this statement speak of `action` (`sts:AssumeRole`)? Wildcards and case as IAM reads them.
    pub fn covers(&self, action: &str) -> bool {
        let action = action.to_ascii_lowercase();
        self.actions
            .iter()
            .any(|a| condition::glob_match(&a.to_ascii_lowercase(), &action))
    }

    /// Does `Principal.AWS` (or `"*"`) name a caller known by any of `names`
    /// (a session's ARN, its role's ARN, its account's root ARN, the bare account id)?
    pub fn names_aws(&self, names: &[&str]) -> bool {
        self.principal.any
            || self
                .principal
                .aws
                .iter()
                .any(|p| names.contains(&p.as_str()))
    }

    /// Does the principal name this OIDC provider (its host, like
    /// `token.actions.githubusercontent.com`)?
    pub fn names_provider(&self, provider: &str) -> bool {
        self.principal.any
            || self.principal.federated.iter().any(|arn| {
                arn == "*" || federated_provider(arn) == Some(provider) || arn == provider
            })
    }

    /// The conditions on one claim (`sub`, `aud`), any operator.
    pub fn conditions_on<'a>(&'a self, claim: &'a str) -> impl Iterator<Item = &'a Condition> + 'a {
        self.conditions.iter().filter(move |c| c.claim() == claim)
    }
}

/// `arn:aws:iam::123456789012:oidc-provider/HOST[/PATH]` -> `HOST[/PATH]`.
pub fn federated_provider(arn: &str) -> Option<&str> {
    arn.split_once(":oidc-provider/").map(|(_, host)| host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_may_be_an_object_and_fields_strings() {
        let p = TrustPolicy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Sid":"GitHub","Effect":"Allow",
            "Principal":{"Federated":"arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com"},
            "Action":"sts:AssumeRoleWithWebIdentity",
            "Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com",
              "token.actions.githubusercontent.com:sub":["repo:o/r:ref:refs/heads/main","repo:o/r:environment:prod"]},
              "Null":{"token.actions.githubusercontent.com:environment":false}}}}"#,
        )
        .unwrap();
        let s = &p.statements[0];
        assert_eq!(s.sid.as_deref(), Some("GitHub"));
        assert!(s.covers_web_identity());
        assert!(s.names_provider(GITHUB_PROVIDER));
        assert!(!s.names_provider("accounts.google.com"));
        assert_eq!(s.conditions.len(), 3);
        assert_eq!(s.conditions_on("sub").next().unwrap().values.len(), 2);
        assert_eq!(
            s.conditions_on("environment").next().unwrap().values,
            vec!["false"]
        );
    }

    #[test]
    fn principal_and_action_forms() {
        let p = TrustPolicy::parse(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":["sts:*"]},
            {"Effect":"Deny","Principal":{"AWS":["arn:aws:iam::1:root"]},"Action":"sts:AssumeRole"}]}"#,
        )
        .unwrap();
        assert!(p.statements[0].principal.any && p.statements[0].covers_web_identity());
        assert!(!p.statements[1].names_provider(GITHUB_PROVIDER));
        assert!(!p.statements[1].covers_web_identity());
    }

    #[test]
    fn bad_documents_say_where() {
        for (text, want) in [
            ("nope", "not JSON"),
            ("{}", "Statement"),
            (
                r#"{"Statement":[{"Effect":"Maybe"}]}"#,
                "Statement[0]: Effect",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"a","Condition":{"StringSorta":{}}}}"#,
                "StringSorta",
            ),
        ] {
            let e = TrustPolicy::parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }
}
