"""How the read of a compound conv run's conv 1-2 synapses decides the accuracy (issue 27, docs/snn.md).

Loads the ``conv.npz`` of a ``--synapse compound:N`` conv run (and optionally an ideal run), reads its trained
conv 1-2 states three ways — as stored (the read the run trained with), signed ((G − G_min)/(G_max − G_min) without
a clip: a reference column subtracts the offset), nominal k/N (no device spread) — and for each trains an ideal
R-STDP decision layer from the same initial weights and seed on the first ``--n-train`` training images, testing
it after every pass on the first ``--n-test`` test images. Prints one line per read (conv-3 input density, test
accuracy per pass) and writes them as JSON with ``--out``.

    python benchmarks/conv_read_variants.py RUN_C8/conv.npz --ideal RUN_IDEAL/conv.npz --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from spinsyn.mnist import load_mnist
from spinsyn.snn.conv import decide_all, encode, init_network, load_conv, propagate
from spinsyn.snn.conv.network import ConvNetwork, _train_rstdp


def reads(net: ConvNetwork) -> Iterator[tuple[str, list[np.ndarray]]]:
    """(name, [w1, w2]) of each read of the trained conv 1-2 synapses of ``net``."""
    yield "as stored", [lw.w.copy() for lw in net.layers[:2]]
    if net.layers[0].state is None or net.layers[0].gp is None:
        return
    signed, nominal = [], []
    for lw in net.layers[:2]:
        syn = lw.synapse
        assert syn is not None and lw.state is not None
        gmin, gmax = syn.g_bounds_S()
        g = syn.g_S(None, lw.state, lw.gp, lw.gap)
        signed.append((g - gmin) / (gmax - gmin))
        nominal.append(lw.state / syn.spec.n)
    yield "signed", signed
    yield "nominal k/N", nominal


def decision_curve(base: ConvNetwork, ws: list[np.ndarray], data: tuple, passes: int) -> dict:
    """Ideal decision layer on conv 1-2 weights ``ws``: conv-3 input density and test accuracy per pass."""
    X, y, Xt, yt = data
    c = base.config
    net = init_network(c, None, np.random.default_rng(5))
    net.layers[0].w[:], net.layers[1].w[:] = ws
    x3 = np.stack([propagate(net, s, 2) < c.T for s in encode(c, X)])
    x3t = np.stack([propagate(net, s, 2) < c.T for s in encode(c, Xt)])
    acc: list[float] = []
    _train_rstdp(net, x3, y.astype(np.int64), passes, np.random.default_rng(1), None,
                 lambda ep, n, tr: acc.append(float(np.mean(decide_all(n, x3t) == yt))))
    return {"x3_density": float(x3[:, :, 2:-2, 2:-2].mean()), "test_accuracy": acc}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="conv.npz of a compound conv run")
    p.add_argument("--ideal", help="conv.npz of an ideal conv run (its conv 1-2 as a fourth line)")
    p.add_argument("--n-train", type=int, default=5000)
    p.add_argument("--n-test", type=int, default=1000)
    p.add_argument("--passes", type=int, default=4)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", help="JSON file to write")
    a = p.parse_args(argv)
    X, y = load_mnist("train", a.data_dir, n=a.n_train)
    Xt, yt = load_mnist("test", a.data_dir, n=a.n_test)
    runs = [("compound", load_conv(a.run))] + ([("ideal run", load_conv(a.ideal))] if a.ideal else [])
    rows = []
    for who, net in runs:
        for name, ws in (reads(net) if who == "compound" else [("as stored", [lw.w for lw in net.layers[:2]])]):
            t0 = time.perf_counter()
            r = {"run": who, "read": name, **decision_curve(net, ws, (X, y, Xt, yt), a.passes)}
            rows.append(r)
            print(f"{who:9s} {name:12s} density {r['x3_density']:.3f} test "
                  + " ".join(f"{100 * v:.1f}" for v in r["test_accuracy"]) + f"  ({time.perf_counter() - t0:.0f} s)",
                  flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps({"args": vars(a), "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
