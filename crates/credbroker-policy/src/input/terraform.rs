//! Terraform: `aws_iam_role` resources and their `assume_role_policy`,
//! written as `jsonencode({...})`, as a heredoc or string of JSON, or as a
//! reference to a `data "aws_iam_policy_document"` of the same module
//! (its `statement`, `principals` and `condition` blocks); and the rendered
//! values of a plan or state from `terraform show -json`.
//!
//! HCL is parsed with `hcl-edit`, which keeps the byte span of every node,
//! so findings land on the line that wrote the value. Only literals,
//! objects, lists, templates and `jsonencode` are evaluated; a variable,
//! local, resource attribute or any other function stays as written
//! (`${var.org}`) and is listed in [`Extracted::unresolved`].
//! Plans and state are read in [`super::tfplan`]; a module's `.tf.json`
//! files are read as the HCL they stand for ([`super::tf_json`]).

use super::tf_json;
use super::{excerpt, find_line, in_arn_account, line_at, Extracted, InputError, Unresolved};
use hcl_edit::expr::{Expression, ObjectKey, TraversalOperator};
use hcl_edit::structure::{Block, Body};
use hcl_edit::template::{Element, Template};
use hcl_edit::Span;
use serde_json::{Map, Value};

/// One parsed `.tf` file.
struct Module<'a> {
    file: &'a str,
    text: &'a str,
    body: Body,
}

/// Is `name` a file of a Terraform module (`.tf`, or `.tf.json`)?
pub fn is_module_file(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".tf") || tf_json::is_tf_json(name)
}

/// Read every `aws_iam_role` of a module (its `.tf` and `.tf.json` files,
/// as `(name, text)`). A file that does not parse is returned as an error;
/// the others are read.
pub fn extract_module(files: &[(&str, &str)]) -> (Vec<Extracted>, Vec<(String, InputError)>) {
    let mut errors = Vec::new();
    // A .tf.json file is read as HCL text made from it.
    let mut sources: Vec<(&str, std::borrow::Cow<'_, str>)> = Vec::new();
    for (file, text) in files {
        if tf_json::is_tf_json(file) {
            match tf_json::to_hcl(text) {
                Ok(hcl) => sources.push((file, hcl.into())),
                Err(e) => errors.push((file.to_string(), e)),
            }
        } else {
            sources.push((file, (*text).into()));
        }
    }
    let mut modules = Vec::new();
    for (file, text) in &sources {
        match hcl_edit::parser::parse_body(text) {
            Ok(body) => modules.push(Module { file, text, body }),
            Err(e) => errors.push((
                file.to_string(),
                InputError::new(format!("invalid HCL: {}", e.message()), e.location().line()),
            )),
        }
    }
    let mut found = Vec::new();
    for m in &modules {
        for block in blocks(&m.body, "resource", "aws_iam_role") {
            let name = label(block, 1);
            let Some(attr) = block.body.get_attribute("assume_role_policy") else {
                continue;
            };
            found.push(role_policy(
                &modules,
                m,
                &format!("aws_iam_role.{name}"),
                block,
                &attr.value,
            ));
        }
    }
    for policy in &mut found {
        if let Some((_, text)) = files.iter().find(|(f, _)| *f == policy.file) {
            if tf_json::is_tf_json(&policy.file) {
                json_lines(policy, text);
            }
        }
    }
    (found, errors)
}

/// Point a policy read from a `.tf.json` file at that file's own lines: the
/// HCL made from it has lines of its own.
fn json_lines(policy: &mut Extracted, text: &str) {
    let resource = policy.resource.as_deref().unwrap_or_default();
    let (ty, name) = match resource.split_once(" (data.aws_iam_policy_document.") {
        Some((_, data)) => ("aws_iam_policy_document", data.trim_end_matches(')')),
        None => ("aws_iam_role", resource.trim_start_matches("aws_iam_role.")),
    };
    let (start, end) = tf_json::locate(text, ty, name);
    policy.start = start;
    policy.excerpt = excerpt(text, start, end);
    for u in &mut policy.unresolved {
        let written = u.expression.split_whitespace().next().unwrap_or_default();
        u.line = find_line(text, start, written);
    }
}

fn blocks<'b>(
    body: &'b Body,
    ident: &'b str,
    kind: &'b str,
) -> impl Iterator<Item = &'b Block> + 'b {
    body.get_blocks(ident).filter(move |b| label(b, 0) == kind)
}

