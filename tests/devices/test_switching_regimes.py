"""STT-MTJ switching by regime (thermal wait below Ic0, precessional transit above, continuous crossover), the
same in numpy, the numba kernel and the rendered SPICE expression; retention; the cmtj cross-check (slow)."""

import dataclasses
import importlib
import math
import re
from pathlib import Path

import numpy as np
import pytest
from spinsyn import devices as D
from spinsyn.devices import netlist as nl
from spinsyn.devices import reference, spice
from spinsyn.devices.models import derive, hazard_rate_per_s, mtj_current_A, switch_probability
from spinsyn.devices.physics import state_rate_formula

LN2 = math.log(2)
STT_PRESETS = ("stt-mtj", "stt-mtj-macrospin", "stt-mtj-physical", "stt-mtj-retentive")


def _ungated(name):
    return dataclasses.replace(D.get_model(name), gate_to_p_V=None, gate_to_ap_V=None)


def _v_for(mtj, i_rel, s=0):
    """|V_mtj| at which the MTJ in state s carries i_rel x Ic0 (bisection; I(V) is monotone)."""
    p = derive(mtj)
    target, lo, hi = i_rel * float(p.ic0_A), 0.0, 10.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if abs(float(mtj_current_A(p, s, mid))) < target else (lo, mid)
    return 0.5 * (lo + hi)


def _t50_by_hand(i, delta, tau0, kic0, beta, eps):
    """t50 = ln2 tau, tau = tau0 (exp(Delta max(1-i,0)^beta) - 1) + 1/(k_prec Ic0 (max(i-1,0) + eps))."""
    return LN2 * (tau0 * (math.exp(delta * max(1 - i, 0) ** beta) - 1) + 1 / (kic0 * (max(i - 1, 0) + eps)))


@pytest.mark.parametrize("name,beta,tau0,eps", [("stt-mtj", 1.0, 0.87e-9, 0.32)])
def test_published_t50_by_hand_from_documented_numbers(name, beta, tau0, eps):
    """Numbers typed from docs/devices.md: Delta 22.73, Ic0 37.76 uA, k_prec Ic0 = 0.2958/ns."""
    m = _ungated(name)
    got = LN2 * m.switching_time_s([0.5, 1.0, 2.0])
    want = [_t50_by_hand(i, 22.727, tau0, 0.2958e9, beta, eps) for i in (0.5, 1.0, 2.0)]
    assert got[0] == pytest.approx(want[0], rel=1e-2)  # the exponent amplifies the typed Delta's rounding
    assert got[1:] == pytest.approx(want[1:], rel=1e-3)
    assert got[1] == pytest.approx(7.32e-9, rel=2e-3) and got[2] == pytest.approx(1.78e-9, rel=3e-3)
    # the same through the voltage interface: switch_probability at V(i) for a pulse of t50 is 1/2
    for i, t in zip((0.5, 1.0, 2.0), got):
        assert float(switch_probability(m, _v_for(m, i), t * 1e9, to_parallel=True)) == pytest.approx(0.5, rel=1e-6)


def test_macrospin_preset_is_the_default_device_with_browns_switching_law():
    """The same geometry with the macrospin's own drive law, by hand: tau = tau_D sqrt(pi/Delta) (e^(Delta x²) - 1)
    / ((x² + 0.125/Delta)(2 - min(x, 1))) + 1/(k_prec Ic0 (max(i - 1, 0) + 0.273)), x = max(1 - i, 0)."""
    pub, mac = D.get_model("stt-mtj"), D.get_model("stt-mtj-macrospin")
    diff = {f.name for f in dataclasses.fields(pub) if getattr(pub, f.name) != getattr(mac, f.name)}
    assert diff == {"barrier_exponent", "attempt", "transit_eps", "gate_to_p_V", "gate_to_ap_V"}
    assert mac.barrier_exponent == 2.0 and mac.gate_to_p_V is None and mac.attempt == "brown"
    p = derive(mac)
    d, kic0 = float(p.delta), float(p.k_prec_per_A_s * p.ic0_A)
    tau_d = (1 + mac.alpha ** 2) / (mac.alpha * mac.gamma_rad_per_s_Oe * 1e4 * 4e-7 * math.pi * mac.hk_Oe * 1e3
                                    / (4 * math.pi))
    for i in (0.0, 0.3, 0.5, 1.0, 2.0):
        x = max(1 - i, 0.0)
        wait = tau_d * math.sqrt(math.pi / d) * math.expm1(d * x * x) / ((x * x + 0.125 / d) * (2 - min(x, 1)))
        assert mac.switching_time_s(i) == pytest.approx(wait + 1 / (kic0 * (max(i - 1, 0) + 0.273)), rel=1e-12)


