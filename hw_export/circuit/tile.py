"""A crossbar tile as a circuit: its parameters (:class:`TileCircuit`), the junctions' I(V) (:class:`JunctionIV`),
the node graph both solvers assemble (:class:`TileGraph`) and their common result (:class:`TileSolution`).

Topology (fixed; R rows, C columns; cell (i, j) at word line i, bit line j)::

    V_wl[i] --r_driver-- w(i,0) --r_wire-- w(i,1) -- ... -- w(i,C-1)        word line i, driven at j = 0
    b(0,j) --r_wire-- b(1,j) -- ... -- b(R-1,j) --r_sense-- V_bl[j]         bit line j, sensed at i = R-1
    cell (i,j):  w(i,j) --[r_access_on, 1T1R only]-- a(i,j) --junction-- b(i,j)

The junction's voltage is V_cell = V(top) - V(b(i,j)) with top = a(i,j) (1T1R) or w(i,j) (0T1R); its current
flows top -> b for V_cell > 0. A resistance of 0 Ω is a merge, not an element: ``r_wire_ohm = 0`` makes each
line one node, ``r_driver_ohm = 0`` / ``r_sense_ohm = 0`` ties the line end to its source (an ideal driver).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

#: 1T1R access-transistor on-resistance (Ω): NeuroSim's default ``resistanceAccess = 15e3`` (Param.cpp of
#: MLP_NeuroSim V3.0 / DNN_NeuroSim V1.x, "resistance of transistor when turned on"). For a compound synapse of
#: N cells with one transistor each, the N transistors in parallel give r/N in series with the compound.
R_ACCESS_ON_NEUROSIM_OHM = 15e3
ACCESS_KINDS = ("1T1R", "0T1R")


@dataclass(frozen=True)
class TileCircuit:
    """Electrical parameters of one R x C tile (topology: module docstring).

    ``r_wire_ohm``: one word- or bit-line segment between adjacent cells (Ω; Cu at 28 nm, ρ ≈ 5e-8 Ω·m, 28 nm
    wide, aspect ratio 2, 60-100 nm cell pitch: ρL/(w·t) ≈ 1.9-3.2 Ω). ``r_driver_ohm``: word-line driver
    output resistance (Ω). ``r_sense_ohm``: bit-line driver / sense-amplifier input resistance (Ω).
    ``access``: ``"1T1R"`` (transistor of ``r_access_on_ohm`` in series with the junction) or ``"0T1R"``
    (junction alone; ``r_access_on_ohm`` unused)."""

    rows: int
    cols: int
    r_wire_ohm: float
    r_driver_ohm: float
    r_sense_ohm: float
    access: Literal["1T1R", "0T1R"] = "0T1R"
    r_access_on_ohm: float = R_ACCESS_ON_NEUROSIM_OHM

    def __post_init__(self) -> None:
        for name in ("rows", "cols"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"TileCircuit: {name}={v!r}; expected an integer >= 1")
        for name in ("r_wire_ohm", "r_driver_ohm", "r_sense_ohm", "r_access_on_ohm"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float, np.floating, np.integer)) and np.isfinite(v) and v >= 0):
                raise ValueError(f"TileCircuit: {name}={v!r}; expected a finite resistance >= 0 (Ω)")
        if self.access not in ACCESS_KINDS:
            raise ValueError(f"TileCircuit: access={self.access!r}; expected one of {ACCESS_KINDS}")
        if self.access == "1T1R" and not self.r_access_on_ohm > 0:
            raise ValueError(f"TileCircuit: r_access_on_ohm={self.r_access_on_ohm!r}; a 1T1R transistor needs > 0 Ω "
                             "(use access='0T1R' for none)")

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.rows), int(self.cols))


# ------------------------------------------------------------------------------------------------- junctions


def _cell_array(name: str, v: Any, shape: tuple[int, ...] | None) -> np.ndarray:
    a = np.array(v, dtype=np.float64)
    if shape is not None:
        try:
            a = np.array(np.broadcast_to(a, shape))
        except ValueError:
            raise ValueError(f"JunctionIV: {name} has shape {a.shape}; expected {shape}") from None
    if not np.all(np.isfinite(a)):
        raise ValueError(f"JunctionIV: {name} has non-finite values")
    return a


@dataclass(frozen=True, eq=False)  # array fields: no element-wise ==
class JunctionIV:
    """The nonlinear I(V) of every cell's junction, per-cell arrays of shape (R, C) (scalars broadcast):

    I(V) = V·(n_p/R_P + n_ap/R_AP(V)),  R_AP(V) = R_P (1 + TMR0/(1 + V²/Vh²))

    (the device model's own formulas, ``devices.physics.r_ap_formula`` / ``conductance_formula``): n_p junctions
    in P and n_ap in AP in parallel. A constant conductance g is R_P = 1/g, n_p = 1, n_ap = 0 (:meth:`linear`)."""

    r_p_ohm: np.ndarray
    tmr0: np.ndarray
    vh_V: np.ndarray
    n_p: np.ndarray
    n_ap: np.ndarray

    def __post_init__(self) -> None:
        shape = np.shape(self.n_p)
        for name in ("r_p_ohm", "tmr0", "vh_V", "n_p", "n_ap"):
            object.__setattr__(self, name, _cell_array(name, getattr(self, name), shape))
        checks = (("r_p_ohm", self.r_p_ohm > 0, "> 0"), ("vh_V", self.vh_V > 0, "> 0"),
                  ("tmr0", self.tmr0 >= 0, ">= 0"), ("n_p", self.n_p >= 0, ">= 0"), ("n_ap", self.n_ap >= 0, ">= 0"),
                  ("n_p", self.n_p + self.n_ap > 0, "with n_ap > 0 (a cell with no junction)"))
        for name, ok, what in checks:
            if not np.all(ok):
                raise ValueError(f"JunctionIV: {name} must be {what} in every cell")

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.n_p.shape)

    @classmethod
    def linear(cls, g_S: np.ndarray) -> JunctionIV:
        """Constant conductances g_S (S, shape (R, C), all > 0): TMR0 = 0."""
        g = np.asarray(g_S, dtype=np.float64)
        if not np.all(np.isfinite(g) & (g > 0)):
            raise ValueError("JunctionIV.linear: g_S must be finite and > 0 in every cell")
        return cls(r_p_ohm=1.0 / g, tmr0=np.zeros_like(g), vh_V=np.ones_like(g), n_p=np.ones_like(g),
                   n_ap=np.zeros_like(g))

    @classmethod
    def from_device(cls, dev: Any, state: np.ndarray) -> JunctionIV:
        """Junctions of a ``devices.SynapseDevice`` in ``state`` (R, C). A compound synapse of STT-MTJ cells: the
        cell's R_P, TMR0 and Vh (``devices.physics.derive``, nominal geometry) with n_p = state MTJs in P and
        n_ap = N - state in AP. Any other device (SOT cells, whose read path is not the write path; DW and graded
        devices): linear at ``dev.conductance_S(state)``, the conductance read at ``dev.v_read_V``."""
        from spinsyn.devices import STTMTJ, derive  # lazy: startup

        s = np.asarray(state, dtype=np.float64)
        cell = getattr(dev, "cell", None)
        if isinstance(cell, STTMTJ):
            p = derive(cell)
            return cls(r_p_ohm=np.full(s.shape, float(p.r_p_ohm)), tmr0=np.full(s.shape, float(p.tmr0)),
                       vh_V=np.full(s.shape, float(p.vh_V)), n_p=s, n_ap=dev.n_cells - s)
        return cls.linear(dev.conductance_S(s))

    def current(self, v_V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(I (A), dI/dV (S)) at junction voltages v_V (V, shape of the cells)."""
        from spinsyn.devices.physics import conductance_formula, r_ap_formula  # lazy: startup

        v = np.asarray(v_V, dtype=np.float64)
        r_ap = r_ap_formula(self.r_p_ohm, self.tmr0, self.vh_V, v)
        g = conductance_formula(self.r_p_ohm, r_ap, self.n_p, self.n_ap)
        u = 1 + v * v / (self.vh_V * self.vh_V)
        # d(1/R_AP)/dV = R_P TMR0 2V / (Vh² (1+u')² R_AP²), u' = V²/Vh²
        dg_ap = 2 * v * self.r_p_ohm * self.tmr0 / (self.vh_V * self.vh_V * u * u * r_ap * r_ap)
        return v * g, g + v * self.n_ap * dg_ap

    def zero_bias_conductance_S(self) -> np.ndarray:
        """dI/dV at V = 0 (S, shape of the cells)."""
        return self.current(np.zeros(self.shape))[1]

    def secant_conductance_S(self, v_V: np.ndarray) -> np.ndarray:
        """I(V)/V (S; dI/dV at V = 0, its limit)."""
        v = np.asarray(v_V, dtype=np.float64)
        i, di = self.current(v)
        small = np.abs(v) < 1e-12
        return np.where(small, di, i / np.where(small, 1.0, v))


# ------------------------------------------------------------------------------------------------ node graph


@dataclass(frozen=True, eq=False)  # array fields: no element-wise ==
class TileGraph:
    """The tile's nodes and elements, shared by the sparse solver and the ngspice netlist.

    Node indices: 0..n_free-1 are unknown node voltages; n_free + i is word-line source i (fixed at V_wl[i]),
    n_free + R + j bit-line source j (fixed at V_bl[j]). ``w``, ``b``, ``top`` (R, C): node of w(i,j), b(i,j) and
    of the junction's top terminal. ``lin_p``, ``lin_q``, ``lin_g_S`` (E,): linear conductances between nodes.
    ``names`` (n_free + R + C,): SPICE node name of each node."""

    circ: TileCircuit
    n_free: int
    w: np.ndarray
    b: np.ndarray
    top: np.ndarray
    lin_p: np.ndarray
    lin_q: np.ndarray
    lin_g_S: np.ndarray
    names: np.ndarray

    @property
    def n_nodes(self) -> int:
        return self.n_free + self.circ.rows + self.circ.cols

    def fixed_voltages(self, v_wl_V: np.ndarray, v_bl_V: np.ndarray) -> np.ndarray:
        """Voltages (V) of the fixed nodes, (R + C,), from the word-line (R,) and bit-line (C,) sources."""
        R, C = self.circ.shape
        v_wl, v_bl = np.asarray(v_wl_V, dtype=np.float64), np.asarray(v_bl_V, dtype=np.float64)
        if v_wl.shape != (R,) or v_bl.shape != (C,):
            raise ValueError(f"v_wl_V {v_wl.shape} / v_bl_V {v_bl.shape}: expected ({R},) and ({C},)")
        if not (np.all(np.isfinite(v_wl)) and np.all(np.isfinite(v_bl))):
            raise ValueError("v_wl_V / v_bl_V must be finite")
        return np.concatenate([v_wl, v_bl])


def _line(n_lines: int, n_cells: int, r_wire: float, r_end: float, end: int, src: np.ndarray, first: int,
          prefix: str, by_column: bool = False) -> tuple[np.ndarray, np.ndarray, int]:
    """Provisional node ids (n_lines, n_cells) of lines driven at cell ``end`` from source nodes ``src``
    (n_lines,): one node per cell, one per line when r_wire = 0; the driven node is the source when r_end = 0.
    Returns (ids, names of the new ids, next free id). Names: ``<prefix><row>_<col>`` (``by_column``: the lines
    are columns) or ``<prefix><line>``."""
    line, cell = np.arange(n_lines)[:, None], np.arange(n_cells)[None, :]
    if r_wire > 0:
        ids = first + line * n_cells + cell
        a, c = (cell, line) if by_column else (line, cell)
        names = np.char.add(np.char.add(np.char.add(prefix, a.astype(str)), "_"), c.astype(str)).ravel()
    else:
        ids = np.broadcast_to(first + line, (n_lines, n_cells)).copy()
        names = np.char.add(prefix, np.arange(n_lines).astype(str))
    nxt = first + names.size
    if r_end == 0:
        driven = ids == ids[:, end:end + 1]
        ids[driven] = np.broadcast_to(src[:, None], ids.shape)[driven]
    return ids, names.astype(object), nxt


def _lin_elements(circ: TileCircuit, w: np.ndarray, b: np.ndarray, top: np.ndarray, src_wl: np.ndarray,
                  src_bl: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(p, q, g_S) of every linear element (drivers, sense, wire segments, access transistors), nodes distinct."""
    parts: list[tuple[np.ndarray, np.ndarray, float]] = []
    if circ.r_driver_ohm > 0:
        parts.append((src_wl, w[:, 0], 1 / circ.r_driver_ohm))
    if circ.r_sense_ohm > 0:
        parts.append((b[-1, :], src_bl, 1 / circ.r_sense_ohm))
    if circ.r_wire_ohm > 0:
        parts += [(w[:, :-1], w[:, 1:], 1 / circ.r_wire_ohm), (b[:-1, :], b[1:, :], 1 / circ.r_wire_ohm)]
    if circ.access == "1T1R":
        parts.append((w, top, 1 / circ.r_access_on_ohm))
    p = np.concatenate([np.ravel(a) for a, _, _ in parts] or [np.zeros(0, np.int64)])
    q = np.concatenate([np.ravel(c) for _, c, _ in parts] or [np.zeros(0, np.int64)])
    g = np.concatenate([np.full(np.size(a), gv) for a, _, gv in parts] or [np.zeros(0)])
    keep = p != q
    return p[keep], q[keep], g[keep]


def tile_graph(circ: TileCircuit) -> TileGraph:
    """Nodes and linear elements of ``circ`` (topology: module docstring); vectorised, no loop over cells."""
    R, C = circ.shape
    src_wl, src_bl = -1 - np.arange(R), -1 - R - np.arange(C)  # provisional: fixed nodes negative
    w, w_names, nxt = _line(R, C, circ.r_wire_ohm, circ.r_driver_ohm, 0, src_wl, 0, "w")
    bt, b_names, nxt = _line(C, R, circ.r_wire_ohm, circ.r_sense_ohm, R - 1, src_bl, nxt, "b", by_column=True)
    b = bt.T  # bit line j = column j
    names = [w_names, b_names]
    top = w
    if circ.access == "1T1R":
        top = nxt + np.arange(R * C).reshape(R, C)
        names.append(np.char.add(np.char.add(np.char.add("a", np.arange(R)[:, None].astype(str)), "_"),
                                 np.arange(C).astype(str)).ravel().astype(object))
    p, q, g = _lin_elements(circ, w, b, top, src_wl, src_bl)
    prov_names = np.concatenate(names)
    used = np.unique(np.concatenate([w.ravel(), b.ravel(), np.ravel(top), p, q]))
    free = used[used >= 0]
    remap = np.full(prov_names.size, -1, dtype=np.int64)
    remap[free] = np.arange(free.size)

    def final(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a)
        return np.where(a >= 0, remap[np.maximum(a, 0)], free.size - 1 - a)

    fixed_names = np.concatenate([np.char.add("swl", np.arange(R).astype(str)),
                                  np.char.add("sbl", np.arange(C).astype(str))]).astype(object)
    return TileGraph(circ, int(free.size), final(w), final(b), final(top), final(p), final(q), g,
                     np.concatenate([prov_names[free], fixed_names]))


#: conductance of a 1T1R access transistor that is off (S): 1 TΩ
G_ACCESS_OFF_S = 1e-12


def gate_rows(graph: TileGraph, row_on: np.ndarray) -> TileGraph:
    """``graph`` of a 1T1R tile with the access transistors of the rows where ``row_on`` (R,) bool is False turned
    off (conductance :data:`G_ACCESS_OFF_S`): programming selects one row's transistors. Other tiles: unchanged."""
    if graph.circ.access != "1T1R":
        return graph
    on = np.asarray(row_on, dtype=bool)
    if on.shape != (graph.circ.rows,):
        raise ValueError(f"row_on has shape {on.shape}; expected ({graph.circ.rows},)")
    row_of = np.full(graph.n_nodes, -1)
    row_of[graph.top.ravel()] = np.repeat(np.arange(graph.circ.rows), graph.circ.cols)
    r = row_of[graph.lin_q]
    off = (r >= 0) & ~on[np.maximum(r, 0)]
    return dataclasses.replace(graph, lin_g_S=np.where(off, G_ACCESS_OFF_S, graph.lin_g_S))


# -------------------------------------------------------------------------------------------------- solution


@dataclass(frozen=True, eq=False)  # array fields: no element-wise ==
class TileSolution:
    """An operating point of a tile. ``v_wl_V``, ``v_bl_V`` (R, C): word- and bit-line node voltages at each cell
    (V); ``v_cell_V`` (R, C): across each junction (V; without the 1T1R transistor's drop); ``i_cell_A`` (R, C):
    junction currents, word -> bit line for positive V (A); ``i_bl_A`` (C,): current out of each bit line into
    its driver/sense amplifier (A); ``i_wl_A`` (R,): current each word-line driver supplies (A); ``iterations``:
    Newton iterations (sparse solver) or 0 (ngspice)."""

    v_wl_V: np.ndarray
    v_bl_V: np.ndarray
    v_cell_V: np.ndarray
    i_cell_A: np.ndarray
    i_bl_A: np.ndarray
    i_wl_A: np.ndarray
    iterations: int


def node_currents_A(graph: TileGraph, x_V: np.ndarray, i_cell_A: np.ndarray) -> np.ndarray:
    """Net current (A) leaving every node (n_nodes,) into the elements at node voltages x_V (n_nodes,) and
    junction currents i_cell_A (R, C): zero at free nodes of a solution, the sources' currents at fixed nodes."""
    i_lin = graph.lin_g_S * (x_V[graph.lin_p] - x_V[graph.lin_q])
    n = graph.n_nodes
    out = np.bincount(graph.lin_p, i_lin, n) - np.bincount(graph.lin_q, i_lin, n)
    ic = np.ravel(i_cell_A)
    return out + np.bincount(graph.top.ravel(), ic, n) - np.bincount(graph.b.ravel(), ic, n)


def solution_from_voltages(graph: TileGraph, iv: JunctionIV, x_V: np.ndarray, iterations: int) -> TileSolution:
    """The :class:`TileSolution` of node voltages x_V (n_nodes,) (free nodes then the fixed sources)."""
    R = graph.circ.rows
    v_cell = x_V[graph.top] - x_V[graph.b]
    i_cell = iv.current(v_cell)[0]
    f = node_currents_A(graph, x_V, i_cell)
    return TileSolution(v_wl_V=x_V[graph.w], v_bl_V=x_V[graph.b], v_cell_V=v_cell, i_cell_A=i_cell,
                        i_bl_A=-f[graph.n_free + R:], i_wl_A=f[graph.n_free:graph.n_free + R],
                        iterations=int(iterations))
