//! Terraform's JSON syntax (`*.tf.json`, what CDK for Terraform and other
//! generators write), read as the HCL it stands for, so one reader
//! ([`super::terraform`]) evaluates both and a module may mix them.
//!
//! The rules are Terraform's for JSON configuration: a top-level key names
//! a block type, and each label of `resource` and `data` is one more level
//! of object (`{"resource": {"aws_iam_role": {"deploy": {...}}}}`); in a
//! body, a key naming a nested block takes an object or a list of objects,
//! one block each, and any other key is an attribute; a JSON string is a
//! string template, and one that is a single interpolation
//! (`"${data.aws_iam_policy_document.x.json}"`) is that expression itself;
//! keys named `//` are comments. Which keys are nested blocks depends on
//! the resource's schema: here, those of `aws_iam_role` and
//! `aws_iam_policy_document` that hold a trust policy.
//!
//! serde_json keeps no positions, so lines are found again in the file's
//! text ([`locate`]): a role or data source starts at the line of its name
//! under its type, and spans to its closing brace.

use super::{find_line, line_at, InputError};
use serde_json::Value;

/// Nested block types of the schemas read here.
const BLOCKS: &[&str] = &[
    "statement",
    "principals",
    "not_principals",
    "condition",
    "inline_policy",
];

/// Is `name` a file of Terraform's JSON syntax?
pub fn is_tf_json(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".tf.json")
}

/// The `resource` and `data` blocks of a `.tf.json` file, as HCL text.
pub fn to_hcl(text: &str) -> Result<String, InputError> {
    let doc: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| InputError::new(format!("invalid JSON: {e}"), e.line()))?;
    let Value::Object(top) = doc else {
        return Err(InputError::new("a .tf.json file holds one JSON object", 1));
    };
    let mut out = String::new();
    for kind in ["resource", "data"] {
        let Some(Value::Object(types)) = top.get(kind) else {
            continue;
        };
        for (ty, names) in types.iter().filter(|(k, _)| *k != "//") {
            let Value::Object(names) = names else {
                continue;
            };
            for (name, bodies) in names.iter().filter(|(k, _)| *k != "//") {
                for body in one_or_many(bodies) {
                    out.push_str(&format!("{kind} {} {} ", quoted(ty), quoted(name)));
                    block_body(body, 0, &mut out);
                }
            }
        }
    }
    Ok(out)
}

/// An object, or each object of a list (Terraform takes either for blocks).
fn one_or_many(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().filter(|v| v.is_object()).collect(),
        Value::Object(_) => vec![value],
        _ => Vec::new(),
    }
}

