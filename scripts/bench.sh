#!/usr/bin/env bash
# Benchmarks of the daemon's endpoint, side by side with the limit of its
# stack, written into docs/benchmarks.md.
#
#   scripts/bench.sh [--duration SECS] [--rounds N] [--requests N] [--profile shipping|fast]
#
# --profile (or BENCH_PROFILE): `shipping` (the default) builds both
# servers with the release profile of Cargo.toml (fat LTO, one codegen
# unit: minutes on a small machine); `fast` builds both with LTO off, 16
# codegen units and incremental compilation, for iterating. Either way the
# symbols are kept (CARGO_PROFILE_RELEASE_STRIP=false) so that perf can
# name them; the code is the same. The generated text says which was
# measured.
#
# First it installs what it drives from Debian (wrk, hyperfine, a Secret
# Service, curl, python3) and builds the release binary and the
# `minimal_server` example. Then, in a temporary HOME under a private D-Bus
# session with an unlocked gnome-keyring (as scripts/test.sh), it starts the
# emulator, signs in (the emulator approves at once), writes an AWS config
# with 1,000 profiles and measures, in one run:
#
#   1. start-up: spawn the daemon, time to the first 200 (median of 10);
#   2. idle RSS of the daemon with 1,000 profiles;
#   3. wrk --latency at 1, 64 and 256 keep-alive connections against the
#      daemon (a cached profile) and against examples/minimal_server.rs
#      serving the same bytes with no auth, lookup or audit: the limit
#      (wrk sends both the same request, Authorization header included),
#      and against the limit keeping the daemon's promises (its admission
#      checks and one audit record per request: minimal_server --promises),
#      in N rounds (default 3) of SECS each (default 5) whose order rotates,
#      each figure the median over the rounds and each ratio the median of
#      the rounds' ratios (two runs side by side);
#   4. RSS after N (default 1,000,000) more requests at 64 connections,
#      then after a second and a third N (a leak grows every time, a
#      high-water mark once);
#   5. GetRoleCredentials calls the emulator served during all of it, per
#      role fetched: a cold profile under 256 connections included.
#
# Everything listens on 127.0.0.1 and every load is bounded in time or
# count. The section between the `bench.sh` markers in docs/benchmarks.md is
# replaced; the rest of the file (the credential_process section) is kept.
# Raw wrk output lands in target/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

duration=5
rounds=3
requests=1000000
profile="${BENCH_PROFILE:-shipping}"
while [ $# -gt 0 ]; do
    case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --requests) requests="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --profile) profile="$2"; shift 2 ;;
    --inside) break ;;
    *) echo "usage: scripts/bench.sh [--duration SECS] [--rounds N] [--requests N] [--profile shipping|fast]" >&2; exit 2 ;;
    esac
done

. "$repo/scripts/bench-common.sh"

if [ "${1:-}" != "--inside" ]; then
    need wrk command -v wrk
    need hyperfine command -v hyperfine
    need curl command -v curl
    need python3 command -v python3
    need dbus command -v dbus-run-session
    need gnome-keyring command -v gnome-keyring-daemon
    install_needed
    export CARGO_PROFILE_RELEASE_STRIP=false
    case "$profile" in
    shipping) ;;
    fast)
        export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
            CARGO_PROFILE_RELEASE_INCREMENTAL=true
        ;;
    *) echo "--profile is shipping or fast, not '$profile'" >&2; exit 2 ;;
    esac
    echo "==> cargo build --release ($profile profile)"
    cargo build --release --quiet --bin credbroker --example minimal_server
    export DURATION="$duration" ROUNDS="$rounds" REQUESTS="$requests" PROFILE="$profile"
    enter_private_session "$repo/scripts/bench.sh"
    exit
fi

# ---- inside the private D-Bus session (scripts/bench-common.sh) ------------
inside_private_session
minimal="$repo/target/release/examples/minimal_server"

stats() { curl -fsS "$AWS_ENDPOINT_URL/_emulator/stats"; }

