"""One function per stage, each calling only the public Python APIs that ``spinsyn pipeline`` calls.

Every stage writes into the staging folder it is given (:func:`cache.compute_entry`); what it prints goes
to ``log.txt`` there. :func:`run_task` is the unit the schedulers run (in process or as one dask task).

=========  ===============================================  =====================
stage      calls                                            entry holds
=========  ===============================================  =====================
sweep      ``spinsyn.devices.sweep`` + ``write_sweep``      ``sweep.h5``
fit        ``spinsyn.fitting.fit_file``                     ``rule.json``
train      ``spinsyn.snn.make_config`` + ``train``          ``run/``
export     ``spinsyn.hw_export.export_run`` + ``verify``    ``chip/``
simulate   ``spinsyn.hw_export.simulate_chip``              ``simulate.json``
=========  ===============================================  =====================

The training reads only what training reads (:data:`spinsyn.study.params.PARAMS`, ``stage``): it runs no test
pass, and the evaluation-only settings (read noise σ, test images) are applied by ``simulate``, which evaluates
the trained and the programmed network with the trial's read noise (``simulate_chip(read_noise=...)``).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from .cache import compute_entry
from .trials import FIT_MODEL, StageTask, sweep_model

#: the file or folder of each stage's entry that the next stage reads
OUTPUT = {"sweep": "sweep.h5", "fit": "rule.json", "train": "run", "export": "chip", "simulate": "simulate.json"}


def _delays_ms(dt: list[float]) -> list[float]:
    a, b, c = dt
    return [float(v) for v in np.arange(a, b - 1e-9 * c, c)]


def _sweep(task: StageTask, folder: Path, upstream: Path | None, root: Path, jobs: int) -> None:
    from spinsyn import devices  # lazy: startup

    i = task.inputs
    res = devices.sweep(sweep_model(i), devices.get_testbench(i["testbench"]), _delays_ms(i["dt_ms"]), i["trials"],
                        engine=i["engine"], seed=i["seed"], jobs=jobs, netlist_dir=root)
    devices.write_sweep(folder / OUTPUT["sweep"], res)


def _fit(task: StageTask, folder: Path, upstream: Path | None, root: Path, jobs: int) -> None:
    from spinsyn.fitting import fit_file  # lazy: startup

    assert upstream is not None  # every stage after the sweep has one
    _, reason = fit_file(upstream / OUTPUT["sweep"], folder / OUTPUT["fit"], FIT_MODEL, seed=task.inputs["seed"])
    print(reason)


def _train(task: StageTask, folder: Path, upstream: Path | None, root: Path, jobs: int) -> None:
    from spinsyn import snn  # lazy: startup

    opts = dict(task.inputs["make_config"])  # a published rule or a rule file: no upstream entry
    if task.upstream is not None and upstream is not None:
        opts["rule"] = upstream / OUTPUT[task.upstream]
    m = snn.train(snn.make_config(**opts), folder / OUTPUT["train"], progress=False)
    print(f"trained {m['n_train']} images x {m['epochs']} epochs at {m['train_samples_per_s']:.1f} images/s "
          "(evaluated by the simulate stage)")


def _export(task: StageTask, folder: Path, upstream: Path | None, root: Path, jobs: int) -> None:
    from spinsyn import hw_export  # lazy: startup

    assert upstream is not None  # every stage after the sweep has one
    i = task.inputs
    wv = hw_export.WriteVerifyConfig(tolerance_levels=i["tolerance_levels"], half_select=i["half_select"])
    chip = folder / OUTPUT["export"]
    c = i.get("circuit")
    circuit = None if c is None else hw_export.CircuitConfig(
        tech_node=c["tech_node"], access=c["access"], r_wire_ohm=c["wire_ohm"], r_driver_ohm=c["driver_ohm"],
        r_sense_ohm=c["driver_ohm"])
    hw_export.export_run(upstream / OUTPUT["train"], chip, tile=tuple(i["tile"]), seed=i["seed"], write_verify=wv,
                         write_pulse=i["write_pulse"], circuit=circuit)
    s = hw_export.verify_chip(chip)
    print(f"{chip}: OK ({s['files_checked']} files, {s['n_tiles']} tiles, {s['n_devices']} devices)")


def _simulate(task: StageTask, folder: Path, upstream: Path | None, root: Path, jobs: int) -> None:
    from spinsyn import hw_export  # lazy: startup
    from spinsyn.fileio import write_json  # lazy: startup

    assert upstream is not None  # every stage after the sweep has one
    i = task.inputs
    r = hw_export.simulate_chip(upstream / OUTPUT["export"], seed=i["seed"], n_test=i["n_test"],
                                data_dir=i["data_dir"], eval_device=i["device"], read_noise=i["read_noise"],
                                adc_bits=i.get("adc_bits"))
    write_json(folder / OUTPUT["simulate"], r, fmt=hw_export.SIMULATION_FORMAT,
               version=hw_export.SIMULATION_VERSION, seed=i["seed"])


ACTIONS = {"sweep": _sweep, "fit": _fit, "train": _train, "export": _export, "simulate": _simulate}


class StageError(RuntimeError):
    """A stage failed: ``<stage> <key prefix>: <ExceptionType>: <message>`` (recorded in the trial's row)."""


def run_task(root: str, task: StageTask, upstream: str | None = None, jobs: int = 1) -> str:
    """Compute (or find) the cache entry of ``task`` under the study folder ``root``; returns its path.

    ``upstream``: the path of the entry ``task`` consumes; ``jobs``: ngspice processes of a spice sweep.
    Any failure is re-raised as :class:`StageError` naming the stage."""
    base = Path(root)
    up = Path(upstream) if upstream is not None else None

    def action(folder: Path) -> None:
        with open(folder / "log.txt", "w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
            ACTIONS[task.stage](task, folder, up, base, jobs)

    try:
        return str(compute_entry(base, task.stage, task.key, task.inputs, action))
    except Exception as exc:
        raise StageError(f"{task.stage} {task.key[:12]}: {type(exc).__name__}: {exc}") from None
