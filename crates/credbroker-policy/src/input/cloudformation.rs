//! CloudFormation templates (YAML or JSON): the `AssumeRolePolicyDocument`
//! of every `AWS::IAM::Role`.
//!
//! The intrinsic functions that usually appear in trust policies are
//! evaluated: `Ref` and `Fn::Sub` of parameters that have a `Default`,
//! `Fn::Sub` with its own variables and `${!Literal}` escapes, and
//! `Fn::Join`; both the short YAML tags (`!Sub`) and the long `Fn::` form.
//! Everything else (pseudo parameters such as `AWS::AccountId`, parameters
//! without a default, `Fn::GetAtt`, `Fn::ImportValue`, `Fn::If`, ...) is
//! named in [`Extracted::unresolved`] and stays in the document as
//! `${...}`, never guessed.

use super::super::yaml::{self, Node};
use super::{excerpt, find_line, in_arn_account, Extracted, InputError, Parsed, Unresolved};
use serde_json::{Map, Value};

const ROLE: &str = "AWS::IAM::Role";

/// A YAML template (`!Tag` short forms become their `Fn::` maps).
pub fn extract_yaml(file: &str, text: &str) -> Result<Parsed, InputError> {
    let root = yaml::parse_tagged(text, |tag| {
        Some(match tag {
            "Ref" | "Condition" => tag.to_string(),
            _ => format!("Fn::{tag}"),
        })
    })
    .map_err(|e| InputError::new(format!("invalid YAML: {}", e.message), e.line))?;
    let Some(resources) = root.get("Resources").filter(|r| matches!(r, Node::Map(..))) else {
        return Ok(Parsed::Other(
            "YAML that is not a CloudFormation template (no Resources)".into(),
        ));
    };
    let entries = resources.entries();
    let total = text.lines().count().max(1);
    let lines: Vec<(String, usize, usize)> = entries
        .iter()
        .enumerate()
        .map(|(i, (name, line, _))| {
            let end = entries
                .get(i + 1)
                .map_or(total, |(_, next, _)| next.saturating_sub(1));
            (name.clone(), *line, end.max(*line))
        })
        .collect();
    Ok(extract(file, text, &to_json(&root), &lines))
}

