"""Half-select disturb of domain-wall devices (issue 27): the analytic exposure model against the device model's
own pulses applied one after another to the half-selected cells."""

import numpy as np
import pytest
from spinsyn.devices import synapse_device
from spinsyn.hw_export.program import (
    WriteVerifyConfig,
    calibrate,
    half_select_drift,
    half_select_exposure,
    level_table,
    pulse,
)


@pytest.fixture(scope="module")
def dw16():
    dev = synapse_device("dw:16")
    lv = level_table(dev)
    cfg = WriteVerifyConfig(n_calibration=512, v_max_V=0.4)
    return dev, lv, cfg, calibrate(dev, lv, cfg, np.random.default_rng(0))


def _sequential_drift(dev, lv, cfg, cal, v_V: float, n: int) -> float:
    """Mean wall displacement (fraction of the range) of cells at the level states after ``n`` set pulses of
    ``v_V`` on their row, each seen at V/2, applied in turn with the device model."""
    rng = np.random.default_rng(1)
    s0 = np.resize(lv.state, 2048).astype(float)
    s = s0.copy()
    for _ in range(n):
        s = dev.model.apply_write_pulse(s, np.full(s.size, cal.set_sign * v_V / 2), cfg.width_ns, rng)
    return float((s - s0).mean())


def _model_drift(cal, cfg, v_V: float, n: int) -> float:
    """e_P of cell (0, 0) of a 1 x (n+1) tile whose n later cells each get one set pulse of ``v_V``."""
    e_P, e_AP = half_select_exposure(cal, cfg, (1, n + 1), np.arange(1, n + 1), np.full(n, v_V),
                                     np.ones(n, np.int8), False)
    assert e_AP[0, 0] == 0.0
    return float(e_P[0, 0])


def test_drift_is_zero_at_zero_volts(dw16):
    _dev, _lv, _cfg, cal = dw16
    assert cal.v_V[0] > 0 and max(cal.r_set[0], cal.r_reset[0]) > 0  # the first calibrated pulse moves the wall
    np.testing.assert_array_equal(cal.drift(np.zeros(1), True), 0.0)
    np.testing.assert_array_equal(cal.drift(np.zeros(1), False), 0.0)
    assert cal.drift(np.array([cal.v_V[0] / 2]), True)[0] == pytest.approx(cal.r_set[0] / 2)


def test_pinned_wall_relaxes_once_below_depinning(dw16):
    """40 exposures at V/2 = 95 mV (below depinning): the wall relaxes to the next pinning site once; the model
    summed the first-pulse drift 40 times (~7x the range in levels) before the fix."""
    dev, lv, cfg, cal = dw16
    truth = _sequential_drift(dev, lv, cfg, cal, 0.19, 40)
    model = _model_drift(cal, cfg, 0.19, 40)
    assert truth < 0.05  # below depinning the device model hardly moves the wall
    assert model == pytest.approx(truth, rel=0.2, abs=0.005)


def test_flowing_wall_keeps_moving_above_depinning(dw16):
    """4 exposures at V/2 = 0.2 V (above the depinning voltage): every exposure moves the wall (real disturb)."""
    dev, lv, cfg, cal = dw16
    truth = _sequential_drift(dev, lv, cfg, cal, 0.4, 4)
    assert truth > 0.1
    assert _model_drift(cal, cfg, 0.4, 4) == pytest.approx(truth, rel=0.25)


def test_long_train_saturates_below_depinning(dw16):
    """2,000 exposures at V/2 = 0.15 V (below depinning): the walls reach sites they cannot pass and stop; before
    the train model, the model added the second-pulse creep 2,000 times (0.22 of the range against 0.027)."""
    dev, lv, cfg, cal = dw16
    truth = _sequential_drift(dev, lv, cfg, cal, 0.3, 2000)
    model = _model_drift(cal, cfg, 0.3, 2000)
    assert truth < 0.05
    assert truth / 2 <= model <= 2 * truth


def test_first_exposure_is_the_first_pulse(dw16):
    """One exposure moves a cell by the device model's first-pulse response, as before the train model."""
    dev, lv, cfg, cal = dw16
    for v in (0.19, 0.3, 0.4):
        assert _model_drift(cal, cfg, v, 1) == pytest.approx(_sequential_drift(dev, lv, cfg, cal, v, 1), rel=0.02,
                                                              abs=1e-4)


def test_composed_train_equals_one_pulse_at_a_time(dw16):
    """The measured train (pulses composed into one of width N w, each distinct wall once) equals the device model
    pulsed N times, and a train that stops early reads the same at its counts."""
    dev, lv, cfg, cal = dw16
    hs = cal.hs_drift
    j = int(np.argmin(np.abs(hs.v_V - 0.16)))
    s0 = np.resize(lv.state, cfg.n_calibration).astype(float)
    s = s0.copy()
    rng = np.random.default_rng(2)
    for _ in range(64):
        s = pulse(dev, s, np.full(s.size, cal.set_sign * hs.v_V[j]), cfg.width_ns, rng)
    assert hs.train_set[j, 6] == pytest.approx(float(np.mean(s - s0)), abs=1e-9)
    short = half_select_drift(dev, lv, cfg, cal.set_sign, cal.v_V, n_max=64)
    np.testing.assert_allclose(short.train_set, hs.train_set[:, :7], atol=1e-12)


def test_mixed_amplitudes_and_both_directions(dw16):
    """A cell pushed both ways below depinning (V/3: set pulses on its row push it up, set pulses elsewhere push
    it down) ends near where the last pushes left it: the model against the device model's own replay."""
    dev, lv, cfg, cal = dw16
    cfg3 = WriteVerifyConfig(n_calibration=cfg.n_calibration, v_max_V=cfg.v_max_V, half_select="V/3")
    rng = np.random.default_rng(3)
    n = 400
    amps = rng.choice([0.2, 0.3, 0.4], n)  # V/3: 67, 100, 133 mV
    cell = np.where(rng.random(n) < 0.2, 1, 5)  # tile (2, 4): cell 0's row (cell 1) or not (cell 5)
    e_P, e_AP = half_select_exposure(cal, cfg3, (2, 4), cell, amps, np.ones(n, np.int8), False)
    s0 = np.resize(lv.state, 2048).astype(float)
    s = s0.copy()
    for a, c in zip(amps, cell):
        s = dev.model.apply_write_pulse(s, np.full(s.size, cal.set_sign * a / 3 * (1 if c == 1 else -1)),
                                        cfg.width_ns, rng)
    truth = float(np.mean(np.clip(s, 0, 1) - s0))
    model = float(np.mean(np.clip(s0 + e_P[0, 0] - e_AP[0, 0], 0, 1) - s0))
    assert abs(model - truth) < 0.01  # of the range; the sum of both trains' first pulses: ~0.025
