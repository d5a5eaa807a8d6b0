"""Device equations, each written ONCE as a plain function of arithmetic operators and ``np.exp`` /
``np.maximum`` / ``np.minimum`` / ``np.abs``.

The same function serves three backends (``register_jitable``): called on numpy arrays (models,
apply_pulse, the readable numpy integrator), ``numba.njit``-compiled for the reference kernel
(``reference._rate``), and called with :class:`devices.netlist.Expr` symbols, which render it as an ngspice
B-source expression (operator overloading and ``__array_ufunc__``). Change a formula here and every engine
follows (the numba on-disk cache of the kernels is stamped with this file too: ``reference._stamp_physics``).

Also the derived STT-MTJ parameters (``derive``) and the numpy forms used by the models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba.extending import register_jitable

KB_J_PER_K = 1.380649e-23
E_C = 1.602176634e-19
MU0 = 4e-7 * np.pi
MU_B_J_PER_T = 9.2740100783e-24
OE_TO_A_PER_M = 1e3 / (4 * np.pi)
EULER_C = 0.5772156649
EXP_CLIP = 80.0

# ----------------------------------------------------------------------- formulas (one definition each)


@register_jitable
def r_ap_formula(r_p, tmr0, vh, v):
    """R_AP(V) = R_P (1 + TMR0/(1 + V²/Vh²))."""
    return r_p * (1 + tmr0 / (1 + v * v / (vh * vh)))


@register_jitable
def conductance_formula(r_p, r_ap, n_p, n_ap):
    """Conductance of n_p MTJs in P and n_ap in AP, in parallel (fractions blend)."""
    return n_p / r_p + n_ap / r_ap


@register_jitable
def mtj_current_formula(r_p, r_ap, s, v):
    """I = V (s/R_P + (1-s)/R_AP(V)); s = 1 P, 0 AP."""
    return v * conductance_formula(r_p, r_ap, s, 1 - s)


@register_jitable
def aiding_current_formula(r_p, r_ap, s, v):
    """Current aiding the switch away from the fixed state s (P->AP needs negative current): -V/R_P or V/R_AP."""
    if s == 1:
        return -v / r_p
    return v / r_ap


#: regulariser of Brown's prefactor at Ic0 (of 1/Delta), fitted with TRANSIT_EPS_BROWN to the exact mean escape
#: time of the macrospin Fokker–Planck equation (``macrospin.escape_time_s``) at I/Ic0 = 0..3, Delta 22.7/41/64
BROWN_C = 0.125
TRANSIT_EPS_BROWN = 0.273


@register_jitable
def switching_time_formula(i_aid, ic0, delta, tau0, k_prec, beta, eps, brown):
    """Mean switching time (s) at a constant aiding current i_aid (A), i = i_aid/ic0: thermal waiting time plus
    precessional transit time, tau = wait + 1/(k_prec (max(I - Ic0, 0) + eps Ic0)), x = max(1 - i, 0).

    ``brown`` = 0 (the Beihang form): wait = tau0 (exp(Delta x^beta) - 1), tau0 a fixed attempt time.
    ``brown`` = 1 (Brown's escape time with current, the macrospin's own): tau0 = tau_D, the damping time, and
    wait = tau_D sqrt(pi/Delta) (exp(Delta x^beta) - 1) / ((x² + BROWN_C/Delta)(2 - min(x, 1))): at I = 0
    Brown's tau_D sqrt(pi/Delta) e^Delta, below Ic0 the Kramers prefactor 1/((1 - i)²(1 + i)) of the
    axially symmetric macrospin, finite at Ic0. Above Ic0 the wait is 0 and the transit is Sun's
    1/(k_prec (I - Ic0)); eps (of Ic0) makes the crossover continuous. Exponent clipped at EXP_CLIP."""
    x = np.maximum(1 - i_aid / ic0, 0.0)
    wait = tau0 * (np.exp(np.minimum(delta * np.power(x, beta), EXP_CLIP)) - 1)
    if brown > 0:
        wait = wait * np.sqrt(np.pi / delta) / ((x * x + BROWN_C / delta) * (2 - np.minimum(x, 1.0)))
    return wait + 1 / (k_prec * (np.maximum(i_aid - ic0, 0.0) + eps * ic0))


@register_jitable
def rate_formula(i_aid, ic0, delta, tau0, k_prec, beta, eps, brown):
    """Ungated hazard rate (1/s) = 1 / :func:`switching_time_formula`."""
    return 1 / switching_time_formula(i_aid, ic0, delta, tau0, k_prec, beta, eps, brown)


@register_jitable
def dw_conductance_formula(r_p, r_ap, x):
    """Domain-wall MTJ read conductance G = G_AP + x (G_P - G_AP)."""
    return 1 / r_ap + x * (1 / r_p - 1 / r_ap)


DW_J_FLOOR = 1e-6  # drive ratios below this count as this (the creep exponent stays finite: v ~ 0)


@register_jitable
def dw_creep_flow_formula(j, v_dep, v_flow, u_kt, mu):
    """Wall speed (m/s) at drive ratio j = |J|/J_th >= 0 of the local depinning threshold J_th.

    creep (j < 1): v_dep exp(-(U_c/kT) (j^-mu - 1)) (Lemerle 1998 creep law, written continuous at the
    crossover as in Jeudy 2016); flow (j >= 1): v_dep + v_flow (j - 1). Exponent clipped at EXP_CLIP."""
    jc = np.minimum(np.maximum(j, DW_J_FLOOR), 1.0)
    barrier = np.minimum(u_kt * (np.exp(-mu * np.log(jc)) - 1.0), EXP_CLIP)
    return v_dep * np.exp(-barrier) + v_flow * np.maximum(j - 1.0, 0.0)


@register_jitable
def dw_speed_formula(v, r_hm, i_th, v_dep, v_flow, u_kt, mu, length_m):
    """|dx/dt| (1/s) of the wall at V_mtj = v where the local depinning current is i_th (A): write current
    |V/R_HM| through the heavy metal, creep/flow speed :func:`dw_creep_flow_formula`, over the length."""
    return dw_creep_flow_formula(np.abs(v / r_hm) / i_th, v_dep, v_flow, u_kt, mu) / length_m


@register_jitable
def state_rate_formula(s, v, r_p, tmr0, vh, ic0, delta, tau0, k_prec, beta, eps, brown):
    """Ungated rate away from the fixed state s (1 = P, 0 = AP) at V_mtj = v (used by numba and ngspice;
    the numpy form ``hazard_rate_per_s`` blends the state instead)."""
    i_aid = aiding_current_formula(r_p, r_ap_formula(r_p, tmr0, vh, v), s, v)
    return rate_formula(i_aid, ic0, delta, tau0, k_prec, beta, eps, brown)


# ------------------------------------------------------------------------------------- derived numbers


@dataclass(frozen=True)
class MTJParams:
    """Per-device derived parameters (arrays of one shape): R_P, TMR0, Vh, Ic0, Delta, tau0, k_prec; gates;
    switching-time shape (``switching_time_formula``): barrier exponent beta, transit regulariser eps and the
    attempt form ``brown`` (1: tau0 is the damping time tau_D and the wait has Brown's prefactor)."""

    r_p_ohm: np.ndarray
    tmr0: np.ndarray
    vh_V: float
    ic0_A: np.ndarray
    delta: np.ndarray
    tau0_s: float
    k_prec_per_A_s: np.ndarray
    gate_to_p_V: float | None
    gate_to_ap_V: float | None
    barrier_exponent: float = 1.0
    transit_eps: float = 0.32
    brown: float = 0.0


def _tox_factor(t_ox_nm: np.ndarray, phi_eV: float) -> np.ndarray:
    t_a = np.asarray(t_ox_nm) * 10.0
    return t_a * np.exp(1.025 * t_a * np.sqrt(phi_eV))


IC0_MODELS = ("slonczewski", "julliere")


def ic0_polarisation_factor(ic0_model: str, polarisation: float, tmr0) -> np.ndarray:
    """Spin-polarisation factor g = (1 + P²)/P of Ic0 = α γ e μ0Ms Hk Vol g / μB (``STTMTJ.ic0_model``).

    ``"slonczewski"``: P = the ``polarisation`` field (0.52: g = 2.443). ``"julliere"``: P from the TMR by
    Julliere's relation TMR = 2P²/(1 - P²), P = √(TMR/(2 + TMR)), per device (TMR0 spread included); then
    g = 2(1 + TMR)/√(TMR(2 + TMR)) = 1/P_VA with P_VA = √(TMR(TMR + 2))/(2(TMR + 1)), the polarisation the
    Beihang Verilog-A model computes from TMR (TMR0 = 0.7: P = 0.5092, g = 2.473). One Ic0 for both
    directions, as in that model (its IcP and IcAP use the same expression)."""
    if ic0_model == "julliere":
        tmr = np.asarray(tmr0, dtype=float)
        return 2 * (1 + tmr) / np.sqrt(tmr * (2 + tmr))
    if ic0_model == "slonczewski":
        return np.asarray((1 + polarisation * polarisation) / polarisation, dtype=float)
    raise ValueError(f"ic0_model={ic0_model!r}; expected one of {IC0_MODELS}")


def derive(mtj, t_ox_nm=None, t_fl_nm=None, tmr0=None, area_scale=None) -> MTJParams:
    """Derived parameters of an ``STTMTJ``; optional per-device arrays (same shape) override the nominal
    geometry."""
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
    ic0 = mtj.alpha * gamma * E_C * mu0ms * hk * vol * ic0_polarisation_factor(mtj.ic0_model, p, tmr) / MU_B_J_PER_T
    m = mtj.ms_A_per_m * vol
    k_prec = 2.0 / (EULER_C + np.log(np.pi ** 2 * delta / 4)) * MU_B_J_PER_T * p / (E_C * m * (1 + p * p))
    brown = mtj.attempt == "brown"
    tau0 = damping_time_s(mtj) if brown else mtj.tau0_ns * 1e-9
    return MTJParams(r_p, tmr, mtj.vh_V, ic0, delta, tau0, k_prec, mtj.gate_to_p_V,
                     mtj.gate_to_ap_V, barrier_exponent=float(mtj.barrier_exponent),
                     transit_eps=float(mtj.transit_eps), brown=float(brown))


def damping_time_s(mtj) -> float:
    """tau_D = (1 + alpha²)/(alpha gamma mu0 Hk) (s): the macrospin's time unit (``devices.macrospin``)."""
    return (1 + mtj.alpha ** 2) / (mtj.alpha * mtj.gamma_rad_per_s_Oe * 1e4 * MU0 * mtj.hk_Oe * OE_TO_A_PER_M)


# ------------------------------------------------------------------------------- numpy forms (models)


def r_ap_ohm(p: MTJParams, v_V) -> np.ndarray:
    """R_AP(V) = R_P (1 + TMR0/(1 + V^2/Vh^2))."""
    return r_ap_formula(p.r_p_ohm, p.tmr0, p.vh_V, np.asarray(v_V, dtype=float))


def mtj_current_A(p: MTJParams, is_p, v_V) -> np.ndarray:
    """I = V / R(state, V); ``is_p`` 1 = P, 0 = AP (floats in between blend conductances)."""
    v = np.asarray(v_V, dtype=float)
    return mtj_current_formula(p.r_p_ohm, r_ap_ohm(p, v), np.asarray(is_p, dtype=float), v)


def hazard_rate_per_s(p: MTJParams, is_p, v_V) -> np.ndarray:
    """Switching rate (1/s) away from the current state at V_mtj (1 / (thermal wait + precessional
    transit), ``switching_time_formula``; gated)."""
    v = np.asarray(v_V, dtype=float)
    s = np.asarray(is_p, dtype=float)
    i = mtj_current_A(p, s, v)
    i_aid = np.where(s > 0.5, -i, i)  # current aiding the switch (P->AP needs negative current)
    rate = rate_formula(i_aid, p.ic0_A, p.delta, p.tau0_s, p.k_prec_per_A_s, p.barrier_exponent, p.transit_eps,
                        p.brown)
    if p.gate_to_p_V is not None:
        rate = np.where((s < 0.5) & ~(v > p.gate_to_p_V), 0.0, rate)
    if p.gate_to_ap_V is not None:
        rate = np.where((s > 0.5) & ~(v < p.gate_to_ap_V), 0.0, rate)
    return rate
