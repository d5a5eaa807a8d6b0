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

``--resume`` continues the run in ``--out`` from its last saved test point (the network file carries the R-STDP
state and the generator, :mod:`spinsyn.snn.conv.resume`) up to the ``E3`` of ``--conv-epochs``, appending to its
curve; ``E3 = 0`` stops after conv 1-2 (a test point at pass 0), so the 680 passes can be run in stages::

    python benchmarks/conv_accuracy.py ... --conv-epochs 2,4,0 --out /tmp/conv_ideal
    python benchmarks/conv_accuracy.py ... --conv-epochs 2,4,680 --minutes 100 --resume --out /tmp/conv_ideal

``--from-stage DIR`` starts a new run in ``--out`` from such a conv 1-2 stage with other R-STDP fields in
``--conv-config`` (e.g. ``'{"rstdp_dropout": 0.5}'``): the same network and generator as a run made with those
fields from the start (they are not read before R-STDP), without training conv 1-2 again.

A resumed run equals one that never stopped (same draws and decisions), and ``elapsed_s`` counts on from the
stage it resumes.

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

    def __init__(self, args: argparse.Namespace, X: np.ndarray, y: np.ndarray, t_start: float,
                 curve: list[dict[str, Any]] | None = None) -> None:
        self.args, self.X, self.y = args, X, y
        self.x3: np.ndarray | None = None
        self.curve: list[dict[str, Any]] = list(curve or [])
        self.offset_s = self.curve[-1]["elapsed_s"] if self.curve else 0.0  # time of the stages before a resume
        self.t_start = t_start
        self.out = Path(args.out)

    def __call__(self, ep: int, net: Any, train_acc: float | None) -> None:
        from spinsyn.snn.conv import decide_all, encode, propagate

        session = time.perf_counter() - self.t_start
        elapsed = self.offset_s + session
        last = ep == net.config.epochs3 or (self.args.minutes and session > 60 * self.args.minutes)
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
        tr = "-" if train_acc is None else f"{train_acc:.4f}"
        print(f"pass {ep}: train {tr} test {acc:.4f} silent {silent:.4f} ({elapsed / 60:.1f} min)", flush=True)
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


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n-train", type=int, default=60000)
    p.add_argument("--n-test", type=int, default=10000)
    p.add_argument("--conv-epochs", default="2,4,680")
    p.add_argument("--test-every", type=int, default=5)
    p.add_argument("--synapse", default="ideal")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--minutes", type=float, default=0.0, help="stop at the first test point after this many minutes "
                   "of this invocation (0: never)")
    p.add_argument("--data-dir", default=os.environ.get("SPINSYN_MNIST_DIR"))
    p.add_argument("--conv-config", default=None, help="other ConvConfig fields as JSON, as spinsyn train")
    p.add_argument("--device", default="cpu", help="cpu (numba, default) or cuda[:i] (the torch path: "
                   "spinsyn.snn.conv.torch_train.train_conv_torch, forward caches and R-STDP batched on the GPU)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last test point")
    p.add_argument("--from-stage", default=None, metavar="DIR", help="start the R-STDP passes from the conv 1-2 "
                   "stage in DIR (a run of this script with E3 = 0) instead of training conv 1-2 again; --conv-config "
                   "may change only the R-STDP fields (spinsyn.snn.conv.resume.RSTDP_FIELDS)")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    if a.resume and a.from_stage:
        p.error("--from-stage: give either --resume or --from-stage")
    if a.resume:
        a.previous = _previous(p, a)
    if a.from_stage:
        a.previous = _from_stage(p, a)
    return a


