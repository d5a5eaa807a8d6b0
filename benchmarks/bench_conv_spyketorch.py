#!/usr/bin/env python
"""spinsyn.snn.conv against SpykeTorch's MozafariMNIST2018: same network, images and schedule, one run (issue 27).

Both train the Mozafari et al. network (hyper-parameters: :class:`spinsyn.snn.conv.ConvConfig`'s defaults =
SpykeTorch ``MozafariDeep.py``) on the first N MNIST training images (file order) with E1 passes of conv-1 STDP,
E2 of conv-2 STDP and E3 of R-STDP (default 1,1,1), then test on the first M test images. Each phase is timed:

  encode (DoG + latency code of the N training images), conv1, conv2, conv3 (R-STDP), test (encode + classify the
  M test images). spinsyn's phases are ``train_conv``'s ``history["timing"]`` and the wall time of
  ``evaluate_conv``; SpykeTorch's come from benchmarks/spyketorch_runner.py (a subprocess in SpykeTorch's own venv).

spinsyn runs in-process, after an untimed warm-up (``--warmup`` images, default 20, 1,1,1 passes) so numba's
compilation or cache load is not counted. Its STDP phases visit the images in a shuffled order and reuse the
frozen layers' outputs; SpykeTorch's follow ``MozafariDeep.py`` (file order, full forward pass per image). The two
start from different random weights, so accuracies differ: both are printed. Threads: NUMBA_NUM_THREADS,
OMP_NUM_THREADS, MKL_NUM_THREADS, OPENBLAS_NUM_THREADS and torch's ``set_num_threads`` = ``--threads`` (default 1).

The SpykeTorch venv and the commit come from benchmarks/setup_spyketorch.sh (its stamp file names the exported tree
and the commit). ``--spyketorch none`` runs spinsyn only (ratios null). Writes ``--json-out`` (default
benchmarks/results/conv_spyketorch.json).

Usage:  .venv/bin/python benchmarks/bench_conv_spyketorch.py [--n-train 500] [--n-test 500] [--epochs 1,1,1]
            [--threads 1] [--seed 0] [--data-dir DIR] [--spyketorch-venv DIR] [--spyketorch run|none]
            [--json-out FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNNER = Path(__file__).resolve().parent / "spyketorch_runner.py"
DEFAULT_VENV = ROOT / ".bench-venvs" / "spyketorch"
STAMP_NAME = "spinsyn-spyketorch-stamp.txt"
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "conv_spyketorch.json"
THREAD_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
PHASES = ("encode_s", "conv1_s", "conv2_s", "conv3_s", "test_s")


def say(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def data_dir(explicit: str | None) -> Path:
    """--data-dir, else $SPINSYN_MNIST_DIR, else REPO/../shared/data/mnist."""
    d = explicit or os.environ.get("SPINSYN_MNIST_DIR") or str(ROOT.parent / "shared" / "data" / "mnist")
    return Path(d).resolve()


def read_stamp(venv: Path) -> dict[str, str]:
    """The SpykeTorch commit and exported tree recorded by setup_spyketorch.sh (first line ``k=v`` words)."""
    path = venv / STAMP_NAME
    try:
        first = path.read_text(encoding="utf-8").splitlines()[0]
    except (OSError, IndexError):
        raise SystemExit(f"[bench] no SpykeTorch venv at {venv} ({path} missing); build it with\n"
                         "    bash benchmarks/setup_spyketorch.sh SRC COMMIT [VENV]\n"
                         "(benchmarks/README.md), or pass --spyketorch none") from None
    kv = dict(w.split("=", 1) for w in first.split() if w.startswith(("spyketorch=", "src=")))
    if "spyketorch" not in kv or "src" not in kv:
        raise SystemExit(f"[bench] {path}: no spyketorch=COMMIT / src=DIR on its first line; run setup again")
    return {"commit": kv["spyketorch"], "src": kv["src"]}


def run_spinsyn(config, X, y, Xt, yt, seed: int, warmup: int) -> dict:
    from spinsyn.snn.conv import evaluate_conv, train_conv

    if warmup > 0:
        t0 = time.perf_counter()
        wcfg = dataclasses.replace(config, epochs1=1, epochs2=1, epochs3=1)
        net = train_conv(wcfg, X[:warmup], y[:warmup], seed=seed)
        evaluate_conv(net, Xt[:warmup], yt[:warmup])
        say(f"spinsyn warm-up ({warmup} images, numba compile / cache load): {time.perf_counter() - t0:.1f} s")
    net = train_conv(config, X, y, seed=seed, log=lambda m: say(f"spinsyn {m}"))
    timing = {k: float(v) for k, v in net.history["timing"].items()}
    t0 = time.perf_counter()
    res = evaluate_conv(net, Xt, yt)
    timing["test_s"] = time.perf_counter() - t0
    return {"timing": timing, "accuracy": res["accuracy"], "silent": res["silent"],
            "wrong": 1.0 - res["accuracy"] - res["silent"],
            "train_accuracy": [float(a) for a in net.history.get("train_accuracy", [])]}


def run_spyketorch(py: Path, src: str, arrays: dict, epochs: str, threads: int, seed: int) -> dict:
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="spinsyn-spyketorch-") as tmp:
        for name, a in arrays.items():
            np.save(Path(tmp) / f"{name}.npy", a)
        cmd = [str(py), str(RUNNER), "--src", src, "--data", tmp, "--epochs", epochs, "--threads", str(threads),
               "--seed", str(seed)]
        say("$ " + " ".join(cmd))
        t0 = time.perf_counter()
        # cwd = the temp folder: the venv's installed copy of SpykeTorch is imported, not one next to the runner
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=None, text=True, cwd=tmp, env=thread_env(threads))
        wall = time.perf_counter() - t0
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith("SPYKETORCH_RESULT "):
            result = json.loads(line[len("SPYKETORCH_RESULT "):])
    if proc.returncode != 0 or result is None:
        raise SystemExit(f"[bench] SpykeTorch runner failed (exit {proc.returncode})")
    result["command_wall_s"] = wall
    return result


def thread_env(threads: int) -> dict:
    env = dict(os.environ)
    env.update({v: str(threads) for v in THREAD_VARS})
    return env


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-train", type=int, default=500)
    ap.add_argument("--n-test", type=int, default=500)
    ap.add_argument("--epochs", default="1,1,1", help="passes E1,E2,E3 of conv1 STDP, conv2 STDP, R-STDP")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=20, help="spinsyn warm-up images (untimed), 0: none")
    ap.add_argument("--data-dir", default=None, help="MNIST IDX gz folder ($SPINSYN_MNIST_DIR, ../shared/data/mnist)")
    ap.add_argument("--spyketorch-venv", default=os.environ.get("SPINSYN_SPYKETORCH_VENV", str(DEFAULT_VENV)))
    ap.add_argument("--spyketorch", choices=("run", "none"), default="run")
    ap.add_argument("--json-out", default=str(DEFAULT_JSON))
    a = ap.parse_args(argv)
    if a.n_train < 1 or a.n_test < 1 or a.threads < 1:
        raise SystemExit("--n-train, --n-test and --threads must be >= 1")
    os.environ.update({v: str(a.threads) for v in THREAD_VARS})  # before numba / spinsyn are imported

    from spinsyn.mnist import load_mnist
    from spinsyn.snn.conv.run import conv_config, parse_conv_epochs

    epochs = parse_conv_epochs(a.epochs, "--epochs")
    config = conv_config(epochs)
    ddir = data_dir(a.data_dir)
    X, y = load_mnist("train", ddir, n=a.n_train)
    Xt, yt = load_mnist("test", ddir, n=a.n_test)
    load0 = os.getloadavg()
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    say(f"{a.n_train} train / {a.n_test} test images from {ddir}, passes {epochs}, {a.threads} thread(s), "
        f"load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")

    stamp = None
    if a.spyketorch == "run":
        venv = Path(a.spyketorch_venv)
        stamp = read_stamp(venv)
        say(f"SpykeTorch commit {stamp['commit']} (tree {stamp['src']}, venv {venv})")

    ours = run_spinsyn(config, X, y, Xt, yt, a.seed, a.warmup)
    peer = None
    if stamp is not None:
        peer = run_spyketorch(Path(a.spyketorch_venv) / "bin" / "python", stamp["src"],
                              {"train_images": X, "train_labels": y, "test_images": Xt, "test_labels": yt},
                              ",".join(map(str, epochs)), a.threads, a.seed)
    load1 = os.getloadavg()

    ours["timing"]["total_s"] = sum(ours["timing"][k] for k in PHASES)
    speedup: dict[str, float | None] = {}
    if peer is not None:
        peer["timing"]["total_s"] = sum(peer["timing"][k] for k in PHASES)
    for k in (*PHASES, "total_s"):
        speedup[k] = None if peer is None else peer["timing"][k] / max(ours["timing"][k], 1e-12)

    print()
    print(f"{'phase':<10}{'spinsyn s':>12}{'SpykeTorch s':>14}{'speed-up':>10}")
    for k in (*PHASES, "total_s"):
        p = "-" if peer is None else f"{peer['timing'][k]:.2f}"
        s = "-" if speedup[k] is None else f"{speedup[k]:.1f}x"
        print(f"{k[:-2]:<10}{ours['timing'][k]:>12.2f}{p:>14}{s:>10}")
    print(f"test accuracy (silent = wrong): spinsyn {ours['accuracy']:.4f} (silent {ours['silent']:.4f})"
          + ("" if peer is None else f", SpykeTorch {peer['accuracy']:.4f} (silent {peer['silent']:.4f})"))
    print(f"load average: start {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, end {load1[0]:.2f} {load1[1]:.2f} "
          f"{load1[2]:.2f} ({os.cpu_count()} CPUs)")
    if stamp is not None:
        print(f"SpykeTorch commit {stamp['commit']}")

    out = {
        "benchmark": "conv_spyketorch", "started": started, "n_train": a.n_train, "n_test": a.n_test,
        "epochs": list(epochs), "threads": a.threads, "seed": a.seed, "warmup_images": a.warmup,
        "data_dir": str(ddir), "spinsyn": ours, "spyketorch": peer, "speedup": speedup,
        "spyketorch_commit": None if stamp is None else stamp["commit"],
        "load_average_start": list(load0), "load_average_end": list(load1), "cpu_count": os.cpu_count(),
        "python": platform.python_version(), "machine": platform.machine(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    if a.json_out:
        path = Path(a.json_out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        say(f"wrote {path}")
    return out


if __name__ == "__main__":
    main()
