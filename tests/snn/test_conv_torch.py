"""The torch path of the convolutional network (issue 27) against the numba path, on torch's CPU device."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch
from spinsyn.snn.conv import ConvConfig, encode, init_network, predict_conv, propagate
from spinsyn.snn.conv import network as conv_network
from spinsyn.snn.conv.layers import conv_step, kernels_by_input, pointwise_inhibition
from spinsyn.snn.conv.network import _train_rstdp, train_conv
from spinsyn.snn.conv.torch_path import (
    fire,
    pointwise,
    potentials,
    predict_conv_torch,
    propagate_torch,
    torch_device,
)
from spinsyn.snn.conv.torch_rstdp import train_rstdp_torch
from spinsyn.snn.conv.torch_train import train_conv_torch
from spinsyn.snn.synapses import make_synapse

SMALL = ConvConfig(f1=8, f2=32, f3=40, adapt_every=50)


@pytest.fixture(scope="module")
def mnist():
    from spinsyn.mnist import load_mnist

    return load_mnist("test", None, n=100)


def test_one_layer_times_potentials_and_pointwise_equal_numba():
    rng = np.random.default_rng(0)
    s = np.where(rng.random((3, 4, 12, 12)) < 0.6, 15, rng.integers(0, 15, (3, 4, 12, 12))).astype(np.int16)
    w = rng.uniform(0.0, 1.0, (5, 4, 3, 3))
    t, v = fire(potentials(torch.as_tensor(s, dtype=torch.int64), torch.as_tensor(w), 15), 6.0, 15)
    for n in range(3):
        t_ref, pot = conv_step(s[n], w, 6.0, 15)
        assert 0 < (t_ref < 15).mean() < 1  # some neurons fire, some do not (15 = T: never fires)
        np.testing.assert_array_equal(t[n].numpy(), t_ref)
        np.testing.assert_allclose(v[n].numpy(), pot.v_first, rtol=1e-12)
        np.testing.assert_array_equal(pointwise(t[n:n + 1], v[n:n + 1], 15)[0].numpy(),
                                      pointwise_inhibition(t_ref, pot.v_first, 15))


def test_pointwise_ties_go_to_the_largest_potential_then_the_lowest_feature():
    t = torch.tensor([[3, 3, 3, 2], [3, 3, 15, 15]]).T.reshape(1, 4, 1, 2)  # (1, F=4, 1, 2)
    v = torch.tensor([[1.0, 2.0, 2.0, 0.5], [4.0, 4.0, 0.0, 0.0]], dtype=torch.float64).T.reshape(1, 4, 1, 2)
    out = pointwise(t, v, 15)[0, :, 0]
    np.testing.assert_array_equal(out[:, 0].numpy(), [15, 15, 15, 2])  # feature 3 fires first
    np.testing.assert_array_equal(out[:, 1].numpy(), [3, 15, 15, 15])  # tie on t and v: lowest feature
    ref = pointwise_inhibition(t[0].numpy().astype(np.int16), v[0].numpy(), 15)
    np.testing.assert_array_equal(out.numpy(), ref[:, 0])


@pytest.mark.parametrize("pointwise_inference", [False, True])
def test_batched_forward_equals_numba_propagate_exactly(mnist, pointwise_inference):
    cfg = dataclasses.replace(ConvConfig(f1=12, f2=64, f3=40), pointwise_inference=pointwise_inference)
    net = init_network(cfg, None, np.random.default_rng(1))
    s0 = encode(cfg, mnist[0][:30])
    for upto in (1, 2):
        ref = np.stack([propagate(net, s, upto) for s in s0])
        got = propagate_torch(net, s0, upto, "cpu", batch=7)  # batches of 7: a ragged last one
        assert got.dtype == np.int16 and 0.01 < (ref < cfg.T).mean() < 0.95  # pointwise: ~2 % fire
        np.testing.assert_array_equal(got, ref)
    s1 = propagate_torch(net, s0, 1, "cpu")
    np.testing.assert_array_equal(propagate_torch(net, s1, 2, "cpu", first=1), propagate_torch(net, s0, 2, "cpu"))


def test_predict_agrees_with_numba_on_100_test_images(mnist):
    X, y = mnist
    rng = np.random.default_rng(2)
    net = init_network(SMALL, None, rng)
    net.layers[2].w[:] = rng.uniform(0.2, 0.8, net.layers[2].w.shape)  # spread: the decisions vary per image
    ref = predict_conv(net, X)
    got = predict_conv_torch(net, X, "cpu", batch=32)
    assert len(set(ref.tolist())) >= 2  # untrained conv 1-2: few classes, but not one
    np.testing.assert_array_equal(got, ref)


def _x3(cfg, synapse, images, seed=0):
    net = init_network(cfg, None if synapse == "ideal" else make_synapse(synapse), np.random.default_rng(seed))
    return net, propagate_torch(net, encode(cfg, images), 2, "cpu") < cfg.T


@pytest.mark.parametrize("synapse, dropout, st", [("ideal", (0.0, 0), False), ("compound:8", (0.0, 0), False),
                                                  ("ideal", (0.5, 0), False), ("ideal", (0.5, 10), False),
                                                  ("compound:8", (0.0, 0), True)])
def test_batched_rstdp_equals_the_sequential_path(mnist, synapse, dropout, st, monkeypatch):
    """float64 on both sides: the numba path's decisions sum float32 by default, and float32 sums in two different
    orders break the ties that R-STDP creates (weights clipped to w3_hi) differently. The torch path sums
    float32-rounded weights exactly in float64; the reference here sums the float64 weights in float64. ``st``:
    [ST]'s file order and unscaled first block."""
    X, y = mnist
    net0, x3 = _x3(dataclasses.replace(SMALL, rstdp_dropout=dropout[0], rstdp_dropout_every=dropout[1],
                                       rstdp_shuffle=not st, rstdp_unscaled_first_block=st), synapse, X)
    monkeypatch.setattr(conv_network, "decision_weights", lambda net: kernels_by_input(net.layers[2].w))
    seq, bat = copy.deepcopy(net0), copy.deepcopy(net0)
    logs: list[str] = []
    acc_seq = _train_rstdp(seq, x3, y, 3, np.random.default_rng(7), None)
    acc_bat = train_rstdp_torch(bat, x3, y, 3, np.random.default_rng(7), "cpu", batch=24, log=logs.append)
    assert acc_bat == acc_seq and len(logs) == 3
    np.testing.assert_array_equal(bat.layers[2].w, seq.layers[2].w)
    if synapse != "ideal":
        np.testing.assert_array_equal(bat.layers[2].state, seq.layers[2].state)
    assert not np.array_equal(bat.layers[2].w, net0.layers[2].w)