echo "==> emulator and sign-in"
start_emulator
write_bench_profiles "$bin"
"$bin" login --sso-session corp --no-browser >/dev/null 2>&1

start_daemon() {
    rm -f "$CREDBROKER_RUNTIME_DIR/endpoint"
    "$bin" daemon --listen 127.0.0.1:0 >/dev/null 2>>"$WORK/daemon.err" &
    daemon_pid=$!
    pids+=("$daemon_pid")
}
stop_daemon() {
    kill -TERM "$daemon_pid"
    wait "$daemon_pid" 2>/dev/null || true
}

# Load `dev` once so it is in the keychain, and learn the endpoint's answer.
start_daemon
wait_for_file "$CREDBROKER_RUNTIME_DIR/endpoint"
env_json="$("$bin" env --profile dev --format json)"
url="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["set"]["AWS_CONTAINER_CREDENTIALS_FULL_URI"])' "$env_json")"
token="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["set"]["AWS_CONTAINER_AUTHORIZATION_TOKEN"])' "$env_json")"
curl -fsS -H "Authorization: $token" "$url" >"$WORK/body.json"
stop_daemon

echo "==> start-up to the first 200, 1,000 profiles (10 runs)"
python3 - "$bin" "$CREDBROKER_RUNTIME_DIR/endpoint" "$token" >"$out/startup.txt" <<'EOF'
import http.client, os, statistics, subprocess, sys, time
binary, endpoint_file, token = sys.argv[1:]
times = []
for _ in range(10):
    try:
        os.unlink(endpoint_file)
    except FileNotFoundError:
        pass
    start = time.monotonic()
    daemon = subprocess.Popen([binary, "daemon", "--listen", "127.0.0.1:0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if time.monotonic() - start > 10:
                sys.exit("no 200 within 10 s")
            try:
                base = open(endpoint_file).read().strip()
            except FileNotFoundError:
                time.sleep(0.0005)
                continue
            if not base:
                time.sleep(0.0005)
                continue
            host = base.split("//", 1)[1].split("/", 1)[0]
            try:
                conn = http.client.HTTPConnection(host, timeout=5)
                conn.request("GET", "/v1/credentials/dev", headers={"Authorization": token})
                status = conn.getresponse().status
                conn.close()
            except OSError:
                time.sleep(0.0005)
                continue
            if status == 200:
                times.append(time.monotonic() - start)
                break
            time.sleep(0.0005)
    finally:
        daemon.terminate()
        daemon.wait()
print(" ".join(f"{t * 1000:.1f}" for t in sorted(times)))
EOF

echo "==> the daemon, idle, 1,000 profiles"
start_daemon
wait_for_file "$CREDBROKER_RUNTIME_DIR/endpoint"
url="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["set"]["AWS_CONTAINER_CREDENTIALS_FULL_URI"])' "$("$bin" env --profile dev --format json)")"
curl -fsS -o /dev/null -H "Authorization: $token" "$url"
sleep 2
rss_idle="$(rss_kib "$daemon_pid")"

# Memory: from idle to after REQUESTS requests at 64 connections (a 3 s
# probe sizes the run), before any other load.
echo "==> $REQUESTS requests at 64 connections"
wrk -t2 -c64 -d3s -H "Authorization: $token" "$url" >"$out/wrk-daemon-probe.txt"
rate="$(awk '/^Requests\/sec:/ { print int($2) }' "$out/wrk-daemon-probe.txt")"
# wrk stops by time, not count: a quarter more than the probe's rate needs.
long=$((REQUESTS * 5 / 4 / rate + 1))
wrk -t2 -c64 -d"${long}s" --latency -H "Authorization: $token" "$url" >"$out/wrk-daemon-long.txt"
sleep 2
rss_after="$(rss_kib "$daemon_pid")"
# The same again: a leak grows again, a high-water mark does not.
echo "==> $REQUESTS more requests at 64 connections"
wrk -t2 -c64 -d"${long}s" --latency -H "Authorization: $token" "$url" >"$out/wrk-daemon-long2.txt"
sleep 2
rss_after2="$(rss_kib "$daemon_pid")"
echo "==> a third $REQUESTS at 64 connections"
wrk -t2 -c64 -d"${long}s" --latency -H "Authorization: $token" "$url" >"$out/wrk-daemon-long3.txt"
sleep 2
rss_after3="$(rss_kib "$daemon_pid")"

"$minimal" "$WORK/body.json" >"$WORK/minimal.out" &
minimal_pid=$!
pids+=("$minimal_pid")
wait_for_file "$WORK/minimal.out"
minimal_url="$(head -n1 "$WORK/minimal.out")/v1/credentials/dev"
# Same bytes: the body and the headers that matter, minus the Date line.
curl -fsS -D "$WORK/daemon.head" -o "$WORK/daemon.body" -H "Authorization: $token" "$url"
curl -fsS -D "$WORK/minimal.head" -o "$WORK/minimal.body" "$minimal_url"
cmp -s "$WORK/daemon.body" "$WORK/minimal.body" || { echo "bodies differ" >&2; exit 1; }
diff <(grep -iv '^date:' "$WORK/daemon.head") <(grep -iv '^date:' "$WORK/minimal.head") >/dev/null ||
    { echo "headers differ:" >&2; diff "$WORK/daemon.head" "$WORK/minimal.head" >&2; exit 1; }

# The limit again, keeping the daemon's promises on every request: its
# admission checks against the daemon's token and one record to an audit
# trail of its own (examples/minimal_server.rs, --promises).
"$minimal" "$WORK/body.json" --promises "$CREDBROKER_RUNTIME_DIR/token" "$WORK/promises-audit.log" \
    >"$WORK/promises.out" &
promises_pid=$!
pids+=("$promises_pid")
wait_for_file "$WORK/promises.out"
promises_url="$(head -n1 "$WORK/promises.out")/v1/credentials/dev"
curl -fsS -o "$WORK/promises.body" -H "Authorization: $token" "$promises_url"
cmp -s "$WORK/daemon.body" "$WORK/promises.body" || { echo "bodies differ (promises)" >&2; exit 1; }
status="$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: wrong" "$promises_url")"
[ "$status" = 401 ] || { echo "the promises server let a wrong token in ($status)" >&2; exit 1; }

stats_before="$(stats)"

# Each concurrency against the three servers back to back, ROUNDS times,
# the order rotating from round to round (the daemon first, then the limit,
# then the promises server), so that drift on a shared machine, and the
# place in the order, touch them alike. All get the same request, the
# daemon's Authorization header included: the limit ignores it, but its
# stack still reads and parses it, as the daemon's does.
rm -f "$out"/wrk-*-r[0-9]*.txt "$out"/cpu-*-r[0-9]*.txt
sides=(daemon minimal promises)
for conns in 1 64 256; do
    threads=2
    [ "$conns" = 1 ] && threads=1
    for round in $(seq "$ROUNDS"); do
        for turn in 0 1 2; do
            side="${sides[$(((turn + round - 1) % 3))]}"
            pid="$daemon_pid" target="$url"
            [ "$side" = minimal ] && pid="$minimal_pid" target="$minimal_url"
            [ "$side" = promises ] && pid="$promises_pid" target="$promises_url"
            echo "==> wrk -c $conns $side (round $round of $ROUNDS)"
            wrk_with_cpu "$pid" "$out/cpu-$side-$conns-r$round.txt" "$out/wrk-$side-$conns-r$round.txt" \
                -t"$threads" -c"$conns" -d"${DURATION}s" --latency -H "Authorization: $token" "$target"
        done
    done
done

# Where each server's time goes at 64 connections: a flat profile of each
# (perf from Debian's linux-perf, when the kernel lets us), the daemon's
# top symbols and, for both, every symbol's share (the report splits them
# by crate).
rm -f "$out"/perf-*-64*.txt
if perf_works; then
    echo "==> perf, daemon at 64 connections"
    profile_under_load "$daemon_pid" "$url" "$token" "$out/perf-daemon-64"
    echo "==> perf, minimal at 64 connections"
    profile_under_load "$minimal_pid" "$minimal_url" "$token" "$out/perf-minimal-64"
    head -40 "$out/perf-daemon-64-all.txt" >"$out/perf-daemon-64.txt"
fi

echo "==> cold profile under 256 connections"
cold_token="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["set"]["AWS_CONTAINER_AUTHORIZATION_TOKEN"])' "$("$bin" env --profile cold --format json)")"
wrk -t2 -c256 -d5s --latency -H "Authorization: $cold_token" "${url%/dev}/cold" >"$out/wrk-daemon-cold-256.txt"

sleep 2
rss_end="$(rss_kib "$daemon_pid")"
stats_after="$(stats)"

python3 - "$repo" "$out" "$(getconf CLK_TCK)" <<EOF
import json, os, re, statistics, subprocess, sys
repo, out, hz = sys.argv[1], sys.argv[2], int(sys.argv[3])

sys.path.insert(0, os.path.join(repo, "scripts"))
import bench_wrk

def wrk(name):
    return bench_wrk.parse(os.path.join(out, name))

rounds = int("$ROUNDS")
med = statistics.median

def runs(side, conns):
    """Each round's wrk run of one server at one concurrency."""
    return [wrk(f"wrk-{side}-{conns}-r{r}.txt") for r in range(1, rounds + 1)]

def cpu_us(side, conns):
    """The server's CPU per request, the median over the rounds."""
    return med(bench_wrk.cpu_per_request_us(
        bench_wrk.ticks(os.path.join(out, f"cpu-{side}-{conns}-r{r}.txt")), run["requests"], hz)
        for r, run in enumerate(runs(side, conns), 1))

def ratios(a, b, key):
    """a's figure over b's, round by round: two runs side by side each."""
    return [x[key] / y[key] for x, y in zip(a, b)]

def figure(side, conns, key):
    return med(run[key] for run in runs(side, conns))

def listed(values):
    return " / ".join(f"{v:.2f}" for v in values)

def failures(name, side_runs, columns):
    """A table row for a server's non-2xx answers and socket errors, if it had any."""
    errors = sum(run["errors"] for run in side_runs)
    sockets = "; ".join(run["sockets"] for run in side_runs if run["sockets"])
    if errors or sockets:
        add(f"| | {name}: {errors} non-2xx, socket errors {sockets or 'none'} |" + " |" * (columns - 2))

cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
ncpu = os.cpu_count()
kernel = os.uname().release
wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0].split(" [")[0]
startup = [float(t) for t in open(os.path.join(out, "startup.txt")).read().split()]
rss_idle, rss_after, rss_after2, rss_after3, rss_end = $rss_idle, $rss_after, $rss_after2, $rss_after3, $rss_end
probe = wrk("wrk-daemon-probe.txt")
long2 = wrk("wrk-daemon-long2.txt")
long3 = wrk("wrk-daemon-long3.txt")
long = wrk("wrk-daemon-long.txt")
before, after = json.loads('''$stats_before'''), json.loads('''$stats_after''')
calls = after.get("GetRoleCredentials", 0) - before.get("GetRoleCredentials", 0)
cold = wrk("wrk-daemon-cold-256.txt")

