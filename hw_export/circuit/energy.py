"""Energy, latency and area of one inference and of programming a crossbar tile, and of a chip (issue 26).

A NeuroSim-style analytic model over the cited parameters of :mod:`.tech` (``TechNode``). Every cost is a
:class:`Breakdown` into **cells** (current through the junctions), **lines** (C·V² charging of word/bit lines),
**drivers** (the line drivers' own gate charge), **adcs** (sense amplifiers / SAR ADCs) and **dacs**; the parts sum
to the total. Notation: G (R, C) cell conductances (S), F the feature size, p = ``cell_pitch_nm(access)``,
c_w the wire capacitance per µm, r_s = ``segment_resistance_ohm(p)``.

Lines. A row line has C segments, a column line R: ``C_row = C · (c_w p + c_cell,row)``, ``C_col = R · (c_w p +
c_cell,col)``, ``R_row = C · r_s``, ``R_col = R · r_s``. In a 1T1R cell the row is the word line (c_cell,row is the
access transistor's gate, swung to VDD) and the column sees its drain junction; a 0T1R junction adds no
capacitance and its row is swung to the cell voltage itself.

Drivers. One per row and one per column (the column drivers write; at inference the columns go to the ADCs). A
driver that carries cell current is sized so that its on-resistance is at most ``IR_DROP_TOLERANCE`` (0.25,
NeuroSim) of the load it drives: ``W = r_on·µm / (0.25 · R_load)``, never below 2 F; R_load = 1 / (n · max G) with
n the cells the driver feeds at once (0T1R row: C; 0T1R column: R; 1T1R column: 1); a 1T1R word-line driver only
charges gates and has the minimum width. Its PMOS is ``pn_ratio`` wider. A switch costs ``(4/3) · c_gate ·
W(1 + pn) · VDD²`` (a fan-out-4 buffer chain: the earlier stages add 1/4 + 1/16 + ... = 1/3); its area is
``(4/3) · W(1 + pn) · 7.6 F`` (NeuroSim's unfolded gate width 2 · (POLY_WIDTH + MIN_GAP_BET_GATE_POLY) F).

**One inference** (one input vector, every column read once; ``inference_cost``). f = ``active_rows_fraction``
(the expected fraction of rows driven, e.g. the spike rate), V = ``v_read_V``, t = ``read_time_s``, m =
``cols_per_adc`` (columns sharing an ADC through a multiplexer), b = ``adc_bits``::

    E_cells   = f · V² · t · ΣG              (each column conducts during its own read window only)
    E_lines   = f · R · C_row · V_row²        (V_row = VDD for 1T1R word lines, V for 0T1R); the columns are held
                                              at virtual ground by the current-sum readout and do not swing
    E_drivers = f · R · E_switch(row driver)
    E_adcs    = C · E_conv(b)                 (TechNode.adc_energy_J: NeuroSim SAR fit, Walden-FOM floor)
    E_dacs    = f · R · E_dac(input_bits, V)  only for input_bits > 1 (spikes are 1 bit: no DAC)
    latency   = 0.69 R_drv C_row + 0.38 R_row C_row            (drivers; lines, once: rows stay on)
              + m · (0.38 R_col C_col + t + t_conv(b))        (lines, cells, adcs: m multiplexed phases)
              + t_DAC (input_bits > 1)
    ops       = 2 · R · C                      (one multiply and one add per cell, the usual TOPS convention)

**Programming** (``programming_cost``): n_ij pulses of width w at V = ``v_write_V`` on cell (i, j), one cell at a
time, each pulse followed by a verify read, plus one initial read per programmed cell (as ``hw_export.pulses``)::

    E_cells   = V² w Σ n_ij G_ij                                         (selected cells)
              + (V/2)² w Σ n_ij (ΣG_i· + ΣG_·j − 2 G_ij)   0T1R, V/2 scheme (row and column neighbours)
              + (V/3)² w Σ n_ij (ΣG − G_ij)                 0T1R, V/3 scheme (every other cell)
                (1T1R: the unselected word lines are off and the unselected bit lines at the source-line
                 voltage, so no cell is half-selected)
              + v_read² t_read Σ (n_ij + [n_ij > 0]) G_ij                (verify reads)
    E_lines   = P (C_row V_row² + C_col V²) + N_read C_row V_row,read²   (every selected line charged through
                the full swing once per pulse: an upper bound for the V/2 and V/3 schemes, whose idle lines
                already sit at V/2 or V/3)
    E_drivers = P (E_switch,row + E_switch,col) + N_read E_switch,row
    E_adcs    = N_read E_conv(b);   E_dacs = P · k_DAC · E_dac(dac_bits, V)   (k_DAC = 2 levels, V and V/k, for
                0T1R; 1 for 1T1R)
    latency   = P w + N_read t_read (cells) + (P + N_read)(0.38 (R_row C_row + R_col C_col)) (lines)
              + (P + N_read)(0.69 (R_drv,row C_row + R_drv,col C_col)) (drivers) + N_read t_conv (adcs)
              + P t_DAC (dacs)

with P = Σ n_ij and N_read = P + #(n_ij > 0). A scalar ``pulses`` is a total spread evenly over all cells.

**Area** (the same tile in both): cells ``R · C · cell_area``; lines 0 (they run over the cells); drivers
``(R + C)`` drivers; adcs ``ceil(C / m)`` SAR ADCs (NeuroSim SarADC.cpp; the multiplexer is not counted); dacs two
write-amplitude DACs of ``write_dac_bits`` plus, for multi-bit inputs, one input DAC per row.

**Chip** (``chip_cost``): energies and areas add; latencies are those of the slowest tile when the tiles work in
parallel (the default), else they add. No buffers, routing, control or leakage are counted (NeuroSim counts them;
this model is the tile core, which is where the device and the periphery sizes matter).

Not modelled: leakage, the ADC input buffer/reference, the column multiplexer and its switches, level shifters for
write voltages above VDD, the junction's nonlinear R(V) (``G`` is the conductance at the applied voltage; the
circuit solver :mod:`.nodal` supplies it), IR drop (the solver), and resistance-sum readout (Jung et al. 2022).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .tech import IR_DROP_TOLERANCE, TechNode, tech_node

COMPONENTS: tuple[str, ...] = ("cells", "lines", "drivers", "adcs", "dacs")
HALF_SELECT_SCHEMES: tuple[str, ...] = ("V/2", "V/3")
_BUFFER_CHAIN = 4.0 / 3.0   # fan-out-4 chain: stages before the last add 1/3 of its input capacitance
_ELMORE_LUMPED = 0.69       # ln 2: a driver charging a lumped C to 50 %
_ELMORE_DISTRIBUTED = 0.38  # distributed RC line to 50 %
_GATE_PITCH_F = 7.6         # NeuroSim: 2 · (POLY_WIDTH 1.0 + MIN_GAP_BET_GATE_POLY 2.8) F per unfolded transistor


@dataclass(frozen=True)
class Breakdown:
    """One quantity split into cells, lines, drivers, adcs and dacs (the unit is the field it is stored in)."""

    cells: float = 0.0
    lines: float = 0.0
    drivers: float = 0.0
    adcs: float = 0.0
    dacs: float = 0.0

    @property
    def total(self) -> float:
        return float(self.cells + self.lines + self.drivers + self.adcs + self.dacs)

    def __add__(self, other: Breakdown) -> Breakdown:
        return Breakdown(*(getattr(self, c) + getattr(other, c) for c in COMPONENTS))

    def as_dict(self) -> dict[str, float]:
        d = {c: float(getattr(self, c)) for c in COMPONENTS}
        d["total"] = self.total
        return d


class _Totals:
    """Totals of a cost's breakdowns and its efficiency (shared by :class:`TileCost` and :class:`ChipCost`)."""

    energy_J: Breakdown
    latency_s: Breakdown
    area_um2: Breakdown
    ops: int

    @property
    def energy_total_J(self) -> float:
        return self.energy_J.total

    @property
    def latency_total_s(self) -> float:
        return self.latency_s.total

    @property
    def area_total_um2(self) -> float:
        return self.area_um2.total

    @property
    def tops_per_W(self) -> float | None:
        """Operations per joule in 1e12 (TOPS/W); None for programming."""
        return self.ops / self.energy_total_J / 1e12 if self.ops and self.energy_total_J > 0 else None


