"""``switching="author"``: emulation of the published author's Verilog-A per-evaluation redraw (devices/author.py)."""

import h5py
import numpy as np
import pytest
from spinsyn import devices as D
from spinsyn.cli import main
from spinsyn.devices import author
from spinsyn.devices.physics import derive, hazard_rate_per_s
from spinsyn.fitting import fit
from spinsyn.fitting.inputs import read_input
from spinsyn.fitting.rules import PUBLISHED_PARAMS

H = author.AUTHOR_STEP_S


def _flat_bench(**kw):
    """No pre ramp (V_mtj = 0 outside the post pulse, gates shut), a constant post pulse."""
    return D.PulseTestbench(pre_start_V=0.0, pre_end_V=0.0, **kw)


@pytest.mark.parametrize("s_from,v_mtj,bench", [
    (0, 0.18, dict(post_pot_V=-0.18, post_pot_us=3.0, post_dep_V=0.0, post_dep_us=1.0)),
    (1, -0.125, dict(post_pot_V=0.0, post_pot_us=1.0, post_dep_V=0.125, post_dep_us=2.0)),
])
def test_survival_law_at_constant_voltage(s_from, v_mtj, bench):
    """Many MTJs, one gate window of W at constant V: switched fraction = 1 - exp(-h N (N+1)/2 rate(V)) with
    N = W/h - 1 evaluations (at t_open + n h < t_close), not the hazard integral 1 - exp(-W rate(V))."""
    model = D.get_model("stt-mtj")
    tb = _flat_bench(**bench)
    width_s = (tb.post_pot_us if s_from == 0 else tb.post_dep_us) * 1e-6
    n_eval = round(width_s / H) - 1
    r = D.sweep(model, tb, [1.0], 40000, switching="author", seed=3)
    before = r.state_before[0] == s_from
    moved = (r.switched_up if s_from == 0 else r.switched_down)[0][before]
    p = derive(model)
    want = 1 - float(author.survival_formula(p, s_from, v_mtj, n_eval))
    want_direct = 1 - float(np.exp(-H * n_eval * (n_eval + 1) / 2 * hazard_rate_per_s(p, s_from, v_mtj)))
    assert want == pytest.approx(want_direct, rel=1e-12)
    sd = np.sqrt(want * (1 - want) / before.sum())
    assert 0.1 < want < 0.9 and abs(moved.mean() - want) < 5 * sd
    physical = 1 - float(np.exp(-width_s * hazard_rate_per_s(p, s_from, v_mtj)))
    assert abs(moved.mean() - physical) > 20 * sd
    assert (r.switched_down if s_from == 0 else r.switched_up).sum() == 0  # the other gate never opens


def test_no_switch_above_the_cut():
    """Aiding current >= 0.8 Ic0 (0.5 V across an AP MTJ: ~1.6 Ic0): the author's model skips the evaluation (its Sun
    branch is commented out), so nothing switches, while the hazard integral switches every AP MTJ."""
    model = D.get_model("stt-mtj")
    tb = _flat_bench(post_pot_V=-0.5, post_pot_us=3.0, post_dep_V=0.0, post_dep_us=1.0)
    a = D.sweep(model, tb, [1.0], 400, switching="author", seed=1)
    ph = D.sweep(model, tb, [1.0], 400, seed=1)
    assert a.switched_up.sum() == 0
    assert ph.switched_up.sum() == (ph.state_before == 0).sum() > 100


def test_windows_of_the_published_bench():
    """Potentiation gate open for Δt < 25 ms over the whole 7 us (69 evaluations), depression gate for Δt > 37.5 ms
    over the 1 us (9 evaluations); the pre ramp alone never opens a gate."""
    cell = author.gated_cell(D.get_model("compound"))
    tb = D.get_testbench()
    assert author.author_windows(tb, 30.0, cell) == []
    (lo, s_from, n, v), = author.author_windows(tb, 10.0, cell)
    assert (lo, s_from, n.size) == (pytest.approx(0.010), 0, 69)
    assert np.allclose(v, 0.25 - 0.24 * 10 / 60, atol=1e-4)
    (lo, s_from, n, v), = author.author_windows(tb, 50.0, cell)
    assert (lo, s_from, n.size) == (pytest.approx(0.050007), 1, 9)
    assert np.allclose(v, 0.15 - 0.24 * 50 / 60 - 0.1, atol=1e-4)
    b, v0, v1 = author.waveform_segments(tb, 10.0)  # a gate staying open across a breakpoint is one window
    assert author.gate_windows(b, v0, v1, 0.0, True) == [(0.0, pytest.approx(0.0375))]


def test_fit_reproduces_published_curve(tmp_path):
    """The issue's claim: the published compound preset with the author's switching, 0:60:1 x 50, fitted
    bi-sigmoid: t0 within 1.5 ms of 20.78 and t1 within 1.5 ms of 48.94 (the hazard integral gives ~7 / ~52.6)."""
    tb, model, dt = D.get_testbench(), D.get_model("compound"), np.arange(0.0, 60.0, 1.0)
    for switching, ok in (("author", True), ("physical", False)):
        path = D.write_sweep(tmp_path / f"{switching}.h5", D.sweep(model, tb, dt, 50, switching=switching))
        p = fit(read_input(path), "bisigmoid")[0].rule.params
        close = (abs(p["t0"].value - PUBLISHED_PARAMS["t0"]) < 1.5, abs(p["t1"].value - PUBLISHED_PARAMS["t1"]) < 1.5)
        assert close == (ok, ok), (switching, p["t0"].value, p["t1"].value)


def test_reproducible_recorded_and_default_physical(tmp_path):
    model, tb, dt = D.get_model("compound"), D.get_testbench(), [5.0, 30.0, 55.0]
    a1 = D.sweep(model, tb, dt, 30, switching="author", seed=7)
    a2 = D.sweep(model, tb, dt, 30, switching="author", seed=7)
    ph = D.sweep(model, tb, dt, 30, seed=7)
    assert np.array_equal(a1.g_after_S, a2.g_after_S) and np.array_equal(a1.g_before_S, ph.g_before_S)
    assert ph.switching == "physical" and not np.array_equal(a1.g_after_S, ph.g_after_S)
    assert D.read_sweep(D.write_sweep(tmp_path / "a.h5", a1)).switching == "author"
    old = D.write_sweep(tmp_path / "old.h5", ph)
    with h5py.File(old, "a") as f:  # a file written before the attribute existed
        del f.attrs["switching"]
    assert D.read_sweep(old).switching == "physical"


def test_refusals(tmp_path, capsys):
    out = str(tmp_path / "x.h5")
    argv = ["device", "sweep", "--model", "compound", "--switching", "author", "--dt-ms", "0:10:5", "--trials", "2",
            "--out", out]
    assert main(argv) == 2  # default engine: spice
    err = capsys.readouterr().err.strip()
    assert err.startswith("spinsyn: error: --switching author:") and "--engine reference" in err
    assert "\n" not in err
    with pytest.raises(ValueError, match="gated STT-MTJ"):
        D.sweep(D.get_model("compound-physical"), D.get_testbench(), [1.0], 2, switching="author")
    with pytest.raises(ValueError, match="switching="):
        D.sweep(D.get_model("compound"), D.get_testbench(), [1.0], 2, switching="wang")
    assert main([*argv, "--engine", "reference"]) == 0 and D.read_sweep(out).switching == "author"
