"""Device classes (each owns its conductance, draws, reference integration, SPICE elements and pulse physics:
the :class:`Device` protocol), the pulse testbench and named presets. The equations themselves are written
once in :mod:`devices.physics`.

Sign convention: ``V_mtj = V_pre - V_post``; positive V_mtj drives current pre -> post, which favours
AP -> P (potentiation), negative V_mtj favours P -> AP (depression).

STT-MTJ equations (Beihang/Zhao compact model, Zhang et al., IEEE TED 59, 819 (2012); Sun, PRB 62, 570
(2000); Néel–Brown):

* area = pi r^2; R_P = RA/area * f(t_ox)/f(t_ox0) with f(t) = t exp(1.025 t sqrt(phi)) (t in Å, phi in eV)
* TMR(V) = TMR0 / (1 + V^2/Vh^2); R_AP(V) = R_P (1 + TMR(V))
* Vol = area * t_fl; Delta = mu0 Ms Hk Vol / (2 kB T)  (Hk in A/m)
* Ic0 = alpha gamma e mu0Ms Hk Vol (1 + P^2) / (muB P)
* thermal: tau = tau0 exp(Delta (1 - I/Ic0)) (I signed, positive = aiding the switch)
* precessional (I > Ic0): 1/tau = 2/(C + ln(pi^2 Delta/4)) * muB P/(e m (1+P^2)) * (I - Ic0), m = Ms Vol
* hazard rate = 1/tau_th + 1/tau_prec; switch when the integral of the rate reaches -ln(u).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from . import netlist as nl
from . import reference as ref
from .physics import (  # noqa: F401  (re-exported: the public home of the model equations)
    E_C,
    EULER_C,
    EXP_CLIP,
    KB_J_PER_K,
    MU0,
    MU_B_J_PER_T,
    OE_TO_A_PER_M,
    MTJParams,
    conductance_formula,
    derive,
    dw_conductance_formula,
    hazard_rate_per_s,
    mtj_current_A,
    mtj_current_formula,
    r_ap_formula,
    r_ap_ohm,
    state_rate_formula,
)


class Device:
    """What every device class implements (the device protocol). Adding a device = one frozen dataclass
    subclassing this, its tests and a preset in ``PRESETS``; the engines, sweeps, records and the CLI only
    call these methods.

    * ``name`` (class attribute): short family name (``model_record``, ``--model``).
    * ``n_mtj``: stochastic MTJs per instance (0 for a device without MTJ draws); the draws carry
      ``max(n_mtj, 1)`` per instance.
    * ``state_top``: state of the highest conductance (state 0 is the lowest).
    * ``conductance_S(state, v_read_V)``: read conductance of states of any shape.
    * ``draw(n_dt, trials, seed)`` -> ``reference.Draws``: every random number of a sweep, in a fixed order.
    * ``run_reference(tb, dt_ms, draws)`` -> final-state dict (``s1`` or ``x1``) from the reference engine.
    * ``netlist_elements(draws, ip, it)`` -> SPICE element lines of instance (Δt index, trial), built with
      ``devices.netlist`` (V_mtj across nodes ``pre``/``post``).
    * ``spice_final(res)`` -> final node values of an ngspice result; ``final_states(draws, final)`` turns
      them (P, T, N) into the same dict as ``run_reference``; ``spice_conductance_S(res, v_read_V)`` -> G(t).
    * ``sweep_states(draws, out)`` -> (state before, state after, #switched up, #switched down), each (P, T).
    * ``apply_pulse(state, v_V, width_ns, rng, params=None)`` -> new states after one rectangular pulse.
    * ``spread_overrides(sigma_pct)`` -> field overrides for a device-to-device spread; ``info_lines()``.
    """

    name: ClassVar[str] = ""

    @property
    def state_top(self):
        return 1

    def g_bounds_S(self, v_read_V: float = 0.1) -> tuple[float, float]:
        """(g_min, g_max): conductance of state 0 and of ``state_top``."""
        g = self.conductance_S(np.array([0, self.state_top]), v_read_V)
        return float(g[0]), float(g[1])

    def _missing(self, what: str):
        return NotImplementedError(f"device {type(self).__name__} does not implement {what} (see models.Device)")

    def conductance_S(self, state, v_read_V: float = 0.1) -> np.ndarray:
        raise self._missing("conductance_S")

    def draw(self, n_dt: int, trials: int, seed: int) -> ref.Draws:
        raise self._missing("draw")

    def run_reference(self, tb: PulseTestbench, dt_ms: np.ndarray, d: ref.Draws) -> dict[str, np.ndarray]:
        raise self._missing("run_reference (the reference engine)")

    def netlist_elements(self, d: ref.Draws, ip: int, it: int) -> list[str]:
        raise self._missing("netlist_elements (the ngspice engine)")

    def spice_final(self, res) -> np.ndarray:
        raise self._missing("spice_final (the ngspice engine)")

    def spice_conductance_S(self, res, v_read_V: float) -> np.ndarray:
        raise self._missing("spice_conductance_S (ngspice waveforms)")

    def final_states(self, d: ref.Draws, final: np.ndarray) -> dict[str, np.ndarray]:
        raise self._missing("final_states (the ngspice engine)")

    def sweep_states(self, d: ref.Draws, out: dict[str, np.ndarray]):
        raise self._missing("sweep_states")

    def apply_pulse(self, state, v_V, width_ns, rng: np.random.Generator, params=None) -> np.ndarray:
        raise self._missing("apply_pulse")

    def spread_overrides(self, sigma_pct: float) -> dict[str, float]:
        raise self._missing("spread_overrides (--sigma-pct)")

    def info_lines(self) -> list[str]:
        return []


class _MTJArray(Device):
    """Devices made of ``n_mtj`` STT-MTJs ``cell`` in parallel; state = number of MTJs in P. The per-MTJ
    physics (parameters, switching probabilities, SPICE elements) is the cell's (:class:`STTMTJ`)."""

    @property
    def state_top(self):
        return self.n_mtj

    def conductance_S(self, state, v_read_V: float = 0.1) -> np.ndarray:
        p = derive(self.cell)
        s = np.asarray(state, dtype=float)
        return conductance_formula(p.r_p_ohm, r_ap_ohm(p, v_read_V), s, self.n_mtj - s)

    def draw(self, n_dt: int, trials: int, seed: int) -> ref.Draws:
        return ref.draw_base(n_dt, trials, self.n_mtj, seed)[1]

    def run_reference(self, tb: PulseTestbench, dt_ms: np.ndarray, d: ref.Draws) -> dict[str, np.ndarray]:
        edges_s, v_mid = ref.step_voltages(tb, dt_ms)
        s1, h, nsw = ref.integrate_mtj(ref.device_params(self.cell, d.z), d.s0, d.theta, edges_s, v_mid)
        return {"s1": s1.astype(np.int8), "h": h, "nsw": nsw}

    def netlist_elements(self, d: ref.Draws, ip: int, it: int) -> list[str]:
        p = ref.device_params(self.cell, d.z[ip, it])
        return [line for i in range(self.n_mtj)
                for line in self.cell.mtj_elements(i, p, int(d.s0[ip, it, i]), d.theta[ip, it, i])]

    def spice_final(self, res) -> np.ndarray:
        return np.array([res[f"h{i}"][-1] for i in range(self.n_mtj)])

    def spice_conductance_S(self, res, v_read_V: float) -> np.ndarray:
        return self.conductance_S(sum(res[f"s{i}"] for i in range(self.n_mtj)), v_read_V)

    def final_states(self, d: ref.Draws, final: np.ndarray) -> dict[str, np.ndarray]:
        """Hazard H (P, T, N) -> state = s0 XOR parity of the thresholds crossed."""
        n_cross = (final[..., None] >= d.theta).sum(-1)
        return {"s1": ((d.s0 + n_cross) % 2).astype(np.int8), "h": final}

    def sweep_states(self, d: ref.Draws, out: dict[str, np.ndarray]):
        s0, s1 = d.s0.astype(np.int64), out["s1"].astype(np.int64)
        up = ((s0 == 0) & (s1 == 1)).sum(-1)
        down = ((s0 == 1) & (s1 == 0)).sum(-1)
        return s0.sum(-1), s1.sum(-1), up, down

    def spread_overrides(self, sigma_pct: float) -> dict[str, float]:
        return {k: sigma_pct for k in ("sigma_t_ox_pct", "sigma_t_fl_pct", "sigma_tmr0_pct", "sigma_area_pct")}

    def info_lines(self) -> list[str]:
        mtj, p = self.cell, derive(self.cell)
        return [f"R_P = {float(p.r_p_ohm):.1f} ohm; R_AP(0) = {float(r_ap_ohm(p, 0.0)):.1f} ohm; "
                f"R_AP(0.1 V) = {float(r_ap_ohm(p, 0.1)):.1f} ohm; R_AP(0.25 V) = {float(r_ap_ohm(p, 0.25)):.1f} ohm",
                f"Ic0 = {float(p.ic0_A) * 1e6:.2f} uA; Delta = {float(p.delta):.2f}; tau0 = {p.tau0_s * 1e9:.2f} ns; "
                f"gates: to P V>{mtj.gate_to_p_V}, to AP V<{mtj.gate_to_ap_V}"]


@dataclass(frozen=True)
class STTMTJ(_MTJArray):
    """Perpendicular STT-MTJ, two states (1 = P, 0 = AP). Defaults: Beihang/Zhao model (Zhang et al. 2012)
    as used by the published bi-sigmoid compound synapse; Ms chosen so that Delta = 22.8 at 300 K.

    ``gate_to_p_V`` / ``gate_to_ap_V``: voltage gates of the published author's modified Beihang model
    (switch toward P only when V_mtj > gate_to_p_V, toward AP only when V_mtj < gate_to_ap_V); ``None`` =
    purely physical (no gate). ``sigma_*_pct``: device-to-device Gaussian spreads in percent.
    """

    radius_nm: float = 16.0
    t_fl_nm: float = 1.3
    t_ox_nm: float = 0.85
    ra_ohm_um2: float = 5.0
    tmr0: float = 0.7
    vh_V: float = 0.5
    alpha: float = 0.027
    gamma_rad_per_s_Oe: float = 1.76e7
    polarisation: float = 0.52
    hk_Oe: float = 1433.0
    ms_A_per_m: float = 1.2566e6
    tau0_ns: float = 0.87
    temperature_K: float = 300.0
    barrier_height_eV: float = 0.4
    gate_to_p_V: float | None = None
    gate_to_ap_V: float | None = None
    sigma_t_ox_pct: float = 0.0
    sigma_t_fl_pct: float = 0.0
    sigma_tmr0_pct: float = 0.0
    sigma_area_pct: float = 0.0

    name: ClassVar[str] = "stt-mtj"
    n_mtj: ClassVar[int] = 1

    @property
    def cell(self) -> STTMTJ:
        return self

    def switch_probabilities(self, v_V, width_s, params: MTJParams | None = None):
        """(P(AP->P), P(P->AP)) of a rectangular pulse v_V of width_s seconds (arrays broadcast)."""
        p = derive(self) if params is None else params
        p_up = -np.expm1(-hazard_rate_per_s(p, 0.0, v_V) * width_s)
        p_dn = -np.expm1(-hazard_rate_per_s(p, 1.0, v_V) * width_s)
        return p_up, p_dn

    def apply_pulse(self, state, v_V, width_ns, rng: np.random.Generator, params=None) -> np.ndarray:
        state, v, w = ref.pulse_arrays(state, v_V, width_ns)
        p_up, p_dn = self.switch_probabilities(v, w, params)
        s = state.astype(np.int64)
        u = rng.random(state.shape)
        return np.where(s == 1, np.where(u < p_dn, 0, 1), np.where(u < p_up, 1, 0))

    def mtj_elements(self, i: int, p: MTJParams, s0: int, thresholds: np.ndarray) -> list[str]:
        """SPICE elements of MTJ ``i`` (parameters ``p[i]``): state node ``s<i>`` counting the thresholds
        crossed by the hazard node ``h<i>`` = ∫ rate dt, and the MTJ current pre -> post. The rate blends the
        two directions by the state: s·rate_from_P(V) + (1-s)·rate_from_AP(V)."""
        v, s = nl.V_MTJ, nl.node_v(f"s{i}")
        args = (p.r_p_ohm[i], p.tmr0[i], p.vh_V, p.ic0_A[i], p.delta[i], p.tau0_s, p.k_prec_per_A_s[i])
        from_p = state_rate_formula(1, v, *args)
        if p.gate_to_ap_V is not None:
            from_p = nl.where(v < p.gate_to_ap_V, from_p, 0)
        from_ap = state_rate_formula(0, v, *args)
        if p.gate_to_p_V is not None:
            from_ap = nl.where(v > p.gate_to_p_V, from_ap, 0)
        r_ap = r_ap_formula(p.r_p_ohm[i], p.tmr0[i], p.vh_V, v)
        return [nl.threshold_state(f"s{i}", f"h{i}", s0, thresholds),
                *nl.integrator(f"h{i}", s * from_p + (1 - s) * from_ap, 0.0),
                nl.b_current(f"m{i}", nl.PRE, nl.POST, mtj_current_formula(p.r_p_ohm[i], r_ap, s, v))]

    def __post_init__(self) -> None:
        positive = ("radius_nm", "t_fl_nm", "t_ox_nm", "ra_ohm_um2", "vh_V", "alpha", "gamma_rad_per_s_Oe",
                    "hk_Oe", "ms_A_per_m", "tau0_ns", "temperature_K", "barrier_height_eV")
        for name in positive:
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"STTMTJ: {name}={v!r} is non-physical; expected a finite value > 0")
        if not 0 < self.polarisation < 1:
            raise ValueError(f"STTMTJ: polarisation={self.polarisation!r}; expected 0 < P < 1")
        if not self.tmr0 > 0:
            raise ValueError(f"STTMTJ: tmr0={self.tmr0!r}; expected > 0")
        for name in ("sigma_t_ox_pct", "sigma_t_fl_pct", "sigma_tmr0_pct", "sigma_area_pct"):
            v = getattr(self, name)
            if not 0 <= v < 30:
                raise ValueError(f"STTMTJ: {name}={v!r}; expected 0 <= sigma < 30 (%)")


