"""The voltage a write pulse puts across the selected cell of a tile with line resistance (every cell at once).

Programming selects cell (i, j): word line i's driver applies V, bit line j's driver 0 V, every other word line
``V/k`` and every other bit line ``V - V/k`` ... for the schemes used here: ``"V/2"`` (other lines at V/2: cells
on the selected lines see V/2, the rest 0) and ``"V/3"`` (other word lines V/3, other bit lines 2V/3: cells on
the selected lines see V/3, the rest -V/3). The selected cell sees less than V: its own current and the
half-selected cells' currents drop along the driver and wire resistances (topology:
:mod:`spinsyn.hw_export.circuit.tile`).

Model (the *line model*; :func:`selected_cell_voltage`): the selected word line is a resistive ladder from its
driver, with one shunt per half-selected cell (i, k): the junction (secant conductance at its bias, plus the
1T1R access resistance) in series with bit line k's path to its driver, ``r_sense + (R-1-i)·r_wire``, to the
unselected bit-line bias. The selected bit line is the same ladder from its sense end, with shunts to the
unselected word lines (their path ``r_driver + j·r_wire``); in a 1T1R array the half-selected cells of the
selected column have their transistors off, so it has no shunts. Each ladder gives, at every position, the
Thévenin equivalent of the rest of the line (forward and backward sweeps, O(R·C) for all cells of a tile); the
selected cell closes the two equivalents and its nonlinear I(V) is solved by Newton. Half-selected biases are
refined by fixed-point iteration on the ladder's node voltages. Neglected: currents of the unselected cells
(zero bias under V/2; -V/3 under V/3, so V/3 is approximate) and the redistribution of the half-selected
currents along the unselected lines (second order in r_wire·G). The full nodal solution
(:func:`spinsyn.hw_export.circuit.nodal.solve_tile`) checks it (tests/hw_export/test_circuit_bias.py).

Shapes: cells (R, C); every function returns (R, C) arrays, entry (i, j) for cell (i, j) being selected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numba import njit

from .tile import JunctionIV, TileCircuit

Scheme = Literal["V/2", "V/3"]


@njit(cache=True)
def ladder_thevenin(y: np.ndarray, e: np.ndarray, v_src: float, r_src: float,
                    r_seg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thévenin equivalents along n lines of L nodes driven at node 0 (numba).

    ``y`` (n, L) shunt conductance (S) of each node to the voltage ``e`` (n, L); the source ``v_src`` (V) feeds
    node 0 through ``r_src`` (Ω); adjacent nodes are ``r_seg`` (Ω) apart. Returns (v_th, r_th, v_node), each
    (n, L): the equivalent seen at each node with *its own* shunt removed (V, Ω), and the node voltage with every
    shunt in place (V)."""
    n, L = y.shape
    v_th = np.empty((n, L))
    r_th = np.empty((n, L))
    v_node = np.empty((n, L))
    ga = np.empty(L)  # left part at node k (excluding shunt k): conductance, voltage
    va = np.empty(L)
    gb = np.empty(L)  # right part at node k (excluding shunt k)
    vb = np.empty(L)
    for m in range(n):
        g, v = 1.0 / max(r_src, 1e-12), v_src
        for k in range(L):
            ga[k], va[k] = g, v
            gt = g + y[m, k]
            vt = (g * v + y[m, k] * e[m, k]) / gt
            g, v = 1.0 / (1.0 / gt + r_seg), vt
        g, v = 0.0, 0.0
        for k in range(L - 1, -1, -1):
            gb[k], vb[k] = g, v
            gt = g + y[m, k]
            vt = (g * v + y[m, k] * e[m, k]) / gt if gt > 0 else 0.0
            g = 1.0 / (1.0 / gt + r_seg) if gt > 0 else 0.0
            v = vt
        for k in range(L):
            gt = ga[k] + gb[k]
            v_th[m, k] = (ga[k] * va[k] + gb[k] * vb[k]) / gt
            r_th[m, k] = 1.0 / gt
            v_node[m, k] = (gt * v_th[m, k] + y[m, k] * e[m, k]) / (gt + y[m, k])
    return v_th, r_th, v_node


@dataclass(frozen=True)
class SelectedBias:
    """Selected-cell bias of every cell of a tile for one applied amplitude (all (R, C)): ``v_cell_V`` across the
    junction, ``eta`` = v_cell_V / v_applied_V, and the half-selected biases the line model converged to on the
    selected word line (``v_hs_row_V``) and bit line (``v_hs_col_V``) when no cell is selected."""

    v_applied_V: float
    v_cell_V: np.ndarray
    eta: np.ndarray
    v_hs_row_V: np.ndarray
    v_hs_col_V: np.ndarray


def _divisor(scheme: Scheme) -> float:
    if scheme not in ("V/2", "V/3"):
        raise ValueError(f"scheme={scheme!r}; expected 'V/2' or 'V/3'")
    return 2.0 if scheme == "V/2" else 3.0


