"""calibrate: search space discovery, mismatch objective, and (slow) the full search + SPICE confirmation."""

import numpy as np
import pytest
from spinsyn import devices
from spinsyn.fitting import published_rule
from spinsyn.fitting.calibrate import CalibrateConfig, _mismatch, calibrate, search_fields


def test_search_fields_are_pulse_knobs():
    names = search_fields(devices.PulseTestbench())
    assert names and all(("pre" in n or "post" in n) for n in names)
    assert "v_read_V" not in names


def test_mismatch_is_scale_free_and_penalises_wrong_sign():
    x = np.arange(2.0, 59.0, 2.0)
    t = published_rule()(x)
    assert _mismatch(0.3 * t, t) < 1e-12
    assert _mismatch(-0.3 * t, t) > _mismatch(0.3 * published_rule()(x + 5.0), t) > 0.05


def test_calibrate_tiny_budget_improves_on_default():
    cfg = CalibrateConfig(trials=8, maxiter=1, popsize=2, spice_trials=1, spice_dt_step_ms=29.0)
    rep = calibrate(published_rule(), "compound", cfg, seed=0)
    assert rep["rms_mismatch_best"] <= rep["rms_mismatch_default"]
    assert set(rep["best"]) == set(rep["fields"])


@pytest.mark.slow
def test_calibrate_moves_midpoints_within_2ms():
    rep = calibrate(published_rule(), "compound", CalibrateConfig(), seed=0)
    assert abs(rep["reference_dt0_ms"]) < 2.0 and abs(rep["reference_dt1_ms"]) < 2.0, rep
