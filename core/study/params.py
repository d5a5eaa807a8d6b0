"""The settings a study can fix or vary: one :class:`Param` per dotted key (``device.n_mtj``), with its type,
default, allowed range or choices and the stage whose inputs it belongs to.

A trial's settings are the defaults, overridden by the study file's fixed sections, overridden by the
trial's axis values. Values are checked here with :mod:`spinsyn.validation`; messages name the dotted key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spinsyn.validation import check_choice, check_scalar

RULE_SOURCES = ("published", "fitted", "sweep")
ENGINES = ("reference", "spice")
WRITE_PULSES = ("auto", "fixed")
HALF_SELECT = ("V/2", "V/3")
INPUTS = ("bindsnet", "diehl-cook")


@dataclass(frozen=True)
class Param:
    """One setting: ``kind`` is int, float, str, pair (two ints) or range3 (three floats: start, stop, step).

    ``lo``/``hi`` bound numbers (inclusive; ``open_hi`` makes ``hi`` exclusive); ``choices`` bound strings
    (None: any string, checked by the stage); ``stage`` is the first stage whose inputs hold it."""

    kind: str
    default: Any
    stage: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] | None = None
    open_hi: bool = False
    doc: str = ""


def _presets() -> tuple[str, ...]:
    from spinsyn.devices import PRESETS

    return tuple(PRESETS)


def _testbenches() -> tuple[str, ...]:
    from spinsyn.devices import TESTBENCHES

    return tuple(TESTBENCHES)


PARAMS: dict[str, Param] = {
    "device.preset": Param("str", "compound", "sweep", doc="device preset (compound or domain-wall family)"),
    "device.n_mtj": Param("int", 8, "sweep", 1, 256, doc="MTJs per compound synapse (synapse compound:N)"),
    "device.levels": Param("int", 16, "sweep", 2, 4096, doc="levels of a domain-wall synapse (synapse dw:L)"),
    "device.sigma_pct": Param("float", 0.0, "sweep", 0.0, 30.0, open_hi=True,
                              doc="device-to-device spread of the swept devices (%)"),
    "device.testbench": Param("str", "published", "sweep", doc="pulse testbench preset of the sweep"),
    "device.engine": Param("str", "reference", "sweep", choices=ENGINES, doc="sweep engine"),
    "device.trials": Param("int", 20, "sweep", 1, 10**6, doc="Monte-Carlo instances per delay"),
    "device.dt_ms": Param("range3", (0.0, 60.0, 2.0), "sweep", doc="swept delays (start, stop, step) ms"),
    "device.seed": Param("int", 0, "sweep", 0, 2**31 - 1, doc="sweep seed"),
    "device.read_noise": Param("float", None, "train", 0.0, 1.0, doc="compound read noise (snn default if unset)"),
    "device.g_spread": Param("float", None, "train", 0.0, 1.0, doc="compound G spread (snn default if unset)"),
    "rule.source": Param("str", "fitted", "train", choices=RULE_SOURCES,
                         doc="published rule, a bi-sigmoid fitted to the sweep, or the sweep table itself"),
    "network.neurons": Param("int", 100, "train", 1, 10**5),
    "network.n_train": Param("int", 2000, "train", 1, 10**7),
    "network.n_test": Param("int", 1000, "train", 1, 10**5),
    "network.epochs": Param("int", 1, "train", 1, 1000),
    "network.input": Param("str", "bindsnet", "train", choices=INPUTS, doc="input preset"),
    "network.seed": Param("int", 0, "train", 0, 2**31 - 1),
    "network.device": Param("str", "cpu", "train", doc="torch device: cpu (default), cuda[:i] or auto"),
    "export.tile": Param("pair", (128, 128), "export", 1, 65536, doc="crossbar tile (rows, columns)"),
    "export.tolerance": Param("float", 0.4, "export", 0.0, 10.0, doc="verify band, level spacings"),
    "export.write_pulse": Param("str", "auto", "export", choices=WRITE_PULSES),
    "export.half_select": Param("str", "V/2", "export", choices=HALF_SELECT),
    "export.seed": Param("int", 0, "export", 0, 2**31 - 1),
    "simulate.seed": Param("int", 1, "simulate", 0, 2**31 - 1),
}


def check_value(key: str, value: Any, where: str) -> Any:
    """``value`` checked for setting ``key`` (tuples for pair/range3); ValueError ``<where>: <key>: <problem>``."""
    p = PARAMS[key]
    name = f"{where}: {key}"
    if p.kind in ("int", "float"):
        t = int if p.kind == "int" else float
        check_scalar(value, name, t, min_val=p.lo, max_val=p.hi, include_boundaries="left" if p.open_hi else "both")
        if p.kind == "float":
            value = float(value)
        if key == "export.tolerance" and value <= 0:
            raise ValueError(f"{name}: got {value!r}, expected a value in (0, 10]")
        return value
    if p.kind == "str":
        if not isinstance(value, str):
            raise ValueError(f"{name}: expected str, got {value!r}")
        choices = p.choices or {"device.preset": _presets, "device.testbench": _testbenches}.get(key, lambda: None)()
        return check_choice(value, name, choices) if choices else value
    return _check_tuple(p, name, value)


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
