"""Weights -> device levels -> conductances, and back.

How one weight is stored is a ``spinsyn.devices.SynapseSpec`` (``compound:N``, ``dw:L``, ``quantized:L``) realised
on a ``spinsyn.devices.SynapseDevice``; this module only needs the device's level conductances (ascending).

Mapping is *unipolar* (one device per weight, w = w_lo + (G - g_min)/(g_max - g_min) * (w_hi - w_lo)) or
*differential* (a pair G+ and G- per weight, w = (G+ - G-)/(g_max - g_min) * w_absmax). The
:class:`ScaleFactors` hold everything needed to map programmed conductances back to weights.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np

MappingKind = Literal["unipolar", "differential"]


@dataclass(frozen=True)
class ScaleFactors:
    """Everything needed to map conductances back to weights.

    Unipolar: ``w = w_lo + (G - g_min_S) / (g_max_S - g_min_S) * (w_hi - w_lo)``.
    Differential: ``w = (G+ - G-) / (g_max_S - g_min_S) * w_hi`` with ``w_lo = -w_hi``.
    ``g_levels_S`` (L,) are the nominal conductances of the levels (ascending).
    """

    mapping: MappingKind
    w_lo: float
    w_hi: float
    g_min_S: float
    g_max_S: float
    g_levels_S: tuple[float, ...]

    @property
    def level_step_S(self) -> float:
        """Mean conductance spacing between adjacent levels (S)."""
        return (self.g_max_S - self.g_min_S) / (len(self.g_levels_S) - 1)

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["g_levels_S"] = list(self.g_levels_S)
        return d


def weight_range(w: np.ndarray, mapping: MappingKind, w_range: tuple[float, float] | None) -> tuple[float, float]:
    """(w_lo, w_hi) of the mapping: given, or from the data (differential: symmetric about 0)."""
    if w_range is not None:
        lo, hi = float(w_range[0]), float(w_range[1])
        if mapping == "differential":
            hi = max(abs(lo), abs(hi))
            lo = -hi
        if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
            raise ValueError(f"--w-range: got {w_range}, expected two finite numbers lo < hi")
        return lo, hi
    if mapping == "differential":
        hi = float(np.max(np.abs(w))) if w.size else 1.0
        hi = hi if hi > 0 else 1.0
        return -hi, hi
    lo, hi = float(np.min(w)), float(np.max(w))
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def make_scale(
    g_levels_S: np.ndarray, mapping: MappingKind, w_lo: float, w_hi: float
) -> ScaleFactors:
    """Scale factors from the level conductances (L,) ascending and the weight range."""
    g = np.asarray(g_levels_S, dtype=np.float64)
    if g.ndim != 1 or g.size < 2 or not np.all(np.diff(g) > 0):
        raise ValueError("level conductances must be a strictly increasing 1-D array of >= 2 values")
    return ScaleFactors(mapping, float(w_lo), float(w_hi), float(g[0]), float(g[-1]), tuple(map(float, g)))


def _nearest_level(g_levels: np.ndarray, g_want: np.ndarray) -> np.ndarray:
    """Index of the level whose conductance is nearest ``g_want`` (any shape)."""
    idx = np.searchsorted(g_levels, g_want)
    idx = np.clip(idx, 1, g_levels.size - 1)
    left = g_levels[idx - 1]
    right = g_levels[idx]
    idx = idx - ((g_want - left) <= (right - g_want))
    return idx.astype(np.int32)


#: weights quantised per block of rows of about this many values (cache-sized: 4x faster than whole at 10 M)
_BLOCK = 1 << 18


def weights_to_levels(w: np.ndarray, scale: ScaleFactors) -> np.ndarray:
    """Level index per device.

    Unipolar: ``w`` (I, O) -> levels (I, O). Differential: ``w`` (I, O) -> levels (I, 2*O) with the pair of
    output ``j`` in device columns ``2j`` (G+) and ``2j+1`` (G-). Weights outside the range are clipped.
    """
    w = np.asarray(w, dtype=np.float64)
    rows = max(1, _BLOCK // max(w.shape[-1], 1)) if w.ndim == 2 else 0
    if w.ndim != 2 or rows >= w.shape[0]:
        return _levels_block(w, scale)
    return np.concatenate([_levels_block(w[a:a + rows], scale) for a in range(0, w.shape[0], rows)])


def _levels_block(w: np.ndarray, scale: ScaleFactors) -> np.ndarray:
    g_levels = np.asarray(scale.g_levels_S)
    span_g = scale.g_max_S - scale.g_min_S
    w = np.asarray(w, dtype=np.float64)
    if scale.mapping == "unipolar":
        u = np.clip((w - scale.w_lo) / (scale.w_hi - scale.w_lo), 0.0, 1.0)
        return _nearest_level(g_levels, scale.g_min_S + u * span_g)
    u = np.clip(w / scale.w_hi, -1.0, 1.0)
    mag = _nearest_level(g_levels, scale.g_min_S + np.abs(u) * span_g)
    out = np.zeros((w.shape[0], 2 * w.shape[1]), dtype=np.int32)
    out[:, 0::2] = np.where(u > 0, mag, 0)
    out[:, 1::2] = np.where(u < 0, mag, 0)
    return out


def levels_to_conductance(levels: np.ndarray, scale: ScaleFactors) -> np.ndarray:
    """Nominal conductance (S) of each level index (same shape)."""
    return np.asarray(scale.g_levels_S)[levels]


def conductance_to_weights(g_S: np.ndarray, scale: ScaleFactors) -> np.ndarray:
    """Map device conductances back to weights.

    Unipolar: (I, O) -> (I, O). Differential: (I, 2*O) interleaved pairs -> (I, O).
    """
    g = np.asarray(g_S, dtype=np.float64)
    span_g = scale.g_max_S - scale.g_min_S
    if scale.mapping == "unipolar":
        return scale.w_lo + (g - scale.g_min_S) / span_g * (scale.w_hi - scale.w_lo)
    if g.shape[-1] % 2:
        raise ValueError(f"differential conductance map needs an even number of columns, got {g.shape}")
    return (g[:, 0::2] - g[:, 1::2]) / span_g * scale.w_hi


def weight_step(scale: ScaleFactors) -> float:
    """Weight change corresponding to one mean level step."""
    span_w = scale.w_hi - scale.w_lo if scale.mapping == "unipolar" else scale.w_hi
    return span_w / (len(scale.g_levels_S) - 1)
