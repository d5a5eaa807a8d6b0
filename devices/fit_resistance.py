"""Fit of an MTJ's resistance against bias (``spinsyn.devices.fit_resistance``): R_P, R_AP(V) and TMR(V).

Model (the bias law of ``physics.r_ap_ohm``): R_AP(V) = R_P0 (1 + TMR0/(1 + V²/Vh²)); R_P(V) = R_P0, or
R_P0 (1 + b V²) when the P data need it (an F-test on the P rows at the 1 % level decides). Least squares on
relative residuals (model/measured - 1) with ``scipy.optimize.least_squares``; 95 % intervals from the
Jacobian (t quantile), residual RMS and a 5-fold held-out relative RMS.
"""

from __future__ import annotations

import math

import numpy as np
from spinsyn.labfile import Column

#: the columns of a resistance-vs-bias lab file (``spinsyn.labfile.read_table``)
RESISTANCE_COLUMNS = (
    Column("state", None, ("mtj state", "configuration", "config")),
    Column("v_V", "V", ("v", "bias", "v_bias", "voltage", "bias voltage", "v_read")),
    Column("r_ohm", "ohm", ("r", "resistance", "r_mtj")),
)
_STATES = {"p": 1, "parallel": 1, "ap": 0, "antiparallel": 0, "anti-parallel": 0}
F_TEST_ALPHA = 0.01
K_FOLD = 5


def _states(state) -> np.ndarray:
    """1 = P, 0 = AP from texts ``P``/``AP`` (``parallel``/``antiparallel``), or from 1/0."""
    out = []
    for s in np.asarray(state).ravel():
        key = str(s).strip().lower()
        if key in _STATES:
            out.append(_STATES[key])
        elif key in ("1", "1.0", "0", "0.0"):
            out.append(int(float(key)))
        else:
            raise ValueError(f"state {s!r}: expected P or AP")
    return np.asarray(out, dtype=int)