@dataclass(frozen=True)
class TileCost(_Totals):
    """Cost of one inference (``kind="inference"``) or of programming (``"programming"``) of one tile."""

    kind: str
    node: str
    rows: int
    cols: int
    access: str
    energy_J: Breakdown
    latency_s: Breakdown
    area_um2: Breakdown
    ops: int = 0
    pulses: int = 0


@dataclass(frozen=True)
class ChipCost(_Totals):
    """The sum of tiles' costs (``chip_cost``)."""

    kind: str
    n_tiles: int
    energy_J: Breakdown
    latency_s: Breakdown
    area_um2: Breakdown
    ops: int
    pulses: int
    tiles_in_parallel: bool


# ---------------------------------------------------------------------------------------------------- validation
def _int_param(name: str, v: Any, lo: int, hi: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < lo or (hi is not None and v > hi):
        raise ValueError(f"{name} must be an integer in [{lo}, {hi if hi is not None else 'inf'}], got {v!r}")
    return int(v)


def _pos(name: str, v: Any, *, zero_ok: bool = False) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {v!r}") from None
    if not math.isfinite(x) or x < 0 or (x == 0 and not zero_ok):
        raise ValueError(f"{name} must be finite and {'>= 0' if zero_ok else '> 0'}, got {v!r}")
    return x


def _matrix(name: str, v: Any, rows: int, cols: int, *, zero_ok: bool) -> np.ndarray:
    """A scalar broadcast to (rows, cols) or a (rows, cols) array, finite and >= 0 (> 0 somewhere)."""
    a = np.asarray(v, dtype=np.float64)
    if a.ndim == 0:
        return np.full((rows, cols), _pos(name, float(a), zero_ok=zero_ok))
    if a.shape != (rows, cols):
        raise ValueError(f"{name} must be a scalar or shape ({rows}, {cols}), got shape {a.shape}")
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"{name} must be finite and >= 0 everywhere")
    if not zero_ok and not np.any(a > 0):
        raise ValueError(f"{name} must be > 0 somewhere")
    return a


