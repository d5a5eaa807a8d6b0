#!/usr/bin/env python
"""Training-epoch time of the torch engine (CUDA graphs of the T-step loop on CUDA) per neuron count.

For each neuron count, trains N_TRAIN images (default 60,000 = one epoch; --quick: 512 on whatever device,
256 with --quick on the CPU) at --batch with ``--input diehl-cook`` through the same Trainer as
``spinsyn train`` (labels and test are not run), and prints the training-loop time, images/s, the time
extrapolated to a 60,000-image epoch and peak memory (CUDA: torch.cuda.max_memory_allocated; CPU: the
process's peak RSS). The first batch of each size is a warm-up (graph capture) and is counted: a real
epoch pays it too.

Usage:  .venv/bin/python benchmarks/bench_gpu_epoch.py [--neurons 400 1600 6400] [--batch 256]
            [--device auto] [--n-train 60000] [--quick] [--data-dir DIR] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
from pathlib import Path

EPOCH = 60000


def epoch_time(neurons: int, args) -> dict:
    import torch
    from spinsyn.snn import Trainer, make_config

    cfg = make_config(neurons=neurons, n_train=args.n_train, n_test=0, n_assign=1, batch=args.batch,
                      engine="torch", device=args.device, input_preset="diehl-cook", seed=0, data_dir=args.data_dir,
                      plots=False, checkpoint_every=10**9)
    with tempfile.TemporaryDirectory(prefix="spinsyn-gpu-epoch-") as tmp:
        tr = Trainer(cfg, tmp, progress=False)
        tr.compile_rule()
        tr.load_data()
        tr.start()
        cuda = tr.eng.device.startswith("cuda")
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        tr.run()
        if cuda:
            torch.cuda.synchronize()
    peak = (torch.cuda.max_memory_allocated() if cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    sps = args.n_train / tr.t_loop
    return {"neurons": neurons, "batch": args.batch, "device": tr.eng.device, "n_train": args.n_train,
            "loop_s": tr.t_loop, "samples_per_s": sps, "epoch_s_60k": EPOCH / sps, "peak_memory_bytes": int(peak),
            "cuda_graphs": bool(getattr(tr.eng, "capture", False))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--neurons", type=int, nargs="+", default=[400, 1600, 6400])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda[:i]")
    p.add_argument("--n-train", type=int, default=None, help="training images (default 60000; --quick 512/256)")
    p.add_argument("--quick", action="store_true", help="few images (CPU torch engine check)")
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: spinsyn.mnist lookup)")
    p.add_argument("--json-out", default=None)
    args = p.parse_args(argv)
    if args.n_train is None:
        args.n_train = (512 if args.device != "cpu" else 256) if args.quick else EPOCH
    rows = []
    for n in args.neurons:
        r = epoch_time(n, args)
        rows.append(r)
        print(f"{n:5d} neurons, batch {r['batch']}, {r['device']}{' (CUDA graphs)' if r['cuda_graphs'] else ''}: "
              f"{r['n_train']} images in {r['loop_s']:.2f} s = {r['samples_per_s']:,.0f} images/s -> "
              f"{r['epoch_s_60k']:.1f} s per 60k epoch; peak memory {r['peak_memory_bytes'] / 2**30:.2f} GiB",
              flush=True)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"benchmark": "gpu_epoch", "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
