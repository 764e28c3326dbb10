#!/usr/bin/env bash
# The cold path: the first credential after sign-in for a role not fetched
# yet, credbroker side by side with boto3 fetching the same kind of role
# credentials from the same emulator with a cold cache.
#
#   scripts/bench-cold.sh [--roles N] [--bin PATH] [--lock FILE]
#
# First it installs what it drives (a Secret Service and curl from Debian,
# boto3 from PyPI into target/bench-onboard-venv) and builds the release
# binary, unless --bin names one. Then, in a temporary HOME under a private
# D-Bus session (scripts/bench-common.sh): the emulator with a directory of
# 4 x N + 2 accounts (default N = 10) of one role each, so that every
# measured request is for a role nobody has fetched; one `credbroker login
# --export-aws-cli-cache` (the token in the keychain for credbroker, and in
# ~/.aws/sso/cache, where botocore's SSO provider reads it); one daemon; and
# one Python process with boto3 imported, driven as a co-process. After one
# warm-up fetch on each side (the daemon's first request and boto3's first
# client pay one-time costs), it measures, alternating the two sides role by
# role:
#
#   in-process: a GET of /v1/credentials/PROFILE to the daemon, timed by
#     curl from the request to the whole answer (the daemon reads the token
#     from memory, calls GetRoleCredentials, writes the role's credentials
#     to the keychain), against `boto3.Session(profile_name=P)
#     .get_credentials().get_frozen_credentials()` in the warm Python
#     process (a new session, so an empty credential cache; botocore reads
#     the token file and calls GetRoleCredentials; it writes nothing);
#   whole process: `credbroker credential-process --profile P` (a new
#     process asking the running daemon for a cold role), against a new
#     `python3 -c 'import boto3; ...'` doing the same fetch (a tool starting
#     and needing credentials it has never had).
#
# The emulator's GetRoleCredentials count is checked: one per measured role.
# --lock FILE holds FILE (flock) for the measuring phase only.
# Results: a Markdown table with the load average on stdout, raw times in
# target/bench/cold-*.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

usage="usage: scripts/bench-cold.sh [--roles N] [--bin PATH] [--lock FILE]"
roles=10
binary=""
lock=""
while [ $# -gt 0 ]; do
    case "$1" in
    --roles) roles="$2"; shift 2 ;;
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
    export ROLES="$roles" BENCH_BIN="$binary"
    hold_lock "$lock"
    enter_private_session "$repo/scripts/bench-cold.sh"
    exit
fi

# ---- inside the private D-Bus session (scripts/bench-common.sh) ------------
inside_private_session
bin="$BENCH_BIN"
python="$venv/bin/python"
rm -f "$out"/cold-*

# Accounts 0 and 1 are the warm-ups; then N each for the four measurements.
count=$((4 * ROLES + 2))
python3 - "$WORK/directory.toml" "$AWS_CONFIG_FILE" "$count" <<'EOF'
import os, sys
directory, config, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(os.path.dirname(config), exist_ok=True)
with open(directory, "w") as d, open(config, "w") as c:
    c.write("[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n"
            "sso_region = us-east-1\nsso_registration_scopes = sso:account:access\n")
    for i in range(count):
        account = 100000000000 + i
        d.write(f'[[accounts]]\nid = "{account}"\nname = "acct-{i:03d}"\nroles = ["ReadOnly"]\n\n')
        # The same role twice: credbroker's keys for credbroker, the SDKs' own
        # SSO keys for boto3 (each profile is used by one side only).
        c.write(f"\n[profile cb-{i}]\ncredbroker_sso_session = corp\ncredbroker_account_id = {account}\n"
                f"credbroker_role_name = ReadOnly\nregion = us-east-1\n")
        c.write(f"\n[profile py-{i}]\nsso_session = corp\nsso_account_id = {account}\n"
                f"sso_role_name = ReadOnly\nregion = us-east-1\n")
EOF

echo "==> emulator ($count accounts, one role each), sign-in, daemon"
emulator_args=(--directory "$WORK/directory.toml")
start_emulator
stats() { curl -fsS "$AWS_ENDPOINT_URL/_emulator/stats"; }
"$bin" login --sso-session corp --no-browser --export-aws-cli-cache >/dev/null 2>&1
"$bin" daemon --listen 127.0.0.1:0 >/dev/null 2>"$WORK/daemon.err" &
pids+=($!)
wait_for_file "$CREDBROKER_RUNTIME_DIR/endpoint"
endpoint="$(cat "$CREDBROKER_RUNTIME_DIR/endpoint")"
token="$(cat "$CREDBROKER_RUNTIME_DIR/token")"