fn label(block: &Block, i: usize) -> &str {
    block.labels.get(i).map_or("", |l| l.as_str())
}

fn span_line(text: &str, node: &impl Span) -> usize {
    node.span().map_or(1, |r| line_at(text, r.start))
}

fn span_end_line(text: &str, node: &impl Span) -> usize {
    node.span().map_or(usize::MAX, |r| line_at(text, r.end))
}

fn role_policy(
    modules: &[Module<'_>],
    m: &Module<'_>,
    resource: &str,
    block: &Block,
    value: &Expression,
) -> Extracted {
    let (start, end) = (span_line(m.text, value), span_end_line(m.text, block));
    let mut out = Extracted {
        file: m.file.to_string(),
        resource: Some(resource.to_string()),
        document: None,
        start,
        excerpt: excerpt(m.text, start, end),
        unresolved: Vec::new(),
        written: Vec::new(),
    };
    // data.aws_iam_policy_document.NAME.json
    if let Some(name) = data_reference(value) {
        let data = modules.iter().find_map(|dm| {
            blocks(&dm.body, "data", "aws_iam_policy_document")
                .find(|b| label(b, 1) == name)
                .map(|b| (dm, b))
        });
        match data {
            Some((dm, b)) => {
                let (start, end) = (span_line(dm.text, b), span_end_line(dm.text, b));
                let mut ev = Eval::new(dm.text);
                out.document = Some(policy_document(&mut ev, b));
                out.file = dm.file.to_string();
                out.resource = Some(format!("{resource} (data.aws_iam_policy_document.{name})"));
                out.start = start;
                out.excerpt = excerpt(dm.text, start, end);
                out.unresolved = ev.unresolved;
            }
            None => out.unresolved.push(Unresolved {
                expression: format!("data.aws_iam_policy_document.{name} (not in the files read; lint the module's directory)"),
                line: start,
                path: String::new(),
                placeholder: String::new(),
            }),
        }
        return out;
    }
    let mut ev = Eval::new(m.text);
    let parsed = match value {
        Expression::FuncCall(call)
            if call.name.name.as_str() == "jsonencode" && call.args.len() == 1 =>
        {
            call.args.get(0).map(|arg| ev.value(arg, ""))
        }
        Expression::String(s) => serde_json::from_str(s.as_str()).ok(),
        Expression::StringTemplate(t) => ev.json_template(t, value),
        Expression::HeredocTemplate(h) => ev.json_template(&h.template, value),
        _ => None,
    };
    if parsed.is_none() && ev.unresolved.is_empty() {
        ev.unresolved.push(Unresolved {
            expression: expr_text(value),
            line: start,
            path: String::new(),
            placeholder: String::new(),
        });
    }
    out.document = parsed;
    out.unresolved = ev.unresolved;
    out
}

/// `data.aws_iam_policy_document.NAME.json` (or `.minified_json`) -> NAME.
fn data_reference(value: &Expression) -> Option<String> {
    let Expression::Traversal(t) = value else {
        return None;
    };
    let Expression::Variable(root) = &t.expr else {
        return None;
    };
    let attrs: Vec<&str> = t
        .operators
        .iter()
        .map(|op| match op.value() {
            TraversalOperator::GetAttr(ident) => Some(ident.as_str()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    match (root.as_str(), attrs.as_slice()) {
        ("data", ["aws_iam_policy_document", name, "json" | "minified_json"]) => {
            Some(name.to_string())
        }
        _ => None,
    }
}

fn expr_text(e: &Expression) -> String {
    e.to_string().trim().to_string()
}

/// Static evaluation of HCL values, collecting what cannot be evaluated.
struct Eval<'t> {
    text: &'t str,
    unresolved: Vec<Unresolved>,
}

impl<'t> Eval<'t> {
    fn new(text: &'t str) -> Self {
        Eval {
            text,
            unresolved: Vec::new(),
        }
    }

    fn unresolved(&mut self, e: &Expression, path: &str, before: &str) -> String {
        let text = expr_text(e);
        if path.contains("Condition") || !in_arn_account(before) {
            self.unresolved.push(Unresolved {
                expression: text.clone(),
                line: span_line(self.text, e),
                path: path.to_string(),
                placeholder: format!("${{{text}}}"),
            });
        }
        format!("${{{text}}}")
    }

    /// `path` is the JSON path so far (`Statement.Condition.StringLike`).
    fn value(&mut self, e: &Expression, path: &str) -> Value {
        match e {
            Expression::Null(_) => Value::Null,
            Expression::Bool(b) => Value::Bool(*b.value()),
            Expression::Number(n) => {
                serde_json::from_str(&n.value().to_string()).unwrap_or(Value::Null)
            }
            Expression::String(s) => Value::String(s.value().clone()),
            Expression::Array(items) => {
                Value::Array(items.iter().map(|i| self.value(i, path)).collect())
            }
            Expression::Object(object) => {
                let mut map = Map::new();
                for (key, v) in object.iter() {
                    let key = match key {
                        ObjectKey::Ident(ident) => ident.as_str().to_string(),
                        ObjectKey::Expression(k) => self.string(k, path),
                    };
                    let inner = format!("{path}.{key}");
                    map.insert(key, self.value(v.expr(), &inner));
                }
                Value::Object(map)
            }
            Expression::StringTemplate(t) => Value::String(self.template(t, path)),
            Expression::HeredocTemplate(h) => Value::String(self.template(&h.template, path)),
            Expression::Parenthesis(p) => self.value(p.inner(), path),
            _ => Value::String(self.unresolved(e, path, "")),
        }
    }

    fn string(&mut self, e: &Expression, path: &str) -> String {
        match self.value(e, path) {
            Value::String(s) => s,
            other => other.to_string(),
        }
    }

    fn template(&mut self, t: &Template, path: &str) -> String {
        let mut out = String::new();
        for element in t.iter() {
            match element {
                Element::Literal(s) => out.push_str(s.value()),
                Element::Interpolation(i) => match &i.expr {
                    Expression::String(_) | Expression::Number(_) | Expression::Bool(_) => {
                        let s = self.string(&i.expr, path);
                        out.push_str(&s);
                    }
                    other => {
                        let s = self.unresolved(other, path, &out);
                        out.push_str(&s);
                    }
                },
                Element::Directive(_) => {
                    self.unresolved.push(Unresolved {
                        expression: "a %{ } template directive".into(),
                        line: span_line(self.text, element),
                        path: path.to_string(),
                        placeholder: String::new(),
                    });
                }
            }
        }
        out
    }

    /// A string or heredoc of JSON; interpolations stay as written. Where
    /// each one sits is known once the JSON is parsed: an account id in a
    /// principal's ARN is then left out, as in `jsonencode`.
    fn json_template(&mut self, t: &Template, whole: &Expression) -> Option<Value> {
        let first = self.unresolved.len();
        let rendered = self.template(t, "");
        let Ok(parsed) = serde_json::from_str::<Value>(&rendered) else {
            self.unresolved.push(Unresolved {
                expression: format!("{} (does not render to JSON)", expr_text(whole)),
                line: span_line(self.text, whole),
                path: String::new(),
                placeholder: String::new(),
            });
            return None;
        };
        let found: Vec<Unresolved> = self.unresolved.drain(first..).collect();
        for mut u in found {
            match placed(&parsed, &u.placeholder, "") {
                Some((path, before)) => {
                    if path.contains("Condition") || !in_arn_account(&before) {
                        u.path = path;
                        self.unresolved.push(u);
                    }
                }
                None => self.unresolved.push(u),
            }
        }
        Some(parsed)
    }
}

/// The JSON path of the first string in `value` holding `placeholder`, and
/// that string's text before it.
fn placed(value: &Value, placeholder: &str, path: &str) -> Option<(String, String)> {
    if placeholder.is_empty() {
        return None;
    }
    match value {
        Value::String(s) => s.find(placeholder).map(|at| {
            (
                path.trim_start_matches('.').to_string(),
                s[..at].to_string(),
            )
        }),
        Value::Array(items) => items.iter().find_map(|v| placed(v, placeholder, path)),
        Value::Object(map) => map
            .iter()
            .find_map(|(k, v)| placed(v, placeholder, &format!("{path}.{k}"))),
        _ => None,
    }
}

/// A `data "aws_iam_policy_document"` block as the IAM JSON it renders.
fn policy_document(ev: &mut Eval<'_>, block: &Block) -> Value {
    let body = &block.body;
    for merged in [
        "source_policy_documents",
        "override_policy_documents",
        "source_json",
        "override_json",
    ] {
        if let Some(attr) = body.get_attribute(merged) {
            ev.unresolved.push(Unresolved {
                expression: format!("{merged} = {}", expr_text(&attr.value)),
                line: span_line(ev.text, attr),
                path: String::new(),
                placeholder: String::new(),
            });
        }
    }
    if let Some(d) = body.get_blocks("dynamic").next() {
        ev.unresolved.push(Unresolved {
            expression: format!("dynamic \"{}\"", label(d, 0)),
            line: span_line(ev.text, d),
            path: String::new(),
            placeholder: String::new(),
        });
    }
    let attr = |ev: &mut Eval<'_>, body: &Body, key: &str, path: &str| {
        body.get_attribute(key).map(|a| ev.value(&a.value, path))
    };
    let mut statements = Vec::new();
    for s in body.get_blocks("statement") {
        let mut st = Map::new();
        if let Some(sid) = attr(ev, &s.body, "sid", "Sid") {
            st.insert("Sid".into(), sid);
        }
        let effect = attr(ev, &s.body, "effect", "Effect").unwrap_or_else(|| "Allow".into());
        st.insert("Effect".into(), effect);
        for (key, json) in [("actions", "Action"), ("not_actions", "NotAction")] {
            if let Some(v) = attr(ev, &s.body, key, json) {
                st.insert(json.into(), v);
            }
        }
        let mut principal = Map::new();
        for p in s.body.get_blocks("principals") {
            let kind = attr(ev, &p.body, "type", "Principal").unwrap_or(Value::Null);
            let ids = attr(ev, &p.body, "identifiers", "Principal").unwrap_or(Value::Null);
            let kind = kind.as_str().unwrap_or_default().to_string();
            if kind == "*" {
                st.insert("Principal".into(), "*".into());
                continue;
            }
            append(&mut principal, &kind, ids);
        }
        if !principal.is_empty() {
            st.insert("Principal".into(), Value::Object(principal));
        }
        let mut conditions = Map::new();
        for c in s.body.get_blocks("condition") {
            let test = attr(ev, &c.body, "test", "Condition").unwrap_or(Value::Null);
            let test = test.as_str().unwrap_or_default().to_string();
            let path = format!("Condition.{test}");
            let variable = attr(ev, &c.body, "variable", &path).unwrap_or(Value::Null);
            let variable = variable.as_str().unwrap_or_default().to_string();
            let values =
                attr(ev, &c.body, "values", &format!("{path}.{variable}")).unwrap_or(Value::Null);
            let block = conditions
                .entry(test)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(keys) = block {
                append(keys, &variable, values);
            }
        }
        if !conditions.is_empty() {
            st.insert("Condition".into(), Value::Object(conditions));
        }
        statements.push(Value::Object(st));
    }
    serde_json::json!({ "Version": "2012-10-17", "Statement": statements })
}

/// `map[key] += values` (lists concatenated, as Terraform merges repeated blocks).
fn append(map: &mut Map<String, Value>, key: &str, values: Value) {
    let as_list = |v: Value| match v {
        Value::Array(items) => items,
        other => vec![other],
    };
    let merged = match map.remove(key) {
        Some(old) => [as_list(old), as_list(values)].concat(),
        None => as_list(values),
    };
    map.insert(key.to_string(), Value::Array(merged));
}

#[cfg(test)]
#[path = "terraform_tests.rs"]
mod tests;
