//! IAM condition operators and how one condition is decided (protocols.md §7).
//!
//! An operator is a base (`StringEquals`, `StringLike`, `Null`, ...), maybe
//! an `IfExists` suffix, maybe a `ForAnyValue:`/`ForAllValues:` qualifier.
//! One [`Condition`] is one key under one operator with its values:
//!
//! - the values are alternatives: OR for positive operators, NOR for negated
//!   ones (`StringNotEquals` holds when the claim equals none of them);
//! - a key the token does not carry makes a positive operator false and a
//!   negated one true; `IfExists` makes any operator true; `Null: true`
//!   asks exactly that the key be absent;
//! - `ForAllValues:` holds when every value of the key satisfies the base
//!   operator, and so also when the key is absent: on `sub` or `aud`
//!   that opens the role to tokens without them. `ForAnyValue:` holds when
//!   at least one value does, and is false on an absent key.
//!
//! The statement-level rule (AND across conditions) lives in
//! [`super::evaluate`].

use super::claims::Claims;
pub use super::glob::{glob_match, has_wildcard};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    /// `ArnEquals` and `ArnLike`, the same in IAM: `*` and `?` match within
    /// each colon-separated part of an ARN (`aws:PrincipalArn`).
    ArnLike,
    /// `ArnNotEquals` and `ArnNotLike`.
    ArnNotLike,
    Null,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Qualifier {
    ForAnyValue,
    ForAllValues,
}

/// A condition operator as written, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operator {
    pub base: Base,
    pub if_exists: bool,
    pub qualifier: Option<Qualifier>,
    /// The operator as written, for messages.
    pub name: String,
}

/// One key under one operator, with its alternatives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub operator: Operator,
    pub key: String,
    pub values: Vec<String>,
}

impl Operator {
    pub fn parse(name: &str) -> Result<Operator, String> {
        let (qualifier, rest) = match name.split_once(':') {
            Some(("ForAnyValue", rest)) => (Some(Qualifier::ForAnyValue), rest),
            Some(("ForAllValues", rest)) => (Some(Qualifier::ForAllValues), rest),
            Some((q, _)) => return Err(format!("unknown condition qualifier '{q}'")),
            None => (None, name),
        };
        let (rest, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        let base = match rest {
            "StringEquals" => Base::StringEquals,
            "StringNotEquals" => Base::StringNotEquals,
            "StringEqualsIgnoreCase" => Base::StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => Base::StringNotEqualsIgnoreCase,
            "StringLike" => Base::StringLike,
            "StringNotLike" => Base::StringNotLike,
            "ArnEquals" | "ArnLike" => Base::ArnLike,
            "ArnNotEquals" | "ArnNotLike" => Base::ArnNotLike,
            "Null" if !if_exists && qualifier.is_none() => Base::Null,
            _ => return Err(format!("unsupported condition operator '{name}'")),
        };
        Ok(Operator {
            base,
            if_exists,
            qualifier,
            name: name.to_string(),
        })
    }

    /// `StringNotEquals`, `StringNotLike` and their IgnoreCase form.
    pub fn negated(&self) -> bool {
        matches!(
            self.base,
            Base::StringNotEquals
                | Base::StringNotEqualsIgnoreCase
                | Base::StringNotLike
                | Base::ArnNotLike
        )
    }

    /// Does one claim value satisfy the base operator against the policy's
    /// values (OR over them; NOR for negated operators)?
    fn admits_value(&self, value: &str, policy: &[String]) -> bool {
        let matches = |p: &String| match self.base {
            Base::StringEquals | Base::StringNotEquals => p == value,
            Base::StringEqualsIgnoreCase | Base::StringNotEqualsIgnoreCase => {
                p.to_lowercase() == value.to_lowercase()
            }
            Base::StringLike | Base::StringNotLike => glob_match(p, value),
            Base::ArnLike | Base::ArnNotLike => {
                let (ps, vs) = (p.splitn(6, ':'), value.splitn(6, ':'));
                ps.clone().count() == vs.clone().count()
                    && ps.zip(vs).all(|(p, v)| glob_match(p, v))
            }
            Base::Null => false,
        };
        let any = policy.iter().any(matches);
        if self.negated() {
            !any
        } else {
            any
        }
    }
}

/// Why a condition held or failed: the key's values as the token had them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub holds: bool,
    pub reason: String,
}

impl Condition {
    /// The claim name after the provider prefix: `...:sub` -> `sub`.
    pub fn claim(&self) -> &str {
        self.key.rsplit(':').next().unwrap_or(&self.key)
    }

    /// `StringEquals token.actions.githubusercontent.com:sub ["a","b"]`.
    pub fn describe(&self) -> String {
        format!(
            "{} {} {}",
            self.operator.name,
            self.key,
            serde_json::to_string(&self.values).unwrap_or_default()
        )
    }

    /// Decide this condition on the claims.
    pub fn evaluate(&self, claims: &Claims) -> Outcome {
        let op = &self.operator;
        let present = claims.get(&self.key).filter(|v| !v.is_empty());
        let outcome = |holds: bool, reason: String| Outcome { holds, reason };
        if op.base == Base::Null {
            let want_absent = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            let want_present = self.values.iter().any(|v| v.eq_ignore_ascii_case("false"));
            let holds = match present {
                None => want_absent,
                Some(_) => want_present,
            };
            let state = if present.is_some() {
                "present"
            } else {
                "absent"
            };
            return outcome(holds, format!("{} is {state}", self.key));
        }
        let Some(values) = present else {
            let holds = match op.qualifier {
                Some(Qualifier::ForAllValues) => true,
                Some(Qualifier::ForAnyValue) => op.if_exists,
                None => op.if_exists || op.negated(),
            };
            return outcome(holds, format!("the token has no {}", self.key));
        };
        let holds = match op.qualifier {
            Some(Qualifier::ForAllValues) => {
                values.iter().all(|v| op.admits_value(v, &self.values))
            }
            Some(Qualifier::ForAnyValue) => values.iter().any(|v| op.admits_value(v, &self.values)),
            // A single-valued operator on several values: positive when one
            // value matches, negated when none does.
            None if op.negated() => values.iter().all(|v| op.admits_value(v, &self.values)),
            None => values.iter().any(|v| op.admits_value(v, &self.values)),
        };
        let shown = if values.len() == 1 {
            format!("\"{}\"", values[0])
        } else {
            serde_json::to_string(values).unwrap_or_default()
        };
        outcome(holds, format!("{} is {shown}", self.key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob() {
        assert!(glob_match("repo:o/*", "repo:o/r:ref:refs/heads/main"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(!glob_match("Repo:*", "repo:x"));
        assert!(glob_match(
            "repo:o/r:*:main",
            "repo:o/r:ref:refs/heads:main"
        ));
        assert!(!glob_match("repo:o/r", "repo:o/r:pull_request"));
    }

    #[test]
    fn operator_names() {
        let op = Operator::parse("ForAllValues:StringLikeIfExists").unwrap();
        assert_eq!(op.base, Base::StringLike);
        assert!(op.if_exists);
        assert_eq!(op.qualifier, Some(Qualifier::ForAllValues));
        assert!(Operator::parse("StringNotEqualsIgnoreCase")
            .unwrap()
            .negated());
        assert!(Operator::parse("NullIfExists").is_err());
        assert!(Operator::parse("Sometimes:StringEquals").is_err());
        assert!(Operator::parse("NumericEquals").is_err());
    }
}
