"""Train a small hardware-aware Diehl & Cook network from Python and re-evaluate it.

Run: ``python examples/train_mnist.py [--data-dir /path/to/mnist]`` (default: spinsyn's MNIST lookup order;
the embedded 2,000/1,000 subset works). About 10 s on a 2-core CPU.
"""

from __future__ import annotations

import argparse

from spinsyn.mnist import load_mnist
from spinsyn.snn import evaluate, load_run, make_config, train


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default="runs/example_compound8")
    args = ap.parse_args()
    # the options of `spinsyn train`, validated; per-synapse defaults (learning rate, annealing) included
    cfg = make_config(synapse="compound:8", neurons=100, n_train=2000, n_test=1000, n_assign=2000,
                      data_dir=args.data_dir)
    m = train(cfg, args.out)
    print(f"all activity {m['accuracy_all_activity']:.3f}, proportion {m['accuracy_proportion']:.3f}, "
          f"{m['train_samples_per_s']:.0f} train samples/s")
    net = load_run(args.out)
    X, y = load_mnist("test", args.data_dir, n=1000)
    print("re-evaluated:", evaluate(net, X, y, device="cpu")["accuracy_all_activity"])


if __name__ == "__main__":
    main()
