"""CLI: fit a CSV and a sweep HDF5 end to end; bad inputs give one clear error and write nothing."""

import argparse
import json

import h5py
import numpy as np
import pytest
from spinsyn.devices import SweepResult, read_sweep, write_sweep
from spinsyn.fileio import SpinsynFileError
from spinsyn.fitting import load_rule, published_rule
from spinsyn.fitting.cli import register


def _run(argv):
    p = argparse.ArgumentParser()
    register(p.add_subparsers(dest="command"))
    args = p.parse_args(["fit", *argv])
    return args.func(args)


def _csv(path, header, rows):
    path.write_text(header + "\n" + "\n".join(",".join(str(v) for v in r) for r in rows) + "\n")
    return path


def test_fit_csv_writes_rule_and_plot(tmp_path, capsys):
    x = np.arange(0.0, 61.0)
    y = published_rule()(x) + np.random.default_rng(0).normal(0, 0.02, x.size)
    src = _csv(tmp_path / "d.csv", "dt_ms,dw", zip(x, y))
    assert _run([str(src), "--model", "auto", "--out", str(tmp_path / "r.json"),
                 "--plot", str(tmp_path / "f.png")]) == 0
    out = capsys.readouterr().out
    assert "auto chose 'bisigmoid'" in out and "NOT IDENTIFIABLE" in out
    rule = load_rule(tmp_path / "r.json")
    assert abs(rule.values["t0"] - 20.78) < 0.3 and rule.window_ms == (0.0, 60.0)
    doc = json.loads((tmp_path / "r.json").read_text())
    assert len(doc["source"]["sha256"]) == 64 and doc["metrics"]["bic"] < 0
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"


def _sweep(path, seed=0, trials=16):
    """A spinsyn-sweep v1 file as devices writes it: N binary MTJs switching with bi-sigmoid probabilities."""
    rng = np.random.default_rng(seed)
    dt = np.arange(0.0, 61.0, 2.0)
    n_mtj, g_ap, g_p = 8, 1e-4, 2e-4
    k_before = rng.integers(2, 7, size=(dt.size, trials))
    f = published_rule()(dt)[:, None]
    p_up, p_down = np.clip(f, 0, 1), np.clip(-f, 0, 1)
    up = rng.binomial(n_mtj - k_before, np.broadcast_to(p_up, k_before.shape))
    down = rng.binomial(k_before, np.broadcast_to(p_down, k_before.shape))
    k_after = k_before + up - down
    write_sweep(path, SweepResult(
        dt_ms=dt, g_before_S=n_mtj * g_ap + k_before * (g_p - g_ap), g_after_S=n_mtj * g_ap + k_after * (g_p - g_ap),
        switched_up=up, switched_down=down, model={"name": "stand-in"}, testbench={}, engine="reference",
        seed=seed, g_min_S=n_mtj * g_ap, g_max_S=n_mtj * g_p, n_mtj=n_mtj,
        state_before=k_before.astype(float), state_after=k_after.astype(float)))
    return path


def test_fit_sweep_file_end_to_end(tmp_path, capsys):
    src = _sweep(tmp_path / "sweep.h5")
    assert _run([str(src), "--model", "bisigmoid", "--out", str(tmp_path / "r.json"),
                 "--plot", str(tmp_path / "f.png"), "--bootstrap", "20"]) == 0
    rule = load_rule(tmp_path / "r.json")
    assert rule.metrics["weighted"] and rule.params["A"].identifiable
    # mean ΔG/(gmax-gmin) = f·E[free or occupied]/N: both midpoints stay where the switching probability is 1/2
    assert abs(rule.values["t0"] - 20.78) < 1.5 and abs(rule.values["t1"] - 48.94) < 1.5
    assert rule.params["t0"].ci95_bootstrap is not None


def _set(name, value):
    def edit(fh):
        fh.attrs[name] = value
    return edit


def _units(name, unit):
    def edit(fh):
        fh[name].attrs["units"] = unit
    return edit


def _replace(name, data):
    def edit(fh):
        del fh[name]
        fh[name] = data
    return edit


def _drop(name):
    def edit(fh):
        del fh[name]
    return edit


def _drop_attr(name):
    def edit(fh):
        del fh.attrs[name]
    return edit


@pytest.mark.parametrize("edit,match", [
    (_units("dt_ms", "s"), "dataset 'dt_ms' has units 's', expected 'ms'"),
    (_units("g_after_S", "mS"), "dataset 'g_after_S' has units 'mS', expected 'S'"),
    (_drop("g_after_S"), r"missing dataset\(s\) \['g_after_S'\]"),
    (_drop("switched_up"), r"missing dataset\(s\) \['switched_up'\]"),
    (_set("g_max_S", 8e-4), r"need g_max_S > g_min_S, got g_min_S=0.0008, g_max_S=0.0008"),
    (_set("g_min_S", float("nan")), "need g_max_S > g_min_S"),
    (_set("g_max_S", "lots"), "attributes g_min_S and g_max_S must be numbers"),
    (_replace("dt_ms", np.zeros((31, 2))), r"dataset dt_ms has shape \(31, 2\), expected \(P,\)"),
    (_replace("g_after_S", np.zeros((31, 3))), r"dataset g_after_S has shape \(31, 3\), expected \(31, T\)"),
    (_drop_attr("engine"), "missing attribute 'engine'"),
])
def test_bad_sweep_file_clear_error_no_output(tmp_path, edit, match):
    """One reader: devices.read_sweep rejects the file, and fit reports the same message naming it."""
    src = _sweep(tmp_path / "bad.h5", trials=4)
    with h5py.File(src, "r+") as fh:
        edit(fh)
    with pytest.raises(SpinsynFileError, match=match) as ei:
        read_sweep(src)
    assert "bad.h5" in str(ei.value)
    with pytest.raises(ValueError, match=match) as ei:
        _run([str(src), "--model", "bisigmoid", "--out", str(tmp_path / "r.json")])
    assert "bad.h5" in str(ei.value)
    assert list(tmp_path.iterdir()) == [src]