@dataclass(frozen=True)
class CompoundSynapse(_MTJArray):
    """N STT-MTJs in parallel between pre and post (Vincent et al., IEEE TBioCAS 9, 166 (2015) style
    compound synapse used by the published bi-sigmoid work); N+1 conductance levels. State = count of P."""

    n_mtj: int = 8
    mtj: STTMTJ = field(default_factory=STTMTJ)

    name: ClassVar[str] = "compound"

    @property
    def cell(self) -> STTMTJ:
        return self.mtj

    def apply_pulse(self, state, v_V, width_ns, rng: np.random.Generator, params=None) -> np.ndarray:
        """Binomial over the MTJs in the state the pulse can switch."""
        state, v, w = ref.pulse_arrays(state, v_V, width_ns)
        p_up, p_dn = self.mtj.switch_probabilities(v, w, params)
        k = state.astype(np.int64)
        return k + rng.binomial(self.n_mtj - k, p_up) - rng.binomial(k, p_dn)

    def info_lines(self) -> list[str]:
        g = self.conductance_S(np.arange(self.n_mtj + 1))
        return [*super().info_lines(),
                f"levels ({self.n_mtj + 1}) at 0.1 V, uS: " + " ".join(f"{x * 1e6:.2f}" for x in g)]

    def __post_init__(self) -> None:
        if isinstance(self.mtj, dict):
            object.__setattr__(self, "mtj", STTMTJ(**self.mtj))
        if not (isinstance(self.n_mtj, (int, np.integer)) and 1 <= self.n_mtj <= 256):
            raise ValueError(f"CompoundSynapse: n_mtj={self.n_mtj!r}; expected an integer in 1..256")


