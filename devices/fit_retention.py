"""Fit of the thermal stability Δ from retention data (``spinsyn.devices.fit_retention``).

A population of ``n_cells`` two-state cells, each flipping back and forth at the zero-bias escape rate 1/τ
(telegraph process), shows after a bake time t a flipped fraction f(t) = (1 − exp(−2t/τ))/2, with Brown's
τ = τ_D √(π/Δ) e^Δ (``macrospin.brown_escape_time_s``). Binomial maximum likelihood over Δ with τ_D given
(default 1 ns, stated in the result); a profile-likelihood 95 % interval (2 ΔNLL = χ²₁(0.95) = 3.84) and the
binomial deviance as goodness of fit. With temperatures: Δ(T) = Δ300 · 300/T (the barrier over kT, the barrier
itself taken temperature-independent) and Δ300 is fitted.
"""

from __future__ import annotations

import math

import numpy as np
from spinsyn.labfile import Column

#: the columns of a retention lab file (``spinsyn.labfile.read_table``)
RETENTION_COLUMNS = (
    Column("t_s", "s", ("t", "time", "bake time", "t_bake", "retention time", "elapsed")),
    Column("n_cells", "1", ("cells", "n", "n_total", "total", "attempts")),
    Column("n_flipped", "1", ("flipped", "n_flip", "failed", "n_failed", "errors")),
    Column("temperature_K", "K", ("temperature", "temp", "T_bake", "bake temperature"), required=False),
)
TAU_D_DEFAULT_S = 1e-9
T_REF_K = 300.0
CHI2_1_95 = 3.841458820694124
DELTA_RANGE = (1.0, 200.0)


def _check(t_s, n_cells, n_flipped, temperature_K) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Validated (t (s), n, k, T (K) or None) arrays of equal length; ValueError otherwise."""
    t = np.asarray(t_s, dtype=float).ravel()
    n = np.asarray(n_cells, dtype=float).ravel()
    k = np.asarray(n_flipped, dtype=float).ravel()
    if not (t.size == n.size == k.size) or t.size == 0:
        raise ValueError(f"t_s, n_cells and n_flipped must be non-empty and equally long ({t.size}, {n.size}, "
                         f"{k.size})")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("t_s must be finite and >= 0")
    if np.any(n != np.round(n)) or np.any(k != np.round(k)) or np.any(n < 1) or np.any(k < 0):
        raise ValueError("n_cells must be integers >= 1 and n_flipped integers >= 0")
    if np.any(k > n):
        raise ValueError(f"n_flipped > n_cells at {int(np.sum(k > n))} row(s)")
    temp = None
    if temperature_K is not None:
        temp = np.broadcast_to(np.asarray(temperature_K, dtype=float), t.shape).ravel()
        if not np.all(np.isfinite(temp)) or np.any(temp <= 0):
            raise ValueError("temperature_K must be finite and > 0")
    return t, n, k, temp


def flipped_fraction(t_s, delta, tau_d_s: float = TAU_D_DEFAULT_S) -> np.ndarray:
    """f = (1 − exp(−2t/τ))/2 with τ = τ_D √(π/Δ) e^Δ (t in s; Δ scalar or per row)."""
    d = np.asarray(delta, dtype=float)
    with np.errstate(divide="ignore"):
        log_rate = np.log(2 * np.asarray(t_s, dtype=float) / tau_d_s) + 0.5 * np.log(d / math.pi) - d
    return -np.expm1(-np.exp(log_rate)) / 2


def retention_time_s(delta: float, tau_d_s: float = TAU_D_DEFAULT_S) -> float:
    """Brown's zero-bias escape time τ = τ_D √(π/Δ) e^Δ (s)."""
    return tau_d_s * math.sqrt(math.pi / delta) * math.exp(delta)


def _nll(delta300: float, t, n, k, scale, tau_d_s: float) -> float:
    """Binomial negative log-likelihood (constant dropped) of Δ300 (Δ per row = Δ300 · scale)."""
    p = np.clip(flipped_fraction(t, delta300 * scale, tau_d_s), 1e-300, 0.5)
    return float(-np.sum(k * np.log(p) + (n - k) * np.log1p(-p)))