def _access(access: str) -> str:
    if access not in ("1T1R", "0T1R"):
        raise ValueError(f"access must be '1T1R' or '0T1R', got {access!r}")
    return access


# ---------------------------------------------------------------------------------------------------- tile parts
@dataclass(frozen=True)
class _Lines:
    c_row_F: float
    c_col_F: float
    r_row_ohm: float
    r_col_ohm: float


def _lines(node: TechNode, rows: int, cols: int, access: str, n_cells: int = 1) -> _Lines:
    """Row and column lines of a tile of synapses of ``n_cells`` MTJs each (their pitch sqrt(n_cells) cells, each
    MTJ with its own access transistor on both lines in 1T1R)."""
    p = node.cell_pitch_nm(access) * math.sqrt(n_cells)
    c_seg, r_seg = node.segment_capacitance_F(p), node.segment_resistance_ohm(p)
    return _Lines(c_row_F=cols * (c_seg + n_cells * node.cell_line_capacitance_F(access, "row")),
                  c_col_F=rows * (c_seg + n_cells * node.cell_line_capacitance_F(access, "col")),
                  r_row_ohm=cols * r_seg, r_col_ohm=rows * r_seg)


@dataclass(frozen=True)
class _Driver:
    width_um: float
    r_on_ohm: float
    switch_J: float
    area_um2: float


def _driver(node: TechNode, n_cells: int, g_max_S: float) -> _Driver:
    """A line driver feeding ``n_cells`` cells of conductance up to ``g_max_S`` (0: gates only)."""
    w_min = node.min_driver_width_F * node.f_um
    w = w_min if n_cells == 0 else max(w_min, node.r_on_nmos_ohm_um * n_cells * g_max_S / IR_DROP_TOLERANCE)
    w_total = w * (1.0 + node.pn_ratio)
    return _Driver(width_um=w, r_on_ohm=node.r_on_ohm(w),
                   switch_J=_BUFFER_CHAIN * node.c_gate_F(w_total) * node.vdd_V ** 2,
                   area_um2=_BUFFER_CHAIN * w_total * _GATE_PITCH_F * node.f_um)