def _from_stage(p: argparse.ArgumentParser, a: argparse.Namespace) -> dict[str, Any]:
    """Check ``--from-stage`` before any work (argparse error, exit 2) and return its curve, which the run continues:
    a stage at pass 0 made with the same arguments except R-STDP fields of ``--conv-config``; --out not yet there."""
    from spinsyn.snn.conv.resume import RSTDP_FIELDS
    from spinsyn.snn.conv.run import parse_conv_config

    stage = Path(a.from_stage)
    if not (stage / "curve.json").is_file() or not (stage / "run" / "conv.npz").is_file():
        p.error(f"--from-stage: {stage} holds no run of this script (curve.json and run/conv.npz)")
    if Path(a.out).exists():
        p.error(f"--out: {a.out} exists; --from-stage starts a new run folder")
    prev = json.loads((stage / "curve.json").read_text())
    if [r["pass"] for r in prev["curve"]] != [0]:
        p.error(f"--from-stage: {stage} has R-STDP passes; it must be a conv 1-2 stage (--conv-epochs E1,E2,0)")
    differ = [k for k in ("n_train", "n_test", "synapse", "seed") if prev["args"].get(k) != getattr(a, k)]
    try:
        old, new = (parse_conv_config(t) if t else {} for t in (prev["args"].get("conv_config"), a.conv_config))
    except ValueError as exc:
        p.error(str(exc))
    changed = {k for k in set(old) | set(new) if old.get(k) != new.get(k)} - set(RSTDP_FIELDS)
    differ += ["conv_config (" + ", ".join(sorted(changed)) + ")"] if changed else []
    if differ:
        p.error(f"--from-stage: {', '.join(differ)} differ from the stage in {stage}")
    return dict(prev)


#: arguments a resumed run must share with the run it continues
_SAME = ("n_train", "n_test", "synapse", "seed", "conv_config")


def _previous(p: argparse.ArgumentParser, a: argparse.Namespace) -> dict[str, Any]:
    """The curve of the run in ``--out`` that ``--resume`` continues; argparse error (exit 2) when there is none or
    it was made with other arguments."""
    path = Path(a.out) / "curve.json"
    if not (path.is_file() and (Path(a.out) / "run" / "conv.npz").is_file()):
        p.error(f"--resume: {a.out} holds no run to resume (curve.json and run/conv.npz)")
    prev = json.loads(path.read_text())
    differ = [k for k in _SAME if prev["args"].get(k) != getattr(a, k)]
    if differ:
        names = ", ".join("--" + k.replace("_", "-") for k in differ)
        saved = ", ".join(f"{k}={prev['args'].get(k)!r}" for k in differ)
        p.error(f"--resume: {names} differ from the run in {a.out} ({saved})")
    return dict(prev)


def main(argv: list[str] | None = None) -> int:
    from spinsyn.mnist import load_mnist
    from spinsyn.snn.conv import load_conv, train_conv
    from spinsyn.snn.conv.network import CPU_BACKEND
    from spinsyn.snn.conv.resume import RSTDP_FIELDS, resume_conv, with_rstdp_config
    from spinsyn.snn.conv.run import (
        CONV_NET_NAME,
        check_conv_synapse,
        conv_config,
        parse_conv_config,
        parse_conv_epochs,
    )

    a = _arguments(argv)
    a.synapse = check_conv_synapse(a.synapse)
    cfg = conv_config(parse_conv_epochs(a.conv_epochs), parse_conv_config(a.conv_config) if a.conv_config else None)
    X, y = load_mnist("train", a.data_dir, n=a.n_train)
    Xt, yt = load_mnist("test", a.data_dir, n=a.n_test)
    t0 = time.perf_counter()
    prev = vars(a).pop("previous", None)
    tester = _Tester(a, Xt, yt.astype(np.int64), t0, curve=prev["curve"] if prev else None)
    if a.device == "cpu":
        backend = CPU_BACKEND
    else:
        from spinsyn.snn.conv.torch_train import torch_backend

        backend = torch_backend(a.device)
    log = lambda m: print(m, flush=True)  # noqa: E731
    try:
        if prev:
            src = Path(a.from_stage or a.out) / "run" / CONV_NET_NAME
            net = load_conv(src)
            if a.from_stage:
                with_rstdp_config(net, {k: getattr(cfg, k) for k in RSTDP_FIELDS})
                print(f"R-STDP from the conv 1-2 stage {src} ({a.conv_config or 'no --conv-config'})", flush=True)
            resume_conv(net, X, y, epochs3=cfg.epochs3, log=log, on_epoch=tester, backend=backend)
        else:
            net = train_conv(cfg, X, y, seed=a.seed, synapse=a.synapse, log=log, on_epoch=tester, backend=backend)
            if cfg.epochs3 == 0:
                tester(0, net, None)
    except _Stop:
        print(f"stopped at the time limit ({a.minutes} min)")
    last = [r for r in tester.curve if "test_accuracy" in r][-1]
    print(json.dumps({"synapse": a.synapse, "passes": last["pass"], "test_accuracy": last["test_accuracy"],
                      "minutes": last["elapsed_s"] / 60}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
