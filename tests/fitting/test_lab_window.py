"""Messy lab STDP windows through ``spinsyn fit`` and ``spinsyn train`` (issue #23): units from headers, repeats,
NaN rows and an extra column read with notes; a window measured in µs refused at the network's 1 ms step unless
``--rule-time-scale`` maps it; a two-sided window's Δt < 0 branch refused at train time; identifiability that does
not depend on the unit of Δt. Fixtures: tests/data/byod/make_lab_window.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from spinsyn.cli import main
from spinsyn.fitting import load_rule
from spinsyn.fitting.inputs import read_csv

BYOD = Path(__file__).resolve().parents[1] / "data" / "byod"
WINDOW, WINDOW_US, TWO_SIDED = BYOD / "lab_window.csv", BYOD / "lab_window_us.csv", BYOD / "lab_window_twosided.csv"
TRAIN = ["--neurons", "10", "--n-train", "20", "--n-test", "10", "--n-assign", "10", "--engine", "numba",
         "--device", "cpu", "--quiet", "--no-plots"]


def _fit(capsys, src, out, *extra):
    rc = main(["fit", str(src), "--out", str(out), *extra])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    """The ms and µs windows fitted as bisigmoid (ms, µs) and the two-sided window as exp-stdp."""
    d = tmp_path_factory.mktemp("rules")
    for src, name, model in ((WINDOW, "ms", "bisigmoid"), (WINDOW_US, "us", "bisigmoid"),
                             (TWO_SIDED, "two", "exp-stdp")):
        assert main(["fit", str(src), "--model", model, "--out", str(d / f"{name}.json")]) == 0
    return d


def test_messy_window_fits_with_notes(tmp_path, capsys):
    rc, out, err = _fit(capsys, WINDOW, tmp_path / "r.json", "--model", "bisigmoid")
    assert rc == 0, err
    notes = [x for x in err.splitlines() if x]
    assert all(x.startswith(f"spinsyn: note: {WINDOW}: ") for x in notes)
    assert any("ignored column(s) 'operator'" in x for x in notes)
    assert any("dropped 3 row(s)" in x for x in notes)
    assert any("repeats averaged" in x for x in notes)
    rule = load_rule(tmp_path / "r.json")
    # generating law (make_lab_window.py): A = 36 µS, t0 = 21 ms, t1 = 49 ms
    assert rule.values["A"] == pytest.approx(36e-6, rel=0.05) and rule.y_unit == "S"
    assert rule.values["t0"] == pytest.approx(21.0, abs=1.0) and rule.values["t1"] == pytest.approx(49.0, abs=1.0)
    assert rule.window_ms == (0.0, 60.0) and rule.metrics["weighted"]  # repeats' spread used as weights


def test_repeats_averaged_and_weights(tmp_path):
    d = read_csv(WINDOW)
    assert d.n == 31 and d.raw_dt_ms.size == 93 and np.all(d.n_trials == 3)
    assert d.weights_sigma() is not None


def test_identifiability_does_not_depend_on_the_unit(rules):
    ms, us = load_rule(rules / "ms.json"), load_rule(rules / "us.json")
    assert us.window_ms == pytest.approx((0.0, 0.06))
    for name, p in ms.params.items():
        assert us.params[name].identifiable == p.identifiable, name
    assert ms.params["k1"].identifiable
    assert us.values["k1"] == pytest.approx(1000 * ms.values["k1"], rel=1e-3)
    assert us.values["t0"] == pytest.approx(ms.values["t0"] / 1000, rel=1e-3)


def test_percent_relative_to_g_before(tmp_path):
    lines = WINDOW.read_text().splitlines()
    rows = [x.split(";") for x in lines if x and not x.startswith("#")][1:]
    ok = [r for r in rows if r[1] not in ("", "NaN")]
    text = "dt (ms),dG (%),G0 (uS)\n" + "\n".join(f"{r[0]},{100 * float(r[1]) / float(r[2])!r},{r[2]}" for r in ok)
    (tmp_path / "pct.csv").write_text(text + "\n")
    a, b = read_csv(tmp_path / "pct.csv"), read_csv(WINDOW)
    np.testing.assert_allclose(a.y_mean, b.y_mean, rtol=1e-9)
    assert any("% of 'G0 (uS)'" in n for n in a.notes)
    (tmp_path / "nog.csv").write_text("dt (ms),dG (%)\n" + "\n".join(f"{i},{10 - i}" for i in range(10)) + "\n")
    with pytest.raises(ValueError, match="nog.csv: column 'dG \\(%\\)' is in % but there is no G_before"):
        read_csv(tmp_path / "nog.csv")
    assert read_csv(tmp_path / "nog.csv", g_ref_S=1e-4).y_mean[0] == pytest.approx(1e-5)


def test_columns_mapping_and_strict_rows_cli(tmp_path, capsys):
    src = tmp_path / "m.csv"
    src.write_text("# renamed columns\nt_wait (us)\tconductance step (nS)\n"
                   + "\n".join(f"{1000 * t}\t{1000 * np.cos(t / 10):.4f}" for t in range(0, 40, 2)) + "\n\tNaN\n")
    rc, _, err = _fit(capsys, src, tmp_path / "r.json", "--model", "sigmoid")
    assert rc == 2 and err.count("\n") == 1 and err.startswith(f"spinsyn: error: {src}: no column for dt_ms")
    mapping = "dt_ms='t_wait (us)',delta_g_S='conductance step (nS)'"
    rc, _, err = _fit(capsys, src, tmp_path / "r.json", "--model", "sigmoid", "--columns", mapping)
    assert rc == 0, err
    assert "dropped 1 row(s)" in err and load_rule(tmp_path / "r.json").window_ms == (0.0, 38.0)
    rc, _, err = _fit(capsys, src, tmp_path / "r2.json", "--model", "sigmoid", "--columns", mapping, "--strict-rows")
    assert rc == 2 and "--strict-rows refuses them" in err and not (tmp_path / "r2.json").exists()
    rc, _, err = _fit(capsys, src, tmp_path / "r2.json", "--columns", "dt_ms")
    assert rc == 2 and err.startswith("spinsyn: error: --columns:")


def test_us_window_refused_at_train_then_mapped(rules, tmp_path, capsys):
    rule = rules / "us.json"
    rc = main(["train", "--rule", str(rule), *TRAIN, "--out", str(tmp_path / "refused")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1, err
    assert err.startswith(f"spinsyn: error: --rule {rule.resolve()}: the rule is valid on Δt 0..0.06 ms")
    assert "--rule-time-scale 1000" in err and not (tmp_path / "refused").exists()
    out = tmp_path / "mapped"
    assert main(["train", "--rule", str(rule), "--rule-time-scale", "1000", *TRAIN, "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["config"]["extra"]["rule_time_scale"] == 1000.0
    assert m["rule_function"]["time_scale"] == 1000.0
    f = np.asarray(m["rule_function"]["f_normalised_per_step"])
    assert f.size == 61 and f[0] > 0.9 and f[-1] < -0.5  # the bi-sigmoid over 0..60 ms, not a one-entry [1.0]


def test_us_table_matches_ms_table(rules):
    from spinsyn.snn.rules import BiSigmoidTrace

    a = BiSigmoidTrace(rule_path=str(rules / "us.json")).compile(1.0, time_scale=1000.0).f_tab
    b = BiSigmoidTrace(rule_path=str(rules / "ms.json")).compile(1.0).f_tab
    np.testing.assert_allclose(a, b, atol=1e-3)
    with pytest.raises(ValueError, match="covers 1 step"):
        BiSigmoidTrace(rule_path=str(rules / "us.json")).compile(1.0)


def test_two_sided_window_negative_branch_refused(rules, tmp_path, capsys):
    rc, _, err = _fit(capsys, TWO_SIDED, tmp_path / "r.json", "--model", "exp-stdp")
    assert rc == 0 and "Δt < 0 branch" in err
    rule = load_rule(rules / "two.json")
    assert rule.window_ms == (-50.0, 50.0) and rule.values["a_minus"] > 0  # the LTD branch is fitted
    rc = main(["train", "--rule", str(rules / "two.json"), *TRAIN, "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "Δt < 0 branch" in err and "--learning-rule postpre" in err
    assert not (tmp_path / "run").exists()
