"""Learning rules against hand-computed spike trains (one post neuron driven by one strong input)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from spinsyn.snn import kernels as K
from spinsyn.snn.params import NetworkParams
from spinsyn.snn.rules import PUBLISHED, BiSigmoidTrace, PostPre, make_rule


def csr(spikes: dict[int, list[int]], T: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR input trains from {input index: [spike steps]}."""
    ev = sorted((t, i) for i, ts in spikes.items() for t in ts)
    ptr = np.zeros(T + 1, np.int32)
    for t, _ in ev:
        ptr[t + 1] += 1
    return np.array([i for _, i in ev], np.int32), np.cumsum(ptr).astype(np.int32)


def f_hand(dt: float) -> float:
    """Published bi-sigmoid, written out by hand: (A − A·σ(k0(Δt−t0)) − A·σ(k1(Δt−t1)))/A."""
    p = PUBLISHED

    def sig(z):
        return 1 / (1 + math.exp(-z))

    return 1 - sig(p["k0"] * (dt - p["t0"])) - sig(p["k1"] * (dt - p["t1"]))


def _run(rule, spikes, T=120):
    P = NetworkParams(n_neurons=1).packed()
    w = np.zeros((784, 1))
    w[0, 0] = 20.0  # one spike of input 0 at t lifts v from -65 to -45 mV at t+1: a post spike
    idx, ptr = csr(spikes, T)
    dWT = np.zeros((1, 784))
    counts = np.zeros(1, np.int64)
    sp = np.zeros(1, np.int64)
    c = rule.compile(1.0)
    K.simulate_image(idx, ptr, T, w, np.zeros(1), P, True, c.kind, c.f_tab, c.nu_pre, c.nu_post, c.trace_decay,
                     c.spread, c.offset, dWT, counts, sp, *K.NO_ADC_IMAGE)
    return dWT[0], counts[0]


def test_trace_rule_matches_hand_computed_values():
    nu = 0.01
    # post spike at t = 81 (input 0 at 80). Last pre spikes: in1 @72 (Δt 9), in2 @81 (0), in3 never,
    # in4 @90 (after the post spike), in5 @40,@75 (last 75: Δt 6), in6 @15 (Δt 66, outside), in7 @21 (Δt 60, edge),
    # in8 @20 (Δt 61, outside).
    spikes = {0: [80], 1: [72], 2: [81], 4: [90], 5: [40, 75], 6: [15], 7: [21], 8: [20]}
    dw, n_post = _run(BiSigmoidTrace(nu_post=nu), spikes)
    assert n_post == 1
    peak = max(abs(f_hand(k)) for k in range(61))
    expect = np.zeros(784)
    for i, dt in {0: 1, 1: 9, 2: 0, 5: 6, 7: 60}.items():
        expect[i] = nu * f_hand(dt) / peak
    np.testing.assert_allclose(dw, expect, rtol=1e-7, atol=1e-15)
    assert dw[1] > 0 and dw[7] < 0  # potentiation at 9 ms, depression at the window edge (60 ms)
    assert dw[6] == 0.0 and dw[8] == 0.0 and dw[3] == 0.0 and dw[4] == 0.0


def test_trace_rule_offset_depresses_silent_inputs():
    dw, _ = _run(BiSigmoidTrace(nu_post=0.01, offset=0.1), {0: [80]})
    assert dw[3] == pytest.approx(-0.001)
    assert dw[0] > 0


def test_postpre_matches_hand_computed_traces():
    r = PostPre(nu_pre=1e-4, nu_post=1e-2)
    dw, n_post = _run(r, {0: [80], 1: [70], 2: [95]})
    d = math.exp(-1 / 20)
    assert n_post == 1
    assert dw[0] == pytest.approx(1e-2 * d ** 1)  # pre 80 -> post 81
    assert dw[1] == pytest.approx(1e-2 * d ** 11)
    assert dw[2] == pytest.approx(-1e-4 * d ** 14)  # pre 95 after post 81: depression


def test_registry_and_bad_names():
    assert isinstance(make_rule("trace"), BiSigmoidTrace)
    with pytest.raises(ValueError, match="unknown rule"):
        make_rule("hebb")


def test_rule_file_of_another_schema_is_rejected(tmp_path):
    from spinsyn.fileio import SpinsynFileError, write_json

    path = tmp_path / "not_a_rule.json"
    write_json(path, {"x": 1}, fmt="spinsyn-metrics", version=1)
    with pytest.raises((SpinsynFileError, ValueError)):
        BiSigmoidTrace(rule_path=str(path)).compile(1.0)
