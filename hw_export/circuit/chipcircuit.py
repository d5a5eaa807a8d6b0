"""A chip's tiles as circuits, for the export and the simulation: the write voltage that reaches every device,
and the energy, latency and area of programming and of inference (:mod:`.energy`) per tile and for the chip.

The write share ``eta`` of a tile (and the half-selected cells' shares ``kappa``) is computed once, on the tile's
*target* states (the states the cells reach; programming starts from the all-AP reset, so early pulses meet
slightly more resistive neighbours and slightly less drop) at a nominal write amplitude (the calibration's 50 %
set amplitude); the junction's TMR(V) makes eta vary a little with the amplitude
(``tests/hw_export/test_circuit_program.py`` measures it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .bias import selected_cell_voltage
from .config import CircuitConfig
from .energy import chip_cost, cost_record, inference_cost, programming_cost
from .tile import JunctionIV


def tile_bias(cfg: CircuitConfig, dev: Any, state: np.ndarray, v_write_V: float,
              scheme: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(eta (R, C), kappa_row (R,), kappa_col (C,)) of a tile of ``dev`` (a ``SynapseDevice``) in ``state`` (R, C)
    for a ``v_write_V`` pulse under the half-select ``scheme``: the selected cell's share of the driver amplitude,
    and the mean share its half-selected neighbours on the selected word line / bit line see (their junction
    voltage over the driver amplitude; 0 on the bit line of a 1T1R tile, whose unselected transistors are off)."""
    st = np.asarray(state)
    circ = cfg.tile(st.shape[0], st.shape[1], max(1, int(dev.n_cells)))
    sb = selected_cell_voltage(circ, JunctionIV.from_device(dev, st), float(v_write_V), scheme)  # type: ignore[arg-type]
    k_row = np.abs(sb.v_hs_row_V).mean(axis=1) / sb.v_applied_V
    k_col = np.zeros(st.shape[1]) if cfg.access == "1T1R" else np.abs(sb.v_hs_col_V).mean(axis=0) / sb.v_applied_V
    return sb.eta, k_row, k_col


def eta_stats(eta: np.ndarray) -> dict[str, float]:
    """Mean, minimum and 1st percentile of write shares (empty: NaN-free zeros)."""
    if eta.size == 0:
        return {"mean": 0.0, "min": 0.0, "p01": 0.0}
    return {"mean": float(eta.mean()), "min": float(eta.min()), "p01": float(np.percentile(eta, 1))}


def tile_programming_cost(cfg: CircuitConfig, n_cells: int, g_S: np.ndarray, pulses: np.ndarray, v_write_V: float,
                          wv: Any) -> dict[str, Any]:
    """Cost record of programming one tile of synapses of ``n_cells`` MTJs: ``g_S`` (R, C) the cells' target
    conductances (padding: the reset conductance), ``pulses`` (R, C) pulses per cell, ``v_write_V`` the mean
    applied amplitude, ``wv`` the write-verify config (width, read, scheme)."""
    c = programming_cost(cfg.node, g_S.shape[0], g_S.shape[1], pulses=pulses, width_ns=wv.width_ns,
                         v_write_V=max(float(v_write_V), 1e-3), g_cells_S=g_S, access=cfg.access,
                         half_select=wv.half_select, v_read_V=wv.v_read_V, read_time_s=wv.t_read_ns * 1e-9,
                         adc_bits=cfg.adc_bits, cells_per_synapse=max(1, int(n_cells)))
    return cost_record(c)


def _summed(records: list[dict[str, Any]], key: str, how: str) -> dict[str, float]:
    parts = records[0][key].keys()
    if how == "max":  # the slowest tile's breakdown
        slow = max(records, key=lambda r: r[key]["total"])
        return dict(slow[key])
    return {p: float(sum(r[key][p] for r in records)) for p in parts}


def chip_programming_cost(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The chip's programming cost from its tiles' records (energies and areas add; tiles programmed in parallel:
    the slowest tile's latency)."""
    return {"kind": "programming", "n_tiles": len(records), "energy_J": _summed(records, "energy_J", "sum"),
            "latency_s": _summed(records, "latency_s", "max"), "area_um2": _summed(records, "area_um2", "sum"),
            "pulses": int(sum(r["pulses"] for r in records)), "tiles_in_parallel": True,
            "model": records[0]["model"]}


def chip_inference_cost(cfg: CircuitConfig, dev: Any, g_tiles_S: np.ndarray, active_rows_fraction: float,
                        adc_bits: int | None = None) -> dict[str, Any]:
    """Cost record of one read pass of every tile (one time step of the network: each row driven with probability
    ``active_rows_fraction``), the tiles in parallel. ``g_tiles_S`` (T, R, C) read conductances (padding: the
    reset conductance); ``adc_bits`` (default ``cfg.adc_bits``)."""
    bits = cfg.adc_bits if adc_bits is None else int(adc_bits)
    n_cells = max(1, int(dev.n_cells))
    tiles = [inference_cost(cfg.node, g.shape[0], g.shape[1], access=cfg.access, adc_bits=bits, g_cells_S=g,
                            v_read_V=float(dev.v_read_V), active_rows_fraction=float(active_rows_fraction),
                            cells_per_synapse=n_cells) for g in g_tiles_S]
    rec = cost_record(chip_cost(tiles))
    rec.update(adc_bits=bits, active_rows_fraction=float(active_rows_fraction), node=cfg.tech_node,
               access=cfg.access)
    return rec
