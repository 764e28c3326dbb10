#!/usr/bin/env bash
# `credbroker onboard` of many accounts and roles: wall time and upstream
# calls, side by side with boto3 and the AWS CLI listing the same accounts
# and roles from the same emulator.
#
#   scripts/bench-onboard.sh [--accounts N] [--roles N] [--runs N] [--cli-accounts N] [--bin PATH] [--lock FILE]
#
# First it installs what it drives (a Secret Service and curl from Debian;
# the AWS CLI v1 and boto3 from PyPI into target/bench-onboard-venv, because
# Debian's AWS CLI 2.9 predates AWS_ENDPOINT_URL and cannot be pointed at
# the emulator) and builds the release binary, unless --bin names one.
# Then, in a temporary HOME under a private D-Bus session
# (scripts/bench-common.sh), it starts the emulator with a directory of N
# accounts (default 200) of R roles each (default 3) and a team file
# for it, and measures, in one run, each with the emulator's
# `/_emulator/stats` read before and after:
#
#   1. `credbroker onboard --team-file team.toml --no-service --no-browser`
#      the first time: the sign-in (device code; the emulator approves at
#      once), listing every account and role, writing the managed block,
#      and the proof (`aws sts get-caller-identity` through the default
#      profile when an `aws` is on PATH, else in-process);
#   2. the same again RUNS times (default 3): the sign-in is reused, so this
#      is listing, writing and the proof; and RUNS times with no `aws` on
#      PATH, so that the proof is made in-process (no AWS CLI start);
#   3. in alternating order with 2, RUNS times each: a boto3 script
#      listing the same accounts and roles with one `sso` client, one call
#      after another (list_accounts and list_account_roles paginators), and
#      the same with 8 threads (onboard's default concurrency); both read
#      the access token from ~/.aws/sso/cache as botocore does and write no
#      file;
#   4. once: the AWS CLI v1 doing that listing as a shell script would: one
#      `aws sso list-accounts`, then one `aws sso list-account-roles` per
#      account, for the first --cli-accounts accounts (default 20: each
#      process starts Python and botocore, a second or more here); the time
#      for all accounts is extrapolated per process and marked so.
#
# --lock FILE holds FILE (flock) for the measuring phase only.
# Results: a Markdown table with the load average on stdout, raw numbers
# in target/bench/onboard-*.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

usage="usage: scripts/bench-onboard.sh [--accounts N] [--roles N] [--runs N] [--cli-accounts N] [--bin PATH] [--lock FILE]"
accounts=200
roles=3
runs=3
cli_accounts=20
binary=""
lock=""
while [ $# -gt 0 ]; do
    case "$1" in
    --accounts) accounts="$2"; shift 2 ;;
    --roles) roles="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --cli-accounts) cli_accounts="$2"; shift 2 ;;
    --bin) binary="$(realpath "$2")"; shift 2 ;;
    --lock) lock="$2"; shift 2 ;;
    --inside) break ;;
    *) echo "$usage" >&2; exit 2 ;;
    esac
done

. "$repo/scripts/bench-common.sh"

venv="$repo/target/bench-onboard-venv"

if [ "${1:-}" != "--inside" ]; then
    prepare_peer_clients
    export ACCOUNTS="$accounts" ROLES="$roles" RUNS="$runs" CLI_ACCOUNTS="$cli_accounts" BENCH_BIN="$binary"
    hold_lock "$lock"
    enter_private_session "$repo/scripts/bench-onboard.sh"
    exit
fi

# ---- inside the private D-Bus session (scripts/bench-common.sh) ------------
inside_private_session
bin="$BENCH_BIN"
rm -f "$out"/onboard-*

python3 - "$WORK/directory.toml" "$ACCOUNTS" "$ROLES" <<'EOF'
import sys
path, accounts, roles = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
names = ["ReadOnly", "PowerUser", "Admin"] + [f"Role{i}" for i in range(3, roles)]
with open(path, "w") as f:
    for i in range(accounts):
        role_list = ", ".join(f'"{r}"' for r in names[:roles])
        f.write(f'[[accounts]]\nid = "{100000000000 + i}"\nname = "acct-{i:03d}"\nroles = [{role_list}]\n\n')
