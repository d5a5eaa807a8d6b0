"""The study file (TOML) -> a validated :class:`StudySpec`, before any work (docs/study.md).

Sections: ``[study]`` (mode, samples, seed, batch, objectives, data_dir, name); the fixed settings
``[device]``, ``[rule]``, ``[network]``, ``[export]``, ``[simulate]`` (keys of :data:`params.PARAMS`); ``[axes]``:
dotted key -> list of values, or ``{low, high, log}`` for a random sample or an Optuna search; ``[roles]``: axis ->
``"design"`` or ``"condition"`` (what the report's Pareto fronts treat as a choice or as an operating condition;
defaults: :data:`spinsyn.report.results.DEFAULT_CONDITIONS` are conditions). Unknown keys and bad
values raise ``ValueError("<file>: <key>: <problem>")``, and so do an axis given twice under any spelling
(``"device.n_mtj"`` and ``device.n_mtj``, a table ``[axes.device]`` and a dotted key) and a file that sets
nothing (no axes and no settings: empty, or whitespace and comments only).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spinsyn.validation import check_choice, check_file, check_scalar

from .params import PARAMS, check_value

MODES = ("grid", "random", "optuna")
SECTIONS = ("device", "rule", "network", "export", "simulate")
STUDY_KEYS = ("mode", "samples", "seed", "batch", "objectives", "data_dir", "name")
#: result columns an Optuna search may optimise
METRICS = ("accuracy", "accuracy_trained", "energy_pJ_per_synapse", "program_time_ns_per_synapse", "devices",
           "devices_per_synapse", "retention_s", "area_mm2", "inference_nJ_per_image")
DEFAULT_OBJECTIVES = (("accuracy", "max"), ("energy_pJ_per_synapse", "min"))
RANGE_KEYS = ("low", "high", "log")
MAX_TRIALS = 10000
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Axis:
    """One varied setting: a list of ``values``, or a range [``low``, ``high``] (``log``-uniform if set; an int
    range when both ends are ints)."""

    key: str
    values: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False

    @property
    def integer(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int)


@dataclass(frozen=True)
class StudySpec:
    """A checked study: how trials are drawn, the fixed settings (dotted key -> value) and the axes."""

    path: Path
    text: str
    mode: str = "grid"
    samples: int = 0
    seed: int = 0
    batch: int = 1
    objectives: tuple[tuple[str, str], ...] = DEFAULT_OBJECTIVES
    data_dir: str | None = None
    name: str = ""
    fixed: dict[str, Any] = field(default_factory=dict)
    axes: tuple[Axis, ...] = ()
    #: axis -> "design" | "condition" (every axis; the ``[roles]`` table over the defaults)
    roles: dict[str, str] = field(default_factory=dict)

    @property
    def axis_keys(self) -> list[str]:
        return [a.key for a in self.axes]


def toml_document(text: str, where: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib  # lazy: optional
    else:  # pragma: no cover - the study extra installs tomli on 3.10
        import tomli as tomllib  # lazy: optional
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{where}: not valid TOML ({exc})") from None


def load_spec(path: str | Path) -> StudySpec:
    """Read and check a study file; ValueError ``<file>: <key>: <problem>`` for anything wrong."""
    p = check_file(path, "STUDY.toml")
    where = str(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{where}: not UTF-8 text") from None
    doc = toml_document(text, where)
    unknown = sorted(set(doc) - {"study", "axes", "roles", *SECTIONS})
    if unknown:
        raise ValueError(f"{where}: {unknown[0]}: unknown section; expected study, axes, roles, {', '.join(SECTIONS)}")
    fixed = _fixed(doc, where)
    axes = _axes(_table(doc, "axes", where), where)
    for a in axes:
        if a.key in fixed:
            raise ValueError(f"{where}: axes.{a.key}: also fixed in [{a.key.split('.')[0]}]; set it in one place")
    study = _study_options(_table(doc, "study", where), where, axes)
    if not axes and not fixed:
        raise ValueError(f"{where}: no axes and no parameters: the file sets nothing to study; give [axes] (and "
                         f"settings in [{'], ['.join(SECTIONS)}]), docs/study.md")
    roles = _roles(_table(doc, "roles", where), where, [a.key for a in axes])
    return StudySpec(path=p, text=text, fixed=fixed, axes=tuple(axes), roles=roles, **study)


def _table(doc: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    t = doc.get(name, {})
    if not isinstance(t, dict):
        raise ValueError(f"{where}: {name}: expected a table [{name}]")
    return t


def _fixed(doc: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for section in SECTIONS:
        for k, v in _table(doc, section, where).items():
            key = f"{section}.{k}"
            if key not in PARAMS:
                raise ValueError(f"{where}: {key}: unknown key; expected one of "
                                 f"{', '.join(x for x in PARAMS if x.startswith(section + '.'))}")
            out[key] = check_value(key, v, where)
    return out


def _roles(table: dict[str, Any], where: str, axis_keys: list[str]) -> dict[str, str]:
    """Every axis's role: ``[roles]`` (``"device.read_noise" = "design"``, quoted or bare dotted keys) over the
    defaults; a key that is not an axis of the study, or a role other than design/condition, is refused."""
    from spinsyn.report.results import ROLES, axis_roles  # lazy: startup

    given = _flatten(table, where, section="roles")
    for key, role in given.items():
        if key not in axis_keys:
            raise ValueError(f"{where}: roles.{key}: not an axis of this study; roles are for axes "
                             f"({', '.join(axis_keys) or 'none'})")
        check_choice(role, f"{where}: roles.{key}", ROLES)
    return axis_roles(axis_keys, given)


def _spelling(path: tuple[str, ...], section: str = "axes") -> str:
    """How a key path was written: ``axes.device.n_mtj`` or ``axes."device.n_mtj"``."""
    return ".".join([section, *(k if _BARE_KEY.fullmatch(k) else json.dumps(k) for k in path)])


def _flatten(table: dict[str, Any], where: str, path: tuple[str, ...] = (),
             out: dict[str, Any] | None = None, spelled: dict[str, str] | None = None,
             section: str = "axes") -> dict[str, Any]:
    """``{"device": {"n_mtj": [..]}}`` and ``{"device.n_mtj": [..]}`` alike -> ``{"device.n_mtj": [..]}``; an axis
    given twice under any spelling (a quoted and a dotted key, a table and a key, two tables) is refused."""
    out = {} if out is None else out
    spelled = {} if spelled is None else spelled
    for k, v in table.items():
        p = (*path, k)
        if isinstance(v, dict) and not (set(v) & set(RANGE_KEYS)):
            _flatten(v, where, p, out, spelled, section)
            continue
        key = ".".join(p)
        if key in out:
            raise ValueError(f"{where}: {section}.{key}: given twice (as {spelled[key]} and as "
                             f"{_spelling(p, section)}); give each axis once")
        out[key], spelled[key] = v, _spelling(p, section)
    return out


def _axes(table: dict[str, Any], where: str) -> list[Axis]:
    axes = []
    for key, v in _flatten(table, where).items():
        name = f"{where}: axes.{key}"
        if key not in PARAMS:
            raise ValueError(f"{name}: unknown key; expected one of {', '.join(PARAMS)}")
        if isinstance(v, list):
            if not v:
                raise ValueError(f"{name}: expected at least one value")
            vals = tuple(check_value(key, x, f"{where}: axes") for x in v)
            if len(set(vals)) != len(vals):
                raise ValueError(f"{name}: repeated value in {v!r}")
            axes.append(Axis(key, values=vals))
        elif isinstance(v, dict):
            axes.append(_range_axis(key, v, name, where))
        else:
            raise ValueError(f"{name}: expected a list of values or a table {{low, high, log}}, got {v!r}")
    return axes


def _range_axis(key: str, v: dict[str, Any], name: str, where: str) -> Axis:
    extra = sorted(set(v) - set(RANGE_KEYS))
    if extra:
        raise ValueError(f"{name}: {extra[0]}: unknown key; expected low, high, log")
    if PARAMS[key].kind not in ("int", "float"):
        raise ValueError(f"{name}: a range needs a numeric setting; give a list of values")
    if "low" not in v or "high" not in v:
        raise ValueError(f"{name}: a range needs low and high")
    lo, hi = (check_value(key, v[k], f"{where}: axes") for k in ("low", "high"))
    log = v.get("log", False)
    if not isinstance(log, bool):
        raise ValueError(f"{name}.log: expected true or false, got {log!r}")
    if not hi > lo or (log and lo <= 0):
        raise ValueError(f"{name}: got low={lo!r}, high={hi!r}; expected high > low" + (" > 0" if log else ""))
    return Axis(key, low=lo, high=hi, log=log)


def _study_options(t: dict[str, Any], where: str, axes: list[Axis]) -> dict[str, Any]:
    extra = sorted(set(t) - set(STUDY_KEYS))
    if extra:
        raise ValueError(f"{where}: study.{extra[0]}: unknown key; expected one of {', '.join(STUDY_KEYS)}")
    mode = check_choice(t.get("mode", "grid"), f"{where}: study.mode", MODES)
    seed = check_scalar(t.get("seed", 0), f"{where}: study.seed", int, min_val=0, max_val=2**31 - 1)
    batch = check_scalar(t.get("batch", 1), f"{where}: study.batch", int, min_val=1, max_val=1000)
    name = t.get("name", "")
    data_dir = t.get("data_dir")
    if not isinstance(name, str):
        raise ValueError(f"{where}: study.name: expected a string, got {name!r}")
    if data_dir is not None and not isinstance(data_dir, str):
        raise ValueError(f"{where}: study.data_dir: expected a folder name, got {data_dir!r}")
    samples = _samples(t, mode, axes, where)
    objectives = _objectives(t.get("objectives"), where) if mode == "optuna" else DEFAULT_OBJECTIVES
    if mode != "optuna" and "objectives" in t:
        raise ValueError(f"{where}: study.objectives: only an optuna study has objectives")
    return {"mode": mode, "samples": samples, "seed": seed, "batch": batch, "objectives": objectives,
            "data_dir": data_dir, "name": name}


def _samples(t: dict[str, Any], mode: str, axes: list[Axis], where: str) -> int:
    if mode == "grid":
        if "samples" in t:
            raise ValueError(f"{where}: study.samples: a grid runs every combination; samples is for random/optuna")
        ranged = [a.key for a in axes if a.values is None]
        if ranged:
            raise ValueError(f"{where}: axes.{ranged[0]}: a grid needs a list of values, not a range")
        n = 1
        for a in axes:
            n *= len(a.values or ())
        if n > MAX_TRIALS:
            raise ValueError(f"{where}: axes: the grid has {n} trials, more than {MAX_TRIALS}")
        return n
    if "samples" not in t:
        raise ValueError(f"{where}: study.samples: a {mode} study needs the number of trials")
    if not axes:
        raise ValueError(f"{where}: axes: a {mode} study needs at least one axis")
    return check_scalar(t["samples"], f"{where}: study.samples", int, min_val=1, max_val=MAX_TRIALS)


def _objectives(v: Any, where: str) -> tuple[tuple[str, str], ...]:
    if v is None:
        return DEFAULT_OBJECTIVES
    if not isinstance(v, list) or not v:
        raise ValueError(f"{where}: study.objectives: expected a list like [\"accuracy:max\", ...]")
    out = []
    for item in v:
        metric, _, direction = str(item).partition(":")
        check_choice(metric, f"{where}: study.objectives", METRICS)
        check_choice(direction, f"{where}: study.objectives: {metric}", ("max", "min"))
        out.append((metric, direction))
    return tuple(out)
