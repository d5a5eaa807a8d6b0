"""``spinsyn pipeline``: the whole loop, SPICE device sweep -> fit -> train -> export -> verify -> simulate.

Each step calls its stage's public Python API; the steps talk only through files in ``--out``:

==========  ==========================================================  ==============================
step        calls                                                       writes
==========  ==========================================================  ==============================
sweep       ``spinsyn.devices.sweep`` + ``write_sweep``                 ``sweep.h5``
sweep-plot  ``spinsyn.devices.plot_sweep``                              ``sweep.png``
fit         ``spinsyn.fitting.fit_file``                                ``rule.json`` (+ ``fit.png``)
train       ``spinsyn.snn.make_config`` + ``spinsyn.snn.train``         ``run/`` (checkpoint, metrics, plots)
export      ``spinsyn.hw_export.export_run``                            ``chip/`` (HDF5, CSV, manifest)
verify      ``spinsyn.hw_export.verify_chip``                           (checks ``chip/``)
simulate    ``spinsyn.hw_export.simulate_chip`` (after 0,1s,1h,1d,1y)   ``simulate.json``
report      ``spinsyn.report.write_pipeline_report``                    ``report.html`` (self-contained)
==========  ==========================================================  ==============================

Every option is checked, and every stage's configuration built, before the first step runs: a bad
``--synapse`` fails in a second, not after the SPICE sweep. A step whose output already exists is skipped,
so an interrupted pipeline resumes where it stopped (an interrupted training resumes from its checkpoint);
``--force`` redoes everything.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .locks import check_unlocked, folder_lock
from .options import EXPORT_OPTIONS, SWEEP_OPTIONS, TRAIN_OPTIONS
from .validation import check_output_folder, check_scalar, check_writable_dir, owned_folder

FIT_MODEL = "bisigmoid"
ENGINES = SWEEP_OPTIONS["engine"].choices


@dataclass(frozen=True)
class PipelineConfig:
    """Defaults of the embedded demo: small enough for a laptop, every stage real (ngspice included).

    ``dt_ms`` is (start, stop, step) in ms, stop exclusive; ``tile`` is (rows, columns) of one crossbar;
    ``device_model``: a device file (spinsyn-device JSON) swept instead of ``model`` and trained and exported on.
    """

    out_dir: str = "runs/demo"
    model: str = "compound"
    n_mtj: int = 8
    dt_ms: tuple[float, float, float] = (0.0, 60.0, 2.0)
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
    simulate_seed: int = 1
    data_dir: str | None = None
    tile: tuple[int, int] = (128, 128)
    device_model: str | None = None
    circuit: bool = False  # tiles as circuits (hw_export --circuit, the technology node's defaults)
    after: str = "0,1s,1h,1d,1y"  # simulate's --after: ages of the chip for the report's accuracy-over-time plot

    @property
    def out(self) -> Path:
        return Path(self.out_dir)

    def delays_ms(self) -> list[float]:
        """The swept Δt values (ms): ``arange(start, stop, step)``, stop exclusive."""
        a, b, c = self.dt_ms
        return [float(v) for v in np.arange(a, b - 1e-9 * c, c)]


@dataclass(frozen=True)
class Step:
    """One pipeline step: what it calls (printed), the output whose presence marks it done, the action."""

    name: str
    calls: str
    marker: Path | None
    action: Callable[[PipelineConfig, bool], None]


# ------------------------------------------------------------------------------------------- validation
def check(cfg: PipelineConfig) -> None:
    """Validate every option and build every stage's configuration; ValueError naming the option if bad."""
    from spinsyn import devices, mnist  # lazy: startup
    from spinsyn.fitting.fit import check_fit_options  # lazy: startup

    from .ngspice import ensure_library  # lazy: startup

    # each option by its entry in spinsyn.options (the training ones again by make_config in train_config)
    SWEEP_OPTIONS["trials"].check(cfg.trials)
    SWEEP_OPTIONS["jobs"].check(cfg.jobs)
    TRAIN_OPTIONS["seed"].check(cfg.seed)
    EXPORT_OPTIONS["seed"].check(cfg.simulate_seed, "simulate_seed", optional=False)
    SWEEP_OPTIONS["n_mtj"].check(cfg.n_mtj, "n_mtj")
    SWEEP_OPTIONS["engine"].check(cfg.engine)
    a, b, c = (check_scalar(v, "dt_ms", float) for v in cfg.dt_ms)
    if not (c > 0 and b > a >= 0):
        raise ValueError(f"dt_ms: got {cfg.dt_ms}, expected (start, stop, step) with stop > start >= 0, step > 0")
    for i, n in enumerate(cfg.tile):
        EXPORT_OPTIONS["tile_side"].check(n, f"tile[{i}]", optional=False)
    check_writable_dir(cfg.out, "--out")
    check_output_folder(cfg.out, "--out")
    kind = owned_folder(cfg.out)
    if kind not in (None, "pipeline"):
        raise ValueError(f"--out: {cfg.out} is a spinsyn {kind} folder, not a pipeline folder; choose another folder")
    check_unlocked(cfg.out, "--out")
    if cfg.engine == "spice" and not (cfg.out / "sweep.h5").exists():
        ensure_library()  # a missing ngspice is one message before any step, whatever --jobs is
    _sweep_model(cfg, devices)
    devices.get_testbench("published")
    check_fit_options(FIT_MODEL, "linear", 0, cfg.seed)
    from spinsyn.hw_export.ageing import parse_ages  # lazy: startup

    parse_ages(cfg.after)
    train_config(cfg)
    for split, n in (("train", cfg.n_train), ("test", cfg.n_test)):
        if n > 0:
            mnist.resolve_mnist_dir(cfg.data_dir, split)  # raises naming the folder when MNIST is not there


