#!/usr/bin/env python
"""Torch path of the conv network (issue 27) against the numba path, in one run on one machine.

Default network (``ConvConfig()``: 30 / 250 / 200 maps), initial weights of seed 0, the first --n-images MNIST
training images. Times, each after a warm-up (numba JIT / CUDA start-up, cuDNN plans):

* forward to the conv-3 input (conv 1, pool, conv 2, pool, pads): numba per image on the first --n-forward images,
  torch batched (--forward-batch) on all --n-images; the spike maps of the common images are compared;
* one R-STDP pass over the --n-images cached conv-3 inputs: numba sequential (:func:`network._train_rstdp`) and
  torch batched (:func:`torch_rstdp.train_rstdp_torch`, --batch) with float64 (exact) and float32 sums, the same
  random stream; the training accuracies and weights are compared.

Usage:  .venv/bin/python benchmarks/bench_gpu_conv.py [--device auto] [--n-images 2000] [--n-forward 200]
            [--batch 256] [--forward-batch 64] [--data-dir DIR] [--json-out FILE]
On one GPU the defaults take about 1-2 min (most of it the numba forward of --n-forward images on the host CPU).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from pathlib import Path


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _timed(fn, device: str):
    _sync(device)
    t0 = time.perf_counter()
    out = fn()
    _sync(device)
    return out, time.perf_counter() - t0


def forward(net, s0, args) -> tuple[dict, object]:
    import numpy as np
    from spinsyn.snn.conv import propagate
    from spinsyn.snn.conv.torch_path import propagate_torch

    c = net.config
    propagate(net, s0[0], 2)  # numba JIT / cache load
    propagate_torch(net, s0[:2], 2, args.device, batch=2)  # CUDA context, cuDNN
    ref, t_nb = _timed(lambda: np.stack([propagate(net, s, 2) for s in s0[:args.n_forward]]), args.device)
    got, t_tc = _timed(lambda: propagate_torch(net, s0, 2, args.device, batch=args.forward_batch), args.device)
    k = args.n_forward
    row = {"numba_ms_per_image": 1e3 * t_nb / k, "torch_ms_per_image": 1e3 * t_tc / len(s0),
           "speedup": (t_nb / k) / (t_tc / len(s0)), "n_numba": k, "n_torch": len(s0),
           "differing_spike_times": int(np.sum(got[:k] != ref)), "x3_density": float(np.mean(got < c.T))}
    return row, got < c.T


def rstdp(net, x3, labels, args) -> dict:
    import numpy as np
    import torch
    from spinsyn.snn.conv.network import _train_rstdp
    from spinsyn.snn.conv.torch_rstdp import train_rstdp_torch

    _train_rstdp(copy.deepcopy(net), x3[:4], labels[:4], 1, np.random.default_rng(0), None)  # JIT
    seq = copy.deepcopy(net)
    acc_nb, t_nb = _timed(lambda: _train_rstdp(seq, x3, labels, 1, np.random.default_rng(1), None), args.device)
    row: dict = {"n": len(x3), "numba_us_per_image": 1e6 * t_nb / len(x3), "numba_train_acc": acc_nb[0]}
    for name, dt in (("float64", torch.float64), ("float32", torch.float32)):
        train_rstdp_torch(copy.deepcopy(net), x3[:8], labels[:8], 1, np.random.default_rng(0), args.device,
                          batch=4, dtype=dt)  # warm-up
        bat = copy.deepcopy(net)
        acc, t = _timed(lambda b=bat, d=dt: train_rstdp_torch(b, x3, labels, 1, np.random.default_rng(1),
                                                              args.device, batch=args.batch, dtype=d), args.device)
        row[name] = {"us_per_image": 1e6 * t / len(x3), "speedup": t_nb / t, "train_acc": acc[0],
                     "weights_equal_numba": bool(np.array_equal(bat.layers[2].w, seq.layers[2].w)),
                     "max_abs_weight_diff": float(np.max(np.abs(bat.layers[2].w - seq.layers[2].w)))}
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto", help="auto | cpu | cuda[:i]")
    p.add_argument("--n-images", type=int, default=2000, help="images of the R-STDP pass and the torch forward")
    p.add_argument("--n-forward", type=int, default=200, help="images of the numba forward (~0.1 s each)")
    p.add_argument("--batch", type=int, default=256, help="R-STDP batch of the torch path")
    p.add_argument("--forward-batch", type=int, default=64)
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: spinsyn.mnist lookup)")
    p.add_argument("--json-out", default=None)
    args = p.parse_args(argv)
    import numpy as np
    import torch
    from spinsyn.mnist import load_mnist
    from spinsyn.snn.conv import ConvConfig, encode, init_network
    from spinsyn.snn.conv.torch_path import torch_device

    args.device = str(torch_device(args.device))
    args.n_forward = min(args.n_forward, args.n_images)
    X, y = load_mnist("train", args.data_dir, n=args.n_images)
    cfg = ConvConfig()
    net = init_network(cfg, None, np.random.default_rng(0))
    s0, t_enc = _timed(lambda: encode(cfg, X), "cpu")
    fw, x3 = forward(net, s0, args)
    rs = rstdp(net, x3, y.astype(np.int64), args)
    dev_name = torch.cuda.get_device_name(torch.device(args.device)) if args.device.startswith("cuda") else "cpu"
    res = {"device": args.device, "device_name": dev_name, "torch": torch.__version__, "load_avg": os.getloadavg(),
           "threads": torch.get_num_threads(), "batch": args.batch, "encode_s": t_enc, "forward": fw, "rstdp": rs}
    print(f"device {args.device} ({dev_name}), {args.n_images} images, load {res['load_avg'][0]:.2f}")
    print(f"forward to conv-3 input: numba {fw['numba_ms_per_image']:.2f} ms/image, torch "
          f"{fw['torch_ms_per_image']:.3f} ms/image: {fw['speedup']:.1f}x; differing spike times "
          f"{fw['differing_spike_times']} (x3 density {fw['x3_density']:.3f})")
    for name in ("float64", "float32"):
        r = rs[name]
        print(f"R-STDP pass ({name} sums, batch {args.batch}): numba {rs['numba_us_per_image']:.0f} us/image, torch "
              f"{r['us_per_image']:.0f} us/image: {r['speedup']:.2f}x; train acc {r['train_acc']:.4f} vs "
              f"{rs['numba_train_acc']:.4f}, weights equal: {r['weights_equal_numba']}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
