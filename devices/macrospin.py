"""Pulse switching of a perpendicular STT-MTJ from the macrospin Fokker–Planck equation (the write physics).

For a perpendicular free layer with a collinear (+z) reference layer, uniaxial anisotropy and an
angle-independent damping-like torque, the stochastic LLG is axially symmetric and ``u = m_z`` of the state
being left is a one-dimensional Markov process (Brown 1963; Butler et al., IEEE Trans. Magn. 48, 4684
(2012)). In units of the damping time ``tau_D = (1 + alpha²) / (alpha gamma mu0 Hk)`` its density obeys

    d rho/d tau = d/du [ (1 - u²) ( (1/(2 Delta)) d rho/du - (u - i) rho ) ]

with ``i = I_aid / Ic0`` (positive drives the switch away from u = +1) and stationary density
exp(Delta (u - i)²). The magnet starts in thermal equilibrium in its well (rho0 ~ exp(Delta u²), u > 0); a
pulse of width w switches it when u(w) < 0 (m_z = 0 is the zero-bias separatrix: after the pulse the magnet
relaxes to the side it is on). So ``p(i, w)`` = the mass at u < 0 at tau = w / tau_D, which covers every
regime with one equation: precessional switching from the thermal initial-angle distribution above Ic0 (the
incubation delay and the narrow window of Sun 2000 / Butler 2012), the crossover near Ic0, and thermal
activation below it (Brown's escape rate with its prefactor).

Numerics: a Scharfetter–Gummel finite-volume discretisation on a uniform grid of u (exact detailed balance,
accurate at any drift) and implicit Euler steps on a geometric time grid (every update is the inverse of an
M-matrix, so every density stays non-negative and tails far below 1e-10 keep their relative accuracy), both
with Richardson extrapolation. ``p`` and ``1 - p`` are both accumulated from non-negative masses (no
cancellation) and tabulated in log space on a grid of (i, log tau); :class:`SwitchingTable` interpolates.

Zero-current escape time (retention): Brown's asymptotic tau_D sqrt(pi/Delta) e^Delta (``brown_escape_time_s``);
``escape_time_s`` gives the exact mean first-passage time of the same equation by quadrature (they agree
within 1/Delta).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
import signal
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
from spinsyn.fileio import atomic_path, user_cache_dir

from .physics import damping_time_s, derive

#: grid of the table: I/Ic0 from I_MIN to I_MAX every I_STEP, tau/tau_D from TAU_MIN to TAU_MAX (geometric)
I_MIN, I_MAX, I_STEP = -0.5, 4.0, 0.025
TAU_MIN, TAU_MAX, TAU_RATIO = 1e-3, 2.0e3, 1.02
N_CELLS = 600
LOG_FLOOR = -700.0


#: damping time tau_D = (1 + alpha²)/(alpha gamma mu0 Hk) (s) of an ``STTMTJ``: the equation's time unit
tau_d_s = damping_time_s


def brown_escape_time_s(mtj) -> float:
    """Brown's asymptotic zero-bias escape time from one well (s): tau_D sqrt(pi/Delta) e^Delta."""
    delta = float(derive(mtj).delta)
    return tau_d_s(mtj) * math.sqrt(math.pi / delta) * math.exp(delta)


def escape_time_s(mtj, i_rel: float = 0.0, n: int = 200001) -> float:
    """Mean time (s) to switch for good from u = +1 at a constant aiding current i_rel Ic0, from the
    Fokker–Planck equation by quadrature (log-safe): the mean first-passage time to the separatrix u = 0 divided
    by the committor at u = 0 (the probability of going on to u = -1 rather than back to +1; 1/2 at zero
    current, where this is twice the first-passage time, ~1 once the barrier top u = i lies well above 0)."""
    delta = float(derive(mtj).delta)
    u = np.linspace(0.0, 1.0, n)
    du = u[1] - u[0]
    phi = delta * (u - i_rel) ** 2  # log of the stationary density
    top = phi.max()
    w = np.exp(phi - top)
    inner = np.concatenate([np.cumsum((w[:0:-1] + w[-2::-1]) * du / 2)[::-1], [0.0]])  # int_y^1 e^phi / e^top
    d = np.maximum(1 - u * u, 1e-300) / (2 * delta)
    f = inner * np.exp(top - phi) / d
    f[-1] = 0.0
    mfpt = float(np.sum((f[1:] + f[:-1]) * du / 2))
    return tau_d_s(mtj) * mfpt / committor_at_separatrix(delta, i_rel)


