"""Fit a measured STT-MTJ's switching from pulse counts: binomial maximum likelihood of the macrospin
Fokker–Planck physics, per direction (``spinsyn device fit``).

Data: rows (direction, width_ns, v_V, n_attempts, n_switched); ``AP->P`` rows have v_V > 0 (V_pre − V_post,
current through R_AP(V)), ``P->AP`` rows v_V < 0 (current through R_P). R_P, TMR0 and Vh come from resistance
data (``fit_resistance``) or are given.

Model: P(switch) = p_FP(Delta_d, I/Ic0_d, width/tau_D), the mass past the separatrix of the Fokker–Planck
equation (``devices.macrospin``), with per-direction critical current Ic0_d and barrier Delta_d and a shared
damping time tau_D. The likelihood sum_k [k log p + (n − k) log(1 − p)] uses log p and log(1 − p) straight from
the solver's tables (no cancellation in the tails). Tables on a grid of Delta (every ``NODE_STEP``) on the
currents 0..4 Ic0 are solved once (about 1.4 s each, cached on disk next to the write tables) and interpolated
in Delta, current and log time by Catmull–Rom splines (C¹: no kinks at the nodes; log p is smooth in all three,
near-linear in Delta in the thermal regime).

Start: a grid search over (tau_D, Delta, Ic0) per direction; then Nelder–Mead on (Delta_d, ln Ic0_d, ln tau_D).
Intervals: profile likelihood for each Delta_d (the likelihood-ratio 95 % bound, 1.92 below the maximum),
Wald (numerical Hessian) for Ic0_d and tau_D. Goodness of fit: deviance against the saturated model with its
chi² p-value, and k-fold held-out prediction error (rows split at random, seed 0).
"""

from __future__ import annotations

import functools
import hashlib
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.fileio import atomic_path
from spinsyn.labfile import Column

from . import macrospin
from .physics import r_ap_formula

NODE_STEP = 5.0
NODE_MIN, NODE_MAX = 5.0, 160.0
DELTA_BOUNDS = (8.0, 150.0)
TAU_D_BOUNDS_NS = (0.1, 50.0)
I_GRID = np.round(np.arange(0.0, 4.0 + 1e-9, 0.05), 10)
DIRECTIONS = ("AP->P", "P->AP")
Z95_LR = 0.5 * 3.841458820694124  # half the chi²(1) 95 % quantile

#: the columns of a switching-count file (``spinsyn.labfile.read_table``)
SWITCHING_COLUMNS = (
    Column("direction", None, ("dir", "switching direction", "transition", "polarity")),
    Column("width_ns", "ns", ("width", "pulse width", "t_pulse", "pulse duration", "duration", "tp", "w")),
    Column("v_V", "V", ("v", "v_pulse", "voltage", "amplitude", "pulse amplitude", "v_write", "vp")),
    Column("n_attempts", "1", ("attempts", "n", "trials", "n_trials", "pulses", "total")),
    Column("n_switched", "1", ("switched", "k", "n_sw", "successes", "switches", "n_success")),
)


