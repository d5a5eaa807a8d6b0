"""Energy, latency and area of a tile (issue 26): hand calculations from the cited constants, breakdown sums,
monotonicity, validation, and a published MRAM compute-in-memory figure."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from spinsyn.hw_export.circuit.energy import (
    Breakdown,
    chip_cost,
    cost_record,
    inference_cost,
    programming_cost,
    tile_area,
)
from spinsyn.hw_export.circuit.tech import TECH_NODES, TechNode, interpolate_node

# 22 nm constants typed in from their sources (NeuroSim V1.3), NOT read from TECH_NODES, so that a wrong preset
# or a wrong formula in the module fails here.
F = 22e-9
RHO, W_WIRE, AR = 4.03e-8, 40e-9, 1.90                   # Param.cpp, wireWidth 40 (technode 22)
C_WIRE_PER_M = 0.2e-15 / 1e-6                            # SubArray.cpp:132
VDD, I_ON_N, I_ON_P = 0.85, 791.90e-6, 600.20e-6         # Technology.cpp 22nm_LP, A/µm
R_ON_UM = 1.77 * VDD / I_ON_N                            # formula.cpp CalculateOnResistance, Ω·µm
C_GATE_PER_UM = (1.2 * 5.245e-10 + 8.004e-10) * 1e-6    # capIdealGate·(1 + 0.2 overlap) + capFringe, F/µm
G4 = np.array([[10, 20, 30, 40], [50, 60, 70, 80], [15, 25, 35, 45], [55, 65, 75, 85]], dtype=float) * 1e-6


def _adc_J(bits: int) -> float:
    fit = (0.538 * bits + 4.3753) * 1e-6 * (bits + 1) * 1e-9          # SarADC.cpp, 22 nm LP
    return max(fit, 4.4e-15 * 2 ** bits)                              # Walden-FOM record floor


def _driver_switch_J(n_cells: int, g_max: float) -> float:
    w_um = max(2 * F * 1e6, R_ON_UM * n_cells * g_max / 0.25)
    return 4 / 3 * C_GATE_PER_UM * w_um * (1 + I_ON_N / I_ON_P) * VDD ** 2


def test_inference_hand_calculation_0t1r_4x4():
    """A 4x4 cross-point tile at 22 nm, every term written out from the constants."""
    v, t, frac, bits = 0.15, 10e-9, 0.75, 5
    c = inference_cost("22nm", 4, 4, access="0T1R", adc_bits=bits, g_cells_S=G4, v_read_V=v, read_time_s=t,
                       active_rows_fraction=frac)
    pitch = 2 * F                                              # 2F x 2F cross-point cell
    c_row = 4 * C_WIRE_PER_M * pitch
    r_seg = RHO * pitch / (W_WIRE * AR * W_WIRE)
    e_cells = frac * v ** 2 * t * G4.sum()
    e_lines = frac * 4 * c_row * v ** 2
    e_drivers = frac * 4 * _driver_switch_J(4, G4.max())
    e_adcs = 4 * _adc_J(bits)
    assert c.energy_J.cells == pytest.approx(e_cells, rel=1e-12, abs=0)
    assert c.energy_J.lines == pytest.approx(e_lines, rel=1e-12, abs=0)
    assert c.energy_J.drivers == pytest.approx(e_drivers, rel=1e-12, abs=0)
    assert c.energy_J.adcs == pytest.approx(e_adcs, rel=1e-12, abs=0)
    assert c.energy_J.dacs == 0.0
    assert c.energy_total_J == pytest.approx(e_cells + e_lines + e_drivers + e_adcs, rel=1e-12, abs=0)
    # latency: the row line (distributed RC) and the 4-cell column, one read window, one conversion
    lat_lines = 0.38 * (4 * r_seg) * c_row + 0.38 * (4 * r_seg) * (4 * C_WIRE_PER_M * pitch)
    assert c.latency_s.lines == pytest.approx(lat_lines, rel=1e-12, abs=0)
    assert c.latency_s.cells == t and c.latency_s.adcs == pytest.approx((bits + 1) * 1e-9, rel=1e-9, abs=0)
    # area: 16 cells of 4 F², 4 SAR ADCs of (478 + 182·4) units of a 28F x 7.6F transistor
    assert c.area_um2.cells == pytest.approx(16 * 4 * (F * 1e6) ** 2, rel=1e-12, abs=0)
    assert c.area_um2.adcs == pytest.approx(4 * (478 + 182 * (bits - 1)) * 28 * 7.6 * (F * 1e6) ** 2, rel=1e-12, abs=0)
    assert c.ops == 32


def test_inference_hand_calculation_1t1r_word_line():
    """In a 1T1R tile the input drives the word line: wire plus one access gate (4 F wide) per cell, to VDD."""
    c = inference_cost("22nm", 4, 4, access="1T1R", adc_bits=3, g_cells_S=G4, v_read_V=0.1, read_time_s=5e-9)
    pitch = math.sqrt(48) * F
    c_row = 4 * (C_WIRE_PER_M * pitch + C_GATE_PER_UM * 4 * F * 1e6)
    assert c.energy_J.lines == pytest.approx(4 * c_row * VDD ** 2, rel=1e-12, abs=0)
    assert c.energy_J.cells == pytest.approx(0.1 ** 2 * 5e-9 * G4.sum(), rel=1e-12, abs=0)


def test_programming_hand_calculation_half_select_v2():
    """Selected and half-selected energy of a 4x4 0T1R tile, summed cell by cell in the test."""
    n = np.array([[1, 0, 2, 0], [0, 3, 0, 0], [0, 0, 0, 1], [2, 0, 0, 0]], dtype=float)
    v, w_ns, v_rd, t_rd = 0.8, 5.0, 0.1, 20e-9
    c = programming_cost("22nm", 4, 4, pulses=n, width_ns=w_ns, v_write_V=v, g_cells_S=G4, access="0T1R",
                         half_select="V/2", v_read_V=v_rd, read_time_s=t_rd)
    e = 0.0
    for i in range(4):
        for j in range(4):
            if n[i, j] == 0:
                continue
            e += n[i, j] * v ** 2 * G4[i, j] * w_ns * 1e-9
            for k in range(4):
                if k != j:
                    e += n[i, j] * (v / 2) ** 2 * G4[i, k] * w_ns * 1e-9
                if k != i:
                    e += n[i, j] * (v / 2) ** 2 * G4[k, j] * w_ns * 1e-9
            e += (n[i, j] + 1) * v_rd ** 2 * G4[i, j] * t_rd       # verify reads + the initial read
    assert c.energy_J.cells == pytest.approx(e, rel=1e-12, abs=0)
    assert c.pulses == 9
    n_read = 9 + 5
    assert c.latency_s.cells == pytest.approx(9 * w_ns * 1e-9 + n_read * t_rd, rel=1e-12, abs=0)
    assert c.energy_J.adcs == pytest.approx(n_read * _adc_J(5), rel=1e-12, abs=0)


def test_1t1r_programming_has_no_half_select_and_v3_differs_from_v2():
    kw = dict(pulses=64.0, width_ns=10.0, v_write_V=1.0, g_cells_S=5e-5, v_read_V=0.1, read_time_s=20e-9)
    t1 = programming_cost("28nm", 8, 8, access="1T1R", **kw)
    v2 = programming_cost("28nm", 8, 8, access="0T1R", half_select="V/2", **kw)
    v3 = programming_cost("28nm", 8, 8, access="0T1R", half_select="V/3", **kw)
    sel = 64 * 1.0 * 5e-5 * 10e-9
    reads = (64 + 64) * 0.01 * 5e-5 * 20e-9
    assert t1.energy_J.cells == pytest.approx(sel + reads, rel=1e-12, abs=0)
    assert v2.energy_J.cells == pytest.approx(sel + reads + 64 * 0.25 * 14 * 5e-5 * 10e-9, rel=1e-12, abs=0)
    assert v3.energy_J.cells == pytest.approx(sel + reads + 64 / 9 * 63 * 5e-5 * 10e-9, rel=1e-12, abs=0)


@pytest.mark.parametrize("kind", ["inference", "programming"])
def test_breakdown_sums_to_total(kind):
    rng = np.random.default_rng(3)
    g = rng.uniform(2e-5, 8e-5, (16, 24))
    if kind == "inference":
        c = inference_cost("40nm", 16, 24, g_cells_S=g, adc_bits=6, cols_per_adc=4, input_bits=4,
                           active_rows_fraction=0.3)
    else:
        c = programming_cost("40nm", 16, 24, pulses=rng.integers(0, 6, (16, 24)), width_ns=20, v_write_V=1.2,
                             g_cells_S=g, access="0T1R")
    for b in (c.energy_J, c.latency_s, c.area_um2):
        parts = b.as_dict()
        assert parts["total"] == pytest.approx(sum(v for k, v in parts.items() if k != "total"), rel=1e-12, abs=0)
        assert all(v >= 0 for v in parts.values())
    assert c.energy_total_J > 0 and c.latency_total_s > 0


def test_more_adc_bits_cost_more_energy_and_area():
    costs = [inference_cost("28nm", 64, 64, adc_bits=b, g_cells_S=5e-5) for b in range(1, 11)]
    for lo, hi in zip(costs, costs[1:]):
        assert hi.energy_J.adcs > lo.energy_J.adcs and hi.area_um2.adcs > lo.area_um2.adcs
        assert hi.energy_total_J > lo.energy_total_J and hi.latency_total_s > lo.latency_total_s


@pytest.mark.parametrize("access", ["1T1R", "0T1R"])
def test_larger_tile_more_line_energy_per_read(access):
    sizes = [8, 16, 32, 64, 128, 256]
    e = [inference_cost("22nm", n, n, access=access, g_cells_S=5e-5).energy_J.lines for n in sizes]
    assert all(b > a for a, b in zip(e, e[1:]))
    # rows x (cols segments): the row-line energy grows as n²
    assert e[-1] / e[0] == pytest.approx((sizes[-1] / sizes[0]) ** 2, rel=1e-9, abs=0)


def test_column_mux_trades_area_for_latency():
    a = inference_cost("28nm", 64, 64, cols_per_adc=1)
    b = inference_cost("28nm", 64, 64, cols_per_adc=8)
    assert b.area_um2.adcs == pytest.approx(a.area_um2.adcs / 8, rel=1e-9, abs=0)
    assert b.latency_total_s > 5 * a.latency_s.cells
    assert b.energy_J.adcs == pytest.approx(a.energy_J.adcs, rel=1e-9, abs=0)   # every column is still converted once


def test_chip_cost_adds_energy_and_area_and_takes_the_slowest_tile():
    t1 = inference_cost("28nm", 64, 64, read_time_s=20e-9)
    t2 = inference_cost("28nm", 32, 64, read_time_s=50e-9)
    chip = chip_cost([t1, t2])
    assert chip.energy_total_J == pytest.approx(t1.energy_total_J + t2.energy_total_J, rel=1e-9, abs=0)
    assert chip.area_total_um2 == pytest.approx(t1.area_total_um2 + t2.area_total_um2, rel=1e-9, abs=0)
    assert chip.latency_total_s == pytest.approx(max(t1.latency_total_s, t2.latency_total_s), rel=1e-9, abs=0)
    serial = chip_cost([t1, t2], tiles_in_parallel=False)
    assert serial.latency_total_s == pytest.approx(t1.latency_total_s + t2.latency_total_s, rel=1e-9, abs=0)
    assert chip.ops == t1.ops + t2.ops
    rec = json.loads(json.dumps(cost_record(chip)))
    assert rec["energy_J"]["total"] == pytest.approx(chip.energy_total_J, rel=1e-9, abs=0) and rec["n_tiles"] == 2
    tile_rec = json.loads(json.dumps(cost_record(t1)))
    assert tile_rec["node"] == "28nm" and tile_rec["tops_per_W"] == pytest.approx(t1.tops_per_W, rel=1e-9, abs=0)
    with pytest.raises(ValueError, match="one kind"):
        chip_cost([t1, programming_cost("28nm", 4, 4, pulses=4.0, width_ns=10, v_write_V=1.0)])


def test_presets_follow_their_sources():
    n22 = TECH_NODES["22nm"]
    assert n22.segment_resistance_ohm(100.0) == pytest.approx(RHO * 100e-9 / (W_WIRE * AR * W_WIRE), rel=1e-12, abs=0)
    assert n22.segment_capacitance_F(100.0) == pytest.approx(0.02e-15, rel=1e-12, abs=0)
    assert n22.cell_pitch_nm("0T1R") == pytest.approx(44.0, rel=1e-9, abs=0)
    assert n22.cell_pitch_nm("1T1R") == pytest.approx(math.sqrt(48) * 22, rel=1e-9, abs=0)
    # the interpolated nodes lie between their NeuroSim neighbours, field by field
    for mid, lo, hi in (("28nm", "22nm", "32nm"), ("40nm", "32nm", "45nm")):
        m, a, b = TECH_NODES[mid], TECH_NODES[lo], TECH_NODES[hi]
        for f in ("wire_width_nm", "cu_resistivity_ohm_m", "vdd_V", "r_on_nmos_ohm_um", "c_gate_F_per_um"):
            assert min(getattr(a, f), getattr(b, f)) < getattr(m, f) < max(getattr(a, f), getattr(b, f)), f
        assert "ASSUMPTION" in m.source
    # smaller nodes: narrower wires, more resistance per µm (size effect and cross-section)
    order = ["65nm", "45nm", "40nm", "32nm", "28nm", "22nm"]
    r = [TECH_NODES[k].wire_r_ohm_per_um for k in order]
    assert all(b > a for a, b in zip(r, r[1:]))


def test_adc_energy_never_beats_the_walden_record():
    """No ADC in B. E. Jonsson's survey beat 4.4 fJ/conversion-step (van Elzakker et al., ISSCC 2008)."""
    for node in TECH_NODES.values():
        for bits in range(1, 13):
            assert node.adc_energy_J(bits) / 2 ** bits >= 4.4e-15 * (1 - 1e-12)