def _drivers(node: TechNode, rows: int, cols: int, access: str, g_max_S: float) -> tuple[_Driver, _Driver]:
    """(row driver, column driver) of the tile."""
    if access == "1T1R":
        return _driver(node, 0, g_max_S), _driver(node, 1, g_max_S)
    return _driver(node, cols, g_max_S), _driver(node, rows, g_max_S)


def tile_area(node: TechNode | str, rows: int, cols: int, *, access: str = "1T1R", adc_bits: int = 5,
              cols_per_adc: int = 1, g_max_S: float = 1e-4, input_bits: int = 1,
              write_dac_bits: int = 8, cells_per_synapse: int = 1) -> Breakdown:
    """Area (µm²) of a tile of rows x cols synapses of ``cells_per_synapse`` MTJs each: cells, drivers (one per row
    and column), ADCs and DACs (see the module docstring)."""
    node = tech_node(node)
    n_cells = _int_param("cells_per_synapse", cells_per_synapse, 1)
    rows, cols = _int_param("rows", rows, 1), _int_param("cols", cols, 1)
    access = _access(access)
    m = _int_param("cols_per_adc", cols_per_adc, 1, cols)
    _int_param("input_bits", input_bits, 1, 16)
    drv_r, drv_c = _drivers(node, rows, cols, access, _pos("g_max_S", g_max_S))
    n_adc = math.ceil(cols / m)
    dacs = 2 * node.dac_area_um2(write_dac_bits) + (rows * node.dac_area_um2(input_bits) if input_bits > 1 else 0)
    return Breakdown(cells=rows * cols * n_cells * node.cell_area_um2(access), lines=0.0,
                     drivers=rows * drv_r.area_um2 + cols * drv_c.area_um2,
                     adcs=n_adc * node.adc_area_um2(adc_bits), dacs=dacs)


# ---------------------------------------------------------------------------------------------------- inference
def inference_cost(node: TechNode | str, rows: int, cols: int, *, access: str = "1T1R", adc_bits: int = 5,
                   g_cells_S: Any = 5e-5, v_read_V: float = 0.1, read_time_s: float = 20e-9,
                   active_rows_fraction: float = 1.0, cols_per_adc: int = 1, input_bits: int = 1,
                   write_dac_bits: int = 8, cells_per_synapse: int = 1) -> TileCost:
    """Energy, latency and area of one inference pass of a tile: one input vector, every column read once.

    ``g_cells_S``: the cells' conductance at ``v_read_V``, a scalar (every cell) or an (rows, cols) array.
    ``active_rows_fraction``: the expected fraction of rows driven (spike rate). ``cols_per_adc``: columns
    multiplexed onto one ADC, read one after the other. ``input_bits`` > 1 adds one input DAC per row. Defaults
    (0.1 V, 20 ns) are ``WriteVerifyConfig``'s read. ``cells_per_synapse``: MTJs per crossbar cell (compound:N;
    ``g_cells_S`` is then the synapse's conductance). Formulas and assumptions: the module docstring.
    """
    node = tech_node(node)
    rows, cols = _int_param("rows", rows, 1), _int_param("cols", cols, 1)
    access = _access(access)
    _int_param("adc_bits", adc_bits, 1, 16)
    m = _int_param("cols_per_adc", cols_per_adc, 1, cols)
    _int_param("input_bits", input_bits, 1, 16)
    v = _pos("v_read_V", v_read_V)
    t = _pos("read_time_s", read_time_s)
    f = _pos("active_rows_fraction", active_rows_fraction, zero_ok=True)
    if f > 1:
        raise ValueError(f"active_rows_fraction must be in [0, 1], got {active_rows_fraction!r}")
    g = _matrix("g_cells_S", g_cells_S, rows, cols, zero_ok=False)
    n_cells = _int_param("cells_per_synapse", cells_per_synapse, 1)
    ln = _lines(node, rows, cols, access, n_cells)
    drv_r, _ = _drivers(node, rows, cols, access, float(g.max()))
    v_row = node.vdd_V if access == "1T1R" else v
    multibit = input_bits > 1
    energy = Breakdown(
        cells=f * v * v * t * float(g.sum()),
        lines=f * rows * ln.c_row_F * v_row ** 2,
        drivers=f * rows * drv_r.switch_J,
        adcs=cols * node.adc_energy_J(adc_bits),
        dacs=f * rows * node.dac_energy_J(input_bits, v) if multibit else 0.0)
    latency = Breakdown(
        cells=m * t,
        lines=_ELMORE_DISTRIBUTED * ln.r_row_ohm * ln.c_row_F + m * _ELMORE_DISTRIBUTED * ln.r_col_ohm * ln.c_col_F,
        drivers=_ELMORE_LUMPED * drv_r.r_on_ohm * ln.c_row_F,
        adcs=m * node.adc_latency_s(adc_bits),
        dacs=node.dac_settle_s if multibit else 0.0)
    area = tile_area(node, rows, cols, access=access, adc_bits=adc_bits, cols_per_adc=m, g_max_S=float(g.max()),
                     input_bits=input_bits, write_dac_bits=write_dac_bits, cells_per_synapse=n_cells)
    return TileCost(kind="inference", node=node.name, rows=rows, cols=cols, access=access, energy_J=energy,
                    latency_s=latency, area_um2=area, ops=2 * rows * cols)