@pytest.mark.parametrize("name", ["stt-mtj-macrospin", "stt-mtj-physical", "stt-mtj-retentive"])
def test_sweep_hazard_is_the_fokker_planck_escape_time(name):
    """The engines' closed form against the exact mean escape time of the macrospin Fokker–Planck equation
    (quadrature, ``macrospin.escape_time_s``) at the currents of the STDP testbenches and beyond: within 30 %."""
    from spinsyn.devices import macrospin

    m = D.get_model(name)
    for i in (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0):
        assert float(m.switching_time_s(i)) / macrospin.escape_time_s(m, i) == pytest.approx(1.0, abs=0.3)


@pytest.mark.parametrize("name", STT_PRESETS)
def test_regimes_continuous_and_monotone(name):
    m = _ungated(name)
    i = np.linspace(0.0, 4.0, 4001)
    tau = m.switching_time_s(i)
    assert np.all(np.diff(tau) < 0)  # more current, faster: no jump at the crossover
    eps = 1e-7
    assert m.switching_time_s(1 - eps) == pytest.approx(m.switching_time_s(1 + eps), rel=1e-5)
    # above Ic0: pure Sun transit, no extrapolated thermal rate (the old model gave 9e-12 s at 1.2 Ic0)
    p = derive(m)
    assert m.switching_time_s(1.2) == pytest.approx(
        1 / (float(p.k_prec_per_A_s * p.ic0_A) * (0.2 + m.transit_eps)), rel=1e-12)
    assert m.switching_time_s(3.0) > 3e-10


def _eval_spice(expr: str, **nodes: float) -> float:
    for name, val in nodes.items():
        expr = expr.replace(f"v({name})", f"({val!r})")
    assert not re.search(r"v\(|\?", expr), expr
    return float(eval(expr, {"exp": math.exp, "min": min, "max": max, "pow": math.pow}))


@pytest.mark.parametrize("name", STT_PRESETS)
def test_rendered_spice_rate_and_kernel_rate_equal_numpy_in_every_regime(name):
    """Opposing current, zero bias, deep thermal, near/at/above Ic0: the B-source expression of the netlist
    (evaluated here) and the numba kernel's ``_rate`` give the numpy hazard rate."""
    m = _ungated(name)
    d = reference.draw(m, 1, 1, 0)
    p = reference.device_params(m, d.z[0, 0])
    args = (p.r_p_ohm[0], p.tmr0[0], p.vh_V, p.ic0_A[0], p.delta[0], p.tau0_s, p.k_prec_per_A_s[0],
            p.barrier_exponent, p.transit_eps, p.brown)
    net = spice.netlist(m, D.PulseTestbench(), 5.0, d, 0, 0)
    for s in (0, 1):
        expr = state_rate_formula(s, nl.V_MTJ, *args)
        assert expr.text in net  # the netlist integrates exactly this expression
        sign = 1 if s == 0 else -1  # aiding direction: AP -> P needs V > 0
        for i_rel in (-0.5, 0.0, 0.3, 0.8, 0.999, 1.0, 1.001, 1.5, 3.0):
            v = sign * math.copysign(_v_for(m, abs(i_rel), s), i_rel) if i_rel else 0.0
            want = float(hazard_rate_per_s(p, s, v)[0])
            assert _eval_spice(expr.text, pre=v, post=0.0) == pytest.approx(want, rel=1e-6)
            nb = reference._rate(s, v, *(float(a) for a in args), math.nan, math.nan)
            assert nb == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("name,i_rel", [("stt-mtj", 0.5), ("stt-mtj", 2.0), ("stt-mtj-macrospin", 0.7),
                                        ("stt-mtj-macrospin", 1.0), ("stt-mtj-physical", 1.5)])
def test_kernel_and_apply_pulse_switch_half_at_t50(name, i_rel):
    """A constant pulse of width t50 switches half of the devices in the reference kernel and in apply_pulse."""
    m = _ungated(name)
    n = 20000
    v = _v_for(m, i_rel)
    t50 = LN2 * float(m.switching_time_s(i_rel))
    d = reference.draw(m, 1, n, 3)
    s0 = np.zeros_like(d.s0)
    s1, _, _ = reference.integrate_mtj(derive(m), s0, d.theta, np.array([[0.0, t50]]), np.array([[v]]))
    band = 4 * math.sqrt(0.25 / n)
    assert s1.mean() == pytest.approx(0.5, abs=band)
    s = D.apply_pulse(m, np.zeros(n, dtype=np.int8), v, t50 * 1e9, np.random.default_rng(1))
    assert s.mean() == pytest.approx(0.5, abs=band)


def test_retention_published_physical_and_compound():
    pub = D.get_model("stt-mtj")
    p = derive(pub)
    assert pub.retention_s == pytest.approx(1.4696e-9 * math.sqrt(math.pi / float(p.delta))
                                            * math.exp(float(p.delta)), rel=1e-3)  # Brown, tau_D 1.47 ns
    assert 4.0 < pub.retention_s < 4.1  # volatile: seconds
    assert D.get_model("compound").retention_s == pub.retention_s
    year = 365.25 * 86400
    assert 5 * year < D.get_model("stt-mtj-physical").retention_s < 6.5 * year
    assert D.get_model("compound-physical").retention_s == D.get_model("stt-mtj-physical").retention_s


