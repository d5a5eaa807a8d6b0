"""End to end: ngspice sweep -> fit -> train -> export -> verify -> simulate, through files only."""

import json

import h5py

from spinsyn.cli import main


def test_pipeline_end_to_end_and_resume(tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["pipeline", "--out", str(out), "--trials", "3", "--n-train", "300", "--n-test", "200",
            "--neurons", "20", "--device", "cpu"]
    assert main(argv) == 0
    with h5py.File(out / "sweep.h5") as f:
        assert f.attrs["engine"] in ("spice", '"spice"')  # the sweep came from ngspice
        assert f["g_after_S"].shape[1] == 3
    rule = json.loads((out / "rule.json").read_text())
    assert rule["format"] == "spinsyn-rule" and rule["model"] == "bisigmoid"
    metrics = json.loads((out / "run" / "metrics.json").read_text())
    assert metrics["n_train"] == 300 and 0.0 <= metrics["accuracy_all_activity"] <= 1.0
    assert (out / "chip" / "manifest.json").is_file() and (out / "simulate.json").is_file()
    capsys.readouterr()
    # a second run finds every output and redoes nothing
    assert main(argv) == 0
    assert capsys.readouterr().out.count("skipping") == 6


def test_pipeline_rejects_bad_option(capsys):
    assert main(["pipeline", "--trials", "0"]) == 2
    assert "--trials must be >= 1" in capsys.readouterr().err
