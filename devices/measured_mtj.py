"""A perpendicular STT-MTJ given by its measured electrical and switching numbers (``spinsyn device fit``): a
binary :class:`~devices.cell.Cell` with one critical current and one thermal stability PER DIRECTION.

Real MgO junctions switch asymmetrically: the reference layer's stray field lowers one well's barrier and
raises the other's, and the spin-transfer efficiency differs between P and AP. A cell built from material
parameters (``models.STTMTJ``) has one Ic0 and one Delta; this cell carries

* ``ic0_to_p_uA`` / ``delta_to_p``: critical current and barrier (kT) of AP -> P (leaving the AP well),
  driven by positive V_mtj through R_AP(V);
* ``ic0_to_ap_uA`` / ``delta_to_ap``: the same for P -> AP, driven by negative V_mtj through R_P;
* ``tau_d_ns``: the damping time tau_D = (1 + alpha²)/(alpha gamma mu0 Hk), the macrospin's time unit;
* ``r_p_ohm``, ``tmr0``, ``vh_V``: R_P and R_AP(V) = R_P (1 + TMR0/(1 + V²/Vh²)).

Physics (the same equations as the macrospin presets, per direction):

* programming and half-select (``cell_write_probabilities``): the macrospin Fokker–Planck switching table of
  (Delta_d, tau_D) at i = I_aid/Ic0_d (``devices.macrospin``: the nanosecond distribution, thermal tails included);
* sweeps (``switch_probabilities``, both engines): Brown's escape time with current plus Sun's transit
  (``physics.switching_time_formula`` with ``brown=1``, barrier exponent 2, transit eps TRANSIT_EPS_BROWN),
  k_prec Ic0 = 2 / (tau_D (C + ln(pi² Delta/4))), which is the macrospin's alpha gamma mu0 Hk form for small alpha;
* retention: Brown's tau_D sqrt(pi/Delta) e^Delta of the shallower well.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from . import macrospin
from . import netlist as nl
from . import reference as ref
from .models import _MTJArray, format_duration, per_distinct_voltage
from .physics import EULER_C, TRANSIT_EPS_BROWN, conductance_formula, r_ap_formula, rate_formula


@dataclass(frozen=True)
class MeasuredParams:
    """Per-cell numbers (arrays broadcast over cells): R_P (ohm), TMR0, Vh (V), Ic0 per direction (A), Delta per
    direction, tau_D (s), k_prec per direction (1/(A s))."""

    r_p_ohm: Any
    tmr0: Any
    vh_V: float
    ic0_to_p_A: Any
    ic0_to_ap_A: Any
    delta_to_p: float
    delta_to_ap: float
    tau_d_s: float
    k_prec_to_p: Any
    k_prec_to_ap: Any


def k_prec_per_A_s(delta: float, tau_d_s: float, ic0_A: Any) -> Any:
    """Sun's transit coefficient (1/(A s)): 2 / (tau_D (C + ln(pi² Delta/4)) Ic0)."""
    return 2.0 / (tau_d_s * (EULER_C + math.log(math.pi ** 2 * delta / 4)) * ic0_A)


