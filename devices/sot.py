"""Three-terminal spin-orbit-torque MTJ (SOT-MTJ): a binary :class:`~devices.cell.Cell`.

The write current flows through a heavy-metal (HM) line under the free layer, I = V/R_HM with V across the
write terminals (pre - post) and R_HM = rho L/(w t); the read current flows through the MTJ only. So a read
does not disturb (the barrier is not on the switching path) and a half-selected cell sees the HM current of
its half-select voltage (V/2: half the current), never a current through its barrier.

Equations (state 1 = P, 0 = AP; positive current favours AP -> P):

* Vol = pi r^2 t_fl; Delta = mu0 Ms Hk_eff Vol / (2 kB T) (Néel–Brown energy barrier).
* Critical current density of SOT switching of a perpendicular magnet (macrospin, no in-plane field term):
  Jc0 = (2e/hbar) (mu0 Ms t_fl / theta_SH) (Hk_eff/2) (Lee et al., APL 102, 112410 (2013)); Ic0 = Jc0 w t.
* Switching time at aiding current I, i = I/Ic0 (``physics.switching_time_formula`` with beta = 1, no Brown
  prefactor): tau = tau0 (exp(Delta max(1 - i, 0)) - 1) + q/(max(I - Ic0, 0) + eps Ic0). The first term is
  thermally activated switching (Néel–Brown with the barrier lowered linearly in I/Ic0, long pulses: Liu et
  al., Science 336, 555 (2012), Fig. 3 fits); the second the ns regime, Ic(t_p) = Ic0 + q/t_p (charge-based
  form of Garello et al., APL 105, 212402 (2014)), q = ``transit_ns`` x Ic0; eps makes it continuous at Ic0.
* Switching probability of a pulse of width t at constant I: 1 - exp(-t/tau) (hazard 1/tau); retention
  tau(I = 0) = tau0 (e^Delta - 1).
* Read: G = n_p/R_P + n_ap/R_AP, R_P = RA/area, R_AP = R_P (1 + TMR).

Sweep (both engines): the cell's HM line and its MTJ read branch sit between pre and post; the hazard node
integrates 1/tau of the HM current, as for the STT cell (``models.STTMTJ.mtj_elements``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from . import netlist as nl
from . import reference as ref
from .models import PRESETS, TESTBENCHES, PulseTestbench, _MTJArray, format_duration
from .physics import E_C, KB_J_PER_K, MU0, OE_TO_A_PER_M, conductance_formula, rate_formula

HBAR_J_S = 1.054571817e-34


@dataclass(frozen=True)
class SOTParams:
    """Derived per-cell quantities (arrays broadcast over cells): R_HM, R_P, R_AP in ohm, Ic0 in A, Delta,
    tau0 in s, k_prec = 1/q in 1/(A s)."""

    r_hm_ohm: Any  # float, or an array over cells (as the fields below)
    r_p_ohm: Any
    r_ap_ohm: Any
    ic0_A: Any
    delta: float
    tau0_s: float
    k_prec_per_A_s: Any
    transit_eps: float


@dataclass(frozen=True)
class SOTMTJ(_MTJArray):
    """Perpendicular SOT-MTJ on a heavy-metal line; defaults: the ``sot-mtj`` preset (:data:`SOT_SOURCE`).

    ``theta_sh``: spin-Hall angle of the HM; ``hm_resistivity_uohm_cm``, ``hm_length_nm`` / ``hm_width_nm`` /
    ``hm_thickness_nm``: the write line; ``radius_nm``, ``t_fl_nm``, ``ms_A_per_m``, ``hk_eff_Oe``: the free
    layer; ``ra_ohm_um2``, ``tmr0``: the read junction; ``tau0_ns``: attempt time; ``transit_ns``: q/Ic0 of the
    ns regime; ``sigma_ic0_pct`` / ``sigma_tmr0_pct``: device-to-device Gaussian spreads (percent).
    """

    theta_sh: float = 0.12
    hm_resistivity_uohm_cm: float = 190.0
    hm_length_nm: float = 100.0
    hm_width_nm: float = 60.0
    hm_thickness_nm: float = 5.0
    radius_nm: float = 20.0
    t_fl_nm: float = 1.0
    ms_A_per_m: float = 1.1e6
    hk_eff_Oe: float = 2000.0
    ra_ohm_um2: float = 10.0
    tmr0: float = 1.0
    tau0_ns: float = 1.0
    transit_ns: float = 1.0
    transit_eps: float = 0.3
    temperature_K: float = 300.0
    sigma_ic0_pct: float = 0.0
    sigma_tmr0_pct: float = 0.0

    name: ClassVar[str] = "sot-mtj"
    n_mtj: ClassVar[int] = 1
    read_disturb: ClassVar[bool] = False  # the read current does not cross the switching path

    def __post_init__(self) -> None:
        for f in ("theta_sh", "hm_resistivity_uohm_cm", "hm_length_nm", "hm_width_nm", "hm_thickness_nm",
                  "radius_nm", "t_fl_nm", "ms_A_per_m", "hk_eff_Oe", "ra_ohm_um2", "tmr0", "tau0_ns",
                  "transit_ns", "transit_eps", "temperature_K"):
            v = getattr(self, f)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"SOTMTJ: {f}={v!r} is non-physical; expected a finite value > 0")
        for f in ("sigma_ic0_pct", "sigma_tmr0_pct"):
            if not 0 <= getattr(self, f) < 30:
                raise ValueError(f"SOTMTJ: {f}={getattr(self, f)!r}; expected 0 <= sigma < 30 (%)")

    @property
    def cell(self) -> SOTMTJ:
        return self

    # ---- derived quantities
    @property
    def delta(self) -> float:
        """Thermal stability mu0 Ms Hk_eff Vol / (2 kB T)."""
        vol = np.pi * (self.radius_nm * 1e-9) ** 2 * self.t_fl_nm * 1e-9
        hk = self.hk_eff_Oe * OE_TO_A_PER_M
        return float(MU0 * self.ms_A_per_m * hk * vol / (2 * KB_J_PER_K * self.temperature_K))

    @property
    def jc0_A_per_m2(self) -> float:
        """Jc0 = (2e/hbar)(mu0 Ms t_fl/theta_SH)(Hk_eff/2) (Lee et al. 2013)."""
        hk = self.hk_eff_Oe * OE_TO_A_PER_M
        return float(2 * E_C / HBAR_J_S * MU0 * self.ms_A_per_m * self.t_fl_nm * 1e-9 / self.theta_sh * hk / 2)

    def params(self, z: np.ndarray | None = None) -> SOTParams:
        """Derived parameters; z (..., 4) standard normals give per-cell spreads (z[..., 0] Ic0, z[..., 2] TMR)."""
        w, t = self.hm_width_nm * 1e-9, self.hm_thickness_nm * 1e-9
        ic0 = np.asarray(self.jc0_A_per_m2 * w * t)
        tmr = np.asarray(self.tmr0)
        if z is not None:
            ic0 = ic0 * (1 + self.sigma_ic0_pct / 100 * z[..., 0])
            tmr = tmr * (1 + self.sigma_tmr0_pct / 100 * z[..., 2])
        r_hm = self.hm_resistivity_uohm_cm * 1e-8 * self.hm_length_nm * 1e-9 / (w * t)
        r_p = self.ra_ohm_um2 / (np.pi * (self.radius_nm * 1e-3) ** 2)
        return SOTParams(np.asarray(r_hm), np.asarray(r_p), r_p * (1 + tmr), ic0, self.delta, self.tau0_ns * 1e-9,
                         1 / (self.transit_ns * 1e-9 * ic0), self.transit_eps)

    @staticmethod
    def rate_per_s(p: SOTParams, s, v):
        """Hazard rate (1/s) away from state s (1 = P, 0 = AP) at v across the HM line (arrays or
        ``netlist.Expr``): 1/tau of the aiding current +-v/R_HM."""
        i_aid = (1 - 2 * s) * v / p.r_hm_ohm
        return rate_formula(i_aid, p.ic0_A, p.delta, p.tau0_s, p.k_prec_per_A_s, 1.0, p.transit_eps, 0.0)

    # ---- the Cell protocol
    def cell_conductance_S(self, n_p, n_ap, v_read_V: float = 0.1) -> np.ndarray:
        p = self.params()
        return conductance_formula(p.r_p_ohm, p.r_ap_ohm, n_p, n_ap)

    def switch_probabilities(self, v_V, width_s, params: SOTParams | None = None):
        """(P(AP->P), P(P->AP)) of a rectangular pulse of v_V on the HM line for width_s seconds."""
        p = self.params() if params is None else params
        v = np.asarray(v_V, dtype=float)
        return -np.expm1(-self.rate_per_s(p, 0, v) * width_s), -np.expm1(-self.rate_per_s(p, 1, v) * width_s)

    def cell_write_probabilities(self, v_V, width_s) -> tuple[np.ndarray, np.ndarray]:
        """Programming uses the same compact model (no separate write table for SOT)."""
        return self.switch_probabilities(v_V, width_s)

    def half_select_probabilities(self, v_hs_V, width_s) -> tuple[np.ndarray, np.ndarray]:
        """A half-selected cell carries the HM current of v_hs_V (V/2: half the write current); no current
        through its barrier."""
        return self.switch_probabilities(v_hs_V, width_s)

    @property
    def cell_retention_s(self) -> float:
        """Zero-bias switching time tau0 (e^Delta - 1) (s)."""
        return float(self.tau0_ns * 1e-9 * np.expm1(self.delta))

    def cell_integrate(self, d: ref.Draws, edges_s: np.ndarray, v_mid: np.ndarray):
        """Event-located hazard integration (``reference.integrate_hazard``) of every cell (P, T, N)."""
        p = self.params(d.z)
        widths = np.diff(edges_s, axis=-1)[:, None, None, :]
        v_all = np.asarray(v_mid, dtype=float)[:, None, None, :]
        return ref.integrate_hazard(lambda state, v: self.rate_per_s(p, state, v), d.s0.astype(np.int64), d.theta,
                                    widths, v_all)

    def cell_elements(self, d: ref.Draws, ip: int, it: int, n: int) -> list[str]:
        """Per cell i: its HM write line (resistor pre -> post), its MTJ read branch (B source, conductance of
        the state node ``s<i>``), the hazard node ``h<i>`` = ∫ rate(HM current) dt, the state node and the
        step-control guard (as the STT cell)."""
        p = self.params(d.z[ip, it])
        v, out = nl.V_MTJ, []
        for i in range(n):
            s, th = nl.node_v(f"s{i}"), d.theta[ip, it, i]
            pi = SOTParams(float(p.r_hm_ohm), float(p.r_p_ohm), float(np.broadcast_to(p.r_ap_ohm, (n,))[i]),
                           float(p.ic0_A[i]), p.delta, p.tau0_s, float(p.k_prec_per_A_s[i]), p.transit_eps)
            out += [nl.threshold_state(f"s{i}", f"h{i}", int(d.s0[ip, it, i]), th),
                    *nl.crossing_guard(f"g{i}", f"h{i}", th),
                    *nl.integrator(f"h{i}", nl.where(s > 0.5, self.rate_per_s(pi, 1, v),
                                                     self.rate_per_s(pi, 0, v)), 0.0),
                    nl.resistor(f"hm{i}", nl.PRE, nl.POST, pi.r_hm_ohm),
                    nl.b_current(f"m{i}", nl.PRE, nl.POST,
                                 v * conductance_formula(pi.r_p_ohm, pi.r_ap_ohm, s, 1 - s))]
        return out

    def cell_spread_overrides(self, sigma_pct: float) -> dict[str, float]:
        return {"sigma_ic0_pct": sigma_pct, "sigma_tmr0_pct": sigma_pct}

    def cell_info_lines(self) -> list[str]:
        p = self.params()
        ic0 = float(p.ic0_A)
        t50 = [np.log(2) / float(self.rate_per_s(p, 0, x * ic0 * p.r_hm_ohm)) * 1e9 for x in (0.5, 1.0, 2.0)]
        return [f"R_P = {float(p.r_p_ohm):.1f} ohm; R_AP = {float(p.r_ap_ohm):.1f} ohm; "
                f"R_HM = {float(p.r_hm_ohm):.1f} ohm (write line, no read disturb)",
                f"Jc0 = {self.jc0_A_per_m2:.3g} A/m^2, Ic0 = {ic0 * 1e6:.1f} uA (V = {ic0 * float(p.r_hm_ohm):.3f} V); "
                f"Delta = {self.delta:.2f}; tau0 = {self.tau0_ns:g} ns; q = {self.transit_ns * ic0 * 1e3:.3g} pC",
                "t50 at 0.5/1/2 Ic0 = " + " / ".join(f"{t:.3g}" for t in t50) + " ns",
                f"retention tau0 (e^Delta - 1) = {format_duration(self.cell_retention_s)}",
                "programming and half-select: the same compact model on the HM current (V/2: half the current)"]


#: The ``sot-mtj`` preset's numbers and their sources.
SOT_SOURCE = ("SOT-MTJ on beta-Ta: theta_SH 0.12 and rho 190 uOhm cm (Liu et al., Science 336, 555 (2012), "
              "Ta/CoFeB); HM line 100x60x5 nm (R_HM 633 ohm), 40 nm CoFeB disc 1.0 nm, Ms 1.1 MA/m, Hk_eff "
              "2000 Oe (Delta 33), Jc0 from Lee et al., APL 102, 112410 (2013) (Ic0 ~0.83 mA), RA 10 ohm um^2, "
              "TMR 100 %, tau0 1 ns, ns regime Ic0 + q/t_p (Garello et al., APL 105, 212402 (2014)), q = Ic0 x 1 ns")

PRESETS["sot-mtj"] = (SOTMTJ, SOT_SOURCE)
TESTBENCHES["sot"] = (lambda: PulseTestbench(post_pot_V=-0.6, post_dep_V=0.6),
                      "published pre ramp with -600 mV / +600 mV post pulses: above the sot-mtj write line's Ic0 "
                      "(0.53 V), so the post pulses switch its cells")