# The warm Python process: a profile name in, the fetch's seconds out.
coproc BOTO {
    "$python" -u -c '
import sys, time
import boto3
for line in sys.stdin:
    start = time.perf_counter()
    creds = boto3.Session(profile_name=line.strip()).get_credentials().get_frozen_credentials()
    assert creds.access_key and creds.token
    print(time.perf_counter() - start, flush=True)
'
}
pids+=("$BOTO_PID")
boto_fetch() { # PROFILE: seconds on stdout
    echo "$1" >&"${BOTO[1]}"
    local seconds
    read -r seconds <&"${BOTO[0]}"
    echo "$seconds"
}
daemon_fetch() { # PROFILE: seconds on stdout
    curl -fsS -o /dev/null -w '%{time_total}\n' -H "Authorization: $token" "$endpoint/v1/credentials/$1"
}
now_ns() { date +%s%N; }

echo "==> warm-up: one role on each side"
daemon_fetch cb-0 >/dev/null
boto_fetch py-1 >/dev/null

load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
stats_before="$(stats)"
echo "==> $ROLES cold roles each: daemon request and boto3 in-process, alternating"
for i in $(seq 0 $((ROLES - 1))); do
    daemon_fetch "cb-$((2 + i))" >>"$out/cold-daemon.txt"
    boto_fetch "py-$((2 + ROLES + i))" >>"$out/cold-boto3.txt"
done
echo "==> $ROLES cold roles each: credential-process and a new Python process, alternating"
for i in $(seq 0 $((ROLES - 1))); do
    start="$(now_ns)"
    "$bin" credential-process --profile "cb-$((2 + 2 * ROLES + i))" >/dev/null
    echo "$((($(now_ns) - start) / 1000))" >>"$out/cold-credential-process.txt"
    start="$(now_ns)"
    "$python" -c 'import sys, boto3; boto3.Session(profile_name=sys.argv[1]).get_credentials().get_frozen_credentials()' \
        "py-$((2 + 3 * ROLES + i))"
    echo "$((($(now_ns) - start) / 1000))" >>"$out/cold-python.txt"
done
stats_after="$(stats)"
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$out" "$ROLES" "$load_start" "$load_end" "$stats_before" "$stats_after" \
    "$("$python" -c 'import boto3, botocore; print(boto3.__version__, botocore.__version__)')" <<'EOF'
import json, os, statistics, sys
out, roles, load_start, load_end, before, after, versions = sys.argv[1:]
roles = int(roles)
calls = json.loads(after).get("GetRoleCredentials", 0) - json.loads(before).get("GetRoleCredentials", 0)
if calls != 4 * roles:
    sys.exit(f"expected {4 * roles} GetRoleCredentials calls, the emulator counted {calls}")
read = lambda name, scale: sorted(float(l) * scale for l in open(os.path.join(out, f"cold-{name}.txt")) if l.strip())
sides = {"daemon": read("daemon", 1000), "boto3": read("boto3", 1000),
         "credential-process": read("credential-process", 0.001), "python": read("python", 0.001)}
p90 = lambda ms: ms[int(round((len(ms) - 1) * 0.9))]
print(f"\n{roles} cold roles per row, alternating; GetRoleCredentials calls: {calls} (one per role); "
      f"load average {load_start} at the start, {load_end} at the end; boto3/botocore {versions}\n")
print("| cold role, first credential | median | p90 | max | ratio of medians |")
print("|---|---|---|---|---|")
rows = [("daemon", "credbroker daemon: GET /v1/credentials/P (curl, request to answer)", None),
        ("boto3", "boto3 in a warm process: new Session, get_credentials", "daemon"),
        ("credential-process", "`credbroker credential-process --profile P` (new process, daemon running)", None),
        ("python", "new `python3 -c 'import boto3; ...get_credentials()'`", "credential-process")]
for key, label, against in rows:
    ms = sides[key]
    ratio = f"{statistics.median(ms) / statistics.median(sides[against]):.2f} x credbroker's" if against else ""
    print(f"| {label} | {statistics.median(ms):.1f} ms | {p90(ms):.1f} ms | {ms[-1]:.1f} ms | {ratio} |")
EOF
