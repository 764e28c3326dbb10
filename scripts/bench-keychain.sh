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
    install_needed
    echo "==> cargo build --profile $profile --example keychain_latency"
    cargo build --profile "$profile" --quiet --example keychain_latency
    case "$profile" in dev) dir=debug ;; *) dir="$profile" ;; esac
    export RUNS="$runs" EXAMPLE="$repo/target/$dir/examples/keychain_latency"
    enter_private_session "$repo/scripts/bench-keychain.sh"
    exit
fi

# ---- inside the private D-Bus session (scripts/bench-common.sh) ------------
inside_private_session
echo "==> $RUNS writes and $RUNS reads through keyring 3, then through the held session"
"$EXAMPLE" "$RUNS" | tee "$out/keychain-latency.json"
