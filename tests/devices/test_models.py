"""Model equations against hand-computed values (defaults of issue 3)."""

import math

import numpy as np
import pytest
from spinsyn import devices as D
from spinsyn.devices.models import derive, hazard_rate_per_s, mtj_current_A, r_ap_ohm


def test_resistances_by_hand():
    p = derive(D.STTMTJ())
    area_um2 = math.pi * 0.016 ** 2
    assert float(p.r_p_ohm) == pytest.approx(5.0 / area_um2, rel=1e-9)
    assert float(p.r_p_ohm) == pytest.approx(6.22e3, rel=2e-3)
    assert float(r_ap_ohm(p, 0.0)) == pytest.approx(10.57e3, rel=2e-3)
    # TMR(V) = TMR0/(1+V^2/Vh^2): at V = Vh the TMR halves
    assert float(r_ap_ohm(p, 0.5)) == pytest.approx(float(p.r_p_ohm) * 1.35, rel=1e-12)


# Δ and Ic0: tests/devices/test_constants.py (independent hand values and the published Verilog-A's)


def test_neel_brown_tau_by_hand():
    m = D.STTMTJ()  # ungated; published switching: beta = 1, tau0 = 0.87 ns, eps = 0.32
    p = derive(m)
    v = 0.15
    i = v / float(r_ap_ohm(p, v))
    transit = 1 / (float(p.k_prec_per_A_s) * 0.32 * float(p.ic0_A))
    tau = 0.87e-9 * (math.exp(float(p.delta) * (1 - i / float(p.ic0_A))) - 1) + transit
    assert 1 / float(hazard_rate_per_s(p, 0.0, v)) == pytest.approx(tau, rel=1e-9)
    # no current: tau = tau0 (exp(Delta) - 1) + transit in both directions (the retention time)
    ret = 0.87e-9 * (math.exp(float(p.delta)) - 1) + transit
    assert 1 / float(hazard_rate_per_s(p, 1.0, 0.0)) == pytest.approx(ret, rel=1e-9)
    # retention is the thermal stability of the geometry, not this drive law: Brown's escape time
    tau_d = (1 + m.alpha ** 2) / (m.alpha * m.gamma_rad_per_s_Oe * 1e4 * 4e-7 * math.pi * m.hk_Oe * 1e3 / (4 * math.pi))
    brown = tau_d * math.sqrt(math.pi / float(p.delta)) * math.exp(float(p.delta))
    assert m.retention_s == pytest.approx(brown, rel=1e-9) and ret / brown == pytest.approx(1.59, rel=0.01)


def test_precessional_regime_is_sun_transit_without_thermal_extrapolation():
    """Above Ic0 the switching time is Sun's transit 1/(k_prec (I - Ic0 + eps Ic0)); the thermal formula is no
    longer extrapolated (it gave 9e-12 s at 1.2 Ic0)."""
    p = derive(D.STTMTJ())
    v = 0.6  # I > Ic0 in P -> AP direction with negative V
    i = v / float(p.r_p_ohm)
    assert i > float(p.ic0_A)
    rate = float(hazard_rate_per_s(p, 1.0, -v))
    sun = float(p.k_prec_per_A_s) * (i - float(p.ic0_A) + 0.32 * float(p.ic0_A))
    assert rate == pytest.approx(sun, rel=1e-9)
    assert 1e-9 < 1 / rate < 1e-8


def test_published_gates_block_the_ramp():
    p = derive(D.get_model("stt-mtj"))
    v = np.linspace(-0.09, 0.15, 101)
    assert np.all(hazard_rate_per_s(p, 0.0, v) == 0)
    assert np.all(hazard_rate_per_s(p, 1.0, v) == 0)
    assert hazard_rate_per_s(p, 0.0, 0.2) > 0 and hazard_rate_per_s(p, 1.0, -0.2) > 0


def test_current_and_conductance_levels():
    m = D.get_model("compound")
    g = D.conductance_S(m, np.arange(9), 0.1)
    assert len(np.unique(np.round(g, 12))) == 9
    assert np.all(np.diff(g) > 0)
    p = derive(m.mtj)
    assert float(mtj_current_A(p, 1, 0.1)) == pytest.approx(0.1 / float(p.r_p_ohm))
    gmin, gmax = D.g_bounds_S(m)
    assert gmin == pytest.approx(g[0]) and gmax == pytest.approx(g[-1])


def test_switch_probability_monotone_and_directional():
    m = D.STTMTJ()
    v = np.array([0.1, 0.2, 0.3])
    pp = D.switch_probability(m, v, 1000.0, to_parallel=True)
    assert np.all(np.diff(pp) > 0) and np.all((pp >= 0) & (pp <= 1))
    assert D.switch_probability(m, -0.3, 1000.0, to_parallel=True) < 1e-6


def test_dw_motion_threshold_and_notches():
    m = D.get_model("dw-mtj-notched", sigma_depin_pct=0.0)
    rng = np.random.default_rng(0)
    x = np.full(5, 0.5)
    assert np.all(D.apply_pulse(m, x, 0.15, 100.0, rng) == 0.5)  # below depinning
    x1 = D.apply_pulse(m, x, 0.4, 10.0, rng)  # flow regime (2.35 J_dep): > 1/8 of the length in 10 ns
    assert np.all(x1 > 0.5)
    assert np.allclose(x1 * 8, np.round(x1 * 8))
    assert np.all(D.apply_pulse(m, x, -0.4, 10.0, rng) < 0.5)


def test_apply_pulse_compound_statistics():
    m = D.get_model("compound")
    rng = np.random.default_rng(1)
    k = np.zeros(20000, dtype=int)
    k1 = D.apply_pulse(m, k, 0.25, 2000.0, rng)
    p = float(D.switch_probability(m.mtj, 0.25, 2000.0, True))
    assert k1.mean() / 8 == pytest.approx(p, abs=0.01)


@pytest.mark.parametrize("bad", [{"radius_nm": -1.0}, {"polarisation": 1.5}, {"sigma_tmr0_pct": 50.0}])
def test_nonphysical_parameters_rejected(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        D.get_model("stt-mtj", **bad)


def test_unknown_preset_and_parameter():
    with pytest.raises(ValueError, match="unknown device model"):
        D.get_model("nope")
    with pytest.raises(ValueError, match="unknown parameter"):
        D.get_model("dw-mtj", radius_nm=3.0)
