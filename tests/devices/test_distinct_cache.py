"""devices.distinct (one-pass distinct values) and the write-probability cache of models.per_distinct_voltage:
the same values as np.unique and as the uncached evaluation, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from spinsyn import devices as D
from spinsyn.devices import models
from spinsyn.devices.distinct import distinct


def test_distinct_matches_unique() -> None:
    rng = np.random.default_rng(0)
    grid = np.round(rng.random(300) * 2, 3)
    v = grid[rng.integers(0, grid.size, 50_000)]
    first, inv = distinct(v)
    assert np.array_equal(v[first][inv], v)
    assert np.array_equal(np.sort(v[first]), np.unique(v))
    assert np.all(np.diff(first) > 0)  # order of first appearance
    assert np.array_equal(first, np.sort(np.unique(v, return_index=True)[1]))


def test_distinct_signed_zero_and_nan_are_one_value() -> None:
    v = np.array([0.0, -0.0, np.nan, 1.5, np.nan, 0.0, 1.5])
    first, inv = distinct(v)
    assert first.tolist() == [0, 2, 3]
    assert inv.tolist() == [0, 0, 1, 2, 1, 0, 2]
    assert distinct(np.zeros(0))[0].size == 0
    with pytest.raises(ValueError, match="1-D"):
        distinct(np.zeros((2, 2)))


@pytest.fixture
def empty_cache():
    saved = dict(models._WRITE_P_CACHE)
    models._WRITE_P_CACHE.clear()
    yield models._WRITE_P_CACHE
    models._WRITE_P_CACHE.clear()
    models._WRITE_P_CACHE.update(saved)


def test_cached_write_probabilities_equal_uncached(empty_cache) -> None:
    """Batches of overlapping DAC-grid voltages (as write-verify iterations give them): every cached value equals
    the direct evaluation bit for bit, and later batches evaluate only the voltages not seen before."""
    mtj = D.STTMTJ()
    seen: list[int] = []

    def fn(v, w):
        seen.append(v.size)
        return mtj._write_p(models.derive(mtj), models.macrospin.switching_table(mtj), v, w)

    rng = np.random.default_rng(1)
    grid = np.round(np.arange(-1.2, 1.2, 0.005), 6)
    union: set[float] = set()
    for lo, hi in ((0, 200), (100, 300), (50, 250), (0, 480)):
        v = grid[rng.integers(lo, hi, 5000)]
        v[::97] = -0.0
        calls = len(seen)
        for width in (10e-9, 3e-9):
            pu, pd = models.per_distinct_voltage(fn, v, width, key=mtj)
            ru, rd = mtj._write_p(models.derive(mtj), models.macrospin.switching_table(mtj), v, width)
            assert np.array_equal(pu, ru) and np.array_equal(pd, rd)
            assert pu.dtype == ru.dtype == np.float64
        new = set(v.tolist()) - union  # one call per width, on the unseen voltages only (none: no call)
        assert seen[calls:] == ([len(new)] * 2 if new else [])
        union |= set(v.tolist())
    assert (mtj, 10e-9) in empty_cache and (mtj, 3e-9) in empty_cache
    # the public entry point gives the same values with and without a cache
    v = grid[rng.integers(0, grid.size, 4000)]
    a = mtj.cell_write_probabilities(v, 10e-9)
    empty_cache.clear()
    b = mtj.cell_write_probabilities(v, 10e-9)
    c = models.per_distinct_voltage(lambda x, w: fn(x, w), v, 10e-9)
    assert all(np.array_equal(x, y) and np.array_equal(x, z) for x, y, z in zip(a, b, c))


def test_cache_is_bounded_and_skips_unhashable_keys(empty_cache, monkeypatch) -> None:
    monkeypatch.setattr(models, "_CACHE_KEYS", 3)
    monkeypatch.setattr(models, "_CACHE_VOLTAGES", 100)

    def fn(v, w):
        return v * w, -v * w

    v = np.linspace(0, 1, 80)
    for k in range(5):
        models.per_distinct_voltage(fn, v, 1.0, key=("cell", k))
    assert list(empty_cache) == [(("cell", k), 1.0) for k in (2, 3, 4)]  # the oldest keys dropped
    models.per_distinct_voltage(fn, np.linspace(2, 3, 80), 1.0, key=("cell", 4))  # 160 voltages: not stored
    assert empty_cache[(("cell", 4), 1.0)][0].size == 80
    out = models.per_distinct_voltage(fn, v, 1.0, key=np.zeros(2))  # unhashable: evaluated, not cached
    assert np.array_equal(out[0], v) and len(empty_cache) == 3