EOF
cat >"$WORK/team.toml" <<'EOF'
start_url = "https://corp.awsapps.com/start"
region = "us-east-1"
session_name = "corp"
EOF

echo "==> emulator: $ACCOUNTS accounts x $ROLES roles"
emulator_args=(--directory "$WORK/directory.toml")
start_emulator
mkdir -p "$HOME/.aws"
: >"$AWS_CONFIG_FILE"
stats() { curl -fsS "$AWS_ENDPOINT_URL/_emulator/stats"; }
now_ns() { date +%s%N; }

# One measured command: NAME, then the command. Appends "NAME seconds
# stats-before stats-after" (JSON on one line each) to onboard-runs.txt.
measure() { # NAME COMMAND...
    local name="$1" before start end
    shift
    before="$(stats)"
    start="$(now_ns)"
    "$@" >"$out/onboard-$name.out" 2>"$out/onboard-$name.err" ||
        { echo "$name failed:" >&2; cat "$out/onboard-$name.err" >&2; exit 1; }
    end="$(now_ns)"
    printf '%s\t%s\t%s\t%s\n' "$name" "$(((end - start) / 1000))" "$before" "$(stats)" >>"$out/onboard-runs.txt"
    echo "    $name: $(((end - start) / 1000000)) ms"
}

onboard() { "$bin" onboard --team-file "$WORK/team.toml" --no-service --no-browser --json; }

load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "==> onboard, first run (sign-in included)"
measure onboard-first-1 onboard
grep -c '^\[profile ' "$AWS_CONFIG_FILE" >"$out/onboard-profiles.txt"

