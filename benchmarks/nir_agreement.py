"""How closely a NIR consumer (Norse, ``norse.torch.from_nir``) classifies MNIST like spinsyn with the same graph.

Exports RUN with ``spinsyn.snn.export_nir``, reads it back with ``nir.read``, loads it into Norse, and feeds the
same Poisson spike trains (seeded) to Norse and to spinsyn's own step functions (``torch_engine.simulate``,
learning off, θ frozen, no read noise). Both spike counts are read out with the run's label assignment ("all
activity"). Prints the % of images where Norse's class equals spinsyn's, and both accuracies.

    .venv/bin/python benchmarks/nir_agreement.py runs/c8_100_s0_issue10 --n 1000 --data-dir /work/shared/data/mnist

Needs the ``interop-test`` extra (nir, nirtorch; norse is installed by scripts/_setup.sh with --no-deps).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def spike_trains(images: np.ndarray, intensity_Hz: float, time_ms: float, dt_ms: float, seed: int) -> torch.Tensor:
    """Poisson trains (n, T, 784) float64, p = pixel/255 · intensity · dt per step (spinsyn's coding)."""
    p = images.reshape(len(images), -1).astype(np.float64) / 255.0 * intensity_Hz * dt_ms * 1e-3
    T = int(round(time_ms / dt_ms))
    rng = np.random.default_rng(seed)
    return torch.from_numpy((rng.random((len(images), T, p.shape[1])) < p[:, None, :]).astype(np.float64))


def norse_counts(graph, X: torch.Tensor) -> np.ndarray:
    """Excitatory spike counts (n, N) of the NIR graph run by Norse, step by step. Spinsyn's layers see the input
    spikes of step t−1 at step t; the same one-step shift is applied to what Norse is fed."""
    import norse.torch as nt

    m = nt.from_nir(graph, dt=float(graph.metadata["dt_s"]))
    Xf = X.to(torch.float32)
    counts = torch.zeros((X.shape[0], int(graph.nodes["exc"].v_threshold.size)))
    state = None
    with torch.no_grad():
        for t in range(X.shape[1]):
            x = Xf[:, t - 1] if t > 0 else torch.zeros_like(Xf[:, 0])
            out, state = m(x, state)
            counts += out
    return counts.numpy()


def spinsyn_counts(net, X: torch.Tensor) -> np.ndarray:
    """Excitatory spike counts (n, N) of spinsyn's step functions on the same trains (learning off)."""
    from spinsyn.snn.torch_engine import simulate

    w = torch.from_numpy(np.asarray(net.w, np.float64))
    S, _ = simulate(X, w, torch.from_numpy(np.asarray(net.theta, np.float64)), net.params.packed().tolist(), False)
    return S.sum(1).numpy()


def agreement(run_dir: str | Path, images: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict:
    """Export ``run_dir`` to NIR, read it back, run both on the same trains; returns agreement and accuracies."""
    import nir
    from spinsyn.snn import export_nir, load_run
    from spinsyn.snn.labels import predict_all_activity

    net = load_run(run_dir)
    with tempfile.TemporaryDirectory() as tmp:
        export_nir(run_dir, Path(tmp) / "net.nir")
        graph = nir.read(Path(tmp) / "net.nir")
    p = net.params
    X = spike_trains(images, p.intensity_Hz, p.time_ms, p.dt_ms, seed)
    t0 = time.perf_counter()
    cn = norse_counts(graph, X)
    t1 = time.perf_counter()
    cs = spinsyn_counts(net, X)
    asg = np.asarray(graph.metadata["assignments"], np.int64)
    pn, ps = predict_all_activity(cn, asg), predict_all_activity(cs, asg)
    return {"n": len(images), "agreement": float(np.mean(pn == ps)), "accuracy_norse": float(np.mean(pn == labels)),
            "accuracy_spinsyn": float(np.mean(ps == labels)), "spikes_per_image_norse": float(cn.sum(1).mean()),
            "spikes_per_image_spinsyn": float(cs.sum(1).mean()), "norse_seconds": t1 - t0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--n", type=int, default=1000, help="test images (first N)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from spinsyn.mnist import load_mnist

    X, y = load_mnist("test", args.data_dir, n=args.n)
    r = agreement(args.run_dir, X, y.astype(np.int64), args.seed)
    print(json.dumps(r, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
