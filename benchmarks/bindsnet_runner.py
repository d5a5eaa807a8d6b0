"""Drive BindsNET 0.3.4's DiehlAndCook2015 the way its examples/mnist/eth_mnist.py does.

Runs INSIDE the BindsNET virtualenv (made by bench_snn_vs_bindsnet.py), not the spinsyn venv.
Reads MNIST straight from the IDX gz files (no torchvision downloader), trains on the first N
training images in file order, assigns labels from per-class mean activity (bindsnet.evaluation.
assign_labels, every --update-interval images as eth_mnist does, plus once more at the end over the
last partial block so every training image counts), tests on the first M test images and prints one
JSON line prefixed with ``BINDSNET_RESULT `` on stdout.

Timed: the per-sample loops (Poisson encoding + network.run + monitor read-out + reset, and during training
the label assignment every --update-interval images), as in eth_mnist; imports, network construction and data
loading are excluded here (the benchmark also times the whole process from start to exit).
Threads: torch.set_num_threads(--threads); the caller sets OMP/MKL/OPENBLAS_NUM_THREADS.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import struct
import sys
import time as _time

import numpy as np
import torch

# torchvision 0.28.0 wheels expect CUDA torch ops; declare the two op schemas its import registers
# kernels for, so `import torchvision` (done by `import bindsnet`) works on CPU torch. Nothing on the
# Diehl & Cook path calls them. Keep `_TV_LIB` alive for the life of the process.
try:
    _TV_LIB = torch.library.Library("torchvision", "DEF")
    _TV_LIB.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _TV_LIB.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
except RuntimeError as exc:  # already defined (e.g. a torchvision that works) -> harmless
    print(f"note: torchvision op shim not applied ({exc})", file=sys.stderr)

import bindsnet
from bindsnet.encoding import poisson
from bindsnet.evaluation import all_activity, assign_labels, proportion_weighting
from bindsnet.models import DiehlAndCook2015
from bindsnet.network.monitors import Monitor

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def _open(path):
    if os.path.exists(path):
        return gzip.open(path, "rb")
    raw = path[:-3]
    if os.path.exists(raw):
        return open(raw, "rb")
    raise FileNotFoundError(f"MNIST file not found: {path}")


def load_idx(data_dir: str, split: str, n: int):
    img_name, lab_name = FILES[split]
    with _open(os.path.join(data_dir, img_name)) as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        if magic != 2051:
            raise ValueError(f"{img_name}: bad magic {magic}")
        n = min(n, count)
        images = np.frombuffer(f.read(n * rows * cols), dtype=np.uint8).reshape(n, rows, cols)
    with _open(os.path.join(data_dir, lab_name)) as f:
        magic, count = struct.unpack(">II", f.read(8))
        if magic != 2049:
            raise ValueError(f"{lab_name}: bad magic {magic}")
        labels = np.frombuffer(f.read(n), dtype=np.uint8)
    return images.copy(), labels.copy()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--n-train", type=int, default=1000)
    p.add_argument("--n-test", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--neurons", type=int, default=100)
    p.add_argument("--time", type=int, default=250)
    p.add_argument("--dt", type=float, default=1.0)
    p.add_argument("--intensity", type=float, default=128.0)
    p.add_argument("--exc", type=float, default=22.5)
    p.add_argument("--inh", type=float, default=120.0)
    p.add_argument("--theta-plus", type=float, default=0.05)
    p.add_argument("--update-interval", type=int, default=250)
    p.add_argument("--progress-interval", type=int, default=100)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    n_neurons, n_classes = args.neurons, 10
    steps = int(args.time / args.dt)

    tr_img, tr_lab = load_idx(args.data_dir, "train", args.n_train)
    te_img, te_lab = load_idx(args.data_dir, "test", args.n_test)
    n_train, n_test = len(tr_lab), len(te_lab)
    # eth_mnist: ToTensor() (-> [0, 1]) then * intensity -> Poisson rates in Hz.
    tr_x = torch.from_numpy(tr_img).float().div_(255.0).mul_(args.intensity).view(n_train, 1, 28, 28)
    te_x = torch.from_numpy(te_img).float().div_(255.0).mul_(args.intensity).view(n_test, 1, 28, 28)
    tr_y = torch.from_numpy(tr_lab).long()
    te_y = torch.from_numpy(te_lab).long()

    network = DiehlAndCook2015(
        n_inpt=784,
        n_neurons=n_neurons,
        exc=args.exc,
        inh=args.inh,
        dt=args.dt,
        norm=78.4,
        nu=(1e-4, 1e-2),
        theta_plus=args.theta_plus,
        inpt_shape=(1, 28, 28),
    )
    # Monitors as in eth_mnist (they cost time there too).
    exc_v = Monitor(network.layers["Ae"], ["v"], time=steps)
    inh_v = Monitor(network.layers["Ai"], ["v"], time=steps)
    network.add_monitor(exc_v, name="exc_voltage")
    network.add_monitor(inh_v, name="inh_voltage")
    spikes = {}
    for layer in set(network.layers):
        spikes[layer] = Monitor(network.layers[layer], state_vars=["s"], time=steps)
        network.add_monitor(spikes[layer], name=f"{layer}_spikes")

    upd = args.update_interval
    spike_record = torch.zeros((upd, steps, n_neurons))
    assignments = -torch.ones(n_neurons)
    proportions = torch.zeros((n_neurons, n_classes))
    rates = torch.zeros((n_neurons, n_classes))
    running = []  # eth_mnist's per-block "all activity" accuracy during training

    def run_one(x):
        enc = poisson(datum=x, time=args.time, dt=args.dt)  # (steps, 1, 28, 28)
        network.run(inputs={"X": enc.view(steps, 1, 1, 28, 28)}, time=args.time)
        s = spikes["Ae"].get("s").squeeze(1)  # (steps, n_neurons)
        network.reset_state_variables()
        return s

    print(f"bindsnet {getattr(bindsnet, '__version__', '0.3.4')}: training on {n_train} images", file=sys.stderr)
    network.train(mode=True)
    t0 = _time.perf_counter()
    for i in range(n_train):
        if i % upd == 0 and i > 0:
            lab = tr_y[i - upd : i]
            pred = all_activity(spikes=spike_record, assignments=assignments, n_labels=n_classes)
            running.append({"samples": i, "running_accuracy": float((pred == lab).float().mean())})
            assignments, proportions, rates = assign_labels(spike_record, lab, n_classes, rates)
        spike_record[i % upd] = run_one(tr_x[i])
        if args.progress_interval and (i + 1) % args.progress_interval == 0:
            el = _time.perf_counter() - t0
            print(f"  train {i + 1}/{n_train}  {(i + 1) / el:.2f} samples/s", file=sys.stderr)
    t_train = _time.perf_counter() - t0
    # Final assignment over the last (possibly partial) block so all training images count.
    k = n_train - (n_train - 1) // upd * upd if n_train else 0
    if k:
        assignments, proportions, rates = assign_labels(
            spike_record[:k], tr_y[n_train - k : n_train], n_classes, rates
        )

    print(f"testing on {n_test} images", file=sys.stderr)
    network.train(mode=False)
    test_counts = torch.zeros((n_test, 1, n_neurons))  # all_activity sums over time anyway
    t0 = _time.perf_counter()
    for i in range(n_test):
        test_counts[i, 0] = run_one(te_x[i]).sum(0)
        if args.progress_interval and (i + 1) % args.progress_interval == 0:
            el = _time.perf_counter() - t0
            print(f"  test {i + 1}/{n_test}  {(i + 1) / el:.2f} samples/s", file=sys.stderr)
    t_test = _time.perf_counter() - t0

    pred_all = all_activity(spikes=test_counts, assignments=assignments, n_labels=n_classes)
    pred_prop = proportion_weighting(
        spikes=test_counts, assignments=assignments, proportions=proportions, n_labels=n_classes
    )
    result = {
        "engine": "bindsnet",
        "bindsnet_version": getattr(bindsnet, "__version__", None) or "0.3.4",
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "thread_env": {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
        "seed": args.seed,
        "n_train": n_train,
        "n_test": n_test,
        "neurons": n_neurons,
        "time_ms": args.time,
        "dt_ms": args.dt,
        "train_seconds": t_train,
        "test_seconds": t_test,
        "train_samples_per_s": n_train / t_train if t_train > 0 else None,
        "test_samples_per_s": n_test / t_test if t_test > 0 else None,
        "accuracy_all_activity": float((pred_all == te_y).float().mean()) if n_test else None,
        "accuracy_proportion": float((pred_prop == te_y).float().mean()) if n_test else None,
        "history": running,
        "settings": {
            "exc": args.exc, "inh": args.inh, "theta_plus": args.theta_plus, "nu": [1e-4, 1e-2],
            "norm": 78.4, "intensity": args.intensity, "batch": 1,
            "update_interval": upd, "encoding": "poisson",
        },
    }
    print("BINDSNET_RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
