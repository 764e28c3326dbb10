#!/usr/bin/env python3
"""Write tests/fixtures/lint/policies: the same trust policies (the pitfalls
of docs/ci.md and docs/linting.md, and two correct ones) in every form
`credbroker trust lint` reads: IAM JSON, `aws iam get-role` output (object
and URL-encoded), Terraform (jsonencode, heredoc, data
aws_iam_policy_document, `terraform show -json`) and CloudFormation (YAML
with short tags, JSON with Fn:: forms).

The files are committed; run this again after changing a case:
    python3 scripts/gen-lint-fixtures.py
tests/policy_inputs.rs reads CASES.json to know what each role must draw.
"""
import json
import os
import re
import urllib.parse

ROOT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "lint", "policies")
GH = "token.actions.githubusercontent.com"
PROVIDER = f"arn:aws:iam::111111111111:oidc-provider/{GH}"
SUB, AUD = f"{GH}:sub", f"{GH}:aud"
ENV_SUB = "repo:acme@1001/app@2002:environment:production"


def statement(conditions, principal=None):
    return {
        "Effect": "Allow",
        "Principal": principal or {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": conditions,
    }


def aud_and(op, sub):
    conds = {"StringEquals": {AUD: "sts.amazonaws.com"}}
    conds.setdefault(op, {})[SUB] = sub
    return conds


# (name, statement, expected (rule, severity) or None for a correct policy).
# Names with "deploy" are roles that can write (the linter reads names).
CASES = [
    ("sub_wildcard", statement(aud_and("StringLike", "repo:*")), ("sub-wildcard", "critical")),
    ("owner_prefix", statement(aud_and("StringLike", "repo:acme*")), ("sub-owner-or-repo-wildcard", "critical")),
    ("owner_single_char", statement(aud_and("StringLike", "repo:ac?me/infra:*")), ("sub-owner-or-repo-wildcard", "critical")),
    ("repo_prefix", statement(aud_and("StringLike", "repo:acme/inf*")), ("sub-owner-or-repo-wildcard", "critical")),
    ("deploy_org_wide", statement(aud_and("StringLike", "repo:acme/*")), ("org-wide-wildcard", "high")),
    ("aud_missing", statement({"StringEquals": {SUB: ENV_SUB}}), ("aud-missing", "high")),
    ("aud_not_sts", statement({"StringEquals": {AUD: "api://AzureADTokenExchange", SUB: ENV_SUB}}), ("aud-not-sts", "medium")),
    ("sub_missing", statement({"StringEquals": {AUD: "sts.amazonaws.com"}}), ("sub-missing", "critical")),
    ("for_all_values_sub", statement({"StringEquals": {AUD: "sts.amazonaws.com"}, "ForAllValues:StringEquals": {SUB: ENV_SUB}}), ("set-operator-on-single-valued-key", "critical")),
    ("like_without_wildcard", statement(aud_and("StringLike", ENV_SUB)), ("stringlike-without-wildcard", "low")),
    ("deploy_pull_request", statement(aud_and("StringLike", "repo:acme@1001/app@2002:*")), ("deploy-admits-pull-request", "high")),
    ("deploy_any_branch", statement(aud_and("StringLike", "repo:acme@1001/app@2002:ref:refs/heads/*")), ("deploy-branch-wildcard", "medium")),
    ("principal_not_github", statement(aud_and("StringEquals", ENV_SUB), {"AWS": "arn:aws:iam::111111111111:root"}), ("principal-not-github", "high")),
    ("legacy_subject", statement(aud_and("StringEquals", "repo:acme/app:environment:production")), ("legacy-subject-format", "info")),
    ("good_deploy_environment", statement(aud_and("StringEquals", ENV_SUB)), None),
    ("good_readonly_branches", statement(aud_and("StringLike", "repo:acme@1001/app@2002:ref:refs/heads/*")), None),
]


def doc(st):
    return {"Version": "2012-10-17", "Statement": [st]}


def camel(name):
    return "".join(p.capitalize() for p in name.split("_"))


def write(path, text):
    path = os.path.join(ROOT, path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def hcl(value, indent):
    """A JSON value as an HCL expression (for jsonencode)."""
    pad = "  " * indent
    if isinstance(value, dict):
        key = lambda k: k if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) else json.dumps(k)
        items = "".join(f"{pad}  {key(k)} = {hcl(v, indent + 1)}\n" for k, v in value.items())
        return "{\n" + items + pad + "}"
    if isinstance(value, list):
        return "[" + ", ".join(hcl(v, indent) for v in value) + "]"
    return json.dumps(value)


def data_source(name, st):
    lines = [f'data "aws_iam_policy_document" "{name}" {{', "  statement {",
             f'    actions = [{json.dumps(st["Action"])}]']
    for kind, ids in st["Principal"].items():
        ids = ids if isinstance(ids, list) else [ids]
        lines += ["    principals {", f"      type        = {json.dumps(kind)}",
                  f"      identifiers = {json.dumps(ids)}", "    }"]
    for op, keys in st["Condition"].items():
        for key, values in keys.items():
            values = values if isinstance(values, list) else [values]
            lines += ["    condition {", f"      test     = {json.dumps(op)}",
                      f"      variable = {json.dumps(key)}", f"      values   = {json.dumps(values)}", "    }"]
    lines += ["  }", "}", ""]
    return "\n".join(lines)


def main():
    write("CASES.json", json.dumps([{"name": n, "expect": e} for n, _, e in CASES], indent=1) + "\n")
    for i, (name, st, _) in enumerate(CASES):
        write(f"iam/{name}.json", json.dumps(doc(st), indent=2) + "\n")
        policy = doc(st)
        if i % 2:
            policy = urllib.parse.quote(json.dumps(policy), safe="")
        role = {"Role": {"Path": "/", "RoleName": name, "RoleId": f"AROA{i:016d}",
                         "Arn": f"arn:aws:iam::111111111111:role/{name}",
                         "CreateDate": "2026-01-01T00:00:00+00:00",
                         "AssumeRolePolicyDocument": policy, "MaxSessionDuration": 3600}}
        write(f"getrole/{name}.json", json.dumps(role, indent=4) + "\n")

    tf = ['terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n  }\n}\n']
    heredoc, roles, datas = list(tf), list(tf), []
    # The account id comes from a data source here: it cannot be evaluated,
    # and nothing in the decision reads it, so it draws no finding.
    tf.append('data "aws_caller_identity" "current" {}\n')
    account = "${data.aws_caller_identity.current.account_id}"
    for name, st, _ in CASES:
        encoded = hcl(doc(st), 1).replace("arn:aws:iam::111111111111:oidc", f"arn:aws:iam::{account}:oidc")
        tf.append(f'resource "aws_iam_role" "{name}" {{\n  name = "{name}"\n'
                  f"  assume_role_policy = jsonencode({encoded})\n}}\n")
        body = json.dumps(doc(st), indent=2).replace("\n", "\n    ")
        heredoc.append(f'resource "aws_iam_role" "{name}" {{\n  name = "{name}"\n'
                       f"  assume_role_policy = <<-EOT\n    {body}\n  EOT\n}}\n")
        roles.append(f'resource "aws_iam_role" "{name}" {{\n  name               = "{name}"\n'
                     f"  assume_role_policy = data.aws_iam_policy_document.{name}.json\n}}\n")
        datas.append(data_source(name, st))
    # Terraform's JSON syntax, as CDK for Terraform writes it: even cases
    # through a JSON data source, odd ones as a JSON string whose provider
    # ARN interpolates the account id.
    tf_json = {"//": {"metadata": {"stackName": "trust"}}, "data": {"aws_iam_policy_document": {}},
               "resource": {"aws_iam_role": {}}}
    for i, (name, st, _) in enumerate(CASES):
        if i % 2:
            text = json.dumps(doc(st)).replace("arn:aws:iam::111111111111:oidc", f"arn:aws:iam::{account}:oidc")
            tf_json["resource"]["aws_iam_role"][name] = {"name": name, "assume_role_policy": text}
            continue
        statement = {"actions": [st["Action"]], "principals": [], "condition": []}
        for kind, ids in st["Principal"].items():
            statement["principals"].append({"type": kind, "identifiers": ids if isinstance(ids, list) else [ids]})
        for op, keys in st["Condition"].items():
            for key, values in keys.items():
                statement["condition"].append({"test": op, "variable": key,
                                               "values": values if isinstance(values, list) else [values]})
        tf_json["data"]["aws_iam_policy_document"][name] = {"statement": [statement]}
        tf_json["resource"]["aws_iam_role"][name] = {
            "name": name, "assume_role_policy": f"${{data.aws_iam_policy_document.{name}.json}}"}
    write("terraform/json/cdk.tf.json", json.dumps(tf_json, indent=2) + "\n")
    write("terraform/jsonencode/main.tf", "\n".join(tf))
    write("terraform/heredoc/main.tf", "\n".join(heredoc))
    write("terraform/data-source/main.tf", "\n".join(roles))
    write("terraform/data-source/trust.tf", "\n".join(datas))
    resources = [{"address": f"aws_iam_role.{n}", "mode": "managed", "type": "aws_iam_role", "name": n,
                  "provider_name": "registry.terraform.io/hashicorp/aws", "schema_version": 0,
                  "values": {"name": n, "assume_role_policy": json.dumps(doc(st), separators=(",", ":"))}}
                 for n, st, _ in CASES]
    plan = {"format_version": "1.2", "terraform_version": "1.9.8",
            "planned_values": {"root_module": {"resources": resources}},
            "resource_changes": [{"address": r["address"], "mode": "managed", "type": "aws_iam_role",
                                  "name": r["name"], "change": {"actions": ["create"], "before": None,
                                                                "after": r["values"]}} for r in resources]}
    write("terraform/plan/plan.json", json.dumps(plan) + "\n")

    # CloudFormation: owner names through a parameter default, the provider
    # ARN through pseudo parameters; YAML in short tags, JSON in Fn:: forms.
    yaml = ['AWSTemplateFormatVersion: "2010-09-09"', "Parameters:", "  GitHubOrg:", "    Type: String",
            "    Default: acme", "Resources:"]
    cfn = {"AWSTemplateFormatVersion": "2010-09-09",
           "Parameters": {"GitHubOrg": {"Type": "String", "Default": "acme"}}, "Resources": {}}
    for name, st, _ in CASES:
        yaml += [f"  {camel(name)}:", "    Type: AWS::IAM::Role", "    Properties:",
                 "      AssumeRolePolicyDocument:", '        Version: "2012-10-17"', "        Statement:",
                 "          - Effect: Allow", f"            Action: {st['Action']}", "            Principal:"]
        json_st = dict(st)
        for kind, ids in st["Principal"].items():
            if kind == "Federated":
                yaml.append(f"              Federated: !Sub arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:oidc-provider/{GH}")
                json_st["Principal"] = {"Federated": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::",
                                                                         {"Ref": "AWS::AccountId"}, f":oidc-provider/{GH}"]]}}
            else:
                yaml.append(f"              {kind}: {ids}")
        yaml.append("            Condition:")
        json_conds = {}
        for op, keys in st["Condition"].items():
            yaml.append(f"              {op}:")
            json_conds[op] = {}
            for key, value in keys.items():
                if value.startswith("repo:acme/") or value.startswith("repo:acme@"):
                    rest = value[len("repo:acme"):]
                    yaml.append(f'                {key}: !Sub "repo:${{GitHubOrg}}{rest}"')
                    json_conds[op][key] = {"Fn::Sub": f"repo:${{GitHubOrg}}{rest}"}
                else:
                    yaml.append(f'                {key}: "{value}"')
                    json_conds[op][key] = value
        json_st["Condition"] = json_conds
        cfn["Resources"][camel(name)] = {"Type": "AWS::IAM::Role",
                                         "Properties": {"AssumeRolePolicyDocument": doc(json_st)}}
    write("cloudformation/template.yaml", "\n".join(yaml) + "\n")
    write("cloudformation/template.json", json.dumps(cfn, indent=2) + "\n")


if __name__ == "__main__":
    main()
