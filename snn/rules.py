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

import hashlib
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, cast

import numpy as np
from spinsyn.fitting import PUBLISHED_PARAMS, Rule, load_rule, published_rule

from .kinds import RULE_POSTPRE, RULE_TRACE

#: Published bi-sigmoid parameters (``spinsyn.fitting.PUBLISHED_PARAMS``).
PUBLISHED = dict(PUBLISHED_PARAMS)

#: fields of :class:`CompiledRule` stored in ``rule_json`` (the f table goes in its own tensor)
_RECORD_FIELDS = ("kind", "nu_pre", "nu_post", "trace_decay", "spread", "offset", "soft_bound")


def file_source(path: str | Path) -> dict[str, Any]:
    """``{"path", "sha256"}`` of a rule or sweep file (provenance stored with the compiled rule)."""
    return {"path": str(path), "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()}


@dataclass
class CompiledRule:
    """What the kernels need: ``kind``, f table indexed by Δt in steps, learning rates, trace decay. ``info``:
    where f came from (rule parameters, source file path and sha256) for metrics and checkpoints."""

    kind: int
    f_tab: np.ndarray  # (W+1,) float64, f(k·dt)/f_max; unused by postpre
    nu_pre: float
    nu_post: float
    trace_decay: float  # exp(-dt/τ_trace)
    spread: float
    offset: float
    soft_bound: bool = False  # weight-dependent update: ΔW>0 scaled by (1 − w), ΔW<0 by w
    info: dict = field(default_factory=dict)

    def describe(self) -> dict | None:
        """Where f came from and its normalised values per step (metrics ``rule_function``); None for postpre."""
        if self.kind != RULE_TRACE:
            return None
        return {**self.info, "f_normalised_per_step": np.round(self.f_tab, 6).tolist()}

    def record(self) -> dict[str, Any]:
        """JSON-able record of everything but ``f_tab`` (checkpoint ``rule_json``); :meth:`from_record`."""
        return {**{k: getattr(self, k) for k in _RECORD_FIELDS}, "info": self.info}

    @classmethod
    def from_record(cls, rec: dict[str, Any], f_tab: np.ndarray) -> CompiledRule:
        return cls(int(rec["kind"]), np.ascontiguousarray(f_tab, dtype=np.float64), float(rec["nu_pre"]),
                   float(rec["nu_post"]), float(rec["trace_decay"]), float(rec["spread"]), float(rec["offset"]),
                   bool(rec["soft_bound"]), dict(rec.get("info") or {}))


class LearningRule:
    """Base: a rule turns into a :class:`CompiledRule`; subclasses register under ``name``."""

    name: ClassVar[str] = ""
    # set by every concrete rule (a dataclass): post-spike depression ν_post, spread, offset, soft weight bound
    nu_post: float
    spread: float
    offset: float
    soft_bound: bool

    def compile(self, dt_ms: float, time_scale: float = 1.0) -> CompiledRule:  # pragma: no cover - abstract
        """The kernels' table at the network step ``dt_ms``; ``time_scale`` (``--rule-time-scale``) multiplies the
        Δt axis of the rule's data (a window measured in µs used at a 1 ms step: 1000)."""
        raise NotImplementedError

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(cast(Any, self)).items() if not k.startswith("_")}
        d["name"] = self.name
        return d


RULES: dict[str, type[LearningRule]] = {}


def _trace_rule(values: Any, rule: LearningRule, empty_msg: str, info: dict) -> CompiledRule:
    """A trace-kind CompiledRule from f values per step, normalised to max |f| = 1, with ``rule``'s ν_post,
    spread, offset and soft bound; ``empty_msg`` when f is not finite or all zero; ``info``: the f source."""
    vals = np.asarray(values, dtype=np.float64)
    peak = float(np.max(np.abs(vals))) if vals.size else 0.0
    if not np.all(np.isfinite(vals)) or peak <= 0.0:
        raise ValueError(empty_msg)
    return CompiledRule(RULE_TRACE, vals / peak, 0.0, float(rule.nu_post), 1.0, float(rule.spread),
                        float(rule.offset), bool(rule.soft_bound), {**info, "rule": rule.to_dict()})