def test_validation_errors_name_the_parameter():
    cases = [
        (dict(rows=0), "rows"), (dict(adc_bits=0), "adc_bits"), (dict(adc_bits=17), "adc_bits"),
        (dict(g_cells_S=np.ones((3, 3))), "g_cells_S"), (dict(g_cells_S=-1.0), "g_cells_S"),
        (dict(active_rows_fraction=1.5), "active_rows_fraction"), (dict(v_read_V=0.0), "v_read_V"),
        (dict(read_time_s=float("nan")), "read_time_s"), (dict(cols_per_adc=9), "cols_per_adc"),
        (dict(access="2T2R"), "access"), (dict(input_bits=0), "input_bits"),
    ]
    for kw, name in cases:
        args = dict(rows=4, cols=8)
        args.update(kw)
        with pytest.raises(ValueError, match=name):
            inference_cost("22nm", args.pop("rows"), args.pop("cols"), **args)
    with pytest.raises(ValueError, match="half_select"):
        programming_cost("22nm", 4, 4, pulses=4.0, width_ns=10, v_write_V=1.0, half_select="V/4")
    with pytest.raises(ValueError, match="pulses"):
        programming_cost("22nm", 4, 4, pulses=np.ones((4, 5)), width_ns=10, v_write_V=1.0)
    with pytest.raises(ValueError, match="width_ns"):
        programming_cost("22nm", 4, 4, pulses=4.0, width_ns=0, v_write_V=1.0)
    with pytest.raises(ValueError, match="node"):
        inference_cost("7nm", 4, 4)
    with pytest.raises(ValueError, match="vdd_V"):
        TechNode(**{**TECH_NODES["22nm"].__dict__, "vdd_V": -1.0})
    with pytest.raises(ValueError, match="node_nm"):
        interpolate_node(TECH_NODES["22nm"], TECH_NODES["32nm"], 40, "x")
    assert isinstance(tile_area("22nm", 4, 4), Breakdown)


