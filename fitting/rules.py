"""Learning-rule families, the :class:`Rule` object and the ``spinsyn-rule`` JSON file.

A *family* is one class in :data:`FAMILIES` (adding a family is adding one class): parameter names and
units, the model function written once for numpy and torch, data-driven initial guesses and bounds, and
the curve components the plot shows. A :class:`Rule` is a family plus parameter values; calling it on Δt
(ms) gives the weight change (dimensionless when ``normalised``, else in the data's unit, e.g. S).

Families
--------
``bisigmoid``  Δw(Δt) = (A − A·σ(k0(Δt−t0)) − A·σ(k1(Δt−t1))) / A in the normalised form (A cancels; it is
               reported as not identifiable), or A·(1 − σ(k0(Δt−t0)) − σ(k1(Δt−t1))) with a free amplitude
               for raw ΔG. σ is the logistic. k in 1/ms, t in ms.
``exp-stdp``   classic pair STDP: a_plus·exp(−Δt/tau_plus_ms) for Δt ≥ 0, −a_minus·exp(Δt/tau_minus_ms) for
               Δt < 0.
``sigmoid``    one transition with an offset: A·(1 − σ(k(Δt−t0))) + c (a curve whose second transition lies
               outside the sampled window, or a device with a single switching threshold).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, overload

import numpy as np
from spinsyn.fileio import SpinsynFileError, read_json, write_json

RULE_FORMAT = "spinsyn-rule"
RULE_FORMAT_VERSION = 1

#: Published bi-sigmoid parameters (A dimensionless raw amplitude; k in 1/ms; t in ms).
PUBLISHED_PARAMS = {"A": 7.95e5, "k0": 0.474723045, "t0": 20.77893753, "k1": 0.757072031, "t1": 48.93860322}
PUBLISHED_WINDOW_MS = (0.0, 60.0)


# --------------------------------------------------------------------------------------------------------
# array helpers: one model function for numpy arrays and torch tensors


def _is_torch(x: Any) -> bool:
    mod = type(x).__module__
    return mod.startswith("torch")


def _sigmoid(z: Any) -> Any:
    if _is_torch(z):
        import torch  # lazy: startup

        return torch.sigmoid(z)
    # 1/(1 + e^-z): scipy.special.expit to the last bit (a few ulp where numpy's exp differs; e^-z = inf -> 0):
    # numpy only, because importing scipy.special costs ~0.3 s of start-up in every short run
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


def _exp(z: Any) -> Any:
    if _is_torch(z):
        import torch  # lazy: startup

        return torch.exp(z)
    return np.exp(z)


def _where(cond: Any, a: Any, b: Any) -> Any:
    if _is_torch(cond):
        import torch  # lazy: startup

        return torch.where(cond, a, b)
    return np.where(cond, a, b)


# --------------------------------------------------------------------------------------------------------
# families


class Family:
    """A rule family: parameter names/units, model function, guesses, bounds and plot components.

    ``param_units`` uses ``"y"`` for "the unit of the data" (``"1"`` normalised, ``"S"`` raw ΔG).
    """

    name: ClassVar[str] = ""
    params: ClassVar[tuple[str, ...]] = ()
    param_units: ClassVar[dict[str, str]] = {}
    description: ClassVar[str] = ""

    @staticmethod
    def f(x: Any, p: dict[str, float]) -> Any:  # pragma: no cover - abstract
        """Model value at Δt ``x`` (ms; numpy array or torch tensor) for parameters ``p``."""
        raise NotImplementedError

    @classmethod
    def components(cls, x: np.ndarray, p: dict[str, float]) -> dict[str, np.ndarray]:
        """Named curve components for the plot (default: none)."""
        return {}

    @classmethod
    def fixed(cls, x: np.ndarray, normalised: bool) -> dict[str, tuple[float | None, str]]:
        """Parameters the data cannot determine: name -> (value used in f, reason)."""
        return {}

    @classmethod
    def guesses(cls, x: np.ndarray, y: np.ndarray) -> list[dict[str, float]]:  # pragma: no cover
        """Data-driven initial guesses (several, for the multi-start)."""
        raise NotImplementedError

    @classmethod
    def bounds(cls, x: np.ndarray, y: np.ndarray) -> dict[str, tuple[float, float]]:  # pragma: no cover
        """Box bounds per parameter, from the data ranges."""
        raise NotImplementedError

    @classmethod
    def unit(cls, name: str, y_unit: str) -> str:
        u = cls.param_units[name]
        return y_unit if u == "y" else u


FAMILIES: dict[str, type[Family]] = {}


def register_family(cls: type[Family]) -> type[Family]:
    """Class decorator adding a family to :data:`FAMILIES` under ``cls.name``."""
    FAMILIES[cls.name] = cls
    return cls


def get_family(name: str) -> type[Family]:
    """Family by name; ValueError listing the known ones otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown rule model {name!r}; expected one of {sorted(FAMILIES)}") from None


