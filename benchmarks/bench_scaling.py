#!/usr/bin/env python
"""Training cost and peak memory per neuron count (numba CPU engine, batch 1, one thread).

For each neuron count, one ``spinsyn train`` runs in its own process on the same first ``--n-train`` training
images (``--input diehl-cook``, seed 0, no test, no plots) and reports the training-loop samples/s
(``metrics.json: train_loop_samples_per_s``) and the process's peak resident memory. The time per image
relative to the smallest count is compared with the neuron ratio: "sub-linear" means the cost grows no faster
than the number of neurons. Every thread count is pinned to 1, so the figures do not depend on the core count.

Usage:  .venv/bin/python benchmarks/bench_scaling.py [--neurons 100 400 1600] [--n-train 2000]
            [--data-dir DIR] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

# runs one training in this child process and prints its peak RSS (kB) as the last line
CHILD = ("import resource, sys\nfrom spinsyn.cli import main\nrc = main(sys.argv[1:])\n"
         "print('peak_rss_kB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\nsys.exit(rc)\n")


def one(neurons: int, args: argparse.Namespace, tmp: Path) -> dict:
    """Train ``neurons`` neurons in a child process; samples/s and peak RSS."""
    out = tmp / f"n{neurons}"
    argv = ["train", "--input", "diehl-cook", "--neurons", str(neurons), "--n-train", str(args.n_train),
            "--n-test", "0", "--n-assign", "10", "--seed", "0", "--threads", "1", "--no-plots", "--quiet",
            "--out", str(out)]
    if args.data_dir:
        argv += ["--data-dir", args.data_dir]
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-c", CHILD, *argv], capture_output=True, text=True, env=env, check=False)
    if r.returncode != 0:
        raise SystemExit(f"spinsyn train --neurons {neurons} failed:\n{r.stderr[-2000:]}")
    rss_kb = int(r.stdout.strip().splitlines()[-1].split()[-1])
    m = json.loads((out / "metrics.json").read_text())
    return {"neurons": neurons, "samples_per_s": m["train_loop_samples_per_s"], "peak_rss_MB": rss_kb / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--neurons", type=int, nargs="+", default=[100, 400, 1600])
    ap.add_argument("--n-train", type=int, default=2000)
    ap.add_argument("--data-dir", default=os.environ.get("SPINSYN_MNIST_DIR"))
    ap.add_argument("--json-out", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="spinsyn-scaling-") as tmp:
        rows = [one(n, args, Path(tmp)) for n in sorted(args.neurons)]
    base = rows[0]
    print(f"{'neurons':>8} {'samples/s':>10} {'time/image vs ' + str(base['neurons']):>20} {'neuron ratio':>13} "
          f"{'peak RSS MB':>12}")
    for r in rows:
        r["time_ratio"] = base["samples_per_s"] / r["samples_per_s"]
        r["neuron_ratio"] = r["neurons"] / base["neurons"]
        print(f"{r['neurons']:>8} {r['samples_per_s']:>10.0f} {r['time_ratio']:>20.2f} {r['neuron_ratio']:>13.0f} "
              f"{r['peak_rss_MB']:>12.0f}")
    worst = max(r["time_ratio"] / r["neuron_ratio"] for r in rows)
    print(f"cost growth: {'sub-linear' if worst <= 1.0 else 'super-linear'} in the number of neurons "
          f"(worst time ratio / neuron ratio = {worst:.2f}); {args.n_train} images, batch 1, 1 thread")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"n_train": args.n_train, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
