"""The settings a study can fix or vary: one :class:`Param` per dotted key (``device.n_mtj``), with its type,
default, allowed range or choices and the stage whose inputs it belongs to.

A setting that is a stage option takes its type and range from that option's entry in :mod:`spinsyn.options`
(:func:`_of`; ranges are not restated here); the study only adds its own default and, for a few sizes and seeds,
a tighter upper bound (:data:`STUDY_CAPS`) that keeps a study of many trials small.

A trial's settings are the defaults, overridden by the study file's fixed sections, overridden by the
trial's axis values. Values are checked here with :mod:`spinsyn.validation`; messages name the dotted key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spinsyn.options import EXPORT_OPTIONS, SWEEP_OPTIONS, TRAIN_OPTIONS, Option, WritePulse
from spinsyn.validation import Closed, check_choice, check_scalar

RULE_SOURCES = ("published", "fitted", "sweep")
ENGINES = SWEEP_OPTIONS["engine"].choices
WRITE_PULSES = WritePulse.MODES  # a study's export uses "auto" or "fixed" (the write-verify default width)
HALF_SELECT = EXPORT_OPTIONS["half_select"].choices
INPUTS = TRAIN_OPTIONS["input_preset"].choices
#: seeds of a study are at most 2^31 - 1, sizes of a trial bounded so that a study of many trials stays small
SEED_CAP = 2**31 - 1
STUDY_CAPS = {"network.neurons": 10**5, "network.n_train": 10**7, "network.n_test": 10**5, "network.epochs": 1000}


@dataclass(frozen=True)
class Param:
    """One setting: ``kind`` is int, float, str, pair (two ints) or range3 (three floats: start, stop, step).

    ``lo``/``hi`` bound numbers (``closed``: which ends belong to the range, as
    :func:`spinsyn.validation.check_scalar`); ``choices`` bound strings (None: any string, checked by the stage);
    ``stage`` is the first stage that reads it (one of :data:`spinsyn.study.cache.STAGES`): that stage's cache
    key holds it, every later stage's key holds it through the upstream key, and no earlier stage's key does
    (tests/study/test_keys.py checks this for every setting). Evaluation-only settings (read noise, the number
    of test images) belong to ``simulate``, so trials that differ only in them share their training."""

    kind: str
    default: Any
    stage: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] | None = None
    closed: Closed = "both"
    doc: str = ""


def _of(option: Option, stage: str, default: Any, key: str = "", lo: float | None = None) -> Param:
    """The study setting of a stage option: its type, range, choices and help; the study's own ``default``, the
    cap of :data:`STUDY_CAPS` (or :data:`SEED_CAP` for seeds) on ``key`` and a tighter lower end ``lo``."""
    cap = STUDY_CAPS.get(key, SEED_CAP if key.endswith(".seed") else None)
    hi = option.max if cap is None else cap
    return Param(option.type.__name__, default, stage, option.min if lo is None else lo, hi, option.choices,
                 option.closed, option.help)


def _presets() -> tuple[str, ...]:
    from spinsyn.devices import PRESETS  # lazy: startup

    return tuple(PRESETS)


def _testbenches() -> tuple[str, ...]:
    from spinsyn.devices import TESTBENCHES  # lazy: startup

    return tuple(TESTBENCHES)


_S, _T, _E = SWEEP_OPTIONS, TRAIN_OPTIONS, EXPORT_OPTIONS
PARAMS: dict[str, Param] = {
    "device.preset": Param("str", "compound", "sweep", doc="device preset (compound or domain-wall family), or a "
                           "device file (spinsyn-device JSON, 'spinsyn device fit --out') of a compound device"),
    "device.n_mtj": _of(_S["n_mtj"], "sweep", 8),
    # read by the training (synapse dw:L); the sweep of a domain-wall preset does not depend on it
    "device.levels": Param("int", 16, "train", 2, 4096, doc="levels of a domain-wall synapse (synapse dw:L)"),
    "device.sigma_pct": _of(_S["sigma_pct"], "sweep", 0.0),
    "device.testbench": Param("str", "published", "sweep", doc="pulse testbench preset of the sweep"),
    "device.engine": _of(_S["engine"], "sweep", "reference"),
    "device.trials": _of(_S["trials"], "sweep", 20),
    "device.dt_ms": Param("range3", (0.0, 60.0, 2.0), "sweep", doc="swept delays (start, stop, step) ms"),
    "device.seed": _of(_S["seed"], "sweep", 0, "device.seed"),
    # the read noise σ of compound synapses (--read-noise; snn default if unset): it acts only at inference
    # (trained weights are bit-identical for any σ), so the simulate stage applies it and trainings are shared
    "device.read_noise": _of(_T["read_noise_sigma"], "simulate", None),
    "device.g_spread": _of(_T["g_spread"], "train", None),
    "rule.source": Param("str", "fitted", "train", choices=RULE_SOURCES,
                         doc="published rule, a bi-sigmoid fitted to the sweep, the sweep table itself, or a "
                             "rule file (spinsyn-rule JSON, 'spinsyn fit --out')"),
    "network.neurons": _of(_T["neurons"], "train", 100, "network.neurons"),
    "network.n_train": _of(_T["n_train"], "train", 2000, "network.n_train"),
    # test images of the evaluation (the simulate stage; a training's own test pass is skipped): lo 1, simulate needs
    # test images
    "network.n_test": _of(_T["n_test"], "simulate", 1000, "network.n_test", lo=1),
    "network.epochs": _of(_T["epochs"], "train", 1, "network.epochs"),
    "network.input": _of(_T["input_preset"], "train", "bindsnet"),
    "network.seed": _of(_T["seed"], "train", 0, "network.seed"),
    "network.device": Param("str", "cpu", "train", doc="torch device: cpu (default), cuda[:i] or auto"),
    "export.tile": Param("pair", (128, 128), "export", _E["tile_side"].min, _E["tile_side"].max,
                         doc="crossbar tile (rows, columns)"),
    "export.tolerance": _of(_E["tolerance_levels"], "export", 0.4),
    "export.write_pulse": Param("str", "auto", "export", choices=WRITE_PULSES),
    "export.half_select": _of(_E["half_select"], "export", "V/2"),
    "export.seed": _of(_E["seed"], "export", 0, "export.seed"),
    # the tiles as circuits (spinsyn.hw_export.circuit): "none" (ideal lines, the default) or the cell access device;
    # the rest applies when it is not "none"
    "export.circuit": Param("str", "none", "export", choices=("none", *(_E["access"].choices or ())),
                            doc="tiles as circuits with this access device (0T1R, 1T1R), or ideal lines (none)"),
    "export.tech_node": _of(_E["tech_node"], "export", "28nm"),
    "export.wire_ohm": _of(_E["wire_ohm"], "export", None),
    "export.driver_ohm": _of(_E["driver_ohm"], "export", None),
    "simulate.seed": _of(_E["seed"], "simulate", 1, "simulate.seed"),
    # the column ADC of inference (bits; unset: exact column sums): an evaluation setting, trainings and chips shared
    "simulate.adc_bits": Param("int", None, "simulate", 1, 16, doc="bits of the column ADCs that digitise every "
                               "tile's partial sums at each time step (unset: exact sums)"),
}


def check_value(key: str, value: Any, where: str) -> Any:
    """``value`` checked for setting ``key`` (tuples for pair/range3); ValueError ``<where>: <key>: <problem>``."""
    p = PARAMS[key]
    name = f"{where}: {key}"
    if p.kind in ("int", "float"):
        t = int if p.kind == "int" else float
        check_scalar(value, name, t, min_val=p.lo, max_val=p.hi, include_boundaries=p.closed)
        return float(value) if p.kind == "float" else value
    if p.kind == "str":
        if not isinstance(value, str):
            raise ValueError(f"{name}: expected str, got {value!r}")
        if key in FILE_KEYS and value.lower().endswith(".json"):
            return _check_json_file(key, value, name)
        choices = p.choices or {"device.preset": _presets, "device.testbench": _testbenches}.get(key, lambda: None)()
        return check_choice(value, name, choices) if choices else value
    return _check_tuple(p, name, value)


#: settings whose value may be a file instead of a name: a device file (device.preset), a rule file (rule.source)
FILE_KEYS = ("device.preset", "rule.source")


def _check_json_file(key: str, value: str, name: str) -> str:
    """A device file (``device.preset``, read and checked) or a rule file (``rule.source``, read by its
    loader); ValueError ``<name>: <problem>``. Returns ``value``."""
    try:
        if key == "device.preset":
            from spinsyn.devices import is_device_file, read_device_file  # lazy: startup

            if not is_device_file(value):
                raise ValueError(f"{value!r} names a preset, not a device file")
            read_device_file(value)
        else:
            from spinsyn.fitting import load_rule  # lazy: startup

            load_rule(value)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{name}: {exc}") from None
    return value


def file_sha256(value: Any) -> str | None:
    """The sha256 of a device or rule file named by a setting (None for names): part of the cache keys, so an
    edited file is not served from the cache."""
    if not isinstance(value, str) or not value.lower().endswith(".json"):
        return None
    from spinsyn.fileio import sha256_file  # lazy: startup

    p = Path(value)
    return sha256_file(p) if p.is_file() else None


def _check_tuple(p: Param, name: str, value: Any) -> tuple:
    n = 2 if p.kind == "pair" else 3
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise ValueError(f"{name}: expected a list of {n} numbers, got {value!r}")
    if p.kind == "pair":
        return tuple(check_scalar(v, f"{name}[{i}]", int, min_val=p.lo, max_val=p.hi) for i, v in enumerate(value))
    a, b, c = (float(check_scalar(v, f"{name}[{i}]", float, min_val=0.0)) for i, v in enumerate(value))
    if not (c > 0 and b > a):
        raise ValueError(f"{name}: got {list(value)}, expected [start, stop, step] with stop > start >= 0, step > 0")
    if (b - a) / c > 10000:
        raise ValueError(f"{name}: got {list(value)}, expected at most 10000 delays")
    return (a, b, c)


def defaults() -> dict[str, Any]:
    """Every setting at its default value."""
    return {k: p.default for k, p in PARAMS.items()}
