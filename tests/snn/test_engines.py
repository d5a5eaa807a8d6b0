"""The numba CPU engine and the batched torch engine give identical spikes and weights on the same input
spike trains (float64; weights to 1e-12, θ and spike counts exactly)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from spinsyn.snn.engine import NetState, NumbaEngine, TorchEngine
from spinsyn.snn.params import NetworkParams
from spinsyn.snn.rules import BiSigmoidTrace, PostPre
from spinsyn.snn.synapses import make_synapse

from .synthetic import synthetic_digits

_images = synthetic_digits


@pytest.mark.parametrize("rule", [BiSigmoidTrace(nu_post=0.05),
                                  BiSigmoidTrace(nu_post=0.05, offset=0.15, soft_bound=True), PostPre()],
                         ids=["trace", "trace-soft-offset", "postpre"])
@pytest.mark.parametrize("spec,batch", [("ideal", 1), ("ideal", 3), ("quantized:9", 2)])
def test_numba_and_torch_agree(rule, spec, batch):
    N, n_img = 16, 6
    par = NetworkParams(n_neurons=N)
    T = par.steps
    rng = np.random.default_rng(1)
    p = _images(n_img) / 255 * 128e-3
    trains = rng.random((n_img, T, 784)) < p[:, None, :]
    syn = make_synapse(spec, stochastic=False) if spec != "ideal" else make_synapse(spec)
    w0 = 0.3 * np.random.default_rng(0).random((784, N))
    w0 *= 78.4 / w0.sum(0)
    st, gp, gap = syn.init_state(w0, np.random.default_rng(0))
    if spec != "ideal":
        w0 = st / (syn.levels - 1)
    c = rule.compile(1.0)

    def fresh():
        return NetState(w0.copy(), st.copy(), gp.copy(), gap.copy(), np.zeros(N))

    a = NumbaEngine(fresh(), par, c, syn, 78.4)
    b = TorchEngine(fresh(), par, c, syn, 78.4, device="cpu", dtype=torch.float64)
    total = 0
    for k in range(0, n_img, batch):
        ca = a.train_trains(trains[k:k + batch], 11)
        cb = b.train_trains(trains[k:k + batch], 11)
        np.testing.assert_array_equal(ca, cb)
        total += ca.sum()
    nb = b.sync()
    assert total > 0, "no post spikes: the comparison would be empty"
    np.testing.assert_allclose(a.ns.w, nb.w, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.ns.theta, nb.theta, rtol=0, atol=1e-12)
    if spec != "ideal":
        np.testing.assert_array_equal(a.ns.state, nb.state)
    assert not np.allclose(a.ns.w, w0), "weights did not change"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu_float64():
    N, par = 16, NetworkParams(n_neurons=16)
    rng = np.random.default_rng(2)
    p = _images(4) / 255 * 128e-3
    trains = rng.random((4, par.steps, 784)) < p[:, None, :]
    syn = make_synapse("ideal")
    w0 = 0.3 * np.random.default_rng(0).random((784, N))
    c = BiSigmoidTrace().compile(1.0)
    one = np.ones((1, 1))
    a = NumbaEngine(NetState(w0.copy(), np.zeros((1, 1), np.int32), one, one, np.zeros(N)), par, c, syn, 78.4)
    b = TorchEngine(NetState(w0.copy(), np.zeros((1, 1), np.int32), one, one, np.zeros(N)), par, c, syn, 78.4,
                    device="cuda", dtype=torch.float64)
    for k in range(0, 4, 2):
        np.testing.assert_array_equal(a.train_trains(trains[k:k + 2], 5), b.train_trains(trains[k:k + 2], 5))
    np.testing.assert_allclose(a.ns.w, b.sync().w, atol=1e-12)


def test_training_representation_discards_weak_presentations():
    """--train-min-spikes: an image below K spikes is shown again at +32 Hz per retry and only the last
    presentation counts. With K unreachable every image is retried 5 times, so the result must equal one
    plain presentation at the +160 Hz rate with the 5th retry's seed; with K = 0 nothing changes."""
    N = 12
    par = NetworkParams(n_neurons=N)
    syn = make_synapse("ideal")
    c = BiSigmoidTrace(nu_post=0.05).compile(1.0)
    w0 = 0.3 * np.random.default_rng(0).random((784, N))
    w0 *= 78.4 / w0.sum(0)
    p = _images(3) / 255 * par.intensity_Hz * 1e-3
    seeds = np.array([7, 8, 9], np.uint32)

    def fresh():
        return NumbaEngine(NetState(w0.copy(), np.zeros((1, 1), np.int32), np.ones((1, 1)), np.ones((1, 1)),
                                    np.zeros(N)), par, c, syn, 78.4)

    plain = fresh()
    ca = plain.train_batch(p, seeds, 5)
    retried = fresh()
    retried.train_min_spikes = 10**9
    cb = retried.train_batch(p, seeds, 5)
    ref = fresh()
    s5 = ((seeds.astype(np.uint64) + np.uint64(0x9E3779B9 * 5)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    cr = ref.train_batch(np.minimum(p * (par.intensity_Hz + 160) / par.intensity_Hz, 1), s5, 5)
    np.testing.assert_array_equal(cb, cr)
    np.testing.assert_array_equal(retried.ns.w, ref.ns.w)
    np.testing.assert_array_equal(retried.ns.theta, ref.ns.theta)
    assert cb.sum() > ca.sum()  # the raised rate evokes more spikes
    assert not np.array_equal(retried.ns.w, plain.ns.w)
    zero = fresh()
    zero.train_min_spikes = 0
    np.testing.assert_array_equal(zero.train_batch(p, seeds, 5), ca)
    np.testing.assert_array_equal(zero.ns.w, plain.ns.w)
