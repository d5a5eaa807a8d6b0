"""Export of a graded (LTP/LTD) device: programmed with its own identical write pulse by write-verify."""

import numpy as np
import pytest
from spinsyn.cli import main
from spinsyn.devices import synapse_device
from spinsyn.hw_export import load_chip
from spinsyn.hw_export.program import WriteVerifyConfig, calibrate, declared_write_pulse, level_table, write_verify


def test_declared_pulse_only_for_graded():
    dev = synapse_device("graded")
    assert declared_write_pulse(dev) == (dev.model.w_write_ns, dev.model.v_write_V)
    for spec in ("compound:8", "dw:16", "quantized:9"):
        assert declared_write_pulse(synapse_device(spec)) is None


def test_write_verify_graded_identical_pulses_reach_targets():
    """Identical pulses at the fixed amplitude, one step each, reach the band despite c2c noise."""
    dev = synapse_device("graded")
    levels = level_table(dev)
    wv = WriteVerifyConfig(width_ns=dev.model.w_write_ns, v_max_V=dev.model.v_write_V, max_pulses=400)
    rng = np.random.default_rng(3)
    cal = calibrate(dev, levels, wv, rng)
    lv = rng.integers(0, levels.g_S.size, 400)
    tol = 0.4 * float(np.mean(np.diff(levels.g_S)))
    g_t = levels.g_S[lv]
    res = write_verify(dev, levels, cal, wv, np.full(lv.size, levels.state[0]), levels.state[lv], g_t - tol,
                       g_t + tol, rng)
    assert res.v_V.size > 0 and np.all(res.v_V == wv.v_max_V)
    ok = ~res.failed
    assert ok.mean() > 0.9
    assert np.all(np.abs(res.g_S[ok] - g_t[ok]) <= tol * (1 + 1e-9))


def test_write_verify_noiseless_graded_needs_exactly_the_curve_pulses():
    """Without c2c noise, level k (k identical LTP pulses from g_min) takes exactly k pulses from reset."""
    dev = synapse_device("graded:32", sigma_c2c_pct=0.0)
    levels = level_table(dev)
    wv = WriteVerifyConfig(width_ns=dev.model.w_write_ns, v_max_V=dev.model.v_write_V, max_pulses=128)
    rng = np.random.default_rng(0)
    cal = calibrate(dev, levels, wv, rng)
    lv = np.arange(levels.g_S.size)
    tol = 0.4 * float(np.min(np.diff(levels.g_S)))
    g_t = levels.g_S[lv]
    res = write_verify(dev, levels, cal, wv, np.full(lv.size, levels.state[0]), levels.state[lv], g_t - tol,
                       g_t + tol, rng)
    assert not res.failed.any() and np.array_equal(res.n_pulses, lv)


def test_export_graded_run_uses_device_pulse(tiny_run, tmp_path, capsys):
    run = tiny_run("graded")
    dev = synapse_device("graded")
    assert main(["export", str(run), "--out", str(tmp_path / "c")]) == 0
    assert "write pulse (device)" in capsys.readouterr().out
    chip = load_chip(tmp_path / "c")
    wv = chip.meta["write_verify"]
    assert (wv["width_ns"], wv["v_max_V"]) == (dev.model.w_write_ns, dev.model.v_write_V)
    assert chip.meta["write_pulse"]["mode"] == "device" and wv["max_pulses"] >= dev.model.n_pulses
    sched = np.concatenate([t.schedule for t in chip.tiles])
    assert sched.size and np.allclose(sched["v_V"], dev.model.v_write_V)
    assert np.allclose(sched["width_ns"], dev.model.w_write_ns)
    assert main(["export", "verify", str(tmp_path / "c")]) == 0
    assert main(["export", "simulate", str(tmp_path / "c"), "--n-test", "10", "--no-disturb"]) == 0
    assert "programmed" in capsys.readouterr().out


@pytest.mark.parametrize("extra", [["--write-pulse", "300000"]])
def test_export_graded_fixed_width_below_threshold_is_refused(tiny_run, tmp_path, capsys, extra):
    """The default --v-max (1.5 V) is below the graded preset's 2 V threshold: one line naming the fix."""
    run = tiny_run("graded")
    capsys.readouterr()
    assert main(["export", str(run), *extra, "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spinsyn: error: --v-max: ") and "--write-pulse auto" in err and err.count("\n") == 1
    assert not (tmp_path / "c").exists()
