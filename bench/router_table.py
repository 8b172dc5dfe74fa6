#!/usr/bin/env python3
"""The router table of bench/RESULTS.md, from one sitting's outputs.

  bench/router_table.py RESULTS_DIR

reads RESULTS_DIR/router_courier.json (router_sublist_bench --benchmark_out)
and RESULTS_DIR/router_nats.txt (nats-server's `go test -bench Sublist`) and
prints a markdown table: Courier wall ns/op, Courier CPU ns/op, nats-server
ns/op, and their ratio (Courier wall / nats-server). Courier's `...Owned` and
`...L1` variants are compared with the nats-server workload they vary.
"""
import json
import re
import sys
from pathlib import Path


def go_results(path):
    results = {}
    for line in Path(path).read_text().splitlines():
        match = re.match(r"Benchmark_*(\w+?)-\d+\s+\d+\s+([\d.]+) ns/op", line)
        if match:
            results[match.group(1)] = float(match.group(2))
    return results


def courier_name(raw):
    """router_sublist_bench's name -> nats-server's."""
    base, _, rest = raw.partition("/")
    if base == "SublistCacheContention":
        n = rest.split("/")[0]
        return f"SublistCacheContention{n}M{n}A{n}R"
    return base


def per_ns(value, unit):
    return value * {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[unit]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    results = Path(sys.argv[1])
    go = go_results(results / "router_nats.txt")
    data = json.loads((results / "router_courier.json").read_text())
    print("| Workload | Courier ns/op | Courier CPU ns/op | nats-server ns/op | ratio |")
    print("|---|---:|---:|---:|---:|")
    met = missed = 0
    for bench in data["benchmarks"]:
        if bench.get("run_type") != "iteration":
            continue
        name = courier_name(bench["name"])
        variant = ""
        for suffix in ("Owned", "L1"):
            if name.endswith(suffix):
                name, variant = name[: -len(suffix)], suffix
        wall = per_ns(bench["real_time"], bench["time_unit"])
        manual = "manual_time" in bench["name"]
        cpu = "—" if manual else f"{per_ns(bench['cpu_time'], bench['time_unit']):.1f}"
        theirs = go.get(name)
        if theirs is None:
            ratio, theirs_text = "—", "—"
        else:
            value = wall / theirs
            ratio = f"**{value:.2f}**" if value <= 0.5 else f"{value:.2f}"
            theirs_text = f"{theirs:.1f}"
            if not variant:
                met, missed = (met + 1, missed) if value <= 0.5 else (met, missed + 1)
        print(f"| {name}{variant} | {wall:.1f} | {cpu} | {theirs_text} | {ratio} |")
    print()
    print(f"nats-server workloads at most 0.5x: {met} of {met + missed} "
          f"(variants Owned/L1 not counted).")


if __name__ == "__main__":
    main()
