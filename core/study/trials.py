"""Trials of a study: settings (defaults < fixed sections < axis values) and the stage tasks each one needs.

A trial needs sweep -> fit -> train -> export -> simulate for ``rule.source = "fitted"``, sweep -> train -> ...
for ``"sweep"`` and train -> ... for ``"published"``. Each :class:`StageTask` carries the stage's inputs (with the
key of the entry it consumes) and its cache key, so identical inputs across trials give one task.
:func:`check_image_counts` bounds ``network.n_train``/``network.n_test`` by the images of the MNIST source.
"""

from __future__ import annotations

import gzip
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from .cache import stage_key
from .params import PARAMS, defaults, file_sha256
from .spec import Axis, StudySpec

FIT_MODEL = "bisigmoid"
#: settings bounded by the images of an MNIST split: (key, split, name of the set)
IMAGE_LIMITS = (("network.n_train", "train", "training"), ("network.n_test", "test", "test"))


@dataclass(frozen=True)
class StageTask:
    """One stage computation: ``inputs`` (JSON-able, incl. ``upstream`` key) and its cache ``key``."""

    stage: str
    key: str
    inputs: dict[str, Any]
    upstream: str | None  # the stage whose entry it consumes


@dataclass(frozen=True)
class Trial:
    """Trial ``index`` (0-based): its axis values and every setting, resolved."""

    index: int
    axes: dict[str, Any]
    settings: dict[str, Any]


def settings_for(spec: StudySpec, axis_values: dict[str, Any]) -> dict[str, Any]:
    """Defaults, overridden by the study's fixed settings, overridden by ``axis_values``."""
    s = defaults()
    s.update(spec.fixed)
    s.update(axis_values)
    return s


def expand(spec: StudySpec) -> list[Trial]:
    """The trials of a grid (every combination, the first axis slowest) or a seeded random sample."""
    if spec.mode == "grid":
        combos = itertools.product(*(a.values or () for a in spec.axes))
        rows = [dict(zip(spec.axis_keys, c)) for c in combos]
    else:
        rng = np.random.default_rng(spec.seed)
        rows = [{a.key: sample_axis(a, rng) for a in spec.axes} for _ in range(spec.samples)]
    return [Trial(i, r, settings_for(spec, r)) for i, r in enumerate(rows)]


def sample_axis(a: Axis, rng: Any) -> Any:
    """One value of axis ``a``: a uniform choice of its values, or uniform (log-uniform) in [low, high]."""
    if a.values is not None:
        return a.values[int(rng.integers(len(a.values)))]
    low, high = cast(float, a.low), cast(float, a.high)  # a range axis: both ends set
    lo, hi = float(low), float(high)
    u = float(rng.random())
    x = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))) if a.log else lo + u * (hi - lo)
    return min(max(int(round(x)), int(low)), int(high)) if a.integer else x


def device_family(preset: str) -> str:
    """``compound`` or ``dw`` for a device preset or file; a one-cell device (``stt-mtj``, ``sot-mtj``, a fitted
    ``measured-mtj`` file) is ``compound``: ``device.n_mtj`` of its cells in parallel, as ``synapse_device`` builds
    it. ValueError for anything else."""
    from spinsyn import devices  # lazy: startup
    from spinsyn.devices.cell import Cell  # lazy: startup

    model = devices.get_model(preset)
    family = model.synapse_family
    if family in ("compound", "dw"):
        return family
    if family is None and isinstance(model, Cell):
        return "compound"
    raise ValueError(f"device.preset: {preset!r} is a {model.name} device; use a compound, domain-wall or "
                     "binary-cell preset or device file")


def synapse_spec(s: dict[str, Any]) -> str:
    """The trained synapse: ``compound:<n_mtj>`` or ``dw:<levels>`` by the preset's family."""
    fam = device_family(s["device.preset"])
    return f"compound:{s['device.n_mtj']}" if fam == "compound" else f"dw:{s['device.levels']}"