# ---------------------------------------------------------------------------------------------------- programming
def programming_cost(node: TechNode | str, rows: int, cols: int, *, pulses: Any, width_ns: float, v_write_V: float,
                     g_cells_S: Any = 5e-5, access: str = "1T1R", half_select: str = "V/2", v_read_V: float = 0.1,
                     read_time_s: float = 20e-9, adc_bits: int = 5, cols_per_adc: int = 1,
                     write_dac_bits: int = 8, cells_per_synapse: int = 1) -> TileCost:
    """Energy, latency and area of programming a tile with a write-verify schedule, one cell at a time.

    ``pulses``: the schedule's pulse count per cell, an (rows, cols) array, or a scalar total spread evenly over
    the cells. ``g_cells_S``: conductance seen by a pulse (scalar or (rows, cols); e.g. the mean of the states
    it passes through). ``half_select`` ("V/2" or "V/3") applies to 0T1R tiles; in 1T1R tiles no cell is
    half-selected. Verify reads at ``v_read_V`` for ``read_time_s`` (``WriteVerifyConfig`` defaults).
    """
    node = tech_node(node)
    rows, cols = _int_param("rows", rows, 1), _int_param("cols", cols, 1)
    access = _access(access)
    if half_select not in HALF_SELECT_SCHEMES:
        raise ValueError(f"half_select must be one of {HALF_SELECT_SCHEMES}, got {half_select!r}")
    _int_param("adc_bits", adc_bits, 1, 16)
    m = _int_param("cols_per_adc", cols_per_adc, 1, cols)
    w = _pos("width_ns", width_ns) * 1e-9
    v = _pos("v_write_V", v_write_V)
    v_rd = _pos("v_read_V", v_read_V)
    t_rd = _pos("read_time_s", read_time_s)
    g = _matrix("g_cells_S", g_cells_S, rows, cols, zero_ok=False)
    if np.ndim(pulses) == 0:
        n = np.full((rows, cols), _pos("pulses", pulses, zero_ok=True) / (rows * cols))
        programmed = rows * cols if float(pulses) > 0 else 0
    else:
        n = _matrix("pulses", pulses, rows, cols, zero_ok=True)
        programmed = int(np.count_nonzero(n))
    p_total = float(n.sum())
    n_read = p_total + programmed
    reads_per_cell = n + (n > 0) if np.ndim(pulses) else n + (1.0 if programmed else 0.0)

    e_sel = v * v * w * float((n * g).sum())
    if access == "1T1R":
        e_half = 0.0
    elif half_select == "V/2":
        neigh = g.sum(axis=1, keepdims=True) + g.sum(axis=0, keepdims=True) - 2.0 * g
        e_half = (v / 2) ** 2 * w * float((n * neigh).sum())
    else:
        e_half = (v / 3) ** 2 * w * float((n * (g.sum() - g)).sum())
    e_read = v_rd * v_rd * t_rd * float((reads_per_cell * g).sum())

    n_cells = _int_param("cells_per_synapse", cells_per_synapse, 1)
    ln = _lines(node, rows, cols, access, n_cells)
    drv_r, drv_c = _drivers(node, rows, cols, access, float(g.max()))
    v_row, v_row_read = (node.vdd_V, node.vdd_V) if access == "1T1R" else (v, v_rd)
    k_dac = 1 if access == "1T1R" else 2
    energy = Breakdown(
        cells=e_sel + e_half + e_read,
        lines=p_total * (ln.c_row_F * v_row ** 2 + ln.c_col_F * v * v) + n_read * ln.c_row_F * v_row_read ** 2,
        drivers=p_total * (drv_r.switch_J + drv_c.switch_J) + n_read * drv_r.switch_J,
        adcs=n_read * node.adc_energy_J(adc_bits),
        dacs=p_total * k_dac * node.dac_energy_J(write_dac_bits, v))
    steps = p_total + n_read
    latency = Breakdown(
        cells=p_total * w + n_read * t_rd,
        lines=steps * _ELMORE_DISTRIBUTED * (ln.r_row_ohm * ln.c_row_F + ln.r_col_ohm * ln.c_col_F),
        drivers=steps * _ELMORE_LUMPED * (drv_r.r_on_ohm * ln.c_row_F + drv_c.r_on_ohm * ln.c_col_F),
        adcs=n_read * node.adc_latency_s(adc_bits),
        dacs=p_total * node.dac_settle_s)
    area = tile_area(node, rows, cols, access=access, adc_bits=adc_bits, cols_per_adc=m, g_max_S=float(g.max()),
                     write_dac_bits=write_dac_bits, cells_per_synapse=n_cells)
    return TileCost(kind="programming", node=node.name, rows=rows, cols=cols, access=access, energy_J=energy,
                    latency_s=latency, area_um2=area, ops=0, pulses=int(round(p_total)))


