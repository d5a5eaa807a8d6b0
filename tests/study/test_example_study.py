"""examples/study_n_mtj.toml: the study docs/results.md reports, checked as written and run in a quick mode.

The quick mode is the example file itself with only its sizes shrunk (network, images, sweep trials and Δt
step; N ∈ {1, 16} of its five values), so its axes, rule source and export settings are what the full study
uses.
"""

from __future__ import annotations

import re
from pathlib import Path

from spinsyn.study import load_spec, run_study
from spinsyn.study.trials import expand, plan

from .conftest import read_rows

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "study_n_mtj.toml"
SHRINK = [(r"neurons = 100", "neurons = 10"), (r"n_train = 2000", "n_train = 100"), (r"n_test = 1000", "n_test = 100"),
          (r"trials = 20", "trials = 4"), (r"dt_ms = \[0\.0, 60\.0, 2\.0\]", "dt_ms = [0.0, 60.0, 6.0]"),
          (r'"device.n_mtj" = \[1, 2, 4, 8, 16\]', '"device.n_mtj" = [1, 16]')]


def test_example_is_the_15_trial_grid_with_one_sweep_and_fit_per_n():
    spec = load_spec(EXAMPLE)
    trials = expand(spec)
    assert len(trials) == 15 and spec.axis_keys == ["device.n_mtj", "device.read_noise"]
    assert {t.axes["device.n_mtj"] for t in trials} == {1, 2, 4, 8, 16}
    assert {t.axes["device.read_noise"] for t in trials} == {0.0, 0.02, 0.05}
    keys = [{t.stage: t.key for t in plan(tr.settings, None)} for tr in trials]
    assert len({k["sweep"] for k in keys}) == 5 and len({k["fit"] for k in keys}) == 5


def test_example_runs_in_quick_mode(tmp_path):
    text = EXAMPLE.read_text()
    for pattern, repl in SHRINK:
        text, n = re.subn(pattern, repl, text)
        assert n == 1, pattern  # the example still has the line the quick mode shrinks
    quick = tmp_path / "study_n_mtj_quick.toml"
    quick.write_text(text)
    run_study(quick, tmp_path / "out", scheduler="none", progress=False)
    rows = read_rows(tmp_path / "out")
    assert len(rows) == 6 and all(r["status"] == "ok" for r in rows), [r["error"] for r in rows]
    assert {r["device.n_mtj"] for r in rows} == {"1", "16"}
    assert all(0.0 <= float(r["accuracy_lo"]) <= float(r["accuracy"]) <= float(r["accuracy_hi"]) <= 1.0 for r in rows)
    n16 = [float(r["devices_per_synapse"]) for r in rows if r["device.n_mtj"] == "16"]
    n1 = [float(r["devices_per_synapse"]) for r in rows if r["device.n_mtj"] == "1"]
    assert set(n16) == {16.0} and set(n1) == {1.0}  # MTJs per synapse (unipolar mapping)