def _sweep_model(cfg: PipelineConfig, devices: Any) -> Any:
    """The swept device: preset ``model``, or the device file ``device_model`` (a compound with ``n_mtj``)."""
    name = cfg.device_model or cfg.model
    if cfg.device_model is not None and not devices.is_device_file(cfg.device_model):
        raise ValueError(f"--device-model: expected a spinsyn-device JSON file (.json), got {cfg.device_model!r}")
    try:
        model = devices.get_model(name)
        if getattr(model, "synapse_family", None) == "compound" or hasattr(model, "n_mtj"):
            model = devices.get_model(name, n_mtj=cfg.n_mtj)
    except ValueError as exc:
        raise ValueError(f"--device-model: {exc}" if cfg.device_model else str(exc)) from None
    return model


def train_config(cfg: PipelineConfig) -> Any:
    """The snn ``TrainConfig`` of the train step (``spinsyn.snn.make_config`` validates every option).

    The rule file is named only once it exists, so the configuration can be checked before the fit runs."""
    from spinsyn import snn  # lazy: startup

    rule = cfg.out / "rule.json"
    return snn.make_config(synapse=cfg.synapse, neurons=cfg.neurons, n_train=cfg.n_train, n_test=cfg.n_test,
                           epochs=cfg.epochs, device=cfg.device, seed=cfg.seed, data_dir=cfg.data_dir,
                           rule=rule if rule.is_file() else None, device_model=cfg.device_model)


# ------------------------------------------------------------------------------------------------ steps
def _sweep(cfg: PipelineConfig, force: bool) -> None:
    from spinsyn import devices  # lazy: startup

    dt = cfg.delays_ms()
    res = devices.sweep(_sweep_model(cfg, devices), devices.get_testbench("published"), dt, cfg.trials,
                        engine=cfg.engine, seed=cfg.seed, jobs=cfg.jobs, progress=True, netlist_dir=cfg.out)
    devices.write_sweep(cfg.out / "sweep.h5", res)
    dg = res.dg_norm.mean(1)
    print(f"wrote {cfg.out / 'sweep.h5'}: {len(dt)} delays x {cfg.trials} trials ({cfg.engine}); mean normalised "
          f"dG from {dg.min():+.3f} to {dg.max():+.3f}")


def _sweep_plot(cfg: PipelineConfig, force: bool) -> None:
    from spinsyn.devices import plot_sweep  # lazy: startup

    plot_sweep(cfg.out / "sweep.h5", cfg.out / "sweep.png", overwrite=force)


def _fit(cfg: PipelineConfig, force: bool) -> None:
    from spinsyn.fitting import describe_fit, fit_file  # lazy: startup

    result, reason = fit_file(cfg.out / "sweep.h5", cfg.out / "rule.json", FIT_MODEL,
                              plot_path=cfg.out / "fit.png", seed=cfg.seed, overwrite=force)
    print("\n".join([reason, *describe_fit(result.rule), f"wrote {cfg.out / 'rule.json'} and {cfg.out / 'fit.png'}"]))


def _train(cfg: PipelineConfig, force: bool) -> None:
    from spinsyn import snn  # lazy: startup

    run_dir = cfg.out / "run"
    if force and run_dir.exists():
        _remove_own_run(run_dir)
    resume = snn.checkpoint_path(run_dir).is_file()  # an interrupted training continues from its checkpoint
    m = snn.train(train_config(cfg), run_dir, resume=resume, progress=True)
    print(f"test accuracy: all activity {100 * m['accuracy_all_activity']:.2f} %, proportion weighting "
          f"{100 * m['accuracy_proportion']:.2f} % ({m['n_test']} images); run in {run_dir}")


