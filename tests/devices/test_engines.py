"""ngspice engine against the reference engine (results come from ngspice through spinsyn.ngspice)."""

import numpy as np
import pytest
from spinsyn import devices as D
from spinsyn.devices import reference, spice
from spinsyn.devices.models import derive, mtj_current_A, r_ap_ohm

ngspice = pytest.importorskip("spinsyn.ngspice")
try:
    ngspice.session()
except Exception as exc:  # pragma: no cover
    pytest.skip(f"ngspice unavailable: {exc}", allow_module_level=True)


@pytest.mark.parametrize("s0", [0, 1])
def test_spice_current_matches_reference_iv(s0):
    """I(V) and R(V) of one MTJ in a fixed state, along the pre ramp and post pulse, within 0.1 %."""
    m = D.STTMTJ()
    tb = D.PulseTestbench(post_pot_V=-0.4, post_dep_V=0.4)
    d = reference.draw(m, 1, 1, 0)
    d = reference.Draws(np.full_like(d.s0, s0), d.theta + 1e9, d.z, d.x0, d.depin)  # never switches
    res = ngspice.session().run(spice.netlist(m, tb, 20.0, d, 0, 0))
    v = res["pre"] - res["post"]
    i_spice = -res["vpre#branch"]
    p = derive(m)
    i_ref = mtj_current_A(p, s0, v)
    sel = np.abs(v) > 1e-3
    assert sel.sum() > 50 and np.abs(v).max() > 0.3
    np.testing.assert_allclose(i_spice[sel], i_ref[sel], rtol=1e-3)
    r_spice = v[sel] / i_spice[sel]
    r_ref = np.where(s0 == 1, float(p.r_p_ohm), r_ap_ohm(p, v[sel]))
    np.testing.assert_allclose(r_spice, r_ref, rtol=1e-3)


def test_same_draws_same_outcome_compound():
    m = D.get_model("compound")
    tb = D.PulseTestbench()
    dt = np.array([0.0, 4.0, 8.0, 30.0, 52.0, 56.0, 58.0])
    d = reference.draw(m, dt.size, 3, 11)
    out, _, _ = spice.run_spice(m, tb, dt, d, jobs=1)
    ref = reference.run_reference(m, tb, dt, d)
    agree = (out["s1"] == ref["s1"]).mean()
    assert agree >= 0.98
    # the rest end within integration tolerance of a threshold
    bad = out["s1"] != ref["s1"]
    if bad.any():
        gap = np.min(np.abs(ref["h"][bad][:, None] - d.theta[bad]), axis=1)
        assert np.all(gap < 0.05)
    # the pulses act in ngspice: AP -> P at the early delays only, P -> AP at the late ones only
    # (measured, 24 MTJs per delay: up 13/7/4/0/0/0/0, down 0/0/0/0/9/13/11)
    up = ((d.s0 == 0) & (out["s1"] == 1)).sum(axis=(1, 2))
    down = ((d.s0 == 1) & (out["s1"] == 0)).sum(axis=(1, 2))
    assert np.all(up[:3] >= 2) and np.all(up[3:] == 0), up
    assert np.all(down[4:] >= 5) and np.all(down[:4] == 0), down


def test_spice_sweep_reduced_grid_bisigmoid(tmp_path):
    m = D.get_model("compound")
    r = D.sweep(m, D.PulseTestbench(), [0.0, 2.0, 4.0, 56.0, 58.0], 4, engine="spice", seed=3, jobs=2,
                save_waveforms=1)
    dg = r.dg_norm.mean(1)
    assert np.all(dg[:3] > 0) and np.all(dg[3:] < 0)
    levels = D.conductance_S(m, np.arange(m.n_mtj + 1), 0.1)
    for g in (r.g_before_S, r.g_after_S):
        assert np.all(np.min(np.abs(g.ravel()[:, None] - levels[None, :]), axis=1) < 1e-12)
    assert r.engine == "spice" and r.ngspice_version and r.ngspice_version >= 30
    assert len(r.waveforms) == 1 and r.waveforms[0]["g_S"].shape == r.waveforms[0]["time_s"].shape
    D.write_sweep(tmp_path / "s.h5", r)
    r2 = D.read_sweep(tmp_path / "s.h5")
    np.testing.assert_array_equal(r2.g_after_S, r.g_after_S)
    assert r2.waveforms[0]["v_mtj_V"].shape == r.waveforms[0]["v_mtj_V"].shape