@dataclass(frozen=True)
class DomainWallMTJ(Device):
    """Three-terminal domain-wall MTJ: read conductance G = G_AP + x (G_P - G_AP), wall position x in [0, 1].

    The write current flows through a heavy-metal strip (``r_hm_ohm``, cross-section ``hm_width_nm`` x
    ``hm_thickness_nm``) in parallel with the MTJ; positive current pushes x up (toward P). The wall moves
    only above the depinning current I_dep = J_dep * w * t, with velocity v = v_coeff (|I|/I_dep - 1);
    I_dep is redrawn per pulse with relative spread ``sigma_depin_pct`` (stochastic depinning);
    ``n_notches`` > 0 pins the wall at n_notches+1 equally spaced positions after a pulse (levels).
    Defaults after Sengupta et al., IEEE TED 63, 2963 (2016) (wall speeds of ~10 m/s), scaled so the pre ramp
    alone (|V| <= 150 mV) stays below depinning (160 uA) while pre + post crosses it.
    """

    length_nm: float = 200.0
    r_p_ohm: float = 4.0e3
    r_ap_ohm: float = 8.0e3
    r_hm_ohm: float = 1.0e3
    hm_width_nm: float = 50.0
    hm_thickness_nm: float = 4.0
    j_depin_A_per_m2: float = 8.0e11
    v_coeff_m_per_s: float = 10.0
    n_notches: int = 0
    sigma_depin_pct: float = 0.0

    name: ClassVar[str] = "dw-mtj"
    n_mtj: ClassVar[int] = 0

    def conductance_S(self, state, v_read_V: float = 0.1) -> np.ndarray:
        return dw_conductance_formula(self.r_p_ohm, self.r_ap_ohm, np.clip(np.asarray(state, dtype=float), 0, 1))

    def draw(self, n_dt: int, trials: int, seed: int) -> ref.Draws:
        """The MTJ draws (unused, kept so every device consumes the stream alike), then notch-snapped start
        positions and the per-instance depinning-current scale."""
        rng, d = ref.draw_base(n_dt, trials, 1, seed)
        x0 = d.x0 if self.n_notches == 0 else np.round(d.x0 * self.n_notches) / self.n_notches
        depin = 1 + self.sigma_depin_pct / 100 * rng.standard_normal((n_dt, trials))
        return dataclasses.replace(d, x0=x0, depin=np.maximum(depin, 0.05))

    def run_reference(self, tb: PulseTestbench, dt_ms: np.ndarray, d: ref.Draws) -> dict[str, np.ndarray]:
        edges_s, v_mid = ref.step_voltages(tb, dt_ms)
        return {"x1": ref.integrate_dw(self, d.x0, d.depin, edges_s[:, None, :], v_mid[:, None, :])}

    def netlist_elements(self, d: ref.Draws, ip: int, it: int) -> list[str]:
        """Heavy-metal strip and MTJ pre -> post; node ``x`` integrates the wall velocity, which fades out
        over the last 1e-3 of the range at either end (continuous clamp)."""
        v, x = nl.V_MTJ, nl.node_v("x")
        speed = ref.dw_speed(self, v, d.depin[ip, it])
        up = speed * np.maximum(np.minimum((1 - x) / 1e-3, 1), 0)
        down = -speed * np.maximum(np.minimum(x / 1e-3, 1), 0)
        return [nl.resistor("hm", nl.PRE, nl.POST, self.r_hm_ohm),
                nl.b_current("mtj", nl.PRE, nl.POST, v * dw_conductance_formula(self.r_p_ohm, self.r_ap_ohm, x)),
                *nl.integrator("x", nl.where(v > 0, up, down), d.x0[ip, it])]

    def spice_final(self, res) -> np.ndarray:
        return np.array([res["x"][-1]])

    def spice_conductance_S(self, res, v_read_V: float) -> np.ndarray:
        return dw_conductance_formula(self.r_p_ohm, self.r_ap_ohm, res["x"])

    def final_states(self, d: ref.Draws, final: np.ndarray) -> dict[str, np.ndarray]:
        return {"x1": ref.snap_notches(self, d.x0, np.clip(final[..., 0], 0, 1))}

    def sweep_states(self, d: ref.Draws, out: dict[str, np.ndarray]):
        x0, x1 = d.x0, out["x1"]
        return x0, x1, (x1 > x0).astype(np.int64), (x1 < x0).astype(np.int64)

    def apply_pulse(self, state, v_V, width_ns, rng: np.random.Generator, params=None) -> np.ndarray:
        """The wall moves by the deterministic velocity with a drawn I_dep, then snaps to notches."""
        state, v, w = ref.pulse_arrays(state, v_V, width_ns)
        depin = np.maximum(1 + self.sigma_depin_pct / 100 * rng.standard_normal(state.shape), 0.05)
        x0 = state.astype(float)
        x = np.clip(x0 + ref.dw_velocity_per_s(self, v, depin) * w, 0.0, 1.0)
        return ref.snap_notches(self, x0, x)

    def spread_overrides(self, sigma_pct: float) -> dict[str, float]:
        return {"sigma_depin_pct": sigma_pct}

    def info_lines(self) -> list[str]:
        return [f"R_P = {self.r_p_ohm:.1f} ohm, R_AP = {self.r_ap_ohm:.1f} ohm, R_HM = {self.r_hm_ohm:.1f} ohm, "
                f"I_dep = {self.i_depin_A * 1e6:.1f} uA (V_dep = {self.i_depin_A * self.r_hm_ohm:.3f} V), levels = "
                f"{'analog' if self.n_notches == 0 else self.n_notches + 1}"]

    def __post_init__(self) -> None:
        for name in ("length_nm", "r_p_ohm", "r_ap_ohm", "r_hm_ohm", "hm_width_nm", "hm_thickness_nm",
                     "j_depin_A_per_m2", "v_coeff_m_per_s"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"DomainWallMTJ: {name}={v!r} is non-physical; expected > 0")
        if self.r_ap_ohm <= self.r_p_ohm:
            raise ValueError(f"DomainWallMTJ: r_ap_ohm={self.r_ap_ohm} must exceed r_p_ohm={self.r_p_ohm}")
        if not 0 <= self.n_notches <= 1024:
            raise ValueError(f"DomainWallMTJ: n_notches={self.n_notches}; expected 0..1024")
        if not 0 <= self.sigma_depin_pct < 50:
            raise ValueError(f"DomainWallMTJ: sigma_depin_pct={self.sigma_depin_pct}; expected 0..50 (%)")

    @property
    def i_depin_A(self) -> float:
        return self.j_depin_A_per_m2 * self.hm_width_nm * 1e-9 * self.hm_thickness_nm * 1e-9


