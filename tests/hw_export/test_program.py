import dataclasses

import numpy as np
import pytest
from spinsyn import devices
from spinsyn.devices import synapse_device
from spinsyn.hw_export.program import (
    WriteVerifyConfig,
    calibrate,
    component_mtj,
    half_select_exposure,
    level_table,
    write_verify,
)


def _setup(syn, backend=None, **kw):
    dev = synapse_device(syn)
    lv = level_table(dev)
    cfg = WriteVerifyConfig(n_calibration=512, **kw)
    rng = np.random.default_rng(3)
    cal = calibrate(dev, lv, cfg, rng, backend)
    return dev, lv, cfg, cal, rng


@pytest.mark.parametrize("syn", ["compound:8", "compound:3", "dw:16", "quantized:32"])
@pytest.mark.parametrize("max_pulses", [1, 3, 32])
def test_schedules_end_inside_band_or_are_reported_failed(syn, max_pulses):
    dev, lv, cfg, cal, rng = _setup(syn, max_pulses=max_pulses)
    n, L = 3000, dev.spec.n_levels
    q = rng.integers(0, L, n)
    g = lv.g_S[q]
    tol = cfg.tolerance_levels * (lv.g_S[-1] - lv.g_S[0]) / (L - 1)
    res = write_verify(dev, lv, cal, cfg, np.full(n, lv.state[0]), lv.state[q], g - tol, g + tol, rng)
    g_final = dev.conductance_S(res.state)
    np.testing.assert_allclose(res.g_S, g_final)
    inside = (g_final >= g - tol) & (g_final <= g + tol)
    assert np.all(inside ^ res.failed)  # every device either in its band or flagged
    assert np.all(res.n_pulses[res.failed] == max_pulses)
    assert res.n_pulses.max() <= max_pulses
    assert np.all(res.n_pulses == np.bincount(res.dev, minlength=n))
    assert np.all(res.v_V <= cfg.v_max_V + 1e-12) and np.all(res.v_V >= cfg.v_min_V - 1e-12)
    if max_pulses == 32:
        assert res.failed.mean() < 0.01
    if max_pulses == 1 and dev.spec.discrete:
        assert res.failed.sum() > 0  # a single stochastic pulse cannot land every MTJ count


def test_levels_come_from_the_synapse_device():
    for syn in ("compound:8", "dw:16", "quantized:9"):
        dev = synapse_device(syn)
        lv = level_table(dev)
        np.testing.assert_array_equal(lv.g_S, dev.level_conductances_S())
        np.testing.assert_array_equal(lv.state, dev.level_states())
        assert lv.discrete == dev.spec.discrete
    c4 = synapse_device("compound:4")
    assert component_mtj(c4) is c4.model.mtj
    assert component_mtj(synapse_device("dw:8")) is None
    with pytest.raises(ValueError, match="no levels"):
        level_table(synapse_device("ideal"))


def test_level_zero_needs_no_pulse():
    dev, lv, cfg, cal, rng = _setup("compound:8")
    res = write_verify(dev, lv, cal, cfg, np.zeros(50, np.int64), np.zeros(50, np.int64),
                       np.full(50, lv.g_S[0] - 1e-6), np.full(50, lv.g_S[0] + 1e-6), rng)
    assert res.n_pulses.sum() == 0 and not res.failed.any()


class Flipped:
    """spinsyn.devices with the pulse polarity reversed."""

    switch_probability = staticmethod(devices.switch_probability)

    @staticmethod
    def apply_pulse(model, state, v_V, width_ns, rng, params=None):
        return devices.apply_pulse(model, state, -np.asarray(v_V), width_ns, rng)


def test_polarity_is_detected_from_the_model():
    dev, lv, cfg, cal, rng = _setup("compound:4", backend=Flipped)
    assert cal.set_sign == -1
    q = np.full(200, 4)
    tol = 0.4 * (lv.g_S[1] - lv.g_S[0])
    res = write_verify(dev, lv, cal, cfg, np.zeros(200, np.int64), q, lv.g_S[q] - tol, lv.g_S[q] + tol, rng,
                       backend=Flipped)
    assert np.mean(res.state == 4) > 0.99


def test_unprogrammable_device_is_reported():
    dev = synapse_device("compound:4")
    with pytest.raises(ValueError, match="raise --v-max"):
        calibrate(dev, level_table(dev), WriteVerifyConfig(v_max_V=0.1, n_calibration=64), np.random.default_rng(0))


def test_half_select_exposure_by_hand():
    _dev, _lv, cfg, cal, _rng = _setup("compound:4")
    cal = dataclasses.replace(cal, p_hs_P=np.full(cal.v_hs_V.size, 0.1), p_hs_AP=np.full(cal.v_hs_V.size, 0.2))
    h_P, h_AP = -np.log(0.9), -np.log(0.8)
    # 2x2 tile, row-major programming: one SET pulse on (1, 1), one RESET pulse on (0, 1)
    cell = np.array([3, 1])
    pol = np.array([1, -1], np.int8)
    v = np.array([0.8, 0.8])
    e_P, e_AP = half_select_exposure(cal, cfg, (2, 2), cell, v, pol, True)
    # V/2: only cells programmed earlier on the same line are exposed: (0,1) earlier than (1,1) in column 1,
    # (1,0) earlier in row 1; (0,0) is earlier than (0,1) in row 0
    np.testing.assert_allclose(e_P, [[0, h_P], [h_P, 0]])
    np.testing.assert_allclose(e_AP, [[h_AP, 0], [0, 0]])
    cfg3 = dataclasses.replace(cfg, half_select="V/3")
    e_P3, e_AP3 = half_select_exposure(cal, cfg3, (2, 2), cell, v, pol, True)
    # V/3: (0,0) also sees the (1,1) SET pulse with reversed polarity (neither line shared)
    np.testing.assert_allclose(e_P3, [[0, h_P], [h_P, 0]])
    np.testing.assert_allclose(e_AP3, [[h_AP + h_AP, 0], [0, 0]])
