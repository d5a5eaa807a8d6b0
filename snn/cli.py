"""``spinsyn train`` and ``spinsyn eval`` (registered by the core dispatcher)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .config import INPUT_PRESETS

#: ``make_config`` keyword ← argparse destination (options whose names differ); the rest keep their names
_ARG_NAMES = {"input_preset": "input"}
_MAKE_CONFIG_KEYS = ("synapse", "neurons", "n_train", "n_test", "n_assign", "epochs", "batch", "batch_ramp", "merge",
                     "seed",
                     "device", "engine", "data_dir", "rule", "learning_rule", "nu", "nu_final", "nu_pre",
                     "rule_spread", "rule_offset", "soft_bound", "deterministic_rounding", "compound_gain",
                     "g_spread", "read_noise", "input_preset", "intensity", "time_ms", "w_inh", "min_spikes",
                     "train_min_spikes", "checkpoint_every", "checkpoint_weights", "threads")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train`` and ``eval`` to the ``spinsyn`` command line."""
    p = subparsers.add_parser("train", help="train the Diehl & Cook network with hardware-aware synapses",
                              description="Unsupervised STDP training on MNIST (Diehl & Cook 2015 as in BindsNET), "
                                          "then label assignment and test. Writes RUN_DIR/checkpoint.pt, "
                                          "metrics.json and plots.")
    p.add_argument("--out", metavar="RUN_DIR", help="run directory to write (required unless --resume)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its checkpoint")
    p.add_argument("--rule", metavar="RULE_JSON|SWEEP_H5", default=None,
                   help="fitted bi-sigmoid rule (spinsyn-rule JSON), or a device sweep HDF5 (spinsyn device sweep) "
                        "whose measured p_up(Δt) − p_down(Δt) is used directly; default: the published parameters")
    p.add_argument("--learning-rule", default="trace", choices=["trace", "postpre"],
                   help="trace = bi-sigmoid trace rule (default), postpre = BindsNET PostPre STDP")
    p.add_argument("--nu", type=float, default=None, metavar="NU_POST",
                   help="post-spike learning rate (trace default: 0.001, compound 0.005, tuned on MNIST; postpre 0.01)")
    p.add_argument("--nu-final", type=float, default=None, metavar="FRAC",
                   help="learning rates decay linearly to FRAC of their start over the run (default: 0.1 for "
                        "compound, whose stochastic updates need annealing; 1 = constant for the others)")
    p.add_argument("--soft-bound", action="store_true",
                   help="trace rule: weight-dependent updates, ΔW>0 scaled by (1−w), ΔW<0 by w (for compound:N this "
                        "is pulse physics: each MTJ in the other state switches with probability |ΔW|)")
    p.add_argument("--nu-pre", type=float, default=None, help="postpre: pre-spike depression rate (default 1e-4)")
    p.add_argument("--rule-spread", type=float, default=0.0, help="trace rule: relative trial-to-trial spread of f")
    p.add_argument("--rule-offset", type=float, default=None,
                   help="trace rule: depression offset (default 0, or 0.5 with --no-norm)")
    p.add_argument("--synapse", default="ideal", help="ideal | quantized:L | compound:N | dw:L (default ideal)")
    p.add_argument("--deterministic-rounding", action="store_true", help="quantized/dw: round to nearest level")
    p.add_argument("--compound-gain", type=float, default=None, help="compound: ν→probability scale (default 1)")
    p.add_argument("--g-spread", type=float, default=None, help="compound: lognormal σ of G_P/G_AP (default 0.05)")
    p.add_argument("--read-noise", type=float, default=None, help="compound: relative read noise σ (default 0.02)")
    p.add_argument("--neurons", type=int, default=100, help="excitatory neurons (default 100)")
    p.add_argument("--input", default="bindsnet", choices=sorted(INPUT_PRESETS),
                   help="input statistics: bindsnet = 128 Hz max rate for 250 ms (BindsNET eth_mnist, default); "
                        "diehl-cook = 63.75 Hz (pixel/4) for 350 ms, as in Diehl & Cook 2015")
    p.add_argument("--intensity", type=float, default=None, metavar="HZ",
                   help="rate of a white pixel (overrides --input)")
    p.add_argument("--time-ms", type=float, default=None, help="presentation per image in ms (overrides --input)")
    p.add_argument("--w-inh", type=float, default=None, metavar="MV",
                   help="inhibitory -> excitatory weight in mV (default 120, as BindsNET)")
    p.add_argument("--n-train", type=int, default=60000, help="training images (default 60000)")
    p.add_argument("--n-test", type=int, default=10000, help="test images (default 10000)")
    p.add_argument("--n-assign", type=int, default=10000, help="training images for label assignment (default 10000)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=1, help="images simulated in parallel (default 1)")
    p.add_argument("--merge", default="winner", choices=["winner", "sum", "winner-scaled"],
                   help="how a batch's weight changes combine (default winner: per neuron, its strongest image)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda[:i] (default auto)")
    p.add_argument("--engine", default="auto", choices=["auto", "numba", "torch"],
                   help="auto = numba on CPU, torch on CUDA")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: lookup order of spinsyn.mnist)")
    p.add_argument("--no-norm", action="store_true", help="no per-neuron weight normalisation (what a chip can do)")
    p.add_argument("--no-shuffle", action="store_true", help="present training images in file order")
    p.add_argument("--min-spikes", type=int, default=0,
                   help="inference: re-show an image at +32 Hz while it evokes fewer spikes (Diehl & Cook; 0 = off, "
                        "as BindsNET)")
    p.add_argument("--train-min-spikes", type=int, default=0, metavar="K",
                   help="training: discard and re-show an image at +32 Hz (up to 5 times) while it evokes fewer than "
                        "K spikes, as Diehl & Cook did (numba engine; default 0 = off, as BindsNET)")
    p.add_argument("--checkpoint-every", type=int, default=5000, help="images between checkpoints")
    _add_scale_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    # what --resume refuses to be combined with: every option left at its default here
    p.set_defaults(func=cmd_train, train_defaults={a.dest: a.default for a in p._actions
                                                    if a.dest not in ("help", "resume", "quiet")})

    e = subparsers.add_parser("eval", help="test a trained run on MNIST")
    e.add_argument("run_dir", metavar="RUN_DIR")
    e.add_argument("--n-test", type=int, default=10000)
    e.add_argument("--data-dir", default=None)
    e.add_argument("--device", default="auto")
    e.add_argument("--json", action="store_true", help="print the result as JSON")
    e.add_argument("--assign", type=int, default=None, metavar="N",
                   help="first assign labels on N training images (learning off) and store them in the run "
                        "(runs imported without labels)")
    e.set_defaults(func=cmd_eval)
    from .import_cli import register_import

    register_import(subparsers)