def test_sweep_file_equals_devices_read_sweep(tmp_path):
    from spinsyn.fitting.inputs import read_sweep_file

    src = _sweep(tmp_path / "s.h5", trials=5)
    r, d = read_sweep(src), read_sweep_file(src)
    np.testing.assert_array_equal(d.dt_ms, r.dt_ms)
    np.testing.assert_allclose(d.y_mean, r.dg_norm.mean(axis=1))
    np.testing.assert_array_equal(d.n_trials, [5] * r.dt_ms.size)
    assert d.kind == "sweep" and d.y_unit == "1" and len(d.source_sha256) == 64


def test_fit_devices_reference_sweep_end_to_end(tmp_path):
    from spinsyn import devices

    res = devices.sweep(devices.get_model("compound"), devices.PulseTestbench(), np.arange(0.0, 61.0, 3.0), 8,
                        engine="reference", seed=0)
    devices.write_sweep(tmp_path / "s.h5", res)
    assert _run([str(tmp_path / "s.h5"), "--model", "auto", "--out", str(tmp_path / "r.json"),
                 "--plot", str(tmp_path / "f.png")]) == 0
    assert load_rule(tmp_path / "r.json").metrics["r2"] > 0.5 and (tmp_path / "f.png").exists()


@pytest.mark.parametrize("header,rows,match", [
    ("dt_ms,dw", [(0, 1), (1, 1), (2, 0)], "need more points than parameters"),
    ("dt_ms,dw", [(i, 0.3) for i in range(10)], "constant"),
    ("dt_ms,dw", [(0, 1), (1, float("nan"))] + [(i, -1) for i in range(2, 10)], "1 row.* NaN .*--strict-rows"),
    ("dt,dw", [(i, i) for i in range(10)], "must carry its unit: dt_ms"),
    ("dt_ms,delta_g", [(i, i) for i in range(10)], "delta_g_S"),
    ("dt_ms,dw", [(0, "abc")] + [(i, i) for i in range(1, 10)], "line 2: 'abc'"),
])
def test_bad_csv_clear_error_no_output(tmp_path, header, rows, match):
    """Bad CSVs are refused naming the file (rows with NaN / text only with --strict-rows: by default they are
    dropped with a note, tests/fitting/test_lab_window.py)."""
    src = _csv(tmp_path / "bad.csv", header, rows)
    with pytest.raises(ValueError, match=match) as ei:
        _run([str(src), "--model", "bisigmoid", "--strict-rows", "--out", str(tmp_path / "r.json")])
    assert "bad.csv" in str(ei.value)
    assert list(tmp_path.iterdir()) == [src]  # no rule.json, no temp file


def test_csv_units_converted_and_trials_aggregated(tmp_path):
    from spinsyn.fitting.inputs import read_csv

    rows = [(t, 1000 * t, v, 0.5) for t in (0, 1) for v in range(3)] + [(2, 2000, 5, 0.5)]
    src = _csv(tmp_path / "u.csv", "trial,dt_us,delta_g_uS,sigma", [(r[0], r[1], r[2], r[3]) for r in rows])
    d = read_csv(src)
    np.testing.assert_allclose(d.dt_ms, [0.0, 1.0, 2.0])  # dt_us / 1000
    np.testing.assert_array_equal(d.n_trials, [3, 3, 1])
    np.testing.assert_allclose(d.y_mean, [1e-6, 1e-6, 5e-6])
    assert d.y_unit == "S" and not d.normalised
    with pytest.raises(SpinsynFileError, match="format"):
        from spinsyn.fitting.inputs import read_sweep_file

        with h5py.File(tmp_path / "x.h5", "w") as fh:
            fh.attrs["format"] = "other"
        read_sweep_file(tmp_path / "x.h5")


def test_fit_file_public_api_writes_rule_and_plot(tmp_path):
    from spinsyn.fitting import fit_file

    src = _sweep(tmp_path / "s.h5", trials=6)
    result, reason = fit_file(src, tmp_path / "r.json", "bisigmoid", plot_path=tmp_path / "f.png")
    assert "as requested" in reason and result.rule.model == "bisigmoid"
    assert load_rule(tmp_path / "r.json").values["t0"] == pytest.approx(result.rule.values["t0"])
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("argv,match", [
    (["--model", "cubic"], "--model: got 'cubic', expected one of auto, bisigmoid"),
    (["--bootstrap", "-1"], "--bootstrap: got -1, expected a value >= 0"),
])
def test_bad_fit_option_rejected_before_reading(tmp_path, argv, match):
    with pytest.raises(ValueError, match=match):
        _run([str(tmp_path / "missing.h5"), "--out", str(tmp_path / "r.json"), *argv])
    assert list(tmp_path.iterdir()) == []
