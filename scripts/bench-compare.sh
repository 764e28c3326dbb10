#!/usr/bin/env bash
# Two revisions of credbroker side by side in one run: the warm
# `credential-process` and the endpoint's throughput of each.
#
#   scripts/bench-compare.sh [--runs N] [--duration SECS] [--lock FILE] [--no-build] REV_A REV_B
#
# Each revision is checked out into its own git worktree
# (target/bench-compare/a and b) and its `credbroker` built with one and
# the same release profile, set through CARGO_PROFILE_RELEASE_* so that a
# revision's own [profile.release] does not decide: no LTO, 16 codegen
# units, opt-level 3, symbols kept (for perf), panic = unwind. That is not
# the shipping profile (fat LTO, one codegen unit): two fat-LTO builds take
# too long on a small machine, and what is compared is the code, not the
# profile. Both builds share one target directory
# (target/bench-compare/target), so the dependencies the two lock files
# share are built once; each binary is copied to target/bench-compare/bin.
# REV_B's examples/minimal_server.rs, if it has one, is built too and
# measured beside them as the limit of the stack (the same yardstick for
# both revisions).
#
# Then, in a temporary HOME under a private D-Bus session
# (scripts/bench-common.sh): one emulator (REV_B's), an AWS config of
# 1,000 profiles (as scripts/bench.sh writes it), and for each revision its
# own sign-in, keychain service and runtime directory, and one daemon,
# warmed. Measured, alternating the two revisions so that drift on a shared
# machine touches both alike:
#
#   1. hyperfine, in rounds of alternating order, of each revision's
#      `credential-process --profile dev` against its own daemon and of its
#      `--version` (the cost of starting that binary at all);
#   2. wrk --latency at 1, 64 and 256 connections against each daemon's
#      `/v1/credentials/dev` with its per-profile token, in the order
#      A, B, limit, B, A at each concurrency (so each daemon runs twice);
#   3. CPU time per request of each server (utime + stime over its runs)
#      and each daemon's VmRSS at the end;
#   4. if perf works here, a flat profile of each daemon at 64 connections.
#
# --lock FILE holds FILE (flock) for the measuring phase only, not for the
# builds, so that two benchmarks sharing a machine never overlap.
# --no-build takes the binaries already in target/bench-compare/bin.
#
# Results: raw output in target/bench/compare-*, and Markdown tables with
# the load average on stdout. The worktrees stay for a second run; remove
# them with `git worktree remove --force target/bench-compare/a` (and b).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

usage="usage: scripts/bench-compare.sh [--runs N] [--duration SECS] [--lock FILE] [--no-build] REV_A REV_B"
runs=300
duration=10
lock=""
build=1
revs=()
while [ $# -gt 0 ]; do
    case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --lock) lock="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --inside) break ;;
    -*) echo "$usage" >&2; exit 2 ;;
    *) revs+=("$1"); shift ;;
    esac
done

. "$repo/scripts/bench-common.sh"

base="$repo/target/bench-compare"

# A worktree of REV at target/bench-compare/SIDE, reused when it is there.
checkout() { # SIDE REV
    local dir="$base/$1" commit
    commit="$(git -C "$repo" rev-parse --verify --quiet "$2^{commit}")" ||
        { echo "not a revision: $2" >&2; exit 2; }
    if [ -e "$dir" ] && [ "$(git -C "$dir" rev-parse HEAD 2>/dev/null)" != "$commit" ]; then
        git -C "$repo" worktree remove --force "$dir"
    fi
    [ -e "$dir" ] || git -C "$repo" worktree add --quiet --detach "$dir" "$commit"
    # The checkout sits inside this repository's workspace; a revision from
    # before the workspace would be taken for a member it does not list.
    grep -q '^\[workspace\]' "$dir/Cargo.toml" || printf '\n[workspace]\n' >>"$dir/Cargo.toml"
    git -C "$dir" log -1 --format="$1: %h %s" | cut -c1-100
}

