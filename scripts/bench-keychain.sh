#!/usr/bin/env bash
# Keychain read and write latency, before and after the held Secret Service
# session, side by side in one run.
#
#   scripts/bench-keychain.sh [--runs N] [--profile release|dev]
#
# It installs what it drives (a Secret Service), builds
# examples/keychain_latency.rs (release unless told), and runs it in a
# temporary HOME under a private D-Bus session with an unlocked
# gnome-keyring. The example writes and reads one item N times (100 unless
# told) through `keyring` 3, which opens a new D-Bus connection and Secret
# Service session (with its DH exchange) for every access, as credbroker did
# before; then N times through credbroker's KeychainStore, which holds one
# connection and one session. The medians are what docs/benchmarks.md
# records; the write median with the held session is the refresh-token
# crash window docs/lifecycle.md states.
#
# Then the cold path, against the emulator: 10 rounds of sign in, start
# the daemon, and time (curl's total) the first request for each of three
# roles not fetched yet (each reads the token, fetches the role from the
# emulator and writes it to the keychain), then stop the daemon and sign
# out (which removes the roles' credentials).
#
# Results: the example's JSON in target/bench/keychain-latency.json, and on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

runs=100
profile=release
while [ $# -gt 0 ] && [ "$1" != "--inside" ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --profile) profile="$2"; shift 2 ;;
        *) echo "usage: $0 [--runs N] [--profile release|dev]" >&2; exit 2 ;;
    esac
done

. "$repo/scripts/bench-common.sh"

if [ "${1:-}" != "--inside" ]; then
    need dbus command -v dbus-run-session
    need gnome-keyring command -v gnome-keyring-daemon
    need curl command -v curl
    install_needed
    echo "==> cargo build --profile $profile --example keychain_latency"
    cargo build --profile "$profile" --quiet --example keychain_latency --bin credbroker
    case "$profile" in dev) dir=debug ;; *) dir="$profile" ;; esac
    export RUNS="$runs" EXAMPLE="$repo/target/$dir/examples/keychain_latency"
    export CREDBROKER_BENCH_BIN="$repo/target/$dir/credbroker"
    enter_private_session "$repo/scripts/bench-keychain.sh"
    exit
fi

# ---- inside the private D-Bus session (scripts/bench-common.sh) ------------
inside_private_session
echo "==> $RUNS writes and $RUNS reads through keyring 3, then through the held session"
"$EXAMPLE" "$RUNS" | tee "$out/keychain-latency.json"

echo "==> cold path: the first credential after sign-in, three roles, 10 rounds"
bin="$CREDBROKER_BENCH_BIN"
start_emulator
mkdir -p "$HOME/.aws"
cat >"$AWS_CONFIG_FILE" <<EOF
[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[profile dev]
credbroker_sso_session = corp
credbroker_account_id = 111111111111
credbroker_role_name = ReadOnly

[profile admin]
credbroker_sso_session = corp
credbroker_account_id = 111111111111
credbroker_role_name = Admin

[profile prod]
credbroker_sso_session = corp
credbroker_account_id = 222222222222
credbroker_role_name = ReadOnly
EOF
: >"$WORK/cold.txt"
for _ in $(seq 10); do
    "$bin" login --sso-session corp --no-browser >/dev/null 2>&1
    rm -f "$CREDBROKER_RUNTIME_DIR/endpoint"
    "$bin" daemon --listen 127.0.0.1:0 >/dev/null 2>>"$WORK/daemon.err" &
    daemon_pid=$!
    wait_for_file "$CREDBROKER_RUNTIME_DIR/endpoint"
    endpoint="$(cat "$CREDBROKER_RUNTIME_DIR/endpoint")"
    token="$(cat "$CREDBROKER_RUNTIME_DIR/token")"
    for profile in dev admin prod; do
        curl -fsS -o /dev/null -w '%{time_total}\n' -H "Authorization: $token" \
            "$endpoint/v1/credentials/$profile" >>"$WORK/cold.txt"
    done
    kill -TERM "$daemon_pid"
    wait "$daemon_pid" 2>/dev/null || true
    "$bin" logout --all >/dev/null 2>&1
done
python3 - "$WORK/cold.txt" "$out/cold-path.json" <<'EOF'
import json, statistics, sys
ms = sorted(float(line) * 1000 for line in open(sys.argv[1]) if line.strip())
report = {"first_requests": len(ms), "median_ms": round(statistics.median(ms), 2),
          "p90_ms": round(ms[int(round((len(ms) - 1) * 0.9))], 2), "max_ms": round(ms[-1], 2)}
json.dump(report, open(sys.argv[2], "w"))
print(json.dumps(report))
EOF