@dataclass(frozen=True)
class SwitchingData:
    """Rows of switching counts: ``to_p`` (R,) bool (AP->P), ``width_ns``, ``v_V``, ``n`` attempts, ``k``
    switched."""

    to_p: np.ndarray
    width_ns: np.ndarray
    v_V: np.ndarray
    n: np.ndarray
    k: np.ndarray

    def __post_init__(self) -> None:
        r = self.to_p.size
        if r == 0:
            raise ValueError("no switching rows")
        if not all(np.asarray(a).shape == (r,) for a in (self.width_ns, self.v_V, self.n, self.k)):
            raise ValueError("switching columns differ in length")
        if not np.all(np.isfinite(self.width_ns) & (self.width_ns > 0)):
            raise ValueError("width_ns must be finite and > 0")
        if np.any(self.n < 1) or np.any(self.k < 0) or np.any(self.k > self.n):
            bad = int(np.nonzero((self.n < 1) | (self.k < 0) | (self.k > self.n))[0][0])
            raise ValueError(f"row {bad + 1}: need n_attempts >= 1 and 0 <= n_switched <= n_attempts")
        wrong = np.nonzero(np.where(self.to_p, self.v_V <= 0, self.v_V >= 0))[0]
        if wrong.size:
            i = int(wrong[0])
            raise ValueError(f"row {i + 1}: {DIRECTIONS[0 if self.to_p[i] else 1]} with v_V = {self.v_V[i]:g}: "
                             "AP->P needs v_V > 0 and P->AP v_V < 0 (v = V_pre - V_post); "
                             f"{wrong.size} row(s) have the other sign")

    @classmethod
    def from_columns(cls, direction, width_ns, v_V, n, k) -> SwitchingData:
        """From a direction text column (``AP->P``/``P->AP``, also ``set``/``reset``, ``to_p``/``to_ap``)."""
        d = np.array([_direction(x) for x in direction], dtype=bool)
        return cls(d, np.asarray(width_ns, float), np.asarray(v_V, float), np.asarray(n, np.int64),
                   np.asarray(k, np.int64))

    def subset(self, rows: np.ndarray) -> SwitchingData:
        return SwitchingData(self.to_p[rows], self.width_ns[rows], self.v_V[rows], self.n[rows], self.k[rows])


def _direction(text: Any) -> bool:
    t = str(text).strip().lower().replace(" ", "").replace("→", "->")
    if t in ("ap->p", "ap2p", "to_p", "top", "set", "ap-p", "aptop"):
        return True
    if t in ("p->ap", "p2ap", "to_ap", "toap", "reset", "p-ap", "ptoap"):
        return False
    raise ValueError(f"direction {str(text)[:40]!r}: expected AP->P or P->AP")


# ------------------------------------------------------------------------------------ the node tables


def _node_file(delta: float) -> Path | None:
    key = hashlib.sha256(f"fit-node|{delta!r}|{I_GRID.size}|{macrospin._SOURCE_SHA}".encode()).hexdigest()[:32]
    try:
        return macrospin.cache_dir() / f"fitnode-{key}.npz"
    except (OSError, RuntimeError):
        return None


@functools.lru_cache(maxsize=64)
def node_table(delta: float) -> macrospin.SwitchingTable:
    """The Fokker–Planck table of Delta = ``delta`` on the fit's current grid (0..4 Ic0 every 0.05), in units of
    tau_D (``tau_d_s`` = 1: pass width/tau_D as the width); cached on disk (sha256-checked)."""
    path = _node_file(delta)
    taus = macrospin.tau_grid()
    if path is not None and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                lp, lq = z["lp"], z["lq"]
                if str(z["sha256"]) == macrospin._digest(lp, lq) and lp.shape == (I_GRID.size, taus.size):
                    return macrospin.SwitchingTable(delta, 1.0, I_GRID, np.log(taus), lp, lq)
        except (OSError, ValueError, KeyError):
            pass
        warnings.warn(f"{path}: damaged fit-table cache; recomputing it", RuntimeWarning, stacklevel=2)
    lp = np.empty((I_GRID.size, taus.size))
    lq = np.empty_like(lp)
    for j, i in enumerate(I_GRID):
        lp[j], lq[j] = macrospin.solve(delta, float(i), taus)
    if path is not None:
        try:
            with atomic_path(path) as tmp:
                np.savez(tmp, lp=lp, lq=lq, sha256=np.array(macrospin._digest(lp, lq)))
        except OSError:
            pass
    return macrospin.SwitchingTable(delta, 1.0, I_GRID, np.log(taus), lp, lq)


def _cr_weights(t: np.ndarray) -> np.ndarray:
    """Catmull–Rom weights (4, ...) of the points k−1, k, k+1, k+2 at fraction t in [0, 1] (C¹ across nodes,
    so the likelihood has no kinks at the table's nodes for the optimiser to stick on)."""
    t2, t3 = t * t, t * t * t
    return np.stack([(-t3 + 2 * t2 - t) / 2, (3 * t3 - 5 * t2 + 2) / 2, (-3 * t3 + 4 * t2 + t) / 2, (t3 - t2) / 2])


