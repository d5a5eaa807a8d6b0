"""Weights -> chip directory, in four steps composed by :func:`export_chip`:

1. :func:`map_layer` -- weights (or a run's trained device states) -> level per device, tiles, verify bands
   (:class:`LayerMap`);
2. :func:`program_layer` -- calibration and simulated write-verify of every device (:class:`Programmed`);
3. :func:`build_schedule` -- the pulses as per-tile schedules in programming order (:class:`Schedule`);
4. :func:`layer_report` -- half-select disturb, energy, time, per-tile and layer summaries (:class:`Report`);

then :func:`chip_tiles` / :func:`chip_meta` assemble what ``staging.write_chip_dir`` writes.

The device is a ``spinsyn.devices.SynapseDevice``: the one an snn run trained on (rebuilt from the record in
its checkpoint, so the chip's level conductances are those the network trained with) or
``synapse_device(spec, preset, **params)`` for plain weight matrices.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.devices import SynapseDevice, SynapseSpec, synapse_device
from spinsyn.options import WritePulse

from . import staging
from .ageing import DEFAULT_DEPLOYMENT_S, retention_record, retention_warnings
from .chipfile import SCHEDULE_DTYPE, TileData
from .mapping import MappingKind, ScaleFactors, make_scale, weight_range, weights_to_levels
from .program import (
    Calibration,
    LevelTable,
    ProgramResult,
    WritePhysics,
    WriteVerifyConfig,
    calibrate,
    component_mtj,
    declared_write_pulse,
    disturb_probability,
    half_select_counts,
    half_select_exposure,
    level_table,
    pulse_energy_J,
    write_verify,
)
from .tiling import TileLayout, make_layout, to_tiles


@dataclass(frozen=True)
class ExportConfig:
    """What to export and how. ``synapse`` a ``SynapseSpec`` (or its text); ``tile_rows`` x ``tile_cols``
    crossbars; ``device``/``device_params`` the ``spinsyn.devices`` preset and field overrides used when no
    ``SynapseDevice`` is given to :func:`export_chip`; ``w_range`` (lo, hi) maps onto the conductance range
    (None: from the data; differential: symmetric)."""

    synapse: SynapseSpec
    mapping: MappingKind = "unipolar"
    tile_rows: int = 128
    tile_cols: int = 128
    device: str | None = None
    device_params: dict[str, Any] = dataclasses.field(default_factory=dict)
    w_range: tuple[float, float] | None = None
    write_verify: WriteVerifyConfig = dataclasses.field(default_factory=WriteVerifyConfig)
    seed: int = 0
    csv: bool = True
    write_pulse: str | WritePulse = "auto"
    deployment_s: float = DEFAULT_DEPLOYMENT_S

    def __post_init__(self) -> None:
        object.__setattr__(self, "synapse", SynapseSpec.parse(self.synapse))
        # "auto", "fixed" (write_verify's width), a width in ns or a WritePulse; stored as its mode
        pulse = WritePulse.parse(self.write_pulse)
        if pulse.width_ns is not None:
            object.__setattr__(self, "write_verify", dataclasses.replace(self.write_verify, width_ns=pulse.width_ns))
        object.__setattr__(self, "write_pulse", pulse.mode)
        if not (np.isfinite(self.deployment_s) and self.deployment_s > 0):
            raise ValueError(f"--deployment: got {self.deployment_s!r} s, expected a duration > 0")

    def synapse_device(self) -> SynapseDevice:
        """``spinsyn.devices.synapse_device`` for this config (read at ``write_verify.v_read_V``)."""
        return synapse_device(self.synapse, self.device, self.write_verify.v_read_V, **self.device_params)


@dataclass
class ExportResult:
    """Summary of one export: output folder, report dict and timings (s)."""

    out_dir: Path
    report: dict[str, Any]
    timings_s: dict[str, float]


@dataclass
class LayerMap:
    """Step 1: the level of every device, tiled. ``lv`` (I, M) level per device; ``lv_t``/``mask_t``
    (T, R, C); ``used`` flat indices of real cells in programming order (tile-major, row-major inside a
    tile); ``wv`` the write-verify config with an absolute tolerance resolved; ``tol_S`` band half-width."""

    n_inputs: int
    n_outputs: int
    mapping: MappingKind
    levels: LevelTable
    scale: ScaleFactors
    lv: np.ndarray
    layout: TileLayout
    lv_t: np.ndarray
    mask_t: np.ndarray
    used: np.ndarray
    wv: WriteVerifyConfig
    tol_S: float
    from_state: bool

    @property
    def g_target_S(self) -> np.ndarray:
        """(T * R * C,) target conductance of every cell (padding: reset level)."""
        return self.levels.g_S[self.lv_t.ravel()]


@dataclass
class Programmed:
    """Step 2: calibration and the write-verify outcome of the used cells (targets and bands (D,))."""

    cal: Calibration
    res: ProgramResult
    g_t: np.ndarray
    lo_S: np.ndarray
    hi_S: np.ndarray


@dataclass
class Schedule:
    """Step 3: schedule rows in programming order (device-major, step inside). ``cell`` (P,) global cell
    index ``(t * R + row) * C + col``; ``v_V`` (P,) float64 amplitudes (``rows["v_V"]`` is float32);
    ``tile_of_row`` (P,); ``g_before_S`` (P,); ``row_bounds`` and ``dev_bounds`` (T+1,) slices of rows / used
    devices per tile."""

    rows: np.ndarray
    cell: np.ndarray
    v_V: np.ndarray
    tile_of_row: np.ndarray
    g_before_S: np.ndarray
    row_bounds: np.ndarray
    dev_bounds: np.ndarray


@dataclass
class Report:
    """Step 4: disturb risk (T, R, C), per-tile report dicts and the layer summary."""

    risk: np.ndarray
    tiles: list[dict[str, Any]]
    summary: dict[str, Any]


def _stats(x: np.ndarray) -> dict[str, float]:
    if x.size == 0:
        return {"mean": 0.0, "max": 0.0}
    return {"mean": float(x.mean()), "max": float(x.max())}


def _check_weights(w: np.ndarray) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2 or min(w.shape) < 1 or not np.all(np.isfinite(w)):
        raise ValueError(f"weights: expected a finite 2-D matrix (inputs x outputs), got shape {w.shape}")
    return w


def _given_levels(levels_in: np.ndarray, shape: tuple[int, ...], mapping: str, n_levels: int) -> np.ndarray:
    lv = np.asarray(levels_in, dtype=np.int64)
    if mapping != "unipolar" or lv.shape != shape or lv.min() < 0 or lv.max() >= n_levels:
        raise ValueError(f"levels: expected unipolar levels of shape {shape} in 0..{n_levels - 1}")
    return lv.astype(np.int32)


def map_layer(w: np.ndarray, dev: SynapseDevice, cfg: ExportConfig,
              levels_in: np.ndarray | None = None) -> LayerMap:
    """Step 1: levels of ``dev``, scale factors, level per device (quantised from ``w`` (I, O), or the
    given ``levels_in`` (I, O): a run's trained device states, unipolar only), tiles and verify bands."""
    w = _check_weights(w)
    levels = level_table(dev)
    lo, hi = weight_range(w, cfg.mapping, cfg.w_range)
    scale = make_scale(levels.g_S, cfg.mapping, lo, hi)
    if levels_in is not None:
        lv = _given_levels(levels_in, w.shape, cfg.mapping, len(levels.g_S))
    else:
        lv = weights_to_levels(w, scale)
    layout = make_layout(lv.shape, (cfg.tile_rows, cfg.tile_cols))
    if layout.n_tiles > 65536:
        raise ValueError(f"--tile: {layout.tile_rows}x{layout.tile_cols} tiles cut the {lv.shape[0]}x{lv.shape[1]} "
                         f"device matrix into {layout.n_tiles} tiles (at most 65536); use larger tiles")
    wv = dataclasses.replace(cfg.write_verify, v_read_V=dev.v_read_V)
    if wv.tolerance_S is not None:
        wv = dataclasses.replace(wv, tolerance_levels=wv.tolerance_S / scale.level_step_S, tolerance_S=None)
    mask_t = to_tiles(np.ones(lv.shape, np.uint8), layout, fill=0).astype(bool)
    return LayerMap(int(w.shape[0]), int(w.shape[1]), cfg.mapping, levels, scale, lv, layout,
                    to_tiles(lv, layout, fill=0), mask_t, np.flatnonzero(mask_t.ravel()), wv,
                    wv.tolerance_levels * scale.level_step_S, levels_in is not None)


def program_layer(lm: LayerMap, dev: SynapseDevice, seed: int = 0, backend: Any = None) -> Programmed:
    """Step 2: calibrate ``dev`` and write-verify every used cell from the global reset."""
    rng = np.random.default_rng(seed)
    levels = lm.levels
    cal = calibrate(dev, levels, lm.wv, rng, backend)
    lv_u = lm.lv_t.ravel()[lm.used]
    g_t = levels.g_S[lv_u]
    lo_S, hi_S = g_t - lm.tol_S, g_t + lm.tol_S
    state0 = np.full(lm.used.size, levels.state[0], dtype=levels.state.dtype)
    res = write_verify(dev, levels, cal, lm.wv, state0, levels.state[lv_u], lo_S, hi_S, rng, backend=backend)
    return Programmed(cal, res, g_t, lo_S, hi_S)


def build_schedule(lm: LayerMap, prog: Programmed) -> Schedule:
    """Step 3: the pulse log as schedule rows, device-major (used cells ascending), step inside."""
    res, lay = prog.res, lm.layout
    R, C, T = lay.tile_rows, lay.tile_cols, lay.n_tiles
    n_p = res.n_pulses
    first = np.cumsum(n_p) - n_p
    P = int(n_p.sum())
    perm = np.empty(P, np.int64)
    perm[first[res.dev] + res.step] = np.arange(P)
    dev_sorted = res.dev[perm]
    cell = lm.used[dev_sorted]  # global cell index (t * R + row) * C + col, ascending
    cell_local = cell % (R * C)
    rows = np.empty(P, dtype=SCHEDULE_DTYPE)
    rows["row"] = cell_local // C
    rows["col"] = cell_local % C
    rows["step"] = res.step[perm]
    v_V = res.v_V[perm]
    rows["v_V"] = v_V
    rows["width_ns"] = lm.wv.width_ns
    rows["polarity"] = res.polarity[perm]
    rows["verify_lo_S"] = prog.lo_S[dev_sorted]
    rows["verify_hi_S"] = prog.hi_S[dev_sorted]
    tile_of_row = cell // (R * C)
    dev_bounds = np.searchsorted(lm.used // (R * C), np.arange(T + 1))
    row_bounds = np.searchsorted(tile_of_row, np.arange(T + 1))
    return Schedule(rows, cell, v_V, tile_of_row, res.g_before_S[perm], row_bounds, dev_bounds)


def _disturb_risk(lm: LayerMap, prog: Programmed, sched: Schedule) -> np.ndarray:
    """(T, R, C) half-select disturb risk of every cell (0 on padding)."""
    lay, levels = lm.layout, lm.levels
    e_P, e_AP = half_select_exposure(prog.cal, lm.wv, (lay.n_tiles, lay.tile_rows, lay.tile_cols), sched.cell,
                                     sched.v_V, sched.rows["polarity"], levels.discrete)
    if levels.discrete:
        risk = disturb_probability(e_P, e_AP, levels.state[lm.lv_t].astype(np.float64), levels.n_max)
    else:  # expected net wall drift in levels
        risk = np.abs(e_P - e_AP) / levels.n_max * (len(levels.g_S) - 1)
    return np.where(lm.mask_t, risk, 0.0)


def _per_exposure(lm: LayerMap, prog: Programmed, sched: Schedule) -> dict[str, Any]:
    """Half-select exposures per used cell (pulses on its lines after it was programmed) and the per-MTJ
    switching probability of one exposure (the calibration's analytic table): at the schedule's largest
    amplitude / k and averaged over its pulses, per direction."""
    lay, cal, wv = lm.layout, prog.cal, lm.wv
    shape = (lay.n_tiles, lay.tile_rows, lay.tile_cols)
    n = half_select_counts(shape, sched.cell, wv.half_select)[lm.mask_t]
    out: dict[str, Any] = {"exposures_per_cell": {"mean": float(n.mean()) if n.size else 0.0,
                                                  "max": float(n.max()) if n.size else 0.0}}
    if cal.p_hs_P is None or not sched.v_V.size:
        return out
    assert cal.p_hs_AP is not None  # the calibration sets both directions together
    vh = np.abs(sched.v_V) / wv.half_select_divisor
    idx = np.clip(np.round(vh / wv.v_resolution_V).astype(np.int64), 0, cal.v_hs_V.size - 1)
    up = sched.rows["polarity"] > 0
    top = int(idx.max())
    out.update({"v_half_select_max_V": float(cal.v_hs_V[top]),
                "to_P_at_max": float(cal.p_hs_P[top]), "to_AP_at_max": float(cal.p_hs_AP[top]),
                "to_P_mean": float(cal.p_hs_P[idx[up]].mean()) if up.any() else 0.0,
                "to_AP_mean": float(cal.p_hs_AP[idx[~up]].mean()) if (~up).any() else 0.0})
    return out


def _tile_costs(lm: LayerMap, sched: Schedule) -> dict[str, np.ndarray]:
    """Per-tile (T,) write, half-select and read energy (J), pulses, devices and time (ns)."""
    wv, lay = lm.wv, lm.layout
    T, R, C = lay.n_tiles, lay.tile_rows, lay.tile_cols
    g_used = np.where(lm.mask_t, lm.g_target_S.reshape(T, R, C), 0.0)
    vv = sched.v_V
    tr = sched.tile_of_row
    e_write = np.bincount(tr, pulse_energy_J(vv, sched.g_before_S, wv.width_ns), minlength=T)
    g_self = g_used.ravel()[sched.cell]
    if wv.half_select == "V/2":
        rc = (g_used.sum(axis=2).ravel()[tr * R + sched.rows["row"]]
              + g_used.sum(axis=1).ravel()[tr * C + sched.rows["col"]] - 2 * g_self)
    else:
        rc = g_used.sum(axis=(1, 2))[tr] - g_self
    e_hs = np.bincount(tr, pulse_energy_J(vv / wv.half_select_divisor, rc, wv.width_ns), minlength=T)
    e_read = (wv.v_read_V**2 * wv.t_read_ns * 1e-9) * (
        g_used.sum(axis=(1, 2)) + np.bincount(tr, sched.g_before_S, minlength=T))
    pulses = np.diff(sched.row_bounds)
    devices = lm.mask_t.sum(axis=(1, 2))
    time_ns = pulses * (wv.width_ns + wv.t_settle_ns) + (devices + pulses) * wv.t_read_ns
    return {"e_write": e_write, "e_hs": e_hs, "e_read": e_read, "pulses": pulses, "devices": devices,
            "time_ns": time_ns}


def _summary(lm: LayerMap, prog: Programmed, risk: np.ndarray, tiles: list[dict[str, Any]],
             per_exposure: dict[str, Any]) -> dict[str, Any]:
    res = prog.res
    n_used = lm.used.size
    err = (res.g_S - prog.g_t) / lm.scale.level_step_S
    hist_edges = np.array([-np.inf, -1.5, -0.5, 0.5, 1.5, np.inf])
    flat = risk.ravel()
    discrete = lm.levels.discrete
    return {
        "devices": int(n_used), "synapses": lm.n_inputs * lm.n_outputs, "tiles": lm.layout.n_tiles,
        "pulses": int(res.n_pulses.sum()), "pulses_per_device": _stats(res.n_pulses.astype(float)),
        "failed": int(res.failed.sum()), "failed_fraction": float(res.failed.mean()) if n_used else 0.0,
        "abs_error_levels": _stats(np.abs(err)),
        "error_levels_histogram": {"edges": ["-inf", -1.5, -0.5, 0.5, 1.5, "inf"],
                                   "counts": np.histogram(err, hist_edges)[0].tolist()},
        "inside_band": int(((res.g_S >= prog.lo_S) & (res.g_S <= prog.hi_S)).sum()),
        "time_parallel_tiles_s": max(r["time_ns"] for r in tiles) * 1e-9,
        "time_serial_tiles_s": sum(r["time_ns"] for r in tiles) * 1e-9,
        "energy_total_J": sum(r["energy_total_J"] for r in tiles),
        "energy_per_synapse_J": sum(r["energy_total_J"] for r in tiles) / max(lm.n_inputs * lm.n_outputs, 1),
        "time_per_synapse_serial_s": sum(r["time_ns"] for r in tiles) * 1e-9 / max(lm.n_inputs * lm.n_outputs, 1),
        "write_pulse": {"width_ns": lm.wv.width_ns, "v_max_V": lm.wv.v_max_V},
        "disturb_risk": {"mean": float(flat.sum() / max(n_used, 1)), "max": float(flat.max()),
                         "expected_disturbed_cells": float(flat.sum()) if discrete else None,
                         "cells_over_1e-3": int((flat > 1e-3).sum()),
                         "unit": "probability" if discrete else "expected drift (levels)",
                         "scheme": lm.wv.half_select, "per_exposure": per_exposure},
    }


def layer_report(lm: LayerMap, prog: Programmed, sched: Schedule) -> Report:
    """Step 4: disturb risk, per-tile time/energy/error report and the layer summary."""
    risk = _disturb_risk(lm, prog, sched)
    cost = _tile_costs(lm, sched)
    res = prog.res
    abs_err = np.abs((res.g_S - prog.g_t) / lm.scale.level_step_S)
    tiles = []
    for t in range(lm.layout.n_tiles):
        du = slice(sched.dev_bounds[t], sched.dev_bounds[t + 1])
        rt = risk[t]
        e = (float(cost["e_write"][t]), float(cost["e_hs"][t]), float(cost["e_read"][t]))
        tiles.append({
            "tile": t, "devices": int(cost["devices"][t]), "pulses": int(cost["pulses"][t]),
            "pulses_per_device": _stats(res.n_pulses[du].astype(float)),
            "failed": int(res.failed[du].sum()), "time_ns": float(cost["time_ns"][t]),
            "energy_write_J": e[0], "energy_half_select_J": e[1], "energy_read_J": e[2], "energy_total_J": sum(e),
            "abs_error_levels": _stats(abs_err[du]),
            "disturb_risk": {"mean": float(rt[lm.mask_t[t]].mean()), "max": float(rt.max()),
                             "cells_over_1e-3": int((rt > 1e-3).sum())},
        })
    return Report(risk, tiles, _summary(lm, prog, risk, tiles, _per_exposure(lm, prog, sched)))


def state_of_levels(levels: LevelTable, lv: np.ndarray) -> np.ndarray:
    """Target device state per level index (int16 MTJ counts, or float64 wall positions)."""
    s = levels.state[lv]
    return s.astype(np.int16) if levels.discrete else s.astype(np.float64)


def _cell_maps(lm: LayerMap, prog: Programmed) -> dict[str, np.ndarray]:
    """(T * R * C,) simulated conductance, pulses, failed flags and verify bands of every cell."""
    n = lm.layout.n_tiles * lm.layout.tile_rows * lm.layout.tile_cols
    res = prog.res
    g = np.full(n, lm.levels.g_S[0])
    g[lm.used] = res.g_S
    npul = np.zeros(n, np.uint16)
    npul[lm.used] = res.n_pulses
    fail = np.zeros(n, np.uint8)
    fail[lm.used] = res.failed
    tgt = lm.g_target_S
    return {"g_sim_S": g, "n_pulses": npul, "failed": fail, "g_target_S": tgt, "verify_lo_S": tgt - lm.tol_S,
            "verify_hi_S": tgt + lm.tol_S}


def chip_tiles(lm: LayerMap, prog: Programmed, sched: Schedule, rep: Report) -> list[TileData]:
    """One :class:`TileData` per tile (datasets and attributes of ``/tiles/<i>``)."""
    lay = lm.layout
    R, C = lay.tile_rows, lay.tile_cols
    maps = _cell_maps(lm, prog)
    sign_pattern = np.ones(lay.n_cols, np.int8) if lm.mapping == "unipolar" else np.tile(
        np.array([1, -1], np.int8), lay.n_cols // 2)
    per_out = 1 if lm.mapping == "unipolar" else 2
    tiles: list[TileData] = []
    for t in range(lay.n_tiles):
        sl = slice(t * R * C, (t + 1) * R * C)
        cidx = lay.col_index(t)
        col_sign = np.zeros(C, np.int8)
        col_sign[cidx >= 0] = sign_pattern[cidx[cidx >= 0]]
        (r0, c0), (ru, cu) = lay.origin(t), lay.used(t)
        cell = {k: v[sl].reshape(R, C) for k, v in maps.items()}
        tiles.append(TileData(
            **cell, state=state_of_levels(lm.levels, lm.lv_t[t]), level=lm.lv_t[t].astype(np.int32),
            mask=lm.mask_t[t].astype(np.uint8), row_index=lay.row_index(t),
            col_index=np.where(cidx >= 0, cidx // per_out, -1).astype(np.int32), col_sign=col_sign,
            disturb_risk=rep.risk[t], schedule=sched.rows[sched.row_bounds[t]:sched.row_bounds[t + 1]],
            attrs={"layer_row0": r0, "layer_col0": c0, "rows_used": ru, "cols_used": cu, "report": rep.tiles[t]},
        ))
    return tiles


def _formula(scale: ScaleFactors) -> str:
    if scale.mapping == "unipolar":
        return "w = w_lo + (G - g_min_S) / (g_max_S - g_min_S) * (w_hi - w_lo)"
    return "w = (G[:, 2j] - G[:, 2j+1]) / (g_max_S - g_min_S) * w_hi"


def write_physics_record(dev: SynapseDevice) -> dict[str, Any]:
    """What programming, disturb, the pulse search and ``export simulate`` switch with (stored in /meta)."""
    mtj = component_mtj(dev)
    if mtj is None:
        return {"model": "the device model's own pulse physics (domain wall: creep/flow through pinning sites)"}
    return {"model": WritePhysics.name,
            "gates_used": False, "drive_law_used": False,
            "note": "the preset's voltage gates and drive law (tau0_ns, barrier_exponent, transit_eps) shape the "
                    "ms-scale STDP sweeps only; every write, verify and half-select pulse switches with the "
                    "Fokker-Planck probability of the device's own geometry and materials"}


def chip_meta(lm: LayerMap, prog: Programmed, rep: Report, dev: SynapseDevice,
              seed: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``/meta`` attributes and datasets of chip.h5."""
    lay, cal, record = lm.layout, prog.cal, dev.record()
    unipolar = lm.mapping == "unipolar"
    meta = {
        "synapse_device": record, "device_model": record["model"], "synapse": str(dev.spec),
        "mapping": {"kind": lm.mapping, "weight_formula": _formula(lm.scale), "column_layout":
                    "unipolar: device column j = output j" if unipolar else
                    "differential: device columns 2j (G+) and 2j+1 (G-) = output j"},
        "scale": lm.scale.to_json(),
        "levels_from": "trained device states" if lm.from_state else "quantised weights",
        "write_verify": dataclasses.asdict(lm.wv),
        "calibration": {"set_sign": cal.set_sign, "width_ns": cal.width_ns, "v_step_V": cal.v_step_V,
                        "note": "polarity +1 in schedules raises G; the physical voltage sign is set_sign"},
        "layer": {"n_inputs": lm.n_inputs, "n_outputs": lm.n_outputs, "device_rows": lay.n_rows,
                  "device_cols": lay.n_cols},
        "tiles": {"tile_rows": lay.tile_rows, "tile_cols": lay.tile_cols, "n_tiles": lay.n_tiles,
                  "grid": list(lay.grid),
                  "programming_order": "tiles in parallel; cells row-major inside a tile; steps in order"},
        "reset": {"state": float(lm.levels.state[0]), "g_S": float(lm.levels.g_S[0]),
                  "note": "global reset to the lowest-conductance state before programming"},
        "write_physics": write_physics_record(dev),
        "summary": rep.summary,
        "seed": seed,
    }
    arrays = {"g_levels_S": lm.levels.g_S, "level_state": lm.levels.state.astype(np.float64),
              "tile_map": lay.index_map(), "calibration_v_V": cal.v_V, "calibration_r_set": cal.r_set,
              "calibration_r_reset": cal.r_reset}
    return meta, arrays


def choose_write_pulse(lm: LayerMap, dev: SynapseDevice, cfg: ExportConfig, backend: Any = None) -> dict[str, Any]:
    """``cfg.write_pulse == "auto"``: search the write pulse (:mod:`spinsyn.hw_export.pulses`) on the chip's
    targets and set ``lm.wv``'s width and amplitude cap to the optimum; returns the record stored in /meta.
    A device with its own write pulse (:func:`program.declared_write_pulse`, graded devices) is programmed with it
    instead (see :func:`_declared_pulse`)."""
    if declared_write_pulse(dev) is not None:
        return _declared_pulse(lm, dev, cfg)
    if cfg.write_pulse != "auto":
        return {"mode": "fixed", "width_ns": lm.wv.width_ns, "v_max_V": lm.wv.v_max_V}
    from .pulses import search_write_pulse  # lazy: startup

    tile = (min(lm.layout.tile_rows, lm.layout.n_rows), min(lm.layout.tile_cols, lm.layout.n_cols))
    choice = search_write_pulse(dev, lm.levels, lm.wv, lm.lv_t.ravel()[lm.used], lm.tol_S, tile, seed=cfg.seed,
                                backend=backend)
    lm.wv = dataclasses.replace(lm.wv, width_ns=choice.width_ns, v_max_V=choice.v_max_V)
    return {"mode": "auto", "width_ns": choice.width_ns, "v_max_V": choice.v_max_V, **choice.record()}


#: write-verify pulse budget of a device with its own pulse, in pulses over its full range (c2c noise needs retries)
DECLARED_PULSE_BUDGET = 4


def _declared_pulse(lm: LayerMap, dev: SynapseDevice, cfg: ExportConfig) -> dict[str, Any]:
    """The device's own identical pulse (``w_write_ns``, ``v_write_V``): ``--write-pulse auto`` programs with it
    (``--v-max`` is not searched: any amplitude above threshold makes one step) and raises ``max_pulses`` to
    :data:`DECLARED_PULSE_BUDGET` x its pulses over the range; a fixed width keeps ``--v-max``, which must reach
    the device's threshold (ValueError naming the option otherwise)."""
    width_ns, v_V = declared_write_pulse(dev)  # type: ignore[misc]  # not None: checked by the caller
    budget = DECLARED_PULSE_BUDGET * int(dev.model.n_pulses)
    if cfg.write_pulse == "auto":
        lm.wv = dataclasses.replace(lm.wv, width_ns=width_ns, v_max_V=v_V, max_pulses=max(lm.wv.max_pulses, budget))
        return {"mode": "device", "width_ns": width_ns, "v_max_V": v_V, "max_pulses": lm.wv.max_pulses,
                "method": f"the device's own write pulse ({dev.spec}: identical pulses, one step each); "
                          "write-verify at that fixed amplitude"}
    thr = float(dev.model.v_threshold_V)
    if lm.wv.v_max_V < thr:
        raise ValueError(f"--v-max: {lm.wv.v_max_V:g} V is below the {thr:g} V write threshold of {dev.spec}, so "
                         f"no pulse moves it; its own pulse is {v_V:g} V, {width_ns:g} ns: use --write-pulse auto "
                         f"(the default) or --v-max {v_V:g}")
    return {"mode": "fixed", "width_ns": lm.wv.width_ns, "v_max_V": lm.wv.v_max_V}


def _pulse_warnings(pulse: dict[str, Any]) -> list[str]:
    """A warning when the write-pulse search found no pulse meeting its error and disturb target."""
    chosen = pulse.get("chosen", {})
    if pulse.get("mode") != "auto" or chosen.get("feasible", True):
        return []
    return [f"--write-pulse auto: no pulse met write errors and half-select disturb <= 1e-3; the chosen one "
            f"({chosen['width_ns']:g} ns, <= {chosen['v_max_V']:g} V) gives write error rate "
            f"{chosen['error_rate']:.2g} and disturb {chosen['disturb']:.2g}"]


def _device_for(cfg: ExportConfig, device: SynapseDevice | None) -> SynapseDevice:
    if device is None:
        return cfg.synapse_device()
    if device.spec != cfg.synapse:
        raise ValueError(f"--synapse: the device realises {device.spec}, the export asks for {cfg.synapse}")
    return device


def export_chip(w: np.ndarray, cfg: ExportConfig, out_dir: Path, *, source: dict[str, Any] | None = None,
                device: SynapseDevice | None = None, levels: np.ndarray | None = None, overwrite: bool = False,
                notes: list[str] | None = None, backend: Any = None) -> ExportResult:
    """Export weight matrix ``w`` (I, O) to a ``spinsyn-chip`` directory ``out_dir`` (written atomically).

    ``device``: the ``SynapseDevice`` to program (default ``cfg.synapse_device()``; its spec must equal
    ``cfg.synapse``); ``levels`` (I, O): device levels to program instead of quantising ``w`` (a run's
    trained states; unipolar only); ``source`` where the weights came from (stored in /meta); ``notes``
    lines stored in /meta and the report; ``backend`` another pulse-physics module (tests). ``overwrite``
    replaces an existing spinsyn chip folder only; ``out_dir`` may not be or hold the source (``staging``).
    """
    from spinsyn.locks import check_unlocked  # lazy: startup
    from spinsyn.validation import check_writable_dir  # lazy: startup

    from .staging import check_out_dir, interrupt_guard  # lazy: startup

    out_dir = Path(out_dir)
    sources = tuple(Path(p) for p in ((source or {}).get("run_dir"), (source or {}).get("path")) if p)
    check_writable_dir(out_dir, "--out")  # before any work, for the Python API as for the CLI
    check_unlocked(out_dir, "--out")
    check_out_dir(out_dir, overwrite=overwrite, sources=sources)
    with interrupt_guard():
        return _export(w, cfg, out_dir, source, _device_for(cfg, device), levels, overwrite, notes, backend, sources)


def _export(w: np.ndarray, cfg: ExportConfig, out_dir: Path, source: dict[str, Any] | None, dev: SynapseDevice,
            levels: np.ndarray | None, overwrite: bool, notes: list[str] | None, backend: Any,
            sources: tuple[Path, ...]) -> ExportResult:
    clock = [time.perf_counter()]
    lm = map_layer(w, dev, cfg, levels)
    pulse = choose_write_pulse(lm, dev, cfg, backend)
    clock.append(time.perf_counter())
    prog = program_layer(lm, dev, cfg.seed, backend)
    clock.append(time.perf_counter())
    sched = build_schedule(lm, prog)
    clock.append(time.perf_counter())
    rep = layer_report(lm, prog, sched)
    clock.append(time.perf_counter())
    tiles = chip_tiles(lm, prog, sched, rep)
    meta, meta_arrays = chip_meta(lm, prog, rep, dev, cfg.seed)
    meta["source"] = source or {"kind": "array"}
    meta["notes"] = list(notes or [])
    meta["retention"] = retention_record(dev, cfg.deployment_s)
    meta["retention_s"] = meta["retention"]["retention_s"]
    meta["write_pulse"] = pulse
    clock.append(time.perf_counter())
    report = {"summary": rep.summary, "tiles": rep.tiles, "synapse": str(dev.spec), "levels_from": meta["levels_from"],
              "mapping": cfg.mapping, "source": meta["source"], "notes": meta["notes"],
              "retention": meta["retention"],
              "warnings": retention_warnings(meta["retention"]) + _pulse_warnings(pulse),
              "write_pulse": pulse}
    staging.write_chip_dir(out_dir, meta=meta, meta_arrays=meta_arrays, tiles=tiles, report=report,
                            targets_uS=lm.levels.g_S[lm.lv] * 1e6, discrete=lm.levels.discrete,
                            fusion=cfg.mapping == "unipolar", seed=cfg.seed, csv=cfg.csv, overwrite=overwrite,
                            sources=sources)
    clock.append(time.perf_counter())
    names = ("map_tile", "program", "schedule", "report", "tiles", "write_files")
    timings = {k: b - a for k, a, b in zip(names, clock[:-1], clock[1:])}
    timings["total"] = clock[-1] - clock[0]
    return ExportResult(out_dir, report, timings)