# The same session's token for boto3 and the AWS CLI, where botocore looks
# for it (~/.aws/sso/cache/<sha1 of the session name>.json).
"$bin" login --sso-session corp --no-browser --export-aws-cli-cache >/dev/null 2>&1
token_files=("$HOME"/.aws/sso/cache/*.json)
token_file="${token_files[0]}"
access_token="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["accessToken"])' "$token_file")"

cat >"$WORK/list.py" <<'EOF'
"""Every account and role the token can use, with boto3's sso client."""
import json, sys
from concurrent.futures import ThreadPoolExecutor
import boto3

token = json.load(open(sys.argv[1]))["accessToken"]
threads = int(sys.argv[2])
sso = boto3.client("sso", region_name="us-east-1")
accounts = [a["accountId"] for page in sso.get_paginator("list_accounts").paginate(accessToken=token)
            for a in page["accountList"]]

def roles(account):
    return [(account, r["roleName"])
            for page in sso.get_paginator("list_account_roles").paginate(accessToken=token, accountId=account)
            for r in page["roleList"]]

if threads > 1:
    with ThreadPoolExecutor(threads) as pool:
        pairs = [p for ps in pool.map(roles, accounts) for p in ps]
else:
    pairs = [p for a in accounts for p in roles(a)]
print(len(accounts), len(pairs))
EOF

cat >"$WORK/list-cli.sh" <<'EOF'
#!/bin/sh
# Every account and role the token can use, one AWS CLI call at a time.
set -eu
aws="$1" token="$2" most="$3"
n=0
for account in $("$aws" sso list-accounts --access-token "$token" --region us-east-1 \
    --output text --query 'accountList[].accountId'); do
    [ "$n" -lt "$most" ] || break
    "$aws" sso list-account-roles --access-token "$token" --account-id "$account" \
        --region us-east-1 --output text --query 'roleList[].roleName' >/dev/null
    n=$((n + 1))
done
echo "$n"
EOF

mkdir "$WORK/no-aws" # a PATH without the AWS CLI: onboard proves in-process
echo "==> onboard again and boto3, alternating, $RUNS runs each"
for run in $(seq "$RUNS"); do
    order=(onboard onboard-in-process boto3 boto3-8)
    [ $((run % 2)) = 0 ] && order=(boto3-8 boto3 onboard-in-process onboard)
    for what in "${order[@]}"; do
        case "$what" in
        onboard) measure "onboard-again-$run" onboard ;;
        onboard-in-process) measure "onboard-in-process-$run" env PATH="$WORK/no-aws" "$bin" \
            onboard --team-file "$WORK/team.toml" --no-service --no-browser --json ;;
        boto3) measure "boto3-$run" "$venv/bin/python" "$WORK/list.py" "$token_file" 1 ;;
        boto3-8) measure "boto3-8-$run" "$venv/bin/python" "$WORK/list.py" "$token_file" 8 ;;
        esac
    done
done
echo "==> the AWS CLI v1, one call per account, the first $CLI_ACCOUNTS accounts"
measure aws-cli-1 sh "$WORK/list-cli.sh" "$venv/bin/aws" "$access_token" "$CLI_ACCOUNTS"
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$out" "$load_start" "$load_end" "$ACCOUNTS" "$ROLES" \
    "$("$venv/bin/aws" --version 2>&1)" "$("$venv/bin/python" -c 'import boto3; print(boto3.__version__)')" <<'EOF'
import json, os, statistics, sys
out, load_start, load_end, accounts, roles, cli_version, boto3_version = sys.argv[1:]
rows = {}
for line in open(os.path.join(out, "onboard-runs.txt")):
    name, micros, before, after = line.rstrip("\n").split("\t")
    before, after = json.loads(before), json.loads(after)
    calls = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    kind = name.rsplit("-", 1)[0]
    rows.setdefault(kind, []).append((int(micros) / 1e6, {k: v for k, v in calls.items() if v}))
profiles = open(os.path.join(out, "onboard-profiles.txt")).read().strip()
for kind in ("boto3", "boto3-8", "aws-cli"):
    check = open(os.path.join(out, f"onboard-{kind}-1.out")).read().split()
    print(f"{kind} found: {' '.join(check)} (accounts, pairs)" if kind != "aws-cli"
          else f"aws-cli listed the roles of {check[0]} accounts")
print(f"\n{accounts} accounts x {roles} roles; onboard wrote {profiles} profiles; "
      f"load average {load_start} at the start, {load_end} at the end; "
      f"{cli_version.split()[0]}, boto3 {boto3_version}\n")
labels = {
    "onboard-first": "`credbroker onboard`, first run (sign-in, listing, writing, proof)",
    "onboard-again": "`credbroker onboard` again (sign-in reused; proof by the AWS CLI)",
    "onboard-in-process": "`credbroker onboard` again, no AWS CLI on PATH (proof in-process)",
    "boto3": "boto3, one call after another (listing only)",
    "boto3-8": "boto3, 8 threads (listing only)",
}
base = statistics.median(t for t, _ in rows["onboard-in-process"])
print("| what | runs | median wall time | / onboard, proof in-process | upstream calls (one run) |")
print("|---|---|---|---|---|")
for kind, label in labels.items():
    times = [t for t, _ in rows[kind]]
    calls = ", ".join(f"{k} {v}" for k, v in sorted(rows[kind][0][1].items()))
    total = sum(rows[kind][0][1].values())
    print(f"| {label} | {len(times)} | {statistics.median(times):.2f} s | "
          f"{statistics.median(times) / base:.2f} | {total}: {calls} |")
cli_time, cli_calls = rows["aws-cli"][0]
listed = int(open(os.path.join(out, "onboard-aws-cli-1.out")).read().split()[0])
per_process = cli_time / (1 + listed)
whole = per_process * (1 + int(accounts))
print(f"| AWS CLI v1, one `aws` process per command (listing only): {1 + listed} processes measured | 1 "
      f"| {cli_time:.2f} s ({per_process:.2f} s a process) | | {sum(cli_calls.values())}: "
      + ", ".join(f"{k} {v}" for k, v in sorted(cli_calls.items())) + " |")
print(f"| the same for all {accounts} accounts, **extrapolated** ({1 + int(accounts)} processes) | | {whole:.1f} s "
      f"| {whole / base:.1f} | |")
EOF