def ok(flag):
    return "met" if flag else "**missed**"

lines = []
add = lines.append
add("<!-- bench.sh: begin (generated by scripts/bench.sh; edits here are replaced) -->")
add("## The endpoint, side by side with the limit of its stack")
add("")
build = {"shipping": "the release profile of Cargo.toml (fat LTO, one codegen unit)",
         "fast": "the fast profile (\`--profile fast\`: no LTO, 16 codegen units, incremental)"}["$PROFILE"]
add(f"Machine: {ncpu} × {cpu}, Linux {kernel}; {wrk_version} on the same cores, "
    f"loopback only (load average {os.getloadavg()[0]:.1f} at the end of the run). "
    f"Both servers are built with {build}, symbols kept. The daemon has 1,000 profiles configured, "
    f"the audit trail on (one record per request, the caller looked up once per "
    f"connection) and the Secret Service (gnome-keyring) behind it. The limit is "
    f"\`examples/minimal_server.rs\`: hyper on the same tokio runtime, answering every "
    f"request with the same body and headers, with no authorization, routing, lookup "
    f"or audit. Each wrk run lasts $DURATION s. At each concurrency the servers run back to back, "
    f"{rounds} rounds in an order that rotates from round to round; each figure below is the median "
    f"over the rounds, and each ratio the median of the rounds' ratios, each of two runs side by side. "
    f"wrk sends every server the same request: the token, the per-profile one "
    f"\`credbroker env --profile dev\` prints, goes to the limit too, which reads and ignores it.")
