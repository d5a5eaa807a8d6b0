#!/usr/bin/env python
"""Does a second numba thread help, and does ``--threads auto`` pick the faster count? (issue #25)

The same training (``spinsyn train``, numba CPU engine, ``--batch`` images in parallel: batch 1 training always
uses one thread) runs in its own process at ``--threads 1``, ``2`` and ``auto``, each (a) on the machine as it is
("quiet") and (b) with every other core kept busy by a busy-loop child process this script starts and kills
(it also exits by itself when this script dies: it polls its parent). For each run it prints the training
samples/s (engine, ``metrics.json: train_samples_per_s``, and whole loop), test samples/s, what ``auto`` chose and
why, and the 1-minute load average before the run; then the 2-vs-1 ratio in both conditions and whether auto
picked the faster count (the target: auto within 10 % of the better of 1 and 2 threads in both conditions).
Timings on a shared machine vary by +-20-30 %: use ``--repeat`` and compare within one run.

Usage:  .venv/bin/python benchmarks/bench_threads.py [--neurons 400] [--n-train 1000] [--n-test 500]
            [--batch 16] [--repeat 1] [--data-dir DIR] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: the busy loop: spins until its parent (this script) is gone
BUSY = ("import os\nppid = os.getppid()\nwhile os.getppid() == ppid:\n    for _ in range(200000):\n        pass\n")
CASES = ("1", "2", "auto")


def busy_cores(n: int) -> list[subprocess.Popen]:
    """``n`` busy-loop processes (each takes one core; each exits when this process dies)."""
    procs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(n)]
    time.sleep(1.0)  # let them reach full speed before the next run samples the cores
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def one(threads: str, args: argparse.Namespace, out: Path) -> dict:
    """One ``spinsyn train --threads threads`` in a child process; its speeds and thread decision."""
    argv = [sys.executable, "-m", "spinsyn.cli", "train", "--neurons", str(args.neurons), "--n-train",
            str(args.n_train), "--n-test", str(args.n_test), "--n-assign", "100", "--batch", str(args.batch),
            "--seed", "0", "--threads", threads, "--device", "cpu", "--engine", "numba", "--no-plots", "--quiet",
            "--out", str(out)]
    if args.data_dir:
        argv += ["--data-dir", args.data_dir]
    load = os.getloadavg()[0]
    r = subprocess.run(argv, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise SystemExit(f"spinsyn train --threads {threads} failed:\n{r.stderr[-2000:]}")
    m = json.loads((out / "metrics.json").read_text())
    return {"threads": threads, "used": m["threads"]["used"], "reason": m["threads"]["reason"], "load1": load,
            "train_sps": m["train_samples_per_s"], "loop_sps": m["train_loop_samples_per_s"],
            "test_sps": m["test_samples_per_s"]}


def condition(name: str, args: argparse.Namespace, tmp: Path) -> list[dict]:
    """Every case ``--repeat`` times (interleaved, so a load change hits all cases alike)."""
    rows = []
    for rep in range(args.repeat):
        for case in CASES:
            r = one(case, args, tmp / f"{name}-{case}-{rep}")
            r["condition"] = name
            rows.append(r)
            print(f"{name:>5} --threads {case:<4} -> {r['used']} thread(s): train {r['train_sps']:7.0f} (loop "
                  f"{r['loop_sps']:7.0f}) test {r['test_sps']:7.0f} samples/s; load {r['load1']:.2f}; {r['reason']}",
                  flush=True)
    return rows


def summary(rows: list[dict], name: str) -> dict:
    """Median training samples/s of each case in condition ``name``; 2-vs-1 ratio; auto vs the better one."""
    med = {c: statistics.median(r["train_sps"] for r in rows if r["condition"] == name and r["threads"] == c)
           for c in CASES}
    chose = sorted({r["used"] for r in rows if r["condition"] == name and r["threads"] == "auto"})
    best = max(med["1"], med["2"])
    return {"condition": name, "median_train_sps": med, "ratio_2_vs_1": med["2"] / med["1"], "auto_used": chose,
            "auto_vs_best": med["auto"] / best}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--neurons", type=int, default=400)
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-test", type=int, default=500)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--data-dir", default=os.environ.get("SPINSYN_MNIST_DIR"))
    ap.add_argument("--json-out", default=None)
    args = ap.parse_args()
    n_cpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    print(f"{n_cpu} cores; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.neurons} neurons, "
          f"{args.n_train} training images, batch {args.batch}", flush=True)
    with tempfile.TemporaryDirectory(prefix="spinsyn-threads-") as tmp:
        rows = condition("quiet", args, Path(tmp))
        procs = busy_cores(max(n_cpu - 1, 1))
        try:
            rows += condition("busy", args, Path(tmp))
        finally:
            stop(procs)
    out = [summary(rows, c) for c in ("quiet", "busy")]
    for s in out:
        ok = s["auto_vs_best"] >= 0.9
        print(f"{s['condition']:>5}: 2 vs 1 thread {s['ratio_2_vs_1']:.2f}x; auto used {s['auto_used']} thread(s), "
              f"{s['auto_vs_best']:.2f}x the better of 1 and 2 (target >= 0.90: {'MET' if ok else 'MISS'})")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"args": vars(args), "rows": rows, "summary": out}, indent=2))


if __name__ == "__main__":
    main()