def _check(state, v_V, r_ohm) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated (is_p, v (V), r (ohm)) arrays of equal length; ValueError otherwise."""
    is_p = _states(state)
    v = np.asarray(v_V, dtype=float).ravel()
    r = np.asarray(r_ohm, dtype=float).ravel()
    if not (is_p.size == v.size == r.size):
        raise ValueError(f"state, v_V and r_ohm differ in length ({is_p.size}, {v.size}, {r.size})")
    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(r))):
        raise ValueError("v_V and r_ohm must be finite")
    if np.any(r <= 0):
        raise ValueError(f"r_ohm must be positive (found {r.min():g} ohm)")
    if is_p.sum() < 1 or (is_p == 0).sum() < 3:
        raise ValueError(f"need >= 1 P and >= 3 AP points (got {int(is_p.sum())} P, {int((is_p == 0).sum())} AP)")
    return is_p, v, r


def model_r_ohm(x: np.ndarray, is_p: np.ndarray, v: np.ndarray, quadratic: bool) -> np.ndarray:
    """Model resistance (ohm) for parameters x = (R_P0 ohm, TMR0, Vh V[, b 1/V²])."""
    r_p0, tmr0, vh = x[0], x[1], x[2]
    r_p = r_p0 * (1 + x[3] * v * v) if quadratic else np.full(v.shape, r_p0)
    r_ap = r_p0 * (1 + tmr0 / (1 + (v / vh) ** 2))
    return np.where(is_p == 1, r_p, r_ap)


def _start(is_p, v, r, quadratic: bool) -> np.ndarray:
    """Starting values: median R_P near zero bias, TMR0 from the AP point of smallest |V|, Vh where TMR halves."""
    p_small = is_p == 1
    r_p0 = float(np.median(r[p_small][np.argsort(np.abs(v[p_small]))[:5]]))
    ap = is_p == 0
    tmr = r[ap] / r_p0 - 1
    tmr0 = max(float(tmr[np.argmin(np.abs(v[ap]))]), 1e-3)
    below = np.abs(v[ap])[tmr < tmr0 / 2]
    vh = float(below.min()) if below.size else max(2 * float(np.abs(v[ap]).max()), 0.1)
    x0 = [r_p0, tmr0, max(vh, 1e-3)]
    return np.array(x0 + [0.0] if quadratic else x0)


def _solve(is_p, v, r, quadratic: bool):
    """least_squares on relative residuals; returns the scipy result."""
    from scipy.optimize import least_squares  # lazy: startup

    def resid(x: np.ndarray) -> np.ndarray:
        return model_r_ohm(x, is_p, v, quadratic) / r - 1

    x0 = _start(is_p, v, r, quadratic)
    lo = [0.0, 0.0, 1e-4] + ([-np.inf] if quadratic else [])
    return least_squares(resid, x0, bounds=(lo, np.inf), x_scale="jac", method="trf")


def _intervals(sol, n: int) -> list[tuple[float, float, float]]:
    """(value, lo, hi) per parameter from the Jacobian: cov = s² (JᵀJ)⁻¹, t quantile at 95 %."""
    from scipy.stats import t as student_t  # lazy: startup

    k = sol.x.size
    dof = max(n - k, 1)
    s2 = float(np.sum(sol.fun ** 2)) / dof
    try:
        cov = np.linalg.inv(sol.jac.T @ sol.jac) * s2
        se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    except np.linalg.LinAlgError:
        se = np.full(k, math.inf)
    q = float(student_t.ppf(0.975, dof))
    return [(float(x), float(x - q * e), float(x + q * e)) for x, e in zip(sol.x, se)]


def _needs_quadratic(is_p, v, r) -> tuple[bool, float]:
    """(include b V² in R_P, F-test p value) from the P rows alone: constant against R_P0 (1 + b V²)."""
    from scipy.stats import f as f_dist  # lazy: startup

    vp, rp = v[is_p == 1], r[is_p == 1]
    if vp.size < 4 or np.ptp(vp * vp) == 0:
        return False, 1.0
    rss0 = float(np.sum((rp / np.mean(rp) - 1) ** 2))
    a = np.column_stack([np.ones_like(vp), vp * vp])
    coef, *_ = np.linalg.lstsq(a, rp, rcond=None)
    rss1 = float(np.sum((a @ coef / rp - 1) ** 2))
    if rss1 <= 0:
        return rss0 > 0, 0.0 if rss0 > 0 else 1.0
    f = (rss0 - rss1) / (rss1 / (vp.size - 2))
    p = float(f_dist.sf(f, 1, vp.size - 2))
    return p < F_TEST_ALPHA, p


def _heldout_rms(is_p, v, r, quadratic: bool, seed: int = 0) -> float:
    """5-fold held-out relative RMS (folds by a seeded permutation); NaN when a fold leaves too few points."""
    idx = np.random.default_rng(seed).permutation(v.size)
    err = np.full(v.size, np.nan)
    for fold in np.array_split(idx, K_FOLD):
        train = np.setdiff1d(idx, fold)
        if is_p[train].sum() < 1 or (is_p[train] == 0).sum() < 3:
            return math.nan
        sol = _solve(is_p[train], v[train], r[train], quadratic)
        err[fold] = model_r_ohm(sol.x, is_p[fold], v[fold], quadratic) / r[fold] - 1
    return float(np.sqrt(np.mean(err ** 2)))


def fit_resistance(state, v_V, r_ohm) -> dict:
    """Fit R_P0 (ohm), TMR0 and Vh (V) to resistance-vs-bias data.

    ``state``: (n,) ``"P"``/``"AP"`` (or 1/0); ``v_V``: (n,) bias (V); ``r_ohm``: (n,) measured resistance (ohm).
    Returns {"r_p_ohm", "tmr0", "vh_V": (value, lo95, hi95), "r_p_quad_per_V2": (value, lo, hi) or None (R_P
    bias-independent), "r_p_model": "constant"|"quadratic", "f_test_p", "rms_rel", "heldout_rms_rel", "n",
    "n_p", "n_ap", "v_range_V": (min, max)}. ValueError on bad input (non-positive resistance, unknown state, …).
    """
    is_p, v, r = _check(state, v_V, r_ohm)
    quadratic, p_f = _needs_quadratic(is_p, v, r)
    sol = _solve(is_p, v, r, quadratic)
    ci = _intervals(sol, v.size)
    return {"r_p_ohm": ci[0], "tmr0": ci[1], "vh_V": ci[2], "r_p_quad_per_V2": ci[3] if quadratic else None,
            "r_p_model": "quadratic" if quadratic else "constant", "f_test_p": p_f,
            "rms_rel": float(np.sqrt(np.mean(sol.fun ** 2))),
            "heldout_rms_rel": _heldout_rms(is_p, v, r, quadratic), "n": int(v.size), "n_p": int(is_p.sum()),
            "n_ap": int((is_p == 0).sum()), "v_range_V": (float(v.min()), float(v.max()))}


def tmr_of_v(fit: dict, v_V) -> np.ndarray:
    """TMR(V) = TMR0 / (1 + V²/Vh²) of a :func:`fit_resistance` result (bias-independent R_P)."""
    v = np.asarray(v_V, dtype=float)
    return fit["tmr0"][0] / (1 + (v / fit["vh_V"][0]) ** 2)