add("")
add("Reproduce: \`scripts/bench.sh\` (all of it, about six minutes after the build); "
    "each wrk line is \`wrk -t2 -cC -d${DURATION}s --latency -H \"Authorization: \$TOKEN\" "
    "http://127.0.0.1:PORT/v1/credentials/dev\` (\`-t1\` at one connection). Raw output: \`target/bench/\`.")
add("")
add("### Throughput and latency (cached profile)")
add("")
add("| connections | daemon req/s | limit req/s | ratio (target ≥ 0.8) | each round | daemon p50 | limit p50 | daemon p99 | limit p99 | p99 ratio (target ≤ 1.5) | each round |")
add("|---|---|---|---|---|---|---|---|---|---|---|")
for c in (1, 64, 256):
    d, m = runs("daemon", c), runs("minimal", c)
    rate, tail = ratios(d, m, "rps"), ratios(d, m, "p99")
    ratio, p99 = med(rate), med(tail)
    add(f"| {c} | {figure('daemon', c, 'rps'):,.0f} | {figure('minimal', c, 'rps'):,.0f} | "
        f"{ratio:.2f} ({ok(ratio >= 0.8)}) | {listed(rate)} | "
        f"{figure('daemon', c, 'p50'):.3f} ms | {figure('minimal', c, 'p50'):.3f} ms | "
        f"{figure('daemon', c, 'p99'):.3f} ms | {figure('minimal', c, 'p99'):.3f} ms | "
        f"{p99:.2f} ({ok(p99 <= 1.5)}) | {listed(tail)} |")
    failures("daemon", d, 11)