def _shunts(circ: TileCircuit, iv: JunctionIV, v_hs: np.ndarray, path_ohm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(branch conductance, junction share of the branch voltage), (R, C) each, of half-selected branches: the
    junction (secant at |v_hs|) + access + the path (Ω) in series."""
    r_j = 1.0 / iv.secant_conductance_S(np.abs(v_hs))
    r = r_j + path_ohm + (circ.r_access_on_ohm if circ.access == "1T1R" else 0.0)
    return 1.0 / r, r_j / r


def _column_ladder(y: np.ndarray, e: np.ndarray, v_src: float,
                   circ: TileCircuit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`ladder_thevenin` along the bit lines (driven at their sense end, row R-1); (R, C) in and out."""
    out = ladder_thevenin(np.ascontiguousarray(y.T[:, ::-1]), np.ascontiguousarray(e.T[:, ::-1]), v_src,
                          circ.r_sense_ohm, circ.r_wire_ohm)
    return tuple(np.ascontiguousarray(a[:, ::-1].T) for a in out)  # type: ignore[return-value]


def _unselected_lines(circ: TileCircuit, iv: JunctionIV, e_wl: float,
                      e_bl: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Thévenin (V, Ω), (R, C) each, of unselected bit line k seen at b(i, k) and of unselected word line m seen
    at w(m, j), each without the cell there: the line with its driver and the unselected cells on it (secant at
    their bias e_wl - e_bl, in series with the other line's plain path; none in 1T1R: transistors off)."""
    R, C = circ.shape
    rw = circ.r_wire_ohm
    bl_path = circ.r_sense_ohm + rw * (R - 1 - np.arange(R))[:, None] + np.zeros((1, C))
    wl_path = circ.r_driver_ohm + rw * np.arange(C)[None, :] + np.zeros((R, 1))
    if circ.access == "1T1R":
        return np.full((R, C), e_bl), bl_path, np.full((R, C), e_wl), wl_path
    r_u = 1.0 / iv.secant_conductance_S(np.full((R, C), abs(e_wl - e_bl)))
    bl_v, bl_r, _ = _column_ladder(1.0 / (r_u + wl_path), np.full((R, C), e_wl), e_bl, circ)
    wl_v, wl_r, _ = ladder_thevenin(1.0 / (r_u + bl_path), np.full((R, C), e_bl), e_wl, circ.r_driver_ohm, rw)
    return bl_v, bl_r, wl_v, wl_r


def _solve_junction(iv: JunctionIV, u: np.ndarray, r_s: np.ndarray, tol_V: float = 1e-12) -> np.ndarray:
    """Junction voltage v with v + r_s·I(v) = u (Newton, vectorised over cells)."""
    v = u / (1.0 + r_s * iv.secant_conductance_S(u))
    for _ in range(50):
        i, di = iv.current(v)
        dv = (v + r_s * i - u) / (1.0 + r_s * di)
        v = v - dv
        if np.max(np.abs(dv)) < tol_V:
            break
    return v


def selected_cell_voltage(circ: TileCircuit, iv: JunctionIV, v_applied_V: float, scheme: Scheme = "V/2",
                          iterations: int = 4) -> SelectedBias:
    """Voltage across each cell (R, C) when it is the selected cell of a ``v_applied_V`` pulse (line model: module
    docstring). ``iterations``: fixed-point refinements of the half-selected biases."""
    if circ.shape != iv.shape:
        raise ValueError(f"junctions {iv.shape} do not match the tile {circ.shape}")
    if not (np.isfinite(v_applied_V) and v_applied_V > 0):
        raise ValueError(f"v_applied_V={v_applied_V!r}; expected a finite voltage > 0")
    R, C = circ.shape
    V, k = float(v_applied_V), _divisor(scheme)
    e_bl, e_wl = V - V / k, V / k  # unselected bit lines, unselected word lines
    bl_v, bl_r, wl_v, wl_r = _unselected_lines(circ, iv, e_wl, e_bl)
    v_row = np.full((R, C), V - e_bl)  # bias of a half-selected cell on the selected word line
    v_col = np.full((R, C), e_wl)  # ... on the selected bit line
    for _ in range(max(1, iterations)):
        y_row, share_row = _shunts(circ, iv, v_row, bl_r)
        y_col, share_col = _shunts(circ, iv, v_col, wl_r)
        if circ.access == "1T1R":  # transistors of the unselected rows are off
            y_col = np.zeros((R, C))
        w_th, w_r, w_node = ladder_thevenin(y_row, bl_v, V, circ.r_driver_ohm, circ.r_wire_ohm)
        b_th, b_r, b_node = _column_ladder(y_col, wl_v, 0.0, circ)
        v_row = (w_node - bl_v) * share_row
        v_col = (wl_v - b_node) * share_col
    r_s = w_r + b_r + (circ.r_access_on_ohm if circ.access == "1T1R" else 0.0)
    v_cell = _solve_junction(iv, w_th - b_th, r_s)
    return SelectedBias(V, v_cell, v_cell / V, v_row, v_col)
