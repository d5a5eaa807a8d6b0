"""Hardware synapses: level sets, switching statistics, parsing."""

from __future__ import annotations

import numpy as np
import pytest
from spinsyn.devices import SynapseSpec, synapse_device
from spinsyn.snn import kernels as K
from spinsyn.snn.kinds import SYN_COMPOUND, SYN_CONTINUOUS, SYN_LEVELS
from spinsyn.snn.synapses import DomainWall, Quantized, make_synapse


def _apply(w, state, gp, gap, delta, kind, n_lev, norm=0.0, seed=1, gain=1.0, stochastic=True, soft=False):
    N = w.shape[1]
    dWT = delta.T.copy()[None]  # (1, N, 784)
    counts = np.ones((1, N), np.int64)
    sp = np.arange(N, dtype=np.int64)[None]
    nsp = np.array([N], np.int64)
    th = np.zeros(N)
    gmin, gmax = (n_lev * gap.mean(), n_lev * gp.mean()) if kind == SYN_COMPOUND else (0.0, 1.0)
    K.apply_update(w, state, gp, gap, th, th.copy(), th[None].copy(), counts, dWT, sp, nsp, True, kind, n_lev,
                   stochastic, gain, gmin, gmax, norm, np.uint32(seed), soft, False)


@pytest.mark.parametrize("L", [2, 3, 9])
@pytest.mark.parametrize("norm", [0.0, 78.4])
def test_quantized_stays_on_levels(L, norm):
    rng = np.random.default_rng(0)
    state = rng.integers(0, L, (784, 8)).astype(np.int32)
    w = state / (L - 1)
    one = np.ones((1, 1))
    for it in range(20):
        _apply(w, state, one, one, rng.normal(0, 0.3, (784, 8)), SYN_LEVELS, L, norm, seed=it)
        assert state.min() >= 0 and state.max() <= L - 1
        np.testing.assert_array_equal(w, state / (L - 1))


@pytest.mark.parametrize("n", [1, 4, 8])
def test_compound_counts_and_conductances_stay_in_their_set(n):
    rng = np.random.default_rng(1)
    syn = make_synapse(f"compound:{n}")
    state, gp, gap = syn.init_state(0.3 * rng.random((784, 6)), rng)
    w = np.zeros((784, 6))
    for it in range(20):
        _apply(w, state, gp, gap, rng.normal(0, 0.5, (784, 6)), SYN_COMPOUND, n, seed=it)
        assert state.min() >= 0 and state.max() <= n
        g = syn.g_S(w, state, gp, gap)
        np.testing.assert_allclose(g, state * gp + (n - state) * gap)
        assert (w >= 0).all() and (w <= 1).all()


def test_compound_switching_frequency_matches_probability():
    n, k0, delta = 8, 2, 0.1  # d = Δ·n = 0.8 MTJs expected; p = 0.8/(n-k0) per AP MTJ
    p = delta * n / (n - k0)
    shape = (784, 64)
    state = np.full(shape, k0, np.int32)
    gp, gap = np.full(shape, 1.6e-4), np.full(shape, 0.95e-4)
    w = np.zeros(shape)
    _apply(w, state, gp, gap, np.full(shape, delta), SYN_COMPOUND, n)
    switched = (state - k0).astype(float)
    trials = shape[0] * shape[1] * (n - k0)
    freq = switched.sum() / trials
    sigma = np.sqrt(p * (1 - p) / trials)
    assert abs(freq - p) < 4 * sigma, (freq, p)
    # per synapse: binomial(n-k0, p) -> variance check
    assert switched.var() == pytest.approx((n - k0) * p * (1 - p), rel=0.1)
    # depression: P->AP with p = |d|/k
    state[:] = 6
    _apply(w, state, gp, gap, np.full(shape, -0.15), SYN_COMPOUND, n, seed=7)
    p_dn = 0.15 * n / 6
    freq = (6 - state).sum() / (shape[0] * shape[1] * 6)
    assert abs(freq - p_dn) < 4 * np.sqrt(p_dn * (1 - p_dn) / (shape[0] * shape[1] * 6))


