#!/usr/bin/env python3
"""Markdown tables from mobj-bench JSON Lines, and the publishing step.

usage:
  bench/results-md.py RESULTS.jsonl
      print the tables: per case, the medians (one column per impl, one row
      per size) and the paired ratios (group "ratio"), then the goals and
      every result in full (median, min..max, p99, placement)
  bench/results-md.py --publish DIR
      DIR is the output of one run (tools/bench.sh writes build/bench-results):
      copy results.jsonl, table.txt and the PNGs into bench/results/, write
      its README.md (machine, commit, the run's header), and replace the
      block between the markers
          <!-- bench-results:begin --> ... <!-- bench-results:end -->
      in bench/README.md with the tables (the prose around it is kept)
"""
import glob
import json
import os
import platform
import shutil
import subprocess
import sys

BEGIN = "<!-- bench-results:begin -->"
END = "<!-- bench-results:end -->"


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


def ordered(seq):
    seen = []
    for x in seq:
        if x not in seen:
            seen.append(x)
    return seen


def pivot(rows, value, out):
    """One table: a row per size, a column per impl."""
    impls = ordered(r["impl"] for r in rows)
    sizes = ordered(r["size"] for r in rows)
    cell = {(r["impl"], r["size"]): r for r in rows}
    out.append("| size | " + " | ".join(impls) + " |")
    out.append("|---" * (len(impls) + 1) + "|")
    for s in sizes:
        line = [size(s)]
        for i in impls:
            r = cell.get((i, s))
            line.append(value(r) if r else "")
        out.append("| " + " | ".join(line) + " |")


def result_cell(r):
    if r.get("note"):
        return "did not run"
    if r.get("p99") is not None:
        return "%s (p99 %s)" % (num(r["median"]), num(r["p99"]))
    return num(r["median"])


def ratio_cell(r):
    if r["median"] is None:
        return "-"
    return "%.2fx%s" % (r["median"], "" if r.get("paired") else "*")


def tables(rows):
    out = []
    res = [r for r in rows if r["group"] not in ("goal", "ratio")]
    ratios = [r for r in rows if r["group"] == "ratio"]
    goals = [r for r in rows if r["group"] == "goal"]

    cases = ordered(r["case"] for r in res)
    single = [c for c in cases
              if len(set(r["size"] for r in res if r["case"] == c)) == 1]
    if single:
        # Cases measured at one size: one line each.
        out.append("| case | size | median | ratios |")
        out.append("|---|---|---|---|")
        for case in single:
            mine = [r for r in res if r["case"] == case]
            vals = ", ".join("%s %s" % (r["impl"], result_cell(r)) for r in mine)
            rats = ", ".join("%s %s" % (r["impl"], ratio_cell(r))
                             for r in ratios if r["case"] == case)
            out.append("| %s | %s | %s %s | %s |" % (
                case, size(mine[0]["size"]), vals, mine[0]["unit"], rats))
        out.append("")
    for case in cases:
        if case in single:
            continue
        mine = [r for r in res if r["case"] == case]
        units = ordered(r["unit"] for r in mine)
        out.append("**%s** (median, %s)" % (case, ", ".join(units)))
        out.append("")
        pivot(mine, result_cell, out)
        out.append("")
        theirs = [r for r in ratios if r["case"] == case]
        if theirs:
            out.append("%s ratios (paired per round; * = ratio of the medians)"
                       % case)
            out.append("")
            pivot(theirs, ratio_cell, out)
            out.append("")
    if goals:
        out.append("| goal | measured | verdict |")
        out.append("|---|---|---|")
        for g in goals:
            if g["met"] is None:
                verdict = "not measured"
            elif g["met"]:
                verdict = "met"
            else:
                m, t = g["median"], g["target"]
                short = t / m if g["unit"] == "ratio" and ">=" in g["goal"] else m / t
                verdict = "missed (%.2fx)" % short if m else "missed"
            m = g["median"]
            shown = "-" if m is None else (
                "%.2fx" % m if g["unit"] == "ratio" else num(m))
            out.append("| %s | %s | %s |" % (g["goal"], shown, verdict))
        out.append("")
    out.append("<details><summary>every result (median, min .. max, p99, "
               "the pair's ping-pong)</summary>")
    out.append("")
    out.append("| case | impl | size | median | min .. max | p99 | unit | ping-pong |")
    out.append("|---|---|---|---|---|---|---|---|")
    for r in res:
        pl = r.get("placement", {})
        pp = pl.get("pingpong_rtt_ns")
        where = "%s ns" % num(pp) if pp is not None else "one core"
        if r.get("note"):
            out.append("| %s | %s | %s | did not run: %s | | | | |" % (
                r["case"], r["impl"], size(r["size"]), r["note"]))
            continue
        out.append("| %s | %s | %s | %s | %s .. %s | %s | %s | %s |" % (
            r["case"], r["impl"], size(r["size"]), num(r["median"]),
            num(r["min"]), num(r["max"]), num(r.get("p99")), r["unit"], where))
    out.append("")
    out.append("</details>")
    return out


