"""Compiled R-STDP of the decision layer on sparse inputs (issue 27: 680 passes over 60,000 images on a CPU).

The conv-3 input of an image is binary and sparse (a fraction of the C·H·W inputs fire), and layers 1-2 are frozen
during R-STDP, so every image's input is stored once as the sorted flat indices of the inputs that fired
(:class:`SparseInputs`, CSR). :func:`sparse_winner` accumulates the decision layer's last-step potentials from
that list in the same order as :func:`.layers.winner_binary` (every input in (c, y, x) order adds its kernel row to
each output position it reaches), so the decisions are bit for bit those of the dense path. :func:`rstdp_pass_ideal`
runs a whole pass of ideal (float) weights without returning to Python: decide, reward or punish the winner's
kernel in float64 with the clip of :func:`.updates.apply_update`, refresh its float32 column, count the adaptive
rates ([M19] §2.3). :func:`rstdp_pass_compound` does the same on compound:N synapses, drawing the MTJ switching
from the run's NumPy generator inside the compiled loop (numba's ``Generator.binomial`` makes NumPy's draws, in
the same order as :func:`.updates.apply_update`), so it too is bit for bit the Python loop. Other device kinds
stay on the Python loop of :func:`.network._train_rstdp`, which uses :func:`sparse_winner` for the decision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .layers import _argmax_fpos
from .updates import LayerWeights


@dataclass(frozen=True)
class SparseInputs:
    """Binary conv-3 inputs (n, C, H, W) as CSR: image n fired the flat (c·H + y)·W + x indices
    ``idx[ptr[n]:ptr[n + 1]]`` (int32, ascending); ``shape`` (C, H, W)."""

    ptr: np.ndarray
    idx: np.ndarray
    shape: tuple[int, int, int]

    def __len__(self) -> int:
        return len(self.ptr) - 1

    @staticmethod
    def from_dense(x3: np.ndarray) -> SparseInputs:
        """From the binary array ``x3`` (n, C, H, W) (bool, or anything nonzero where an input fired)."""
        x3 = np.asarray(x3)
        if x3.ndim != 4:
            raise ValueError(f"x3 must be (n, C, H, W), got shape {x3.shape}")
        flat = x3.reshape(len(x3), -1)
        rows, cols = np.nonzero(flat)  # row-major: by image, then ascending flat index
        ptr = np.zeros(len(x3) + 1, np.int64)
        np.cumsum(np.bincount(rows, minlength=len(x3)), out=ptr[1:])
        return SparseInputs(ptr, cols.astype(np.int32), (int(x3.shape[1]), int(x3.shape[2]), int(x3.shape[3])))

    def dense(self, n: int) -> np.ndarray:
        """Image ``n``'s input (C, H, W) bool."""
        out = np.zeros(int(np.prod(self.shape)), np.bool_)
        out[self.idx[self.ptr[n]:self.ptr[n + 1]]] = True
        return out.reshape(self.shape)


@njit(cache=True)
def _potentials(idx, a, b, wT, u, H, W, K):
    """u (Ho·Wo, F) = last-step potentials of the inputs idx[a:b]; same accumulation order as the dense scatter."""
    u[:] = 0
    Ho, Wo = H - K + 1, W - K + 1
    F = wT.shape[1]
    for q in range(a, b):
        c, r = divmod(idx[q], H * W)
        y, xx = divmod(r, W)
        for i in range(max(0, y - K + 1), min(Ho, y + 1)):
            for j in range(max(0, xx - K + 1), min(Wo, xx + 1)):
                row = (c * K + y - i) * K + xx - j
                p = i * Wo + j
                for f in range(F):
                    u[p, f] += wT[row, f]


@njit(cache=True)
def _argmax_active(u, active):
    """:func:`.layers._argmax_fpos` of u (Ho·Wo, F) over the features with ``active[f]`` only; (0, 0.0) when none
    is active (silent)."""
    P, F = u.shape
    best, bv, found = 0, 0.0, False
    for f in range(F):
        if not active[f]:
            continue
        for p in range(P):
            if not found or u[p, f] > bv:
                bv, best, found = u[p, f], f * P + p, True
    return best, bv


@njit(cache=True)
def _winner(ptr, idx, n, wT, u, H, W, K, active):
    _potentials(idx, ptr[n], ptr[n + 1], wT, u, H, W, K)
    if active is None:
        return _argmax_fpos(u)
    return _argmax_active(u, active)


