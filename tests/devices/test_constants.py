"""Derived STT-MTJ numbers against independent values.

Each expected number is computed here by hand from physical constants typed in this file (CODATA 2018) and the
device's fields, arranged differently from ``physics.derive`` (Ic0 from the energy barrier, Δ from the
anisotropy energy), or taken from the published Beihang Verilog-A model (``wang_model.va`` in
salah-daddi-nounou/snn_simulator, commit 4f69d31dbf168fd5f1ec5b2208c7d806e3c24933; its constants and mixed
CGS units are typed below), or is a literal from the issue/docs. Nothing here calls derive's formula lines.
"""

import math

import numpy as np
import pytest
from spinsyn import devices as D
from spinsyn.devices.physics import derive, r_ap_ohm

# CODATA 2018, typed here (not imported from the code): e and kB exact, muB and mu0 measured
E_CHARGE = 1.602176634e-19  # C
K_B = 1.380649e-23  # J/K
MU_B = 9.2740100783e-24  # J/T
MU_0 = 1.25663706212e-6  # N/A² (the code uses 4π·1e-7; they differ by 5e-10 relative)
A_PER_M_PER_OE = 1e3 / (4 * math.pi)

# the Verilog-A's own constants (Beihang model, rounded) and stated defaults
VA = {"e": 1.6e-19, "ub": 9.27e-28, "Kb": 1.38e-23, "alpha": 0.027, "gamma": 1.76e7, "Ms": 15800.0,
      "Hk": 1433.0, "tsl": 1.3e-9, "r": 16e-9, "tox": 8.5e-10, "PhiBas": 0.4, "RA": 5.0, "TMR": 0.7, "T": 300.0}


def _area_volume(m):
    area_m2 = math.pi * (m.radius_nm * 1e-9) ** 2
    return area_m2, area_m2 * m.t_fl_nm * 1e-9


def _delta_by_hand(m) -> float:
    """Δ = E_b/(kB T), E_b = K_eff V = μ0 Ms Hk V / 2."""
    _, vol = _area_volume(m)
    e_b = MU_0 * m.ms_A_per_m * m.hk_Oe * A_PER_M_PER_OE * vol / 2
    return e_b / (K_B * m.temperature_K)


def _ic0_by_hand(m, pol: float) -> float:
    """Slonczewski: Ic0 = 2 α γ e E_b / (μB η) with η = P/(1 + P²) and E_b = Δ kB T (γ in rad/(s·T))."""
    eta = pol / (1 + pol * pol)
    e_b = _delta_by_hand(m) * K_B * m.temperature_K
    return 2 * m.alpha * (m.gamma_rad_per_s_Oe * 1e4) * E_CHARGE * e_b / (MU_B * eta)


def test_resistances():
    m = D.STTMTJ()
    p = derive(m)
    area_um2 = math.pi * 0.016 ** 2  # r = 16 nm
    assert float(p.r_p_ohm) == pytest.approx(5.0 / area_um2, rel=1e-9)  # R_P = RA/area at the nominal t_ox
    assert float(p.r_p_ohm) == pytest.approx(6217.0, abs=0.05)
    assert float(r_ap_ohm(p, 0.0)) == pytest.approx(6216.99 * 1.7, rel=1e-6)  # R_P (1 + TMR0)
    assert float(r_ap_ohm(p, 0.0)) == pytest.approx(10568.9, abs=0.05)


def test_resistance_matches_verilog_a_brinkman_normalisation():
    """The Verilog-A's R_P = t_ox/(FA √φ A) exp(1.025 t_ox √φ) (t_ox in Å, A in µm², FA = 3322.53/RA) at its
    stated defaults equals RA/area to 1.5e-6: the model's R_P = 6216.98 Ω."""
    v = VA
    t_a, s_um2 = v["tox"] * 1e10, math.pi * v["r"] ** 2 * 1e12
    ro = t_a / (3322.53 / v["RA"] * math.sqrt(v["PhiBas"]) * s_um2) * math.exp(1.025 * t_a * math.sqrt(v["PhiBas"]))
    assert ro == pytest.approx(6216.98, abs=0.01)
    assert float(derive(D.STTMTJ()).r_p_ohm) == pytest.approx(ro, rel=1e-5)


