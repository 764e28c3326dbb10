//! Terraform plans and state, as `terraform show -json` prints them: the
//! rendered `assume_role_policy` of every `aws_iam_role`, every variable
//! already resolved. A policy known only after apply is named as such.

use super::{excerpt, find_line, Extracted, Unresolved};
use serde_json::Value;

/// Is this `terraform show -json` output (a plan or a state)?
pub fn is_show_json(doc: &Value) -> bool {
    doc.get("format_version").is_some()
        && [
            "values",
            "planned_values",
            "prior_state",
            "resource_changes",
        ]
        .iter()
        .any(|k| doc.get(k).is_some())
}

/// The rendered `assume_role_policy` of every `aws_iam_role` in a plan or state.
pub fn extract_show_json(file: &str, text: &str, doc: &Value) -> Vec<Extracted> {
    let mut roles: Vec<(String, Option<&Value>)> = Vec::new();
    collect_roles(doc, &mut roles);
    let mut seen = std::collections::HashSet::new();
    roles
        .into_iter()
        .filter(|(address, _)| seen.insert(address.clone()))
        .map(|(address, policy)| {
            let start = find_line(text, 1, &format!("\"{address}\""));
            let document = policy.and_then(|p| match p {
                Value::String(s) => serde_json::from_str(s).ok(),
                other => Some(other.clone()),
            });
            let unresolved = match document {
                Some(_) => Vec::new(),
                None => vec![Unresolved {
                    expression: format!("{address}.assume_role_policy (known only after apply)"),
                    line: start,
                    path: String::new(),
                    placeholder: String::new(),
                }],
            };
            Extracted {
                file: file.to_string(),
                resource: Some(address),
                document,
                start,
                excerpt: excerpt(text, start, usize::MAX),
                unresolved,
                written: Vec::new(),
            }
        })
        .collect()
}

fn collect_roles<'v>(v: &'v Value, out: &mut Vec<(String, Option<&'v Value>)>) {
    match v {
        Value::Object(map) => {
            let is_role = map.get("type").and_then(Value::as_str) == Some("aws_iam_role")
                && map.get("mode").and_then(Value::as_str) != Some("data");
            if let (true, Some(address), Some(values)) = (
                is_role,
                map.get("address").and_then(Value::as_str),
                map.get("values"),
            ) {
                out.push((address.to_string(), values.get("assume_role_policy")));
                return;
            }
            for child in map.values() {
                collect_roles(child, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_roles(i, out)),
        _ => {}
    }
}