def test_device_info_prints_retention(capsys):
    import argparse

    from spinsyn.devices import cli

    ap = argparse.ArgumentParser()
    cli.register(ap.add_subparsers(dest="command"))
    for name, want in (("stt-mtj", r"retention .* = 4\.0\d s"), ("stt-mtj-physical", r"retention .*years\)")):
        a = ap.parse_args(["device", "info", name])
        assert a.func(a) == 0
        assert re.search(want, capsys.readouterr().out)


@pytest.mark.parametrize("kw", [{"barrier_exponent": 0.2}, {"barrier_exponent": float("nan")},
                                {"transit_eps": 0.0}, {"transit_eps": -1.0}])
def test_switching_shape_validated(kw):
    with pytest.raises(ValueError):
        D.STTMTJ(**kw)


# ------------------------------------------------------------------------------- cmtj cross-check (slow)


def _bench(monkeypatch):
    """benchmarks/bench_cmtj.py as an importable module (its worker processes unpickle its functions by name)."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    return importlib.import_module("bench_cmtj")


@pytest.mark.slow
@pytest.mark.parametrize("name,currents", [("stt-mtj", (1.2, 1.5, 2.0, 3.0)),
                                           ("stt-mtj-macrospin", (0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0, 3.0)),
                                           ("stt-mtj-physical", (0.7, 0.8, 0.9, 1.0, 1.5, 3.0))])
def test_sweep_hazard_t50_near_cmtj(name, currents, monkeypatch):
    """Reduced benchmarks/bench_cmtj.py (40 trials per point): the sweep hazard's t50 against stochastic LLG.
    docs/devices.md measures 0.68-1.05 against 200-trial runs (0.68-0.88 for the published law at 1.2-3 Ic0);
    40 trials move a t50 by ~20 %: asserted within 0.5-1.5."""
    pytest.importorskip("cmtj")
    b = _bench(monkeypatch)
    mtj = b.ungated(D.get_model(name))
    par = b.cmtj_params(mtj)
    assert b.equilibrium(par, seed=5, seconds=200e-9) == pytest.approx(par["mx2_expected"], rel=0.15)
    runs = b.cmtj_switching(par, currents, 40, seed=11, jobs=2)
    t_cmtj = np.array([b.width_at(runs[i], 0.5) for i in currents])
    ratio = b.spinsyn_t50(mtj, currents) / t_cmtj
    assert np.all((ratio > 0.5) & (ratio < 1.5)), dict(zip(currents, ratio))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["stt-mtj-macrospin", "stt-mtj-physical"])
def test_write_physics_within_2x_of_cmtj_on_a_reduced_grid(name, monkeypatch):
    """benchmarks/bench_cmtj.py --grid reduced to 3 currents x 4 widths x both directions, 600 trials: spinsyn's
    p within a factor 2 of cmtj's Wilson interval wherever cmtj's p >= 1e-3, and 1 - p wherever p >= 0.5."""
    pytest.importorskip("cmtj")
    b = _bench(monkeypatch)
    grid_mod = importlib.import_module("cmtj_grid")
    mtj = b.ungated(D.get_model(name))
    grid = grid_mod.measure(b.cmtj_params(mtj), 600, seed=3, jobs=2, currents=(0.6, 1.0, 1.5),
                            widths_ns=(2.0, 5.0, 10.0, 30.0))
    rows, summary = grid_mod.compare(mtj, grid)
    assert summary["checked"] >= 12 and summary["ok"] == summary["checked"], summary["failed"]


@pytest.mark.slow
def test_default_chip_replayed_with_cmtj_probabilities(tmp_path, monkeypatch):
    """A compound:8 chip exported with default options, its write-verify replayed with cmtj's probabilities at its
    own pulses (300 trials per current): failed cells <= 1e-3 and pulses per device within 25 % of the report."""
    pytest.importorskip("cmtj")
    from spinsyn.hw_export.chipfile import load_chip
    from spinsyn.hw_export.export import ExportConfig, export_chip

    b = _bench(monkeypatch)
    replay = importlib.import_module("cmtj_replay")
    w = np.random.default_rng(0).random((196, 40)) ** 3  # mostly low levels, as trained compound weights
    export_chip(w, ExportConfig(synapse=D.SynapseSpec.parse("compound:8")), tmp_path / "chip")
    chip = load_chip(tmp_path / "chip")
    mtj = b.ungated(D.synapse_device("compound:8").model.mtj)
    wv = chip.meta["write_verify"]
    table = replay.measure(b.cmtj_params(mtj), float(wv["width_ns"]), replay.current_grid(mtj, wv["v_max_V"]), 300,
                           seed=5, jobs=2)
    got = replay._replay_stats(chip, replay.CmtjPhysics(table), 1)
    report = chip.meta["summary"]["pulses_per_device"]["mean"]
    assert got["failed_fraction"] <= 1e-3
    assert got["pulses_per_device"] == pytest.approx(report, rel=0.25)
