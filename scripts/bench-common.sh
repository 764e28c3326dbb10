# The set-up scripts/bench.sh and scripts/bench-credential-process.sh share.
# Sourced (with $repo set to the repository), never run.
#
# Outside the private session:
#   need PACKAGE CHECK...      queue Debian PACKAGE unless CHECK succeeds
#   install_needed             install what was queued (sudo unless root)
#   prepare_peer_clients       for the cold-path scripts: a Secret Service
#                              and curl; the AWS CLI v1 and boto3 from PyPI
#                              in $venv; the release binary unless $binary
#                              names one (then $binary names it)
#   enter_private_session SCRIPT ARGS...
#                              run `SCRIPT ARGS... --inside` in a temporary
#                              HOME under a private D-Bus session; $WORK is
#                              that directory, removed on exit
# Inside it:
#   inside_private_session     unlock a gnome-keyring, point credbroker and
#                              the AWS tools at the temporary HOME, set $bin
#                              and $out, and stop everything in $pids on exit
#   start_emulator             the emulator (approves at once, 12 h
#                              credentials and tokens, then the flags in
#                              the emulator_args array); exports AWS_ENDPOINT_URL
#   wait_for_file FILE         until FILE is non-empty (10 s at most)
#   hold_lock FILE             with FILE given, wait for it and hold it
#                              (flock on fd 9) until the script ends
#   rss_kib PID, cpu_ticks PID a process's VmRSS, and its utime + stime
#   wrk_with_cpu PID CPU_FILE OUT WRK_ARGS...
#                              wrk WRK_ARGS... into OUT, and the CPU ticks
#                              PID spent meanwhile into CPU_FILE (read back
#                              by scripts/bench_wrk.py)
#   perf_works                 perf is installed and the kernel lets it sample
#   profile_under_load PID URL TOKEN PREFIX
#                              wrk at 64 connections on URL for 8 s while perf
#                              samples PID for 6 s: PREFIX-threads.txt gets
#                              the CPU share by thread, PREFIX-all.txt every
#                              symbol's share
#   write_bench_profiles [BIN] the benchmarks' AWS config: one sso-session
#                              and 1,000 profiles over the emulator's three
#                              roles (`dev` the loaded one, `cold` one not
#                              fetched yet); with BIN, each profile also has
#                              a `credential_process` line running BIN

bench_missing=()
emulator_args=()

need() { # PACKAGE CHECK...
    local package="$1"
    shift
    "$@" >/dev/null 2>&1 || bench_missing+=("$package")
}