if [ "${1:-}" != "--inside" ]; then
    [ ${#revs[@]} = 2 ] || { echo "$usage" >&2; exit 2; }
    need wrk command -v wrk
    need hyperfine command -v hyperfine
    need curl command -v curl
    need python3 command -v python3
    need dbus command -v dbus-run-session
    need gnome-keyring command -v gnome-keyring-daemon
    install_needed
    mkdir -p "$base/bin"
    checkout a "${revs[0]}"
    checkout b "${revs[1]}"
    if [ "$build" = 1 ]; then
        export CARGO_TARGET_DIR="$base/target" CARGO_PROFILE_RELEASE_LTO=false \
            CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL=3 \
            CARGO_PROFILE_RELEASE_STRIP=none CARGO_PROFILE_RELEASE_DEBUG=false \
            CARGO_PROFILE_RELEASE_PANIC=unwind CARGO_PROFILE_RELEASE_INCREMENTAL=false
        # The binary alone, as the revision ships it: built with an example,
        # its dependencies would get the dev-dependencies' features too.
        for side in a b; do
            echo "==> $side: cargo build --release --bin credbroker (no LTO, 16 codegen units)"
            SECONDS=0
            # Cargo hashes a workspace member's path relative to the
            # workspace, so both checkouts' members share artifact names, and
            # it takes an artifact newer than the sources for fresh: this
            # side's checkout predates the other side's build. Newer sources
            # make it build this side's own code.
            git -C "$base/$side" ls-files -z | (cd "$base/$side" && xargs -0 touch)
            (cd "$base/$side" && nice -n 10 cargo build --release --locked --quiet --bin credbroker)
            echo "    built in ${SECONDS}s"
            cp "$CARGO_TARGET_DIR/release/credbroker" "$base/bin/credbroker-$side"
        done
        rm -f "$base/bin/minimal_server"
        if [ -f "$base/b/examples/minimal_server.rs" ]; then
            echo "==> b: cargo build --release --example minimal_server (the limit)"
            (cd "$base/b" && nice -n 10 cargo build --release --locked --quiet --example minimal_server)
            cp "$CARGO_TARGET_DIR/release/examples/minimal_server" "$base/bin/minimal_server"
        fi
    fi
    for side in a b; do
        [ -x "$base/bin/credbroker-$side" ] || { echo "no build of $side: run without --no-build" >&2; exit 1; }
    done
    export RUNS="$runs" DURATION="$duration"
    REV_A="$(git -C "$base/a" rev-parse --short HEAD)" REV_B="$(git -C "$base/b" rev-parse --short HEAD)"
    export REV_A REV_B
    hold_lock "$lock"
    enter_private_session "$repo/scripts/bench-compare.sh"
    exit
fi

# ---- inside the private D-Bus session (scripts/bench-common.sh) ------------
inside_private_session
# shellcheck disable=SC2034 # read through ${!binary}
bin_a="$base/bin/credbroker-a"
bin_b="$base/bin/credbroker-b"
bin="$bin_b" # the emulator, and the clean-up on exit
minimal="$base/bin/minimal_server"
[ -x "$minimal" ] || minimal=""

json_field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["set"][sys.argv[2]])' "$@"; }

# One revision's binary with its own keychain service, runtime directory and
# state directory (so each daemon writes its own audit trail). Through env,
# so that a command started with & is the binary itself (its pid is $!).
side_vars() { # SIDE
    echo "CREDBROKER_KEYCHAIN_SERVICE=credbroker-bench-$$-$1 CREDBROKER_RUNTIME_DIR=$WORK/run/$1"
    echo "XDG_STATE_HOME=$WORK/state-$1"
}
as_side() { # SIDE ARGS...
    local binary="bin_$1" vars
    read -r -d '' -a vars < <(side_vars "$1") || true
    shift
    env "${vars[@]}" "${!binary}" "$@"
}

echo "==> emulator; 1,000 profiles"
start_emulator
write_bench_profiles

declare -A daemon_pid url token
for side in a b; do
    echo "==> $side: sign-in, daemon, warm"
    mkdir -m 700 "$WORK/run/$side"
    as_side "$side" login --sso-session corp --no-browser >/dev/null 2>"$WORK/login-$side.err" ||
        { cat "$WORK/login-$side.err" >&2; exit 1; }
    read -r -d '' -a vars < <(side_vars "$side") || true
    binary="bin_$side"
    env "${vars[@]}" "${!binary}" daemon --listen 127.0.0.1:0 >/dev/null 2>"$WORK/daemon-$side.err" &
    daemon_pid[$side]=$!
    pids+=($!)
    wait_for_file "$WORK/run/$side/endpoint"
    # Warm it, and check that the answer comes from the daemon's socket.
    RUST_LOG=credbroker=debug as_side "$side" credential-process --profile dev \
        >"$WORK/process-$side.json" 2>"$WORK/check-$side.err"
    if grep -q "resolving in-process" "$WORK/check-$side.err"; then
        echo "$side: credential-process did not reach its daemon" >&2
        cat "$WORK/check-$side.err" >&2
        exit 1
    fi
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["Version"] == 1 and d["AccessKeyId"]' \
        "$WORK/process-$side.json"
    env_json="$(as_side "$side" env --profile dev --format json)"
    url[$side]="$(json_field "$env_json" AWS_CONTAINER_CREDENTIALS_FULL_URI)"
    token[$side]="$(json_field "$env_json" AWS_CONTAINER_AUTHORIZATION_TOKEN)"
    curl -fsS -o "$WORK/body-$side.json" -H "Authorization: ${token[$side]}" "${url[$side]}"
done

if [ -n "$minimal" ]; then
    "$minimal" "$WORK/body-b.json" >"$WORK/minimal.out" &
    daemon_pid[limit]=$!
    pids+=($!)
    wait_for_file "$WORK/minimal.out"
    url[limit]="$(head -n1 "$WORK/minimal.out")/v1/credentials/dev"
fi

load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
rm -f "$out"/compare-*

echo "==> hyperfine: credential-process and --version, alternating rounds"
rounds=6
per_round=$(((RUNS + rounds - 1) / rounds))
for round in $(seq "$rounds"); do
    order=(a b)
    [ $((round % 2)) = 0 ] && order=(b a)
    commands=()
    for side in "${order[@]}"; do
        binary="bin_$side"
        prefix="env $(side_vars "$side" | tr '\n' ' ')${!binary}"
        commands+=(-n "$side: credential-process" "$prefix credential-process --profile dev")
        commands+=(-n "$side: --version" "$prefix --version")
    done
    hyperfine -N --warmup 10 --runs "$per_round" --style none \
        --export-json "$out/compare-hyperfine-$round.json" "${commands[@]}"
done

echo "==> wrk at 1, 64 and 256 connections: A, B, limit, B, A"
sides=(a b)
[ -n "$minimal" ] && sides+=(limit)
for conns in 1 64 256; do
    threads=2
    [ "$conns" = 1 ] && threads=1
    run=0
    for side in a b limit b a; do
        [ "$side" = limit ] && [ -z "$minimal" ] && continue
        run=$((run + 1))
        auth=()
        [ "$side" = limit ] || auth=(-H "Authorization: ${token[$side]}")
        echo "    -c $conns $side"
        wrk_with_cpu "${daemon_pid[$side]}" "$out/compare-cpu-$conns-$run-$side.txt" \
            "$out/compare-wrk-$conns-$run-$side.txt" \
            -t"$threads" -c"$conns" -d"${DURATION}s" --latency "${auth[@]}" "${url[$side]}"
    done
done
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"
sleep 2
for side in a b; do rss_kib "${daemon_pid[$side]}" >"$out/compare-rss-$side.txt"; done

if perf_works; then
    echo "==> perf: each daemon at 64 connections"
    for side in a b; do
        profile_under_load "${daemon_pid[$side]}" "${url[$side]}" "${token[$side]}" "$out/compare-perf-$side"
        sed -E 's/[[:space:]]+(-[[:space:]]+)*$//' "$out/compare-perf-$side-all.txt" |
            head -30 >"$out/compare-perf-$side.txt" || true
    done
fi

python3 - "$repo" "$out" "$(getconf CLK_TCK)" "$load_start" "$load_end" "${sides[@]}" <<'EOF'
import glob, json, os, re, statistics, sys
repo_dir, out, hz = sys.argv[1], sys.argv[2], int(sys.argv[3])
load_start, load_end, sides = sys.argv[4], sys.argv[5], sys.argv[6:]
rev = {"a": os.environ["REV_A"], "b": os.environ["REV_B"], "limit": "limit"}

times = {}
for path in sorted(glob.glob(os.path.join(out, "compare-hyperfine-*.json"))):
    for r in json.load(open(path))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
med = {k: statistics.median(v) * 1000 for k, v in times.items()}
lo = {k: min(v) * 1000 for k, v in times.items()}
print(f"\nload average at the start of the measuring: {load_start}; at the end of wrk: {load_end}\n")
print(f"| warm `credential-process --profile dev` | A {rev['a']} median | B {rev['b']} median | B / A | A min | B min | runs each |")
print("|---|---|---|---|---|---|---|")
for what in ("credential-process", "--version"):
    a, b = f"a: {what}", f"b: {what}"
    print(f"| `{what}` | {med[a]:.2f} ms | {med[b]:.2f} ms | {med[b] / med[a]:.2f} | "
          f"{lo[a]:.2f} ms | {lo[b]:.2f} ms | {len(times[a])} |")

sys.path.insert(0, os.path.join(repo_dir, "scripts"))
import bench_wrk

print("\n| connections | A req/s (runs 1, 5) | B req/s (runs 2, 4) | B / A | limit req/s (run 3) | A p50 | B p50 | A p99 | B p99 | B / A p99 | CPU per request A | B | limit |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for conns in (1, 64, 256):
    runs = {s: [] for s in sides}
    cpu = {s: 0 for s in sides}
    for path in sorted(glob.glob(os.path.join(out, f"compare-wrk-{conns}-*.txt"))):
        side = path.rsplit("-", 1)[1][:-4]
        runs[side].append(bench_wrk.parse(path))
        cpu[side] += bench_wrk.ticks(path.replace("compare-wrk-", "compare-cpu-"))
    mean = lambda side, key: statistics.mean(r[key] for r in runs[side])
    us = {s: bench_wrk.cpu_per_request_us(cpu[s], sum(r["requests"] for r in runs[s]), hz) for s in sides}
    for s in ("a", "b"):
        if any(r["errors"] or r["sockets"] for r in runs[s]):
            print(f"<!-- {s} at {conns}: non-2xx or socket errors in its wrk output -->")
    fmt = lambda s: " / ".join(f"{r['rps']:,.0f}" for r in runs[s])
    limit = f"{runs['limit'][0]['rps']:,.0f}" if "limit" in sides else "-"
    limit_cpu = f"{us['limit']:.1f} µs" if "limit" in sides else "-"
    print(f"| {conns} | {fmt('a')} (mean {mean('a', 'rps'):,.0f}) | {fmt('b')} (mean {mean('b', 'rps'):,.0f}) "
          f"| **{mean('b', 'rps') / mean('a', 'rps'):.2f}** | {limit} "
          f"| {mean('a', 'p50'):.3f} ms | {mean('b', 'p50'):.3f} ms | {mean('a', 'p99'):.3f} ms | {mean('b', 'p99'):.3f} ms "
          f"| {mean('b', 'p99') / mean('a', 'p99'):.2f} | {us['a']:.1f} µs | {us['b']:.1f} µs | {limit_cpu} |")

rss = {s: int(open(os.path.join(out, f"compare-rss-{s}.txt")).read()) for s in ("a", "b")}
print(f"\nVmRSS after the loads: A {rss['a'] / 1024:.1f} MiB, B {rss['b'] / 1024:.1f} MiB")
for s in ("a", "b"):
    path = os.path.join(out, f"compare-perf-{s}.txt")
    if os.path.exists(path):
        print(f"\nperf, {s} ({rev[s]}) at 64 connections, top symbols:\n")
        print("".join(open(path).readlines()[:15]))
EOF
