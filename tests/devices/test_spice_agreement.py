"""ngspice engine against the reference engine with the same draws: every MTJ's end state and switch count.

Both engines integrate H = ∫ rate dt per MTJ and switch the k-th time when H reaches Θ_k (``Draws.theta``).
The SPICE state is a hard test of H against the thresholds (``netlist.threshold_state``), so the two engines
must agree MTJ by MTJ, not only in distribution.
"""

import numpy as np
import pytest
from spinsyn import devices as D
from spinsyn.devices import netlist as nl
from spinsyn.devices import reference, spice

ngspice = pytest.importorskip("spinsyn.ngspice")
try:
    ngspice.session()
except Exception as exc:  # pragma: no cover
    pytest.skip(f"ngspice unavailable: {exc}", allow_module_level=True)


def compare_engines(preset: str, bench: str, dt_ms, trials: int, seed: int, **pulses: float) -> dict:
    """Run both engines on the same draws (those ``sweep`` uses for ``seed``); per-MTJ outcomes. ``pulses``
    override testbench fields (e.g. ``post_pot_V``)."""
    model, tb = D.get_model(preset), D.get_testbench(bench, **pulses)
    dt = np.asarray(dt_ms, dtype=float)
    d = reference.draw(model, dt.size, trials, seed)
    out, _, _ = spice.run_spice(model, tb, dt, d, jobs=2)
    ref = reference.run_reference(model, tb, dt, d)
    n_spice = (out["h"][..., None] >= d.theta).sum(-1)  # thresholds the SPICE hazard reached = switches made
    return {"model": model, "tb": tb, "dt": dt, "d": d, "spice": out, "ref": ref, "n_spice": n_spice}


def assert_same_outcomes(c: dict, seed: int, min_mtjs: int) -> None:
    s_sp, s_ref, d = c["spice"]["s1"], c["ref"]["s1"], c["d"]
    assert s_sp.size >= min_mtjs
    bad = np.argwhere((s_sp != s_ref) | (c["n_spice"] != c["ref"]["nsw"]))
    detail = [(tuple(i), float(c["spice"]["h"][tuple(i)]), float(c["ref"]["h"][tuple(i)]),
               d.theta[tuple(i)].round(4).tolist()) for i in bad[:5]]
    assert bad.size == 0, f"{len(bad)} of {s_sp.size} MTJs differ (index, H spice, H ref, thresholds): {detail}"
    assert (c["ref"]["nsw"] > 0).mean() > 0.1  # the comparison includes real switching
    # the same draws through the public sweep: per-instance counts equal the per-MTJ SPICE outcomes
    r = D.sweep(c["model"], c["tb"], c["dt"], s_sp.shape[1], engine="reference", seed=seed)
    np.testing.assert_array_equal(r.state_after, s_sp.sum(-1))
    np.testing.assert_array_equal(r.state_before, d.s0.sum(-1))


DT_PUBLISHED = np.array([0.0, 1.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 20.0, 40.0, 50.0, 52.0, 54.0, 56.0, 58.0])


def test_same_draws_same_outcome_published_480():
    """Published (gated) compound: 15 Δt x 4 trials x 8 MTJs = 480 MTJs, no mismatch (~8 s on 2 cores)."""
    c = compare_engines("compound", "published", DT_PUBLISHED, 4, seed=21)
    assert_same_outcomes(c, 21, 480)


def test_same_draws_same_outcome_physical_multi_switch():
    """Ungated compound with the ±450 mV pulses (MTJs switch back and forth): 96 MTJs, no mismatch."""
    c = compare_engines("compound-physical", "physical", [0.0, 10.0, 30.0, 50.0, 56.0, 59.0], 2, seed=5,
                        post_pot_V=-0.45, post_dep_V=0.45)
    assert_same_outcomes(c, 5, 96)
    assert (c["ref"]["nsw"] >= 2).any()


@pytest.mark.slow
@pytest.mark.parametrize("preset,bench,n_dt,trials", [
    ("compound", "published", 30, 16),
    ("compound-physical", "physical", 30, 4)])  # with the blended rate 1 of the 960 differed; ternary: none
def test_same_draws_same_outcome_large(preset, bench, n_dt, trials):
    """30 Δt over the whole window: 3,840 (published) and 960 (physical) MTJs, no mismatch."""
    c = compare_engines(preset, bench, np.linspace(0.0, 59.0, n_dt), trials, seed=0)
    assert_same_outcomes(c, 0, 960)


def test_threshold_state_is_hard_in_ngspice():
    """The state node is exactly 0 or 1 for every hazard value and flips exactly at the thresholds."""
    theta = np.array([0.3, 0.30002, 1.1, 2.5])
    for s0 in (0, 1):
        net = nl.render("state", [nl.pwl_voltage("h", "h", "0", [(0, 0), (1e-3, 3.0)]),
                                  nl.threshold_state("s", "h", s0, theta)],
                        [".tran 1e-6 1e-3"])
        res = ngspice.session().run(net)
        h, s = res["h"], res["s"]
        assert set(np.unique(s)) <= {0.0, 1.0}
        expect = (s0 + (h[:, None] >= theta).sum(1)) % 2
        np.testing.assert_array_equal(s, expect)


def test_guard_ramps_lie_between_thresholds():
    """Every guard ramp ends below its own threshold and starts above the previous one, even when two
    thresholds are closer than the guard width; the guard is flat (exactly) at each threshold."""
    theta = np.array([0.0004, 0.7, 0.70005, 3.0])
    lo, w = nl._guard_ramps(theta, nl.GUARD_W)
    hi = lo + w
    assert np.all(hi < theta) and np.all(lo[1:] > theta[:-1]) and lo[0] > 0
    for k, t in enumerate(theta):
        assert nl._guard_value(t, lo, w) == 2.0 + k
        assert nl._guard_value(t + 1e-9, lo, w) == 2.0 + k