install_needed() {
    [ ${#bench_missing[@]} -gt 0 ] || return 0
    local sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    echo "==> installing Debian packages: ${bench_missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        "${bench_missing[@]}" >/dev/null
}

prepare_peer_clients() {
    need curl command -v curl
    need python3 command -v python3
    need python3-venv python3 -c 'import ensurepip'
    need dbus command -v dbus-run-session
    need gnome-keyring command -v gnome-keyring-daemon
    install_needed
    # The AWS CLI v1 from PyPI, because Debian's AWS CLI 2.9 predates
    # AWS_ENDPOINT_URL and cannot be pointed at the emulator.
    if [ ! -x "$venv/bin/aws" ] || ! "$venv/bin/python" -c 'import boto3' 2>/dev/null; then
        echo "==> the AWS CLI v1 and boto3 from PyPI into $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check awscli boto3
    fi
    if [ -z "$binary" ]; then
        echo "==> cargo build --release"
        cargo build --release --quiet --bin credbroker
        binary="$repo/target/release/credbroker"
    fi
}

enter_private_session() { # SCRIPT ARGS...
    WORK="$(mktemp -d)"
    trap 'rm -rf "$WORK"' EXIT
    mkdir -p "$WORK/home" "$WORK/data" "$WORK/run"
    chmod 700 "$WORK/run"
    export WORK HOME="$WORK/home" XDG_DATA_HOME="$WORK/data" XDG_RUNTIME_DIR="$WORK/run"
    dbus-run-session -- "$@" --inside
}

inside_private_session() {
    printf bench-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    bin="$repo/target/release/credbroker"
    out="$repo/target/bench"
    mkdir -p "$out"
    export CREDBROKER_KEYCHAIN_SERVICE="credbroker-bench-$$"
    export CREDBROKER_RUNTIME_DIR="$WORK/run/credbroker"
    export AWS_CONFIG_FILE="$HOME/.aws/config"
    export AWS_SHARED_CREDENTIALS_FILE="$HOME/.aws/credentials"
    unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
    export AWS_EC2_METADATA_DISABLED=true
    pids=()
    trap stop_everything EXIT
}

stop_everything() {
    "$bin" logout --all >/dev/null 2>&1 || true
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}

wait_for_file() { # FILE
    for _ in $(seq 400); do
        [ -s "$1" ] && return 0
        sleep 0.025
    done
    echo "timed out waiting for $1" >&2
    return 1
}

start_emulator() {
    "$bin" emulator --listen 127.0.0.1:0 --auto-approve --credentials-ttl 43200 --token-ttl 43200 \
        "${emulator_args[@]}" >"$WORK/emulator.out" 2>/dev/null &
    pids+=($!)
    wait_for_file "$WORK/emulator.out"
    AWS_ENDPOINT_URL="$(head -n1 "$WORK/emulator.out")"
    export AWS_ENDPOINT_URL
}

hold_lock() { # FILE
    [ -n "$1" ] || return 0
    echo "==> waiting for $1"
    exec 9>"$1"
    flock 9
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # utime + stime

wrk_with_cpu() { # PID CPU_FILE OUT WRK_ARGS...
    local pid="$1" cpu_file="$2" wrk_out="$3" ticks
    shift 3
    ticks="$(cpu_ticks "$pid")"
    wrk "$@" >"$wrk_out"
    echo $(($(cpu_ticks "$pid") - ticks)) >"$cpu_file"
}

perf_works() {
    command -v perf >/dev/null && perf record -o /dev/null -- true >/dev/null 2>&1
}

profile_under_load() { # PID URL TOKEN PREFIX
    local data="$WORK/perf.data" wrk_pid
    wrk -t2 -c64 -d8s -H "Authorization: $3" "$2" >/dev/null &
    wrk_pid=$!
    sleep 1
    perf record -F 999 -o "$data" -p "$1" -- sleep 6 >/dev/null 2>&1
    wait "$wrk_pid"
    perf report -i "$data" --no-children --sort comm --stdio 2>/dev/null |
        grep '%' >"$4-threads.txt" || true
    perf report -i "$data" --no-children --sort symbol --stdio 2>/dev/null |
        grep '%' >"$4-all.txt" || true
}

write_bench_profiles() { # [BIN]
    mkdir -p "$(dirname "$AWS_CONFIG_FILE")"
    python3 - "$AWS_CONFIG_FILE" "${1:-}" <<'EOF'
import sys
path, binary = sys.argv[1], sys.argv[2]
roles = [("111111111111", "ReadOnly"), ("111111111111", "Admin"), ("222222222222", "ReadOnly")]
names = ["dev", "cold"] + [f"team-{i:04d}" for i in range(998)]
with open(path, "w") as f:
    f.write("[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n"
            "sso_region = us-east-1\nsso_registration_scopes = sso:account:access\n")
    for i, name in enumerate(names):
        account, role = roles[0] if name == "dev" else roles[2] if name == "cold" else roles[i % 3]
        process = f"credential_process = {binary} credential-process --profile {name}\n" if binary else ""
        f.write(f"\n[profile {name}]\n{process}credbroker_sso_session = corp\n"
                f"credbroker_account_id = {account}\ncredbroker_role_name = {role}\nregion = us-east-1\n")
EOF
}
