"""Compiled bookkeeping of one write-verify iteration for devices with integer states (compound synapses), and of
the schedule and report of a programmed tile batch.

:func:`program.write_verify` reads, compares, chooses a direction and an ISPP boost, then pulses; numpy needs some
thirty passes over the active devices for the bookkeeping around the device physics. :func:`select` and
:func:`update` do it in one pass each, with the same floating-point operations in the same order (so the same pulses
and the same chip); the pulse amplitudes (``Calibration.v_for``) and the pulses themselves stay in numpy and the
device model. Likewise, one pass each over a batch's pulses: :func:`schedule_rows` (``export.build_schedule``: the
pulse log reordered into schedule rows), :func:`split_bincount` (``program.half_select_exposure``),
:func:`tile_energy_sums` (``export._tile_costs``) and :func:`half_select_gather` (``export._parts``), replacing numpy's
boolean selections, gathers and ``bincount`` calls with the same sums in the same order; transcendental functions
and pairwise (``np.sum``) reductions stay in numpy, so every value written is bit-identical.
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


@numba.njit(cache=True, nogil=True)
def schedule_rows(dev: np.ndarray, step: np.ndarray, first: np.ndarray, used: np.ndarray, v_V: np.ndarray,
                  polarity: np.ndarray, g_before: np.ndarray, lo_S: np.ndarray, hi_S: np.ndarray, R: int, C: int,
                  width_ns: float, fields: tuple, out: tuple) -> None:  # pragma: no cover - compiled
    """The pulse log (iteration-major) reordered device-major, step inside: pulse ``i`` goes to row
    ``first[dev[i]] + step[i]``. Fills ``fields`` (the schedule's columns row, col, step, v_V, width_ns, polarity,
    verify_lo_S, verify_hi_S: views of the rows array) and ``out`` (per row: cell index in the set, float64
    amplitude, read conductance before, tile), with the values numpy's casts give (float32 rounded to nearest,
    integers truncated)."""
    row, col, step_out, v32, width32, pol_out, lo_out, hi_out = fields
    cell, v_out, g_out, tile_of_row = out
    rc = R * C
    for i in range(dev.size):
        d = dev[i]
        p = first[d] + step[i]
        c = used[d]
        loc = c % rc
        row[p] = loc // C
        col[p] = loc % C
        step_out[p] = step[i]
        v32[p] = v_V[i]
        width32[p] = width_ns
        pol_out[p] = polarity[i]
        lo_out[p] = lo_S[d]
        hi_out[p] = hi_S[d]
        cell[p] = c
        v_out[p] = v_V[i]
        g_out[p] = g_before[i]
        tile_of_row[p] = c // rc


@numba.njit(cache=True, nogil=True)
def split_bincount(cell: np.ndarray, up: np.ndarray, w_up: np.ndarray, w_down: np.ndarray, n_cells: int,
                   swap: bool) -> tuple:  # pragma: no cover - compiled
    """``(np.bincount(cell[up], w_up[up], n_cells), np.bincount(cell[~up], w_down[~up], n_cells))`` in one pass, the
    weights added in the same order (so the same sums); ``swap``: the first takes ``~up`` and ``w_up``, the second
    ``up`` and ``w_down`` (the V/3 opposite-polarity exposures)."""
    a = np.zeros(n_cells)
    b = np.zeros(n_cells)
    for i in range(cell.size):
        if up[i] != swap:
            a[cell[i]] += w_up[i]
        else:
            b[cell[i]] += w_down[i]
    return a, b


@numba.njit(cache=True, nogil=True)
def tile_energy_sums(tile: np.ndarray, v_V: np.ndarray, g_before: np.ndarray, g_line: np.ndarray, divisor: float,
                     width_ns: float, n_tiles: int) -> tuple:  # pragma: no cover - compiled
    """Per tile (``np.bincount(tile, ..., n_tiles)`` order): write energy ``v**2 g_before width 1e-9``, half-select
    energy ``(v / divisor)**2 g_line width 1e-9`` (``program.pulse_energy_J``'s operations) and summed ``g_before``."""
    e_w = np.zeros(n_tiles)
    e_h = np.zeros(n_tiles)
    g_b = np.zeros(n_tiles)
    for i in range(tile.size):
        t = tile[i]
        v = v_V[i]
        vh = v / divisor
        e_w[t] += v * v * g_before[i] * width_ns * 1e-9
        e_h[t] += vh * vh * g_line[i] * width_ns * 1e-9
        g_b[t] += g_before[i]
    return e_w, e_h, g_b


@numba.njit(cache=True, nogil=True)
def half_select_gather(v_V: np.ndarray, polarity: np.ndarray, divisor: float, v_resolution: float, p_P: np.ndarray,
                       p_AP: np.ndarray) -> tuple:  # pragma: no cover - compiled
    """Per pulse, the table index of its half-select voltage ``clip(rint(|v| / divisor / v_resolution), 0, J - 1)``
    (numpy's ``np.round`` operations): (``p_P`` at the set pulses', ``p_AP`` at the reset pulses' indices, in pulse
    order, and the largest index; -1 without pulses). The caller sums them with numpy (pairwise, as before)."""
    n = v_V.size
    top = p_P.size - 1
    a = np.empty(n)
    b = np.empty(n)
    na = 0
    nb = 0
    hi = -1
    for i in range(n):
        j = int(np.rint(np.abs(v_V[i]) / divisor / v_resolution))
        if j < 0:
            j = 0
        elif j > top:
            j = top
        if j > hi:
            hi = j
        if polarity[i] > 0:
            a[na] = p_P[j]
            na += 1
        else:
            b[nb] = p_AP[j]
            nb += 1
    return a[:na], b[:nb], hi
