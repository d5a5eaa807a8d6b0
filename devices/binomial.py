"""The write pulse of a compound synapse's MTJs, ``k + Binomial(N - k, p_up) - Binomial(k, p_dn)`` per device, in
one compiled pass that draws the same numbers as numpy's ``Generator.binomial`` (numpy/random/src/distributions:
``random_binomial`` -> ``random_binomial_inversion``, whose setup it caches per (n, p) as numpy does): the same
uniforms from the same bit generator in the same order, the same operations. numpy spends most of a write-verify
batch's draw in its broadcasting loop and argument checks; this is ~1.7x faster on write-verify batches and ~2x on
calibration batches (constant p), measured on 1 M devices.

Only the inversion branch is implemented: numpy uses it whenever ``min(p, 1 - p) * n <= 30``, i.e. for every
device of at most :data:`MAX_CELLS` cells; larger compounds (BTPE) and invalid arguments (numpy raises) stay with
numpy (:func:`compound_write`).
"""

from __future__ import annotations

import numba
import numpy as np

#: the most cells per device for which numpy's binomial always takes the inversion branch (n min(p, 1-p) <= 30)
MAX_CELLS = 60


@numba.njit(cache=True, nogil=True)
def _write(rng, n_cells: int, k: np.ndarray, p_up: np.ndarray, p_dn: np.ndarray,
           out: np.ndarray) -> None:  # pragma: no cover - compiled
    for second in range(2):  # numpy draws the whole first array, then the whole second
        nsave = -1
        psave = -1.0
        q = qn = mean = bound = 0.0
        for i in range(k.size):
            n = k[i] if second else n_cells - k[i]
            p = p_dn[i] if second else p_up[i]
            x = 0
            if n != 0 and p != 0.0:
                flip = p > 0.5
                pp = 1.0 - p if flip else p
                if n != nsave or pp != psave:  # numpy's binomial_t cache: same values either way
                    nsave = n
                    psave = pp
                    q = 1.0 - pp
                    qn = np.exp(n * np.log(q))
                    mean = n * pp
                    bound = min(n, mean + 10.0 * np.sqrt(mean * q + 1))
                px = qn
                u = rng.random()
                while u > px:
                    x += 1
                    if x > bound:
                        x = 0
                        px = qn
                        u = rng.random()
                    else:
                        u -= px
                        px = ((n - x + 1) * pp * px) / (x * q)
                if flip:
                    x = n - x
            if second:
                out[i] -= x
            else:
                out[i] = k[i] + x


def compound_write(rng: np.random.Generator, n_cells: int, k: np.ndarray, p_up: np.ndarray,
                   p_dn: np.ndarray) -> np.ndarray:
    """New state ``k + rng.binomial(n_cells - k, p_up) - rng.binomial(k, p_dn)`` of devices with ``k`` (any shape,
    integer) of ``n_cells`` cells in P and per-cell switching probabilities ``p_up`` / ``p_dn`` (k's shape):
    numpy's draws and result (int64), compiled where numpy would take its inversion branch, else numpy itself."""
    k = np.asarray(k, dtype=np.int64)
    p_up = np.asarray(p_up, dtype=np.float64)
    p_dn = np.asarray(p_dn, dtype=np.float64)
    fast = (type(rng) is np.random.Generator and 0 < n_cells <= MAX_CELLS and k.shape == p_up.shape == p_dn.shape
            and k.size > 0)
    if fast:  # numpy's argument checks (it raises on these): leave them to numpy
        fast = bool(k.min() >= 0 and k.max() <= n_cells and np.all((p_up >= 0) & (p_up <= 1))
                    and np.all((p_dn >= 0) & (p_dn <= 1)))
    if not fast:
        return k + rng.binomial(n_cells - k, p_up) - rng.binomial(k, p_dn)
    out = np.empty(k.shape, np.int64)
    with rng.bit_generator.lock:  # as numpy holds it while drawing
        _write(rng, int(n_cells), k.ravel(), p_up.ravel(), p_dn.ravel(), out.reshape(-1))
    return out
