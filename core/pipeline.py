"""``spinsyn pipeline``: the whole loop, SPICE device sweep -> fit -> train -> export -> verify -> simulate.

Each step is the stage's own CLI command and the steps talk only through files in ``--out``:

=========  ==========================  ==============================
step       command                     writes
=========  ==========================  ==============================
sweep      ``spinsyn device sweep``    ``sweep.h5`` (+ ``sweep.png``)
fit        ``spinsyn fit``             ``rule.json`` (+ ``fit.png``)
train      ``spinsyn train``           ``run/`` (checkpoint, metrics, plots)
export     ``spinsyn export``          ``chip/`` (HDF5, CSV, manifest)
verify     ``spinsyn export verify``   (checks ``chip/``)
simulate   ``spinsyn export simulate`` ``simulate.json``   
=========  ==========================  ==============================

A step whose output already exists is skipped, so an interrupted pipeline resumes where it stopped
(``--force`` redoes everything).
"""

from __future__ import annotations

import argparse
import shlex
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PipelineConfig:
    """Defaults of the embedded demo: small enough for a laptop, every stage real (ngspice included)."""

    out_dir: str = "runs/demo"
    model: str = "compound"
    n_mtj: int = 8
    dt_ms: str = "0:60:2"
    trials: int = 20
    engine: str = "spice"
    jobs: int = 2
    synapse: str = "compound:8"
    neurons: int = 100
    n_train: int = 2000
    n_test: int = 1000
    epochs: int = 1
    device: str = "auto"
    seed: int = 0
    data_dir: str | None = None
    tile: str = "128x128"


def steps(cfg: PipelineConfig) -> list[tuple[str, list[str], Path]]:
    """(name, argv for ``spinsyn``, output whose presence marks the step done), in order."""
    out = Path(cfg.out_dir)
    data = ["--data-dir", cfg.data_dir] if cfg.data_dir else []
    return [
        ("sweep", ["device", "sweep", "--model", cfg.model, "--n-mtj", str(cfg.n_mtj), "--dt-ms", cfg.dt_ms,
                   "--trials", str(cfg.trials), "--engine", cfg.engine, "--seed", str(cfg.seed),
                   "--jobs", str(cfg.jobs), "--out", str(out / "sweep.h5")], out / "sweep.h5"),
        ("sweep-plot", ["device", "plot", str(out / "sweep.h5"), "--out", str(out / "sweep.png")],
         out / "sweep.png"),
        ("fit", ["fit", str(out / "sweep.h5"), "--model", "bisigmoid", "--out", str(out / "rule.json"),
                 "--plot", str(out / "fit.png")], out / "rule.json"),
        ("train", ["train", "--rule", str(out / "rule.json"), "--synapse", cfg.synapse, "--neurons",
                   str(cfg.neurons), "--n-train", str(cfg.n_train), "--n-test", str(cfg.n_test), "--epochs",
                   str(cfg.epochs), "--device", cfg.device, "--seed", str(cfg.seed), *data,
                   "--out", str(out / "run")], out / "run" / "metrics.json"),
        ("export", ["export", str(out / "run"), "--synapse", cfg.synapse, "--tile", cfg.tile,
                    "--out", str(out / "chip")], out / "chip"),
        ("verify", ["export", "verify", str(out / "chip")], None),
        ("simulate", ["export", "simulate", str(out / "chip"), "--n-test", str(cfg.n_test), *data,
                      "--json", str(out / "simulate.json")], out / "simulate.json"),
    ]


def run(cfg: PipelineConfig, force: bool = False) -> int:
    """Run every step in order; return the first non-zero exit code, else 0."""
    from .cli import main

    Path(cfg.out_dir).mkdir(parents=True, exist_ok=True)
    for name, argv, marker in steps(cfg):
        if marker is not None and marker.exists() and not force:
            print(f"[pipeline] {name}: done already ({marker}), skipping")
            continue
        print(f"[pipeline] {name}: spinsyn {shlex.join(argv)}", flush=True)
        t0 = time.perf_counter()
        rc = main(argv)
        print(f"[pipeline] {name}: exit {rc} after {time.perf_counter() - t0:.1f} s", flush=True)
        if rc != 0:
            return rc
    print(f"[pipeline] all steps done; results in {cfg.out_dir}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    d = PipelineConfig()
    p = sub.add_parser(
        "pipeline",
        help="run the whole loop: device sweep (ngspice) -> fit -> train -> export -> verify -> simulate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", default=d.out_dir, help=f"output folder (default {d.out_dir})")
    p.add_argument("--trials", type=int, default=d.trials, help="Monte-Carlo trials per delay")
    p.add_argument("--engine", choices=("spice", "reference"), default=d.engine)
    p.add_argument("--jobs", type=int, default=d.jobs, help="parallel ngspice processes")
    p.add_argument("--synapse", default=d.synapse)
    p.add_argument("--neurons", type=int, default=d.neurons)
    p.add_argument("--n-train", type=int, default=d.n_train)
    p.add_argument("--n-test", type=int, default=d.n_test)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--device", default=d.device)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: lookup order, embedded subset)")
    p.add_argument("--force", action="store_true", help="redo steps whose outputs exist")
    p.set_defaults(func=_cmd)


def _cmd(args: argparse.Namespace) -> int:
    cfg = PipelineConfig(
        out_dir=args.out, trials=args.trials, engine=args.engine, jobs=args.jobs, synapse=args.synapse,
        neurons=args.neurons, n_train=args.n_train, n_test=args.n_test, epochs=args.epochs,
        device=args.device, seed=args.seed, data_dir=args.data_dir,
    )
    for name, val in (("--trials", cfg.trials), ("--jobs", cfg.jobs), ("--neurons", cfg.neurons),
                      ("--n-train", cfg.n_train), ("--n-test", cfg.n_test), ("--epochs", cfg.epochs)):
        if val < 1:
            raise ValueError(f"{name} must be >= 1, got {val}")
    return run(cfg, force=args.force)
