"""Graded (LTP/LTD) synaptic device: NeuroSim's nonlinear pulse-response model.

Model (Chen, Peng, Yu, "NeuroSim: a circuit-level macro model for benchmarking neuro-inspired architectures in
online learning", IEEE TCAD 37, 3067 (2018); the same idea as aihwkit's pulsed devices, Rasch et al., AICAS 2021):

* potentiation from g_min by p identical pulses: G_LTP(p) = g_min + B_p (1 − exp(−p/A_p)),
  B_p = (g_max − g_min)/(1 − exp(−P/A_p)), P = ``n_pulses`` (pulses over the full range), A_p = ``a_ltp_pulses``;
* depression mirrors it from g_max: G_LTD(n) = g_max − B_d (1 − exp(−n/A_d)) (NeuroSim writes the same curve with
  a negative A for LTD; its A < 0 is our A_d > 0). Large A = linear (A → ∞: G = g_min + (g_max − g_min) p/P).

State: the normalised conductance x ∈ [0, 1], G = g_min + x (g_max − g_min). A potentiation pulse moves x one LTP
step from where it is (invert the LTP curve to a pulse index, add one, back): with c = 1 − exp(−P/A_p),
x' = x e^{−1/A_p} + (1 − e^{−1/A_p})/c, and n pulses at once x' = x e^{−n/A_p} + (1 − e^{−n/A_p})/c (closed form,
:func:`ltp_steps`); depression the same on 1 − x with A_d. Cycle-to-cycle noise (NeuroSim's sigmaCtoC): each pulse
adds a Gaussian of σ = ``sigma_c2c_pct`` % of the range (n pulses: σ √n); x is clipped to [0, 1].
Device-to-device spread (``sigma_d2d_pct``): Gaussian relative spread of A_p, A_d and of the range, per device
(:meth:`GradedDevice.draw_d2d`, applied by :meth:`GradedDevice.apply_pulse` through ``params``).

Pulses: the sign of v is the direction (v > 0 potentiates), a pulse of |v| ≥ ``v_threshold_V`` makes one step,
below it nothing (the V/2 half-select of a programming scheme stays below threshold when v_threshold_V > v_write_V/2);
``v_write_V`` / ``w_write_ns`` are the nominal write pulse of the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from . import reference as ref
from .models import PRESETS, Device

#: A (pulses) at or above which a curve is treated as linear (exp(−P/A) has no useful precision left).
LINEAR_A_PULSES = 1e9


def ltp_steps(x, n, a_pulses, n_pulses) -> np.ndarray:
    """Normalised conductance after ``n`` LTP pulses from ``x`` (arrays broadcast): x e^{−n/A} + (1 − e^{−n/A})/c,
    c = 1 − e^{−P/A}; linear (x + n/P) for A ≥ :data:`LINEAR_A_PULSES`. Not clipped."""
    x, n, a = (np.asarray(v, dtype=float) for v in (x, n, a_pulses))
    a = np.where(a >= LINEAR_A_PULSES, np.inf, a)
    with np.errstate(divide="ignore", invalid="ignore"):
        em = -np.expm1(-n / a)  # 1 − e^{−n/A}
        c = -np.expm1(-float(n_pulses) / a)
        out = x * (1 - em) + em / c
    return np.where(np.isfinite(a), out, x + n / float(n_pulses))


def ltp_curve(p, a_pulses, n_pulses) -> np.ndarray:
    """x of the LTP curve after p pulses from g_min: (1 − e^{−p/A})/(1 − e^{−P/A})."""
    return ltp_steps(0.0, p, a_pulses, n_pulses)


def ltd_curve(n, a_pulses, n_pulses) -> np.ndarray:
    """x of the LTD curve after n pulses from g_max: 1 − (1 − e^{−n/A})/(1 − e^{−P/A})."""
    return 1.0 - ltp_steps(0.0, n, a_pulses, n_pulses)


@dataclass(frozen=True)
class GradedDevice(Device):
    """Graded two-terminal synapse (module docstring). Defaults: the ``graded`` preset (:data:`GRADED_SOURCE`)."""

    g_min_S: float = 3.0769e-9
    g_max_S: float = 3.8462e-8
    n_pulses: int = 97
    a_ltp_pulses: float = 48.42
    a_ltd_pulses: float = 20.03
    sigma_c2c_pct: float = 3.5
    sigma_d2d_pct: float = 0.0
    v_write_V: float = 3.2
    v_threshold_V: float = 2.0
    w_write_ns: float = 300e3

    name: ClassVar[str] = "graded"
    synapse_family: ClassVar[str | None] = "graded"
    n_mtj: ClassVar[int] = 0

    def __post_init__(self) -> None:
        for f in ("g_min_S", "g_max_S", "a_ltp_pulses", "a_ltd_pulses", "v_write_V", "v_threshold_V", "w_write_ns"):
            v = getattr(self, f)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"GradedDevice: {f}={v!r} is non-physical; expected a finite value > 0")
        if not self.g_max_S > self.g_min_S:
            raise ValueError(f"GradedDevice: g_max_S={self.g_max_S!r} must exceed g_min_S={self.g_min_S!r}")
        if isinstance(self.n_pulses, bool) or int(self.n_pulses) != self.n_pulses or not 1 <= self.n_pulses <= 1e6:
            raise ValueError(f"GradedDevice: n_pulses={self.n_pulses!r}; expected an integer 1..1e6")
        for f in ("sigma_c2c_pct", "sigma_d2d_pct"):
            if not 0 <= getattr(self, f) < 50:
                raise ValueError(f"GradedDevice: {f}={getattr(self, f)!r}; expected 0 <= sigma < 50 (%)")

    # ---- the Device protocol
    def conductance_S(self, state, v_read_V: float = 0.1) -> np.ndarray:
        """G = g_min + x (g_max − g_min) of normalised states x (clipped to [0, 1]); read-voltage independent."""
        x = np.clip(np.asarray(state, dtype=float), 0.0, 1.0)
        return self.g_min_S + x * (self.g_max_S - self.g_min_S)

    def state_of_S(self, g_S) -> np.ndarray:
        """Normalised state x of conductances (clipped to [0, 1])."""
        return np.clip((np.asarray(g_S, dtype=float) - self.g_min_S) / (self.g_max_S - self.g_min_S), 0.0, 1.0)

    def step(self, x, n_pulses_signed, rng: np.random.Generator | None = None, params: dict | None = None
             ) -> np.ndarray:
        """x after signed pulse counts (> 0 LTP, < 0 LTD; arrays broadcast), c2c noise σ√|n| when ``rng`` is
        given; ``params``: per-device ``a_ltp``, ``a_ltd`` (pulses) from :meth:`draw_d2d`. Clipped to [0, 1]."""
        x = np.asarray(x, dtype=float)
        n = np.asarray(n_pulses_signed, dtype=float)
        a_p = self.a_ltp_pulses if params is None else params["a_ltp"]
        a_d = self.a_ltd_pulses if params is None else params["a_ltd"]
        up = ltp_steps(x, np.maximum(n, 0), a_p, self.n_pulses)
        dn = 1.0 - ltp_steps(1.0 - x, np.maximum(-n, 0), a_d, self.n_pulses)
        out = np.where(n > 0, up, np.where(n < 0, dn, x))
        if rng is not None and self.sigma_c2c_pct > 0:
            out = out + self.sigma_c2c_pct / 100 * np.sqrt(np.abs(n)) * rng.standard_normal(out.shape)
        return np.clip(out, 0.0, 1.0)

    def draw_d2d(self, shape, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Per-device nonlinearities {a_ltp, a_ltd} (pulses) with a Gaussian relative spread ``sigma_d2d_pct``
        (floored at 5 % of nominal)."""
        s = self.sigma_d2d_pct / 100
        return {k: a * np.maximum(1 + s * rng.standard_normal(shape), 0.05)
                for k, a in (("a_ltp", self.a_ltp_pulses), ("a_ltd", self.a_ltd_pulses))}

    def pulse_count(self, v_V) -> np.ndarray:
        """Signed steps of pulses of v_V: sign(v) where |v| ≥ ``v_threshold_V``, else 0."""
        v = np.asarray(v_V, dtype=float)
        return np.where(np.abs(v) >= self.v_threshold_V, np.sign(v), 0.0)

    def apply_pulse(self, state, v_V, width_ns, rng: np.random.Generator, params=None) -> np.ndarray:
        """One rectangular pulse per device: one LTP (v > 0) or LTD (v < 0) step when |v| ≥ v_threshold_V, c2c
        noise per pulse; ``params`` per-device nonlinearities (:meth:`draw_d2d`)."""
        state, v, _w = ref.pulse_arrays(state, v_V, width_ns)
        return self.step(state, self.pulse_count(v), rng, params)

    def apply_write_pulse(self, state, v_V, width_ns, rng: np.random.Generator) -> np.ndarray:
        """Programming pulse: the same step model (a graded device has no separate write physics)."""
        return self.apply_pulse(state, v_V, width_ns, rng)

    def spread_overrides(self, sigma_pct: float) -> dict[str, float]:
        return {"sigma_d2d_pct": sigma_pct}

    def info_lines(self) -> list[str]:
        span = self.g_max_S - self.g_min_S
        first = float(ltp_curve(1, self.a_ltp_pulses, self.n_pulses))
        last = 1 - float(ltp_curve(self.n_pulses - 1, self.a_ltp_pulses, self.n_pulses))
        return [f"G = {self.g_min_S * 1e6:.4g} .. {self.g_max_S * 1e6:.4g} uS over {self.n_pulses} pulses",
                f"A_LTP = {self.a_ltp_pulses:.4g} pulses, A_LTD = {self.a_ltd_pulses:.4g} pulses "
                f"(A/P = {self.a_ltp_pulses / self.n_pulses:.3g} / {self.a_ltd_pulses / self.n_pulses:.3g})",
                f"first / last LTP step = {first * span * 1e6:.4g} / {last * span * 1e6:.4g} uS "
                f"(linear: {span / self.n_pulses * 1e6:.4g} uS)",
                f"c2c sigma {self.sigma_c2c_pct:g} % of the range per pulse; d2d sigma {self.sigma_d2d_pct:g} %",
                f"write pulse {self.v_write_V:g} V, {self.w_write_ns:g} ns; threshold |V| >= {self.v_threshold_V:g} V"]


#: The ``graded`` preset's numbers and their sources.
GRADED_SOURCE = ("Ag:a-Si synapse of NeuroSim (Chen et al., IEEE TCAD 37, 3067 (2018); Jo et al., Nano Lett. 10, "
                 "1297 (2010)) as in NeuroSim's RealDevice (Cell.cpp): G 3.0769e-9 .. 3.8462e-8 S, 97 LTP levels, "
                 "nonlinearity labels +2.40 / -4.88 -> A = 0.499181 x 97 = 48.42 and 0.200303 x 100 = 20.03 pulses "
                 "(getParamA table, formula.cpp; LTD over 97 pulses here), c2c 3.5 % of the range, write 3.2 V / "
                 "300 us; the threshold 2.0 V (above V/2 = 1.6 V) is an assumption, not measured")

PRESETS["graded"] = (GradedDevice, GRADED_SOURCE)
