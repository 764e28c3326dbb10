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

    /// The request context STS builds from these claims: for an issuer
    /// [`super::issuer`] knows, only the claims STS evaluates for it
    /// (protocols.md §15); a condition on any other sees no
    /// value. Keys of other providers and other issuers' claims are kept.
    pub fn in_sts_context(&self) -> Claims {
        let kind = super::issuer::IssuerKind::recognise(&self.provider, self.claim("sub"));
        if kind.is_generic() {
            return self.clone();
        }
        let prefix = format!("{}:", self.provider.to_ascii_lowercase());
        let values = self
            .values
            .iter()
            .filter(|(key, _)| match key.strip_prefix(&prefix) {
                Some(claim) => kind.in_context(&self.provider, claim),
                None => true,
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Claims {
            provider: self.provider.clone(),
            values,
        }
    }

    /// The claims of this provider that STS does not put in its request context.
    pub fn outside_sts_context(&self) -> Vec<String> {
        let kept = self.in_sts_context();
        self.values
            .keys()
            .filter(|k| !kept.values.contains_key(*k))
            .map(|k| k.rsplit(':').next().unwrap_or(k).to_string())
            .collect()
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

    #[test]
    fn sts_sees_only_the_claims_it_evaluates_for_the_issuer() {
        let json = serde_json::json!({
            "iss": "https://gitlab.example.com",
            "sub": "project_path:g/p:ref_type:branch:ref:main",
            "aud": "https://gitlab.example.com",
            "ref_protected": "true",
        });
        let c = Claims::from_token(json.as_object().unwrap());
        let sts = c.in_sts_context();
        assert!(sts.get("gitlab.example.com:sub").is_some());
        assert!(sts.get("gitlab.example.com:ref_protected").is_none());
        assert_eq!(c.outside_sts_context(), ["iss", "ref_protected"]);
        let json = serde_json::json!({"iss": "https://gitlab.com", "sub": "project_path:g/p:ref_type:branch:ref:main", "ref_protected": "true"});
        let c = Claims::from_token(json.as_object().unwrap());
        assert!(c.in_sts_context().get("gitlab.com:ref_protected").is_some());
    }
}
