#!/usr/bin/env bash
# Where the daemon's memory goes under load: the daemon run under heaptrack
# (Debian's heaptrack), with its live heap and its RSS read at idle points
# between equal loads.
#
#   scripts/bench-heap.sh [--seconds SECS] [--connections N] [--loads N] [--bin PATH]
#
# In a temporary HOME under a private D-Bus session (scripts/bench-common.sh)
# it starts the emulator, signs in, writes the same 1,000-profile AWS config
# as scripts/bench.sh and starts the daemon under heaptrack. Then:
#
#   idle (one request served) -> load 1 -> idle -> load 2 -> idle -> load 3
#   -> idle -> a clean stop (SIGTERM)
#
# (--loads sets how many loads, 3 by default. The recording is kept as
# target/bench/heap-N-loads.zst, for `heaptrack_print -f A --diff B`.)
#
# Each load is wrk at N keep-alive connections (default 64) for SECS
# seconds (default 20) against `/v1/credentials/dev`; each idle point waits
# 2 s (past the audit writer's end of a burst, when it gives memory back)
# and reads the daemon's VmRSS, its anonymous and file-backed parts, and
# its thread count. heaptrack slows every allocation, so
# the loads are bounded in time, not in count, and the request counts are
# reported.
#
# Out of heaptrack's recording it reports, on stdout as Markdown:
#
#   - the live heap (bytes allocated and not yet freed) at each idle point,
#     beside the RSS there: a leak grows the live heap with every load; a
#     high-water mark of the allocator leaves the live heap where it was
#     while the RSS stays up;
#   - the peak of the live heap, and what held it (heaptrack_print
#     --print-peaks), which is what the RSS high-water mark is made of;
#   - what was still allocated at the clean stop (--print-leaks);
#   - what grew between one idle point and the next, by allocation site
#     (scripts/heap_growth.py over the recording): where a growth of the
#     live heap comes from.
#
# --bin takes a built binary (with symbols, such as the one scripts/bench.sh
# builds); without it, target/release/credbroker is built with symbols kept.
# Raw output lands in target/bench/heap-*.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

usage="usage: scripts/bench-heap.sh [--seconds SECS] [--connections N] [--loads N] [--bin PATH]"
seconds=20
connections=64
loads=3
binary=""
while [ $# -gt 0 ]; do
    case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --loads) loads="$2"; shift 2 ;;
    --bin) binary="$(realpath "$2")"; shift 2 ;;
    --inside) break ;;
    *) echo "$usage" >&2; exit 2 ;;
    esac
done

. "$repo/scripts/bench-common.sh"

if [ "${1:-}" != "--inside" ]; then
    need heaptrack command -v heaptrack_print
    need zstd command -v zstd
    need wrk command -v wrk
    need curl command -v curl
    need python3 command -v python3
    need dbus command -v dbus-run-session
    need gnome-keyring command -v gnome-keyring-daemon
    install_needed
    if [ -z "$binary" ]; then
        echo "==> cargo build --release (symbols kept)"
        CARGO_PROFILE_RELEASE_STRIP=false cargo build --release --quiet --bin credbroker
        binary="$repo/target/release/credbroker"
    fi
    export BENCH_BIN="$binary" SECONDS_PER_LOAD="$seconds" CONNECTIONS="$connections" LOADS="$loads"
    enter_private_session "$repo/scripts/bench-heap.sh"
    exit
fi

# ---- inside the private D-Bus session (scripts/bench-common.sh) ------------
inside_private_session
bin="$BENCH_BIN"
# VmRSS, then its anonymous part (the heap, stacks) and its file-backed part
# (the binary's pages touched so far), then the thread count.
memory() { awk '/^(VmRSS|RssAnon|RssFile|Threads):/ { printf "%s ", $2 }' "/proc/$1/status"; }
now_ms() { date +%s%3N; }

echo "==> emulator and sign-in"
start_emulator
write_bench_profiles
"$bin" login --sso-session corp --no-browser >/dev/null 2>&1

echo "==> the daemon under heaptrack"
rm -f "$CREDBROKER_RUNTIME_DIR/endpoint"
start_ms="$(now_ms)"
heaptrack -o "$WORK/heap" "$bin" daemon --listen 127.0.0.1:0 >"$WORK/heaptrack.out" 2>&1 &
heaptrack_pid=$!
wait_for_file "$CREDBROKER_RUNTIME_DIR/endpoint"
daemon_pid="$(pgrep -n -f "^$bin daemon --listen")"
pids+=("$daemon_pid")
env_json="$("$bin" env --profile dev --format json)"
url="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["set"]["AWS_CONTAINER_CREDENTIALS_FULL_URI"])' "$env_json")"
token="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["set"]["AWS_CONTAINER_AUTHORIZATION_TOKEN"])' "$env_json")"
curl -fsS -o /dev/null -H "Authorization: $token" "$url"

