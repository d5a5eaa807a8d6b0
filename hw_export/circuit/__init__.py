"""spinsyn.hw_export.circuit: a crossbar tile as a circuit (issue 26).

Word/bit-line segment resistance, driver and sense resistances, the 1T1R access transistor and each junction's
nonlinear I(V) (``tile``), solved by a fast sparse nodal solver (``nodal``: Newton, scipy.sparse) and by ngspice
for the same netlist (``spice``, the reference).

Public API::

    TileCircuit(rows, cols, r_wire_ohm, r_driver_ohm, r_sense_ohm, access="0T1R"|"1T1R", r_access_on_ohm=15e3)
    JunctionIV(r_p_ohm, tmr0, vh_V, n_p, n_ap)  (R, C) arrays; .linear(g_S), .from_device(dev, state),
        .current(v) -> (i_A, di_dv_S), .zero_bias_conductance_S(), .secant_conductance_S(v)
    TileSolution(v_wl_V, v_bl_V, v_cell_V, i_cell_A, i_bl_A, i_wl_A, iterations)
    tile_graph(circ) -> TileGraph
    solve_tile(circ, iv, v_wl_V, v_bl_V, *, tol_V=1e-9, max_iter=60) -> TileSolution
    read_matrix(circ, iv, v_read_V) -> M (R, C), column currents i_col ≈ M.T @ x
    spice_tile(circ, iv, v_wl_V, v_bl_V) -> TileSolution;  tile_netlist(circ, iv, v_wl_V, v_bl_V) -> str
    selected_cell_voltage(circ, iv, v_applied_V, scheme="V/2") -> SelectedBias  (bias: the write voltage that
        reaches every cell when it is selected: eta (R, C))
    CircuitConfig(tech_node="28nm", access="0T1R", r_wire_ohm=None, ...).tile(rows, cols, n_cells) -> TileCircuit
    read_attenuation(cfg, dev, state, n_cells) -> alpha (R, C)  (readout: sensed / ideal read current)
    TechNode, TECH_NODES, tech_node(name)  (tech: NeuroSim per-node parameters)
    inference_cost(node, rows, cols, ...) / programming_cost(...) -> TileCost; chip_cost(tiles) -> ChipCost;
        cost_record(cost) -> dict  (energy: energy, latency, area)
"""

from typing import TYPE_CHECKING

from spinsyn.lazyimport import lazy_package

if TYPE_CHECKING:  # loaded on first use (spinsyn.lazyimport.lazy_package)
    from .bias import SelectedBias, selected_cell_voltage
    from .config import CircuitConfig
    from .energy import (
        Breakdown,
        ChipCost,
        TileCost,
        chip_cost,
        cost_record,
        inference_cost,
        programming_cost,
        tile_area,
    )
    from .nodal import read_matrix, solve_tile
    from .readout import read_attenuation
    from .spice import spice_tile, tile_netlist
    from .tech import TECH_NODES, TechNode, tech_node
    from .tile import JunctionIV, TileCircuit, TileGraph, TileSolution, tile_graph

__getattr__, __dir__ = lazy_package(__name__)

__all__ = ["TECH_NODES", "Breakdown", "ChipCost", "CircuitConfig", "JunctionIV", "SelectedBias", "TechNode",
           "TileCircuit", "TileCost", "TileGraph", "TileSolution", "chip_cost", "cost_record", "inference_cost",
           "programming_cost", "read_attenuation", "read_matrix", "selected_cell_voltage", "solve_tile", "spice_tile",
           "tech_node", "tile_area", "tile_graph", "tile_netlist"]
