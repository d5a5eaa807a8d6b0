"""NIR export of a conv run (issue 27): the graph's nodes, edges and shapes, its round trip through
``nir.write``/``nir.read``, ``spinsyn export nir`` on a conv run folder, and a step-by-step execution of the graph
(NIR semantics: IF ``v += input; spike if v > v_threshold; v = v_reset``, SumPool2d sums, I integrates) that gives
spinsyn's first spikes and decisions."""

from __future__ import annotations

import numpy as np
import pytest
from spinsyn.cli import main
from spinsyn.snn.conv import ConvConfig, conv_step, encode, init_network, pool_times, predict_conv, save_conv
from spinsyn.snn.conv.nir_graph import conv_nir_graph, conv_nir_neurons
from spinsyn.snn.conv.run import CONV_NET_NAME

nir = pytest.importorskip("nir")  # declared in the nir / interop-test extras, which the test command installs

CHAIN = ["input", "conv1", "if1", "pool1", "pool1_or", "conv2", "if2", "pool2", "pool2_or", "conv3", "decision",
         "output"]


@pytest.fixture(scope="module")
def net():
    cfg = ConvConfig(f1=4, f2=8, f3=20)  # small: the test runs the graph in numpy
    return init_network(cfg, None, np.random.default_rng(5))


def _equal_fields(a, b) -> bool:
    for k, v in vars(a).items():
        if k in ("metadata", "input_type", "output_type"):
            continue
        if not np.array_equal(np.asarray(v), np.asarray(vars(b)[k])):
            return False
    return True


def test_graph_nodes_edges_and_shapes(net):
    c = net.config
    g = conv_nir_graph(net)
    assert list(g.nodes) == CHAIN
    assert g.edges == list(zip(CHAIN[:-1], CHAIN[1:]))
    kinds = {k: type(n).__name__ for k, n in g.nodes.items()}
    assert kinds == {"input": "Input", "conv1": "Conv2d", "if1": "IF", "pool1": "SumPool2d", "pool1_or": "IF",
                     "conv2": "Conv2d", "if2": "IF", "pool2": "SumPool2d", "pool2_or": "IF", "conv3": "Conv2d",
                     "decision": "I", "output": "Output"}
    for i, (name, pad) in enumerate((("conv1", c.pad1), ("conv2", c.pad2), ("conv3", c.pad3))):
        node = g.nodes[name]
        np.testing.assert_array_equal(node.weight, net.w[i])
        assert tuple(node.padding) == (pad, pad) and tuple(node.stride) == (1, 1)
    # 28 + 2·2 − 5 + 1 = 28 → pool 2 → 14 → (14 + 2 − 3 + 1) = 14 → pool 3 → 4 → (4 + 4 − 5 + 1) = 4
    assert g.nodes["if1"].v_threshold.shape == (c.f1, 28, 28) and np.all(g.nodes["if1"].v_threshold == c.thr1)
    assert g.nodes["if2"].v_threshold.shape == (c.f2, 14, 14) and np.all(g.nodes["if2"].v_threshold == c.thr2)
    assert g.nodes["pool1_or"].r.shape == (c.f1, 14, 14) and g.nodes["pool2_or"].r.shape == (c.f2, 4, 4)
    assert g.nodes["decision"].r.shape == (c.f3, 4, 4)
    np.testing.assert_array_equal(g.nodes["pool2"].kernel_size, [c.pool2_px, c.pool2_px])
    # one spike per neuron: the reset is below 0 by the kernel's whole weight
    np.testing.assert_allclose(g.nodes["if1"].v_reset[:, 0, 0], -net.w[0].sum(axis=(1, 2, 3)))
    np.testing.assert_array_equal(g.metadata["decision_map"], net.decision_map())
    assert conv_nir_neurons(g) == c.f1 * (28 * 28 + 14 * 14) + c.f2 * (14 * 14 + 16) + c.f3 * 16
    with pytest.raises(ValueError, match="image_shape_px"):
        conv_nir_graph(net, image_shape_px=(4, 4))