def _span(x: np.ndarray) -> tuple[float, float, float]:
    lo, hi = float(np.min(x)), float(np.max(x))
    return lo, hi, max(hi - lo, 1e-9)


def _step(x: np.ndarray) -> float:
    d = np.diff(np.unique(x))
    return float(np.min(d)) if d.size else 1.0


def _crossings(x: np.ndarray, y: np.ndarray, level: float) -> list[float]:
    """Δt values where the (sorted) curve crosses ``level`` (linear interpolation)."""
    s = y - level
    idx = np.nonzero(np.sign(s[:-1]) * np.sign(s[1:]) < 0)[0]
    out = []
    for i in idx:
        out.append(float(x[i] - s[i] * (x[i + 1] - x[i]) / (s[i + 1] - s[i])))
    return out


def _width_to_k(width_ms: float) -> float:
    """Logistic slope whose 10–90 % width is ``width_ms`` (1/ms)."""
    return 2.0 * math.log(9.0) / max(width_ms, 1e-6)


@register_family
class BiSigmoid(Family):
    name = "bisigmoid"
    params = ("A", "k0", "t0", "k1", "t1")
    param_units = {"A": "y", "k0": "1/ms", "t0": "ms", "k1": "1/ms", "t1": "ms"}
    description = "(A − A·σ(k0(Δt−t0)) − A·σ(k1(Δt−t1)))/A normalised; A·(1 − σ0 − σ1) raw"

    @staticmethod
    def f(x: Any, p: dict[str, float]) -> Any:
        a = 1.0 if p.get("A") is None else p["A"]
        return a * (1.0 - _sigmoid(p["k0"] * (x - p["t0"])) - _sigmoid(p["k1"] * (x - p["t1"])))

    @classmethod
    def components(cls, x: np.ndarray, p: dict[str, float]) -> dict[str, np.ndarray]:
        a = 1.0 if p.get("A") is None else p["A"]
        return {
            f"−A·σ(k0(Δt−t0)), t0={p['t0']:.2f} ms": -a * _sigmoid(p["k0"] * (x - p["t0"])),
            f"−A·σ(k1(Δt−t1)), t1={p['t1']:.2f} ms": -a * _sigmoid(p["k1"] * (x - p["t1"])),
        }

    @classmethod
    def fixed(cls, x: np.ndarray, normalised: bool) -> dict[str, tuple[float | None, str]]:
        if normalised:
            return {"A": (None, "A cancels in the normalised form (data already divided by the amplitude)")}
        return {}

    @classmethod
    def guesses(cls, x: np.ndarray, y: np.ndarray) -> list[dict[str, float]]:
        lo, hi, span = _span(x)
        amp = float(max(np.max(np.abs(y)), 1e-30))
        top, bottom = float(np.max(y)), float(np.min(y))
        a0 = max(top, 0.5 * (top - bottom), 1e-30 * amp) if top > 0 else amp
        cands: list[tuple[float, float]] = []
        c_hi = _crossings(x, y, 0.5 * a0)
        c_lo = _crossings(x, y, -0.5 * a0)
        t0 = c_hi[0] if c_hi else lo + span / 3
        t1 = c_lo[-1] if c_lo else lo + 2 * span / 3
        if t1 <= t0:
            t0, t1 = lo + span / 3, lo + 2 * span / 3
        cands.append((t0, t1))
        cands.append((lo + span / 3, lo + 2 * span / 3))
        cands.append((lo + span / 4, lo + span / 2))
        cands.append((lo + span / 2, lo + 3 * span / 4))
        out = []
        for t0_, t1_ in cands:
            for w in (span / 10, span / 25):
                out.append({"A": a0, "k0": _width_to_k(w), "t0": t0_, "k1": _width_to_k(w), "t1": t1_})
        return out

    @classmethod
    def bounds(cls, x: np.ndarray, y: np.ndarray) -> dict[str, tuple[float, float]]:
        lo, hi, span = _span(x)
        amp = float(max(np.max(np.abs(y)), 1e-30))
        kmax = 50.0 / _step(x)
        kmin = 0.5 / span
        return {
            "A": (0.0, 10.0 * amp),
            "k0": (kmin, kmax), "t0": (lo - span, hi + span),
            "k1": (kmin, kmax), "t1": (lo - span, hi + span),
        }


