"""Programming and reading a chip through its tiles' circuits: compensated schedules, the replay, the round trip's
circuit and ADC conditions, the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from spinsyn.cli import main
from spinsyn.devices import synapse_device
from spinsyn.hw_export import CircuitConfig, export_run, load_chip, simulate_chip, verify_chip
from spinsyn.hw_export.circuit import JunctionIV, selected_cell_voltage
from spinsyn.hw_export.program import CircuitDrive, WriteVerifyConfig, calibrate, level_table, write_verify

#: small enough lines that compensation reaches every cell, large enough that the uncompensated chip misses
LINES = {"r_wire_ohm": 1.0, "r_driver_ohm": 20.0, "r_sense_ohm": 20.0}


@pytest.fixture(scope="module")
def chips(tiny_run, tmp_path_factory):
    run = tiny_run("compound:8")
    root = tmp_path_factory.mktemp("circuit")
    out = {}
    for name, comp in (("compensated", True), ("uncompensated", False)):
        out[name] = root / name
        export_run(run, out[name], tile=(16, 16), circuit=CircuitConfig(compensate=comp, **LINES), csv=False)
    out["ideal"] = root / "ideal"
    export_run(run, out["ideal"], tile=(16, 16), csv=False)
    return run, out


def test_write_share_varies_little_with_the_amplitude():
    """eta is computed at one nominal amplitude: over 0.3-1.2 V it moves by < 3 % (the junctions' TMR(V))."""
    st = np.random.default_rng(0).integers(0, 9, (32, 32))
    circ = CircuitConfig().tile(32, 32, 8)
    iv = JunctionIV.from_device(synapse_device("compound:8"), st)
    ref = selected_cell_voltage(circ, iv, 0.6).eta
    for v in (0.3, 0.9, 1.2):
        assert np.abs(selected_cell_voltage(circ, iv, v).eta / ref - 1).max() < 0.03


def test_a_full_share_changes_nothing():
    """write_verify with eta = 1 (uncompensated) is write_verify without a circuit, draw for draw."""
    dev = synapse_device("compound:8")
    levels = level_table(dev)
    wv = WriteVerifyConfig()
    cal = calibrate(dev, levels, wv, np.random.default_rng(0))
    n = 300
    tgt = np.random.default_rng(1).integers(0, 9, n)
    g = levels.g_S[tgt]
    args = (dev, levels, cal, wv, np.zeros(n, np.int64), tgt, g - 1e-7, g + 1e-7)
    a = write_verify(*args, np.random.default_rng(2))
    b = write_verify(*args, np.random.default_rng(2), drive=CircuitDrive(np.ones(n)))
    assert np.array_equal(a.state, b.state) and np.array_equal(a.v_V, b.v_V) and not b.unreachable.any()
    # half the voltage at the cell: the uncompensated controller needs more pulses; compensation needs none more
    half = write_verify(*args, np.random.default_rng(2), drive=CircuitDrive(np.full(n, 0.5)))
    comp = write_verify(*args, np.random.default_rng(2), drive=CircuitDrive(np.full(n, 0.5), 10.0))
    assert half.n_pulses.sum() > a.n_pulses.sum()
    assert np.allclose(comp.v_V, np.round(2 * a.v_V / wv.v_resolution_V) * wv.v_resolution_V)


def test_compensated_chip_programs_where_the_uncompensated_fails(chips):
    _run, out = chips
    s = {k: load_chip(v).meta["summary"] for k, v in out.items()}
    comp, unc = s["compensated"], s["uncompensated"]
    assert comp["circuit"]["eta"]["mean"] < 1 and comp["circuit"]["compensated"]
    assert not unc["circuit"]["compensated"]
    assert comp["failed_fraction"] <= 1e-3 < unc["failed_fraction"], (comp["failed"], unc["failed"])
    # compensation raises the applied amplitudes above the cell's; the verifier accepts them up to the driver max
    sched = np.concatenate([t.schedule["v_V"] for t in load_chip(out["compensated"]).tiles])
    wv_max = load_chip(out["compensated"]).meta["write_verify"]["v_max_V"]
    assert sched.max() > wv_max and sched.max() <= comp["circuit"]["config"]["v_driver_max_V"] + 1e-6
    assert verify_chip(out["compensated"])["n_tiles"] == comp["tiles"]
    assert "circuit" not in load_chip(out["ideal"]).meta


def test_simulate_reads_through_the_circuit_and_the_adc(chips):
    _run, out = chips
    r = simulate_chip(out["compensated"], n_test=40, seed=3, adc_bits=4)
    assert {"circuit", "adc"} <= set(r["accuracy"]) and r["final"] == "adc"
    terms = {t["term"]: t for t in r["loss_terms"]}
    assert terms["circuit"]["from"] == r["final_chip"] and terms["adc"]["from"] == "circuit"
    assert 0 < r["circuit"]["attenuation"]["mean"] < 1
    inf = r["circuit"]["inference"]
    assert inf["adc_bits"] == 4 and inf["per_image"]["energy_J"] > 0 and inf["area_um2"]["total"] > 0
    assert r["programming"]["unreachable"] == 0 and r["adc"]["bits"] == 4
    # an ideal-line chip has no circuit condition unless asked, and refuses none of the options then
    plain = simulate_chip(out["ideal"], n_test=20, seed=3)
    assert "circuit" not in plain["accuracy"]
    what_if = simulate_chip(out["ideal"], n_test=20, seed=3, circuit=CircuitConfig(**LINES))
    assert "circuit" in what_if["accuracy"] and "inference" in what_if["circuit"]
    with pytest.raises(ValueError, match="own circuit"):
        simulate_chip(out["compensated"], n_test=20, circuit=CircuitConfig(r_wire_ohm=5.0))


def test_cli_export_and_simulate_with_a_circuit(chips, tmp_path, capsys):
    run, _out = chips
    chip = tmp_path / "chip"
    assert main(["export", str(run), "--out", str(chip), "--tile", "16x16", "--circuit", "--wire-ohm", "1",
                 "--driver-ohm", "20", "--sense-ohm", "20", "--no-csv"]) == 0
    assert "write share eta mean" in capsys.readouterr().out
    assert main(["export", "simulate", str(chip), "--n-test", "20", "--adc-bits", "5"]) == 0
    text = capsys.readouterr().out
    assert "circuit (IR drop)" in text and "column ADC" in text and "inference (5-bit column ADCs" in text
    assert main(["export", "simulate", str(chip), "--adc-noise-lsb", "0.5"]) == 2
    assert "--adc-noise-lsb" in capsys.readouterr().err


def test_unreachable_devices_are_listed_per_tile(chips, tmp_path):
    """Drivers too weak for compensation within 1.8 V: the devices whose pulses hit the cap are counted and listed by
    (row, column) in report.json, tile by tile."""
    import json

    run, _out = chips
    chip = tmp_path / "weak"
    export_run(run, chip, tile=(32, 32), csv=False,
               circuit=CircuitConfig(r_wire_ohm=2.0, r_driver_ohm=150.0, r_sense_ohm=150.0))
    rep = json.loads((chip / "report.json").read_text())
    total = rep["summary"]["circuit"]["unreachable"]
    assert total > 0
    assert sum(len(t["circuit"]["unreachable_cells"]) for t in rep["tiles"]) == total
    t = next(t for t in rep["tiles"] if t["circuit"]["unreachable"])
    mask = load_chip(chip).tiles[t["tile"]].mask
    assert all(mask[r, c] for r, c in t["circuit"]["unreachable_cells"])  # real cells, not padding


def test_pipeline_report_rows_show_the_circuit(chips, tmp_path):
    import json

    from spinsyn.report.pipeline import _summary_rows

    _run, out = chips
    chip_report = json.loads((out["compensated"] / "report.json").read_text())
    sim = simulate_chip(out["compensated"], n_test=20, seed=3)
    rows = {item: value for _stage, item, value in _summary_rows(tmp_path, None, sim, chip_report)}
    assert "compensated" in rows["tiles as circuits"] and "write share" in rows["tiles as circuits"]
    assert "nJ" in rows["one inference through the circuit"]