def _stencil(x: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (4, ...) and Catmull–Rom weights (4, ...) at fractional grid positions x on a grid of n points
    (clamped to [0, n − 1]; the stencil's outer points are clamped to the grid)."""
    x = np.clip(x, 0.0, n - 1.0)
    k = np.minimum(np.floor(x).astype(np.int64), n - 2)
    idx = np.clip(k[None] + np.arange(-1, 3).reshape((4,) + (1,) * k.ndim), 0, n - 1)
    return idx, _cr_weights(x - k)


def _node_log_p_q(tab: macrospin.SwitchingTable, i_rel: np.ndarray, tau: np.ndarray):
    """Bicubic (Catmull–Rom in i and log tau) (log p, log(1 − p)) of one node table; times past the table's
    end use the table's own extrapolation (``SwitchingTable.log_p_q``)."""
    xi = (i_rel - tab.i_rel[0]) / (tab.i_rel[1] - tab.i_rel[0])
    lt = np.log(np.maximum(tau, 1e-30))
    xt = (lt - tab.log_tau[0]) / (tab.log_tau[1] - tab.log_tau[0])
    ii, wi = _stencil(xi, tab.i_rel.size)
    it, wt = _stencil(xt, tab.log_tau.size)
    out = []
    for arr in (tab.lp, tab.lq):
        vals = arr[ii[:, None], it[None, :]]  # (4, 4, ...)
        out.append(np.einsum("a...,b...,ab...->...", wi, wt, vals))
    outside = (xt > tab.log_tau.size - 1) | (xt < 0)
    if np.any(outside):
        lp2, lq2 = tab.log_p_q(i_rel, tau)
        out = [np.where(outside, lp2, out[0]), np.where(outside, lq2, out[1])]
    return out[0], out[1]


def log_p_q(delta: float, i_rel: np.ndarray, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log p, log(1 − p)) at thermal stability ``delta`` (any value in range), aiding currents ``i_rel`` (of Ic0)
    and times ``tau`` (of tau_D): Catmull–Rom across the node tables in Delta, bicubic within each."""
    i_rel, tau = np.broadcast_arrays(np.asarray(i_rel, float), np.asarray(tau, float))
    n_nodes = int(round((NODE_MAX - NODE_MIN) / NODE_STEP)) + 1
    x = min(max((delta - NODE_MIN) / NODE_STEP, 1.0), n_nodes - 3.0)
    k = min(int(math.floor(x)), n_nodes - 3)
    w = _cr_weights(np.asarray(x - k))
    lp = np.zeros(i_rel.shape)
    lq = np.zeros(i_rel.shape)
    for m in range(4):
        tp, tq = _node_log_p_q(node_table(NODE_MIN + (k - 1 + m) * NODE_STEP), i_rel, tau)
        lp += w[m] * tp
        lq += w[m] * tq
    return np.clip(lp, macrospin.LOG_FLOOR, 0.0), np.clip(lq, macrospin.LOG_FLOOR, 0.0)


# ------------------------------------------------------------------------------------------ the model


@dataclass(frozen=True)
class Electrical:
    """R_P (ohm) and R_AP(V) = R_P (1 + TMR0/(1 + V²/Vh²)) of the junction."""

    r_p_ohm: float
    tmr0: float
    vh_V: float

    def aiding_current_A(self, data: SwitchingData) -> np.ndarray:
        """|I| (A) aiding each row's switch: V/R_AP(V) for AP->P, −V/R_P for P->AP."""
        r_ap = r_ap_formula(self.r_p_ohm, self.tmr0, self.vh_V, data.v_V)
        return np.where(data.to_p, data.v_V / r_ap, -data.v_V / self.r_p_ohm)


def _unpack(x: np.ndarray, dirs: tuple[bool, ...]) -> tuple[dict[bool, tuple[float, float]], float]:
    """x = [Delta_d, ln Ic0_d (uA)] per present direction + [ln tau_D (ns)] -> ({to_p: (Delta, Ic0_A)}, tau_D_ns)."""
    per = {d: (float(x[2 * m]), math.exp(x[2 * m + 1]) * 1e-6) for m, d in enumerate(dirs)}
    return per, math.exp(x[-1])


def row_log_p_q(x: np.ndarray, dirs: tuple[bool, ...], data: SwitchingData, i_A: np.ndarray):
    """(log p, log(1 − p)) of every row at parameters x."""
    per, tau_ns = _unpack(x, dirs)
    lp, lq = np.empty(data.to_p.size), np.empty(data.to_p.size)
    for d, (delta, ic0) in per.items():
        m = data.to_p == d
        lp[m], lq[m] = log_p_q(delta, i_A[m] / ic0, data.width_ns[m] / tau_ns)
    return lp, lq


def nll(x: np.ndarray, dirs: tuple[bool, ...], data: SwitchingData, i_A: np.ndarray) -> float:
    """Negative binomial log-likelihood (constant terms dropped); +inf outside the bounds."""
    per, tau_ns = _unpack(x, dirs)
    if not TAU_D_BOUNDS_NS[0] <= tau_ns <= TAU_D_BOUNDS_NS[1]:
        return math.inf
    if any(not DELTA_BOUNDS[0] <= dl <= DELTA_BOUNDS[1] for dl, _ in per.values()):
        return math.inf
    lp, lq = row_log_p_q(x, dirs, data, i_A)
    return -float(np.sum(data.k * lp + (data.n - data.k) * lq))


def _start(dirs: tuple[bool, ...], data: SwitchingData, i_A: np.ndarray) -> np.ndarray:
    """Grid search: per tau_D, each direction's best (Delta node, Ic0) on a log grid around the data's currents."""
    best: tuple[float, np.ndarray] = (math.inf, np.zeros(2 * len(dirs) + 1))
    for tau_ns in np.geomspace(0.1, 20.0, 9):
        x = []
        total = 0.0
        for d in dirs:
            m = data.to_p == d
            sub, im = data.subset(np.nonzero(m)[0]), i_A[m]
            cands = [(nll(np.array([dl, math.log(ic * 1e6), math.log(tau_ns)]), (d,), sub, im), dl, ic)
                     for dl in (15.0, 20.0, 30.0, 40.0, 55.0, 75.0, 100.0)
                     for ic in float(np.max(im)) * np.geomspace(0.15, 2.0, 24)]
            v, dl, ic = min(cands)
            total += v
            x += [dl, math.log(ic * 1e6)]
        if total < best[0]:
            best = (total, np.array([*x, math.log(tau_ns)]))
    return best[1]


def _minimise(f, x0: np.ndarray, quick: bool = False) -> np.ndarray:
    """Powell, then Nelder–Mead restarted until it stops improving (the likelihood is smooth but its valleys
    are long: Delta and Ic0 trade against each other). ``quick``: one Nelder–Mead pass from a good start (the
    profile's and the folds' warm starts)."""
    from scipy.optimize import minimize  # lazy: startup

    if quick:
        r = minimize(f, x0, method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-5, "maxfev": 3000,
                                                           "adaptive": True})
        return np.asarray(r.x)

    res = minimize(f, x0, method="Powell", options={"xtol": 1e-6, "ftol": 1e-9, "maxfev": 20000})
    x, fx = np.asarray(res.x), float(res.fun)
    for _ in range(6):
        r = minimize(f, x, method="Nelder-Mead",
                     options={"xatol": 1e-6, "fatol": 1e-7, "maxfev": 8000, "adaptive": True})
        if fx - r.fun < 1e-6:
            break
        x, fx = np.asarray(r.x), float(r.fun)
    return x


def maximum_likelihood(data: SwitchingData, el: Electrical, x0: np.ndarray | None = None) -> np.ndarray:
    """The MLE x (see :func:`_unpack`) of ``data`` (start: :func:`_start`; from ``x0``, a near solution, one
    quick pass)."""
    dirs = present_directions(data)
    i_A = el.aiding_current_A(data)
    if x0 is not None:
        return _minimise(lambda x: nll(x, dirs, data, i_A), x0, quick=True)
    return _minimise(lambda x: nll(x, dirs, data, i_A), _start(dirs, data, i_A))


def present_directions(data: SwitchingData) -> tuple[bool, ...]:
    return tuple(d for d in (True, False) if np.any(data.to_p == d))


# ------------------------------------------------------------------------------------ intervals, checks


def profile_interval(data: SwitchingData, el: Electrical, x_hat: np.ndarray, index: int,
                     step: float = 2.0) -> tuple[float, float]:
    """95 % profile-likelihood interval of parameter ``index`` of x (a Delta): walk out from the MLE in steps,
    re-maximising the others, until the log-likelihood drops by 1.92; linear interpolation at the crossing."""
    dirs = present_directions(data)
    i_A = el.aiding_current_A(data)
    f0 = nll(x_hat, dirs, data, i_A)
    others = [j for j in range(x_hat.size) if j != index]
    ends = []
    for sign in (-1.0, 1.0):
        prev_v, prev_d, rest = 0.0, float(x_hat[index]), x_hat[others]
        end = DELTA_BOUNDS[0] if sign < 0 else DELTA_BOUNDS[1]
        for n_step in range(1, 200):
            val = float(x_hat[index]) + sign * step * n_step
            if not DELTA_BOUNDS[0] <= val <= DELTA_BOUNDS[1]:
                break

            def f(r, val=val):
                x = np.empty_like(x_hat)
                x[index], x[others] = val, r
                return nll(x, dirs, data, i_A)

            rest = _minimise(f, rest, quick=True)
            drop = f(rest) - f0
            if drop >= Z95_LR:
                end = prev_d + (val - prev_d) * (Z95_LR - prev_v) / (drop - prev_v)
                break
            prev_v, prev_d = drop, val
        ends.append(end)
    return ends[0], ends[1]


def wald_sd(data: SwitchingData, el: Electrical, x_hat: np.ndarray) -> np.ndarray:
    """Standard errors of x from the numerical Hessian of the negative log-likelihood (NaN where singular)."""
    dirs = present_directions(data)
    i_A = el.aiding_current_A(data)
    n = x_hat.size
    h = np.where(np.arange(n) % 2 == 0, 0.05, 0.005)
    h[-1] = 0.005
    f = functools.partial(nll, dirs=dirs, data=data, i_A=i_A)
    hess = np.empty((n, n))
    for a in range(n):
        for b in range(a, n):
            def at(sa, sb, a=a, b=b):
                x = x_hat.copy()
                x[a] += sa * h[a]
                x[b] += sb * h[b]
                return f(x)
            hess[a, b] = hess[b, a] = (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / (4 * h[a] * h[b])
    try:
        cov = np.linalg.inv(hess)
        return np.sqrt(np.where(np.diag(cov) > 0, np.diag(cov), np.nan))
    except np.linalg.LinAlgError:
        return np.full(n, np.nan)


def goodness(data: SwitchingData, p: np.ndarray, n_params: int) -> dict[str, float]:
    """Deviance G² against the saturated model, its chi² p-value, RMS of p − k/n and the share of rows within
    max(0.10, 2 binomial SE) of the prediction."""
    from scipy.stats import chi2  # lazy: startup

    obs = data.k / data.n
    p = np.clip(p, 1e-300, 1 - 1e-16)
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = np.where(data.k > 0, data.k * np.log(obs / p), 0.0)
        t2 = np.where(data.k < data.n, (data.n - data.k) * np.log((1 - obs) / (1 - p)), 0.0)
    dev = float(2 * np.sum(t1 + t2))
    df = max(int(data.n.size) - n_params, 1)
    return {"deviance": dev, "df": df, "p_value": float(chi2.sf(dev, df)),
            "rms_p": float(np.sqrt(np.mean((p - obs) ** 2))), "within_2se": within_share(p, data)}


def within_share(p: np.ndarray, data: SwitchingData) -> float:
    """Share of rows with |p − k/n| <= max(0.10, 2 sqrt(p (1 − p)/n))."""
    tol = np.maximum(0.10, 2 * np.sqrt(np.clip(p * (1 - p), 0, None) / data.n))
    return float(np.mean(np.abs(p - data.k / data.n) <= tol))


def kfold(data: SwitchingData, el: Electrical, x_hat: np.ndarray, k: int = 5, seed: int = 0) -> dict[str, Any]:
    """k-fold held-out prediction: rows split at random (``seed``), each fold refitted from the full MLE and
    predicted; RMS of p − k/n over all held-out rows and the share within max(0.10, 2 SE)."""
    r = data.to_p.size
    k = int(min(k, r))
    folds = np.array_split(np.random.default_rng(seed).permutation(r), k)
    p_pred = np.empty(r)
    for test in folds:
        train = np.setdiff1d(np.arange(r), test)
        sub = data.subset(train)
        if present_directions(sub) != present_directions(data):
            p_pred[test] = np.nan
            continue
        x = maximum_likelihood(sub, el, x_hat)
        lp, lq = row_log_p_q(x, present_directions(data), data.subset(test), el.aiding_current_A(data.subset(test)))
        p_pred[test] = np.where(lp < math.log(0.5), np.exp(lp), -np.expm1(lq))
    ok = np.isfinite(p_pred)
    obs = data.k / data.n
    return {"k": k, "seed": seed, "rms_p": float(np.sqrt(np.mean((p_pred[ok] - obs[ok]) ** 2))),
            "within_2se": within_share(p_pred[ok], data.subset(np.nonzero(ok)[0]))}


def fit_switching(data: SwitchingData, el: Electrical, *, folds: int = 5, temperature_K: float = 300.0,
                  profile: bool = True) -> tuple[Any, dict[str, Any]]:
    """Fit ``data`` -> (``MeasuredMTJ``, report). A direction without data keeps the other's Ic0 and Delta (noted).
    Report: ``parameters`` (value, unit, ci95, method), ``switching`` (goodness, k-fold, notes), ``validity``."""
    from .measured_mtj import MeasuredMTJ  # lazy: startup

    dirs = present_directions(data)
    x = maximum_likelihood(data, el)
    per, tau_ns = _unpack(x, dirs)
    sd = wald_sd(data, el, x)
    notes: list[str] = []
    params: dict[str, Any] = {}
    for m, d in enumerate(dirs):
        tag = "to_p" if d else "to_ap"
        lo_hi = profile_interval(data, el, x, 2 * m) if profile else (math.nan, math.nan)
        ic = per[d][1] * 1e6
        params[f"delta_{tag}"] = {"value": per[d][0], "unit": "kT", "ci95": list(lo_hi),
                                  "method": "profile likelihood"}
        params[f"ic0_{tag}_uA"] = {"value": ic, "unit": "uA", "method": "Wald (Hessian of ln Ic0)",
                                   "ci95": [ic * math.exp(-1.96 * sd[2 * m + 1]), ic * math.exp(1.96 * sd[2 * m + 1])]}
    params["tau_d_ns"] = {"value": tau_ns, "unit": "ns", "method": "Wald (Hessian of ln tau_D)",
                          "ci95": [tau_ns * math.exp(-1.96 * sd[-1]), tau_ns * math.exp(1.96 * sd[-1])]}
    for d in (True, False):
        if d not in per:
            other = per[not d]
            per[d] = other
            notes.append(f"no {DIRECTIONS[0 if d else 1]} rows: that direction takes the other's Ic0 and Delta")
    cell = MeasuredMTJ(r_p_ohm=el.r_p_ohm, tmr0=el.tmr0, vh_V=el.vh_V, ic0_to_p_uA=per[True][1] * 1e6,
                       ic0_to_ap_uA=per[False][1] * 1e6, delta_to_p=per[True][0], delta_to_ap=per[False][0],
                       tau_d_ns=tau_ns, temperature_K=temperature_K)
    lp, lq = row_log_p_q(x, dirs, data, el.aiding_current_A(data))
    p = np.where(lp < math.log(0.5), np.exp(lp), -np.expm1(lq))
    report = {"method": "binomial maximum likelihood; macrospin Fokker-Planck per direction (Delta_d, Ic0_d), "
                        "shared tau_D", "rows": int(data.to_p.size), "attempts": int(data.n.sum()),
              **goodness(data, p, x.size), "kfold": kfold(data, el, x, folds) if folds >= 2 else None,
              "notes": notes}
    validity = {"width_ns": [float(data.width_ns.min()), float(data.width_ns.max())],
                "v_V": [float(data.v_V.min()), float(data.v_V.max())]}
    return cell, {"parameters": params, "switching": report, "validity": validity}
