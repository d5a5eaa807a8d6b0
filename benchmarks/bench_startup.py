#!/usr/bin/env python
"""Fixed start-up cost of ``spinsyn train``: wall time of a 10-image run on the embedded MNIST subset.

Runs ``spinsyn train --n-train 10 --n-test 10 --n-assign 10 --neurons 100 --device auto --quiet`` (with and
without ``--no-plots``) REPEAT times each as a fresh process and prints the median wall time from start to exit
(imports, compiled-kernel load, data, 10 training images, assignment, test, checkpoint, metrics) and the median
CPU time (user + system) of the process, which varies less than wall time on a shared machine.

Usage:  .venv/bin/python benchmarks/bench_startup.py [--repeat 3] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND = ["train", "--n-train", "10", "--n-test", "10", "--n-assign", "10", "--neurons", "100", "--quiet"]


def spinsyn_exe() -> str:
    exe = ROOT / ".venv" / "bin" / "spinsyn"
    return str(exe) if exe.exists() else (shutil.which("spinsyn") or "spinsyn")


def wall_times(extra: list[str], repeat: int) -> tuple[list[float], list[float]]:
    """(wall, CPU) seconds of ``repeat`` fresh ``spinsyn train`` processes (one warm-up run first, not counted)."""
    out, cpu = [], []
    with tempfile.TemporaryDirectory(prefix="spinsyn-startup-") as tmp:
        for i in range(repeat + 1):
            cmd = [spinsyn_exe(), *COMMAND, *extra, "--out", str(Path(tmp) / f"run{i}")]
            r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            t1, r1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
            if i:  # the first run may (re)compile the numba kernels into their cache
                out.append(t1 - t0)
                cpu.append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
    return out, cpu


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json-out", default=None)
    args = p.parse_args(argv)
    res = {}
    for name, extra in (("no_plots", ["--no-plots"]), ("with_plots", [])):
        t, c = wall_times(extra, args.repeat)
        res[name] = {"median_s": statistics.median(t), "runs_s": t, "median_cpu_s": statistics.median(c),
                     "command": " ".join(["spinsyn", *COMMAND, *extra])}
        print(f"{res[name]['command']}: median {res[name]['median_s']:.2f} s wall ({', '.join(f'{x:.2f}' for x in t)}),"
              f" {res[name]['median_cpu_s']:.2f} s CPU")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
