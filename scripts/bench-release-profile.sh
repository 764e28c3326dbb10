#!/usr/bin/env bash
# The shipping build against the build before it, side by side in one run:
# binary size, and the warm `credential-process` median of each.
#
#   scripts/bench-release-profile.sh [--runs N]
#
# "after" is `cargo build --release` with the [profile.release] of
# Cargo.toml (fat LTO, one codegen unit, symbols stripped, panic = unwind).
# "before" is the same source built with the profile the project had
# until then (`codegen-units = 4`, Cargo's defaults otherwise: no LTO
# across crates, debug info stripped), set through CARGO_PROFILE_RELEASE_*
# into its own target directory (target/bench-before) so the two builds do
# not overwrite each other. Both builds run under `nice -n 10`.
#
# Then, in a temporary HOME under a private D-Bus session
# (scripts/bench-common.sh): the emulator, one sign-in, and one daemon of
# each build, each with its own runtime directory; both warmed. hyperfine
# times, in one run (each command's runs one after another), each binary's `credential-process
# --profile dev` against its own daemon and each binary's `--version` (the
# cost of starting it at all).
#
# Results: hyperfine's JSON in target/bench/release-profile.json, and a
# summary table on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

runs=300
if [ "${1:-}" = "--runs" ]; then runs="$2"; shift 2; fi

. "$repo/scripts/bench-common.sh"

before_dir="$repo/target/bench-before"

if [ "${1:-}" != "--inside" ]; then
    need hyperfine command -v hyperfine
    need dbus command -v dbus-run-session
    need gnome-keyring command -v gnome-keyring-daemon
    need python3 command -v python3
    install_needed
    echo "==> before: the earlier release profile (codegen-units = 4, no LTO)"
    # Unset, strip's default is "debuginfo" for a profile without debug info.
    CARGO_TARGET_DIR="$before_dir" CARGO_PROFILE_RELEASE_LTO=false \
        CARGO_PROFILE_RELEASE_CODEGEN_UNITS=4 CARGO_PROFILE_RELEASE_STRIP=debuginfo \
        nice -n 10 cargo build --release --quiet --bin credbroker
    echo "    built in ${SECONDS}s"
    SECONDS=0
    echo "==> after: the shipping release profile (Cargo.toml)"
    nice -n 10 cargo build --release --quiet --bin credbroker
    echo "    built in ${SECONDS}s"
    export RUNS="$runs"
    enter_private_session "$repo/scripts/bench-release-profile.sh"
    exit
fi

# ---- inside the private D-Bus session (scripts/bench-common.sh) ------------
inside_private_session
before="$before_dir/release/credbroker"
after="$bin"

echo "==> emulator, sign-in, one daemon per build"
start_emulator
mkdir -p "$HOME/.aws"
cat >"$AWS_CONFIG_FILE" <<EOF
[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[profile dev]
credential_process = $after credential-process --profile dev
credbroker_sso_session = corp
credbroker_account_id = 111111111111
credbroker_role_name = ReadOnly
region = us-east-1
EOF
"$after" login --sso-session corp --no-browser >/dev/null 2>&1

for build in before after; do
    dir="$WORK/run/$build"
    CREDBROKER_RUNTIME_DIR="$dir" "${!build}" daemon --listen 127.0.0.1:0 \
        >/dev/null 2>"$WORK/daemon-$build.err" &
    pids+=($!)
    wait_for_file "$dir/endpoint"
    # Warm it, and check that the answer comes from the daemon's socket.
    CREDBROKER_RUNTIME_DIR="$dir" RUST_LOG=credbroker=debug \
        "${!build}" credential-process --profile dev >/dev/null 2>"$WORK/check-$build.err"
    if grep -q "resolving in-process" "$WORK/check-$build.err"; then
        echo "$build: credential-process did not reach its daemon" >&2
        cat "$WORK/check-$build.err" >&2
        exit 1
    fi
done

echo "==> hyperfine (both daemons warm)"
hyperfine -N --warmup 20 --min-runs "$RUNS" --style basic \
    --export-json "$out/release-profile.json" \
    -n "before: credential-process (daemon)" \
    "env CREDBROKER_RUNTIME_DIR=$WORK/run/before $before credential-process --profile dev" \
    -n "after: credential-process (daemon)" \
    "env CREDBROKER_RUNTIME_DIR=$WORK/run/after $after credential-process --profile dev" \
    -n "before: --version" "env CREDBROKER_RUNTIME_DIR=$WORK/run/before $before --version" \
    -n "after: --version" "env CREDBROKER_RUNTIME_DIR=$WORK/run/after $after --version"

python3 - "$out/release-profile.json" "$before" "$after" <<'EOF'
import json, os, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
size = {"before": os.path.getsize(sys.argv[2]), "after": os.path.getsize(sys.argv[3])}
print("\n| build | binary size | credential-process median | min | --version median | runs |")
print("|---|---|---|---|---|---|")
for build in ("before", "after"):
    cp = results[f"{build}: credential-process (daemon)"]
    v = results[f"{build}: --version"]
    print(f"| {build} | {size[build] / 1048576:.1f} MiB ({size[build]:,} bytes) "
          f"| {cp['median']*1000:.2f} ms | {cp['min']*1000:.2f} ms "
          f"| {v['median']*1000:.2f} ms | {len(cp['times'])} |")
b = results["before: credential-process (daemon)"]["median"]
a = results["after: credential-process (daemon)"]["median"]
print(f"\nsize after / before: {size['after'] / size['before']:.2f}; "
      f"credential-process median after / before: {a / b:.2f}")
EOF