@register_family
class ExpSTDP(Family):
    name = "exp-stdp"
    params = ("a_plus", "tau_plus_ms", "a_minus", "tau_minus_ms")
    param_units = {"a_plus": "y", "tau_plus_ms": "ms", "a_minus": "y", "tau_minus_ms": "ms"}
    description = "a_plus·exp(−Δt/tau_plus) for Δt ≥ 0; −a_minus·exp(Δt/tau_minus) for Δt < 0"

    @staticmethod
    def f(x: Any, p: dict[str, float]) -> Any:
        pos = x >= 0
        ap = p["a_plus"] * _exp(-_where(pos, x, 0.0 * x) / p["tau_plus_ms"])
        am_ = 0.0 if p.get("a_minus") is None else p["a_minus"]
        tm = 1.0 if p.get("tau_minus_ms") is None else p["tau_minus_ms"]
        am = -am_ * _exp(_where(pos, 0.0 * x, x) / tm)
        return _where(pos, ap, am)

    @classmethod
    def components(cls, x: np.ndarray, p: dict[str, float]) -> dict[str, np.ndarray]:
        out = {"LTP a₊·e^(−Δt/τ₊)": np.where(x >= 0, cls.f(x, p), np.nan)}
        if np.any(x < 0):
            out["LTD −a₋·e^(Δt/τ₋)"] = np.where(x < 0, cls.f(x, p), np.nan)
        return out

    @classmethod
    def fixed(cls, x: np.ndarray, normalised: bool) -> dict[str, tuple[float | None, str]]:
        if not np.any(x < 0):
            why = "no data with Δt < 0: the depression branch is not sampled"
            return {"a_minus": (None, why), "tau_minus_ms": (None, why)}
        if not np.any(x >= 0):
            why = "no data with Δt ≥ 0: the potentiation branch is not sampled"
            return {"a_plus": (0.0, why), "tau_plus_ms": (1.0, why)}
        return {}

    @classmethod
    def guesses(cls, x: np.ndarray, y: np.ndarray) -> list[dict[str, float]]:
        lo, hi, span = _span(x)
        pos, neg = x >= 0, x < 0
        ap = float(np.max(np.abs(y[pos]))) if pos.any() else 1.0
        am = float(np.max(np.abs(y[neg]))) if neg.any() else 1.0
        out = []
        for tau in (span / 20, span / 6, span / 2):
            out.append({"a_plus": ap, "tau_plus_ms": tau, "a_minus": am, "tau_minus_ms": tau})
        return out

    @classmethod
    def bounds(cls, x: np.ndarray, y: np.ndarray) -> dict[str, tuple[float, float]]:
        lo, hi, span = _span(x)
        amp = float(max(np.max(np.abs(y)), 1e-30))
        tmin = 0.05 * _step(x)
        return {
            "a_plus": (-10 * amp, 10 * amp), "tau_plus_ms": (tmin, 20 * span),
            "a_minus": (-10 * amp, 10 * amp), "tau_minus_ms": (tmin, 20 * span),
        }


