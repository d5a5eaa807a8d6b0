"""Device dataclasses, their derived quantities and named presets.

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
from typing import Any

import numpy as np

KB_J_PER_K = 1.380649e-23
E_C = 1.602176634e-19
MU0 = 4e-7 * np.pi
MU_B_J_PER_T = 9.2740100783e-24
OE_TO_A_PER_M = 1e3 / (4 * np.pi)
EULER_C = 0.5772156649


@dataclass(frozen=True)
class STTMTJ:
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
class CompoundSynapse:
    """N STT-MTJs in parallel between pre and post (Vincent et al., IEEE TBioCAS 9, 166 (2015) style
    compound synapse used by the published bi-sigmoid work); N+1 conductance levels. State = count of P."""

    n_mtj: int = 8
    mtj: STTMTJ = field(default_factory=STTMTJ)

    def __post_init__(self) -> None:
        if isinstance(self.mtj, dict):
            object.__setattr__(self, "mtj", STTMTJ(**self.mtj))
        if not (isinstance(self.n_mtj, (int, np.integer)) and 1 <= self.n_mtj <= 256):
            raise ValueError(f"CompoundSynapse: n_mtj={self.n_mtj!r}; expected an integer in 1..256")


@dataclass(frozen=True)
class DomainWallMTJ:
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


# ------------------------------------------------------------------------------------- derived numbers


@dataclass(frozen=True)
class MTJParams:
    """Per-device derived parameters (arrays of one shape): R_P, TMR0, Vh, Ic0, Delta, tau0, k_prec."""

    r_p_ohm: np.ndarray
    tmr0: np.ndarray
    vh_V: float
    ic0_A: np.ndarray
    delta: np.ndarray
    tau0_s: float
    k_prec_per_A_s: np.ndarray
    gate_to_p_V: float | None
    gate_to_ap_V: float | None


def _tox_factor(t_ox_nm: np.ndarray, phi_eV: float) -> np.ndarray:
    t_a = np.asarray(t_ox_nm) * 10.0
    return t_a * np.exp(1.025 * t_a * np.sqrt(phi_eV))


def derive(mtj: STTMTJ, t_ox_nm=None, t_fl_nm=None, tmr0=None, area_scale=None) -> MTJParams:
    """Derived parameters; optional per-device arrays (same shape) override the nominal geometry."""
    t_ox = np.asarray(mtj.t_ox_nm if t_ox_nm is None else t_ox_nm, dtype=float)
    t_fl = np.asarray(mtj.t_fl_nm if t_fl_nm is None else t_fl_nm, dtype=float)
    tmr = np.asarray(mtj.tmr0 if tmr0 is None else tmr0, dtype=float)
    a_scale = np.asarray(1.0 if area_scale is None else area_scale, dtype=float)
    area_m2 = np.pi * (mtj.radius_nm * 1e-9) ** 2 * a_scale
    r_p = mtj.ra_ohm_um2 / (area_m2 * 1e12) * _tox_factor(t_ox, mtj.barrier_height_eV) / _tox_factor(
        mtj.t_ox_nm, mtj.barrier_height_eV)
    vol = area_m2 * t_fl * 1e-9
    hk = mtj.hk_Oe * OE_TO_A_PER_M
    mu0ms = MU0 * mtj.ms_A_per_m
    delta = mu0ms * hk * vol / (2 * KB_J_PER_K * mtj.temperature_K)
    gamma = mtj.gamma_rad_per_s_Oe * 1e4  # rad/(s T)
    p = mtj.polarisation
    ic0 = mtj.alpha * gamma * E_C * mu0ms * hk * vol * (1 + p * p) / (MU_B_J_PER_T * p)
    m = mtj.ms_A_per_m * vol
    k_prec = 2.0 / (EULER_C + np.log(np.pi ** 2 * delta / 4)) * MU_B_J_PER_T * p / (E_C * m * (1 + p * p))
    return MTJParams(r_p, tmr, mtj.vh_V, ic0, delta, mtj.tau0_ns * 1e-9, k_prec, mtj.gate_to_p_V,
                     mtj.gate_to_ap_V)


def r_ap_ohm(p: MTJParams, v_V) -> np.ndarray:
    """R_AP(V) = R_P (1 + TMR0/(1 + V^2/Vh^2))."""
    v = np.asarray(v_V, dtype=float)
    return p.r_p_ohm * (1 + p.tmr0 / (1 + v * v / (p.vh_V * p.vh_V)))


def mtj_current_A(p: MTJParams, is_p, v_V) -> np.ndarray:
    """I = V / R(state, V); ``is_p`` 1 = P, 0 = AP (floats in between blend conductances)."""
    v = np.asarray(v_V, dtype=float)
    s = np.asarray(is_p, dtype=float)
    return v * (s / p.r_p_ohm + (1 - s) / r_ap_ohm(p, v))


EXP_CLIP = 80.0


def hazard_rate_per_s(p: MTJParams, is_p, v_V) -> np.ndarray:
    """Switching rate (1/s) away from the current state at V_mtj (thermal + precessional, gated)."""
    v = np.asarray(v_V, dtype=float)
    s = np.asarray(is_p, dtype=float)
    i = mtj_current_A(p, s, v)
    i_aid = np.where(s > 0.5, -i, i)  # current aiding the switch (P->AP needs negative current)
    x = np.clip(p.delta * (1 - i_aid / p.ic0_A), -EXP_CLIP, EXP_CLIP)
    rate = np.exp(-x) / p.tau0_s + p.k_prec_per_A_s * np.maximum(i_aid - p.ic0_A, 0.0)
    if p.gate_to_p_V is not None:
        rate = np.where((s < 0.5) & ~(v > p.gate_to_p_V), 0.0, rate)
    if p.gate_to_ap_V is not None:
        rate = np.where((s > 0.5) & ~(v < p.gate_to_ap_V), 0.0, rate)
    return rate


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

MODEL_NAMES = ("stt-mtj", "compound", "dw-mtj")


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
    if rest and isinstance(model, CompoundSynapse):
        mtj_fields = {f.name for f in dataclasses.fields(STTMTJ)}
        bad = sorted(set(rest) - mtj_fields)
        if bad:
            raise ValueError(f"unknown parameter(s) {bad} for device {name!r}")
        own["mtj"] = dataclasses.replace(own.get("mtj", model.mtj), **rest)
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
    s = np.asarray(state, dtype=float)
    if isinstance(model, STTMTJ):
        p = derive(model)
        return s / p.r_p_ohm + (1 - s) / r_ap_ohm(p, v_read_V)
    if isinstance(model, CompoundSynapse):
        p = derive(model.mtj)
        return s / p.r_p_ohm + (model.n_mtj - s) / r_ap_ohm(p, v_read_V)
    if isinstance(model, DomainWallMTJ):
        return 1 / model.r_ap_ohm + np.clip(s, 0, 1) * (1 / model.r_p_ohm - 1 / model.r_ap_ohm)
    raise ValueError(f"unknown device model type {type(model).__name__}")


def g_bounds_S(model, v_read_V: float = 0.1) -> tuple[float, float]:
    """(g_min, g_max): all AP / all P."""
    top = model.n_mtj if isinstance(model, CompoundSynapse) else 1
    g = conductance_S(model, np.array([0, top]), v_read_V)
    return float(g[0]), float(g[1])


def model_name(model) -> str:
    return {STTMTJ: "stt-mtj", CompoundSynapse: "compound", DomainWallMTJ: "dw-mtj"}[type(model)]