@dataclass(frozen=True)
class PulseTestbench:
    """Pre/post waveforms (published defaults). V_pre jumps to ``pre_start_V`` at t=0, ramps linearly to
    ``pre_end_V`` over ``pre_ramp_ms``, then 0. Post pulse starts at t = dt: ``post_pot_V`` for
    ``post_pot_us``, then ``post_dep_V`` for ``post_dep_us``. V_mtj = V_pre - V_post."""

    pre_start_V: float = 0.15
    pre_end_V: float = -0.09
    pre_ramp_ms: float = 60.0
    post_pot_V: float = -0.10
    post_pot_us: float = 7.0
    post_dep_V: float = 0.10
    post_dep_us: float = 1.0
    v_read_V: float = 0.1

    def __post_init__(self) -> None:
        for name in ("pre_ramp_ms", "post_pot_us", "post_dep_us", "v_read_V"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"PulseTestbench: {name}={v!r}; expected > 0")
        for name in ("pre_start_V", "pre_end_V", "post_pot_V", "post_dep_V"):
            if abs(getattr(self, name)) > 5:
                raise ValueError(f"PulseTestbench: {name}={getattr(self, name)!r}; expected |V| <= 5")

    def v_pre_V(self, t_ms: np.ndarray) -> np.ndarray:
        t = np.asarray(t_ms, dtype=float)
        ramp = self.pre_start_V + (self.pre_end_V - self.pre_start_V) * t / self.pre_ramp_ms
        return np.where((t >= 0) & (t < self.pre_ramp_ms), ramp, 0.0)

    @property
    def post_us(self) -> float:
        return self.post_pot_us + self.post_dep_us


