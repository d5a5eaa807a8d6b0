"""The tile's netlist for ngspice (the reference solver): the same nodes and elements as the sparse solver
(``tile.tile_graph``), built with ``devices.netlist`` and run as an operating point (``.op``).

Elements: a DC voltage source per word line (``Vswl<i>``, node ``swl<i>``) and bit line (``Vsbl<j>``, node
``sbl<j>``), a resistor per driver, sense input, wire segment and 1T1R transistor (``Rl<k>``), and per cell a
behavioural current source ``Bj<i>_<j>`` from its top node to its bit-line node carrying the device formula
I = V (n_p/R_P + n_ap/R_AP(V)) (``devices.physics``, rendered by ``netlist.Expr``); a cell with no AP junction or
TMR0 = 0 is a resistor. Node names: ``w<i>_<j>``, ``b<i>_<j>``, ``a<i>_<j>`` (``tile`` module docstring).
"""

from __future__ import annotations

import numpy as np
from spinsyn.devices import netlist as nl
from spinsyn.devices.physics import conductance_formula, r_ap_formula

from .tile import JunctionIV, TileCircuit, TileGraph, TileSolution, solution_from_voltages, tile_graph

#: tight DC tolerances (the sparse solver is compared with ngspice at 0.1 % / 0.1 mV): reltol 1e-6 of each node
#: voltage, vntol 1 nV, abstol 1 fA (cell currents are ~0.1-1 mA); itl1 raises the DC iteration limit (default
#: 100) for large tiles, where gmin/source stepping would otherwise start.
OP_OPTIONS = ".options reltol=1e-6 abstol=1e-15 vntol=1e-9 itl1=500"


def _sources(graph: TileGraph, v_fixed: np.ndarray) -> list[str]:
    """DC sources of the fixed nodes (word lines, then bit lines) to ground."""
    return [f"V{name} {name} 0 DC {nl.num(v)}" for name, v in zip(graph.names[graph.n_free:], v_fixed)]


def _linear(graph: TileGraph) -> list[str]:
    nm = graph.names
    return [nl.resistor(f"l{k}", nm[p], nm[q], 1.0 / g)
            for k, (p, q, g) in enumerate(zip(graph.lin_p, graph.lin_q, graph.lin_g_S))]


def _junction(name: str, top: str, bot: str, r_p: float, tmr0: float, vh: float, n_p: float, n_ap: float) -> str:
    """One cell's junction: B source I = V (n_p/R_P + n_ap/R_AP(V)), or a resistor when it is linear."""
    if n_ap == 0 or tmr0 == 0:
        return nl.resistor(name, top, bot, 1.0 / conductance_formula(r_p, r_p * (1 + tmr0), n_p, n_ap))
    v = nl.node_v(top) - nl.node_v(bot)
    return nl.b_current(name, top, bot, v * conductance_formula(r_p, r_ap_formula(r_p, tmr0, vh, v), n_p, n_ap))


def _junctions(graph: TileGraph, iv: JunctionIV) -> list[str]:
    R, C = graph.circ.shape
    nm, top, b = graph.names, graph.top, graph.b
    return [_junction(f"j{i}_{j}", nm[top[i, j]], nm[b[i, j]], float(iv.r_p_ohm[i, j]), float(iv.tmr0[i, j]),
                      float(iv.vh_V[i, j]), float(iv.n_p[i, j]), float(iv.n_ap[i, j]))
            for i in range(R) for j in range(C)]


def tile_netlist(circ: TileCircuit, iv: JunctionIV, v_wl_V: np.ndarray, v_bl_V: np.ndarray, *,
                 graph: TileGraph | None = None) -> str:
    """The ngspice netlist (text, ``.op``) of tile ``circ`` with junctions ``iv`` (R, C), word-line sources
    v_wl_V (R,) and bit-line sources v_bl_V (C,) (V)."""
    if iv.shape != circ.shape:
        raise ValueError(f"tile_netlist: iv has shape {iv.shape}; the tile is {circ.shape}")
    graph = tile_graph(circ) if graph is None else graph
    v_fixed = graph.fixed_voltages(v_wl_V, v_bl_V)
    R, C = circ.shape
    title = f"spinsyn tile {R}x{C} {circ.access} r_wire={nl.num(circ.r_wire_ohm)} ohm"
    return nl.render(title, [*_sources(graph, v_fixed), *_linear(graph), *_junctions(graph, iv)], [OP_OPTIONS, ".op"])


def spice_tile(circ: TileCircuit, iv: JunctionIV, v_wl_V: np.ndarray, v_bl_V: np.ndarray) -> TileSolution:
    """Operating point of the tile by ngspice (``spinsyn.ngspice.session``); the same fields as
    ``nodal.solve_tile`` (``iterations`` 0). Source currents are ngspice's branch currents; cell currents are
    the junction formula at ngspice's node voltages. Raises ``spinsyn.ngspice.NgspiceSimulationError``."""
    from spinsyn.ngspice import session  # lazy: startup

    graph = tile_graph(circ)
    res = session().run(tile_netlist(circ, iv, v_wl_V, v_bl_V, graph=graph))
    x = np.concatenate([np.array([res[str(n)][0] for n in graph.names[:graph.n_free]]),
                        graph.fixed_voltages(v_wl_V, v_bl_V)])
    sol = solution_from_voltages(graph, iv, x, 0)
    fixed = graph.names[graph.n_free:]
    branch = np.array([res[f"v{n}#branch"][0] for n in fixed])
    R = circ.rows
    return TileSolution(v_wl_V=sol.v_wl_V, v_bl_V=sol.v_bl_V, v_cell_V=sol.v_cell_V, i_cell_A=sol.i_cell_A,
                        i_bl_A=branch[R:], i_wl_A=-branch[:R], iterations=0)
