"""Public measured LTP/LTD data (tests/data/byod/public, README.md there): provenance and the graded fit."""

import hashlib
import importlib.util
import re
from pathlib import Path

from spinsyn.devices.fit_graded import PULSE_COLUMNS, fit_pulse_response
from spinsyn.labfile import read_table

PUBLIC = Path(__file__).resolve().parents[1] / "data" / "byod" / "public"


def test_original_matches_cited_sha256_and_conversion_is_reproducible(tmp_path):
    readme = (PUBLIC / "README.md").read_text()
    cited = re.search(r"sha256 `([0-9a-f]{64})`", readme)
    assert cited and hashlib.sha256((PUBLIC / "gong_et_al.csv").read_bytes()).hexdigest() == cited.group(1)
    spec = importlib.util.spec_from_file_location("make_gong", PUBLIC / "make_gong_ltp_ltd.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(tmp_path / "g.csv")
    assert (tmp_path / "g.csv").read_bytes() == (PUBLIC / "gong_ltp_ltd.csv").read_bytes()


def test_graded_fit_of_public_data():
    """1000 up + 1000 down pulses of an HfO2 ReRAM: the fit spans the data, its RMS stays within 15 % of the
    range (the residual is the device's own pulse-to-pulse scatter) and depression is the more nonlinear side."""
    dev, rep = fit_pulse_response(read_table(PUBLIC / "gong_ltp_ltd.csv", PULSE_COLUMNS), n_boot=0)
    span = dev.g_max_S - dev.g_min_S
    assert dev.n_pulses == 1000 and 1.0e-6 < dev.g_min_S < 1.3e-6 and 2.8e-6 < dev.g_max_S < 3.4e-6
    assert rep["rms_S"] < 0.15 * span
    assert dev.a_ltd_pulses < dev.a_ltp_pulses


def test_cli_fit_writes_a_device_and_a_replaceable_figure(tmp_path):
    """``spinsyn device fit --family graded``: one cycle gives no interval (said so), the figure is spinsyn's (a
    rerun replaces it without --overwrite), the read noise is separated from the per-pulse noise."""
    import json

    from spinsyn.cli import main

    args = ["device", "fit", str(PUBLIC / "gong_ltp_ltd.csv"), "--family", "graded", "--out", str(tmp_path / "d.json"),
            "--plot", str(tmp_path / "d.png")]
    assert main(args) == 0 and main(args) == 0
    doc = json.loads((tmp_path / "d.json").read_text())
    assert doc["family"] == "graded" and doc["parameters"]["a_ltp_pulses"]["ci95"] is None
    notes = doc["fits"]["pulses"]["notes"]
    assert any("no interval" in n for n in notes) and any("read noise" in n for n in notes)
