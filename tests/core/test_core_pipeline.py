"""End to end: ngspice sweep -> fit -> train -> export -> verify -> simulate, through files only."""

import json

import h5py
import pytest
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
    # it learned on the fitted rule (measured 0.48 on 200 images; chance 0.10, no learning ~0.2)
    assert metrics["n_train"] == 300 and metrics["accuracy_all_activity"] >= 0.33
    sim = json.loads((out / "simulate.json").read_text())
    assert abs(sim["drop_points"]) <= 6.0  # trained -> chip (measured -2.0 points on 200 images)
    assert (out / "chip" / "manifest.json").is_file() and (out / "simulate.json").is_file()
    html = (out / "report.html").read_text()  # the report step: every piece of the run is in the page
    # 4 pieces + the t = 0 accuracy and the accuracy over time (simulate ages the chip: 0, 1s, 1h, 1d, 1y)
    assert html.count("<img src=\"data:image/png;base64,") == 6 and 'class="missing"' not in html
    assert [a["label"] for a in sim["ageing"]["ages"]] == ["0", "1s", "1h", "1d", "1y"]
    assert 'id="pipeline-ageing"' in html
    printed = capsys.readouterr().out
    assert f"report: {out / 'report.html'}" in printed and "ageing (retention " in printed
    # a second run finds every output and redoes nothing
    assert main(argv) == 0
    assert capsys.readouterr().out.count("skipping") == 7


@pytest.mark.parametrize("argv,match", [
    (["--trials", "0"], "--trials: got 0, expected a value in [1, 1e+06]"),
    (["--jobs", "0"], "--jobs: got 0, expected a value >= 1"),
    (["--synapse", "compound:0"], "--synapse"),
    (["--neurons", "0"], "--neurons"),
    (["--device", "tpu"], "--device"),
])
def test_pipeline_rejects_bad_option_before_any_step(tmp_path, capsys, argv, match):
    out = tmp_path / "demo"
    assert main(["pipeline", "--out", str(out), *argv]) == 2
    captured = capsys.readouterr()
    assert match in captured.err and "[pipeline]" not in captured.out
    assert not out.exists()  # nothing ran, nothing written


def test_pipeline_steps_name_the_python_api_they_call():
    from spinsyn.pipeline import PipelineConfig, steps

    calls = {s.name: s.calls for s in steps(PipelineConfig(out_dir="x"))}
    assert list(calls) == ["sweep", "sweep-plot", "fit", "train", "export", "verify", "simulate", "report"]
    assert calls["fit"].startswith("spinsyn.fitting.fit_file(") and calls["train"].startswith("spinsyn.snn.train(")
    assert calls["export"].startswith("spinsyn.hw_export.export_run(")


def test_pipeline_force_never_deletes_a_folder_it_did_not_write(tmp_path, capsys):
    """--force redoes the training by deleting out/run: only when that folder is a spinsyn run (or empty); a
    user's folder of that name is refused before any step, and its files stay."""
    out = tmp_path / "demo"
    (out / "run").mkdir(parents=True)
    (out / "run" / "mine.txt").write_text("keep")
    assert main(["pipeline", "--out", str(out), "--force", "--engine", "reference"]) == 2
    captured = capsys.readouterr()
    assert "--force:" in captured.err and "is not a spinsyn run" in captured.err
    assert "[pipeline]" not in captured.out
    assert (out / "run" / "mine.txt").read_text() == "keep" and sorted(p.name for p in out.iterdir()) == ["run"]
