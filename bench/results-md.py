#!/usr/bin/env python3
"""Markdown tables from mobj-bench JSON Lines (for the README).

usage: bench/results-md.py build/bench-results/results.jsonl

One table of results (median, min..max, p99, placement), one of the goals.
"""
import json
import sys


def num(v):
    if v is None:
        return "-"
    if v != 0 and abs(v) < 0.01:
        return "%.4f" % v
    if abs(v) < 10:
        return "%.2f" % v
    if abs(v) < 1000:
        return "%.1f" % v
    return "%.0f" % v


def size(s):
    if s >= 1 << 20 and s % (1 << 20) == 0:
        return "%d MiB" % (s >> 20)
    if s >= 1024 and s % 1024 == 0:
        return "%d KiB" % (s >> 10)
    return "%d B" % s if s else "-"


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    res = [r for r in rows if r["group"] != "goal"]
    goals = [r for r in rows if r["group"] == "goal"]

    print("| case | impl | size | median | min .. max | p99 | unit | pair ping-pong |")
    print("|---|---|---|---|---|---|---|---|")
    for r in res:
        pl = r.get("placement", {})
        pp = pl.get("pingpong_rtt_ns")
        where = "%s ns" % num(pp) if pp is not None else "one core"
        if r.get("note"):
            print("| %s | %s | %s | did not run: %s | | | | |" % (
                r["case"], r["impl"], size(r["size"]), r["note"]))
            continue
        print("| %s | %s | %s | %s | %s .. %s | %s | %s | %s |" % (
            r["case"], r["impl"], size(r["size"]), num(r["median"]),
            num(r["min"]), num(r["max"]), num(r.get("p99")), r["unit"],
            where))
    if goals:
        print()
        print("| goal | measured | verdict |")
        print("|---|---|---|")
        for g in goals:
            if g["met"] is None:
                verdict = "not measured"
            else:
                verdict = "met" if g["met"] else "missed"
            m = g["median"]
            shown = "-" if m is None else (
                "%.2fx" % m if g["unit"] == "ratio" else num(m))
            print("| %s | %s | %s |" % (g["goal"], shown, verdict))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
