//! The request context a trust policy is evaluated on: a token's claims as
//! IAM condition keys.
//!
//! STS names each claim after the provider that issued it:
//! `token.actions.githubusercontent.com:sub`. Keys compare without regard to
//! case, as IAM's do; values keep their case. A claim that is a list (an
//! `aud` array) is a multi-valued key; numbers and booleans become their text.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Claims {
    /// The issuer host, like `token.actions.githubusercontent.com`.
    pub provider: String,
    values: BTreeMap<String, Vec<String>>,
}

/// `https://HOST/PATH` -> `HOST/PATH`: how IAM names an OIDC provider.
pub fn provider_of_issuer(iss: &str) -> &str {
    iss.strip_prefix("https://")
        .unwrap_or(iss)
        .trim_end_matches('/')
}

impl Claims {
    /// From a token's claims (or a claims file: the same JSON object). The
    /// provider comes from `iss`; without one, GitHub's is assumed. Keys that
    /// already name a provider (`host:claim`) are kept as written.
    pub fn from_token(claims: &Map<String, Value>) -> Claims {
        let provider = claims
            .get("iss")
            .and_then(Value::as_str)
            .map(provider_of_issuer)
            .unwrap_or(super::GITHUB_PROVIDER)
            .to_string();
        let mut out = Claims {
            provider: provider.clone(),
            values: BTreeMap::new(),
        };
        for (name, value) in claims {
            let values: Vec<String> = match value {
                Value::String(s) => vec![s.clone()],
                Value::Bool(b) => vec![b.to_string()],
                Value::Number(n) => vec![n.to_string()],
                Value::Array(items) => items
                    .iter()
                    .filter_map(|v| match v {
                        Value::String(s) => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        Value::Bool(b) => Some(b.to_string()),
                        _ => None,
                    })
                    .collect(),
                _ => continue,
            };
            let key = if name.contains(':') {
                name.clone()
            } else {
                format!("{provider}:{name}")
            };
            out.values.insert(key.to_ascii_lowercase(), values);
        }
        out
    }

    /// No claims yet, from `provider`.
    pub fn for_provider(provider: &str) -> Claims {
        Claims {
            provider: provider.to_string(),
            values: BTreeMap::new(),
        }
    }

    /// Set one condition key (tests and tools).
    pub fn with(mut self, key: &str, values: &[&str]) -> Claims {
        self.values.insert(
            key.to_ascii_lowercase(),
            values.iter().map(|v| v.to_string()).collect(),
        );
        self
    }

    /// The values of a condition key; `None` when the token does not carry it.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values
            .get(&key.to_ascii_lowercase())
            .map(Vec::as_slice)
    }

    /// A claim of this provider, by its short name (`sub`).
    pub fn claim(&self, name: &str) -> Option<&str> {
        self.get(&format!("{}:{name}", self.provider))
            .and_then(|v| v.first())
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_become_provider_keys() {
        let json = serde_json::json!({
            "iss": "https://token.actions.githubusercontent.com",
            "sub": "repo:o/r:ref:refs/heads/main",
            "aud": ["sts.amazonaws.com", "other"],
            "exp": 1900000000,
            "nested": {"x": 1},
            "custom.example:key": "v"
        });
        let c = Claims::from_token(json.as_object().unwrap());
        assert_eq!(c.provider, "token.actions.githubusercontent.com");
        assert_eq!(
            c.get("Token.Actions.GitHubUserContent.com:SUB").unwrap(),
            ["repo:o/r:ref:refs/heads/main"]
        );
        assert_eq!(
            c.get("token.actions.githubusercontent.com:aud")
                .unwrap()
                .len(),
            2
        );
        assert_eq!(c.claim("exp"), Some("1900000000"));
        assert!(c
            .get("token.actions.githubusercontent.com:nested")
            .is_none());
        assert_eq!(c.get("custom.example:key").unwrap(), ["v"]);
    }
}
