"""Weights of a conv layer on a synapse kind, and the one place where a learning rule's change is realised.

:class:`LayerWeights` holds the read weights ``w`` (F, ...) in [0, 1] that the layer computes with and, for device
synapses, the device state of :mod:`spinsyn.snn.synapses` (levels, MTJs in P, per-synapse MTJ conductances), built
with that module's strategy objects (``Synapse.init_state``, ``g_S``), so the physics stays there.
:func:`apply_update` realises a change ``dw`` of one feature's kernel as the Diehl & Cook kernels do
(``snn/kernels.py`` ``apply_update``): target ``t = clip(base + dw, lo, hi)``, then

* ideal: ``w = t``;
* quantized:L, dw:L: stochastic rounding of t onto L equally spaced levels (``E[level] = t``; nearest with
  ``stochastic=False``);
* compound:N: from k MTJs in P, d = gain·(t·N − k); each AP MTJ switches with probability d/(N − k) (d > 0), each P
  MTJ with −d/k (d < 0); w is the read conductance (k·G_P + (N−k)·G_AP − G_min)/(G_max − G_min).

``base`` is the weight the update acts on: ``w`` for ideal and levels, the nominal level k/N for compound. A layer
whose device range reads as [lo, hi] (:attr:`LayerWeights.lo`, ``hi``; the decision layer with
``ConvConfig.decision_full_range``) rounds the fraction (t − lo)/(hi − lo) onto its states instead of t, and reads
lo + (hi − lo)·x.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kinds import SYN_COMPOUND, SYN_CONTINUOUS, SYN_LEVELS
from ..synapses import Synapse


@dataclass
class LayerWeights:
    """Read weights ``w`` (F, C, K, K) float64 in [0, 1] of one layer on ``synapse`` (None: ideal floats) with its
    device state: ``state`` int32 (levels or MTJs in P; shape of w, or None), ``gp``/``gap`` (S) per synapse
    (compound only, else None)."""

    w: np.ndarray
    synapse: Synapse | None = None
    state: np.ndarray | None = None
    gp: np.ndarray | None = None
    gap: np.ndarray | None = None
    #: compound read signed against the nominal all-AP reference (ConvConfig.signed_read), else clipped to [0, 1]
    signed: bool = False
    #: the weights the device's range reads as: state fraction x in [0, 1] (level/(L−1), k/N, or the normalised
    #: conductance) reads w = lo + (hi − lo)·x (ConvConfig.decision_full_range for the decision layer; else 0, 1)
    lo: float = 0.0
    hi: float = 1.0

    @property
    def scheme(self) -> int:
        return SYN_CONTINUOUS if self.synapse is None else self.synapse.kind

    @classmethod
    def create(cls, w0: np.ndarray, synapse: Synapse | None, rng: np.random.Generator, *,
               signed: bool = False, lo: float = 0.0, hi: float = 1.0) -> LayerWeights:
        """Weights realising the targets ``w0`` (clipped to [0, 1]) on ``synapse``; ``signed``: see :meth:`_read`;
        ``lo``, ``hi``: the weights the device's first and last state read as (device synapses only)."""
        w0 = np.clip(np.asarray(w0, np.float64), 0.0, 1.0)
        if synapse is None or synapse.kind == SYN_CONTINUOUS:
            return cls(w0.copy(), synapse)
        if synapse.kind not in (SYN_LEVELS, SYN_COMPOUND):
            raise ValueError(f"synapse: {synapse.spec} is not supported by the conv network yet "
                             "(ideal, quantized:L, dw:L, compound:N)")
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(f"lo, hi must satisfy 0 <= lo < hi <= 1, got {lo}, {hi}")
        state, gp, gap = synapse.init_state(np.clip((w0 - lo) / (hi - lo), 0.0, 1.0), rng)
        lw = cls(w0.copy(), synapse, state.astype(np.int32), gp if synapse.kind == SYN_COMPOUND else None,
                 gap if synapse.kind == SYN_COMPOUND else None, signed, float(lo), float(hi))
        lw.w[...] = lw._read(slice(None))
        return lw

    def _read(self, idx) -> np.ndarray:
        """Read weights of ``idx``: lo + (hi − lo)·x with x = level / (L − 1), or for compound
        (G − G_min)/(G_max − G_min) with the nominal bounds, signed (``self.signed``: a reference column of N
        nominal AP cells subtracts the offset) or clipped to [0, 1]."""
        syn = self.synapse
        assert syn is not None and self.state is not None
        if syn.kind == SYN_LEVELS:
            return self.lo + (self.hi - self.lo) * (self.state[idx] / (syn.spec.n - 1))
        assert self.gp is not None and self.gap is not None
        gmin, gmax = syn.g_bounds_S()
        g = syn.g_S(None, self.state[idx], self.gp[idx], self.gap[idx])
        w = (g - gmin) / (gmax - gmin)
        return self.lo + (self.hi - self.lo) * (w if self.signed else np.clip(w, 0.0, 1.0))

    def base(self, f: int) -> np.ndarray:
        """The weight the rule acts on for feature ``f``: w, or the nominal level lo + (hi − lo)·k/N for compound."""
        if self.scheme == SYN_COMPOUND:
            assert self.state is not None and self.synapse is not None
            return self.lo + (self.hi - self.lo) * (self.state[f] / self.synapse.spec.n)
        return self.w[f]

    def fraction(self, w: np.ndarray) -> np.ndarray:
        """The device-range fraction (w − lo)/(hi − lo) a weight ``w`` stands for (w itself for lo, hi = 0, 1)."""
        return (w - self.lo) / (self.hi - self.lo)