def sparse_winner(x: SparseInputs, n: int, wT: np.ndarray, K: int, u: np.ndarray | None = None,
                  active: np.ndarray | None = None) -> tuple[int, float]:
    """:func:`.layers.winner_binary` of image ``n``: (flat index in (F, Ho, Wo) order of the first largest
    last-step potential, that potential). ``wT`` (C·K·K, F) float32 or float64; ``u`` a reusable (Ho·Wo, F) buffer
    of wT's dtype; ``active`` (F,) bool: only these features may win (R-STDP dropout; None: all)."""
    C, H, W = x.shape
    if u is None:
        u = np.empty(((H - K + 1) * (W - K + 1), wT.shape[1]), wT.dtype)
    flat, v = _winner(x.ptr, x.idx, int(n), wT, u, H, W, int(K), active)
    return int(flat), float(v)


@njit(cache=True)
def _reward(w, wT, f, pre, a_in, a_out, lo, hi):
    """Feature f's kernel (float64, flat) += a_in where pre else a_out, clipped to [lo, hi]; float32 copy in wT."""
    for e in range(w.shape[1]):
        t = w[f, e] + (a_in if pre[e] else a_out)
        t = min(max(t, lo), hi)
        w[f, e] = t
        wT[e, f] = t


@njit(cache=True)
def _mark_field(idx, a, b, pre, H, W, K, i, j):
    """pre (C·K·K) bool = inputs of idx[a:b] inside the K × K field at output (i, j), in kernel layout."""
    pre[:] = False
    for q in range(a, b):
        c, r = divmod(idx[q], H * W)
        y, xx = divmod(r, W)
        if i <= y < i + K and j <= xx < j + K:
            pre[(c * K + y - i) * K + xx - j] = True


