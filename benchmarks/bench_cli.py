#!/usr/bin/env python
"""Fixed cost of the ``spinsyn`` command line: median wall time of fresh processes (issue 25).

Times, REPEAT times each (median; a warm-up run first so that file caches and numba's kernel cache are filled),
through the installed console script ``.venv/bin/spinsyn`` and through ``python -m spinsyn.cli``:

* ``--version``                 target < 0.3 s (answered before any parser is built)
* ``--help``                    (every command's one-line help; no stage code imported)
* ``export --help``             target < 0.5 s
* ``train --help``
* a 10-image train, no plots   target < 1.5 s (``train --n-train 10 --n-test 10 --n-assign 10 --no-plots
  --quiet`` on the embedded MNIST subset: imports, kernel-cache load, data, training, assignment, test, checkpoint)

and prints each against its target (PASS/MISS) with the load average before and after: on a shared machine a
busy core shows up directly in these numbers. ``benchmarks/bench_startup.py`` breaks the train down further.

Usage:  .venv/bin/python benchmarks/bench_cli.py [--repeat 5] [--no-train]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: (label, arguments, target seconds or None)
CASES: list[tuple[str, list[str], float | None]] = [
    ("--version", ["--version"], 0.3),
    ("--help", ["--help"], None),
    ("export --help", ["export", "--help"], 0.5),
    ("train --help", ["train", "--help"], None),
]
TRAIN = ["train", "--n-train", "10", "--n-test", "10", "--n-assign", "10", "--no-plots", "--quiet"]
TRAIN_TARGET_S = 1.5


def _launchers() -> list[tuple[str, list[str]]]:
    """(name, command prefix): the console script next to this interpreter, and ``python -m spinsyn.cli``."""
    script = Path(sys.executable).parent / "spinsyn"
    if not script.exists():
        script = ROOT / ".venv" / "bin" / "spinsyn"
    out = [("python -m spinsyn.cli", [sys.executable, "-m", "spinsyn.cli"])]
    if script.exists():
        out.insert(0, ("spinsyn (console script)", [str(script)]))
    return out


def _time_once(cmd: list[str], out_dir: Path | None) -> float:
    """Wall seconds of one fresh process (exit status checked); ``out_dir``: the run folder, removed first."""
    if out_dir is not None:
        shutil.rmtree(out_dir, ignore_errors=True)
        cmd = [*cmd, "--out", str(out_dir)]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"bench_cli: {' '.join(cmd)} failed (exit {r.returncode}): {r.stderr.strip()[-500:]}")
    return dt


def _median(cmd: list[str], repeat: int, out_dir: Path | None = None) -> tuple[float, list[float]]:
    _time_once(cmd, out_dir)  # warm-up: page cache, numba's on-disk kernel cache
    times = [_time_once(cmd, out_dir) for _ in range(repeat)]
    return statistics.median(times), times


def _line(label: str, med: float, times: list[float], target: float | None) -> str:
    verdict = "" if target is None else f"  target < {target:g} s: {'PASS' if med < target else 'MISS'}"
    spread = f"(min {min(times):.3f}, max {max(times):.3f})"
    return f"  {label:<28} median {med:6.3f} s {spread}{verdict}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per case (median; default 5)")
    ap.add_argument("--no-train", action="store_true", help="skip the 10-image train")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat: expected >= 1")
    load0 = os.getloadavg()
    print(f"load average before: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} ({os.cpu_count()} CPUs); "
          f"median of {args.repeat} fresh processes after one warm-up")
    with tempfile.TemporaryDirectory(prefix="bench_cli_") as tmp:
        for name, prefix in _launchers():
            print(name)
            for label, words, target in CASES:
                med, times = _median([*prefix, *words], args.repeat)
                print(_line(label, med, times, target), flush=True)
            if not args.no_train:
                med, times = _median([*prefix, *TRAIN], args.repeat, Path(tmp) / "run")
                print(_line("train 10 images, no plots", med, times, TRAIN_TARGET_S), flush=True)
    load1 = os.getloadavg()
    print(f"load average after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