def switch_probability(mtj: STTMTJ, v_V, width_ns, to_parallel: bool) -> np.ndarray:
    """P(switch) for a rectangular pulse of v_V (V_mtj) and width_ns: 1 - exp(-width/tau)."""
    p = derive(mtj)
    rate = hazard_rate_per_s(p, 0.0 if to_parallel else 1.0, v_V)
    return -np.expm1(-rate * np.asarray(width_ns, dtype=float) * 1e-9)


# ------------------------------------------------------------------------------------------ presets

PUBLISHED_GATES = {"gate_to_p_V": 0.15, "gate_to_ap_V": -0.10}

#: name -> (constructor, source). ``stt-mtj``/``compound`` = the published device (gated Beihang model).
PRESETS: dict[str, tuple[Any, str]] = {
    "stt-mtj": (lambda: STTMTJ(**PUBLISHED_GATES),
                "Beihang/Zhao STT-MTJ (Zhang et al., IEEE TED 2012) with the published author's voltage gates "
                "(to P only for V>0.15 V, to AP only for V<-0.1 V)"),
    "compound": (lambda: CompoundSynapse(8, STTMTJ(**PUBLISHED_GATES)),
                 "published compound synapse: 8 gated Beihang STT-MTJs in parallel"),
    "stt-mtj-physical": (lambda: STTMTJ(hk_Oe=2600.0),
                         "ungated Beihang STT-MTJ with Hk raised to 2600 Oe (Delta ~41, Ic0 ~69 uA) so that "
                         "the pre ramp alone is harmless; needs the 'physical' testbench amplitudes"),
    "compound-physical": (lambda: CompoundSynapse(8, STTMTJ(hk_Oe=2600.0)),
                          "8 ungated Beihang STT-MTJs (Hk 2600 Oe) in parallel"),
    "dw-mtj": (DomainWallMTJ, "analog DW-MTJ (illustrative, after Sengupta et al. 2016)"),
    "dw-mtj-notched": (lambda: DomainWallMTJ(n_notches=8, sigma_depin_pct=5.0),
                       "DW-MTJ with 8 notches (9 levels) and 5 % depinning spread"),
}