@njit(cache=True)
def _pass(order, ptr, idx, labels, w, wT, H, W, K, per_class, rates, counts, lr, clip, adapt_every, compound, k, gp,
          gap, dev, rng, active, every):
    """One R-STDP pass over ``order``: ideal weights (``_reward``) or compound synapses (``_compound_update``;
    ``k``, ``gp``, ``gap``, ``dev``, ``rng`` are read only then); the q-th image of the pass may be won only by the
    features of ``active[q // every]`` (None: all)."""
    Ho, Wo = H - K + 1, W - K + 1
    u = np.empty((Ho * Wo, wT.shape[1]), wT.dtype)
    pre = np.empty(w.shape[1], np.bool_)
    hits_pass = 0
    for q in range(len(order)):
        n = order[q]
        if active is None:
            flat, v = _winner(ptr, idx, n, wT, u, H, W, K, None)
        else:
            flat, v = _winner(ptr, idx, n, wT, u, H, W, K, active[q // every])
        if v > 0.0:
            f, rest = divmod(flat, Ho * Wo)
            i, j = divmod(rest, Wo)
            _mark_field(idx, ptr[n], ptr[n + 1], pre, H, W, K, i, j)
            if f // per_class == labels[n]:
                a_in, a_out = lr[0] * rates[0], lr[1] * rates[0]
                counts[0] += 1
                hits_pass += 1
            else:
                a_in, a_out = lr[2] * rates[1], lr[3] * rates[1]
                counts[1] += 1
            if compound:
                _compound_update(k[f], gp[f], gap[f], w[f], wT, f, pre, a_in, a_out, clip[0], clip[1], dev, rng)
            else:
                _reward(w, wT, f, pre, a_in, a_out, clip[0], clip[1])
        counts[2] += 1
        if counts[2] == adapt_every:
            rates[0], rates[1] = counts[1] / counts[2], counts[0] / counts[2]
            counts[:] = 0
    return hits_pass


#: stand-ins for the compound arguments of :func:`_pass` on ideal weights (never read there)
_NO_K = np.zeros((1, 1), np.int32)
_NO_G = np.zeros((1, 1))
_NO_DEV = (1, 1.0, 0.0, 1.0, 0.0, 1.0, False)


def rstdp_pass_ideal(order: np.ndarray, x: SparseInputs, labels: np.ndarray, w: np.ndarray, wT: np.ndarray,
                     K: int, per_class: int, rates: np.ndarray, counts: np.ndarray, lr: tuple[float, ...],
                     lo: float, hi: float, adapt_every: int, active: DropoutMasks | None = None) -> int:
    """One R-STDP pass over images ``order`` of ``x`` with ``labels`` (n,) int64 on ideal float weights, in place:
    ``w`` (F, C·K·K) float64 kernels, ``wT`` (C·K·K, F) their float32 copy the potentials sum, ``rates`` [f_miss,
    f_hit] float64 and ``counts`` [hits, misses, block] int64 of the adaptive rates, ``lr`` (ar+, ar−, ap−, ap+);
    ``active``: the features not dropped (None: all). Returns the images decided correctly."""
    C, H, W = x.shape
    return int(_pass(np.asarray(order, np.int64), x.ptr, x.idx, labels, w, wT, H, W, int(K), int(per_class), rates,
                     counts, np.asarray(lr, np.float64), (float(lo), float(hi)), int(adapt_every), False, _NO_K, _NO_G,
                     _NO_G, _NO_DEV, np.random.default_rng(0), *_masks(active)))


@dataclass(frozen=True)
class DropoutMasks:
    """R-STDP dropout of one pass: the q-th image of the pass may be won only by the features with
    ``active[q // every]`` (``active`` (n_masks, F) bool)."""

    active: np.ndarray
    every: int

    def row(self, q: int) -> np.ndarray:
        """The mask (F,) of the q-th image of the pass."""
        return self.active[q // self.every]


def _masks(m: DropoutMasks | None) -> tuple[np.ndarray | None, int]:
    return (None, 1) if m is None else (np.ascontiguousarray(m.active, np.bool_), int(m.every))


@njit(cache=True)
def _compound_update(k, gp, gap, w, wT, f, pre, a_in, a_out, clip_lo, clip_hi, dev, rng):
    """:func:`.updates.apply_update` of a compound:N kernel (flat views of feature f), same operations and the same
    binomial draws from ``rng`` in the same order (all LTP draws of the kernel, then all LTD draws).
    ``dev`` = (N, gain, G_min, G_max, lo, hi, signed)."""
    n, gain, gmin, gmax, lo, hi, signed = dev
    E = k.shape[0]
    d = np.empty(E)
    for e in range(E):
        t = lo + (hi - lo) * (k[e] / n) + (a_in if pre[e] else a_out)
        t = (min(max(t, clip_lo), clip_hi) - lo) / (hi - lo)
        d[e] = gain * (t * n - k[e])
    up = np.empty(E, np.int64)
    for e in range(E):
        p = min(1.0, d[e] / max(n - k[e], 1)) if d[e] > 0 and k[e] < n else 0.0
        up[e] = rng.binomial(n - k[e], p)
    for e in range(E):
        p = min(1.0, -d[e] / max(k[e], 1)) if d[e] < 0 and k[e] > 0 else 0.0
        k[e] = k[e] + up[e] - rng.binomial(k[e], p)
    for e in range(E):
        x = (k[e] * gp[e] + (n - k[e]) * gap[e] - gmin) / (gmax - gmin)
        if not signed:
            x = min(max(x, 0.0), 1.0)
        w[e] = lo + (hi - lo) * x
        wT[e, f] = w[e]


def rstdp_pass_compound(order: np.ndarray, x: SparseInputs, labels: np.ndarray, lw: LayerWeights, wT: np.ndarray,
                        K: int, per_class: int, rates: np.ndarray, counts: np.ndarray, lr: tuple[float, ...],
                        lo: float, hi: float, adapt_every: int, rng: np.random.Generator,
                        active: DropoutMasks | None = None) -> int:
    """:func:`rstdp_pass_ideal` on compound:N synapses ``lw`` (state, per-synapse G_P and G_AP, read weights; in
    place), the MTJ switching drawn from ``rng`` exactly as :func:`.updates.apply_update` draws it; [lo, hi]: the
    R-STDP clip of the targets."""
    C, H, W = x.shape
    syn = lw.synapse
    assert syn is not None and lw.state is not None and lw.gp is not None and lw.gap is not None
    F = lw.w.shape[0]
    views = [a.reshape(F, -1) for a in (lw.w, lw.state, lw.gp, lw.gap)]
    assert all(np.shares_memory(v, a) for v, a in zip(views, (lw.w, lw.state, lw.gp, lw.gap)))
    gmin, gmax = syn.g_bounds_S()
    dev = (int(syn.spec.n), float(getattr(syn, "gain", 1.0)), float(gmin), float(gmax), float(lw.lo), float(lw.hi),
           bool(lw.signed))
    return int(_pass(np.asarray(order, np.int64), x.ptr, x.idx, labels, views[0], wT, H, W, int(K), int(per_class),
                     rates, counts, np.asarray(lr, np.float64), (float(lo), float(hi)), int(adapt_every), True,
                     views[1], views[2], views[3], dev, rng, *_masks(active)))
