"""Training on a graded (LTP/LTD) device: the rule's ΔW realised as pulses along the device's curves, on the numba
kernel and the torch engine."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from spinsyn.devices import SynapseSpec
from spinsyn.devices.synapse import synapse_device
from spinsyn.snn import kernels as K
from spinsyn.snn.engine import NetState, NumbaEngine, TorchEngine
from spinsyn.snn.kinds import SYN_GRADED
from spinsyn.snn.params import NetworkParams
from spinsyn.snn.rules import BiSigmoidTrace
from spinsyn.snn.synapses import Graded, make_synapse, synapse_from_record

from .synthetic import synthetic_digits

_images = synthetic_digits


def test_spec_and_strategy():
    syn = make_synapse("graded")
    assert isinstance(syn, Graded) and str(syn.spec) == "graded:97" and syn.kernel_args()[:2] == (SYN_GRADED, 97)
    assert SynapseSpec.parse("graded:32").n == 32 and str(SynapseSpec.parse("graded")) == "graded"
    assert synapse_device("graded:32").model.n_pulses == 32
    assert synapse_from_record(syn.device.record()).graded_args() == syn.graded_args()
    g = syn.device.level_conductances_S()
    assert g.size == 98 and np.all(np.diff(g) > 0)
    with pytest.raises(ValueError, match="graded"):
        synapse_device("graded", "dw-mtj")


def _apply(w, delta, P, a, c2c, seed):
    N = w.shape[1]
    counts, sp, nsp, th = np.ones((1, N), np.int64), np.arange(N, dtype=np.int64)[None], np.array([N]), np.zeros(N)
    K.apply_update(w, np.zeros((1, 1), np.int32), np.ones_like(w), np.zeros_like(w), th, th.copy(), th[None].copy(),
                   counts, delta.T.copy()[None], sp, nsp, True, SYN_GRADED, P, True, 1.0, 0.0, 1.0, 0.0,
                   np.uint32(seed), False, False, a, a, c2c)


def test_linear_device_realises_the_mean_update_and_nonlinear_saturates():
    rng = np.random.default_rng(0)
    x0 = np.full((784, 8), 0.7)
    lin, nl = x0.copy(), x0.copy()
    _apply(lin, np.full((784, 8), 0.1), 50, 1e12, 0.0, 1)  # linear: E[Δx] = ΔW
    assert lin.mean() == pytest.approx(0.8, abs=2e-3)
    _apply(nl, np.full((784, 8), 0.1), 50, 5.0, 0.0, 1)  # strongly nonlinear: steps shrink towards g_max
    assert nl.mean() > 0.8 and nl.max() <= 1.0
    d = nl.copy()
    _apply(d, np.full((784, 8), -0.1), 50, 5.0, 0.0, 2)  # LTD from near the top: large first steps
    assert (nl.mean() - d.mean()) > 0.1 and d.min() >= 0.0
    assert rng is not None


@pytest.mark.parametrize("engine", ["numba", "torch"])
def test_small_run_trains_within_bounds(engine):
    N, n_img = 16, 8
    par = NetworkParams(n_neurons=N)
    rng = np.random.default_rng(1)
    p = _images(n_img) / 255 * 128e-3
    trains = rng.random((n_img, par.steps, 784)) < p[:, None, :]
    syn = make_synapse("graded")
    w0 = 0.3 * np.random.default_rng(0).random((784, N))
    st, gp, gap = syn.init_state(w0, np.random.default_rng(0))
    ns = NetState(w0.copy(), st, gp, gap, np.zeros(N))
    c = BiSigmoidTrace(nu_post=0.05).compile(1.0)
    eng = NumbaEngine(ns, par, c, syn, 0.0) if engine == "numba" else \
        TorchEngine(ns, par, c, syn, 0.0, device="cpu", dtype=torch.float64)
    total = sum(int(eng.train_trains(trains[k:k + 1], 11 + k).sum()) for k in range(n_img))
    w = eng.sync().w
    assert total > 0 and np.abs(w - w0).max() > 0.01
    g = syn.g_S(w, st, gp, gap)
    gmin, gmax = syn.g_bounds_S()
    assert g.min() >= gmin and g.max() <= gmax


def test_nonlinear_device_learns_differently_from_linear():
    """The same spikes and rule on a linear and a strongly nonlinear device (A = 3 of 97 pulses): the linear device
    realises the rule's mean update, the nonlinear one over- or undershoots it, so the weights differ clearly."""
    N, n_img = 12, 6
    par = NetworkParams(n_neurons=N)
    rng = np.random.default_rng(2)
    trains = rng.random((n_img, par.steps, 784)) < (_images(n_img) / 255 * 128e-3)[:, None, :]
    c = BiSigmoidTrace(nu_post=0.05).compile(1.0)
    out = {}
    for name, a in (("linear", 1e12), ("nonlinear", 3.0)):
        syn = make_synapse("graded")
        syn = Graded(syn.spec, syn.device.__class__(syn.device.spec, syn.device.model.__class__(
            **{**syn.device.model.__dict__, "a_ltp_pulses": a, "a_ltd_pulses": a, "sigma_c2c_pct": 0.0}),
            syn.device.preset))
        w0 = np.full((784, N), 0.5)
        st, gp, gap = syn.init_state(w0, np.random.default_rng(0))
        eng = NumbaEngine(NetState(w0.copy(), st, gp, gap, np.zeros(N)), par, c, syn, 0.0)
        for k in range(n_img):
            eng.train_trains(trains[k:k + 1], 5 + k)
        out[name] = eng.sync().w
    moved = np.abs(out["linear"] - 0.5) > 0.02
    assert moved.sum() > 100
    assert np.abs(out["nonlinear"] - out["linear"])[moved].mean() > 0.02