def check_no_negative_branch(where: str, f: Rule) -> None:
    """Refuse a rule fitted on Δt < 0 (pre-after-post) data: the trace rule updates at post spikes only (Δt ≥ 0,
    time since the last pre spike), so its Δt < 0 branch would be dropped silently."""
    lo = float(f.window_ms[0])
    if lo >= 0:
        return
    x = np.linspace(lo, 0.0, 64, endpoint=False)
    if np.any(np.abs(f(x)) > 0):
        raise ValueError(f"{where}: the rule has a Δt < 0 branch (pre-after-post depression, valid on "
                         f"{lo:g}..{float(f.window_ms[1]):g} ms) that the trace rule cannot apply (it updates at post "
                         "spikes only, Δt >= 0); fit the Δt >= 0 half of the window, or train with --learning-rule "
                         "postpre")


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

    def function(self) -> Rule:
        return load_rule(self.rule_path) if self.rule_path else published_rule()

    def compile(self, dt_ms: float, time_scale: float = 1.0) -> CompiledRule:
        f = self.function()
        from .sweep_table import check_window  # lazy: startup

        where = f"--rule {self.rule_path}" if self.rule_path else "the published rule"
        check_window(where, f.window_ms, dt_ms, time_scale)
        check_no_negative_branch(where, f)
        hi = float(f.window_ms[1]) * time_scale
        k = np.arange(math.floor(hi / dt_ms) + 1, dtype=np.float64) * dt_ms
        src = file_source(self.rule_path) if self.rule_path else {"path": None, "sha256": None}
        info: dict[str, Any] = {"source": self.rule_path or "spinsyn.fitting.published_rule", "source_file": src,
                                "model": f.model, "function_params": f.values,
                                "window_ms": [float(w) for w in f.window_ms]}
        if time_scale != 1.0:  # the rule's Δt axis stretched: f(k·dt / X); runs without it keep their record
            info["time_scale"] = float(time_scale)
        return _trace_rule(f(k) if time_scale == 1.0 else f(k / time_scale), self,
                           f"learning rule gives no finite non-zero value on 0..{hi} ms; cannot normalise it", info)


@register_rule
@dataclass
class PostPre(LearningRule):
    """BindsNET ``PostPre``: ``nu_pre`` (depression at pre spikes), ``nu_post`` (potentiation at post)."""

    name: ClassVar[str] = "postpre"
    nu_pre: float = 1e-4
    nu_post: float = 1e-2
    tau_trace_ms: float = 20.0

    def compile(self, dt_ms: float, time_scale: float = 1.0) -> CompiledRule:
        if time_scale != 1.0:
            raise ValueError("--rule-time-scale applies to the trace rule's --rule file, not to --learning-rule "
                             "postpre")
        return CompiledRule(RULE_POSTPRE, np.zeros(1), float(self.nu_pre), float(self.nu_post),
                            math.exp(-dt_ms / self.tau_trace_ms), 0.0, 0.0, False, {"rule": self.to_dict()})


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

    def tables(self, dt_ms: float = 1.0, time_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from .sweep_table import switching_probabilities  # lazy: startup

        if not self.sweep_path:
            raise ValueError("--rule: the 'sweep' rule needs a device sweep HDF5 file")
        return switching_probabilities(self.sweep_path, dt_ms, time_scale=time_scale)

    def compile(self, dt_ms: float, time_scale: float = 1.0) -> CompiledRule:
        grid, up, dn = self.tables(dt_ms, time_scale)
        info = {"source": self.sweep_path, "source_file": file_source(self.sweep_path),
                "kind": "device sweep p_up - p_down", "dt_ms": grid.tolist(), "p_up": up.round(6).tolist(),
                "p_down": dn.round(6).tolist()}
        if time_scale != 1.0:
            info["time_scale"] = float(time_scale)
        return _trace_rule(up - dn, self, f"--rule {self.sweep_path}: no MTJ switched at any Δt in this sweep; "
                                          "nothing to learn from", info)


def make_rule(name: str, **kw: Any) -> LearningRule:
    """Build a registered rule by name, e.g. ``make_rule("trace", nu_post=0.01)``."""
    if name not in RULES:
        raise ValueError(f"--learning-rule: unknown rule {name!r}; expected one of {sorted(RULES)}")
    return RULES[name](**kw)


def rule_from_dict(d: dict) -> LearningRule:
    d = dict(d)
    return make_rule(d.pop("name"), **d)