def train_options(s: dict[str, Any], data_dir: str | None) -> dict[str, Any]:
    """Keyword arguments of ``spinsyn.snn.make_config`` for a trial's training (the rule file is added when it
    exists): only what training reads. The evaluation-only settings (``device.read_noise``, ``network.n_test``)
    go to the simulate stage; the training runs no test pass (``n_test`` 0) and keeps the snn default read noise,
    so one training serves every read noise and test size."""
    opts = {"synapse": synapse_spec(s), "neurons": s["network.neurons"], "n_train": s["network.n_train"],
            "n_test": 0, "epochs": s["network.epochs"], "seed": s["network.seed"],
            "device": s["network.device"], "device_preset": s["device.preset"], "input_preset": s["network.input"],
            "data_dir": data_dir}
    if file_sha256(s["device.preset"]) is not None:  # a device file: --device-model
        opts["device_model"] = opts.pop("device_preset")
    if is_rule_file(s["rule.source"]):
        opts["rule"] = s["rule.source"]
    if s["device.g_spread"] is not None:
        opts["g_spread"] = s["device.g_spread"]
    return opts


def is_rule_file(source: Any) -> bool:
    """True when ``rule.source`` names a rule file (``*.json``) rather than published / fitted / sweep."""
    return isinstance(source, str) and source.lower().endswith(".json")


def files_sha256(s: dict[str, Any]) -> dict[str, str]:
    """The sha256 of the device and rule files a trial names (``device.preset``, ``rule.source``), for the cache
    keys: an edited file gives new keys."""
    out = {k: file_sha256(s[k]) for k in ("device.preset", "rule.source")}
    return {k: v for k, v in out.items() if v is not None}


def _sweep_inputs(s: dict[str, Any]) -> dict[str, Any]:
    compound = device_family(s["device.preset"]) == "compound"
    return {"preset": s["device.preset"], **({"files_sha256": files_sha256(s)} if files_sha256(s) else {}),
            "n_mtj": s["device.n_mtj"] if compound else None,
            "sigma_pct": s["device.sigma_pct"], "testbench": s["device.testbench"], "engine": s["device.engine"],
            "trials": s["device.trials"], "dt_ms": list(s["device.dt_ms"]), "seed": s["device.seed"]}


def sweep_model(inputs: dict[str, Any]) -> Any:
    """The swept device of sweep ``inputs``: the preset, with ``n_mtj`` (compound) and the ``sigma_pct`` spread."""
    from spinsyn import devices  # lazy: startup

    base = devices.get_model(inputs["preset"])
    cell = base.synapse_family is None and inputs["n_mtj"] is not None  # one cell: n_mtj of them in parallel
    over: dict[str, Any] = {} if inputs["n_mtj"] is None or cell else {"n_mtj": inputs["n_mtj"]}
    if inputs["sigma_pct"] > 0:
        over.update(devices.get_model(inputs["preset"], **over).spread_overrides(inputs["sigma_pct"]))
    model = devices.get_model(inputs["preset"], **over)
    return devices.CompoundSynapse(int(inputs["n_mtj"]), model) if cell else model


def sweep_model_inputs_ok(inputs: dict[str, Any]) -> None:
    """Build the sweep's device and testbench (ValueError if they cannot be); a spice sweep needs ngspice."""
    from spinsyn import devices  # lazy: startup

    sweep_model(inputs)
    devices.get_testbench(inputs["testbench"])
    if inputs["engine"] == "spice":
        from spinsyn.ngspice import ensure_library  # lazy: startup

        ensure_library()


def train_check(options: dict[str, Any]) -> None:
    """``spinsyn.snn.make_config`` on a trial's training options (ValueError naming the option)."""
    from spinsyn import snn  # lazy: startup

    snn.make_config(**options)


def _task(stage: str, inputs: dict[str, Any], upstream: StageTask | None) -> StageTask:
    if upstream is not None:
        inputs = {**inputs, "upstream": upstream.key}
    return StageTask(stage, stage_key(stage, inputs), inputs, upstream.stage if upstream else None)