add("")
add("CPU time of each server per request (utime + stime from \`/proc/PID/stat\` over each run; the median over the rounds):")
add("")
add("| connections | daemon | limit | ratio |")
add("|---|---|---|---|")
for c in (1, 64, 256):
    per = {}
    for side in ("daemon", "minimal"):
        per[side] = cpu_us(side, c)
    add(f"| {c} | {per['daemon']:.1f} µs | {per['minimal']:.1f} µs | {per['daemon'] / per['minimal']:.1f}× |")
add("")
add("### The price of the promises")
add("")
add("The third server is the limit keeping, on every request, the promises the daemon keeps "
    "and nothing else (\`minimal_server --promises\`): the daemon's own admission checks "
    "(\`server::auth::admit_on\`: no browser, the \`Host\` header, the token compared in "
    "constant time, the same per-connection memo) against the daemon's token, and one record "
    "queued to the daemon's own audit writer, which writes it to a file. It ran in the same "
    "rounds as the other two, with the same request. So *promises / limit* is what the "
    "promises cost, and *daemon / promises* is what the rest of the daemon costs: its routing, "
    "its kept answer, the profile-name and freshness checks, and the caller lookup once per connection.")
add("")
add("| connections | daemon req/s | limit with the promises req/s | daemon / promises | promises / limit | p99 daemon / promises | CPU per request, promises |")
add("|---|---|---|---|---|---|---|")
for c in (1, 64, 256):
    d, m, k = runs("daemon", c), runs("minimal", c), runs("promises", c)
    add(f"| {c} | {figure('daemon', c, 'rps'):,.0f} | {figure('promises', c, 'rps'):,.0f} | "
        f"{med(ratios(d, k, 'rps')):.2f} | {med(ratios(k, m, 'rps')):.2f} "
        f"| {med(ratios(d, k, 'p99')):.2f} | {cpu_us('promises', c):.1f} µs |")
    failures("promises", k, 7)
