"""The circuit record of a chip and its command-line options."""

from __future__ import annotations

import math

import pytest
from spinsyn.cli import main
from spinsyn.hw_export.circuit import TECH_NODES, CircuitConfig
from spinsyn.options import EXPORT_OPTIONS, TECH_NODE_NAMES


def test_option_choices_are_the_presets():
    assert TECH_NODE_NAMES == tuple(TECH_NODES)
    assert EXPORT_OPTIONS["tech_node"].choices == tuple(TECH_NODES)


def test_resistances_from_the_node():
    cfg = CircuitConfig()
    node = cfg.node
    one, eight = cfg.resistances_ohm(1), cfg.resistances_ohm(8)
    # a segment is one synapse pitch of the node's wire: 8 MTJs take 8 cells' area, sqrt(8) times the pitch
    assert one["r_wire_ohm"] == pytest.approx(node.segment_resistance_ohm(node.cell_pitch_nm("0T1R")))
    assert eight["r_wire_ohm"] == pytest.approx(one["r_wire_ohm"] * math.sqrt(8))
    assert one["r_driver_ohm"] == pytest.approx(node.r_on_ohm(100.0)) == one["r_sense_ohm"]
    # one access transistor per MTJ: eight in parallel
    assert eight["r_access_on_ohm"] == pytest.approx(one["r_access_on_ohm"] / 8)
    given = CircuitConfig(r_wire_ohm=0.5, r_driver_ohm=3.0, r_sense_ohm=4.0).tile(16, 8, 8)
    assert (given.r_wire_ohm, given.r_driver_ohm, given.r_sense_ohm, given.shape) == (0.5, 3.0, 4.0, (16, 8))


def test_record_round_trip_and_validation():
    cfg = CircuitConfig(tech_node="65nm", access="1T1R", r_wire_ohm=1.5, compensate=False)
    rec = cfg.record(8)
    assert CircuitConfig.from_record(rec) == cfg and rec["resolved"]["r_wire_ohm"] == 1.5
    for bad, field in [({"tech_node": "7nm"}, "node"), ({"access": "2T2R"}, "access"),
                       ({"r_wire_ohm": -1.0}, "r_wire_ohm"), ({"driver_width_um": 0.0}, "driver_width_um")]:
        with pytest.raises(ValueError, match=field):
            CircuitConfig(**bad)


def test_circuit_options_need_circuit(tmp_path, capsys):
    rc = main(["export", "simulate", str(tmp_path), "--wire-ohm", "1"])
    assert rc == 2
    assert "--wire-ohm: applies with --circuit only" in capsys.readouterr().err


def test_column_gain_divides_each_tile_column_by_its_mean():
    import numpy as np
    from spinsyn.hw_export.circuit.readout import column_gain

    alpha = np.array([[[0.5, 0.2], [0.3, 0.4], [0.9, 0.9]]])  # one tile, 3 rows x 2 columns
    mask = np.array([[[True, True], [True, True], [False, True]]])  # row 2 of column 0 is padding
    seen = column_gain(alpha, mask)
    assert np.allclose(seen[0, :, 0], alpha[0, :, 0] / 0.4)  # mean of 0.5 and 0.3 (padding left out)
    assert np.allclose(seen[0, :, 1], alpha[0, :, 1] / 0.5)
    assert np.allclose(column_gain(np.ones((1, 2, 2)), np.zeros((1, 2, 2), bool)), 1.0)  # no real cell: gain 1
