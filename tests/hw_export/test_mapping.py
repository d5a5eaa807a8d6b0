import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spinsyn.devices import SynapseSpec
from spinsyn.hw_export.mapping import (
    conductance_to_weights,
    levels_to_conductance,
    make_scale,
    weight_range,
    weight_step,
    weights_to_levels,
)


@pytest.mark.parametrize("text,kind,levels", [("compound:8", "compound", 9), ("dw:16", "dw", 16),
                                              ("quantized:4", "quantized", 4), (" compound:1 ", "compound", 2)])
def test_one_synapse_vocabulary(text, kind, levels):
    spec = SynapseSpec.parse(text)
    assert isinstance(spec, SynapseSpec) and spec == SynapseSpec.parse(text)
    assert spec.kind == kind and spec.n_levels == levels


@pytest.mark.parametrize("bad", ["compound:0", "dw:1", "compound:x", "quantized:-3", "", "analog:4"])
def test_parse_synapse_rejects(bad):
    with pytest.raises(ValueError, match="--synapse"):
        SynapseSpec.parse(bad)


def _levels(L, nonlinear=False):
    x = np.linspace(0, 1, L)
    return 1e-4 + 1e-4 * (x**1.5 if nonlinear else x)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 40), st.sampled_from(["unipolar", "differential"]), st.booleans(), st.integers(0, 10**6))
def test_round_trip_within_one_level(L, mapping, nonlinear, seed):
    rng = np.random.default_rng(seed)
    w = rng.normal(0.3, 1.0, size=(13, 7))
    lo, hi = weight_range(w, mapping, None)
    scale = make_scale(_levels(L, nonlinear), mapping, lo, hi)
    lv = weights_to_levels(w, scale)
    assert lv.shape == (13, 7 if mapping == "unipolar" else 14)
    assert lv.min() >= 0 and lv.max() < L
    back = conductance_to_weights(levels_to_conductance(lv, scale), scale)
    assert back.shape == w.shape
    # nearest level in conductance: error at most half the widest level gap (one level at most)
    gaps = np.diff(_levels(L, nonlinear)) / (scale.g_max_S - scale.g_min_S)
    span = (hi - lo) if mapping == "unipolar" else hi
    assert np.max(np.abs(back - w)) <= 0.5 * gaps.max() * span + 1e-12
    assert np.max(np.abs(back - w)) <= weight_step(scale) * (gaps.max() / gaps.mean()) + 1e-12


def test_differential_pairs_have_one_device_at_reset():
    scale = make_scale(_levels(9), "differential", -1.0, 1.0)
    w = np.array([[-1.0, -0.5, 0.0, 0.5, 1.0]])
    lv = weights_to_levels(w, scale)
    assert np.all((lv[:, 0::2] == 0) | (lv[:, 1::2] == 0))
    assert lv.tolist() == [[0, 8, 0, 4, 0, 0, 4, 0, 8, 0]]
    np.testing.assert_allclose(conductance_to_weights(levels_to_conductance(lv, scale), scale), w)


def test_unipolar_clips_out_of_range_and_given_range():
    scale = make_scale(_levels(5), "unipolar", 0.0, 1.0)
    lv = weights_to_levels(np.array([[-3.0, 0.0, 0.49, 0.51, 1.0, 7.0]]), scale)
    assert lv.tolist() == [[0, 0, 2, 2, 4, 4]]
    with pytest.raises(ValueError, match="--w-range"):
        weight_range(np.zeros((2, 2)), "unipolar", (1.0, 1.0))


def test_scale_rejects_non_increasing_levels():
    with pytest.raises(ValueError, match="strictly increasing"):
        make_scale(np.array([1e-4, 1e-4, 2e-4]), "unipolar", 0, 1)
