"""The compiled sparse R-STDP pass and resumed conv runs (issue 27) against a plain reference loop."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
from spinsyn.snn.conv import ConvConfig, init_network, load_conv, save_conv, train_conv
from spinsyn.snn.conv.layers import potential_binary, receptive_field, winner_binary
from spinsyn.snn.conv.network import _train_rstdp, decision_weights
from spinsyn.snn.conv.resume import resumable_passes, resume_conv, with_rstdp_config
from spinsyn.snn.conv.rstdp_pass import SparseInputs, sparse_winner
from spinsyn.snn.conv.rstdp_state import STATE_KEY, RstdpState
from spinsyn.snn.conv.updates import apply_update
from spinsyn.snn.synapses import make_synapse

CFG = ConvConfig(f1=4, f2=12, f3=20, adapt_every=7)


def _inputs(n: int, seed: int, density: float = 0.3) -> np.ndarray:
    """Binary conv-3 inputs (n, f2, 8, 8) with zero padding 2 around a 4 × 4 interior, as the default network."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, CFG.f2, 8, 8), bool)
    x[:, :, 2:6, 2:6] = rng.random((n, CFG.f2, 4, 4)) < density
    return x


def _reference_rstdp(net, x3, labels, epochs, rng):
    """The R-STDP loop as first written (dense decision per image, apply_update per winner): the semantics the
    compiled pass must keep bit for bit."""
    c = net.config
    lw = net.layers[2]
    K = c.k3_px
    f_miss, f_hit = (1.0, 1.0) if c.rstdp_unscaled_first_block else (1.0 - 1.0 / c.n_classes, 1.0 / c.n_classes)
    hits = misses = block = 0
    w3T = decision_weights(net)
    ho, wo = x3.shape[2] - K + 1, x3.shape[3] - K + 1
    acc = []
    for _ in range(epochs):
        ep_hits = 0
        order = rng.permutation(len(x3)) if c.rstdp_shuffle else range(len(x3))
        every = c.rstdp_dropout_every or len(x3)
        n_masks = -(-len(x3) // every)
        dropped = rng.random((n_masks, c.f3)) < c.rstdp_dropout if c.rstdp_dropout > 0 else np.zeros((1, c.f3), bool)
        for q, n in enumerate(order):
            u = potential_binary(x3[n], lw.w, w3T)  # (f3, Ho, Wo), the float32 sums of the decision
            u[dropped[q // every]] = -np.inf  # a dropped map cannot win
            flat = int(np.argmax(u))
            v = float(u.ravel()[flat])
            if v > 0.0:
                f, rest = divmod(flat, ho * wo)
                i, j = divmod(rest, wo)
                pre = receptive_field(x3[n], i, j, K)
                if f // (c.f3 // c.n_classes) == labels[n]:
                    dw = np.where(pre, c.ar_plus * f_miss, c.ar_minus * f_miss)
                    hits += 1
                    ep_hits += 1
                else:
                    dw = np.where(pre, c.ap_minus * f_hit, c.ap_plus * f_hit)
                    misses += 1
                apply_update(lw, f, dw, rng, lo=c.w3_lo, hi=c.w3_hi)
                w3T[:, f] = lw.w[f].ravel()
            block += 1
            if block == c.adapt_every:
                f_miss, f_hit = misses / block, hits / block
                hits = misses = block = 0
        acc.append(ep_hits / len(x3))
    return acc


def test_sparse_inputs_round_trip_and_winner_equals_dense():
    x = _inputs(6, 0)
    xs = SparseInputs.from_dense(x)
    assert len(xs) == 6 and xs.shape == (CFG.f2, 8, 8)
    rng = np.random.default_rng(1)
    wT = rng.uniform(0.2, 0.8, (CFG.f2 * 25, CFG.f3)).astype(np.float32)
    for n in range(6):
        np.testing.assert_array_equal(xs.dense(n), x[n])
        assert sparse_winner(xs, n, wT, 5) == winner_binary(x[n], wT, 5)  # same index, same float32 sum
    empty = SparseInputs.from_dense(np.zeros((2, CFG.f2, 8, 8), bool))
    assert sparse_winner(empty, 1, wT, 5) == (0, 0.0)


@pytest.mark.parametrize("synapse, old_read, dropout", [
    ("ideal", False, (0.0, 0)), ("compound:8", False, (0.0, 0)), ("compound:8", True, (0.0, 0)),
    ("compound:3", False, (0.0, 0)), ("quantized:16", False, (0.0, 0)), ("ideal", False, (0.5, 0)),
    ("ideal", False, (0.5, 7)), ("compound:8", False, (0.5, 0)), ("compound:8", False, (0.3, 11)),
    ("quantized:16", False, (0.4, 13)), ("ideal", "st", (0.0, 0)), ("compound:8", "st", (0.3, 11)),
    ("quantized:16", "st", (0.0, 0))])
def test_pass_equals_the_reference_loop_bit_for_bit(synapse, old_read, dropout):
    """ideal and compound: the compiled passes; quantized: the Python loop with sparse decisions. ``old_read``: the
    clipped [0, 1] read of runs written before signed_read and decision_full_range ("st": the current read, with
    [ST]'s file order and unscaled first block); ``dropout``: R-STDP feature dropout (probability, images per mask;
    0: one mask per pass), the masks drawn after the permutation."""
    x = _inputs(60, 2)
    labels = np.random.default_rng(3).integers(0, 10, 60)
    syn = None if synapse == "ideal" else make_synapse(synapse)
    st = old_read == "st"
    old_read = old_read is True
    cfg = dataclasses.replace(CFG, signed_read=not old_read, decision_full_range=not old_read,
                              rstdp_dropout=dropout[0], rstdp_dropout_every=dropout[1], rstdp_shuffle=not st,
                              rstdp_unscaled_first_block=st)
    net = init_network(cfg, syn, np.random.default_rng(4))
    for lw in (net.layers[2],):
        assert lw.w.dtype == np.float64
    ref = copy.deepcopy(net)
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    acc = _train_rstdp(net, x, labels, 3, rng_a, None)
    acc_ref = _reference_rstdp(ref, x, labels, 3, rng_b)
    assert acc == acc_ref and 0 < acc[-1] < 1
    np.testing.assert_array_equal(net.layers[2].w, ref.layers[2].w)
    if syn is not None:
        np.testing.assert_array_equal(net.layers[2].state, ref.layers[2].state)
    assert rng_a.random() == rng_b.random()  # the same draws, in the same number
    st = RstdpState(**net.history[STATE_KEY])
    assert st.passes_done == 3 and 0 <= st.block < CFG.adapt_every and st.rng is not None


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_passes_in_two_calls_equal_one_call(dropout):
    x = _inputs(40, 6)
    labels = np.random.default_rng(7).integers(0, 10, 40)
    net = init_network(dataclasses.replace(CFG, rstdp_dropout=dropout), None, np.random.default_rng(8))
    two = copy.deepcopy(net)
    rng = np.random.default_rng(9)
    _train_rstdp(net, x, labels, 4, rng, None)
    rng2 = np.random.default_rng(9)
    _train_rstdp(two, x, labels, 1, rng2, None)
    fresh = np.random.default_rng()
    RstdpState.from_history(two.history, 10).restore_rng(fresh)  # the saved generator, not rng2
    assert _train_rstdp(two, x, labels, 4, fresh, None).__len__() == 3
    np.testing.assert_array_equal(net.layers[2].w, two.layers[2].w)
    assert net.history[STATE_KEY] == two.history[STATE_KEY]


TINY = ConvConfig(f1=4, f2=12, f3=20, kwta2=4, epochs1=1, epochs2=1, epochs3=3, lr_double_every=50, adapt_every=30)


@pytest.mark.parametrize("synapse", ["ideal", "compound:8"])
def test_resumed_run_from_a_saved_file_equals_an_uninterrupted_run(tmp_path, synapse):
    from spinsyn.mnist import load_mnist

    X, y = load_mnist("train", None, n=80)
    whole = train_conv(TINY, X, y, seed=2, synapse=synapse)
    saved: dict[int, object] = {}
    train_conv(dataclasses.replace(TINY, epochs3=1), X, y, seed=2, synapse=synapse,
               on_epoch=lambda p, net, acc: saved.setdefault(p, save_conv(net, tmp_path / f"p{p}.npz")))
    stage = load_conv(tmp_path / "p1.npz")
    assert resumable_passes(stage) == 1
    passes: list[int] = []
    back = resume_conv(stage, X, y, epochs3=3, on_epoch=lambda p, net, acc: passes.append(p))
    assert passes == [2, 3] and back.config.epochs3 == 3
    for a, b in zip(whole.w, back.w):
        np.testing.assert_array_equal(a, b)
    assert back.history[STATE_KEY] == whole.history[STATE_KEY]
    with pytest.raises(ValueError, match="not the ones"):
        resume_conv(load_conv(tmp_path / "p1.npz"), X[:79], y[:79], epochs3=3)
    with pytest.raises(ValueError, match="below"):
        resume_conv(load_conv(tmp_path / "p1.npz"), X, y, epochs3=0)


def test_conv12_stage_resumes_from_pass_zero(tmp_path):
    from spinsyn.mnist import load_mnist

    X, y = load_mnist("train", None, n=60)
    whole = train_conv(TINY, X, y, seed=1)
    stage = train_conv(dataclasses.replace(TINY, epochs3=0), X, y, seed=1)
    back = resume_conv(load_conv(save_conv(stage, tmp_path / "s.npz")), X, y, epochs3=3)
    np.testing.assert_array_equal(whole.layers[2].w, back.layers[2].w)
    # the conv 1-2 state alone (the generator as conv 2 left it) gives the same R-STDP
    only_stdp = load_conv(save_conv(stage, tmp_path / "c12.npz"))
    only_stdp.history.pop(STATE_KEY)
    np.testing.assert_array_equal(whole.layers[2].w, resume_conv(only_stdp, X, y, epochs3=3).layers[2].w)
    old = load_conv(save_conv(stage, tmp_path / "old.npz"))  # as saved before either state existed
    old.history.pop(STATE_KEY)
    old.history.pop("stdp_state")
    with pytest.raises(ValueError, match="no saved R-STDP or conv 1-2 state"):
        resume_conv(old, X, y, epochs3=3)


@pytest.mark.parametrize("full_range", [True, False])
def test_decision_layer_device_range_spans_its_weight_range(full_range):
    """compound:8 R-STDP with the decision layer's states read as [w3_lo, w3_hi] (decision_full_range) uses the
    first and last state; read as [0, 1], the clip to [w3_lo, w3_hi] keeps it off k = 0 and k = N."""
    cfg = dataclasses.replace(CFG, decision_full_range=full_range, adapt_every=1000, ar_plus=0.05, ar_minus=-0.05,
                              ap_minus=-0.05, ap_plus=0.05)
    x = _inputs(200, 10)
    labels = np.random.default_rng(11).integers(0, 10, 200)
    net = init_network(cfg, make_synapse("compound:8"), np.random.default_rng(12))
    lw = net.layers[2]
    assert (lw.lo, lw.hi) == ((cfg.w3_lo, cfg.w3_hi) if full_range else (0.0, 1.0))
    _train_rstdp(net, x, labels, 8, np.random.default_rng(13), None)
    share = np.bincount(lw.state.ravel(), minlength=9) / lw.state.size
    gmin, gmax = net.synapse.g_bounds_S()
    raw = (net.synapse.g_S(None, lw.state, lw.gp, lw.gap) - gmin) / (gmax - gmin)  # signed read of the devices
    np.testing.assert_allclose(lw.w, lw.lo + (lw.hi - lw.lo) * raw, rtol=0, atol=1e-12)
    np.testing.assert_allclose(lw.base(3), lw.lo + (lw.hi - lw.lo) * lw.state[3] / 8, rtol=0, atol=1e-15)
    if full_range:  # measured: 19 % at k = 0, 9 % at k = 8
        assert share[0] > 0.1 and share[8] > 0.05
    else:  # 0.2·8 = 1.6 and 0.8·8 = 6.4: k = 0 and 8 are never targets, and every update pushes them back
        assert share[0] + share[8] < 0.01  # measured 0.4 %
    assert init_network(cfg, None, np.random.default_rng(0)).layers[2].lo == 0.0  # ideal weights: no range


def test_files_without_the_field_read_the_decision_states_as_0_to_1(tmp_path):
    import json

    net = init_network(CFG, make_synapse("compound:8"), np.random.default_rng(0))
    p = save_conv(net, tmp_path / "n.npz")
    assert load_conv(p).layers[2].lo == CFG.w3_lo
    with np.load(p) as z:
        arrays = dict(z)
    meta = json.loads(bytes(arrays["meta"]).decode())
    del meta["config"]["decision_full_range"]
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(tmp_path / "old.npz", **arrays)
    old = load_conv(tmp_path / "old.npz")
    assert old.config.decision_full_range is False and (old.layers[2].lo, old.layers[2].hi) == (0.0, 1.0)


def test_dropped_feature_maps_neither_win_nor_learn_during_their_pass():
    """R-STDP dropout: in a pass, the maps of the mask drawn after the permutation keep their kernels; the others
    learn; p = 0 draws nothing (runs without dropout keep their random stream); p must lie in [0, 1)."""
    x = _inputs(80, 14)
    labels = np.random.default_rng(15).integers(0, 10, 80)
    cfg = dataclasses.replace(CFG, rstdp_dropout=0.5)
    net = init_network(cfg, None, np.random.default_rng(16))
    before = net.layers[2].w.copy()
    twin = np.random.default_rng(17)
    twin.permutation(80)
    dropped = twin.random((1, cfg.f3))[0] < 0.5
    assert 0 < dropped.sum() < cfg.f3
    _train_rstdp(net, x, labels, 1, np.random.default_rng(17), None)
    changed = np.any(net.layers[2].w != before, axis=(1, 2, 3))
    assert not changed[dropped].any() and changed[~dropped].sum() >= 2
    from spinsyn.snn.conv.network import dropout_masks

    rng = np.random.default_rng(0)
    assert dropout_masks(CFG, 80, rng) is None and rng.random() == np.random.default_rng(0).random()
    m = dropout_masks(dataclasses.replace(cfg, rstdp_dropout_every=30), 80, rng)
    assert m is not None and m.active.shape == (3, cfg.f3)
    np.testing.assert_array_equal(m.row(59), m.active[1])
    np.testing.assert_array_equal(m.row(60), m.active[2])
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match="rstdp_dropout"):
            dataclasses.replace(CFG, rstdp_dropout=bad)


def test_file_order_draws_no_permutation_and_flags_must_be_booleans():
    """rstdp_shuffle False: every pass in file order, without a draw; a JSON 0/1 or "false" is refused."""
    from spinsyn.snn.conv.network import pass_order

    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(pass_order(dataclasses.replace(CFG, rstdp_shuffle=False), 5, rng), np.arange(5))
    assert rng.random() == np.random.default_rng(0).random()
    assert sorted(pass_order(CFG, 5, rng)) == list(range(5))
    for name in ("rstdp_shuffle", "rstdp_unscaled_first_block"):
        for bad in (0, "false"):
            with pytest.raises(ValueError, match=f"{name} must be true or false"):
                ConvConfig.from_dict({name: bad})
    assert RstdpState.start(10, unscaled=True).f_miss == 1.0 == RstdpState.start(10, True).f_hit


@pytest.mark.parametrize("variant", [{"rstdp_dropout": 0.5, "rstdp_dropout_every": 25, "ar_plus": 0.006},
                                     {"rstdp_shuffle": False, "rstdp_unscaled_first_block": True}])
def test_rstdp_variant_from_a_conv12_stage_equals_a_run_made_with_it(tmp_path, variant):
    """with_rstdp_config: the R-STDP fields changed on a network saved after conv 1-2 give the run that had them from
    the start (the [ST] file order and unscaled first block included: the saved start factors follow); refused for
    other fields and once R-STDP has begun."""
    from spinsyn.mnist import load_mnist

    X, y = load_mnist("train", None, n=60)
    whole = train_conv(dataclasses.replace(TINY, **variant), X, y, seed=3)
    stage = load_conv(save_conv(train_conv(dataclasses.replace(TINY, epochs3=0), X, y, seed=3), tmp_path / "s.npz"))
    back = resume_conv(with_rstdp_config(stage, variant), X, y, epochs3=TINY.epochs3)
    np.testing.assert_array_equal(whole.layers[2].w, back.layers[2].w)
    assert back.history[STATE_KEY] == whole.history[STATE_KEY] and back.config == whole.config
    with pytest.raises(ValueError, match="not f3"):
        with_rstdp_config(load_conv(tmp_path / "s.npz"), {"f3": 30})
    with pytest.raises(ValueError, match="begun R-STDP"):
        with_rstdp_config(back, {"rstdp_dropout": 0.1})