add("")
add("p50 and p99 are wrk's latency distribution over all requests of the run (the "
    "median and 99th percentile of request latency).")
add("")
profile = os.path.join(out, "perf-daemon-64.txt")
if os.path.exists(profile) and os.path.getsize(profile):
    add("Flat profile of the daemon at 64 connections (\`perf record -F 999 -p PID\`, "
        "\`perf report --no-children --sort symbol\`), CPU share by thread, then the top symbols:")
    add("")
    add("\`\`\`text")
    for line in open(os.path.join(out, "perf-daemon-64-threads.txt")).read().splitlines()[:4]:
        add(" ".join(line.split()))
    add("")
    for line in open(profile).read().splitlines()[:20]:
        add(" ".join(line.split()).removesuffix(" - -")[:150])
    add("\`\`\`")
    add("")
split = {side: os.path.join(out, f"perf-{side}-64-all.txt") for side in ("daemon", "minimal")}
if all(os.path.exists(f) and os.path.getsize(f) for f in split.values()):
    def crate(symbol):
        kind, _, name = symbol.partition(" ")
        if kind == "[k]":
            return "kernel"
        name = name.lstrip("<&*")
        found = re.match(r"(?:_?<)?([A-Za-z_][A-Za-z0-9_]*)::", name)
        if not found:
            return "libc and the allocator" if re.match(r"_?_?(mem|malloc|free|_int_|cfree|realloc|str)", name) else "other"
        top = found.group(1)
        return {"std": "std, core, alloc", "core": "std, core, alloc", "alloc": "std, core, alloc",
                "mio": "tokio", "http": "hyper", "httparse": "hyper", "hyper_util": "hyper"}.get(top, top)
    def shares(path):
        total = {}
        for line in open(path).read().splitlines():
            found = re.match(r"\s*([\d.]+)%\s+(\[[k.]\]\s+.*)", line)
            if found:
                group = crate(found.group(2).strip())
                total[group] = total.get(group, 0.0) + float(found.group(1))
        return total
    cpu64 = {}
    for side in ("daemon", "minimal"):
        cpu64[side] = cpu_us(side, 64)
    d_share, m_share = shares(split["daemon"]), shares(split["minimal"])
    groups = sorted(set(d_share) | set(m_share), key=lambda g: -(d_share.get(g, 0) / 100 * cpu64["daemon"]
                                                              - m_share.get(g, 0) / 100 * cpu64["minimal"]))
    add("Where the CPU time per request at 64 connections goes, by crate: each server's flat "
        "profile (the same \`perf record\`, one 6 s window each) split by the crate of each symbol, "
        "times that server's CPU per request above. Rows in order of what the daemon spends beyond the limit.")
    add("")
    add("| crate | daemon | limit | daemon − limit |")
    add("|---|---|---|---|")
    for g in groups:
        d_us, m_us = d_share.get(g, 0) / 100 * cpu64["daemon"], m_share.get(g, 0) / 100 * cpu64["minimal"]
        if max(d_us, m_us) >= 0.05:
            add(f"| {g} | {d_us:.1f} µs | {m_us:.1f} µs | {d_us - m_us:+.1f} µs |")
    add(f"| all | {cpu64['daemon']:.1f} µs | {cpu64['minimal']:.1f} µs | {cpu64['daemon'] - cpu64['minimal']:+.1f} µs |")
    add("")