def _add_scale_options(p: argparse.ArgumentParser) -> None:
    """Options of large and short runs: batch ramp, threads, checkpoint weight precision, plots."""
    p.add_argument("--batch-ramp", type=int, default=0, metavar="K",
                   help="warm start: batch 1 for the first K images of the run, then --batch (default 0 = --batch from "
                        "the start; measured worse at 400 neurons, docs/snn.md)")
    p.add_argument("--checkpoint-weights", default="float64", choices=["float64", "float32", "float16"],
                   help="ideal synapses: dtype of the weights in the final checkpoint (float16: 4x smaller, relative "
                        "error <= 2^-11; leveled synapses always store exact level indices)")
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads of the numba engine (default 0 = all that NUMBA_NUM_THREADS allows); images of a "
                        "batch and of evaluation run in parallel, with the same results at any thread count")
    p.add_argument("--no-plots", action="store_true", help="do not write the PNG figures (saves ~1.3 s)")


def config_from_args(args: argparse.Namespace):
    """Build and validate a TrainConfig from parsed CLI options (:func:`spinsyn.snn.make_config`)."""
    from .config import make_config

    opts = {k: getattr(args, _ARG_NAMES.get(k, k)) for k in _MAKE_CONFIG_KEYS}
    return make_config(**opts, norm=not args.no_norm, shuffle=not args.no_shuffle, plots=not args.no_plots)


