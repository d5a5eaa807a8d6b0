"""The same checks on the real spinsyn.devices model (skipped while that stage lacks the contract API)."""

import numpy as np
import pytest
from spinsyn import devices

pytestmark = pytest.mark.skipif(
    not all(hasattr(devices, n) for n in ("get_model", "conductance_S", "apply_pulse", "switch_probability",
                                          "STTMTJ")),
    reason="spinsyn.devices does not provide the contract API yet",
)


@pytest.mark.parametrize("syn", ["compound:8", "dw:16", "quantized:8"])
def test_real_model_export_verify_simulate(tmp_path, syn):
    from spinsyn.hw_export import (
        ExportConfig,
        WriteVerifyConfig,
        export_chip,
        parse_synapse,
        simulate_chip,
        verify_chip,
    )

    w = np.random.default_rng(0).random((130, 40))
    cfg = ExportConfig(parse_synapse(syn), tile_rows=64, tile_cols=64,
                       write_verify=WriteVerifyConfig(n_calibration=512))
    res = export_chip(w, cfg, tmp_path / "chip")
    s = res.report["summary"]
    assert s["inside_band"] + s["failed"] == s["devices"] == w.size
    assert s["failed_fraction"] < 0.01
    verify_chip(tmp_path / "chip")
    r = simulate_chip(tmp_path / "chip", seed=5)
    assert r["programming"]["inside_band_after_programming"] > 0.99
    assert r["accuracy"] is None