def committor_at_separatrix(delta: float, i_rel: float, n: int = 200001) -> float:
    """Probability that the magnet at u = 0 reaches u = -1 before u = +1: int_0^1 g / int_-1^1 g with
    g = exp(-Delta (u - i)²) / (1 - u²) (ends cut at 1e-6, where g carries no weight)."""
    u = np.linspace(-1 + 1e-6, 1 - 1e-6, n)
    e = -delta * (u - i_rel) ** 2
    g = np.exp(e - e.max()) / (1 - u * u)
    c = np.concatenate([[0.0], np.cumsum((g[1:] + g[:-1]) / 2)])
    return float((c[-1] - c[n // 2]) / c[-1])


# ---------------------------------------------------------------------------------- the solver (numba)


@numba.njit(cache=True)
def _bernoulli(x):
    """B(x) = x / (e^x - 1), B(0) = 1."""
    if abs(x) < 1e-8:
        return 1.0 - 0.5 * x
    if x > 700.0:
        return x * math.exp(-x)
    return x / math.expm1(x)


@numba.njit(cache=True)
def _rates(delta, i_rel, n):
    """Scharfetter–Gummel transfer rates across the n - 1 inner faces of n cells on [-1, 1]: ``up[f]`` from cell
    f to f + 1, ``dn[f]`` from f + 1 to f (in 1/tau_D)."""
    h = 2.0 / n
    up = np.empty(n - 1)
    dn = np.empty(n - 1)
    for f in range(n - 1):
        uf = -1.0 + (f + 1) * h
        ua, ub = uf - 0.5 * h, uf + 0.5 * h
        dphi = -delta * ((ub - i_rel) ** 2 - (ua - i_rel) ** 2)  # Phi = -Delta (u - i)^2, rho_s = exp(-Phi)
        d = (1.0 - uf * uf) / (2.0 * delta) / (h * h)
        up[f] = d * _bernoulli(dphi)
        dn[f] = d * _bernoulli(-dphi)
    return up, dn


@numba.njit(cache=True)
def _implicit_step(rho, up, dn, dt, out, cp, dp):
    """out = (I - dt M)^-1 rho for the tridiagonal generator M of (up, dn) (Thomas algorithm; I - dt M is an
    M-matrix with dominant columns, so no pivoting is needed and out >= 0)."""
    n = rho.size
    for j in range(n):
        a = -dt * up[j - 1] if j > 0 else 0.0  # sub-diagonal: inflow from j - 1
        c = -dt * dn[j] if j < n - 1 else 0.0  # super-diagonal: inflow from j + 1
        b = 1.0 + dt * ((up[j] if j < n - 1 else 0.0) + (dn[j - 1] if j > 0 else 0.0))
        if j == 0:
            cp[j] = c / b
            dp[j] = rho[j] / b
        else:
            m = b - a * cp[j - 1]
            cp[j] = c / m
            dp[j] = (rho[j] - a * dp[j - 1]) / m
    out[n - 1] = dp[n - 1]
    for j in range(n - 2, -1, -1):
        out[j] = dp[j] - cp[j] * out[j + 1]


@numba.njit(cache=True)
def _evolve(delta, i_rel, n, taus, substeps):
    """(log p, log(1 - p)) at each time of ``taus`` (increasing, in tau_D) from the thermal start in the u > 0
    well; ``substeps`` implicit Euler steps per interval."""
    h = 2.0 / n
    rho = np.zeros(n)
    for j in range(n // 2, n):
        u = -1.0 + (j + 0.5) * h
        rho[j] = math.exp(delta * (u * u - 1.0))
    rho /= rho.sum()
    up, dn = _rates(delta, i_rel, n)
    out = np.empty(n)
    cp = np.empty(n)
    dp = np.empty(n)
    lp = np.empty(taus.size)
    lq = np.empty(taus.size)
    t = 0.0
    for k in range(taus.size):
        dt = (taus[k] - t) / substeps
        for _ in range(substeps):
            _implicit_step(rho, up, dn, dt, out, cp, dp)
            rho, out = out, rho
        t = taus[k]
        p = rho[: n // 2].sum()
        q = rho[n // 2:].sum()
        lp[k] = math.log(p) if p > 0 else LOG_FLOOR
        lq[k] = math.log(q) if q > 0 else LOG_FLOOR
    return lp, lq


_DEFERRED = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGINT/SIGTERM while compiled code runs (~10 ms): a Python handler that raises inside a numba call
    surfaces as "SystemError: ... returned a result with an exception set"; held, the signal is delivered as
    the call returns and the handler raises cleanly in Python."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _DEFERRED)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def tau_grid() -> np.ndarray:
    """The table's times (tau_D): geometric from TAU_MIN to TAU_MAX."""
    k = math.ceil(math.log(TAU_MAX / TAU_MIN) / math.log(TAU_RATIO))
    return TAU_MIN * TAU_RATIO ** np.arange(k + 1)


def i_grid() -> np.ndarray:
    return np.round(np.arange(I_MIN, I_MAX + I_STEP / 2, I_STEP), 10)


def solve(delta: float, i_rel: float, taus: np.ndarray, n: int = N_CELLS, ratio: float = TAU_RATIO) -> tuple:
    """(log p, log(1 - p)) at ``taus`` (tau_D, increasing): implicit Euler through a geometric grid of step
    ``ratio`` (plus the times asked for), Richardson-extrapolated from steps s and s/2 in log space."""
    taus = np.asarray(taus, dtype=float)
    k = math.ceil(math.log(max(taus[-1], TAU_MIN) / TAU_MIN) / math.log(ratio))
    grid = np.unique(np.concatenate([np.linspace(TAU_MIN / 16, TAU_MIN, 16), TAU_MIN * ratio ** np.arange(k + 1),
                                     taus]))
    grid = grid[grid <= taus[-1]]
    pick = np.searchsorted(grid, taus)

    def run(s):
        with _signals_deferred():
            lp, lq = _evolve(float(delta), float(i_rel), n, grid, s)
        return lp[pick], lq[pick]

    a, b = run(1), run(2)
    return np.minimum(2 * b[0] - a[0], 0.0), np.minimum(2 * b[1] - a[1], 0.0)


# ------------------------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class SwitchingTable:
    """log p and log(1 - p) of one macrospin (``delta``, ``tau_d_s``) on the grid ``i_rel`` (I,) x ``log_tau``
    (T,) (tau = width / tau_D); ``lp``, ``lq`` (I, T). :meth:`p` / :meth:`log_p_q` interpolate bilinearly in
    (i, log tau); past the longest time log(1 - p) falls at the last escape rate; currents outside the grid
    are clamped to it (at I_MIN below -0.5 Ic0 the true p is smaller; above I_MAX larger)."""

    delta: float
    tau_d_s: float
    i_rel: np.ndarray
    log_tau: np.ndarray
    lp: np.ndarray
    lq: np.ndarray

    def log_p_q(self, i_rel, width_s) -> tuple[np.ndarray, np.ndarray]:
        """(log p, log(1 - p)) at aiding currents ``i_rel`` (of Ic0) and widths ``width_s`` (s), broadcast."""
        i, w = np.broadcast_arrays(np.asarray(i_rel, float), np.asarray(width_s, float))
        x = np.clip((i - self.i_rel[0]) / (self.i_rel[1] - self.i_rel[0]), 0, self.i_rel.size - 1)
        k = np.minimum(x.astype(np.int64), self.i_rel.size - 2)
        fx = x - k
        lt = np.log(np.maximum(w, 1e-30) / self.tau_d_s)
        step = self.log_tau[1] - self.log_tau[0]
        y = (lt - self.log_tau[0]) / step
        j = np.clip(np.floor(y).astype(np.int64), 0, self.log_tau.size - 2)
        fy = y - j  # < 0 before the grid, > 1 after it: linear extrapolation in log tau (refined below)

        def at(tab):
            a = tab[k, j] + (tab[k, j + 1] - tab[k, j]) * fy
            b = tab[k + 1, j] + (tab[k + 1, j + 1] - tab[k + 1, j]) * fy
            return a + (b - a) * fx

        lp, lq = at(self.lp), at(self.lq)
        late = y > self.log_tau.size - 1
        if late.any():  # beyond the longest time: the magnet leaves its well at the last escape rate
            lp_late, lq_late = self._late(k, fx, np.exp(lt))
            lp, lq = np.where(late, lp_late, lp), np.where(late, lq_late, lq)
        early = y < 0
        lq = np.where(early, np.log1p(-np.exp(np.minimum(lp, -1e-12))), lq)
        return np.minimum(lp, 0.0), np.minimum(lq, 0.0)

    def _late(self, k, fx, tau):
        """(log p, log(1 - p)) after the last time: p = p1 + q1 (1 - exp(-rate (tau - t1))), the rate
        d(-log q)/dt at the end taken from p where p is small (q rounds to 1 there) and from q elsewhere."""
        t1, t0 = np.exp(self.log_tau[-1]), np.exp(self.log_tau[-2])

        def one(kk):
            p1, p0 = np.exp(self.lp[kk, -1]), np.exp(self.lp[kk, -2])
            q1 = np.exp(self.lq[kk, -1])
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                rate = np.where(p1 < 0.5, (p1 - p0) / ((t1 - t0) * np.maximum(q1, 1e-300)),
                                (self.lq[kk, -2] - self.lq[kk, -1]) / (t1 - t0))
                rate = np.where(np.isfinite(rate), np.maximum(rate, 0.0), 0.0)
                grow = -np.expm1(-rate * np.maximum(tau - t1, 0.0))
                lp = np.log(np.clip(p1 + q1 * grow, 1e-300, 1.0))
            lq = np.maximum(self.lq[kk, -1] - rate * (tau - t1), LOG_FLOOR)
            return lp, lq

        (pa, qa), (pb, qb) = one(k), one(k + 1)
        return pa + (pb - pa) * fx, qa + (qb - qa) * fx

    def p(self, i_rel, width_s) -> np.ndarray:
        """Switching probability (from log p below 1/2, from 1 - exp(log(1 - p)) above)."""
        lp, lq = self.log_p_q(i_rel, width_s)
        return np.where(lp < math.log(0.5), np.exp(lp), -np.expm1(lq))


def build_table(delta: float, tau_d: float) -> SwitchingTable:
    """Solve the Fokker–Planck equation on the whole (i, tau) grid (about 2 s)."""
    taus = tau_grid()
    cur = i_grid()
    lp = np.empty((cur.size, taus.size))
    lq = np.empty_like(lp)
    for k, i in enumerate(cur):
        lp[k], lq[k] = solve(delta, float(i), taus)  # the grid is the table's own: no extra times
    return SwitchingTable(float(delta), float(tau_d), cur, np.log(taus), lp, lq)


@functools.lru_cache(maxsize=16)
def _table(delta: float, tau_d: float) -> SwitchingTable:
    path = _cache_file(delta, tau_d)
    tab = _load_cached(path) if path is not None else None
    if tab is None:
        tab = build_table(delta, tau_d)
        if path is not None:
            _store(path, tab)
    return tab


# ------------------------------------------------------------------------------- the on-disk table cache

_SOURCE_SHA = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def cache_dir() -> Path:
    """``$SPINSYN_CACHE_DIR/macrospin``, else ``$XDG_CACHE_HOME/spinsyn/macrospin`` (``~/.cache`` by default)."""
    if os.environ.get("SPINSYN_CACHE_DIR"):
        return Path(os.environ["SPINSYN_CACHE_DIR"]) / "macrospin"
    return user_cache_dir("macrospin")


def _cache_file(delta: float, tau_d: float) -> Path | None:
    """The table's file, named by the sha256 of its inputs and of this module's source (a change of the
    equation, the grid or the numerics is a new file); None when no cache folder can be named."""
    key = hashlib.sha256(f"{delta!r}|{tau_d!r}|{_SOURCE_SHA}".encode()).hexdigest()[:32]
    try:
        return cache_dir() / f"table-{key}.npz"
    except (OSError, RuntimeError):
        return None


def _digest(lp: np.ndarray, lq: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(lp).tobytes() + np.ascontiguousarray(lq).tobytes()).hexdigest()


def _load_cached(path: Path) -> SwitchingTable | None:
    """The cached table if present and intact (its stored sha256 of the arrays matches); a damaged file is
    reported and rebuilt, never trusted."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            lp, lq, meta = z["lp"], z["lq"], z["meta"]
            ok = str(z["sha256"]) == _digest(lp, lq) and lp.shape == lq.shape == (i_grid().size, tau_grid().size)
        if ok:
            return SwitchingTable(float(meta[0]), float(meta[1]), i_grid(), np.log(tau_grid()), lp, lq)
    except (OSError, ValueError, KeyError, IndexError):
        pass
    warnings.warn(f"{path}: damaged switching-table cache; recomputing it", RuntimeWarning, stacklevel=3)
    return None


def _store(path: Path, tab: SwitchingTable) -> None:
    """Write atomically (``fileio.atomic_path``); an unwritable cache is skipped."""
    try:
        with atomic_path(path) as tmp:
            np.savez(tmp, lp=tab.lp, lq=tab.lq, meta=np.array([tab.delta, tab.tau_d_s]),
                     sha256=np.array(_digest(tab.lp, tab.lq)))
    except OSError:
        pass


def switching_table(mtj) -> SwitchingTable:
    """The (cached) table of an ``STTMTJ``'s nominal macrospin: its Delta and tau_D (gates, tau0_ns,
    barrier_exponent and transit_eps play no part: they shape the drive law of the sweep engines only)."""
    return _table(round(float(derive(mtj).delta), 9), round(tau_d_s(mtj), 18))


def table(delta: float, tau_d_s: float) -> SwitchingTable:
    """The (cached) table of a macrospin of thermal stability ``delta`` and damping time ``tau_d_s`` (s), for cells
    given by those numbers rather than by geometry (``devices.measured_mtj``)."""
    return _table(round(float(delta), 9), round(float(tau_d_s), 18))


def delta_needed(tau_d: float, t_s: float, max_flip: float) -> float:
    """Smallest Delta whose Brown escape time tau_D sqrt(pi/Delta) e^Delta keeps the flipped fraction of a
    two-state telegraph process, (1 - exp(-2 t/tau))/2, at or below ``max_flip`` after ``t_s`` seconds."""
    from scipy.optimize import brentq  # lazy: startup

    tau_req = 2 * t_s / -math.log1p(-2 * max_flip)
    return float(brentq(lambda d: math.log(tau_d) + 0.5 * math.log(math.pi / d) + d - math.log(tau_req), 1.0, 500.0))
