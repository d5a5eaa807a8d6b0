"""The locally connected network (``spinsyn train --network lc``, Saunders et al. 2019; spinsyn.snn.lc): the input
mask holds through training on every engine and device, inhibition stays within a location, a one-location LC
network is the Diehl & Cook network, the numba and torch engines agree, options are refused before any work, and a
tiny run trains and evaluates end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from spinsyn.cli import main
from spinsyn.snn import kernels as K
from spinsyn.snn.engine import NetState, NumbaEngine, TorchEngine
from spinsyn.snn.lc import LocalGeometry, connectivity_mask, location_groups
from spinsyn.snn.network import init_state
from spinsyn.snn.params import P_W_IE, NetworkParams
from spinsyn.snn.rules import BiSigmoidTrace
from spinsyn.snn.synapses import make_synapse

from .synthetic import synthetic_digits


def _lc_params(geo: LocalGeometry, **kw) -> NetworkParams:
    return NetworkParams(n_neurons=geo.n_neurons, norm=geo.norm, w_inh_exc_mV=250.0, lc=geo, **kw)


def test_geometry_mask_and_groups():
    geo = LocalGeometry(kernel=16, stride=2, filters=3, crop=4)  # the authors' scripts: 3 x 3 locations on 20 x 20
    assert geo.grid == 3 and geo.n_locations == 9 and geo.n_neurons == 27 and geo.norm == pytest.approx(51.2)
    m = connectivity_mask(geo)
    assert m.shape == (784, 27) and (m.sum(0) == 256).all()
    img = m[:, 0].reshape(28, 28)  # location (0, 0): rows and columns 4..19
    assert img[4:20, 4:20].all() and img.sum() == 256
    last = m[:, 8].reshape(28, 28)  # location (2, 2): rows and columns 8..23
    assert last[8:24, 8:24].all()
    assert not m.reshape(28, 28, 27)[:4].any() and not m.reshape(28, 28, 27)[24:].any()  # the crop
    g = location_groups(geo)
    assert (g == np.tile(np.arange(9), 3)).all()  # j = filter · 9 + location
    assert (m[:, 9] == m[:, 0]).all()  # filter 1 at location 0 sees location 0's patch
    with pytest.raises(ValueError, match="--lc-kernel: 24 does not fit"):
        LocalGeometry(24, 2, 3, 4).check()


@pytest.mark.parametrize("spec", ["ideal", "compound:8", "quantized:5"])
@pytest.mark.parametrize("engine", ["numba", "torch"])
def test_mask_holds_after_training(spec, engine):
    """Masked weights start and stay exactly 0 (compound: with device spread, whose lowest state is not G_min);
    each neuron's weights over its patch sum to the norm 0.2·k² (ideal)."""
    geo = LocalGeometry(kernel=12, stride=8, filters=3, crop=0)
    par = _lc_params(geo)
    syn = make_synapse(spec)
    ns = init_state(par, syn, 0, par.norm)
    mask = connectivity_mask(geo)
    assert (ns.w[mask == 0] == 0).all()
    rule = BiSigmoidTrace(nu_post=0.05).compile(1.0)
    cls = NumbaEngine if engine == "numba" else TorchEngine
    eng = cls(ns, par, rule, syn, par.norm) if engine == "numba" else cls(ns, par, rule, syn, par.norm, device="cpu")
    p = synthetic_digits(8) / 255 * 128e-3
    w0 = ns.w.copy()
    for k in range(0, 8, 2):
        eng.train_batch(p[k:k + 2], np.arange(k, k + 2, dtype=np.uint32), k)
    w = eng.sync().w
    assert (w[mask == 0] == 0.0).all()
    assert not np.allclose(w, w0), "weights did not change"
    if spec == "ideal":
        np.testing.assert_allclose(w.sum(0), geo.norm, rtol=1e-9)
    if spec != "ideal":
        assert (ns.state[mask == 0] == 0).all()