def test_graph_round_trips_through_nir_files(net, tmp_path):
    g0 = conv_nir_graph(net)
    f = tmp_path / "conv.nir"
    nir.write(f, g0)
    g1 = nir.read(f)
    assert sorted(g1.nodes) == sorted(g0.nodes) and sorted(g1.edges) == sorted(g0.edges)
    for k, node in g0.nodes.items():
        assert type(g1.nodes[k]) is type(node), k
        assert _equal_fields(node, g1.nodes[k]), k
    np.testing.assert_array_equal(g1.metadata["decision_map"], g0.metadata["decision_map"])
    assert "k_wta_and_inhibition" in g1.metadata["not_expressed"]


def test_export_nir_accepts_a_conv_run_folder(net, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    save_conv(net, run / CONV_NET_NAME)
    f = tmp_path / "net.nir"
    assert main(["export", "nir", str(run), "--out", str(f)]) == 0
    assert "NIR graph of" in capsys.readouterr().out
    g = nir.read(f)
    assert set(g.nodes) == set(CHAIN)
    np.testing.assert_array_equal(g.nodes["conv3"].weight, net.w[2])


def _conv(ev: np.ndarray, w: np.ndarray, pad: int) -> np.ndarray:
    x = np.pad(ev, ((0, 0), (pad, pad), (pad, pad)))
    k = w.shape[-1]
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))  # (C, Ho, Wo, k, k)
    return np.einsum("chwyx,fcyx->fhw", win, w)


def _sumpool(ev: np.ndarray, k: int) -> np.ndarray:
    C, H, W = ev.shape
    h, w = H // k, W // k
    return ev[:, : h * k, : w * k].reshape(C, h, k, w, k).sum(axis=(2, 4))


def _run_graph(g, events: np.ndarray):
    """NIR semantics, one step at a time, feed-forward chain; returns the first-spike steps of pool1_or (T where
    none) and the decision integrator's state after the last step."""
    T = events.shape[0]
    state: dict[str, np.ndarray] = {}
    first = None
    for t in range(T):
        x = events[t].astype(np.float64)
        for name in CHAIN[1:-1]:
            node = g.nodes[name]
            kind = type(node).__name__
            if kind == "Conv2d":
                x = _conv(x, node.weight, int(node.padding[0]))
            elif kind == "SumPool2d":
                x = _sumpool(x, int(node.kernel_size[0]))
            elif kind == "IF":
                v = state.setdefault(name, np.zeros(node.r.shape)) + node.r * x
                z = v > node.v_threshold
                state[name] = np.where(z, node.v_reset, v)
                x = z.astype(np.float64)
                if name == "pool1_or":
                    first = np.full(x.shape, T) if first is None else first
                    first[z & (first == T)] = t
            else:  # I
                state[name] = state.setdefault(name, np.zeros(node.r.shape)) + node.r * x
                x = state[name]
    return first, state["decision"]


def test_executing_the_graph_gives_spinsyn_spikes_and_decisions(net):
    from spinsyn.mnist import load_mnist

    c = net.config
    X, _ = load_mnist("test", None, n=6)
    s0 = encode(c, X)  # padded spike times (n, C0, 32, 32)
    g = conv_nir_graph(net)
    pred = predict_conv(net, X)
    dmap = g.metadata["decision_map"]
    got = []
    for n in range(len(X)):
        s = s0[n][:, c.pad1:-c.pad1, c.pad1:-c.pad1]
        events = np.stack([s == t for t in range(c.T)])  # one event per input at its latency step
        first, u = _run_graph(g, events)
        t1, _ = conv_step(s0[n], net.w[0], c.thr1, c.T)
        np.testing.assert_array_equal(first, pool_times(t1, c.pool1_px))  # max pool of first spikes, exactly
        got.append(-1 if u.max() <= 0 else int(dmap[np.argmax(u) // (u.shape[1] * u.shape[2])]))
    assert pred.min() >= 0  # the random network is not silent on these images (else the check says little)
    np.testing.assert_array_equal(got, pred)