def test_batch_size_does_not_change_the_result(mnist):
    X, y = mnist
    net0, x3 = _x3(SMALL, "ideal", X[:60])
    runs = []
    for batch in (1, 17, 60):
        net = copy.deepcopy(net0)
        seen: list[int] = []
        acc = train_rstdp_torch(net, x3, y[:60], 2, np.random.default_rng(3), "cpu", batch=batch,
                                on_epoch=lambda ep, n, a, seen=seen: seen.append(ep))
        assert seen == [1, 2]
        runs.append((acc, net.layers[2].w))
    for acc, w in runs[1:]:
        assert acc == runs[0][0]
        np.testing.assert_array_equal(w, runs[0][1])


def test_train_conv_torch_follows_train_conv(mnist):
    X, y = mnist
    cfg = dataclasses.replace(SMALL, epochs1=1, epochs2=1, epochs3=2)
    ref = train_conv(cfg, X[:40], y[:40], seed=4)
    got = train_conv_torch(cfg, X[:40], y[:40], seed=4, device="cpu")
    for li in (0, 1):  # conv 1-2: the numba STDP on the same random stream, inputs cached by the torch forward
        np.testing.assert_array_equal(got.layers[li].w, ref.layers[li].w)
    assert got.history["device"] == "cpu" and set(got.history["timing"]) == set(ref.history["timing"])
    # the decision layer: the same up to float32-vs-float64 tie breaking (see the test above); equal for this seed
    assert got.history["train_accuracy"] == ref.history["train_accuracy"]
    np.testing.assert_array_equal(got.layers[2].w, ref.layers[2].w)


def test_cuda_request_without_cuda_is_a_value_error(mnist):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="CUDA is not available"):
        torch_device("cuda")
    net = init_network(SMALL, None, np.random.default_rng(0))
    with pytest.raises(ValueError, match="CUDA is not available"):
        predict_conv_torch(net, mnist[0][:2], "cuda")
    with pytest.raises(ValueError, match="CUDA is not available"):
        train_conv_torch(SMALL, mnist[0][:2], mnist[1][:2], seed=0, device="cuda:0")
    with pytest.raises(ValueError, match="batch"):
        train_rstdp_torch(net, np.zeros((2, 32, 8, 8), bool), np.zeros(2), 1, np.random.default_rng(0), "cpu", batch=0)
