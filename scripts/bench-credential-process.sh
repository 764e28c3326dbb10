#!/usr/bin/env bash
# Time `credbroker credential-process` with the daemon warm, side by side
# with the AWS CLI v2 from Debian and aws-sso-util (PyPI) resolving
# equivalent cached credentials.
#
#   scripts/bench-credential-process.sh [--runs N]
#
# First it installs what it drives (hyperfine, the AWS CLI, a Secret Service,
# aws-sso-util in a venv under target/) and builds the release binary. Then, in a temporary HOME under a private
# D-Bus session with an unlocked gnome-keyring, it starts the emulator,
# signs in (the emulator approves at once), starts the daemon and warms its
# cache. Finally hyperfine times, in one run:
#
#   credbroker credential-process --profile dev                         (daemon socket)
#   credbroker --version                          (the floor: starting the binary at all)
#   aws configure export-credentials --format process --profile cli-sso (AWS CLI)
#   aws-sso-util credential-process --profile sso-util                  (aws-sso-util)
#
# `cli-sso` is an ordinary AWS CLI SSO profile for the same role, with the
# same role credentials in the CLI's own cache (~/.aws/cli/cache) and the
# session token in ~/.aws/sso/cache, so the CLI also answers without any
# network call: both sides serve cached credentials. (The CLI 2.9 cannot be
# pointed at the emulator, so its role-credential cache is written here.)
# `sso-util` is a legacy (start URL) SSO profile: aws-sso-util reads the
# session token from ~/.aws/sso/cache, fetches the role once from the
# emulator (boto3 honours AWS_ENDPOINT_URL) and answers from its own cache
# after that.
# Last, with the daemon stopped, it times the in-process fallback (keychain).
#
# Results: hyperfine's JSON in target/bench/, and a summary on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

runs=200
if [ "${1:-}" = "--runs" ]; then runs="$2"; shift 2; fi

. "$repo/scripts/bench-common.sh"

if [ "${1:-}" != "--inside" ]; then
    need hyperfine command -v hyperfine
    need dbus command -v dbus-run-session
    need gnome-keyring command -v gnome-keyring-daemon
    need python3 command -v python3
    need awscli test -x /usr/bin/aws
    need python3-venv python3 -c 'import ensurepip'
    install_needed
    venv="$repo/target/bench-venv"
    if [ ! -x "$venv/bin/aws-sso-util" ]; then
        echo "==> aws-sso-util from PyPI into $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet aws-sso-util
    fi
    echo "==> cargo build --release"
    cargo build --release --quiet --bin credbroker
    export RUNS="$runs"
    enter_private_session "$repo/scripts/bench-credential-process.sh"
    exit
fi

# ---- inside the private D-Bus session (scripts/bench-common.sh) ------------
inside_private_session
sso_util="$repo/target/bench-venv/bin/aws-sso-util"

echo "==> emulator, sign-in, daemon"
start_emulator