/// A JSON template (the caller has parsed it).
pub fn extract_json(file: &str, text: &str, doc: &Value) -> Parsed {
    let names: Vec<&String> = doc["Resources"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    let first = find_line(text, 1, "\"Resources\"");
    let mut starts: Vec<(String, usize)> = names
        .iter()
        .map(|n| (n.to_string(), find_line(text, first, &format!("\"{n}\""))))
        .collect();
    starts.sort_by_key(|(_, l)| *l);
    let total = text.lines().count().max(1);
    let lines: Vec<(String, usize, usize)> = starts
        .iter()
        .enumerate()
        .map(|(i, (n, l))| {
            let end = starts
                .get(i + 1)
                .map_or(total, |(_, next)| next.saturating_sub(1));
            (n.clone(), *l, end.max(*l))
        })
        .collect();
    extract(file, text, doc, &lines)
}

fn to_json(node: &Node) -> Value {
    match node {
        Node::Scalar(s, _) => Value::String(s.clone()),
        Node::List(items, _) => Value::Array(items.iter().map(to_json).collect()),
        Node::Map(entries, _) => Value::Object(
            entries
                .iter()
                .map(|(k, _, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
    }
}

/// `lines`: each resource's name, first and last line.
fn extract(file: &str, text: &str, doc: &Value, lines: &[(String, usize, usize)]) -> Parsed {
    let Some(resources) = doc["Resources"].as_object() else {
        return Parsed::Other("a template without Resources".into());
    };
    let defaults: Map<String, Value> = doc["Parameters"]
        .as_object()
        .map(|params| {
            params
                .iter()
                .filter_map(|(name, p)| Some((name.clone(), p.get("Default")?.clone())))
                .collect()
        })
        .unwrap_or_default();
    let mut found = Vec::new();
    for (name, resource) in resources {
        if resource["Type"].as_str() != Some(ROLE) {
            continue;
        }
        let Some(policy) = resource["Properties"].get("AssumeRolePolicyDocument") else {
            continue;
        };
        let (_, first, last) = lines
            .iter()
            .find(|(n, _, _)| n == name)
            .cloned()
            .unwrap_or((name.clone(), 1, usize::MAX));
        let start = find_line(text, first, "AssumeRolePolicyDocument").min(last);
        let region = excerpt(text, start, last);
        let mut ev = Eval {
            defaults: &defaults,
            unresolved: Vec::new(),
            written: Vec::new(),
            region: &region,
            start,
        };
        let document = match ev.resolve(policy, "") {
            Value::String(s) => serde_json::from_str(&s).ok(),
            other => Some(other),
        };
        found.push(Extracted {
            file: file.to_string(),
            resource: Some(format!("{ROLE} {name}")),
            document,
            start,
            excerpt: region.clone(),
            unresolved: ev.unresolved,
            written: ev.written,
        });
    }
    if found.is_empty() {
        return Parsed::Other(format!(
            "a CloudFormation template with no {ROLE} AssumeRolePolicyDocument"
        ));
    }
    Parsed::Policies(found)
}

struct Eval<'a> {
    defaults: &'a Map<String, Value>,
    unresolved: Vec<Unresolved>,
    /// Fn::Sub results and their templates, to find their lines.
    written: Vec<(String, String)>,
    /// The resource's text and its first line, to place unresolved expressions.
    region: &'a str,
    start: usize,
}

impl Eval<'_> {
    fn unresolved(&mut self, expression: String, needle: &str, path: &str, before: &str) -> String {
        if path.contains("Condition") || !in_arn_account(before) {
            let line = self
                .region
                .lines()
                .position(|l| l.contains(needle))
                .map_or(self.start, |i| self.start + i);
            self.unresolved.push(Unresolved {
                expression,
                line,
                path: path.to_string(),
                placeholder: format!("${{{needle}}}"),
            });
        }
        format!("${{{needle}}}")
    }

    fn resolve(&mut self, v: &Value, path: &str) -> Value {
        match v {
            Value::Object(map) if map.len() == 1 => {
                let (key, arg) = map.iter().next().expect("one entry");
                if key == "Ref" || key.starts_with("Fn::") {
                    let value = self.function(key, arg, path, "");
                    let template = match arg {
                        Value::String(t) => Some(t.as_str()),
                        Value::Array(parts) => parts.first().and_then(Value::as_str),
                        _ => None,
                    };
                    if let (Some(t), "Fn::Sub") = (template, key.as_str()) {
                        self.written.push((value.clone(), t.to_string()));
                    }
                    return Value::String(value);
                }
                let inner = format!("{path}.{key}");
                Value::Object(
                    [(key.clone(), self.resolve(arg, &inner))]
                        .into_iter()
                        .collect(),
                )
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.resolve(v, &format!("{path}.{k}"))))
                    .collect(),
            ),
            Value::Array(items) => {
                Value::Array(items.iter().map(|i| self.resolve(i, path)).collect())
            }
            other => other.clone(),
        }
    }

    /// A value in a string position; `before` is the string so far.
    fn string(&mut self, v: &Value, path: &str, before: &str) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Object(map) if map.len() == 1 => {
                let (key, arg) = map.iter().next().expect("one entry");
                self.function(key, arg, path, before)
            }
            other => match self.resolve(other, path) {
                Value::String(s) => s,
                other => other.to_string(),
            },
        }
    }

    fn function(&mut self, key: &str, arg: &Value, path: &str, before: &str) -> String {
        match (key, arg) {
            ("Ref", Value::String(name)) => match self.defaults.get(name) {
                Some(default) => plain(default),
                None => self.unresolved(format!("!Ref {name}"), name, path, before),
            },
            ("Fn::Sub", Value::String(template)) => self.sub(template, &Map::new(), path, before),
            ("Fn::Sub", Value::Array(parts)) if parts.len() == 2 => {
                let vars = parts[1].as_object().cloned().unwrap_or_default();
                let template = parts[0].as_str().unwrap_or_default().to_string();
                self.sub(&template, &vars, path, before)
            }
            ("Fn::Join", Value::Array(parts)) if parts.len() == 2 && parts[1].is_array() => {
                let delimiter = parts[0].as_str().unwrap_or_default().to_string();
                let mut out = before.to_string();
                for (i, item) in parts[1].as_array().into_iter().flatten().enumerate() {
                    if i > 0 {
                        out.push_str(&delimiter);
                    }
                    let s = self.string(item, path, &out);
                    out.push_str(&s);
                }
                out[before.len()..].to_string()
            }
            _ => {
                let shown = match arg {
                    Value::String(s) => s.clone(),
                    Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join("."),
                    other => other.to_string(),
                };
                self.unresolved(format!("{key} {shown}"), &shown, path, before)
            }
        }
    }

    fn sub(
        &mut self,
        template: &str,
        vars: &Map<String, Value>,
        path: &str,
        before: &str,
    ) -> String {
        let mut out = before.to_string();
        let mut rest = template;
        while let Some(open) = rest.find("${") {
            out.push_str(&rest[..open]);
            let after = &rest[open + 2..];
            let Some(close) = after.find('}') else {
                out.push_str(&rest[open..]);
                rest = "";
                break;
            };
            let name = &after[..close];
            rest = &after[close + 1..];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
            } else if let Some(v) = vars.get(name) {
                let s = self.string(v, path, &out);
                out.push_str(&s);
            } else if let Some(default) = self.defaults.get(name) {
                out.push_str(&plain(default));
            } else {
                let s = self.unresolved(format!("${{{name}}} in Fn::Sub"), name, path, &out);
                out.push_str(&s);
            }
        }
        out.push_str(rest);
        out[before.len()..].to_string()
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  GitHubOrg:
    Type: String
    Default: acme
  Repo:
    Type: String