add("### Memory")
add("")
add("| what | VmRSS | target |")
add("|---|---|---|")
add(f"| idle, 1,000 profiles, one profile served | {rss_idle / 1024:.1f} MiB | under 20 MB: {ok(rss_idle * 1024 < 20e6)} |")
served = probe["requests"] + long["requests"]
add(f"| after {served:,} requests at 64 connections | {rss_after / 1024:.1f} MiB | "
    f"growth under 2 MB: {(rss_after - rss_idle) / 1024:+.1f} MiB, {ok((rss_after - rss_idle) * 1024 < 2e6)} |")
add(f"| after {long2['requests']:,} more, the same way | {rss_after2 / 1024:.1f} MiB | "
    f"growth in the second run: {(rss_after2 - rss_after) / 1024:+.1f} MiB |")
add(f"| after {long3['requests']:,} more, the same way | {rss_after3 / 1024:.1f} MiB | "
    f"growth in the third run: {(rss_after3 - rss_after2) / 1024:+.1f} MiB |")
flat = max(rss_after2, rss_after3) - rss_after
add(f"| | | the second and third runs together: {flat / 1024:+.1f} MiB over the first's high-water mark; "
    f"flat (under 0.5 MiB): {ok(flat * 1024 < 0.5 * 1024 * 1024)} |")
total = (served + long2["requests"] + long3["requests"] + cold["requests"]
         + sum(run["requests"] for c in (1, 64, 256) for run in runs("daemon", c)))
add(f"| at the end: about {total:,} requests, up to 256 connections at once | {rss_end / 1024:.1f} MiB | |")
add("")
add(f"Reproduce: VmRSS from \`/proc/PID/status\`, read 2 s after the load stops; the run is "
    f"\`wrk -t2 -c64 -dSECS\` after a 3 s probe that sizes SECS for at least $REQUESTS requests.")
add("")
add("### Start-up to the first served request (1,000 profiles)")
add("")
add(f"Median {med(startup):.1f} ms over {len(startup)} runs (min {min(startup):.1f}, max {max(startup):.1f}); "
    f"target under 100 ms: {ok(med(startup) < 100)}. Measured from spawning \`credbroker daemon --listen 127.0.0.1:0\` "
    f"to the first 200 for \`/v1/credentials/dev\` (credentials from the keychain, "
    f"polling every 0.5 ms in Python, so the figure includes the poll's own cost).")
add("")
add("### Upstream economy")
add("")
total_calls = after.get("GetRoleCredentials", 0)
add(f"GetRoleCredentials calls while the loads above ran: **{calls}**. In that window one role "
    f"was fetched: \`cold\`'s, first asked for by 256 connections at once "
    f"({cold['requests']:,} requests over 5 s, {cold['errors']} non-2xx); \`dev\`'s, "
    f"loaded once before, was served from the cache through "
    f"{total:,} requests. Over the whole run, with 12 daemon starts that each read \`dev\`'s "
    f"credentials from the keychain: {total_calls} calls for 2 roles. "
    f"Per role per credential lifetime (12 h here): {calls:g}; target exactly 1: {ok(calls == 1 and total_calls == 2)}. "
    f"Reproduce: \`GET /_emulator/stats\` before and after.")
add("<!-- bench.sh: end -->")
section = "\n".join(lines) + "\n"

path = os.path.join(repo, "docs", "benchmarks.md")
if os.path.exists(path):
    text = open(path).read()
    match = re.search(r"<!-- bench.sh: begin.*?<!-- bench.sh: end -->\n?", text, re.S)
    if match:
        text = text[:match.start()] + section + text[match.end():]
    else:
        text = text.rstrip("\n") + "\n\n" + section
else:
    text = ("# Benchmarks\n\nMeasured figures, each with the command that reproduces it.\n\n"
            + section + "\n## credential_process\n")
open(path, "w").write(text)
print(section)
EOF