@dataclass(frozen=True)
class MeasuredMTJ(_MTJArray):
    """An STT-MTJ from measured numbers (see the module docstring); ``source``: the device file it came from
    (name and sha256), kept with the cell in runs and chip files. ``sigma_ic0_pct`` / ``sigma_tmr0_pct``:
    device-to-device Gaussian spreads (percent) for sweeps."""

    r_p_ohm: float = 5000.0
    tmr0: float = 1.0
    vh_V: float = 0.5
    ic0_to_p_uA: float = 50.0
    ic0_to_ap_uA: float = 50.0
    delta_to_p: float = 40.0
    delta_to_ap: float = 40.0
    tau_d_ns: float = 1.0
    temperature_K: float = 300.0
    sigma_ic0_pct: float = 0.0
    sigma_tmr0_pct: float = 0.0
    source: str = ""

    name: ClassVar[str] = "measured-mtj"
    n_mtj: ClassVar[int] = 1
    read_disturb: ClassVar[bool] = True  # two-terminal: the read current crosses the barrier

    def __post_init__(self) -> None:
        for f in ("r_p_ohm", "tmr0", "vh_V", "ic0_to_p_uA", "ic0_to_ap_uA", "tau_d_ns", "temperature_K"):
            v = getattr(self, f)
            if not (isinstance(v, (int, float)) and np.isfinite(v) and v > 0):
                raise ValueError(f"MeasuredMTJ: {f}={v!r} is non-physical; expected a finite value > 0")
        for f in ("delta_to_p", "delta_to_ap"):
            v = getattr(self, f)
            if not (isinstance(v, (int, float)) and 5 <= v <= 200):
                raise ValueError(f"MeasuredMTJ: {f}={v!r}; expected a thermal stability 5..200 (kT)")
        for f in ("sigma_ic0_pct", "sigma_tmr0_pct"):
            if not 0 <= getattr(self, f) < 30:
                raise ValueError(f"MeasuredMTJ: {f}={getattr(self, f)!r}; expected 0 <= sigma < 30 (%)")

    @property
    def cell(self) -> MeasuredMTJ:
        return self

    def params(self, z: np.ndarray | None = None) -> MeasuredParams:
        """Derived numbers; z (..., 4) standard normals give per-cell spreads (z[..., 0] Ic0, z[..., 2] TMR)."""
        scale = 1.0 if z is None else 1 + self.sigma_ic0_pct / 100 * z[..., 0]
        tmr = self.tmr0 if z is None else self.tmr0 * (1 + self.sigma_tmr0_pct / 100 * z[..., 2])
        ic_p = np.asarray(self.ic0_to_p_uA * 1e-6 * scale)
        ic_ap = np.asarray(self.ic0_to_ap_uA * 1e-6 * scale)
        tau = self.tau_d_ns * 1e-9
        return MeasuredParams(np.asarray(self.r_p_ohm, float), np.asarray(tmr, float), self.vh_V, ic_p, ic_ap,
                              self.delta_to_p, self.delta_to_ap, tau, k_prec_per_A_s(self.delta_to_p, tau, ic_p),
                              k_prec_per_A_s(self.delta_to_ap, tau, ic_ap))

    @staticmethod
    def rate_per_s(p: MeasuredParams, s, v):
        """Sweep hazard rate (1/s) away from the fixed state s (1 = P, 0 = AP) at V_mtj = v (arrays; numbers)."""
        if s == 1:
            return rate_formula(-v / p.r_p_ohm, p.ic0_to_ap_A, p.delta_to_ap, p.tau_d_s, p.k_prec_to_ap, 2.0,
                                TRANSIT_EPS_BROWN, 1.0)
        i_up = v / r_ap_formula(p.r_p_ohm, p.tmr0, p.vh_V, v)
        return rate_formula(i_up, p.ic0_to_p_A, p.delta_to_p, p.tau_d_s, p.k_prec_to_p, 2.0, TRANSIT_EPS_BROWN, 1.0)

    # ---- the Cell protocol
    def cell_conductance_S(self, n_p, n_ap, v_read_V: float = 0.1) -> np.ndarray:
        r_ap = r_ap_formula(self.r_p_ohm, self.tmr0, self.vh_V, float(v_read_V))
        return conductance_formula(self.r_p_ohm, r_ap, n_p, n_ap)

    def aiding_currents_rel(self, v_V) -> tuple[np.ndarray, np.ndarray]:
        """(I/Ic0 aiding AP -> P, I/Ic0 aiding P -> AP) at V_mtj = v_V (the current of the state being left)."""
        v = np.asarray(v_V, dtype=float)
        i_up = v / r_ap_formula(self.r_p_ohm, self.tmr0, self.vh_V, v) / (self.ic0_to_p_uA * 1e-6)
        return i_up, -v / self.r_p_ohm / (self.ic0_to_ap_uA * 1e-6)

    def switch_probabilities(self, v_V, width_s, params: MeasuredParams | None = None):
        """(P(AP->P), P(P->AP)) of a rectangular pulse with the sweep drive law (hazard 1/tau)."""
        p = self.params() if params is None else params
        v, w = np.asarray(v_V, dtype=float), np.asarray(width_s, dtype=float)
        return -np.expm1(-self.rate_per_s(p, 0, v) * w), -np.expm1(-self.rate_per_s(p, 1, v) * w)

    def cell_write_probabilities(self, v_V, width_s) -> tuple[np.ndarray, np.ndarray]:
        """(P(AP->P), P(P->AP)) of a write pulse: the Fokker–Planck tables of each direction's (Delta, tau_D)."""
        tau = self.tau_d_ns * 1e-9
        up, dn = macrospin.table(self.delta_to_p, tau), macrospin.table(self.delta_to_ap, tau)

        def both(v, w):
            i_up, i_dn = self.aiding_currents_rel(v)
            return up.p(i_up, w), dn.p(i_dn, w)

        return per_distinct_voltage(both, v_V, width_s, key=self)  # elementwise in v: cached per width

    def half_select_probabilities(self, v_hs_V, width_s) -> tuple[np.ndarray, np.ndarray]:
        """A half-selected cell sees v_hs_V across its barrier: the write physics at that bias."""
        return self.cell_write_probabilities(v_hs_V, width_s)

    @property
    def cell_retention_s(self) -> float:
        """Brown's zero-bias escape time (s) of the shallower well."""
        d = min(self.delta_to_p, self.delta_to_ap)
        return self.tau_d_ns * 1e-9 * math.sqrt(math.pi / d) * math.exp(d)

    def cell_integrate(self, d: ref.Draws, edges_s: np.ndarray, v_mid: np.ndarray):
        """Event-located hazard integration (``reference.integrate_hazard``) of every cell (P, T, N)."""
        p = self.params(d.z)
        widths = np.diff(edges_s, axis=-1)[:, None, None, :]
        v_all = np.asarray(v_mid, dtype=float)[:, None, None, :]

        def rate(state, v):
            return np.where(state == 1, self.rate_per_s(p, 1, v), self.rate_per_s(p, 0, v))

        return ref.integrate_hazard(rate, d.s0.astype(np.int64), d.theta, widths, v_all)

    def cell_elements(self, d: ref.Draws, ip: int, it: int, n: int) -> list[str]:
        """Per cell i: hazard node ``h<i>`` = ∫ rate dt of the current state's direction, state node, guard and
        the MTJ current pre -> post (as ``models.STTMTJ.mtj_elements``)."""
        p = self.params(d.z[ip, it])
        v, out = nl.V_MTJ, []
        for i in range(n):
            s, th = nl.node_v(f"s{i}"), d.theta[ip, it, i]
            pi = MeasuredParams(float(p.r_p_ohm), float(np.broadcast_to(p.tmr0, (n,))[i]), p.vh_V,
                                float(p.ic0_to_p_A[i]), float(p.ic0_to_ap_A[i]), p.delta_to_p, p.delta_to_ap,
                                p.tau_d_s, float(p.k_prec_to_p[i]), float(p.k_prec_to_ap[i]))
            r_ap = r_ap_formula(pi.r_p_ohm, pi.tmr0, pi.vh_V, v)
            out += [nl.threshold_state(f"s{i}", f"h{i}", int(d.s0[ip, it, i]), th),
                    *nl.crossing_guard(f"g{i}", f"h{i}", th),
                    *nl.integrator(f"h{i}", nl.where(s > 0.5, self.rate_per_s(pi, 1, v),
                                                     self.rate_per_s(pi, 0, v)), 0.0),
                    nl.b_current(f"m{i}", nl.PRE, nl.POST, v * conductance_formula(pi.r_p_ohm, r_ap, s, 1 - s))]
        return out

    def cell_spread_overrides(self, sigma_pct: float) -> dict[str, float]:
        return {"sigma_ic0_pct": sigma_pct, "sigma_tmr0_pct": sigma_pct}

    def cell_info_lines(self) -> list[str]:
        r_ap0 = self.r_p_ohm * (1 + self.tmr0)
        v_p = self.ic0_to_p_uA * 1e-6 * r_ap0
        v_ap = self.ic0_to_ap_uA * 1e-6 * self.r_p_ohm
        return [f"R_P = {self.r_p_ohm:.1f} ohm; R_AP(0) = {r_ap0:.1f} ohm; TMR0 = {self.tmr0:.3g}, "
                f"Vh = {self.vh_V:.3g} V (measured)",
                f"AP->P: Ic0 = {self.ic0_to_p_uA:.3g} uA (~{v_p:.3f} V), Delta = {self.delta_to_p:.3g}; "
                f"P->AP: Ic0 = {self.ic0_to_ap_uA:.3g} uA (~{v_ap:.3f} V), Delta = {self.delta_to_ap:.3g}; "
                f"tau_D = {self.tau_d_ns:.3g} ns",
                f"retention (Brown, shallower well) = {format_duration(self.cell_retention_s)}",
                "programming (write-verify, half-select): macrospin Fokker-Planck per direction; sweeps: Brown "
                "with current + Sun's transit",
                *([f"source: {self.source}"] if self.source else [])]