TESTBENCHES: dict[str, tuple[Any, str]] = {
    "published": (PulseTestbench, "published pulses: pre +150 -> -90 mV over 60 ms, post -100 mV 7 us, "
                                  "+100 mV 1 us"),
    "physical": (lambda: PulseTestbench(post_pot_V=-0.45, post_dep_V=0.45),
                 "published pre ramp with +-450 mV post pulses for the ungated physical preset"),
}

def device_classes() -> dict[str, type[Device]]:
    """Every concrete device class (a :class:`Device` subclass with a ``name``), by class name."""
    found: dict[str, type[Device]] = {}
    todo = list(Device.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.name:
            found[cls.__name__] = cls
    return found


def model_names() -> tuple[str, ...]:
    """Family names of the device classes (``spinsyn device sweep --model``), sorted."""
    return tuple(sorted(c.name for c in device_classes().values()))


def get_model(name: str, **overrides: Any):
    """Model preset by name (see ``PRESETS``) with dataclass field overrides.

    For ``compound`` presets, overrides that are STT-MTJ fields go to the component MTJ.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown device model {name!r}; expected one of {sorted(PRESETS)}")
    model = PRESETS[name][0]()
    fields = {f.name for f in dataclasses.fields(model)}
    own = {k: v for k, v in overrides.items() if k in fields}
    rest = {k: v for k, v in overrides.items() if k not in fields}
    parts = [f.name for f in dataclasses.fields(model) if dataclasses.is_dataclass(getattr(model, f.name))]
    if rest and parts:  # a device made of a component (compound: its MTJ) takes the component's fields
        part = parts[0]
        part_fields = {f.name for f in dataclasses.fields(getattr(model, part))}
        bad = sorted(set(rest) - part_fields)
        if bad:
            raise ValueError(f"unknown parameter(s) {bad} for device {name!r}")
        own[part] = dataclasses.replace(own.get(part, getattr(model, part)), **rest)
    elif rest:
        raise ValueError(f"unknown parameter(s) {sorted(rest)} for device {name!r}; "
                         f"expected some of {sorted(fields)}")
    return dataclasses.replace(model, **own)


def get_testbench(name: str = "published", **overrides: Any) -> PulseTestbench:
    if name not in TESTBENCHES:
        raise ValueError(f"unknown testbench {name!r}; expected one of {sorted(TESTBENCHES)}")
    return dataclasses.replace(TESTBENCHES[name][0](), **overrides)


def conductance_S(model, state, v_read_V: float = 0.1) -> np.ndarray:
    """Read conductance of device states (STT: 1=P/0=AP; compound: #P in 0..N; dw: x in [0,1])."""
    if not isinstance(model, Device):
        raise ValueError(f"unknown device model type {type(model).__name__}")
    return model.conductance_S(state, v_read_V)


def g_bounds_S(model, v_read_V: float = 0.1) -> tuple[float, float]:
    """(g_min, g_max): all AP / all P."""
    return model.g_bounds_S(v_read_V)


def model_name(model) -> str:
    return model.name
