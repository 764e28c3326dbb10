//! The output of `aws iam get-role` (and `list-roles`): the policy is
//! `Role.AssumeRolePolicyDocument`. The AWS CLI decodes it to an object;
//! the raw IAM API (and some SDKs) return it as a URL-encoded string, so a
//! string is read as JSON, or URL-decoded first when it is not JSON.

use super::{find_line, Extracted, Unresolved};
use serde_json::Value;

pub fn extract(file: &str, text: &str, doc: &Value) -> Vec<Extracted> {
    let roles: Vec<&Value> = match (doc.get("Role"), doc.get("Roles")) {
        (Some(role), _) => vec![role],
        (None, Some(Value::Array(roles))) => roles.iter().collect(),
        _ => Vec::new(),
    };
    roles
        .into_iter()
        .filter_map(|role| {
            let name = role
                .get("RoleName")
                .and_then(Value::as_str)
                .or_else(|| role.get("Arn").and_then(Value::as_str))
                .unwrap_or("(unnamed)");
            let raw = role.get("AssumeRolePolicyDocument")?;
            let start = find_line(
                text,
                find_line(text, 1, &format!("\"{name}\"")),
                "AssumeRolePolicyDocument",
            );
            let mut unresolved = Vec::new();
            let document = match raw {
                Value::String(s) => match decode(s) {
                    Some(v) => Some(v),
                    None => {
                        unresolved.push(Unresolved {
                            expression:
                                "AssumeRolePolicyDocument (neither JSON nor URL-encoded JSON)"
                                    .into(),
                            line: start,
                            path: String::new(),
                            placeholder: String::new(),
                        });
                        None
                    }
                },
                other => Some(other.clone()),
            };
            Some(Extracted {
                file: file.to_string(),
                resource: Some(format!("role {name}")),
                document,
                start,
                excerpt: super::excerpt(text, start, usize::MAX),
                unresolved,
                written: Vec::new(),
            })
        })
        .collect()
}

/// A policy string as IAM returns it: JSON, or URL-encoded JSON.
fn decode(s: &str) -> Option<Value> {
    serde_json::from_str(s).ok().or_else(|| {
        let decoded = percent_encoding::percent_decode_str(s).decode_utf8().ok()?;
        serde_json::from_str(&decoded).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_and_decoded_documents() {
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}"#;
        let encoded: String =
            percent_encoding::utf8_percent_encode(policy, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        for doc in [
            serde_json::json!({"Role":{"RoleName":"R","AssumeRolePolicyDocument": encoded}}),
            serde_json::json!({"Role":{"RoleName":"R","AssumeRolePolicyDocument": policy}}),
            serde_json::json!({"Roles":[{"RoleName":"R","AssumeRolePolicyDocument": serde_json::from_str::<Value>(policy).unwrap()}]}),
        ] {
            let text = serde_json::to_string_pretty(&doc).unwrap();
            let found = extract("r.json", &text, &doc);
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].resource.as_deref(), Some("role R"));
            assert_eq!(
                found[0].document.as_ref().unwrap()["Statement"][0]["Effect"],
                "Allow"
            );
        }
        let doc = serde_json::json!({"Role":{"RoleName":"R","AssumeRolePolicyDocument":"%7Bnope"}});
        let found = extract("r.json", "{}", &doc);
        assert!(found[0].document.is_none() && !found[0].unresolved.is_empty());
    }
}