# ---------------------------------------------------------------------------------------------------- chip
def chip_cost(tiles: list[TileCost], *, tiles_in_parallel: bool = True) -> ChipCost:
    """Sum of tiles of one kind: energies and areas add; the latency is the slowest tile's when the tiles work
    in parallel (its breakdown), else the sum."""
    if not tiles:
        raise ValueError("tiles must hold at least one TileCost")
    kinds = {t.kind for t in tiles}
    if len(kinds) != 1:
        raise ValueError(f"tiles must all be of one kind, got {sorted(kinds)}")
    energy, area = Breakdown(), Breakdown()
    for t in tiles:
        energy, area = energy + t.energy_J, area + t.area_um2
    if tiles_in_parallel:
        latency = max(tiles, key=lambda t: t.latency_total_s).latency_s
    else:
        latency = Breakdown()
        for t in tiles:
            latency = latency + t.latency_s
    return ChipCost(kind=tiles[0].kind, n_tiles=len(tiles), energy_J=energy, latency_s=latency, area_um2=area,
                    ops=sum(t.ops for t in tiles), pulses=sum(t.pulses for t in tiles),
                    tiles_in_parallel=tiles_in_parallel)


def cost_record(cost: TileCost | ChipCost) -> dict[str, Any]:
    """A JSON-able record of a tile's or chip's cost for report.json / export summaries (units in the keys)."""
    rec: dict[str, Any] = {"kind": cost.kind, "model": "NeuroSim-style analytic, spinsyn.hw_export.circuit.energy",
                           "energy_J": cost.energy_J.as_dict(), "latency_s": cost.latency_s.as_dict(),
                           "area_um2": cost.area_um2.as_dict(), "ops": int(cost.ops), "pulses": int(cost.pulses),
                           "tops_per_W": cost.tops_per_W}
    if isinstance(cost, TileCost):
        rec.update(node=cost.node, rows=cost.rows, cols=cost.cols, access=cost.access)
    else:
        rec.update(n_tiles=cost.n_tiles, tiles_in_parallel=cost.tiles_in_parallel)
    return rec


__all__ = ["Breakdown", "ChipCost", "TileCost", "chip_cost", "cost_record", "inference_cost",
           "programming_cost", "tile_area"]