# Jung et al., Nature 601, 211-216 (2022), doi:10.1038/s41586-021-04196-6: 64x64 MTJ crossbar, 28 nm CMOS, binary
# weights; cells 13 kΩ and 26 kΩ (access transistor included); column readout 13-29 ns; 4-bit counter output.
JUNG_R_CELL_OHM = (13e3, 26e3)
JUNG_READ_S = 29e-9
# Yu, Liu, Zhang, Fang & Zhao, "An Event-Driven Spiking Compute-In-Memory Macro based on SOT-MRAM",
# arXiv:2511.03203 (2025): 28 nm SOT-MRAM CIM macro (128x128, 3T-2MTJ), peak 243.6 TOPS/W at 8 bits (simulated).
YU_TOPS_PER_W = 243.6
FACTOR = 10.0


def test_64x64_28nm_mram_tile_within_a_factor_of_a_published_mram_cim_macro():
    """Our 64x64 1T1R tile at 28 nm, with the cell resistances of Jung et al. (Nature 601, 211 (2022)) read
    by current summation at 0.1 V for their longest column readout (29 ns) into 4-bit converters, every row
    active, lies within 10x of the 243.6 TOPS/W of the 28 nm SOT-MRAM CIM macro of Yu et al.
    (arXiv:2511.03203, 2025). Comparable in node, device and array scale only: Jung et al. sum resistances
    (series MTJs and a time-domain readout), Yu et al. encode in spike timing; this model sums currents."""
    g = 0.5 * (1 / JUNG_R_CELL_OHM[0] + 1 / JUNG_R_CELL_OHM[1])
    c = inference_cost("28nm", 64, 64, access="1T1R", adc_bits=4, g_cells_S=g, v_read_V=0.1,
                       read_time_s=JUNG_READ_S, active_rows_fraction=1.0)
    assert c.tops_per_W is not None
    assert YU_TOPS_PER_W / FACTOR < c.tops_per_W < YU_TOPS_PER_W * FACTOR
    # the low MTJ resistance is why: the cells' own current is most of the energy (Jung et al.'s argument)
    assert c.energy_J.cells > 0.5 * c.energy_total_J


def test_compound_synapses_take_n_cells_of_area_and_longer_lines():
    """A compound:8 synapse is 8 MTJs: 8 cells of area and a sqrt(8) longer line segment per synapse."""
    from spinsyn.hw_export.circuit.energy import inference_cost, tile_area

    one = tile_area("28nm", 8, 8, access="0T1R", g_max_S=1e-3)
    eight = tile_area("28nm", 8, 8, access="0T1R", g_max_S=1e-3, cells_per_synapse=8)
    assert eight.cells == pytest.approx(8 * one.cells, rel=1e-12, abs=0)
    e1 = inference_cost("28nm", 8, 8, access="0T1R", g_cells_S=1e-3)
    e8 = inference_cost("28nm", 8, 8, access="0T1R", g_cells_S=1e-3, cells_per_synapse=8)
    assert e8.energy_J.lines == pytest.approx(e1.energy_J.lines * 8 ** 0.5, rel=1e-12, abs=0)
    assert e8.energy_J.cells == e1.energy_J.cells  # the same synapse conductance
