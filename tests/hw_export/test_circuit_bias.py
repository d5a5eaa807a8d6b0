"""The line model of the selected cell's write voltage against the full nodal solution of the same tile."""

from __future__ import annotations

import numpy as np
import pytest
from spinsyn.devices import synapse_device
from spinsyn.hw_export.circuit import JunctionIV, TileCircuit, solve_tile
from spinsyn.hw_export.circuit.bias import ladder_thevenin, selected_cell_voltage


def _tile(n: int, r_wire: float, seed: int = 0) -> tuple[TileCircuit, JunctionIV]:
    st = np.random.default_rng(seed).integers(0, 9, (n, n))
    return TileCircuit(n, n, r_wire, 10.0, 10.0), JunctionIV.from_device(synapse_device("compound:8"), st)


def _exact(circ: TileCircuit, iv: JunctionIV, i: int, j: int, v: float, k: float) -> float:
    R, C = circ.shape
    vw = np.full(R, v / k)
    vw[i] = v
    vb = np.full(C, v - v / k)
    vb[j] = 0.0
    return float(solve_tile(circ, iv, vw, vb).v_cell_V[i, j])


def test_ladder_thevenin_matches_hand_calculation():
    """Two nodes, source 1 V through 1 Ω, 1 Ω segment, 1 S shunts to 0 V: worked by hand."""
    y, e = np.ones((1, 2)), np.zeros((1, 2))
    v_th, r_th, v_node = ladder_thevenin(y, e, 1.0, 1.0, 1.0)
    # node 0 without its shunt: source (1 V, 1 Ω) || (1 Ω segment + 1 S shunt = 2 Ω to 0 V) -> 2/3 V, 2/3 Ω
    assert v_th[0, 0] == pytest.approx(2 / 3) and r_th[0, 0] == pytest.approx(2 / 3)
    # node 1 without its shunt: (source || shunt0 = 0.5 V, 0.5 Ω) + 1 Ω -> 0.5 V, 1.5 Ω
    assert v_th[0, 1] == pytest.approx(0.5) and r_th[0, 1] == pytest.approx(1.5)
    # node voltages with both shunts: node 0 = 0.4 V, node 1 = 0.2 V
    assert v_node[0] == pytest.approx([0.4, 0.2])


@pytest.mark.parametrize("scheme", ["V/2", "V/3"])
def test_ideal_lines_give_the_full_voltage(scheme):
    circ = TileCircuit(8, 8, 0.0, 0.0, 0.0)
    iv = JunctionIV.from_device(synapse_device("compound:8"), np.full((8, 8), 4))
    sb = selected_cell_voltage(circ, iv, 0.8, scheme)
    assert np.allclose(sb.v_cell_V, 0.8) and np.allclose(sb.eta, 1.0)


@pytest.mark.parametrize("n,r_wire,tol", [(32, 0.2, 1e-3), (32, 1.0, 4e-3)])
def test_line_model_against_the_nodal_solution(n, r_wire, tol):
    """V/2 on a 0T1R compound:8 tile (nonlinear TMR(V)): corners and inner cells within ``tol`` (relative); the
    far corner (row 0, last column) is the worst case."""
    circ, iv = _tile(n, r_wire)
    sb = selected_cell_voltage(circ, iv, 1.0, "V/2")
    for i, j in [(0, 0), (0, n - 1), (n - 1, 0), (n - 1, n - 1), (n // 2, n // 3), (5, 7)]:
        ex = _exact(circ, iv, i, j, 1.0, 2.0)
        assert abs(sb.v_cell_V[i, j] - ex) / ex < tol, (i, j, sb.v_cell_V[i, j], ex)
    # IR drop is real and position-dependent: the far corner sees the least, the driver corner the most
    assert sb.eta[0, n - 1] == sb.eta.min() or sb.eta[0, n - 1] < np.median(sb.eta)
    assert sb.eta.max() < 1.0


def test_v3_scheme_is_approximate_but_close():
    circ, iv = _tile(16, 0.5, seed=3)
    sb = selected_cell_voltage(circ, iv, 1.2, "V/3")
    for i, j in [(0, 15), (15, 0), (8, 8)]:
        ex = _exact(circ, iv, i, j, 1.2, 3.0)
        assert abs(sb.v_cell_V[i, j] - ex) / ex < 0.02, (i, j)


def test_validation_names_the_argument():
    circ, iv = _tile(4, 0.1)
    with pytest.raises(ValueError, match="v_applied_V"):
        selected_cell_voltage(circ, iv, -1.0)
    with pytest.raises(ValueError, match="scheme"):
        selected_cell_voltage(circ, iv, 1.0, "V/4")  # type: ignore[arg-type]


def test_line_model_of_a_1t1r_tile_against_the_gated_nodal_solution():
    """1T1R: only the selected row's transistors are on (tile.gate_rows); the line model then has no neglected
    path and matches the full solution to 1e-4 even with 3 Ω wires."""
    from spinsyn.hw_export.circuit import tile_graph
    from spinsyn.hw_export.circuit.tile import gate_rows

    st = np.random.default_rng(0).integers(0, 9, (32, 32))
    iv = JunctionIV.from_device(synapse_device("compound:8"), st)
    circ = TileCircuit(32, 32, 3.0, 10.0, 10.0, access="1T1R", r_access_on_ohm=15e3 / 8)
    sb = selected_cell_voltage(circ, iv, 1.0, "V/2")
    g = tile_graph(circ)
    for i, j in [(0, 0), (0, 31), (31, 31), (16, 10)]:
        vw, vb = np.full(32, 0.5), np.full(32, 0.5)
        vw[i], vb[j] = 1.0, 0.0
        on = np.zeros(32, bool)
        on[i] = True
        ex = solve_tile(circ, iv, vw, vb, graph=gate_rows(g, on)).v_cell_V[i, j]
        assert abs(sb.v_cell_V[i, j] - ex) / ex < 1e-4, (i, j)
    assert 0 < sb.eta.min() < sb.eta.max() < 1
