"""spinsyn.snn.conv: the Mozafari et al. (2019) convolutional STDP / R-STDP network (issue 27)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from spinsyn.snn.conv import (
    ConvConfig,
    LayerWeights,
    apply_update,
    conv_step,
    dog_filter,
    dog_kernel,
    evaluate_conv,
    intensity_to_latency,
    k_winners,
    load_conv,
    pointwise_inhibition,
    pool_times,
    potential_binary,
    save_conv,
    stdp_dw,
    train_conv,
    winner_binary,
)
from spinsyn.snn.conv.network import _train_rstdp, init_network
from spinsyn.snn.synapses import make_synapse

T = 15


# --- input coding ---------------------------------------------------------------------------------------------------

def test_dog_kernel_zero_mean_unit_max_and_centre_sign():
    on = dog_kernel(7, 7 / 9, 14 / 9)
    off = dog_kernel(7, 14 / 9, 7 / 9)
    for k in (on, off):
        assert abs(k.mean()) < 1e-12 and k.max() == pytest.approx(1.0)
        np.testing.assert_allclose(k, k.T)  # isotropic
    assert on[3, 3] == on.max() and on[0, 0] < 0  # on-centre: positive centre, negative surround
    assert off[3, 3] < 0 and off[3, 3] == off.min()


def test_dog_filter_responds_on_a_spot_and_latency_orders_by_intensity():
    img = np.zeros((1, 11, 11), np.uint8)
    img[0, 5, 5] = 255  # a bright dot on black: the on-centre filter peaks on it, the off-centre one around it
    r = dog_filter(img, (3,), threshold=50.0, norm_radius_px=0)
    assert r.shape == (1, 2, 11, 11)
    k = dog_kernel(3, 3 / 9, 6 / 9)
    assert r[0, 0, 5, 5] == pytest.approx(255 * k[1, 1])  # correlation by hand at the centre
    assert r[0, 0].argmax() == 5 * 11 + 5
    off = dog_kernel(3, 6 / 9, 3 / 9)
    assert r[0, 1, 5, 5] == 0  # off-centre at the dot: 255·(negative centre) is below the threshold
    assert r[0, 1, 5, 6] == pytest.approx(255 * off[1, 0]) and r[0, 1, 5, 6] > 50  # its positive surround
    assert np.all(r[0, 1, :3] == 0)  # nothing far from the dot
    # intensity -> latency by hand: 6 nonzero values, T = 3 -> bins of 2, strongest first
    v = np.array([[0.0, 5.0, 1.0], [3.0, 0.0, 6.0], [2.0, 4.0, 0.0]])
    s = intensity_to_latency(v, 3)
    np.testing.assert_array_equal(s, [[3, 0, 2], [1, 3, 0], [2, 1, 3]])
    # 7 nonzero values, T = 3: bins of 2, the weakest one is left over and never fires
    v2 = np.array([7.0, 6, 5, 4, 3, 2, 1, 0])
    np.testing.assert_array_equal(intensity_to_latency(v2, 3), [0, 0, 1, 1, 2, 2, 3, 3])


# --- layers ---------------------------------------------------------------------------------------------------------

def test_conv_step_threshold_crossing_by_hand():
    s = np.full((1, 3, 3), T, np.int16)
    s[0, 0, 0], s[0, 1, 1], s[0, 2, 2] = 2, 4, 4  # three inputs of a 3x3 kernel fire at t = 2, 4, 4
    w = np.full((2, 1, 3, 3), 0.5)
    w[1] *= 2  # the second feature sums to 1.0 per input
    t, pot = conv_step(s, w, thr=1.2, T=T)
    assert t.shape == (2, 1, 1)
    # feature 0: u = 0.5 at t=2, 1.5 at t=4 (> 1.2) -> fires at 4; feature 1: u = 1.0 at t=2, 3.0 at t=4 -> 4
    assert t[0, 0, 0] == 4 and pot.v_first[0, 0, 0] == pytest.approx(1.5)
    assert t[1, 0, 0] == 4 and pot.v_final[1, 0, 0] == pytest.approx(3.0)
    t, pot = conv_step(s, w, thr=0.9, T=T)
    assert t[0, 0, 0] == 4 and t[1, 0, 0] == 2 and pot.v_first[1, 0, 0] == pytest.approx(1.0)
    t, _ = conv_step(s, w, thr=5.0, T=T)
    assert np.all(t == T)  # never above threshold: silent


def test_pool_takes_earliest_spike():
    s = np.array([[[5, 3, T, T], [7, 9, T, 1], [T, T, 2, T], [T, T, T, 4]]], np.int16)
    np.testing.assert_array_equal(pool_times(s, 2)[0], [[3, 1], [T, 2]])


def test_pointwise_inhibition_earliest_then_largest():
    t = np.full((3, 1, 2), T, np.int16)
    v = np.zeros((3, 1, 2))
    t[:, 0, 0] = [4, 2, 2]
    v[:, 0, 0] = [9.0, 1.0, 3.0]  # features 1 and 2 both fire first at t = 2; 2 has the larger potential
    t[0, 0, 1] = 5
    v[0, 0, 1] = 1.0
    out = pointwise_inhibition(t, v, T)
    np.testing.assert_array_equal(out[:, 0, 0], [T, T, 2])
    np.testing.assert_array_equal(out[:, 0, 1], [5, T, T])


def test_k_winners_order_one_per_feature_and_lateral_inhibition():
    F, H, W = 3, 7, 7
    t = np.full((F, H, W), T, np.int16)
    v = np.zeros((F, H, W))

    def put(f, i, j, tt, vv):
        t[f, i, j], v[f, i, j] = tt, vv

    put(0, 3, 3, 1, 5.0)  # earliest: first winner
    put(0, 0, 0, 0, 1.0)  # ... no: this one is even earlier -> first winner; removes feature 0
    put(1, 1, 1, 2, 9.0)  # within radius 1 of (0, 0): inhibited
    put(1, 6, 6, 3, 2.0)
    put(2, 6, 5, 3, 4.0)  # same time as (1, 6, 6), larger potential -> wins, then inhibits (1, 6, 6)
    w = k_winners(t, v, k=5, r=1, T=T)
    np.testing.assert_array_equal(w, [[0, 0, 0], [2, 6, 5]])
    # without lateral inhibition the neighbours win too, still one per feature map
    w0 = k_winners(t, v, k=5, r=0, T=T)
    np.testing.assert_array_equal(w0, [[0, 0, 0], [1, 1, 1], [2, 6, 5]])
    assert len(k_winners(t, v, k=1, r=0, T=T)) == 1
    assert len(k_winners(np.full((2, 3, 3), T, np.int16), np.zeros((2, 3, 3)), 4, 1, T)) == 0


def test_stdp_sign_and_amount_on_a_hand_built_pair():
    pre = np.array([[[1, 5], [6, T]]], np.int16)  # before, same step, after, never (post fires at t = 5)
    w = np.array([[[0.5, 0.2], [0.5, 0.9]]])
    dw = stdp_dw(pre, 5, w, 0.004, -0.003)
    np.testing.assert_allclose(dw, [[[0.004 * 0.25, 0.004 * 0.16], [-0.003 * 0.25, -0.003 * 0.09]]])
    np.testing.assert_allclose(stdp_dw(pre, 5, w, 0.004, -0.003, stabilizer=False), [[[0.004, 0.004],
                                                                                        [-0.003, -0.003]]])


def test_stdp_with_a_fitted_rule_follows_f_of_the_delay():
    pre = np.array([[[5, 4, 0, 6, T]]], np.int16)  # post at 5: Δt = 0, 1, 5 steps; later; never
    w = np.full((1, 1, 5), 0.5)
    f_tab = np.array([1.0, 0.5, 0.0, 0.0, 0.0, -1.0])  # per step of Δt; a longer Δt would read 0
    dw = stdp_dw(pre, 5, w, 0.004, -0.003, stabilizer=False, f_tab=f_tab)
    np.testing.assert_allclose(dw, [[[0.004, 0.002, -0.003, -0.003, -0.003]]])
    dw = stdp_dw(np.array([[[0]]], np.int16), 9, np.full((1, 1, 1), 0.5), 0.004, -0.003, f_tab=f_tab)
    assert dw[0, 0, 0] == 0.0  # Δt = 9 steps lies beyond the table: no change


def test_training_with_the_published_rule_records_it_and_changes_the_kernels():
    from spinsyn.snn.rules import rule_from_dict

    rng = np.random.default_rng(0)
    X = (rng.random((12, 28, 28)) * 255).astype(np.uint8)
    y = np.arange(12) % 2
    cfg = ConvConfig(f1=3, f2=4, f3=2, n_classes=2, epochs1=1, epochs2=1, epochs3=1, lr_double_every=4)
    plain = train_conv(cfg, X, y, seed=1)
    ruled = train_conv(cfg, X, y, seed=1, rule=rule_from_dict({"name": "trace"}))
    assert plain.history["rule"] is None
    rec = ruled.history["rule"]
    assert rec["dt_ms"] == 4.0 and rec["f_per_step"][0] == 1.0 and min(rec["f_per_step"]) < -0.9
    assert not np.array_equal(plain.layers[0].w, ruled.layers[0].w)


def test_rstdp_reward_potentiates_active_inputs_punishment_depresses_them():
    cfg = ConvConfig(f1=2, f2=4, f3=2, n_classes=2, adapt_every=1000, epochs3=1)
    rng = np.random.default_rng(0)
    x3 = np.zeros((1, 4, 5, 5), bool)
    x3[0, :2] = True  # channels 0, 1 fire, 2, 3 do not
    for label, sign in ((0, +1), (1, -1)):
        net = init_network(cfg, None, rng)
        net.layers[2].w[:] = 0.5
        net.layers[2].w[1] = 0.3  # feature 0 (class 0) has the larger potential: the decision is class 0
        w_before = net.layers[2].w.copy()
        _train_rstdp(net, x3, np.array([label]), 1, rng, None)
        d = net.layers[2].w[0] - w_before[0]
        assert np.all(np.sign(d[:2]) == sign) and np.all(np.sign(d[2:]) == -sign)
        # rates: reward × miss ratio 0.5 (chance for 2 classes), punishment × hit ratio 0.5
        expect = (0.004 * 0.5, -0.003 * 0.5) if sign > 0 else (-0.004 * 0.5, 0.0005 * 0.5)
        np.testing.assert_allclose(d[:2], expect[0])
        np.testing.assert_allclose(d[2:], expect[1])
        np.testing.assert_array_equal(net.layers[2].w[1], w_before[1])  # the loser is untouched


def _potential_by_hand(x, w):
    F, C, K, _ = w.shape
    Ho, Wo = x.shape[1] - K + 1, x.shape[2] - K + 1
    u = np.zeros((F, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            u[:, i, j] = np.tensordot(w, x[:, i:i + K, j:j + K].astype(float), axes=3)
    return u


def test_decision_potential_and_winner_match_a_direct_convolution():
    rng = np.random.default_rng(3)
    x = rng.random((7, 9, 9)) < 0.3
    x[:, :2] = x[:, -2:] = False  # zero padding as the decision layer's input has
    w = rng.uniform(0.2, 0.8, (12, 7, 5, 5))
    ref = _potential_by_hand(x, w)
    np.testing.assert_allclose(potential_binary(x, w), ref, rtol=1e-12)
    w32 = np.ascontiguousarray(w.reshape(12, -1).T, np.float32)
    np.testing.assert_allclose(potential_binary(x, w, w32), ref, rtol=1e-5)
    flat, v = winner_binary(x, w32, 5)
    assert flat == int(np.argmax(ref)) and v == pytest.approx(ref.max(), rel=1e-5)
    w_tie = np.full_like(w, 0.5)  # every neuron of a full window ties: the first in (F, Ho, Wo) order wins
    x_full = np.ones_like(x)
    assert winner_binary(x_full, np.ascontiguousarray(w_tie.reshape(12, -1).T, np.float32), 5)[0] == 0


# --- synapse kinds --------------------------------------------------------------------------------------------------

def test_apply_update_ideal_clips_and_quantized_is_unbiased_on_levels():
    rng = np.random.default_rng(1)
    ideal = LayerWeights.create(np.full((1, 4), 0.5), None, rng)
    apply_update(ideal, 0, np.array([0.1, -0.7, 0.6, 0.0]), rng, lo=0.2, hi=0.8)
    np.testing.assert_allclose(ideal.w[0], [0.6, 0.2, 0.8, 0.5])
    syn = make_synapse("quantized:5")
    q = LayerWeights.create(np.full((1, 20000), 0.5), syn, rng)
    np.testing.assert_array_equal(q.w, 0.5)  # 0.5 is level 2 of 0..4
    apply_update(q, 0, np.full(20000, 0.1), rng)  # target 0.6 = 2.4 levels: 40 % go up one level
    assert set(np.unique(q.w)) == {0.5, 0.75}
    assert q.w.mean() == pytest.approx(0.6, abs=0.005)
    np.testing.assert_array_equal(q.w[0], q.state[0] / 4)


def test_apply_update_compound_switches_mtjs_towards_the_target():
    rng = np.random.default_rng(2)
    syn = make_synapse("compound:8", g_spread=0.0)
    c = LayerWeights.create(np.full((1, 20000), 0.5), syn, rng)
    k0 = c.state.copy()
    apply_update(c, 0, np.full(20000, 0.25), rng)
    dk = c.state - k0
    assert np.all(dk >= 0) and dk.mean() == pytest.approx(0.25 * 8, rel=0.05)  # E[Δk] = (t·N − k) with gain 1
    assert np.all((c.state >= 0) & (c.state <= 8))
    np.testing.assert_allclose(c.w[0], np.clip(c.state[0] / 8, 0, 1), atol=1e-9)  # no spread: w = k/N


def test_stabilizer_lets_a_saturated_device_synapse_leave_its_last_state():
    from spinsyn.snn.conv.updates import stabilizer_weight

    rng = np.random.default_rng(4)
    ideal = LayerWeights.create(np.array([[0.0, 0.3, 1.0]]), None, rng)
    np.testing.assert_array_equal(stabilizer_weight(ideal, 0), ideal.w[0])  # ideal weights: the papers' w
    c = LayerWeights.create(np.ones((1, 4000)), make_synapse("compound:8", g_spread=0.0), rng)
    assert np.all(c.state == 8)
    sw = stabilizer_weight(c, 0)
    np.testing.assert_allclose(sw, 1 - 1 / 16)  # half a step inside the last state
    never = np.full((1, 4000), T, np.int16)  # inputs that never fired: LTD of the winner's kernel
    for _ in range(3):
        apply_update(c, 0, stdp_dw(never, 3, stabilizer_weight(c, 0), 0.15, -0.1125)[0], rng)
    assert c.state.mean() < 7.9  # it leaves k = N (with the stabilizer at k/N = 1 it could not: dw = 0)
    assert np.all(stdp_dw(never, 3, np.ones((1, 4000)), 0.15, -0.1125) == 0)  # the stabilizer at w = 1 itself
    top = LayerWeights.create(np.ones((1, 10)), make_synapse("compound:8", g_spread=0.0), rng)
    np.testing.assert_allclose(stabilizer_weight(top, 0, 0.125), 1 - 0.125 / 8)  # ConvConfig.stabilizer_floor_steps
    for bad in (0.0, 0.6, -1.0):
        with pytest.raises(ValueError, match="stabilizer_floor_steps"):
            ConvConfig(stabilizer_floor_steps=bad)


def test_compound_read_is_signed_against_the_nominal_reference_unless_clipped():
    rng = np.random.default_rng(6)
    syn = make_synapse("compound:8", g_spread=0.05)
    signed = LayerWeights.create(np.zeros((1, 20000)), syn, rng, signed=True)
    clipped = LayerWeights.create(np.zeros((1, 20000)), syn, np.random.default_rng(6), signed=False)
    np.testing.assert_array_equal(signed.state, 0)
    np.testing.assert_array_equal(clipped.state, signed.state)
    # k = 0 with lognormal spread of G_AP: the signed read is centred on 0; the clip keeps only the upper half
    assert abs(signed.w.mean()) < 0.002 and signed.w.min() < -0.02
    assert clipped.w.min() == 0.0 and clipped.w.mean() > 0.3 * signed.w.std()
    np.testing.assert_allclose(np.clip(signed.w, 0, 1), clipped.w)
    apply_update(signed, 0, np.full(20000, 0.5), rng)  # updates keep the read of the layer
    assert signed.w.max() > 0.3 and np.all(signed.state <= 8)


def test_signed_read_is_recorded_and_files_written_before_it_read_clipped(tmp_path):
    import json

    from spinsyn.snn.conv.run import conv_config

    cfg = ConvConfig(f1=4, f2=8, f3=10, epochs1=0, epochs2=0, epochs3=0)
    assert cfg.signed_read and ConvConfig.from_dict(cfg.to_dict()).signed_read
    assert ConvConfig.from_dict({}).signed_read and conv_config((1, 1, 1), {"f2": 8}).signed_read  # the CLI's path
    net = init_network(cfg, make_synapse("compound:8"), np.random.default_rng(0))
    assert all(lw.signed for lw in net.layers)
    path = save_conv(net, tmp_path / "c.npz")
    assert all(lw.signed for lw in load_conv(path).layers)
    with np.load(path) as z:  # the same file as written before the field existed
        arrays = dict(z)
    meta = json.loads(bytes(arrays["meta"]).decode())
    del meta["config"]["signed_read"]
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(tmp_path / "old.npz", **arrays)
    old = load_conv(tmp_path / "old.npz")
    assert old.config.signed_read is False and not any(lw.signed for lw in old.layers)


# --- end to end -----------------------------------------------------------------------------------------------------

TINY = ConvConfig(f1=8, f2=32, f3=40, kwta2=4, epochs1=2, epochs2=2, epochs3=20, lr_double_every=50,
                  adapt_every=100)


def test_tiny_training_learns_above_chance_and_round_trips(tmp_path):
    from spinsyn.mnist import load_mnist

    X, y = load_mnist("train", None, n=500)
    net = train_conv(TINY, X[:200], y[:200], seed=3)
    acc = net.history["train_accuracy"]
    assert acc[-1] > 0.4 and acc[-1] > acc[0]  # R-STDP on 200 images, 10 classes (chance 0.1); measured 0.6
    r = evaluate_conv(net, X[200:], y[200:])
    assert r["per_image"].shape == (300,) and 0.0 <= r["silent"] <= 1.0
    assert r["accuracy"] > 0.3  # 300 held-out images, chance 0.1; measured 0.50 (0.46-0.55 over seeds 0, 1, 3)
    again = train_conv(TINY, X[:200], y[:200], seed=3)
    for a, b in zip(net.w, again.w):
        np.testing.assert_array_equal(a, b)  # deterministic given the seed
    p = save_conv(net, tmp_path / "net.npz")
    back = load_conv(p)
    assert back.config == net.config
    for a, b in zip(net.w, back.w):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(evaluate_conv(back, X[200:300], y[200:300])["per_image"], r["per_image"][:100])


def test_quantized_training_runs_and_saves_device_state(tmp_path):
    from spinsyn.mnist import load_mnist

    X, y = load_mnist("train", None, n=60)
    cfg = dataclasses.replace(TINY, epochs1=1, epochs2=1, epochs3=1)
    net = train_conv(cfg, X, y, seed=0, synapse="quantized:16")
    for lw in net.layers:
        np.testing.assert_allclose(lw.w, lw.lo + (lw.hi - lw.lo) * lw.state / 15)
    assert [(lw.lo, lw.hi) for lw in net.layers] == [(0.0, 1.0), (0.0, 1.0), (cfg.w3_lo, cfg.w3_hi)]
    back = load_conv(save_conv(net, tmp_path / "q.npz"))
    assert str(back.synapse.spec) == "quantized:16"
    np.testing.assert_array_equal(back.layers[0].state, net.layers[0].state)


def test_config_validation():
    with pytest.raises(ValueError, match="f3"):
        ConvConfig(f3=25)
    with pytest.raises(ValueError, match="T"):
        ConvConfig(T=0)
    with pytest.raises(ValueError, match="labels"):
        train_conv(TINY, np.zeros((2, 28, 28), np.uint8), np.array([0, 12]), seed=0)
