"""The graded (LTP/LTD) device of devices/graded.py and its fit from conductance-vs-pulse data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from spinsyn import devices as D
from spinsyn.devices.fit_graded import PULSE_COLUMNS, PulseData, fit_pulse_response, plot_pulse_fit
from spinsyn.devices.graded import GradedDevice, ltd_curve, ltp_curve
from spinsyn.labfile import read_table

DATA = Path(__file__).resolve().parents[1] / "data" / "byod"


def test_steps_follow_the_closed_form_curves():
    dev = GradedDevice(sigma_c2c_pct=0.0)
    x = np.zeros(1)
    xs = []
    for _ in range(dev.n_pulses):
        x = dev.apply_pulse(x, dev.v_write_V, dev.w_write_ns, np.random.default_rng(0))
        xs.append(float(x[0]))
    np.testing.assert_allclose(xs, ltp_curve(np.arange(1, dev.n_pulses + 1), dev.a_ltp_pulses, dev.n_pulses),
                               atol=1e-12)
    assert abs(xs[-1] - 1.0) < 1e-9 and xs[0] > 1 / dev.n_pulses  # nonlinear: a first step larger than linear
    y = np.ones(1)
    for k in range(1, 11):
        y = dev.apply_pulse(y, -dev.v_write_V, dev.w_write_ns, np.random.default_rng(0))
        assert float(y[0]) == pytest.approx(float(ltd_curve(k, dev.a_ltd_pulses, dev.n_pulses)), abs=1e-12)


def test_sub_threshold_pulses_do_nothing_and_states_stay_bounded():
    dev = GradedDevice(sigma_c2c_pct=10.0)
    rng = np.random.default_rng(1)
    x0 = rng.random(500)
    np.testing.assert_array_equal(dev.apply_write_pulse(x0, 0.99 * dev.v_threshold_V, 100.0, rng), x0)
    x = x0
    for v in rng.choice([-1, 1], 50) * dev.v_write_V:
        x = dev.apply_write_pulse(x, v, 100.0, rng)
        assert x.min() >= 0 and x.max() <= 1
    g = dev.conductance_S(x)
    assert g.min() >= dev.g_min_S and g.max() <= dev.g_max_S


def test_preset_registered_and_record_round_trip():
    m = D.get_model("graded")
    assert isinstance(m, GradedDevice) and "NeuroSim" in D.PRESETS["graded"][1]
    assert D.model_from_record(D.model_record(m)) == m
    assert D.g_bounds_S(m) == (m.g_min_S, m.g_max_S)
    assert m.spread_overrides(5.0) == {"sigma_d2d_pct": 5.0} and len(m.info_lines()) >= 3
    with pytest.raises(ValueError, match="g_max_S"):
        GradedDevice(g_min_S=2e-6, g_max_S=1e-6)


def _synthetic(dev: GradedDevice, cycles: int, seed: int, read_noise_S: float = 0.0):
    rng = np.random.default_rng(seed)
    pulse, g, cyc = [], [], []
    for c in range(cycles):
        x = np.zeros(1)
        for p in range(1, 2 * dev.n_pulses + 1):
            x = dev.step(x, 1 if p <= dev.n_pulses else -1, rng)
            pulse.append(p)
            g.append(float(dev.conductance_S(x)[0]) + read_noise_S * rng.standard_normal())
            cyc.append(c)
    n = len(g)
    return PulseData(np.array(pulse, float), np.array(g), None, np.array(cyc), np.full(n, "d0"))


@pytest.mark.parametrize("a_ltp,a_ltd", [(20.0, 40.0), (60.0, 12.0)])
def test_fit_recovers_nonlinearity_and_bounds_within_10_percent(a_ltp, a_ltd):
    true = GradedDevice(g_min_S=95e-6, g_max_S=160e-6, n_pulses=64, a_ltp_pulses=a_ltp, a_ltd_pulses=a_ltd,
                        sigma_c2c_pct=0.3)
    dev, rep = fit_pulse_response(_synthetic(true, 5, seed=int(a_ltp), read_noise_S=0.1e-6), n_boot=20)
    for f in ("g_min_S", "g_max_S", "a_ltp_pulses", "a_ltd_pulses"):
        assert getattr(dev, f) == pytest.approx(getattr(true, f), rel=0.10), f
    assert dev.n_pulses == 64 and rep["n_cycles"] == 5
    assert 0.15 < dev.sigma_c2c_pct < 1.0  # the generating 0.3 %, plus read noise
    assert rep["heldout_rms_S"] >= rep["rms_S"] * 0.8 and rep["rms_S"] < 0.05 * (true.g_max_S - true.g_min_S)
    lo, hi = rep["parameters"]["a_ltp_pulses"]["ci95"]
    assert lo <= dev.a_ltp_pulses <= hi


def test_lab_file_fits_with_notes(tmp_path):
    """The issue's LTP/LTD lab file (make_lab_ltp_ltd.py: A_LTP 32, A_LTD 16 pulses, 95-160 uS): no direction
    column (detected), an extra column (ignored with a note), G in uS."""
    t = read_table(DATA / "lab_ltp_ltd.csv", PULSE_COLUMNS)
    dev, rep = fit_pulse_response(t, n_boot=20)
    assert any("ignored" in n for n in rep["notes"]) and any("detected" in n for n in rep["notes"])
    assert dev.n_pulses == 64 and rep["n_cycles"] == 3
    assert dev.a_ltp_pulses == pytest.approx(32.0, rel=0.10) and dev.a_ltd_pulses == pytest.approx(16.0, rel=0.10)
    assert dev.g_min_S == pytest.approx(95e-6, rel=0.10) and dev.g_max_S == pytest.approx(160e-6, rel=0.10)
    assert rep["parameters"]["sigma_d2d_pct"]["value"] == 0.0
    plot_pulse_fit(t, dev, str(tmp_path / "fit.png"))
    assert (tmp_path / "fit.png").stat().st_size > 1000


def test_direction_column_and_several_devices():
    a = GradedDevice(g_min_S=1e-6, g_max_S=2e-6, n_pulses=30, a_ltp_pulses=15.0, a_ltd_pulses=15.0, sigma_c2c_pct=0.5)
    b = GradedDevice(g_min_S=1e-6, g_max_S=2e-6, n_pulses=30, a_ltp_pulses=25.0, a_ltd_pulses=9.0, sigma_c2c_pct=0.5)
    da, db = _synthetic(a, 3, 1), _synthetic(b, 3, 2)
    cols = {"pulse": np.r_[da.pulse, db.pulse], "g_S": np.r_[da.g_S, db.g_S],
            "direction": np.r_[np.where(da.pulse <= 30, "SET", "RESET"), np.where(db.pulse <= 30, "SET", "RESET")],
            "cycle": np.r_[da.cycle, db.cycle], "device": np.r_[np.full(da.g_S.size, "a"), np.full(db.g_S.size, "b")]}
    dev, rep = fit_pulse_response(cols, n_boot=0)
    assert rep["n_devices"] == 2 and dev.sigma_d2d_pct > 5.0
    assert any("direction column" in n for n in rep["notes"])
    with pytest.raises(ValueError, match="direction"):
        fit_pulse_response({**cols, "direction": np.full(cols["g_S"].size, "sideways")}, n_boot=0)