def test_inhibition_is_local():
    """Neuron 0 fires steadily; neurons 1 and 2 get identical input. Inhibition groups [0, 0, 1]: neuron 1 (0's
    location) is silenced, neuron 2 (another location) is not; one group (Diehl & Cook): both are silenced alike."""
    P = NetworkParams(n_neurons=3).packed()
    P[P_W_IE] = 250.0
    T = 60
    idx = np.tile(np.array([0, 1], np.int32), T)
    ptr = np.arange(0, 2 * T + 1, 2, dtype=np.int32)
    w = np.zeros((784, 3))
    w[0, 0], w[1, 1], w[1, 2] = 30.0, 6.0, 6.0

    def counts(group):
        c = np.zeros(3, np.int64)
        K.simulate_image(idx, ptr, T, w, np.zeros(3), P, False, 0, np.zeros(1), 0.0, 0.0, 1.0, 0.0, 0.0,
                         np.zeros((1, 1)), c, np.zeros(3, np.int32), *K.NO_ADC_IMAGE, group)
        return c

    local = counts(np.array([0, 0, 1], np.int64))
    assert local[0] > 5 and local[2] > 3 * max(local[1], 1)
    # no neuron shares a location: nobody is inhibited; 1 and 2 cross together and the one spike of a step goes to
    # the lower index, so neuron 1 now spikes exactly when neuron 2 did above
    alone = counts(np.array([0, 1, 2], np.int64))
    assert alone[1] == local[2] and alone[2] == 0
    dc = counts(np.zeros(3, np.int64))
    assert dc[2] <= 1 and dc[1] <= 1
    np.testing.assert_array_equal(dc, counts(None))  # no groups = one group


@pytest.mark.parametrize("engine", ["numba", "torch"])
@pytest.mark.parametrize("spec", ["ideal", "compound:8"])
def test_one_location_lc_is_diehl_cook(engine, spec):
    """An LC network whose one patch is the whole image (all-ones mask, one inhibition group) trains to the same
    weights, bit for bit, as the Diehl & Cook network with the same norm and inhibition."""
    geo = LocalGeometry(kernel=28, stride=1, filters=6, crop=0)
    lc = _lc_params(geo)
    dc = NetworkParams(n_neurons=6, norm=geo.norm, w_inh_exc_mV=250.0)
    syn = make_synapse(spec)
    rule = BiSigmoidTrace(nu_post=0.05).compile(1.0)
    p = synthetic_digits(6) / 255 * 128e-3
    out = []
    for par in (lc, dc):
        ns = init_state(par, syn, 3, par.norm)
        eng = (NumbaEngine(ns, par, rule, syn, par.norm) if engine == "numba" else
               TorchEngine(ns, par, rule, syn, par.norm, device="cpu", dtype=torch.float64))
        for k in range(0, 6, 2):
            eng.train_batch(p[k:k + 2], np.arange(k, k + 2, dtype=np.uint32), 7 + k)
        out.append(eng.sync())
    np.testing.assert_array_equal(out[0].w, out[1].w)
    np.testing.assert_array_equal(out[0].theta, out[1].theta)


@pytest.mark.parametrize("spec", ["ideal", "quantized:9"])
def test_numba_and_torch_agree_on_lc(spec):
    """Identical spikes and weights (float64, 1e-12) of both engines on the same input spike trains."""
    geo = LocalGeometry(kernel=12, stride=8, filters=4, crop=0)
    par = _lc_params(geo)
    syn = make_synapse(spec, stochastic=False) if spec != "ideal" else make_synapse(spec)
    rule = BiSigmoidTrace(nu_post=0.05).compile(1.0)
    ns0 = init_state(par, syn, 0, par.norm)
    n_img = 6
    p = synthetic_digits(n_img) / 255 * 128e-3
    trains = np.random.default_rng(1).random((n_img, par.steps, 784)) < p[:, None, :]

    def fresh():
        return NetState(ns0.w.copy(), ns0.state.copy(), ns0.gp_S.copy(), ns0.gap_S.copy(), np.zeros(par.n_neurons))

    a = NumbaEngine(fresh(), par, rule, syn, par.norm)
    b = TorchEngine(fresh(), par, rule, syn, par.norm, device="cpu", dtype=torch.float64)
    total = 0
    for k in range(0, n_img, 2):
        ca, cb = a.train_trains(trains[k:k + 2], 11), b.train_trains(trains[k:k + 2], 11)
        np.testing.assert_array_equal(ca, cb)
        total += ca.sum()
    nb = b.sync()
    assert total > 0
    np.testing.assert_allclose(a.ns.w, nb.w, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.ns.theta, nb.theta, rtol=0, atol=1e-12)
    assert (nb.w[connectivity_mask(geo) == 0] == 0).all()


