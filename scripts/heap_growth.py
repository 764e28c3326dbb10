"""What grew between two idle points of a heaptrack recording, by where it
was allocated: for scripts/bench-heap.sh, never run on its own.

    zstd -dc heap.zst | python3 scripts/heap_growth.py MS_A MS_B [MS_C ...]

Reads heaptrack's interpreted format (the text heaptrack_interpret writes,
which heaptrack compresses): `s` strings, `i` instruction pointers with
their function names, `t` trace nodes (an ip and its parent), `a`
allocation infos (a size and a trace), `+`/`-` an allocation or a free of
an allocation info, and `c` a timestamp in ms since the start, all numbers
in hex. At each of the given times (ms since the start) it takes the count
of live allocations per allocation info, and for each pair of successive
times prints the change of the live heap, then the allocation sites that
changed most, each as its first frames past the allocator.

A site whose blocks are realloc'd intermediate sizes of one growing buffer
(7,648, 15,296, 30,592 ... bytes) deserves doubt: heaptrack records a
realloc's free and its new block after the real call returns, so another
thread's malloc of the freed address in between makes heaptrack lose
that free and count the old block as live for ever."""

import collections
import sys

# Frames that say how, not where: the allocator, heaptrack, Rust's
# allocation plumbing.
PLUMBING = ("malloc", "calloc", "realloc", "heaptrack", "__rust_", "alloc::", "RawVec",
            "_RNv", "_RIN", "core::ptr", "hashbrown::raw", "std::sys::alloc")


def main():
    marks = [int(float(arg)) for arg in sys.argv[1:]]
    strings, ips, traces, infos = [None], [None], [(0, 0)], []
    live = collections.Counter()
    snapshots = []
    for line in sys.stdin:
        kind, rest = line[:1], line[2:]
        if kind == "+":
            live[int(rest, 16)] += 1
        elif kind == "-":
            live[int(rest, 16)] -= 1
        elif kind == "c":
            now = int(rest, 16)
            while len(snapshots) < len(marks) and now >= marks[len(snapshots)]:
                snapshots.append(live.copy())
        elif kind == "a":
            size, trace = rest.split()
            infos.append((int(size, 16), int(trace, 16)))
        elif kind == "s":
            text = rest.rstrip("\n")
            strings.append(text.split(" ", 1)[1] if " " in text else "")
        elif kind == "i":
            ips.append(rest.split())
        elif kind == "t":
            ip, parent = rest.split()
            traces.append((int(ip, 16), int(parent, 16)))
    while len(snapshots) < len(marks):
        snapshots.append(live.copy())

    def frames(trace):
        names = []
        while trace:
            ip, trace = traces[trace]
            fields = ips[ip]
            names.append(strings[int(fields[2], 16)] if len(fields) > 2 else "0x" + fields[0])
        kept = [n for n in names if not any(p in n for p in PLUMBING)]
        return " <- ".join(n[:80] for n in kept[:3]) or " <- ".join(n[:80] for n in names[:3])

    for (a, before), (b, after) in zip(zip(marks, snapshots), list(zip(marks, snapshots))[1:]):
        by_trace = collections.Counter()
        sizes = collections.defaultdict(collections.Counter)
        for info in set(before) | set(after):
            delta = after[info] - before[info]
            if delta:
                size, trace = infos[info]
                by_trace[trace] += delta * size
                sizes[trace][size] += delta
        total = sum(by_trace.values())
        print(f"\nLive heap from {a / 1000:.1f} s to {b / 1000:.1f} s: {total / 1024:+,.1f} KiB")
        for trace, change in sorted(by_trace.items(), key=lambda item: -abs(item[1]))[:8]:
            if abs(change) < 1024:
                break
            blocks = ", ".join(f"{n:+d} × {size:,} B" for size, n in sorted(sizes[trace].items()) if n)
            print(f"  {change / 1024:+9.1f} KiB  {frames(trace)}  ({blocks})")


main()