def _deviance(delta300: float, t, n, k, scale, tau_d_s: float) -> float:
    """Binomial deviance 2 Σ [k ln(k/np) + (n−k) ln((n−k)/(n(1−p)))] against the saturated model."""
    p = np.clip(flipped_fraction(t, delta300 * scale, tau_d_s), 1e-300, 0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(k > 0, k * np.log(k / (n * p)), 0.0)
        b = np.where(n - k > 0, (n - k) * np.log((n - k) / (n * (1 - p))), 0.0)
    return float(2 * np.sum(a + b))


def _mle(f, lo: float, hi: float) -> tuple[float, np.ndarray, np.ndarray]:
    """Minimiser of f over [lo, hi] (grid then bounded refinement); also the grid and its values."""
    from scipy.optimize import minimize_scalar  # lazy: startup

    grid = np.linspace(lo, hi, int((hi - lo) * 4) + 1)
    vals = np.array([f(x) for x in grid])
    i = int(np.argmin(vals))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    res = minimize_scalar(f, bounds=(a, b), method="bounded", options={"xatol": 1e-6})
    best = float(res.x) if res.fun <= vals[i] else float(grid[i])
    return best, grid, vals


def _profile_bounds(f, best: float, grid, vals) -> tuple[float, float]:
    """Where 2 (f − f(best)) = 3.84 on each side of ``best`` (the range's end when it does not get there)."""
    from scipy.optimize import brentq  # lazy: startup

    f0 = f(best)
    g = lambda x: 2 * (f(x) - f0) - CHI2_1_95  # noqa: E731
    out = []
    for side in (grid[grid < best][::-1], grid[grid > best]):
        hit = next((x for x in side if g(x) > 0), None)
        if hit is None:  # not reached within the range: its end (or best itself at the end)
            out.append(float(side[-1]) if side.size else best)
        else:
            out.append(float(brentq(g, min(best, hit), max(best, hit), xtol=1e-6)))
    return out[0], out[1]


def fit_retention(t_s, n_cells, n_flipped, tau_d_s: float | None = None, temperature_K=None) -> dict:
    """Thermal stability Δ from retention counts.

    ``t_s``: (n,) bake/wait times (s); ``n_cells``: (n,) cells observed; ``n_flipped``: (n,) of them found
    flipped; ``tau_d_s``: Brown's damping time τ_D (s), default 1 ns (``tau_d_assumed`` says so);
    ``temperature_K``: None, a scalar or (n,) per row: then Δ(T) = Δ300 · 300/T and ``delta`` is Δ at 300 K.
    Returns {"delta": (value, lo95, hi95) (profile likelihood; a bound at 1 or 200 means not reached),
    "delta_at": "300 K" | "measurement temperature", "tau_d_s", "tau_d_assumed", "retention_s": (τ at the
    value, lo, hi) (s), "deviance", "dof", "gof_p" (χ² survival of the deviance), "n", "identifiable"}.
    ValueError on bad input (n_flipped > n_cells, negative times, …).
    """
    from scipy.stats import chi2  # lazy: startup

    t, n, k, temp = _check(t_s, n_cells, n_flipped, temperature_K)
    tau_d = TAU_D_DEFAULT_S if tau_d_s is None else float(tau_d_s)
    if not (math.isfinite(tau_d) and tau_d > 0):
        raise ValueError(f"tau_d_s must be > 0 (got {tau_d_s})")
    scale = np.ones_like(t) if temp is None else T_REF_K / temp

    def f(d: float) -> float:
        return _nll(d, t, n, k, scale, tau_d)

    best, grid, vals = _mle(f, *DELTA_RANGE)
    lo, hi = _profile_bounds(f, best, grid, vals)
    dev = _deviance(best, t, n, k, scale, tau_d)
    dof = max(t.size - 1, 1)
    return {"delta": (best, lo, hi), "delta_at": "measurement temperature" if temp is None else "300 K",
            "tau_d_s": tau_d, "tau_d_assumed": tau_d_s is None,
            "retention_s": tuple(retention_time_s(d, tau_d) for d in (best, lo, hi)),
            "deviance": dev, "dof": dof, "gof_p": float(chi2.sf(dev, dof)), "n": int(t.size),
            "identifiable": bool(DELTA_RANGE[0] < lo and hi < DELTA_RANGE[1])}