@register_family
class Sigmoid(Family):
    name = "sigmoid"
    params = ("A", "k", "t0", "c")
    param_units = {"A": "y", "k": "1/ms", "t0": "ms", "c": "y"}
    description = "A·(1 − σ(k(Δt−t0))) + c: one transition with an offset"

    @staticmethod
    def f(x: Any, p: dict[str, float]) -> Any:
        return p["A"] * (1.0 - _sigmoid(p["k"] * (x - p["t0"]))) + p["c"]

    @classmethod
    def components(cls, x: np.ndarray, p: dict[str, float]) -> dict[str, np.ndarray]:
        return {f"A·(1−σ(k(Δt−t0))), t0={p['t0']:.2f} ms": p["A"] * (1.0 - _sigmoid(p["k"] * (x - p["t0"])))}

    @classmethod
    def guesses(cls, x: np.ndarray, y: np.ndarray) -> list[dict[str, float]]:
        lo, hi, span = _span(x)
        n = max(len(y) // 5, 1)
        first, last = float(np.mean(y[:n])), float(np.mean(y[-n:]))
        cr = _crossings(x, y, 0.5 * (first + last))
        t0s = [cr[0]] if cr else []
        t0s += [lo + span / 3, lo + 2 * span / 3]
        return [{"A": first - last, "k": _width_to_k(w), "t0": t, "c": last}
                for t in t0s for w in (span / 10, span / 25)]

    @classmethod
    def bounds(cls, x: np.ndarray, y: np.ndarray) -> dict[str, tuple[float, float]]:
        lo, hi, span = _span(x)
        amp = float(max(np.max(np.abs(y)), 1e-30))
        return {"A": (-10 * amp, 10 * amp), "k": (0.5 / span, 50.0 / _step(x)),
                "t0": (lo - span, hi + span), "c": (-10 * amp, 10 * amp)}


# --------------------------------------------------------------------------------------------------------
# the rule object


@dataclass(frozen=True)
class ParamInfo:
    """One fitted parameter: value (None when not identifiable and not needed), unit, uncertainty."""

    value: float | None
    unit: str
    stderr: float | None = None
    ci95: tuple[float, float] | None = None
    identifiable: bool = True
    note: str = ""
    ci95_bootstrap: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"value": self.value, "unit": self.unit, "stderr": self.stderr,
                             "ci95": list(self.ci95) if self.ci95 is not None else None,
                             "identifiable": self.identifiable}
        if self.note:
            d["note"] = self.note
        if self.ci95_bootstrap is not None:
            d["ci95_bootstrap"] = list(self.ci95_bootstrap)
        return d


@dataclass(frozen=True)
class Rule:
    """A learning rule: ``Rule(dt_ms)`` -> weight change, same type back (numpy array or torch tensor).

    ``normalised``: output dimensionless (A cancels); else in ``y_unit`` (e.g. S). ``window_ms``: the Δt
    range (ms) the rule was fitted on / is valid for.
    """

    model: str
    params: dict[str, ParamInfo]
    normalised: bool = True
    window_ms: tuple[float, float] = PUBLISHED_WINDOW_MS
    y_unit: str = "1"
    metrics: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> type[Family]:
        return get_family(self.model)

    @property
    def values(self) -> dict[str, float | None]:
        """Parameter values used by the model function (name -> value)."""
        return {k: v.value for k, v in self.params.items()}

    def _eval_values(self) -> dict[str, Any]:  # name -> value; None where a parameter cancels
        vals = self.values
        if self.normalised and self.model == "bisigmoid":
            vals["A"] = None  # A cancels in (A − Aσ0 − Aσ1)/A
        return vals

    def __call__(self, dt_ms: Any) -> Any:
        """Weight change at Δt ``dt_ms`` (ms). numpy in -> numpy out; torch tensor in -> tensor on its device."""
        if _is_torch(dt_ms):
            import torch  # lazy: startup

            x = dt_ms if torch.is_floating_point(dt_ms) else dt_ms.to(torch.get_default_dtype())
            return self.family.f(x, self._eval_values())
        x = np.asarray(dt_ms, dtype=np.float64)
        out = self.family.f(x, self._eval_values())
        return out if np.ndim(dt_ms) else float(out)

    def to_payload(self) -> dict[str, Any]:
        """The rule JSON body (without format/provenance)."""
        return {
            "model": self.model,
            "params": {k: v.to_dict() for k, v in self.params.items()},
            "normalised": self.normalised,
            "y_unit": self.y_unit,
            "valid_dt_ms": [float(self.window_ms[0]), float(self.window_ms[1])],
            "metrics": self.metrics,
            "source": self.source,
        }


