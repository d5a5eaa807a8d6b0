"""Learning rules (registry: one class each). Each compiles to a small table the kernels use.

Both rules accumulate the change of the input weights over one image (``ΔW``, shape (784, N)); the synapse
model then realises it (clamp/normalise, round to levels, or switch MTJs) at the end of the image.

* ``trace`` — the bi-sigmoid trace rule: every input keeps the time since its last spike ``Δt`` (ms); at each
  post spike of neuron j, ``ΔW_ij += ν_post · (f(Δt_i)/max|f| − offset)``, with ``f`` the fitted rule
  (published: ``1 − σ(k0(Δt−t0)) − σ(k1(Δt−t1))``, +1 below ~21 ms, −1 from ~49 to 60 ms)
  (``spinsyn.fitting.load_rule`` / ``published_rule``), zero beyond its window (60 ms) and for inputs that
  have not spiked yet. ``spread`` multiplies each f value by ``1 + spread·N(0,1)`` (trial-to-trial spread).
* ``sweep`` — the same trace rule with ``f = p_up − p_down`` read directly from a device sweep HDF5
  (measured switching probabilities, no fitted function in between; ``spinsyn.snn.sweep_table``).
* ``postpre`` — BindsNET's pair-based ``PostPre`` with non-additive traces (τ 20 ms, reset to 1 on a spike):
  at a post spike ``ΔW_:j += ν_post·x_pre``; at a pre spike ``ΔW_i: −= ν_pre·x_post``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
from spinsyn.fileio import SpinsynFileError

#: Published bi-sigmoid parameters (also ``spinsyn.fitting.published_rule()``).
PUBLISHED = {"A": 7.95e5, "k0": 0.474723045, "t0": 20.77893753, "k1": 0.757072031, "t1": 48.93860322}
RULE_WINDOW_MS = 60.0

KIND_TRACE, KIND_POSTPRE = 0, 1


class _FallbackRule:
    """Local stand-in for ``spinsyn.fitting.Rule`` (same form): ``f(Δt) = 1 − σ(k0(Δt−t0)) − σ(k1(Δt−t1))``:
    potentiation for Δt ≲ t0, ~0 between, depression for t1 ≲ Δt ≤ 60 ms."""

    window_ms = (0.0, RULE_WINDOW_MS)

    def __init__(self, params: dict[str, float]):
        self.params = dict(params)

    def __call__(self, dt_ms):
        p = self.params
        dt = np.asarray(dt_ms, dtype=np.float64)
        sig = lambda z: 1.0 / (1.0 + np.exp(-z))
        return 1.0 - sig(p["k0"] * (dt - p["t0"])) - sig(p["k1"] * (dt - p["t1"]))


def published_rule() -> Callable:
    """The published bi-sigmoid rule, from ``spinsyn.fitting`` when available, else the local fallback."""
    try:
        from spinsyn.fitting import published_rule as _pub  # type: ignore[attr-defined]

        return _pub()
    except ImportError:
        return _FallbackRule(PUBLISHED)


def load_rule_file(path: str) -> Callable:
    """Load a ``spinsyn-rule`` JSON via ``spinsyn.fitting.load_rule`` (validates the schema)."""
    try:
        from spinsyn.fitting import load_rule  # type: ignore[attr-defined]
    except ImportError:
        load_rule = None
    if load_rule is not None:
        return load_rule(path)
    from spinsyn.fileio import read_json

    doc = read_json(path, fmt="spinsyn-rule", versions=(1,))
    if doc.get("model") != "bisigmoid":
        raise SpinsynFileError(f"{path}: rule model {doc.get('model')!r} is not supported; expected 'bisigmoid'")
    try:
        params = {k: float(doc["params"][k]["value"]) for k in ("A", "k0", "t0", "k1", "t1")}
    except (KeyError, TypeError, ValueError):
        raise SpinsynFileError(f"{path}: 'params' must hold A, k0, t0, k1, t1 with a 'value' each") from None
    return _FallbackRule(params)


def _window_hi(rule: Any) -> float:
    w = getattr(rule, "window_ms", None)
    try:
        return float(w[1]) if w is not None else RULE_WINDOW_MS
    except (TypeError, IndexError):
        return float(w)


@dataclass
class CompiledRule:
    """What the kernels need: ``kind``, f table indexed by Δt in steps, learning rates, trace decay."""

    kind: int
    f_tab: np.ndarray  # (W+1,) float64, f(k·dt)/f_max; unused by postpre
    nu_pre: float
    nu_post: float
    trace_decay: float  # exp(-dt/τ_trace)
    spread: float
    offset: float
    soft_bound: bool = False  # weight-dependent update: ΔW>0 scaled by (1 − w), ΔW<0 by w


class LearningRule:
    """Base: a rule turns into a :class:`CompiledRule`; subclasses register under ``name``."""

    name: ClassVar[str] = ""

    def compile(self, dt_ms: float) -> CompiledRule:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        d["name"] = self.name
        return d


RULES: dict[str, type[LearningRule]] = {}


def _trace_rule(values: Any, rule: Any, empty_msg: str) -> CompiledRule:
    """A trace-kind CompiledRule from f values per step, normalised to max |f| = 1, with ``rule``'s ν_post,
    spread, offset and soft bound; ``empty_msg`` when f is not finite or all zero."""
    vals = np.asarray(values, dtype=np.float64)
    peak = float(np.max(np.abs(vals))) if vals.size else 0.0
    if not np.all(np.isfinite(vals)) or peak <= 0.0:
        raise ValueError(empty_msg)
    return CompiledRule(KIND_TRACE, vals / peak, 0.0, float(rule.nu_post), 1.0, float(rule.spread),
                        float(rule.offset), bool(rule.soft_bound))


def register_rule(cls: type[LearningRule]) -> type[LearningRule]:
    RULES[cls.name] = cls
    return cls


@register_rule
@dataclass
class BiSigmoidTrace(LearningRule):
    """Bi-sigmoid trace rule. ``nu_post`` = weight change per pairing at the rule's peak (f normalised to 1).

    ``rule_path``: a ``spinsyn-rule`` JSON (default: the published parameters). ``offset``: subtracted from
    the normalised f at every post spike for all inputs (a depression term; 0 with normalisation).
    """

    name: ClassVar[str] = "trace"
    nu_post: float = 0.001  # tuned: best of 0.0005..0.02 on MNIST, 100 neurons, batch 1 (docs/snn.md)
    spread: float = 0.0
    offset: float = 0.0
    rule_path: str | None = None
    soft_bound: bool = False

    def function(self) -> Callable:
        return load_rule_file(self.rule_path) if self.rule_path else published_rule()

    def describe(self, dt_ms: float = 1.0) -> dict:
        """Where f came from and its normalised values per step (for metrics.json)."""
        f = self.function()
        src = self.rule_path or ("spinsyn.fitting.published_rule" if not isinstance(f, _FallbackRule)
                                 else "spinsyn.snn.rules fallback (published parameters)")
        return {"source": src, "f_normalised_per_step": self.compile(dt_ms).f_tab.round(6).tolist()}

    def compile(self, dt_ms: float) -> CompiledRule:
        f = self.function()
        hi = _window_hi(f)
        k = np.arange(math.floor(hi / dt_ms) + 1, dtype=np.float64) * dt_ms
        return _trace_rule(f(k), self, f"learning rule gives no finite non-zero value on 0..{hi} ms; "
                                        "cannot normalise it")


@register_rule
@dataclass
class PostPre(LearningRule):
    """BindsNET ``PostPre``: ``nu_pre`` (depression at pre spikes), ``nu_post`` (potentiation at post)."""

    name: ClassVar[str] = "postpre"
    nu_pre: float = 1e-4
    nu_post: float = 1e-2
    tau_trace_ms: float = 20.0

    def compile(self, dt_ms: float) -> CompiledRule:
        return CompiledRule(KIND_POSTPRE, np.zeros(1), float(self.nu_pre), float(self.nu_post),
                            math.exp(-dt_ms / self.tau_trace_ms), 0.0, 0.0)


@register_rule
@dataclass
class SweepTrace(LearningRule):
    """Trace rule whose f is the device's own net switching probability, read directly from a device sweep:
    ``f(Δt) = p_up(Δt) − p_down(Δt)`` (``spinsyn.snn.sweep_table``), normalised to max |f| = 1; no fit in
    between. With ``compound:N`` the update then switches MTJs with probabilities proportional to the measured
    p_switch(Δt) (scaled by ν; with ``soft_bound`` each MTJ in the other state switches with p = |ΔW|)."""

    name: ClassVar[str] = "sweep"
    sweep_path: str = ""
    nu_post: float = 0.001
    spread: float = 0.0
    offset: float = 0.0
    soft_bound: bool = False

    def tables(self, dt_ms: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from .sweep_table import switching_probabilities

        if not self.sweep_path:
            raise ValueError("--rule: the 'sweep' rule needs a device sweep HDF5 file")
        return switching_probabilities(self.sweep_path, dt_ms)

    def describe(self, dt_ms: float = 1.0) -> dict:
        grid, up, dn = self.tables(dt_ms)
        return {"source": self.sweep_path, "kind": "device sweep p_up - p_down", "dt_ms": grid.tolist(),
                "p_up": up.round(6).tolist(), "p_down": dn.round(6).tolist(),
                "f_normalised_per_step": self._compiled(up, dn).f_tab.round(6).tolist()}

    def compile(self, dt_ms: float) -> CompiledRule:
        _, up, dn = self.tables(dt_ms)
        return self._compiled(up, dn)

    def _compiled(self, up: np.ndarray, dn: np.ndarray) -> CompiledRule:
        return _trace_rule(up - dn, self, f"--rule {self.sweep_path}: no MTJ switched at any Δt in this sweep; "
                                          "nothing to learn from")


def make_rule(name: str, **kw: Any) -> LearningRule:
    """Build a registered rule by name, e.g. ``make_rule("trace", nu_post=0.01)``."""
    if name not in RULES:
        raise ValueError(f"--learning-rule: unknown rule {name!r}; expected one of {sorted(RULES)}")
    return RULES[name](**kw)


def rule_from_dict(d: dict) -> LearningRule:
    d = dict(d)
    return make_rule(d.pop("name"), **d)
