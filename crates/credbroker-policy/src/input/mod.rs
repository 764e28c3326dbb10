//! Trust policies read where they live: IAM JSON, the output of
//! `aws iam get-role`, Terraform (HCL, its JSON syntax, and plans or state from
//! `terraform show -json`) and CloudFormation (YAML and JSON).
//!
//! Each form is turned into the IAM JSON document the linter and
//! [`super::evaluate`] read, plus where it was written: the file, the
//! resource (`aws_iam_role.deploy`, `AWS::IAM::Role DeployRole`, `role
//! GitHubDeploy`) and the lines it spans, so every finding can point at the
//! line a person must change. Expressions that only Terraform or
//! CloudFormation can evaluate (a variable, a resource attribute, a
//! parameter without a default) are never guessed: they stay in the
//! document as written (`${var.org}`) and are listed in
//! [`Extracted::unresolved`], and the linter reports each one by name.
//! An unresolved account id in an ARN (`arn:aws:iam::${AWS::AccountId}:...`)
//! is not listed: nothing in a web-identity decision reads it.

pub mod cloudformation;
pub mod getrole;
pub mod terraform;
pub mod tf_json;
pub mod tfplan;

use serde_json::Value;

/// One trust policy found in a file.
#[derive(Clone, Debug, PartialEq)]
pub struct Extracted {
    pub file: String,
    /// The role it guards; `None` for a bare IAM JSON document.
    pub resource: Option<String>,
    /// The IAM JSON document; `None` when the whole policy is an expression
    /// that cannot be evaluated (then [`Extracted::unresolved`] names it).
    pub document: Option<Value>,
    /// The first line (1-based) of the text the policy was written in.
    pub start: usize,
    /// That text, from `start` to the end of the resource.
    pub excerpt: String,
    pub unresolved: Vec<Unresolved>,
    /// Values as rendered and as written, where they differ
    /// (`repo:acme/*` was `!Sub repo:${GitHubOrg}/*`), to find their line.
    pub written: Vec<(String, String)>,
}

/// An expression that cannot be evaluated statically.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unresolved {
    /// As written: `var.github_org`, `!Ref GitHubOrg`, `Fn::GetAtt Provider.Arn`.
    pub expression: String,
    pub line: usize,
    /// Where in the policy: `Condition.StringLike.token.actions.githubusercontent.com:sub`.
    pub path: String,
    /// What stands for it in the document's strings (`${var.org}`); empty
    /// when the whole document is unknown.
    pub placeholder: String,
}