def _check_data(data_dir: str | None, n_train: int, n_test: int) -> None:
    from spinsyn.mnist import resolve_mnist_dir

    for split, n in (("train", n_train), ("test", n_test)):
        if n > 0:
            resolve_mnist_dir(data_dir, split)  # raises naming the folder when MNIST is not there


def _check_resume_alone(args: argparse.Namespace) -> None:
    """``--resume RUN_DIR`` continues the run with the options stored in its checkpoint: any other option given
    would be ignored, so it is refused, naming it."""
    defaults = getattr(args, "train_defaults", {}) or {}
    given = [d for d, v in defaults.items() if getattr(args, d, v) != v]
    if given:
        names = ", ".join("--" + d.replace("_", "-") for d in given)
        raise ValueError(f"--resume: {names} cannot be combined with --resume (a resumed run keeps the options "
                         f"stored in {args.resume}/checkpoint.pt); drop {names} or start a new run with --out")


def cmd_train(args: argparse.Namespace) -> int:
    from .checkpoint import read_checkpoint
    from .config import TrainConfig, resolve_device, resolve_engine
    from .trainer import check_run_dir, train

    if args.resume:
        _check_resume_alone(args)
        check_run_dir(Path(args.resume), True)
        ck = read_checkpoint(Path(args.resume))
        cfg = TrainConfig.from_json(ck["config_json"])
        run_dir = Path(args.resume)
        resume = True
    else:
        if not args.out:
            raise ValueError("--out RUN_DIR is required (or --resume RUN_DIR)")
        cfg = config_from_args(args)
        run_dir = Path(args.out)
        resume = False
    check_run_dir(run_dir, resume)
    resolve_engine(cfg.engine, resolve_device(cfg.device))
    _check_data(cfg.data_dir, cfg.n_train, cfg.n_test)
    m = train(cfg, run_dir, resume=resume, progress=not getattr(args, "quiet", False))
    acc = ("not measured (--n-test 0)" if m["accuracy_all_activity"] is None else
           f"all activity {100 * m['accuracy_all_activity']:.2f} %, proportion weighting "
           f"{100 * m['accuracy_proportion']:.2f} % ({m['n_test']} images)")
    print(f"test accuracy: {acc}; train {m['train_samples_per_s']:.0f} "
          f"samples/s, test {m['test_samples_per_s']:.0f} samples/s on {m['device']} ({m['engine']}); "
          f"run in {run_dir}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from spinsyn.mnist import load_mnist

    from .checkpoint import read_checkpoint
    from .network import evaluate, load_run

    if args.n_test < 1:
        raise ValueError(f"--n-test: expected a positive integer, got {args.n_test}")
    ck = read_checkpoint(args.run_dir)  # a missing or foreign file fails here, before the network code loads
    _check_data(args.data_dir, args.assign or 0, args.n_test)
    if args.assign is not None:
        from .assign import assign_run_labels

        a = assign_run_labels(args.run_dir, args.assign, args.data_dir, args.device)
        print(f"{args.run_dir}: labels assigned on {a['n_assign']} training images and stored in the run")
    elif "assignments" not in ck:
        raise ValueError(f"{args.run_dir}: the run has no label assignment; add --assign N (N training images)")
    net = load_run(args.run_dir)
    X, y = load_mnist("test", args.data_dir, n=args.n_test)
    res = evaluate(net, X, y, device=args.device)
    if args.json:
        print(json.dumps({k: v for k, v in res.items()}, indent=2))
    else:
        print(f"{args.run_dir}: all activity {100 * res['accuracy_all_activity']:.2f} %, proportion weighting "
              f"{100 * res['accuracy_proportion']:.2f} % on {res['n_test']} test images "
              f"({res['test_samples_per_s']:.0f} samples/s, {res['device']})")
    return 0