fn block_body(body: &Value, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth + 1);
    out.push_str("{\n");
    if let Value::Object(map) = body {
        for (key, value) in map.iter().filter(|(k, _)| *k != "//") {
            if BLOCKS.contains(&key.as_str()) && !one_or_many(value).is_empty() {
                for nested in one_or_many(value) {
                    out.push_str(&format!("{pad}{key} "));
                    block_body(nested, depth + 1, out);
                }
            } else if is_identifier(key) {
                out.push_str(&format!("{pad}{key} = {}\n", expression(value)));
            }
        }
    }
    out.push_str(&"  ".repeat(depth));
    out.push_str("}\n");
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A JSON value as the HCL expression it stands for.
fn expression(value: &Value) -> String {
    match value {
        Value::String(s) => template(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(expression).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .filter(|(k, _)| *k != "//")
                .map(|(k, v)| format!("{} = {}", quoted(k), expression(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// A JSON string as an HCL template: the literal parts escaped for a quoted
/// string, each `${...}` or `%{...}` kept as written; a string that is one
/// interpolation and nothing else is that expression.
fn template(s: &str) -> String {
    if let Some(inner) = s.strip_prefix("${") {
        if interpolation_end(inner) == Some(inner.len() - 1) {
            return inner[..inner.len() - 1]
                .trim_matches('~')
                .trim()
                .to_string();
        }
    }
    let mut out = String::from("\"");
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("$${") || rest.starts_with("%%{") {
            out.push_str(&rest[..3]);
            rest = &rest[3..];
            continue;
        }
        if rest.starts_with("${") || rest.starts_with("%{") {
            if let Some(end) = interpolation_end(&rest[2..]) {
                out.push_str(&rest[..end + 3]);
                rest = &rest[end + 3..];
                continue;
            }
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    out.push('"');
    out
}

/// The byte index of the `}` that closes an interpolation whose body is
/// `s`, minding nested braces and quoted strings inside the expression.
fn interpolation_end(s: &str) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, c) in s.char_indices() {
        match (in_string, c) {
            (true, _) if escaped => escaped = false,
            (true, '\\') => escaped = true,
            (true, '"') => in_string = false,
            (true, _) => {}
            (false, '"') => in_string = true,
            (false, '{') => depth += 1,
            (false, '}') if depth == 0 => return Some(i),
            (false, '}') => depth -= 1,
            _ => {}
        }
    }
    None
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// Where block `name` of type `ty` (`aws_iam_role`, `aws_iam_policy_document`)
/// is written in `text`: its first and last lines.
pub fn locate(text: &str, ty: &str, name: &str) -> (usize, usize) {
    let ty_line = find_line(text, 1, &quoted(ty));
    let start = find_line(text, ty_line, &quoted(name));
    let offset: usize = text.lines().take(start - 1).map(|l| l.len() + 1).sum();
    let end = text[offset.min(text.len())..]
        .find('{')
        .and_then(|open| {
            let from = offset + open + 1;
            interpolation_end(&text[from..]).map(|close| line_at(text, from + close))
        })
        .unwrap_or(start);
    (start, end.max(start))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CDKTF: &str = r#"{
  "//": {"metadata": {"backend": "local"}},
  "data": {
    "aws_iam_policy_document": {
      "trust": {
        "statement": [{
          "actions": ["sts:AssumeRoleWithWebIdentity"],
          "principals": [{"type": "Federated", "identifiers": ["arn:aws:iam::${data.aws_caller_identity.me.account_id}:oidc-provider/x"]}],
          "condition": [{"test": "StringLike", "variable": "x:sub", "values": ["repo:acme/*"]}]
        }]
      }
    }
  },
  "resource": {
    "aws_iam_role": {
      "deploy": {"name": "deploy", "assume_role_policy": "${data.aws_iam_policy_document.trust.json}"},
      "quoted": {"assume_role_policy": "{\"Statement\": [], \"Note\": \"a \\\\ b\"}"}
    }
  }
}
"#;

    #[test]
    fn the_json_syntax_reads_as_the_hcl_it_stands_for() {
        let hcl = to_hcl(CDKTF).unwrap();
        assert!(
            hcl.contains("data \"aws_iam_policy_document\" \"trust\" {"),
            "{hcl}"
        );
        assert!(
            hcl.contains("  statement {\n    actions = [\"sts:AssumeRoleWithWebIdentity\"]"),
            "{hcl}"
        );
        assert!(hcl.contains("    principals {\n"), "{hcl}");
        assert!(hcl.contains("      type = \"Federated\"\n"), "{hcl}");
        assert!(
            hcl.contains("${data.aws_caller_identity.me.account_id}:oidc-provider/x"),
            "{hcl}"
        );
        assert!(
            hcl.contains("assume_role_policy = data.aws_iam_policy_document.trust.json\n"),
            "a lone interpolation is its expression: {hcl}"
        );
        assert!(
            hcl.contains(r#"assume_role_policy = "{\"Statement\": [], \"Note\": \"a \\\\ b\"}""#),
            "{hcl}"
        );
        assert!(!hcl.contains("metadata"), "comments are dropped: {hcl}");
        hcl_edit::parser::parse_body(&hcl).unwrap();
    }

    #[test]
    fn templates_keep_interpolations_and_escape_the_rest() {
        assert_eq!(template("a\"b"), r#""a\"b""#);
        assert_eq!(
            template("x-${var.org}-\"${lower(\"A}\")}"),
            r#""x-${var.org}-\"${lower("A}")}""#
        );
        assert_eq!(template("$${literal}"), r#""$${literal}""#);
        assert_eq!(template("${ jsonencode({a = 1}) }"), "jsonencode({a = 1})");
        assert_eq!(
            template("${a}${b}"),
            r#""${a}${b}""#,
            "two interpolations stay a template"
        );
        assert_eq!(template("${unclosed"), r#""${unclosed""#);
    }

    #[test]
    fn blocks_are_found_again_in_the_text() {
        assert_eq!(locate(CDKTF, "aws_iam_policy_document", "trust"), (5, 11));
        assert_eq!(locate(CDKTF, "aws_iam_role", "deploy"), (16, 16));
        assert!(to_hcl("[1]").is_err());
        assert_eq!(to_hcl("{\n\"resource\": ]").unwrap_err().line, 2);
    }
}