/// How to find the line of a finding in the policy's text.
#[derive(Clone, Copy, Debug)]
pub enum Anchor<'a> {
    /// A value: quoted first, then anywhere.
    Value(&'a str),
    /// A key or word, without regard to case (`Principal` finds `principals {`).
    Key(&'a str),
}

impl Extracted {
    /// The line of the first anchor found in the policy's text, else its first line.
    pub fn line_of(&self, anchors: &[Anchor<'_>]) -> usize {
        let lines: Vec<&str> = self.excerpt.lines().collect();
        let find = |pred: &dyn Fn(&str) -> bool| lines.iter().position(|l| pred(l));
        for anchor in anchors {
            let found = match *anchor {
                Anchor::Value("") => None,
                Anchor::Value(v) => find(&|l| l.contains(&format!("\"{v}\"")))
                    .or_else(|| find(&|l| l.contains(&format!("'{v}'"))))
                    .or_else(|| find(&|l| l.contains(v)))
                    .or_else(|| {
                        let (_, written) = self.written.iter().find(|(r, _)| r == v)?;
                        find(&|l| l.contains(written.as_str()))
                    }),
                Anchor::Key(k) => {
                    let k = k.to_ascii_lowercase();
                    find(&|l| l.to_ascii_lowercase().contains(&k))
                }
            };
            if let Some(i) = found {
                return self.start + i;
            }
        }
        self.start
    }
}

/// A file that could not be parsed: the parser's message and line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    pub message: String,
    pub line: usize,
}

impl InputError {
    pub fn new(message: impl Into<String>, line: usize) -> InputError {
        InputError {
            message: message.into(),
            line: line.max(1),
        }
    }
}

/// What a (non-Terraform) file turned out to hold.
#[derive(Clone, Debug, PartialEq)]
pub enum Parsed {
    Policies(Vec<Extracted>),
    /// Valid JSON or YAML holding no trust policy in any form read here
    /// (a `package.json`, a workflow): skipped in a directory, an error when named.
    Other(String),
}

/// Is this file one [`extract`] or [`terraform::extract_module`] reads?
pub fn supported(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [".json", ".yaml", ".yml", ".template", ".tf"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// Read the trust policies of a JSON or YAML file (`.tf` files go to
/// [`terraform::extract_module`], which sees a whole module).
pub fn extract(file: &str, text: &str) -> Result<Parsed, InputError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') || file.to_ascii_lowercase().ends_with(".json") {
        let doc: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
            .map_err(|e| InputError::new(format!("invalid JSON: {e}"), e.line()))?;
        return Ok(extract_json(file, text, &doc));
    }
    cloudformation::extract_yaml(file, text)
}

fn extract_json(file: &str, text: &str, doc: &Value) -> Parsed {
    if doc.get("Statement").is_some() {
        return Parsed::Policies(vec![Extracted {
            file: file.to_string(),
            resource: None,
            document: Some(doc.clone()),
            start: 1,
            excerpt: text.to_string(),
            unresolved: Vec::new(),
            written: Vec::new(),
        }]);
    }
    if doc.get("Role").is_some() || doc.get("Roles").is_some() {
        return Parsed::Policies(getrole::extract(file, text, doc));
    }
    if doc.get("Resources").is_some_and(Value::is_object) {
        return cloudformation::extract_json(file, text, doc);
    }
    if tfplan::is_show_json(doc) {
        return Parsed::Policies(tfplan::extract_show_json(file, text, doc));
    }
    Parsed::Other(
        "JSON that is neither an IAM policy (no \"Statement\"), `aws iam get-role` output, \
         a CloudFormation template nor `terraform show -json` output"
            .into(),
    )
}

/// The 1-based line of byte `offset` in `text`.
pub(crate) fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Lines `start..=end` (1-based) of `text`.
pub(crate) fn excerpt(text: &str, start: usize, end: usize) -> String {
    text.lines()
        .skip(start.saturating_sub(1))
        .take(end.saturating_sub(start) + 1)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Is an unresolved expression following `literal_before` (the string so
/// far) only the partition or account id of an ARN
/// (`arn:${AWS::Partition}:iam::${AWS::AccountId}:oidc-provider/...`)?
pub(crate) fn in_arn_account(literal_before: &str) -> bool {
    literal_before == "arn:"
        || (literal_before.starts_with("arn:") && literal_before.ends_with(":iam::"))
}

/// The first line of `text` (from `from`, 1-based) containing `needle`, else `from`.
pub(crate) fn find_line(text: &str, from: usize, needle: &str) -> usize {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, l)| l.contains(needle))
        .map_or(from, |(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_told_apart() {
        let iam = r#"{"Statement":[]}"#;
        assert!(matches!(extract("p.json", iam), Ok(Parsed::Policies(p)) if p.len() == 1));
        assert!(matches!(
            extract("package.json", r#"{"name":"x"}"#),
            Ok(Parsed::Other(_))
        ));
        let e = extract("p.json", "{\n\"Statement\": [,]}").unwrap_err();
        assert_eq!(e.line, 2, "{e:?}");
        assert!(e.message.contains("invalid JSON"), "{e:?}");
        assert!(matches!(
            extract("w.yml", "on: push\njobs: {}\n"),
            Ok(Parsed::Other(_))
        ));
        assert!(supported("a/B.TF") && supported("x.yaml") && !supported("x.md"));
    }

    #[test]
    fn anchors_find_lines_within_the_excerpt() {
        let e = Extracted {
            file: "f".into(),
            resource: None,
            document: None,
            start: 10,
            excerpt: "a\n  principals {\n  values = [\"repo:*\"]\n  x repo:*".into(),
            unresolved: Vec::new(),
            written: Vec::new(),
        };
        assert_eq!(e.line_of(&[Anchor::Value("repo:*")]), 12);
        assert_eq!(e.line_of(&[Anchor::Key("Principal")]), 11);
        assert_eq!(e.line_of(&[Anchor::Value("nope"), Anchor::Key("zzz")]), 10);
        assert!(in_arn_account("arn:aws:iam::") && in_arn_account("arn:"));
        assert!(!in_arn_account("repo:"));
        assert_eq!(line_at("a\nb\nc", 2), 2);
        assert_eq!(excerpt("a\nb\nc\nd", 2, 3), "b\nc");
    }
}
