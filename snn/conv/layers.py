"""Layers of the convolutional network as pure functions on spike times (numba kernels for the hot loops).

A layer's input and output are spike-time maps (``int16``, (C, H, W); ``T`` = never fires; see
:mod:`.coding`). Weights are non-negative, so a neuron's potential ``u(t) = Σ_{inputs fired ≤ t} w`` never
decreases and one (time, potential) pair per neuron describes the whole run of T steps:

* :func:`conv_step` — valid cross-correlation of the input spikes with kernels (F, C, K, K) and a threshold:
  first step with ``u(t) > thr`` (strict, as SpykeTorch's ``fire``), the potential then, and the potential at the
  last step (the decision layer reads that one);
* :func:`pool_times` — max pooling of spike waves = earliest spike in each window (stride = window);
* :func:`pointwise_inhibition` — at each position only the feature that fires first (largest potential on a tie)
  keeps its spike;
* :func:`k_winners` — k-winners-take-all: up to k winners by (earliest spike, largest potential), one per
  feature map, each silencing every feature within a square radius r around it;
* :func:`stdp_dw` — the STDP change of a winner's kernel (LTP where the input fired no later than the winner).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


class ConvPotentials(NamedTuple):
    """State a conv layer leaves after a sample: potentials (F, Ho, Wo) float64 at the first spike (0 if silent)
    and at the last step."""

    v_first: np.ndarray
    v_final: np.ndarray


def pad_times(s: np.ndarray, pad: int, T: int) -> np.ndarray:
    """Pad a spike-time map (C, H, W) by ``pad`` never-firing (``T``) neurons on each side."""
    if pad == 0:
        return s
    return np.pad(s, ((0, 0), (pad, pad), (pad, pad)), mode="constant", constant_values=T)


def pool_times(s: np.ndarray, k: int) -> np.ndarray:
    """Max pooling (window = stride = ``k``, remainder rows/columns dropped) of a spike-time map (C, H, W): the
    earliest spike of each window. Returns (C, H//k, W//k)."""
    C, H, W = s.shape
    h, w = H // k, W // k
    return s[:, : h * k, : w * k].reshape(C, h, k, w, k).min(axis=(2, 4))


@njit(cache=True)
def _input_hist(s_in, wT, K, T, i, j, hist):
    """hist[t, f] = Σ of kernel weights of the inputs in the receptive field of (i, j) that fire at t; returns the
    number of such inputs."""
    C = s_in.shape[0]
    F = wT.shape[1]
    hist[:, :] = 0.0
    n = 0
    for c in range(C):
        for dy in range(K):
            for dx in range(K):
                t = s_in[c, i + dy, j + dx]
                if t < T:
                    row = wT[(c * K + dy) * K + dx]
                    for f in range(F):
                        hist[t, f] += row[f]
                    n += 1
    return n


@njit(cache=True)
def _conv_times(s_in, wT, K, thr, T):
    """wT: kernels as (C·K·K, F), contiguous over features (the inner loop is a vector add per active input)."""
    _, Hp, Wp = s_in.shape
    F = wT.shape[1]
    Ho, Wo = Hp - K + 1, Wp - K + 1
    t_out = np.full((F, Ho, Wo), T, np.int16)
    v_first = np.zeros((F, Ho, Wo))
    v_final = np.zeros((F, Ho, Wo))
    hist = np.zeros((T, F))
    cum = np.zeros(F)
    for i in range(Ho):
        for j in range(Wo):
            if _input_hist(s_in, wT, K, T, i, j, hist) == 0:
                continue
            cum[:] = 0.0
            for t in range(T):
                for f in range(F):
                    cum[f] += hist[t, f]
                    if t_out[f, i, j] == T and cum[f] > thr:
                        t_out[f, i, j] = t
                        v_first[f, i, j] = cum[f]
            v_final[:, i, j] = cum
    return t_out, v_first, v_final


def conv_step(s_in: np.ndarray, w: np.ndarray, thr: float, T: int) -> tuple[np.ndarray, ConvPotentials]:
    """One sample through a conv layer: input spike times (C, Hp, Wp) int16 (already padded), weights
    (F, C, K, K) float64 ≥ 0, threshold ``thr`` (same units as w). Returns (spike times (F, Hp−K+1, Wp−K+1) int16,
    :class:`ConvPotentials`)."""
    if s_in.ndim != 3 or w.ndim != 4 or s_in.shape[0] != w.shape[1]:
        raise ValueError(f"s_in (C,H,W) {s_in.shape} and w (F,C,K,K) {w.shape} do not match")
    K = w.shape[-1]
    wT = kernels_by_input(w)
    t, v1, vT = _conv_times(np.ascontiguousarray(s_in, dtype=np.int16), wT, K, float(thr), int(T))
    return t, ConvPotentials(v1, vT)


@njit(cache=True)
def _pointwise(t, v, T):
    F, H, W = t.shape
    out = np.full((F, H, W), T, np.int16)
    for i in range(H):
        for j in range(W):
            best = -1
            bt = T
            bv = -1.0
            for f in range(F):
                tf = t[f, i, j]
                if tf < bt or (tf == bt and tf < T and v[f, i, j] > bv):
                    best, bt, bv = f, tf, v[f, i, j]
            if best >= 0:
                out[best, i, j] = bt
    return out


def pointwise_inhibition(t: np.ndarray, v_first: np.ndarray, T: int) -> np.ndarray:
    """Keep at each position (i, j) only the spike of the feature that fires first, the one with the largest
    potential at that step on a tie (lowest feature index after that). ``t`` (F, H, W) spike times, ``v_first``
    potentials at the spike. Returns new spike times."""
    return _pointwise(np.ascontiguousarray(t, np.int16), np.ascontiguousarray(v_first, np.float64), int(T))


@njit(cache=True)
def _kwta(t, v, k, r, T):
    F, H, W = t.shape
    alive = t < T
    res = np.full((k, 3), -1, np.int64)
    n = 0
    for _ in range(k):
        best_f, best_i, best_j = -1, -1, -1
        bt = T
        bv = -1.0
        for f in range(F):
            for i in range(H):
                for j in range(W):
                    if alive[f, i, j]:
                        tf = t[f, i, j]
                        if tf < bt or (tf == bt and v[f, i, j] > bv):
                            best_f, best_i, best_j, bt, bv = f, i, j, tf, v[f, i, j]
        if best_f < 0:
            break
        res[n, 0], res[n, 1], res[n, 2] = best_f, best_i, best_j
        n += 1
        alive[best_f, :, :] = False
        if r > 0:
            alive[:, max(0, best_i - r):min(H, best_i + r + 1), max(0, best_j - r):min(W, best_j + r + 1)] = False
    return res[:n]


def k_winners(t: np.ndarray, v_first: np.ndarray, k: int, r: int, T: int) -> np.ndarray:
    """Up to ``k`` winners (feature, row, col) among the neurons that fire (``t < T``), chosen one after the other
    by earliest spike, then largest potential at it (then lowest flat index); a winner removes its feature map and
    every feature within the square of radius ``r`` around it (lateral inhibition). Returns (n ≤ k, 3) int64."""
    if k < 0 or r < 0:
        raise ValueError(f"k and r must be >= 0, got {k}, {r}")
    return _kwta(np.ascontiguousarray(t, np.int16), np.ascontiguousarray(v_first, np.float64), int(k), int(r),
                 int(T))


def receptive_field(s_in: np.ndarray, i: int, j: int, K: int) -> np.ndarray:
    """Input spike times (C, K, K) seen by the neuron at (i, j) of a valid K × K convolution."""
    return s_in[:, i:i + K, j:j + K]


def stdp_dw(pre_times: np.ndarray, t_post: int, w: np.ndarray, a_plus: float, a_minus: float,
            stabilizer: bool = True, f_tab: np.ndarray | None = None) -> np.ndarray:
    """STDP change of one winner's kernel: ``a_plus`` where the input fired no later than the post spike
    (``pre ≤ t_post``, causal or simultaneous), ``a_minus`` elsewhere (later or never), times ``w(1−w)`` with the
    ``stabilizer`` (the multiplicative rule of Mozafari et al. 2019 eq. 3). Shapes of ``pre_times`` and ``w``.

    ``f_tab`` (W+1,): a fitted rule (``spinsyn.snn.rules`` ``CompiledRule.f_tab``: f(k·dt)/max|f| per step of
    Δt = t_post − t_pre ≥ 0, 0 beyond the table) shapes the causal branch: ``a_plus·f`` where f ≥ 0 and
    ``−a_minus·f`` where f < 0 (so f = −1 gives ``a_minus``); later or silent inputs keep ``a_minus``."""
    causal = pre_times <= t_post
    if f_tab is None:
        a = np.where(causal, a_plus, a_minus)
    else:
        k = np.where(causal, t_post - pre_times.astype(np.int64), 0)
        f = np.where(k < len(f_tab), np.asarray(f_tab)[np.minimum(k, len(f_tab) - 1)], 0.0)
        a = np.where(causal, np.where(f >= 0.0, a_plus * f, -a_minus * f), a_minus)
    return a * (w * (1.0 - w)) if stabilizer else a


@njit(cache=True)
def _potential_scatter(x, wT, K):
    """u (Ho·Wo, F) in wT's dtype: every input that fired adds its kernel row to each output position it reaches
    (the work is the number of active inputs × positions reached × F, contiguous over F)."""
    C, Hp, Wp = x.shape
    F = wT.shape[1]
    Ho, Wo = Hp - K + 1, Wp - K + 1
    u = np.zeros((Ho * Wo, F), wT.dtype)
    for c in range(C):
        for y in range(Hp):
            for xx in range(Wp):
                if not x[c, y, xx]:
                    continue
                for i in range(max(0, y - K + 1), min(Ho, y + 1)):
                    for j in range(max(0, xx - K + 1), min(Wo, xx + 1)):
                        row = wT[(c * K + y - i) * K + xx - j]
                        p = i * Wo + j
                        for f in range(F):
                            u[p, f] += row[f]
    return u


@njit(cache=True)
def _argmax_fpos(u):
    """(flat index in (F, Ho, Wo) order, value) of the largest entry of u (Ho·Wo, F); the first in that order on a
    tie (np.argmax of the (F, Ho, Wo) array)."""
    P, F = u.shape
    best = 0
    bv = u[0, 0]
    for f in range(F):
        for p in range(P):
            if u[p, f] > bv:
                bv = u[p, f]
                best = f * P + p
    return best, bv


def kernels_by_input(w: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """Kernels (F, C, K, K) as a contiguous (C·K·K, F) matrix of ``dtype`` (the layout of the numba kernels)."""
    F = w.shape[0]
    return np.ascontiguousarray(np.asarray(w).reshape(F, -1).T, dtype=dtype)


def potential_binary(x: np.ndarray, w: np.ndarray, wT: np.ndarray | None = None) -> np.ndarray:
    """Potential (F, Ho, Wo) after all input spikes of a valid convolution of the binary map ``x`` (C, H, W) (input
    fired at all) with kernels ``w`` (F, C, K, K): the decision layer's last-step potential. ``wT``: a cached
    :func:`kernels_by_input` of ``w`` (its dtype is the accumulation dtype: float32 is what training and
    evaluation use, float64 the exact reference)."""
    K = w.shape[-1]
    if wT is None:
        wT = kernels_by_input(w)
    u = _potential_scatter(np.ascontiguousarray(x, np.bool_), wT, K)
    Ho, Wo = x.shape[1] - K + 1, x.shape[2] - K + 1
    return np.ascontiguousarray(u.T).reshape(wT.shape[1], Ho, Wo)


def winner_binary(x: np.ndarray, wT: np.ndarray, K: int) -> tuple[int, float]:
    """The decision layer's winner for the binary input ``x`` (C, H, W): (flat index in (F, Ho, Wo) order of the
    largest last-step potential, that potential), ties to the first index; ``wT`` (C·K·K, F) from
    :func:`kernels_by_input` (float32 or float64)."""
    flat, v = _argmax_fpos(_potential_scatter(np.ascontiguousarray(x, np.bool_), wT, int(K)))
    return int(flat), float(v)