def _check_removable_run(run_dir: Path) -> None:
    """``--force`` deletes ``run_dir`` only when it is absent, empty or a spinsyn run (its checkpoint reads as
    one); anything else is refused before any step runs."""
    from spinsyn import snn  # lazy: startup

    if not run_dir.exists():
        return
    check_unlocked(run_dir, "--force")  # a train --resume of that run in another process holds it
    if run_dir.is_dir() and not any(run_dir.iterdir()):
        return
    try:
        snn.read_checkpoint(run_dir)
    except ValueError:
        raise ValueError(f"--force: {run_dir} is not a spinsyn run (no readable checkpoint); remove it yourself "
                         "or choose another --out") from None


def _remove_own_run(run_dir: Path) -> None:
    """``--force``: delete ``run_dir``, a spinsyn run or an empty folder (:func:`_check_removable_run`)."""
    _check_removable_run(run_dir)
    shutil.rmtree(run_dir)


def _export(cfg: PipelineConfig, force: bool) -> None:
    from spinsyn import hw_export  # lazy: startup

    # the step runs only when chip/manifest.json is missing (or --force): a chip/ left without one is unfinished
    res = hw_export.export_run(cfg.out / "run", cfg.out / "chip", tile=cfg.tile, seed=cfg.seed, overwrite=True,
                               circuit=hw_export.CircuitConfig() if cfg.circuit else None)
    s = res.report["summary"]
    print(f"exported {s['synapses']} synapses ({s['devices']} devices) onto {s['tiles']} tiles of "
          f"{cfg.tile[0]}x{cfg.tile[1]} -> {res.out_dir}; failed {s['failed']}, inside band {s['inside_band']}")
    wp = res.report["write_pulse"]
    print(f"write pulse ({wp['mode']}): {wp['width_ns']:g} ns, amplitudes <= {wp['v_max_V']:g} V")
    for w in res.report["warnings"]:
        print(f"spinsyn: warning: {w}", file=sys.stderr)


def _verify(cfg: PipelineConfig, force: bool) -> None:
    from spinsyn import hw_export  # lazy: startup

    s = hw_export.verify_chip(cfg.out / "chip")
    print(f"{cfg.out / 'chip'}: OK ({s['files_checked']} files, {s['n_tiles']} tiles, {s['n_devices']} devices)")


def _simulate(cfg: PipelineConfig, force: bool) -> None:
    from spinsyn import hw_export  # lazy: startup
    from spinsyn.fileio import write_json  # lazy: startup

    r = hw_export.simulate_chip(cfg.out / "chip", seed=cfg.simulate_seed, n_test=cfg.n_test, data_dir=cfg.data_dir,
                                after=cfg.after)
    write_json(cfg.out / "simulate.json", r, fmt=hw_export.SIMULATION_FORMAT, version=hw_export.SIMULATION_VERSION,
               seed=cfg.simulate_seed)
    if r.get("accuracy"):
        key, a = r["accuracy_key"], r["accuracy"]
        final = r.get("final", "programmed")  # the last condition of the round trip (disturbed when sampled)
        print(f"accuracy ({key}, {r['n_test']} test images): trained {100 * a['trained'][key]:.2f}%, programmed "
              f"{100 * a['programmed'][key]:.2f}%, {final} {100 * a[final][key]:.2f}% -> drop "
              f"{r['drop_points']:.2f} points (trained -> {final}) at t = 0")
        _print_ageing(r)
    print(f"wrote {cfg.out / 'simulate.json'}")


def _print_ageing(r: dict[str, Any]) -> None:
    """One line: accuracy at each ``after`` time and when 1 point is lost (from ``simulate_chip``'s ``ageing``)."""
    from spinsyn.hw_export.ageing import format_duration  # lazy: startup

    ag = r.get("ageing")
    if not ag or "accuracy_key" not in ag:
        return
    accs = ", ".join(f"{a['label']} {100 * a['accuracy']:.1f}%" for a in ag["ages"])
    one = ag.get("one_point", {}).get("time_s")
    print(f"ageing (retention {format_duration(ag['retention_s'])}): {accs}; 1 point lost after "
          f"{format_duration(one) if one else 'more than ' + ag['ages'][-1]['label']}")


def _report(cfg: PipelineConfig, force: bool) -> None:
    from spinsyn.report import write_pipeline_report  # lazy: startup

    print(f"wrote {write_pipeline_report(cfg.out)}")