def stabilizer_weight(weights: LayerWeights, f: int, floor_steps: float = 0.5) -> np.ndarray:
    """The weight the STDP stabilizer w(1−w) of conv 1-2 is evaluated at for feature ``f``: ``w`` for ideal weights;
    for a synapse of finitely many states, its nominal level kept half a step inside [0, 1] (a state stands for the
    weights that round to it). At exactly 0 or 1 the stabilizer is 0 for LTP and LTD alike, so a device synapse
    that reached its first or last state could never leave it (ideal weights only approach the bounds); measured:
    compound:8 conv 1-2 frozen that way gave a conv-3 input 2.5x denser than the ideal run's and 50 % accuracy.
    ``floor_steps``: how far inside, in steps (ConvConfig.stabilizer_floor_steps; 0.5: half a step)."""
    base = weights.base(f)
    syn = weights.synapse
    if syn is None or weights.scheme == SYN_CONTINUOUS:
        return base
    steps = syn.spec.n if weights.scheme == SYN_COMPOUND else syn.spec.n - 1
    inside = floor_steps / max(steps, 1)
    return np.clip(base, inside, 1.0 - inside)


def apply_update(weights: LayerWeights, f: int, dw: np.ndarray, rng: np.random.Generator, *, lo: float = 0.0,
                 hi: float = 1.0) -> None:
    """Realise the change ``dw`` (shape of ``weights.w[f]``) of feature ``f``'s kernel on the layer's synapse kind,
    in place, with targets clipped to [lo, hi] (see the module docstring)."""
    t = np.clip(weights.base(f) + dw, lo, hi)
    syn = weights.synapse
    scheme = weights.scheme
    if scheme == SYN_CONTINUOUS:
        weights.w[f] = t
        return
    assert syn is not None and weights.state is not None
    t = weights.fraction(t)
    stochastic = bool(getattr(syn, "stochastic", True))
    if scheme == SYN_LEVELS:
        L1 = syn.spec.n - 1
        x = t * L1
        lev = np.floor(x + rng.random(x.shape)) if stochastic else np.floor(x + 0.5)
        weights.state[f] = np.clip(lev, 0, L1).astype(np.int32)
    elif scheme == SYN_COMPOUND:
        n = syn.spec.n
        k = weights.state[f].astype(np.int64)
        d = float(getattr(syn, "gain", 1.0)) * (t * n - k)
        up = (d > 0) & (k < n)
        dn = (d < 0) & (k > 0)
        p_up = np.where(up, np.minimum(1.0, d / np.maximum(n - k, 1)), 0.0)
        p_dn = np.where(dn, np.minimum(1.0, -d / np.maximum(k, 1)), 0.0)
        k = k + rng.binomial(n - k, p_up) - rng.binomial(k, p_dn)
        weights.state[f] = k.astype(np.int32)
    else:  # pragma: no cover - LayerWeights.create refuses other kinds
        raise ValueError(f"synapse scheme {scheme} not supported")
    weights.w[f] = weights._read(f)