def published_rule() -> Rule:
    """The published bi-sigmoid (A=7.95e5, k0=0.474723045 /ms, t0=20.77893753 ms, k1=0.757072031 /ms,
    t1=48.93860322 ms), normalised, valid on Δt ∈ [0, 60] ms."""
    p = PUBLISHED_PARAMS
    params = {
        "A": ParamInfo(p["A"], "1", identifiable=False,
                       note="published raw amplitude; cancels in the normalised form"),
        "k0": ParamInfo(p["k0"], "1/ms"), "t0": ParamInfo(p["t0"], "ms"),
        "k1": ParamInfo(p["k1"], "1/ms"), "t1": ParamInfo(p["t1"], "ms"),
    }
    return Rule("bisigmoid", params, normalised=True, window_ms=PUBLISHED_WINDOW_MS, y_unit="1",
                source={"path": None, "sha256": None, "reference": "published bi-sigmoid parameters"})


def save_rule(path: str | Path, rule: Rule, seed: int | None = None) -> Path:
    """Write ``rule`` as ``spinsyn-rule`` v1 JSON (atomic). Returns the path."""
    return write_json(path, rule.to_payload(), fmt=RULE_FORMAT, version=RULE_FORMAT_VERSION, seed=seed)


@overload
def _num(path: Path, where: str, v: Any, allow_none: Literal[False] = ...) -> float: ...
@overload
def _num(path: Path, where: str, v: Any, allow_none: bool) -> float | None: ...
def _num(path: Path, where: str, v: Any, allow_none: bool = False) -> float | None:
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise SpinsynFileError(f"{path}: {where} must be a finite number, got {v!r}")
    return float(v)


def _pair(path: Path, where: str, v: Any) -> tuple[float, float] | None:
    """An optional ``[lo, hi]`` interval of finite numbers."""
    if v is None:
        return None
    if not (isinstance(v, list) and len(v) == 2):
        raise SpinsynFileError(f"{path}: {where} must be [lo, hi], got {v!r}")
    return _num(path, where, v[0]), _num(path, where, v[1])


def _param_record(path: Path, fam: type[Family], name: str, rec: Any, normalised: bool) -> ParamInfo:
    """One validated ``params.<name>`` record."""
    if not isinstance(rec, dict):
        raise SpinsynFileError(f"{path}: parameter {name!r} of model {fam.name!r} is missing")
    optional = (fam.name == "bisigmoid" and name == "A" and normalised) or not rec.get("identifiable", True)
    value = _num(path, f"params.{name}.value", rec.get("value"), allow_none=optional)
    if value is None and not optional:
        raise SpinsynFileError(f"{path}: params.{name}.value is required")
    stderr = _num(path, f"params.{name}.stderr", rec.get("stderr"), allow_none=True)
    ci = _pair(path, f"params.{name}.ci95", rec.get("ci95"))
    bci = _pair(path, f"params.{name}.ci95_bootstrap", rec.get("ci95_bootstrap"))
    unit, f = _unit_factor(path, fam, name, rec.get("unit"))
    value, stderr = (None if v is None else v * f for v in (value, stderr))
    ci, bci = (None if c is None else (c[0] * f, c[1] * f) for c in (ci, bci))
    if value is not None:
        _check_param_range(path, name, unit, value)
    return ParamInfo(value, unit, stderr, ci, bool(rec.get("identifiable", True)), str(rec.get("note", "")), bci)


