use super::*;

const MAIN: &str = r#"
variable "org" {}

resource "aws_iam_role" "encoded" {
  name = "Encoded"
  assume_role_policy = jsonencode({
Version = "2012-10-17"
Statement = [{
  Effect    = "Allow"
  Principal = { Federated = "arn:aws:iam::${var.account}:oidc-provider/token.actions.githubusercontent.com" }
  Action    = "sts:AssumeRoleWithWebIdentity"
  Condition = {
    StringLike = { "token.actions.githubusercontent.com:sub" = "repo:${var.org}/app:*" }
  }
}]
  })
}

resource "aws_iam_role" "doc" {
  assume_role_policy = data.aws_iam_policy_document.trust.json
}

resource "aws_iam_role" "heredoc" {
  assume_role_policy = <<-EOT
{"Statement": {"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity", "Principal": "*"}}
  EOT
}
"#;

const DATA: &str = r#"
data "aws_iam_policy_document" "trust" {
  statement {
actions = ["sts:AssumeRoleWithWebIdentity"]
principals {
  type        = "Federated"
  identifiers = ["arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com"]
}
condition {
  test     = "StringLike"
  variable = "token.actions.githubusercontent.com:sub"
  values   = ["repo:acme*"]
}
  }
}
"#;

#[test]
fn each_style_renders_iam_json() {
    let (found, errors) = extract_module(&[("main.tf", MAIN), ("data.tf", DATA)]);
    assert!(errors.is_empty());
    assert_eq!(found.len(), 3);
    let encoded = &found[0];
    let doc = encoded.document.as_ref().unwrap();
    assert_eq!(
        doc["Statement"][0]["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"],
        "repo:${var.org}/app:*"
    );
    // The account id is not listed; the org in the condition is.
    assert_eq!(encoded.unresolved.len(), 1, "{:?}", encoded.unresolved);
    assert_eq!(encoded.unresolved[0].expression, "var.org");
    assert_eq!(encoded.unresolved[0].line, 13);

    let doc_role = &found[1];
    assert_eq!(doc_role.file, "data.tf");
    assert_eq!(doc_role.start, 2);
    let doc = doc_role.document.as_ref().unwrap();
    assert_eq!(doc["Statement"][0]["Effect"], "Allow");
    assert_eq!(
        doc["Statement"][0]["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"]
            [0],
        "repo:acme*"
    );
    assert_eq!(
        doc_role.line_of(&[super::super::Anchor::Value("repo:acme*")]),
        12
    );
    assert_eq!(
        found[2].document.as_ref().unwrap()["Statement"]["Principal"],
        "*"
    );
}

#[test]
fn what_cannot_be_read_is_named() {
    let (found, errors) = extract_module(&[
        (
            "a.tf",
            "resource \"aws_iam_role\" \"r\" {\n  assume_role_policy = var.policy\n}\n",
        ),
        ("b.tf", "resource \"aws_iam_role\" {\n"),
    ]);
    assert_eq!(found[0].unresolved[0].expression, "var.policy");
    assert!(found[0].document.is_none());
    assert_eq!(errors[0].0, "b.tf");
    let (found, _) = extract_module(&[("a.tf", "resource \"aws_iam_role\" \"r\" {\n  assume_role_policy = data.aws_iam_policy_document.gone.json\n}\n")]);
    assert!(found[0].unresolved[0].expression.contains("gone"));
}

#[test]
fn show_json_plans_and_state() {
    use super::super::tfplan::{extract_show_json, is_show_json};
    let policy = r#"{"Statement":[{"Effect":"Allow"}]}"#;
    let doc = serde_json::json!({"format_version":"1.2","planned_values":{"root_module":{"resources":[
        {"address":"aws_iam_role.r","mode":"managed","type":"aws_iam_role","values":{"assume_role_policy":policy}}]}},
        "prior_state":{"values":{"root_module":{"resources":[
        {"address":"aws_iam_role.r","mode":"managed","type":"aws_iam_role","values":{"assume_role_policy":policy}}]}}}});
    assert!(is_show_json(&doc));
    let found = extract_show_json("plan.json", &doc.to_string(), &doc);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].resource.as_deref(), Some("aws_iam_role.r"));
    assert_eq!(
        found[0].document.as_ref().unwrap()["Statement"][0]["Effect"],
        "Allow"
    );
}

#[test]
fn a_json_text_policy_names_where_each_interpolation_sits() {
    let text = r#"resource "aws_iam_role" "r" {
  assume_role_policy = <<-EOT
    {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
      "Principal": {"Federated": "arn:aws:iam::${var.account}:oidc-provider/token.actions.githubusercontent.com"},
      "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:${var.org}/app:*"}}}]}
  EOT
}
"#;
    let (found, errors) = extract_module(&[("main.tf", text)]);
    assert!(errors.is_empty(), "{errors:?}");
    // As in jsonencode: the account id of the provider ARN is left out,
    // the org in the condition is named with its place.
    let unresolved = &found[0].unresolved;
    assert_eq!(unresolved.len(), 1, "{unresolved:?}");
    assert_eq!(unresolved[0].expression, "var.org");
    assert_eq!(
        unresolved[0].path,
        "Statement.Condition.StringLike.token.actions.githubusercontent.com:sub"
    );
}

#[test]
fn a_tf_json_module_reads_like_its_hcl_with_its_own_lines() {
    let json = r#"{
  "resource": {
    "aws_iam_role": {
      "doc": {
        "assume_role_policy": "${data.aws_iam_policy_document.trust.json}"
      },
      "text": {
        "assume_role_policy": "{\"Statement\": {\"Effect\": \"Allow\", \"Action\": \"sts:AssumeRoleWithWebIdentity\", \"Principal\": \"*\", \"Condition\": {\"StringLike\": {\"x:sub\": \"repo:${var.org}/*\"}}}}"
      }
    }
  }
}
"#;
    // The data source is in a .tf file of the same module.
    let (found, errors) = extract_module(&[("main.tf.json", json), ("data.tf", DATA)]);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(found.len(), 2);
    let doc_role = found.iter().find(|f| f.file == "data.tf").unwrap();
    assert_eq!(
        doc_role.resource.as_deref(),
        Some("aws_iam_role.doc (data.aws_iam_policy_document.trust)")
    );
    let text_role = found.iter().find(|f| f.file == "main.tf.json").unwrap();
    assert_eq!(
        text_role.start, 7,
        "the line of the role's name in the JSON file"
    );
    assert_eq!(
        text_role.document.as_ref().unwrap()["Statement"]["Principal"],
        "*"
    );
    assert_eq!(text_role.unresolved[0].expression, "var.org");
    assert_eq!(text_role.unresolved[0].line, 8);
    let (_, errors) = extract_module(&[("bad.tf.json", "{\n  \"resource\": ,\n}")]);
    assert_eq!((errors[0].0.as_str(), errors[0].1.line), ("bad.tf.json", 2));
    assert!(is_module_file("a/B.TF.JSON") && is_module_file("x.tf") && !is_module_file("x.json"));
}