def header(table_txt):
    """The run's first lines (kind, placement, load) from table.txt."""
    if not os.path.exists(table_txt):
        return []
    lines = []
    for line in open(table_txt):
        line = line.strip()
        if line.startswith("case "):
            break
        if line:
            lines.append("    " + line)
    return ["The run:", ""] + lines + [""] if lines else []


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def results_readme(root, run_dir):
    try:
        commit = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
    except OSError:
        commit, dirty = "unknown", ""
    return ["# The reference run", "",
            "`tools/run bench --publish` (the full suite, then "
            "`bench/results-md.py --publish`) on %s, %d CPUs, Linux %s, at "
            "commit %s%s." % (cpu_model(), os.cpu_count() or 0, platform.release(),
                              commit or "unknown",
                              " (with uncommitted changes)" if dirty else ""),
            ""] + header(os.path.join(run_dir, "table.txt")) + [
            "- `table.txt`: the suite's stdout (table, ratios, goals);",
            "- `results.jsonl`: the JSON Lines, with every ratio (group "
            "`ratio`) and goal (group `goal`);",
            "- the PNGs the suite drew next to it.", "",
            "Numbers from another machine, or another run here, are not "
            "comparable with these: compare results of one run only."]


def load(path):
    return [json.loads(line) for line in open(path) if line.strip()]


def publish(run_dir):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dest = os.path.join(root, "bench", "results")
    readme = os.path.join(root, "bench", "README.md")
    jsonl = os.path.join(run_dir, "results.jsonl")
    rows = load(jsonl)
    if any(r.get("quick") for r in rows):
        sys.exit("results-md.py: %s is a --quick run; publish a full run" % jsonl)
    text = open(readme).read()
    if BEGIN not in text or END not in text:
        sys.exit("results-md.py: %s has no %s ... %s block" % (readme, BEGIN, END))
    os.makedirs(dest, exist_ok=True)
    for old in glob.glob(os.path.join(dest, "*.png")) + [
            os.path.join(dest, "results.jsonl"), os.path.join(dest, "table.txt")]:
        if os.path.exists(old):
            os.remove(old)
    for f in [jsonl, os.path.join(run_dir, "table.txt")] + \
            glob.glob(os.path.join(run_dir, "*.png")):
        if os.path.exists(f):
            shutil.copy(f, dest)
    block = header(os.path.join(run_dir, "table.txt")) + tables(rows)
    with open(os.path.join(dest, "README.md"), "w") as f:
        f.write("\n".join(results_readme(root, run_dir)) + "\n")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    with open(readme, "w") as f:
        f.write(head + BEGIN + "\n" + "\n".join(block) + "\n" + END + tail)
    print("results-md.py: bench/results/ and the tables of bench/README.md "
          "are from %s" % run_dir)


def main(argv):
    if len(argv) == 3 and argv[1] == "--publish":
        publish(argv[2])
    elif len(argv) == 2 and not argv[1].startswith("-"):
        print("\n".join(tables(load(argv[1]))))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
