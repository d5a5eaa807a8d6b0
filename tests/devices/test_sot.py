"""The SOT-MTJ cell (devices/sot.py): both sweep engines agree, its own half-select and retention physics, a
compound:8 run on it trains, exports with its write pulses and verifies; and nothing outside devices/ reaches
into a compound's cell or checks a device's class."""

import ast
import math
from pathlib import Path

import numpy as np
import pytest
from spinsyn import devices as D
from spinsyn.devices import reference
from spinsyn.devices.cell import Cell
from spinsyn.devices.physics import KB_J_PER_K, MU0, OE_TO_A_PER_M
from spinsyn.devices.sot import SOTMTJ

ROOT = Path(__file__).resolve().parents[2]


def test_sot_is_a_cell_and_a_registered_preset():
    m = D.get_model("sot-mtj")
    assert isinstance(m, SOTMTJ) and isinstance(m, Cell) and not m.read_disturb
    assert D.get_model("stt-mtj").read_disturb


def test_both_engines_agree_cell_by_cell():
    """Same draws, ngspice vs reference: every cell's end state (6 Δt x 3 trials, ±0.6 V post pulses)."""
    ngspice = pytest.importorskip("spinsyn.ngspice")
    try:
        ngspice.session()
    except Exception as exc:  # pragma: no cover
        pytest.skip(f"ngspice unavailable: {exc}")
    from spinsyn.devices import spice

    model, tb = D.get_model("sot-mtj"), D.get_testbench("published", post_pot_V=-0.6, post_dep_V=0.6)
    dt = np.array([0.0, 10.0, 30.0, 50.0, 56.0, 59.0])
    d = reference.draw(model, dt.size, 3, 7)
    out, _, _ = spice.run_spice(model, tb, dt, d, jobs=2)
    ref = reference.run_reference(model, tb, dt, d)
    assert (ref["nsw"] > 0).mean() > 0.3  # real switching
    np.testing.assert_array_equal(out["s1"], ref["s1"])
    r = D.sweep(model, tb, dt, 3, engine="reference", seed=7)
    np.testing.assert_array_equal(r.state_after, out["s1"].sum(-1))


def test_half_select_much_below_full_select():
    """V/2 on the HM line (half the current) switches orders of magnitude less often than V."""
    m = D.get_model("sot-mtj")
    v = 1.2 * float(m.params().ic0_A * m.params().r_hm_ohm)
    full_up, full_dn = m.write_probabilities(np.array([v, -v]), 10e-9)
    half_up, half_dn = m.half_select_probabilities(np.array([v / 2, -v / 2]), 10e-9)
    assert full_up[0] > 0.5 and full_dn[1] > 0.5
    assert half_up[0] < 1e-3 * full_up[0] and half_dn[1] < 1e-3 * full_dn[1]
    dev = D.synapse_device("compound:8", "sot-mtj")
    p_up, _ = dev.half_select_probabilities(np.array([v / 2]), 10.0)
    assert p_up[0] == pytest.approx(half_up[0])


def test_retention_from_delta():
    m = D.get_model("sot-mtj")
    vol = math.pi * (m.radius_nm * 1e-9) ** 2 * m.t_fl_nm * 1e-9
    delta = MU0 * m.ms_A_per_m * m.hk_eff_Oe * OE_TO_A_PER_M * vol / (2 * KB_J_PER_K * m.temperature_K)
    assert m.delta == pytest.approx(delta)
    assert m.retention_s == pytest.approx(m.tau0_ns * 1e-9 * math.expm1(delta))
    dev = D.synapse_device("compound:8", "sot-mtj")
    assert dev.retention_s == pytest.approx(m.retention_s) and dev.n_cells == 8


def test_compound_of_sot_cells_round_trips_its_record():
    dev = D.synapse_device("compound:8", "sot-mtj", tmr0=1.5)
    back = D.SynapseDevice.from_record(dev.record())
    assert isinstance(back.cell, SOTMTJ) and back.cell.tmr0 == 1.5
    np.testing.assert_array_equal(back.level_conductances_S(), dev.level_conductances_S())
    assert isinstance(D.SynapseDevice.from_record(D.synapse_device("compound:8").record()).cell, D.STTMTJ)


def test_train_compound_8_on_sot_then_export_and_verify(tmp_path):
    from spinsyn.cli import main
    from spinsyn.hw_export import load_chip
    assert main(["train", "--synapse", "compound:8", "--device-preset", "sot-mtj", "--neurons", "5", "--n-train",
                 "20", "--n-test", "10", "--n-assign", "20", "--device", "cpu", "--quiet",
                 "--out", str(tmp_path / "run")]) == 0
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "chip")]) == 0
    assert main(["export", "verify", str(tmp_path / "chip")]) == 0
    meta = load_chip(tmp_path / "chip").meta
    assert meta["synapse_device"]["model"]["fields"]["mtj"]["theta_sh"] == SOTMTJ().theta_sh


def _reach_ins(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr == "mtj":
            found.append(f"{path}:{node.lineno}: .mtj")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance"
                and len(node.args) == 2 and "CompoundSynapse" in ast.unparse(node.args[1])):
            found.append(f"{path}:{node.lineno}: isinstance(..., CompoundSynapse)")
    return found


def test_nothing_outside_devices_reaches_into_a_compound():
    files = [p for d in ("core", "snn", "hw_export", "fitting") for p in (ROOT / d).rglob("*.py")]
    assert files
    bad = [line for p in files for line in _reach_ins(p)]
    assert not bad, "\n".join(bad)
