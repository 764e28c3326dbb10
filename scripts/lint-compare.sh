#!/usr/bin/env bash
# Compare credbroker's linters with checkov and zizmor on the fixture corpus
# (tests/fixtures/lint): the same 14 bad and 2 correct trust policies in
# every form, and the workflow cases. Prints the table docs/linting.md quotes.
#
#   scripts/lint-compare.sh            # installs checkov and zizmor into target/lint-compare-venv
#
# A bad policy counts as caught by a tool when the tool reports at least one
# failed check on its role; a correct policy counts as flagged the same way.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="$PWD/target/lint-compare-venv"
if [ ! -x "$venv/bin/checkov" ] || [ ! -x "$venv/bin/zizmor" ]; then
    echo "==> installing checkov and zizmor into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check checkov zizmor
fi
cargo build -q --bin credbroker
bin="$PWD/target/debug/credbroker"
out="$PWD/target/lint-compare"
rm -rf "$out" && mkdir -p "$out"
corpus=tests/fixtures/lint/policies

forms=(
    "iam:$corpus/iam:json"
    "getrole:$corpus/getrole:json"
    "tf-jsonencode:$corpus/terraform/jsonencode:terraform"
    "tf-heredoc:$corpus/terraform/heredoc:terraform"
    "tf-data-source:$corpus/terraform/data-source:terraform"
    "tf-plan:$corpus/terraform/plan:terraform_plan"
    "cfn-yaml:$corpus/cloudformation/template.yaml:cloudformation"
    "cfn-json:$corpus/cloudformation/template.json:cloudformation"
)
for entry in "${forms[@]}"; do
    IFS=: read -r name path framework <<<"$entry"
    "$bin" trust lint --format json "$path" >"$out/credbroker-$name.json" || true
    if [ -d "$path" ]; then target=(-d "$path"); else target=(-f "$path"); fi
    "$venv/bin/checkov" --quiet --compact --output json --framework "$framework" "${target[@]}" \
        >"$out/checkov-$name.json" 2>"$out/checkov-$name.err" || true
done

workflows=tests/fixtures/lint/workflows/repo
"$bin" workflow lint --format json "$workflows" >"$out/credbroker-workflows.json" || true
"$venv/bin/zizmor" --offline --format json "$workflows" >"$out/zizmor-workflows.json" 2>"$out/zizmor.err" || true
"$venv/bin/checkov" --quiet --compact --output json --framework github_actions,secrets \
    -d "$workflows/.github/workflows" >"$out/checkov-workflows.json" 2>"$out/checkov-workflows.err" || true

echo "checkov $("$venv/bin/checkov" --version), $("$venv/bin/zizmor" --version)"
python3 - "$out" "$corpus/CASES.json" <<'EOF'
import json, os, sys

out, cases_file = sys.argv[1], sys.argv[2]
cases = json.load(open(cases_file))
bad = {c["name"].replace("_", "") for c in cases if c["expect"]}
good = {c["name"].replace("_", "") for c in cases if not c["expect"]}

def key(name):
    return name.replace("_", "").lower()

def load(path):
    try:
        text = open(path).read().strip()
        return json.loads(text) if text else None
    except (OSError, json.JSONDecodeError):
        return None

def credbroker(path):
    flagged = set()
    for f in (load(path) or {}).get("findings", []):
        if f["rule"] in ("input-error",):
            continue
        r = f.get("resource")
        name = os.path.splitext(os.path.basename(f["file"]))[0] if r is None else (
            r.split(" ")[0].split(".", 1)[1] if r.startswith("aws_iam_role.") else r.rsplit(" ", 1)[-1])
        flagged.add(key(name))
    return flagged

def checkov(path):
    data = load(path)
    if data is None:
        return None
    runs = data if isinstance(data, list) else [data]
    flagged, resources = set(), 0
    for run in runs:
        results = run.get("results", {}) if isinstance(run, dict) else {}
        resources += run.get("summary", {}).get("resource_count", 0) if isinstance(run, dict) else 0
        for check in results.get("failed_checks", []):
            res = check.get("resource", "")
            flagged.add(key(res.split(".")[-1]))
    return flagged if resources or flagged else None

print()
print("| form | credbroker: bad caught | credbroker: good flagged | checkov: bad caught | checkov: good flagged |")
print("| --- | --- | --- | --- | --- |")
for name in ["iam", "getrole", "tf-jsonencode", "tf-heredoc", "tf-data-source", "tf-plan", "cfn-yaml", "cfn-json"]:
    c = credbroker(f"{out}/credbroker-{name}.json")
    k = checkov(f"{out}/checkov-{name}.json")
    ks = ("not read", "not read") if k is None else (f"{len(k & bad)}/{len(bad)}", f"{len(k & good)}/{len(good)}")
    print(f"| {name} | {len(c & bad)}/{len(bad)} | {len(c & good)}/{len(good)} | {ks[0]} | {ks[1]} |")

# Workflow cases: each file holds one AWS-relevant case; a tool catches it
# when it reports one of the checks that address that case. Everything else a
# tool reports on the file (pinning, checkout credentials, ...) is listed apart.
wf_cases = [
    ("anchors.yml", "role step reused through an alias, job without id-token: write",
     {"missing-id-token-permission"}),
    ("literal-keys.yml", "literal AKIA/ASIA keys and a secret in env:/with:",
     {"literal-aws-keys", "CKV_SECRET_2", "CKV_SECRET_6", "hardcoded-container-credentials"}),
    ("injection.yml", "untrusted ${{ }} in run: of a job that assumes a role",
     {"template-injection-in-role-job", "template-injection", "CKV_GHA_2"}),
    ("write-all.yml", "permissions: write-all on a job that assumes a role",
     {"write-all-permissions", "excessive-permissions", "CKV2_GHA_1"}),
    ("clean.yml", "correct workflow", set()),
]
found = {"credbroker": [], "zizmor": [], "checkov": []}
for f in (load(f"{out}/credbroker-workflows.json") or {}).get("findings", []):
    found["credbroker"].append((os.path.basename(f["file"]), f["rule"]))
for f in load(f"{out}/zizmor-workflows.json") or []:
    local = f["locations"][0]["symbolic"]["key"].get("Local", {})
    path = next(iter(local.values()), "")
    found["zizmor"].append((os.path.basename(path), f["ident"]))
data = load(f"{out}/checkov-workflows.json")
for run in (data if isinstance(data, list) else [data] if data else []):
    for check in run.get("results", {}).get("failed_checks", []):
        found["checkov"].append((os.path.basename(check.get("file_path", "")), check["check_id"]))
print()
print("| workflow case | credbroker | zizmor | checkov |")
print("| --- | --- | --- | --- |")
caught = {t: 0 for t in found}
for file, what, ids in wf_cases:
    cells = []
    for tool, items in found.items():
        hits = sorted({i for f, i in items if f == file and i in ids})
        other = sorted({i for f, i in items if f == file and i not in ids})
        caught[tool] += bool(hits)
        cell = ", ".join(hits) if hits else ("-" if ids else "")
        if other:
            cell += (" " if cell else "") + "(other: " + ", ".join(other) + ")"
        cells.append(cell or "nothing")
    print(f"| {what} (`{file}`) | " + " | ".join(cells) + " |")
print("| AWS cases caught | " + " | ".join(f"{caught[t]}/4" for t in found) + " |")
EOF
