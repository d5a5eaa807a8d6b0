"""devices.binomial.compound_write: the same states and the same random stream as numpy's two binomial draws."""

from __future__ import annotations

import numpy as np
import pytest
from spinsyn.devices.binomial import MAX_CELLS, compound_write


def _numpy(rng, n, k, p_up, p_dn):
    return k + rng.binomial(n - k, p_up) - rng.binomial(k, p_dn)


@pytest.mark.parametrize("n_cells", [1, 8, 60])
def test_same_draws_as_numpy(n_cells: int) -> None:
    src = np.random.default_rng(n_cells)
    size = 20_000
    k = src.integers(0, n_cells + 1, size)
    p = src.random(size)
    up = src.random(size) < 0.5
    p_up, p_dn = np.where(up, p, 0.0), np.where(up, 0.0, p)
    p_up[::11], p_dn[1::13], p_up[2::17], p_dn[3::19] = 1.0, 0.5, 0.5, 1.0  # both branches, p = 1 (one draw)
    p_up[4::23] = np.repeat(0.3, p_up[4::23].size)  # runs of one p: numpy's cached setup
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    want = _numpy(a, n_cells, k, p_up, p_dn)
    got = compound_write(b, n_cells, k, p_up, p_dn)
    assert got.dtype == want.dtype == np.int64
    assert np.array_equal(got, want)
    assert np.array_equal(a.random(4), b.random(4))  # the generator is left where numpy leaves it
    assert got.min() >= 0 and got.max() <= n_cells


def test_calibration_batches_and_shapes() -> None:
    """Devices from one state under runs of one probability (a calibration), as a 2-D batch."""
    p = np.repeat(np.linspace(0.0, 1.0, 49), 512).reshape(49, 512)
    k = np.zeros(p.shape, np.int64)
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    want = _numpy(a, 8, k, p, np.zeros_like(p))
    got = compound_write(b, 8, k, p, np.zeros_like(p))
    assert got.shape == (49, 512) and np.array_equal(got, want)
    assert a.random() == b.random()


def test_falls_back_to_numpy() -> None:
    k = np.array([0, 1, 2])
    p = np.array([0.2, 0.4, 0.9])
    for bad in (np.array([0.2, np.nan, 0.1]), np.array([0.2, 1.5, 0.1]), np.array([-0.1, 0.5, 0.1])):
        with pytest.raises(ValueError, match="p < 0, p > 1 or p"):
            compound_write(np.random.default_rng(0), 2, k, bad, p)
    with pytest.raises(ValueError, match="n < 0"):
        compound_write(np.random.default_rng(0), 2, np.array([0, 3, 1]), p, p)  # k above the cell count
    big = np.full(500, 40)  # n p > 30 for some: numpy's BTPE branch
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    pb = np.random.default_rng(1).random(500)
    n = MAX_CELLS + 40
    assert np.array_equal(compound_write(b, n, big, pb, pb), _numpy(a, n, big, pb, pb))
    legacy_a, legacy_b = np.random.RandomState(2), np.random.RandomState(2)  # not a Generator: numpy's own
    assert np.array_equal(compound_write(legacy_b, 2, k, p, p), _numpy(legacy_a, 2, k, p, p))
    assert compound_write(np.random.default_rng(0), 2, np.zeros(0, np.int64), np.zeros(0), np.zeros(0)).size == 0