@pytest.mark.parametrize("k0,delta", [(2, 0.1), (6, -0.15), (0, 0.05), (8, -0.05)])
def test_soft_bound_compound_is_pulse_physics(k0, delta):
    """With weight dependence each AP MTJ switches to P with probability Δ (each P MTJ to AP with −Δ), the
    statistics of a pulse applied to every MTJ of the synapse: E[Δk] = (N−k)Δ⁺ − kΔ⁻."""
    n, shape = 8, (784, 64)
    state = np.full(shape, k0, np.int32)
    gp, gap, w = np.full(shape, 1.6e-4), np.full(shape, 0.95e-4), np.zeros(shape)
    _apply(w, state, gp, gap, np.full(shape, delta), SYN_COMPOUND, n, soft=True, seed=3)
    cand = (n - k0) if delta > 0 else k0
    trials = shape[0] * shape[1] * cand
    freq = abs(int(state.sum()) - k0 * state.size) / trials
    p = abs(delta)
    assert abs(freq - p) < 4 * np.sqrt(p * (1 - p) / trials), (freq, p)


def test_soft_bound_ideal_scales_by_distance_to_bound():
    w = np.array([[0.2, 0.9]])
    w = np.repeat(w, 784, 0)
    one = np.ones((1, 1))
    delta = np.repeat(np.array([[0.1, -0.1]]), 784, 0)
    _apply(w, np.zeros((1, 1), np.int32), one, one, delta, SYN_CONTINUOUS, 0, soft=True)
    np.testing.assert_allclose(w[0], [0.2 + 0.1 * 0.8, 0.9 - 0.1 * 0.9])


def test_torch_compound_switching_frequency_matches_probability():
    import torch
    from spinsyn.snn import torch_engine as TE

    n, k0, delta = 8, 3, 0.05
    shape = (784, 32)
    w = torch.zeros(shape, dtype=torch.float64)
    state = torch.full(shape, k0, dtype=torch.int32)
    gp, gap = torch.full(shape, 1.6e-4, dtype=torch.float64), torch.full(shape, 0.95e-4, dtype=torch.float64)
    th = torch.zeros(32, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    TE.apply_update(w, state, gp, gap, th, th.clone(), th[None].clone(), torch.ones((1, 32)),
                    torch.full((1, 784, 32), delta, dtype=torch.float64), True, SYN_COMPOUND, n, True, 1.0, 8 * 0.95e-4,
                    8 * 1.6e-4, 0.0, g)
    p = delta * n / (n - k0)
    trials = shape[0] * shape[1] * (n - k0)
    freq = float((state - k0).sum()) / trials
    assert abs(freq - p) < 4 * np.sqrt(p * (1 - p) / trials)


def test_strategies_are_built_from_the_devices_vocabulary():
    assert make_synapse("quantized:9").levels == 9
    assert make_synapse("compound:8").n_mtj == 8
    assert make_synapse("dw:16").levels == 16
    assert isinstance(make_synapse("quantized:5"), Quantized) and isinstance(make_synapse("dw:5"), DomainWall)
    assert make_synapse("quantized").spec == SynapseSpec.parse("quantized")  # the devices' default n
    for bad in ("quantized:1", "memristor:4", "quantized:x", "compound:0", "ideal:3"):
        with pytest.raises(ValueError, match="--synapse"):
            make_synapse(bad)
    with pytest.raises(ValueError, match="stochastic"):
        make_synapse("compound:8", stochastic=False)
    with pytest.raises(ValueError, match="--device"):
        make_synapse("dw:16", preset="compound")  # a compound device cannot hold a dw spec


@pytest.mark.parametrize("spec", ["ideal", "quantized:9", "dw:16"])
def test_analog_synapses_use_the_dw_mtj_bounds(spec):
    syn = make_synapse(spec)
    dev = synapse_device(spec)
    assert syn.device.preset == "dw-mtj"
    assert syn.g_bounds_S() == dev.g_bounds_S() == pytest.approx((125e-6, 250e-6))


@pytest.mark.parametrize("spec", ["quantized:9", "dw:16"])
def test_level_conductances_are_the_devices(spec):
    syn = make_synapse(spec)
    rng = np.random.default_rng(0)
    state, _, _ = syn.init_state(rng.random((784, 5)), rng)
    g = syn.g_S(None, state, None, None)
    np.testing.assert_array_equal(g, synapse_device(spec).level_conductances_S()[state])
    assert g.min() >= 125e-6 * (1 - 1e-12) and g.max() <= 250e-6 * (1 + 1e-12)


def test_compound_mtj_conductances_come_from_the_device():
    syn = make_synapse("compound:8", g_spread=0.0)
    gmin, gmax = synapse_device("compound:8").g_bounds_S()
    assert syn.mtj_conductances_S() == (gmax / 8, gmin / 8)
    rng = np.random.default_rng(1)
    k, gp, gap = syn.init_state(rng.random((784, 3)), rng)
    np.testing.assert_allclose(syn.g_S(None, k, gp, gap), k * gmax / 8 + (8 - k) * gmin / 8)
