"""Distinct values of a float array in one pass (compiled hash table): what :func:`models.per_distinct_voltage`
needs from ``np.unique(v, return_inverse=True)`` without its sort (a write-verify batch of 250,000 pulses on ~200
DAC voltages: 0.9 ms instead of 11.6 ms, measured)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _distinct(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    n = v.size
    cap = 16
    while cap < 2 * n:
        cap *= 2
    mask = cap - 1
    table = np.full(cap, -1, np.int64)  # slot -> distinct value number
    bits = v.view(np.uint64)
    first = np.empty(n, np.int64)
    inv = np.empty(n, np.int64)
    m = 0
    for i in range(n):
        x = v[i]
        b = bits[i] if x != 0.0 else np.uint64(0)  # -0.0 == 0.0: one value, as np.unique has it
        if x != x:
            b = np.uint64(0x7FF8000000000000)  # every NaN one value (np.unique's equal_nan)
        h = np.int64((b * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)) & mask
        while True:
            j = table[h]
            if j < 0:
                table[h] = m
                first[m] = i
                inv[i] = m
                m += 1
                break
            y = v[first[j]]
            if y == x or (y != y and x != x):
                inv[i] = j
                break
            h = (h + 1) & mask
    return first[:m], inv


def distinct(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, inverse) of a 1-D float64 array ``v`` (n,): ``first`` (m,) the index of the first occurrence of each
    distinct value in order of appearance, ``inverse`` (n,) the number of each element's value, so that
    ``v[first][inverse]`` equals ``v`` (0.0 and -0.0 count as one value, as do all NaNs)."""
    a = np.ascontiguousarray(v, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"v must be 1-D, got shape {a.shape}")
    return _distinct(a)