def test_thermal_stability():
    m = D.STTMTJ()
    delta = float(derive(m).delta)
    assert delta == pytest.approx(_delta_by_hand(m), rel=1e-8)
    assert delta == pytest.approx(22.73, abs=0.005)
    # the Verilog-A: Δ = Em/(kB T 40π), Em = Ms tsl A Hk/2 with Ms in G (4πMs) and Hk in Oe, its rounded
    # constants: 22.75, i.e. the same device within its kB = 1.38e-23 and Ms = 15800 G roundings
    v = VA
    em = v["Ms"] * v["tsl"] * math.pi * v["r"] ** 2 * v["Hk"] / 2
    assert em / (v["Kb"] * v["T"] * 40 * math.pi) == pytest.approx(22.75, abs=0.005)
    assert delta == pytest.approx(em / (v["Kb"] * v["T"] * 40 * math.pi), rel=2e-3)


def test_ic0_slonczewski():
    m = D.STTMTJ()
    assert m.ic0_model == "slonczewski"
    ic0 = float(derive(m).ic0_A)
    assert ic0 == pytest.approx(_ic0_by_hand(m, 0.52), rel=1e-8)
    assert ic0 * 1e6 == pytest.approx(37.76, abs=0.005)


def test_ic0_julliere_reproduces_the_verilog_a():
    """ic0_model="julliere": P from TMR0 (Julliere, TMR = 2P²/(1-P²)); the Verilog-A's Ic = α γ e Ms tsl Hk A
    /(40π μB P_VA), P_VA = √(TMR(TMR+2))/(2(TMR+1)), in its own units and constants: 38.21 µA."""
    m = D.STTMTJ(ic0_model="julliere")
    ic0 = float(derive(m).ic0_A)
    p_julliere = math.sqrt(0.7 / (2 + 0.7))
    assert 2 * p_julliere ** 2 / (1 - p_julliere ** 2) == pytest.approx(0.7)
    assert p_julliere == pytest.approx(0.5092, abs=5e-5)
    assert ic0 == pytest.approx(_ic0_by_hand(m, p_julliere), rel=1e-8)
    assert ic0 * 1e6 == pytest.approx(38.22, abs=0.005)
    v = VA
    p_va = math.sqrt(v["TMR"] * (v["TMR"] + 2)) / (2 * (v["TMR"] + 1))
    ic_va = (v["alpha"] * v["gamma"] * v["e"] * v["Ms"] * v["tsl"] * v["Hk"] / (40 * math.pi * v["ub"] * p_va)
             * math.pi * v["r"] ** 2)
    assert ic_va * 1e6 == pytest.approx(38.21, abs=0.005)
    assert ic0 == pytest.approx(ic_va, rel=1e-3)  # the rest is the Verilog-A's rounded e, μB, Ms


def test_ic0_julliere_follows_tmr_not_polarisation():
    base = derive(D.STTMTJ(ic0_model="julliere"))
    assert float(derive(D.STTMTJ(ic0_model="julliere", polarisation=0.3)).ic0_A) == float(base.ic0_A)
    spread = derive(D.STTMTJ(ic0_model="julliere"), tmr0=np.array([0.7, 1.5]))
    p15 = math.sqrt(1.5 / 3.5)
    assert float(spread.ic0_A[1] / spread.ic0_A[0]) == pytest.approx(
        ((1 + p15 ** 2) / p15) / ((1 + 0.7 / 2.7) / math.sqrt(0.7 / 2.7)), rel=1e-12)
    with pytest.raises(ValueError, match="ic0_model"):
        D.STTMTJ(ic0_model="verilog")


def test_physical_preset_scales_with_hk():
    """Δ and Ic0 are linear in Hk: the physical preset (Hk 2600 Oe) has Δ = 41.24 and Ic0 = 68.51 µA."""
    m = D.get_model("stt-mtj-physical")
    p = derive(m)
    assert float(p.delta) == pytest.approx(22.727 * 2600 / 1433, rel=1e-4)
    assert float(p.delta) == pytest.approx(41.24, abs=0.005)
    assert float(p.ic0_A) * 1e6 == pytest.approx(68.51, abs=0.005)
