"""Compiled bookkeeping of one write-verify iteration for devices with integer states (compound synapses).

:func:`program.write_verify` reads, compares, chooses a direction and an ISPP boost, then pulses; numpy needs some
thirty passes over the active devices for the bookkeeping around the device physics. These two kernels do it in
one pass each, with the same floating-point operations in the same order (so the same pulses and the same chip);
the pulse amplitudes (``Calibration.v_for``) and the pulses themselves stay in numpy and the device model.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def select(active: np.ndarray, state: np.ndarray, g_tab: np.ndarray, g_lo: np.ndarray, g_hi: np.ndarray,
           n_p: np.ndarray, max_pulses: int, failed: np.ndarray, g_all: np.ndarray, target: np.ndarray,
           span: float, aim: float, last_pol: np.ndarray, nochange: np.ndarray,
           v_step: float) -> tuple:  # pragma: no cover - compiled
    """Read every active device (``g_all``), mark those out of band with no pulse left ``failed``, and return the
    devices to pulse: (indices, state, read G, towards higher G, fraction of the range to move, polarity, polarity
    flipped, ISPP boost (V))."""
    n = active.size
    keep = np.empty(n, np.int64)
    s_out = np.empty(n, state.dtype)
    g_out = np.empty(n)
    up = np.empty(n, np.bool_)
    frac = np.empty(n)
    pol = np.empty(n, np.int8)
    flipped = np.empty(n, np.bool_)
    boost = np.empty(n)
    m = 0
    for k in range(n):
        d = active[k]
        s = state[d]
        g = g_tab[s]
        g_all[d] = g
        if not (g < g_lo[d] or g > g_hi[d]):
            continue
        if n_p[d] >= max_pulses:
            failed[d] = True
            continue
        u = g < g_lo[d]
        need = np.float64(abs(target[d] - s))
        avail = span - s if u else np.float64(s)
        frac[m] = aim * need / max(avail, 1.0)
        p = 1 if u else -1
        f = p != last_pol[d]
        boost[m] = (0 if f else nochange[d]) * v_step
        keep[m], s_out[m], g_out[m], up[m], pol[m], flipped[m] = d, s, g, u, p, f
        m += 1
    return keep[:m], s_out[:m], g_out[:m], up[:m], frac[:m], pol[:m], flipped[:m], boost[:m]


@numba.njit(cache=True, nogil=True)
def update(active: np.ndarray, s: np.ndarray, new: np.ndarray, pol: np.ndarray, flipped: np.ndarray,
           nochange: np.ndarray, last_pol: np.ndarray, state: np.ndarray,
           n_p: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """After the pulses: ISPP counters, polarity, state and pulse count of every pulsed device; returns the step
    (pulses before this one) of each, for the pulse log."""
    step = np.empty(active.size, n_p.dtype)
    for k in range(active.size):
        d = active[k]
        step[k] = n_p[d]
        if new[k] != s[k]:
            nochange[d] = 0
        elif flipped[k]:
            nochange[d] = 1
        else:
            nochange[d] += 1
        last_pol[d] = pol[k]
        state[d] = new[k]
        n_p[d] += 1
    return step