#: unit a rule file may give -> factor to the family's unit (time parameters in ms, rates in 1/ms)
UNIT_FACTORS = {
    "ms": {"ms": 1.0, "s": 1e3, "us": 1e-3, "µs": 1e-3, "ns": 1e-6},
    "1/ms": {"1/ms": 1.0, "1/s": 1e-3, "1/us": 1e3, "1/µs": 1e3, "1/ns": 1e6},
}
#: accepted ranges after conversion: rates 0 < k <= 1e6 /ms, time constants 0 < tau <= 1e9 ms, |t| <= 1e9 ms
MAX_RATE_PER_MS, MAX_TIME_MS = 1e6, 1e9


def _unit_factor(path: Path, fam: type[Family], name: str, unit: Any) -> tuple[str, float]:
    """(the family's unit of ``name``, factor from the file's unit to it); a unit that cannot be converted is
    refused. A missing unit means the family's own; amplitude parameters (unit of the data) are not converted."""
    want = fam.param_units[name]
    if want not in UNIT_FACTORS:
        return ("" if unit is None else str(unit)), 1.0
    if unit is None or unit == "":
        return want, 1.0
    factors = UNIT_FACTORS[want]
    if not isinstance(unit, str) or unit.strip() not in factors:
        raise SpinsynFileError(f"{path}: params.{name}.unit is {unit!r}; expected one of {sorted(factors)} "
                               f"(converted to {want})")
    return want, factors[unit.strip()]


def _check_param_range(path: Path, name: str, unit: str, value: float) -> None:
    if unit == "1/ms":
        ok, want = 0 < value <= MAX_RATE_PER_MS, f"0 < {name} <= {MAX_RATE_PER_MS:g} 1/ms"
    elif unit == "ms" and name.startswith("tau"):
        ok, want = 0 < value <= MAX_TIME_MS, f"0 < {name} <= {MAX_TIME_MS:g} ms"
    elif unit == "ms":
        ok, want = abs(value) <= MAX_TIME_MS, f"|{name}| <= {MAX_TIME_MS:g} ms"
    else:
        return
    if not ok:
        raise SpinsynFileError(f"{path}: params.{name}.value {value:g} {unit} is out of range; expected {want}")


def load_rule(path: str | Path) -> Rule:
    """Read and validate a ``spinsyn-rule`` v1 JSON file. Raises SpinsynFileError naming the file.

    This is the one reader of rule JSON in spinsyn: other stages call it (or :func:`spinsyn.fitting.load_rule`).
    """
    path = Path(path)
    doc = read_json(path, fmt=RULE_FORMAT, versions=(RULE_FORMAT_VERSION,))
    model = doc.get("model")
    if model not in FAMILIES:
        raise SpinsynFileError(f"{path}: model {model!r} is not a known rule family {sorted(FAMILIES)}")
    fam = FAMILIES[model]
    raw = doc.get("params")
    if not isinstance(raw, dict):
        raise SpinsynFileError(f"{path}: 'params' must be an object of parameter records")
    normalised = doc.get("normalised", True)
    if not isinstance(normalised, bool):
        raise SpinsynFileError(f"{path}: 'normalised' must be true or false, got {normalised!r}")
    params = {name: _param_record(path, fam, name, raw.get(name), normalised) for name in fam.params}
    unknown = set(raw) - set(fam.params)
    if unknown:
        raise SpinsynFileError(f"{path}: unknown parameters {sorted(unknown)} for model {model!r}")
    win = doc.get("valid_dt_ms", list(PUBLISHED_WINDOW_MS))
    if not (isinstance(win, list) and len(win) == 2):
        raise SpinsynFileError(f"{path}: valid_dt_ms must be [lo, hi] in ms, got {win!r}")
    lo, hi = _num(path, "valid_dt_ms[0]", win[0]), _num(path, "valid_dt_ms[1]", win[1])
    if not lo < hi:
        raise SpinsynFileError(f"{path}: valid_dt_ms must have lo < hi, got {win!r}")
    return Rule(model, params, normalised=normalised, window_ms=(lo, hi), y_unit=str(doc.get("y_unit", "1")),
                metrics=dict(doc.get("metrics") or {}), source=dict(doc.get("source") or {}))
