"""Programming switches with the write physics (macrospin Fokker–Planck, ungated), half-select disturb in both
directions at the polarity that drives each, and the disturb figures of report.json."""

import json

import numpy as np
import pytest
from spinsyn.devices import synapse_device, write_switch_probability
from spinsyn.hw_export.export import ExportConfig, export_chip
from spinsyn.hw_export.program import (
    WriteVerifyConfig,
    calibrate,
    component_mtj,
    half_select_probabilities,
    level_table,
)
from spinsyn.hw_export.pulses import _disturb


def _cal(syn="compound:8", preset=None, **params):
    dev = synapse_device(syn, preset, **params)
    cfg = WriteVerifyConfig(n_calibration=256, width_ns=3.0, v_max_V=0.8)
    return dev, cfg, calibrate(dev, level_table(dev), cfg, np.random.default_rng(0))


@pytest.mark.parametrize("v_half", [0.1, 0.15, 0.2, 0.3])
def test_p_to_ap_half_select_is_evaluated_at_minus_v_half(v_half):
    """A reset pulse -V half-selects its line at -V/2, which drives P -> AP: the table holds the model's value
    there (was 0: the published gate at +V/2)."""
    dev, cfg, cal = _cal()
    k = int(round(v_half / cfg.v_resolution_V))
    mtj = component_mtj(dev)
    want_ap = float(write_switch_probability(mtj, -v_half, cfg.width_ns, False))
    want_p = float(write_switch_probability(mtj, +v_half, cfg.width_ns, True))
    assert want_ap > 0 and cal.p_hs_AP[k] == pytest.approx(want_ap, rel=1e-12)
    assert cal.p_hs_P[k] == pytest.approx(want_p, rel=1e-12)
    assert cal.p_hs_AP[k] > cal.p_hs_P[k]  # P -> AP is driven through the smaller R_P: the larger current


def test_half_select_probabilities_follow_the_set_polarity():
    mtj = component_mtj(synapse_device("compound:8"))
    v = np.array([0.2])
    p_pos = half_select_probabilities(mtj, v, 5.0, +1)
    p_neg = half_select_probabilities(mtj, v, 5.0, -1)  # a device raised by negative pulses: mirrored
    assert p_pos[0][0] > 0 and p_pos[1][0] > 0
    assert p_neg[0][0] == float(write_switch_probability(mtj, -0.2, 5.0, True))
    assert p_neg[1][0] == float(write_switch_probability(mtj, 0.2, 5.0, False))


class _Res:
    """A write-verify pulse log of reset pulses only (polarity -1)."""

    def __init__(self, n, v):
        self.polarity = -np.ones(n, np.int8)
        self.v_V = np.full(n, v)
        self.state = np.full(n, 4)


def test_pulse_search_counts_disturb_of_reset_pulses():
    dev, cfg, cal = _cal()
    d = _disturb(dev, cal, cfg, level_table(dev), _Res(100, 0.3), 100, (128, 128), None)
    mtj = component_mtj(dev)
    p_ap = float(write_switch_probability(mtj, -0.15, cfg.width_ns, False))
    assert d == pytest.approx(127 * -np.expm1(4 * np.log1p(-p_ap)), rel=1e-9) and 0 < d < 1


def _export(tmp_path, name, **params):
    w = np.random.default_rng(0).random((48, 24))
    cfg = ExportConfig(synapse=dev_spec(), tile_rows=32, tile_cols=32, device="compound", device_params=params)
    return export_chip(w, cfg, tmp_path / name)


def dev_spec():
    from spinsyn.devices import SynapseSpec

    return SynapseSpec.parse("compound:8")


def test_exported_disturb_is_the_same_with_and_without_the_authors_gates(tmp_path):
    gated = _export(tmp_path, "gated")
    plain = _export(tmp_path, "plain", gate_to_p_V=None, gate_to_ap_V=None)
    a, b = gated.report["summary"], plain.report["summary"]
    assert a["disturb_risk"] == b["disturb_risk"]
    assert a["pulses"] == b["pulses"] and a["failed"] == b["failed"]
    assert gated.report["write_pulse"]["chosen"] == plain.report["write_pulse"]["chosen"]
    pe = a["disturb_risk"]["per_exposure"]
    assert pe["to_AP_at_max"] > 0 and pe["to_P_at_max"] > 0 and pe["exposures_per_cell"]["max"] > 0
    assert a["disturb_risk"]["expected_disturbed_cells"] > 0
    meta = json.loads((tmp_path / "gated" / "report.json").read_text())
    assert meta["summary"]["disturb_risk"]["per_exposure"] == pe
    from spinsyn.hw_export import load_chip

    wp = load_chip(tmp_path / "gated").meta["write_physics"]
    assert wp["gates_used"] is False and "Fokker-Planck" in wp["model"]
