"""Resistance-vs-bias and retention fits (``spinsyn.devices.fit_resistance`` / ``fit_retention``, issue #23)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from spinsyn.devices.fit_resistance import RESISTANCE_COLUMNS, fit_resistance, tmr_of_v
from spinsyn.devices.fit_retention import RETENTION_COLUMNS, fit_retention, flipped_fraction

BYOD = Path(__file__).resolve().parents[1] / "data" / "byod"


def _r_data(r_p=3000.0, tmr0=1.1, vh=0.4, noise=0.01, seed=3, quad=0.0):
    rng = np.random.default_rng(seed)
    v = np.round(np.arange(-12, 13) * 0.05, 2)
    r_ap = r_p * (1 + tmr0 / (1 + (v / vh) ** 2))
    r_pp = r_p * (1 + quad * v * v)
    state = np.array(["P"] * v.size + ["AP"] * v.size)
    r = np.concatenate([r_pp, r_ap]) * (1 + noise * rng.standard_normal(2 * v.size))
    return state, np.concatenate([v, v]), r


def test_resistance_recovered_within_2_percent():
    state, v, r = _r_data()
    fit = fit_resistance(state, v, r)
    for key, truth in (("r_p_ohm", 3000.0), ("tmr0", 1.1), ("vh_V", 0.4)):
        value, lo, hi = fit[key]
        assert lo < truth < hi and abs(value / truth - 1) < 0.05, (key, fit[key])
    assert abs(fit["r_p_ohm"][0] / 3000.0 - 1) < 0.02
    vv = np.linspace(-0.6, 0.6, 25)  # the fitted R_AP(V) within 2 % of the true curve over the data's range
    r_ap = fit["r_p_ohm"][0] * (1 + tmr_of_v(fit, vv))
    assert np.max(np.abs(r_ap / (3000.0 * (1 + 1.1 / (1 + (vv / 0.4) ** 2))) - 1)) < 0.02
    assert fit["r_p_model"] == "constant" and fit["r_p_quad_per_V2"] is None
    assert 0.005 < fit["rms_rel"] < 0.02
    assert fit["rms_rel"] <= fit["heldout_rms_rel"] < 0.03
    assert fit["n"] == 50
    assert tmr_of_v(fit, 0.4) == pytest.approx(fit["tmr0"][0] / 2, rel=0.05)


def test_resistance_quadratic_term_when_the_data_need_it():
    state, v, r = _r_data(quad=-0.3, noise=0.003)
    fit = fit_resistance(state, v, r)
    assert fit["r_p_model"] == "quadratic"
    b, lo, hi = fit["r_p_quad_per_V2"]
    assert lo < -0.3 < hi and abs(fit["r_p_ohm"][0] / 3000 - 1) < 0.02


def test_resistance_bad_inputs_refused():
    state, v, r = _r_data()
    r_bad = r.copy()
    r_bad[3] = -5.0
    with pytest.raises(ValueError, match="positive"):
        fit_resistance(state, v, r_bad)
    with pytest.raises(ValueError, match="P or AP"):
        fit_resistance(np.where(state == "P", "Q", state), v, r)
    with pytest.raises(ValueError, match="length"):
        fit_resistance(state, v[:-1], r)
    with pytest.raises(ValueError, match="AP"):
        fit_resistance(state[:25], v[:25], r[:25])


def test_cmtj_resistance_file_through_the_lab_reader():
    from spinsyn.labfile import read_table

    meta = json.loads((BYOD / "cmtj_junction.json").read_text())
    tab = read_table(BYOD / "cmtj_resistance.csv", RESISTANCE_COLUMNS)
    fit = fit_resistance(tab.columns["state"], tab.columns["v_V"], tab.columns["r_ohm"])
    assert abs(fit["r_p_ohm"][0] / meta["r_p_ohm"] - 1) < 0.02
    assert abs(fit["tmr0"][0] / meta["tmr0"] - 1) < 0.05
    assert abs(fit["vh_V"][0] / meta["vh_V"] - 1) < 0.05


def _retention_counts(delta, seed, temps=None, n=1000):
    rng = np.random.default_rng(seed)
    t = np.logspace(-2, 5, 10)
    if temps is not None:
        t = np.tile(t, len(temps))
        temps = np.repeat(temps, 10)
    d = delta if temps is None else delta * 300.0 / temps
    cells = np.full(t.size, n)
    return t, cells, rng.binomial(cells, flipped_fraction(t, d, 1e-9)), temps


def test_retention_interval_covers_the_truth():
    t, n, k, _ = _retention_counts(30.0, seed=5)
    fit = fit_retention(t, n, k, tau_d_s=1e-9)
    value, lo, hi = fit["delta"]
    assert lo < 30.0 < hi and hi - lo < 1.0
    assert fit["identifiable"] and not fit["tau_d_assumed"]
    assert fit["gof_p"] > 0.01 and fit["dof"] == t.size - 1
    r, rlo, rhi = fit["retention_s"]
    assert rlo < r < rhi


def test_retention_with_temperatures_fits_delta_300():
    t, n, k, temps = _retention_counts(33.0, seed=7, temps=[300.0, 340.0, 380.0], n=400)
    fit = fit_retention(t, n, k, tau_d_s=1e-9, temperature_K=temps)
    assert fit["delta_at"] == "300 K"
    assert fit["delta"][1] < 33.0 < fit["delta"][2]


def test_retention_wrong_model_shows_in_goodness_of_fit():
    t = np.logspace(-2, 5, 10)
    n = np.full(10, 1000)
    k = np.round(n * np.linspace(0.0, 0.9, 10)).astype(int)  # flips past 1/2: no telegraph population does that
    fit = fit_retention(t, n, k)
    assert fit["tau_d_assumed"] and fit["tau_d_s"] == 1e-9
    assert fit["gof_p"] < 1e-6


def test_retention_no_flips_gives_a_lower_bound_only():
    t = np.logspace(-2, 3, 6)
    fit = fit_retention(t, np.full(6, 500), np.zeros(6))
    assert not fit["identifiable"] and fit["delta"][2] == 200.0 and fit["delta"][1] > 20


def test_retention_bad_inputs_refused():
    t = np.array([1.0, 10.0])
    with pytest.raises(ValueError, match="n_flipped > n_cells"):
        fit_retention(t, [10, 10], [3, 11])
    with pytest.raises(ValueError, match="t_s"):
        fit_retention([-1.0, 1.0], [10, 10], [1, 2])
    with pytest.raises(ValueError, match="integers"):
        fit_retention(t, [10, 10], [1.5, 2])
    with pytest.raises(ValueError, match="temperature"):
        fit_retention(t, [10, 10], [1, 2], temperature_K=[300.0, -4.0])
    with pytest.raises(ValueError, match="tau_d_s"):
        fit_retention(t, [10, 10], [1, 2], tau_d_s=0.0)


def test_columns_are_labfile_columns():
    names = [c.name for c in RESISTANCE_COLUMNS]
    assert names == ["state", "v_V", "r_ohm"]
    assert [c.name for c in RETENTION_COLUMNS] == ["t_s", "n_cells", "n_flipped", "temperature_K"]
    assert not RETENTION_COLUMNS[-1].required


def test_retention_lab_file_with_hours_and_temperature(tmp_path):
    from spinsyn.labfile import read_table

    t, n, k, temps = _retention_counts(33.0, seed=11, temps=[300.0, 360.0], n=400)
    lines = ["# bake test", "time (h);cells;flipped;temperature (K);operator"]
    lines += [f"{a / 3600:.17g};{b};{c};{d:g};x" for a, b, c, d in zip(t, n, k, temps)]
    path = tmp_path / "retention.csv"
    path.write_text("\n".join(lines) + "\n")
    tab = read_table(path, RETENTION_COLUMNS)
    assert np.allclose(tab.columns["t_s"], t, rtol=1e-12)
    fit = fit_retention(tab.columns["t_s"], tab.columns["n_cells"], tab.columns["n_flipped"], tau_d_s=1e-9,
                        temperature_K=tab.columns["temperature_K"])
    assert fit["delta"][1] < 33.0 < fit["delta"][2]
