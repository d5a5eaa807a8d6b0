"""Train BindsNET 0.3.4's DiehlAndCook2015 as eth_mnist.py does and save it the way BindsNET users do.

Runs INSIDE the BindsNET virtualenv (see benchmarks/README.md), driven by bench_bindsnet_import.py. Trains on
the first N training images in file order (batch 1, eth_mnist's settings and monitors), assigns labels with
``bindsnet.evaluation.assign_labels`` every --update-interval images as eth_mnist does (plus once at the end
over the last block), tests on the first M test images with learning off, and writes to --out:

* ``net.pt``: ``network.save()`` (BindsNET's pickle of the whole network),
* ``labels.pt``: ``torch.save(assignments)`` ((N,) int64 class per neuron, -1 = never fired),
* ``bindsnet_result.json``: BindsNET's own test accuracy on those M images and the settings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time as _time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bindsnet.encoding import poisson  # noqa: E402
from bindsnet.evaluation import all_activity, assign_labels, proportion_weighting  # noqa: E402
from bindsnet.models import DiehlAndCook2015  # noqa: E402
from bindsnet.network.monitors import Monitor  # noqa: E402
from bindsnet_runner import load_idx  # noqa: E402  (also declares the torchvision op shim before bindsnet)


def _network(n_neurons: int, steps: int) -> tuple[DiehlAndCook2015, Monitor]:
    net = DiehlAndCook2015(n_inpt=784, n_neurons=n_neurons, exc=22.5, inh=120.0, dt=1.0, norm=78.4,
                           nu=(1e-4, 1e-2), theta_plus=0.05, inpt_shape=(1, 28, 28))
    for name, layer in (("exc_voltage", "Ae"), ("inh_voltage", "Ai")):  # eth_mnist's monitors
        net.add_monitor(Monitor(net.layers[layer], ["v"], time=steps), name=name)
    spikes = Monitor(net.layers["Ae"], state_vars=["s"], time=steps)
    net.add_monitor(spikes, name="Ae_spikes")
    return net, spikes


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--n-train", type=int, default=2000)
    p.add_argument("--n-test", type=int, default=1000)
    p.add_argument("--neurons", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--update-interval", type=int, default=250)
    args = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    time_ms, steps, n_cls, upd = 250, 250, 10, args.update_interval
    tr_img, tr_lab = load_idx(args.data_dir, "train", args.n_train)
    te_img, te_lab = load_idx(args.data_dir, "test", args.n_test)
    tr_x = torch.from_numpy(tr_img).float().div_(255.0).mul_(128.0).view(-1, 1, 28, 28)
    te_x = torch.from_numpy(te_img).float().div_(255.0).mul_(128.0).view(-1, 1, 28, 28)
    tr_y, te_y = torch.from_numpy(tr_lab).long(), torch.from_numpy(te_lab).long()
    net, spikes = _network(args.neurons, steps)

    def run_one(x: torch.Tensor) -> torch.Tensor:
        net.run(inputs={"X": poisson(datum=x, time=time_ms, dt=1.0).view(steps, 1, 1, 28, 28)}, time=time_ms)
        s = spikes.get("s").squeeze(1)
        net.reset_state_variables()
        return s

    record = torch.zeros((upd, steps, args.neurons))
    assignments, proportions, rates = -torch.ones(args.neurons, dtype=torch.long), None, None
    net.train(mode=True)
    t0 = _time.perf_counter()
    for i in range(len(tr_y)):
        if i % upd == 0 and i > 0:
            assignments, proportions, rates = assign_labels(record, tr_y[i - upd:i], n_cls, rates)
        record[i % upd] = run_one(tr_x[i])
        if (i + 1) % 100 == 0:
            print(f"  train {i + 1}/{len(tr_y)} {(i + 1) / (_time.perf_counter() - t0):.2f}/s", file=sys.stderr)
    k = len(tr_y) - (len(tr_y) - 1) // upd * upd
    assignments, proportions, rates = assign_labels(record[:k], tr_y[len(tr_y) - k:], n_cls, rates)
    t_train = _time.perf_counter() - t0
    net.train(mode=False)
    counts = torch.zeros((len(te_y), 1, args.neurons))
    for i in range(len(te_y)):
        counts[i, 0] = run_one(te_x[i]).sum(0)
    pred_all = all_activity(spikes=counts, assignments=assignments, n_labels=n_cls)
    pred_prop = proportion_weighting(spikes=counts, assignments=assignments, proportions=proportions, n_labels=n_cls)
    os.makedirs(args.out, exist_ok=True)
    net.save(os.path.join(args.out, "net.pt"))
    torch.save(assignments.long(), os.path.join(args.out, "labels.pt"))
    res = {"n_train": len(tr_y), "n_test": len(te_y), "neurons": args.neurons, "seed": args.seed,
           "train_seconds": t_train, "torch_version": torch.__version__,
           "accuracy_all_activity": float((pred_all == te_y).float().mean()),
           "accuracy_proportion": float((pred_prop == te_y).float().mean()),
           "unassigned_neurons": int((assignments < 0).sum()),
           "mean_spikes_per_test_image": float(counts.sum() / max(len(te_y), 1)),
           "settings": {"exc": 22.5, "inh": 120.0, "theta_plus": 0.05, "nu": [1e-4, 1e-2], "norm": 78.4,
                        "intensity": 128.0, "time_ms": time_ms, "dt_ms": 1.0, "update_interval": upd}}
    with open(os.path.join(args.out, "bindsnet_result.json"), "w") as fh:
        json.dump(res, fh, indent=2)
    print("BINDSNET_RESULT " + json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