Resources:
  Bucket:
    Type: AWS::S3::Bucket
  DeployRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Action: sts:AssumeRoleWithWebIdentity
            Principal:
              Federated: !Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:oidc-provider/token.actions.githubusercontent.com
            Condition:
              StringEquals:
                token.actions.githubusercontent.com:aud: sts.amazonaws.com
              StringLike:
                token.actions.githubusercontent.com:sub:
                  - !Sub repo:${GitHubOrg}/app:ref:refs/heads/${!Branch}
                  - !Join [":", ["repo", !Sub "${GitHubOrg}/${Repo}", "*"]]
                  - Fn::Join: ["", ["repo:", {"Ref": "GitHubOrg"}, "/x"]]
"#;

    #[test]
    fn short_and_long_intrinsics_are_evaluated_or_named() {
        let Ok(Parsed::Policies(found)) = extract_yaml("t.yaml", YAML) else {
            panic!("no policies");
        };
        assert_eq!(found.len(), 1);
        let role = &found[0];
        assert_eq!(role.resource.as_deref(), Some("AWS::IAM::Role DeployRole"));
        assert_eq!(role.start, 14);
        let doc = role.document.as_ref().unwrap();
        let subs = &doc["Statement"][0]["Condition"]["StringLike"]
            ["token.actions.githubusercontent.com:sub"];
        assert_eq!(subs[0], "repo:acme/app:ref:refs/heads/${Branch}");
        assert_eq!(subs[1], "repo:acme/${Repo}:*");
        assert_eq!(subs[2], "repo:acme/x");
        // The account and partition are not listed; the parameter without a default is.
        assert_eq!(role.unresolved.len(), 1, "{:?}", role.unresolved);
        assert_eq!(role.unresolved[0].expression, "${Repo} in Fn::Sub");
        assert_eq!(role.unresolved[0].line, 26);
        assert!(doc["Statement"][0]["Principal"]["Federated"]
            .as_str()
            .unwrap()
            .ends_with(":oidc-provider/token.actions.githubusercontent.com"));
    }

    #[test]
    fn json_templates_and_other_yaml() {
        let text = r#"{"Resources": {
  "R": {"Type": "AWS::IAM::Role", "Properties": {
    "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow",
      "Principal": {"Federated": {"Fn::GetAtt": ["Provider", "Arn"]}}}]}}}}}"#;
        let doc: Value = serde_json::from_str(text).unwrap();
        let Parsed::Policies(found) = extract_json("t.json", text, &doc) else {
            panic!()
        };
        assert_eq!(found[0].start, 3);
        assert_eq!(found[0].unresolved[0].expression, "Fn::GetAtt Provider.Arn");
        assert!(matches!(
            extract_yaml("w.yml", "on: push\n"),
            Ok(Parsed::Other(_))
        ));
        assert_eq!(extract_yaml("w.yml", "a: b\n  c: [\n").unwrap_err().line, 2);
    }
}