def plan(s: dict[str, Any], data_dir: str | None) -> list[StageTask]:
    """The stage tasks of one trial, in order (sweep and fit only when the rule source needs them)."""
    source = s["rule.source"]
    tasks: list[StageTask] = []
    rule_from = None
    if source != "published" and not is_rule_file(source):
        rule_from = _task("sweep", _sweep_inputs(s), None)
        tasks.append(rule_from)
    if source == "fitted":
        rule_from = _task("fit", {"model": FIT_MODEL, "seed": s["device.seed"]}, rule_from)
        tasks.append(rule_from)
    train_in = {"rule_source": source, "make_config": train_options(s, data_dir)}
    if files_sha256(s):  # device / rule files by content: an edited file is not served from the cache
        train_in["files_sha256"] = files_sha256(s)
    train = _task("train", train_in, rule_from)
    export_in = {"tile": list(s["export.tile"]), "tolerance_levels": s["export.tolerance"],
                 "write_pulse": s["export.write_pulse"], "half_select": s["export.half_select"],
                 "seed": s["export.seed"]}
    if s["export.circuit"] != "none":  # absent otherwise: the cache keys of ideal-line chips stay as they were
        export_in["circuit"] = {"access": s["export.circuit"], "tech_node": s["export.tech_node"],
                                "wire_ohm": s["export.wire_ohm"], "driver_ohm": s["export.driver_ohm"]}
    export = _task("export", export_in, train)
    sim_in = {"seed": s["simulate.seed"], "n_test": s["network.n_test"], "data_dir": data_dir,
              "device": s["network.device"], "read_noise": s["device.read_noise"]}
    if s["simulate.adc_bits"] is not None:
        sim_in["adc_bits"] = s["simulate.adc_bits"]
    sim = _task("simulate", sim_in, export)
    return [*tasks, train, export, sim]


def resolve_data_dir(data_dir: str | None, base: Path) -> str | None:
    """The study's MNIST folder as an absolute path (relative ones are taken from the study file's folder)."""
    if data_dir is None:
        return None
    p = Path(data_dir).expanduser()
    return str((p if p.is_absolute() else base / p).resolve())


def _idx_count(path: Path) -> int:
    """The item count in the header of an IDX file (gz or raw); SpinsynFileError naming it if unreadable."""
    from spinsyn.fileio import SpinsynFileError  # lazy: startup

    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(8)
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise SpinsynFileError(f"{path}: cannot read ({exc}); the file is corrupt or truncated") from None
    if len(head) < 8 or head[:3] != b"\0\0\x08":
        raise SpinsynFileError(f"{path}: not an IDX file of unsigned bytes (bad header)")
    return int.from_bytes(head[4:8], "big")


def image_counts(data_dir: str | None) -> dict[str, tuple[int, str]]:
    """Per MNIST split (``train``, ``test``) where the study reads it (:func:`spinsyn.mnist.resolve_mnist_dir`):
    the number of images (the smaller of the image and label files' header counts) and ``folder (origin)``."""
    from spinsyn import mnist  # lazy: startup

    out = {}
    for split in ("train", "test"):
        src = mnist.resolve_mnist_dir(data_dir, split)
        images, labels = mnist.split_files(src.folder, split)  # type: ignore[misc]
        out[split] = (min(_idx_count(images), _idx_count(labels)), f"{src.folder} ({src.origin})")
    return out


def check_image_counts(spec: StudySpec, data_dir: str | None) -> None:
    """Refuse a study whose ``network.n_train`` / ``network.n_test`` (fixed, default, or an axis's largest value
    or range end) asks for more MNIST images than the study's data source holds; ValueError naming the key."""
    counts = image_counts(data_dir)
    axes = {a.key: a for a in spec.axes}
    for key, split, label in IMAGE_LIMITS:
        n, source = counts[split]
        a = axes.get(key)
        if a is not None:
            name, v = f"axes.{key}", max(a.values) if a.values is not None else cast(float, a.high)
        else:
            name, v = (key, spec.fixed[key]) if key in spec.fixed else (f"{key} (default)", PARAMS[key].default)
        if v > n:
            raise ValueError(f"{spec.path}: {name}: got {v}, but the MNIST {label} set at {source} holds only {n} "
                             "images; lower it, or set study.data_dir to a folder with more (`spinsyn data mnist "
                             "--download` fetches all 60000 training and 10000 test images)")