def test_eval_reads_masked_cells_as_zero():
    """Weights given to evaluation (programmed conductances, read noise) read 0 on masked cells."""
    geo = LocalGeometry(kernel=12, stride=8, filters=2, crop=0)
    par = _lc_params(geo)
    syn = make_synapse("ideal")
    ns = init_state(par, syn, 0, par.norm)
    rule = BiSigmoidTrace(nu_post=0.05).compile(1.0)
    p = synthetic_digits(4) / 255 * 128e-3
    seeds = np.arange(4, dtype=np.uint32)
    for eng in (NumbaEngine(ns, par, rule, syn, 0.0), TorchEngine(ns, par, rule, syn, 0.0, device="cpu")):
        base = eng.eval_counts(p, seeds, ns.w.copy())
        polluted = ns.w + 0.5 * (connectivity_mask(geo) == 0)  # every masked cell at half scale
        np.testing.assert_array_equal(eng.eval_counts(p, seeds, polluted), base)


@pytest.mark.parametrize("argv, message", [
    (["--network", "lc", "--neurons", "50"], "--neurons: applies to --network dc only"),
    (["--lc-kernel", "8"], "--lc-kernel: applies to --network lc only"),
    (["--network", "dc", "--lc-filters", "4"], "--lc-filters: applies to --network lc only"),
    (["--network", "conv", "--lc-stride", "4"], "--lc-stride: applies to --network lc only"),
    (["--network", "lc", "--conv-epochs", "1,1,1"], "--conv-epochs: applies to --network conv only"),
    (["--network", "lc", "--lc-kernel", "0"], "--lc-kernel:"),
    (["--network", "lc", "--lc-kernel", "24"], "--lc-kernel: 24 does not fit the 20x20 pixels left by --lc-crop 4"),
    (["--network", "lc", "--lc-crop", "14"], "--lc-crop:"),
    (["--network", "lc", "--lc-filters", "0"], "--lc-filters:"),
])
def test_bad_lc_options_exit_2_before_any_work(argv, message, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *argv, "--n-train", "10", "--n-test", "10", "--out", str(out), "--quiet"]) == 2
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spinsyn: error: ") and message in lines[0], cap.err
    assert cap.out == "" and not out.exists()


def test_train_and_eval_an_lc_run_end_to_end(tmp_path, capsys):
    """``spinsyn train --network lc`` on the embedded MNIST subset, then ``spinsyn eval`` of the run: the geometry
    lives in the run (config and checkpoint) and the mask holds in the checkpoint."""
    from spinsyn.snn import load_run

    out = tmp_path / "run"
    assert main(["train", "--network", "lc", "--lc-kernel", "12", "--lc-stride", "16", "--lc-crop", "0",
                 "--lc-filters", "3", "--synapse", "compound:8", "--n-train", "40", "--n-test", "20",
                 "--n-assign", "40", "--no-plots", "--quiet", "--out", str(out)]) == 0
    first = capsys.readouterr().out
    assert "network lc (12x12 patches, stride 16, crop 0: 4 locations x 3 filters = 12 neurons)" in first
    net = load_run(out)
    assert net.params.lc == LocalGeometry(12, 16, 3, 0) and net.n_neurons == 12
    assert net.config.network_kind == "lc" and net.params.w_inh_exc_mV == 250.0
    assert net.params.norm == pytest.approx(0.2 * 144)
    assert (net.w[connectivity_mask(net.params.lc) == 0] == 0).all()
    assert main(["eval", str(out), "--n-test", "20", "--device", "cpu", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["n_test"] == 20 and 0.0 <= res["accuracy_all_activity"] <= 1.0
    from spinsyn.snn.nir_graph import nir_graph

    pytest.importorskip("nir")
    w_ie = -nir_graph(net).nodes["w_ie"].weight  # (N, N): inhibition of neuron row by neuron column
    same = location_groups(net.params.lc)[:, None] == location_groups(net.params.lc)[None, :]
    assert (w_ie[same & ~np.eye(12, dtype=bool)] > 0).all() and (w_ie[~same] == 0).all() and (np.diag(w_ie) == 0).all()