def steps(cfg: PipelineConfig) -> list[Step]:
    """The steps in order, each with what it calls and the output whose presence marks it done."""
    out = cfg.out
    return [
        Step("sweep", f"spinsyn.devices.sweep({cfg.device_model or cfg.model}, n_mtj={cfg.n_mtj}, "
             f"{len(cfg.delays_ms())} delays x {cfg.trials} trials, engine={cfg.engine}, jobs={cfg.jobs}) -> "
             f"{out / 'sweep.h5'}",
             out / "sweep.h5", _sweep),
        Step("sweep-plot", f"spinsyn.devices.plot_sweep({out / 'sweep.h5'}) -> {out / 'sweep.png'}",
             out / "sweep.png", _sweep_plot),
        Step("fit", f"spinsyn.fitting.fit_file({out / 'sweep.h5'}, model={FIT_MODEL}) -> {out / 'rule.json'}",
             out / "rule.json", _fit),
        Step("train", f"spinsyn.snn.train(synapse={cfg.synapse}, neurons={cfg.neurons}, n_train={cfg.n_train}, "
             f"n_test={cfg.n_test}, epochs={cfg.epochs}, device={cfg.device}) -> {out / 'run'}",
             out / "run" / "metrics.json", _train),
        Step("export", f"spinsyn.hw_export.export_run({out / 'run'}, tile={cfg.tile[0]}x{cfg.tile[1]}"
             f"{', circuit=CircuitConfig()' if cfg.circuit else ''}) -> {out / 'chip'}",
             out / "chip" / "manifest.json", _export),
        Step("verify", f"spinsyn.hw_export.verify_chip({out / 'chip'})", None, _verify),
        Step("simulate", f"spinsyn.hw_export.simulate_chip({out / 'chip'}, n_test={cfg.n_test}, "
             f"after={cfg.after}) -> "
             f"{out / 'simulate.json'}", out / "simulate.json", _simulate),
        Step("report", f"spinsyn.report.write_pipeline_report({out}) -> {out / 'report.html'}",
             out / "report.html", _report),
    ]


def run(cfg: PipelineConfig, force: bool = False) -> int:
    """Check every option, then run every step in order (skipping finished ones unless ``force``). Returns 0.

    Bad options raise ValueError before anything runs; a failing step raises its stage's error."""
    check(cfg)
    if force:
        _check_removable_run(cfg.out / "run")
    with folder_lock(cfg.out, "--out"):  # one pipeline per folder; a second one exits 2 naming this pid
        cfg.out.mkdir(parents=True, exist_ok=True)
        _mark(cfg.out)
        for step in steps(cfg):
            if step.marker is not None and step.marker.exists() and not force:
                print(f"[pipeline] {step.name}: done already ({step.marker}), skipping")
                continue
            print(f"[pipeline] {step.name}: {step.calls}", flush=True)
            t0 = time.perf_counter()
            step.action(cfg, force)
            print(f"[pipeline] {step.name}: done after {time.perf_counter() - t0:.1f} s", flush=True)
    print(f"[pipeline] all steps done; results in {cfg.out}; report: {cfg.out / 'report.html'}")
    return 0


def _mark(out: Path) -> None:
    """Mark ``out`` as a pipeline folder (``.spinsyn-pipeline``): other commands never write into it
    (:func:`spinsyn.validation.owned_folder`)."""
    from .fileio import write_json  # lazy: startup
    from .validation import PIPELINE_MARKER  # lazy: startup

    if not (out / PIPELINE_MARKER).is_file():
        write_json(out / PIPELINE_MARKER, {}, fmt="spinsyn-pipeline", version=1)


# ---------------------------------------------------------------------------------------------- command
def register(sub: argparse._SubParsersAction) -> None:
    """Add ``spinsyn pipeline``."""
    d = PipelineConfig()
    p = sub.add_parser(
        "pipeline",
        help="run the whole loop: device sweep (ngspice) -> fit -> train -> export -> verify -> simulate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", default=d.out_dir, help=f"output folder (default {d.out_dir})")
    SWEEP_OPTIONS.add_arguments(p, ("trials",), {"trials": d.trials})
    SWEEP_OPTIONS.add_arguments(p, ("engine",), {"engine": d.engine})
    SWEEP_OPTIONS.add_arguments(p, ("jobs",), {"jobs": d.jobs})
    names = ("synapse", "neurons", "n_train", "n_test", "epochs", "device", "seed")  # flag, type, help: the train's
    TRAIN_OPTIONS.add_arguments(p, names, {n: getattr(d, n) for n in names})
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: lookup order, embedded subset)")
    TRAIN_OPTIONS.add_arguments(p, ("device_model",))  # swept, trained and exported on (default: compound)
    EXPORT_OPTIONS.add_arguments(p, ("circuit",))  # with the node's defaults; a chip already there needs --force
    p.add_argument("--force", action="store_true", help="redo steps whose outputs exist")
    p.set_defaults(func=_cmd)


def _cmd(args: argparse.Namespace) -> int:
    cfg = PipelineConfig(
        out_dir=args.out, trials=args.trials, engine=args.engine, jobs=args.jobs, synapse=args.synapse,
        neurons=args.neurons, n_train=args.n_train, n_test=args.n_test, epochs=args.epochs,
        device=args.device, seed=args.seed, data_dir=args.data_dir, device_model=args.device_model,
        circuit=args.circuit,
    )
    return run(cfg, force=args.force)