marks=() # "label ms-since-start requests rss anon file threads"
idle() { # LABEL REQUESTS
    sleep 2
    marks+=("$1 $(($(now_ms) - start_ms)) $2 $(memory "$daemon_pid")")
    sleep 1
}
idle idle 0
threads=2
[ "$CONNECTIONS" -gt 1 ] || threads=1
for n in $(seq "$LOADS"); do
    echo "==> load $n: wrk -c $CONNECTIONS for ${SECONDS_PER_LOAD}s"
    wrk -t"$threads" -c"$CONNECTIONS" -d"${SECONDS_PER_LOAD}s" -H "Authorization: $token" "$url" >"$out/heap-wrk-$n.txt"
    idle "after-load-$n" "$(awk '/requests in/ { print $1 }' "$out/heap-wrk-$n.txt")"
done
echo "==> clean stop"
kill -TERM "$daemon_pid"
wait "$heaptrack_pid" || true
cp "$WORK/heaptrack.out" "$out/heap-heaptrack.out"
data="$(find "$WORK" -maxdepth 1 -name 'heap*' \( -name '*.zst' -o -name '*.gz' \) | head -n1)"
[ -n "$data" ] || { echo "heaptrack wrote no data:" >&2; cat "$WORK/heaptrack.out" >&2; exit 1; }
cp "$data" "$out/heap-$LOADS-loads.${data##*.}"
heaptrack_print -f "$data" --print-peaks -n 12 -s 3 --print-leaks \
    --print-massif "$out/heap-massif.txt" --massif-detailed-freq 0 >"$out/heap-print.txt"

growth_at=()
for mark in "${marks[@]}"; do growth_at+=("$(echo "$mark" | cut -d' ' -f2)"); done
case "$data" in
*.zst) zstd -dc "$data" ;;
*) gzip -dc "$data" ;;
esac | python3 "$repo/scripts/heap_growth.py" "${growth_at[@]}" >"$out/heap-growth.txt"

python3 - "$out" "${marks[@]}" <<'EOF'
import os, re, sys
out, marks = sys.argv[1], [m.split() for m in sys.argv[2:]]
# The massif file's snapshots: time (heaptrack writes seconds since the
# start) and the live heap at that time.
text = open(os.path.join(out, "heap-massif.txt")).read()
snaps = [(float(t), int(h)) for t, h in re.findall(r"time=([\d.]+)\nmem_heap_B=(\d+)", text)]
def heap_at(ms):
    before = [h for t, h in snaps if t <= ms]
    return before[-1] if before else None
printed = open(os.path.join(out, "heap-print.txt")).read()
def grab(pattern):
    found = re.search(pattern, printed)
    return found.group(1) if found else "?"
print(f"Live heap and RSS at the idle points ({os.environ['CONNECTIONS']} connections, "
      f"{os.environ['SECONDS_PER_LOAD']} s per load, under heaptrack):\n")
print("| point | requests in the load | live heap | RSS | anonymous | file-backed | threads |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for label, ms, requests, rss, anon, file, threads in marks:
    heap = heap_at(float(ms) / 1000)
    heap_text = f"{heap / 1024:,.0f} KiB" if heap is not None else "?"
    print(f"| {label} | {int(requests):,} | {heap_text} | {int(rss):,} KiB | {int(anon):,} KiB "
          f"| {int(file):,} KiB | {threads} |")
print()
peak = grab(r"peak heap memory consumption: (.*)")
peak_rss = grab(r"peak RSS \(including heaptrack overhead\): (.*)")
leaked = grab(r"total memory leaked: (.*)")
print(f"- peak live heap: {peak}")
print(f"- peak RSS, heaptrack's own overhead included: {peak_rss}")
print(f"- still allocated at the clean stop: {leaked}")
print("\nWhat grew between the idle points, by allocation site (scripts/heap_growth.py):")
print("\n```text" + open(os.path.join(out, "heap-growth.txt")).read() + "```")
print(f"\nThe peak's holders and the leaks are in {out}/heap-print.txt.")
EOF
