"""MNIST accuracy of the convolutional STDP / R-STDP network along its R-STDP passes (issue 27).

Trains ``spinsyn.snn.conv`` on the first ``--n-train`` MNIST training images with the SpykeTorch
``MozafariDeep.py`` schedule (``--conv-epochs E1,E2,E3``: STDP passes of conv 1 and conv 2, R-STDP passes of the
decision layer) and, every ``--test-every`` R-STDP passes, tests the network as it stands on the first ``--n-test``
test images (layers 1-2 are frozen by then, so their output is computed once per test image). Each test point
rewrites, atomically, ``OUT/curve.json`` (pass, training accuracy of the pass, test accuracy, silent fraction,
elapsed s) and the run folder ``OUT/run`` (``conv.npz`` + ``metrics.json``, readable by ``spinsyn eval`` and
``spinsyn export``), so a run stopped by a time limit leaves its last tested network. ``--minutes M`` stops after
the first test point past M minutes of wall time. The accuracy reported is the last tested pass's, never the best
of the curve (SpykeTorch prints the best test accuracy over its 680 passes, which selects on the test set).

    python benchmarks/conv_accuracy.py --n-train 60000 --n-test 10000 --conv-epochs 2,4,680 --test-every 5 \\
        --synapse ideal --seed 0 --data-dir ../shared/data/mnist --minutes 120 --out /tmp/conv_ideal

``--device cuda`` trains with the torch path (batched forward caches, exact batched R-STDP; conv 1-2 STDP stays on
numba); the test points still decide on the host.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np


class _Tester:
    """Tests the network after R-STDP passes on cached conv-3 inputs of the test images, and saves the run."""

    def __init__(self, args: argparse.Namespace, X: np.ndarray, y: np.ndarray, t_start: float) -> None:
        self.args, self.X, self.y, self.t_start = args, X, y, t_start
        self.x3: np.ndarray | None = None
        self.curve: list[dict[str, Any]] = []
        self.out = Path(args.out)

    def __call__(self, ep: int, net: Any, train_acc: float) -> None:
        from spinsyn.snn.conv import decide_all, encode, propagate

        elapsed = time.perf_counter() - self.t_start
        last = ep == net.config.epochs3 or (self.args.minutes and elapsed > 60 * self.args.minutes)
        if ep % self.args.test_every and not last:
            self.curve.append({"pass": ep, "train_accuracy": train_acc, "elapsed_s": elapsed})
            return
        if self.x3 is None:
            c = net.config
            self.x3 = np.stack([propagate(net, s, 2) < c.T for s in encode(c, self.X)])
        pred = decide_all(net, self.x3)
        acc, silent = float(np.mean(pred == self.y)), float(np.mean(pred < 0))
        self.curve.append({"pass": ep, "train_accuracy": train_acc, "test_accuracy": acc, "silent": silent,
                           "elapsed_s": elapsed})
        print(f"pass {ep}: train {train_acc:.4f} test {acc:.4f} silent {silent:.4f} ({elapsed / 60:.1f} min)",
              flush=True)
        self._save(net, acc, silent, elapsed)
        if last and ep < net.config.epochs3:
            raise _Stop()

    def _save(self, net: Any, acc: float, silent: float, elapsed: float) -> None:
        from spinsyn.fileio import atomic_path, write_json
        from spinsyn.snn.conv import save_conv
        from spinsyn.snn.conv.run import CONV_NET_NAME
        from spinsyn.snn.trainer import METRICS_FORMAT, METRICS_VERSION

        a = self.args
        run = self.out / "run"
        run.mkdir(parents=True, exist_ok=True)
        with atomic_path(run / CONV_NET_NAME) as tmp:
            save_conv(net, tmp)
        passes = self.curve[-1]["pass"]
        metrics = {"network": "conv", "accuracy": acc, "silent": silent, "n_train": a.n_train, "n_test": a.n_test,
                   "train_time_s": elapsed, "wall_time_s": elapsed, "rstdp_passes_done": passes,
                   "train_accuracy": [r["train_accuracy"] for r in self.curve], "synapse": a.synapse,
                   "seed": a.seed, "network_file": CONV_NET_NAME,
                   "config": {**net.config.to_dict(), "epochs3": passes}}
        write_json(run / "metrics.json", metrics, fmt=METRICS_FORMAT, version=METRICS_VERSION, seed=a.seed)
        write_json(self.out / "curve.json", {"args": vars(a), "load_avg": os.getloadavg(), "curve": self.curve},
                   fmt="spinsyn-conv-curve", version=1, seed=a.seed)


class _Stop(Exception):
    """The time limit was reached at a test point."""


def main(argv: list[str] | None = None) -> int:
    from spinsyn.mnist import load_mnist
    from spinsyn.snn.conv import train_conv
    from spinsyn.snn.conv.run import check_conv_synapse, conv_config, parse_conv_config, parse_conv_epochs

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n-train", type=int, default=60000)
    p.add_argument("--n-test", type=int, default=10000)
    p.add_argument("--conv-epochs", default="2,4,680")
    p.add_argument("--test-every", type=int, default=5)
    p.add_argument("--synapse", default="ideal")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--minutes", type=float, default=0.0, help="stop at the first test point after this (0: never)")
    p.add_argument("--data-dir", default=os.environ.get("SPINSYN_MNIST_DIR"))
    p.add_argument("--conv-config", default=None, help="other ConvConfig fields as JSON, as spinsyn train")
    p.add_argument("--device", default="cpu", help="cpu (numba, default) or cuda[:i] (the torch path: "
                   "spinsyn.snn.conv.torch_train.train_conv_torch, forward caches and R-STDP batched on the GPU)")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    a.synapse = check_conv_synapse(a.synapse)
    cfg = conv_config(parse_conv_epochs(a.conv_epochs), parse_conv_config(a.conv_config) if a.conv_config else None)
    X, y = load_mnist("train", a.data_dir, n=a.n_train)
    Xt, yt = load_mnist("test", a.data_dir, n=a.n_test)
    t0 = time.perf_counter()
    tester = _Tester(a, Xt, yt.astype(np.int64), t0)
    kw: dict[str, Any] = {"seed": a.seed, "synapse": a.synapse, "log": lambda m: print(m, flush=True),
                          "on_epoch": tester}
    try:
        if a.device == "cpu":
            train_conv(cfg, X, y, **kw)
        else:
            from spinsyn.snn.conv.torch_train import train_conv_torch

            train_conv_torch(cfg, X, y, device=a.device, **kw)
    except _Stop:
        print(f"stopped at the time limit ({a.minutes} min)")
    last = [r for r in tester.curve if "test_accuracy" in r][-1]
    print(json.dumps({"synapse": a.synapse, "passes": last["pass"], "test_accuracy": last["test_accuracy"],
                      "minutes": last["elapsed_s"] / 60}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
