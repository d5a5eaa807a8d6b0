"""Train a small hardware-aware Diehl & Cook network from Python and re-evaluate it.

Run: ``python examples/train_mnist.py [--data-dir /path/to/mnist] [--out runs/example_compound8] [--quick]``
(default: spinsyn's MNIST lookup order; the embedded 2,000/1,000 subset works). About 10 s on a 2-core CPU;
``--quick`` (20 neurons, 200 training and 100 test images; same code path) is what the test suite runs.
"""

from __future__ import annotations

import argparse

from spinsyn.mnist import load_mnist
from spinsyn.snn import evaluate, load_run, make_config, train


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default="runs/example_compound8", help="run folder to write (nothing else is written)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, for the test suite")
    args = ap.parse_args()
    neurons, n_train, n_test = (20, 200, 100) if args.quick else (100, 2000, 1000)
    # the options of `spinsyn train`, validated; per-synapse defaults (learning rate, annealing) included
    cfg = make_config(synapse="compound:8", neurons=neurons, n_train=n_train, n_test=n_test, n_assign=n_train,
                      data_dir=args.data_dir)
    m = train(cfg, args.out)
    print(f"all activity {m['accuracy_all_activity']:.3f}, proportion {m['accuracy_proportion']:.3f}, "
          f"{m['train_samples_per_s']:.0f} train samples/s")
    net = load_run(args.out)
    X, y = load_mnist("test", args.data_dir, n=n_test)
    print("re-evaluated:", evaluate(net, X, y, device="cpu")["accuracy_all_activity"])


if __name__ == "__main__":
    main()