mkdir -p "$HOME/.aws"
cat >"$AWS_CONFIG_FILE" <<EOF
[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[profile dev]
credential_process = $bin credential-process --profile dev
credbroker_sso_session = corp
credbroker_account_id = 111111111111
credbroker_role_name = ReadOnly
region = us-east-1

[profile cli-sso]
sso_session = corp
sso_account_id = 111111111111
sso_role_name = ReadOnly
region = us-east-1

[profile sso-util]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_account_id = 111111111111
sso_role_name = ReadOnly
region = us-east-1
EOF

"$bin" login --sso-session corp --no-browser --export-aws-cli-cache >/dev/null 2>&1
"$bin" daemon --listen 127.0.0.1:0 >/dev/null 2>"$WORK/daemon.err" &
pids+=($!)
daemon_pid=$!
wait_for_file "$CREDBROKER_RUNTIME_DIR/endpoint"

# Warm the daemon, and give the CLI the same role credentials in its cache.
"$bin" credential-process --profile dev >"$WORK/dev.json"
python3 - "$WORK/dev.json" "$HOME/.aws/cli/cache" <<'EOF'
import hashlib, json, os, sys
doc = json.load(open(sys.argv[1]))
# botocore's SSOCredentialFetcher cache key for an sso-session profile.
key = json.dumps({"accountId": "111111111111", "roleName": "ReadOnly", "sessionName": "corp"},
                 sort_keys=True, separators=(",", ":"))
os.makedirs(sys.argv[2], exist_ok=True)
path = os.path.join(sys.argv[2], hashlib.sha1(key.encode()).hexdigest() + ".json")
with open(path, "w") as f:
    json.dump({"ProviderType": "sso", "Credentials": {
        "AccessKeyId": doc["AccessKeyId"], "SecretAccessKey": doc["SecretAccessKey"],
        "SessionToken": doc["SessionToken"], "Expiration": doc["Expiration"]}}, f)
os.chmod(path, 0o600)
EOF
# Both must answer with the same credentials, without the network.
cli_key="$(/usr/bin/aws configure export-credentials --format process --profile cli-sso \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["AccessKeyId"])')"
cb_key="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["AccessKeyId"])' "$WORK/dev.json")"
[ "$cli_key" = "$cb_key" ] || { echo "the AWS CLI did not answer from its cache" >&2; exit 1; }

# aws-sso-util finds a legacy profile's token under the start URL's key;
# its first call fetches the role from the emulator, the rest are cached.
python3 - "$HOME/.aws/sso/cache" <<'EOF'
import hashlib, os, shutil, sys
named = lambda key: os.path.join(sys.argv[1], hashlib.sha1(key.encode()).hexdigest() + ".json")
shutil.copy(named("corp"), named("https://corp.awsapps.com/start"))
EOF
fetches() {
    curl -fsS "$AWS_ENDPOINT_URL/_emulator/stats" |
        python3 -c 'import json,sys; print(json.load(sys.stdin).get("GetRoleCredentials", 0))'
}
"$sso_util" credential-process --profile sso-util >/dev/null
before="$(fetches)"
"$sso_util" credential-process --profile sso-util >/dev/null
[ "$(fetches)" = "$before" ] || { echo "aws-sso-util did not answer from its cache" >&2; exit 1; }

echo "==> hyperfine (daemon warm)"
hyperfine -N --warmup 20 --min-runs "$RUNS" --style basic \
    --export-json "$out/credential-process.json" \
    -n "credbroker credential-process (daemon)" "$bin credential-process --profile dev" \
    -n "credbroker --version (process start alone)" "$bin --version" \
    -n "aws configure export-credentials (AWS CLI $(/usr/bin/aws --version 2>&1 | cut -d' ' -f1 | cut -d/ -f2))" \
    "/usr/bin/aws configure export-credentials --format process --profile cli-sso" \
    -n "aws-sso-util credential-process ($("$sso_util" --version))" \
    "$sso_util credential-process --profile sso-util"

echo "==> hyperfine (no daemon: in-process from the keychain)"
kill -TERM "$daemon_pid"
wait "$daemon_pid" 2>/dev/null || true
hyperfine -N --warmup 3 --min-runs 30 --style basic \
    --export-json "$out/credential-process-in-process.json" \
    -n "credbroker credential-process (in-process)" "$bin credential-process --profile dev"

python3 - "$out/credential-process.json" "$out/credential-process-in-process.json" <<'EOF'
import json, sys
results = json.load(open(sys.argv[1]))["results"] + json.load(open(sys.argv[2]))["results"]
print("\n| command | median | mean ± σ | min | runs |\n|---|---|---|---|---|")
for r in results:
    print(f"| {r['command']} | {r['median']*1000:.2f} ms | {r['mean']*1000:.2f} ± {r['stddev']*1000:.2f} ms "
          f"| {r['min']*1000:.2f} ms | {len(r['times'])} |")
fast, cli, sso_util = results[0]["median"], results[2]["median"], results[3]["median"]
print(f"\nAWS CLI median / credbroker (daemon) median: {cli / fast:.0f}x")
print(f"aws-sso-util median / credbroker (daemon) median: {sso_util / fast:.0f}x")
EOF
