"""Export, verify and simulate on the spinsyn.devices models of every level-holding synapse kind."""

import numpy as np
import pytest


@pytest.mark.parametrize("syn", ["compound:8", "dw:16", "quantized:8"])
def test_real_model_export_verify_simulate(tmp_path, syn):
    from spinsyn.hw_export import ExportConfig, WriteVerifyConfig, export_chip, simulate_chip, verify_chip

    w = np.random.default_rng(0).random((130, 40))
    cfg = ExportConfig(syn, tile_rows=64, tile_cols=64, write_verify=WriteVerifyConfig(n_calibration=512))
    res = export_chip(w, cfg, tmp_path / "chip")
    s = res.report["summary"]
    assert s["inside_band"] + s["failed"] == s["devices"] == w.size
    assert s["failed_fraction"] < 0.01
    verify_chip(tmp_path / "chip")
    r = simulate_chip(tmp_path / "chip", seed=5)
    assert r["programming"]["inside_band_after_programming"] > 0.99
    assert r["accuracy"] is None
