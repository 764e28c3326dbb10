"""What scripts/bench.sh and scripts/bench-compare.sh read out of a wrk run:
the rate, the count, the latency percentiles, the errors, and the server's
CPU time per request (the file `wrk_with_cpu` in scripts/bench-common.sh
writes beside the wrk output). Imported by their report steps, never run."""

import re


def _ms(value):
    number, suffix = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[suffix]


def parse(path):
    """One `wrk --latency` output: req/s, requests, p50 and p99 in ms (None
    when wrk printed none), non-2xx responses, and the socket errors line."""
    text = open(path).read()
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", text, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sockets = re.search(r"Socket errors: (.*)", text)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "requests": int(re.search(r"(\d+) requests in", text).group(1)),
        "p50": _ms(lat["50"]) if "50" in lat else None,
        "p99": _ms(lat["99"]) if "99" in lat else None,
        "errors": int(errors.group(1)) if errors else 0,
        "sockets": sockets.group(1) if sockets else "",
    }


def ticks(path):
    """The server's CPU clock ticks over one run, as `wrk_with_cpu` wrote them."""
    return int(open(path).read())


def cpu_per_request_us(ticks_total, requests, hz):
    """Microseconds of the server's CPU per request."""
    return ticks_total / hz / requests * 1e6