def test_dw_spice_matches_reference():
    m = D.get_model("dw-mtj")
    tb = D.PulseTestbench()
    dt = np.array([0.0, 10.0, 30.0, 58.0])
    d = reference.draw(m, dt.size, 2, 5)
    out, _, _ = spice.run_spice(m, tb, dt, d)
    ref = reference.run_reference(m, tb, dt, d)
    np.testing.assert_allclose(out["x1"], ref["x1"], atol=0.02)
    assert np.any(out["x1"] != d.x0)


def test_nonconvergence_names_instance_and_saves_netlist(tmp_path, monkeypatch):
    m = D.get_model("stt-mtj")
    monkeypatch.setattr(spice, "TRAN_OPTS", ".options itl4=bogus_value_x")
    real = spice.netlist

    def broken(*a, **k):
        return real(*a, **k).replace("Ch0 h0 0 1", "Ch0 h0 0 notanumber")

    monkeypatch.setattr(spice, "netlist", broken)
    with pytest.raises(spice.SpiceConvergenceError, match="trial 0") as ei:
        D.sweep(m, D.PulseTestbench(), [1.0], 1, engine="spice", netlist_dir=tmp_path)
    saved = list(tmp_path.glob("spinsyn-failed-*.cir"))
    assert saved and str(saved[0]) in str(ei.value)


@pytest.mark.slow
def test_full_compound_sweep_spice(tmp_path):
    m = D.get_model("compound")
    r = D.sweep(m, D.PulseTestbench(), np.arange(0, 60, 2.0), 50, engine="spice", seed=0, jobs=2)
    dg = r.dg_norm.mean(1)
    assert np.all(dg[r.dt_ms <= 10] > 0) and np.all(dg[r.dt_ms >= 55] < 0)
    g = np.concatenate([r.g_before_S.ravel(), r.g_after_S.ravel()])
    assert len(np.unique(np.round(g / r.g_max_S, 9))) == m.n_mtj + 1


@pytest.mark.slow
def test_pswitch_band_400_trials():
    from scipy.stats import binom

    m = D.get_model("stt-mtj")
    tb = D.PulseTestbench()
    dt = np.array([0.0, 4.0, 8.0, 12.0, 48.0, 52.0, 56.0, 58.0])
    rs = D.sweep(m, tb, dt, 400, engine="spice", seed=1, jobs=2)
    rr = D.sweep(m, tb, dt, 20000, engine="reference", seed=2)
    n_sp = (rs.switched_up + rs.switched_down).sum(1)
    p_ref = (rr.switched_up + rr.switched_down).mean(1)
    a = 0.01 / dt.size
    lo, hi = binom.ppf(a / 2, 400, p_ref), binom.ppf(1 - a / 2, 400, p_ref)
    assert np.all((n_sp >= lo) & (n_sp <= hi)), (n_sp, lo, hi)


@pytest.mark.parametrize("preset,bench", [("compound", "published"), ("stt-mtj-physical", "physical")])
def test_compiled_reference_kernel_equals_numpy_integrator(preset, bench):
    """The numba kernel must reproduce the readable numpy event-located integrator exactly (same arithmetic),
    including devices that switch several times, with device-to-device spread."""
    from spinsyn.devices import reference
    from spinsyn.devices.models import get_model, get_testbench

    model = get_model(preset)
    mtj = model.mtj if hasattr(model, "mtj") else model
    mtj = type(mtj)(**{**mtj.__dict__, "sigma_tmr0_pct": 5.0, "sigma_t_ox_pct": 2.0})
    model = type(model)(model.n_mtj, mtj) if hasattr(model, "mtj") else mtj
    tb = get_testbench(bench)
    dt = np.linspace(0, 58, 7)
    d = reference.draw(model, dt.size, 60, 3)
    p = reference.device_params(mtj, d.z)
    edges_ms, vpost = reference.time_grid_ms(tb, dt)
    vm = tb.v_pre_V(0.5 * (edges_ms[:, 1:] + edges_ms[:, :-1])) - vpost
    e = edges_ms * 1e-3
    s_np, h_np, n_np = reference.integrate_mtj_numpy(p, d.s0, d.theta, e[:, None, None, :], vm[:, None, None, :])
    s_nb, h_nb, n_nb = reference.integrate_mtj(p, d.s0, d.theta, e, vm)
    assert n_np.max() >= 1 and (n_np > 0).mean() > 0.05  # the comparison includes real switching
    np.testing.assert_array_equal(s_np, s_nb)
    np.testing.assert_array_equal(n_np, n_nb)
    np.testing.assert_allclose(h_nb, h_np, rtol=1e-12, atol=1e-14)
