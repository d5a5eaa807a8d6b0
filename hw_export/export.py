"""Weights -> chip directory: mapping, tiling, simulated write-verify schedules, report, files."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import chipfile
from .chipfile import SCHEDULE_DTYPE, TileData
from .mapping import MappingKind, ScaleFactors, SynapseSpec, make_scale, weight_range, weights_to_levels
from .program import (
    LevelTable,
    WriteVerifyConfig,
    calibrate,
    device_backend,
    disturb_probability,
    half_select_exposure,
    level_table,
    model_record,
    pulse_energy_J,
    resolve_model,
    write_verify,
)
from .tiling import make_layout, to_tiles


@dataclass(frozen=True)
class ExportConfig:
    """What to export and how. ``tile_rows`` x ``tile_cols`` crossbars; ``w_range`` (lo, hi) maps onto the
    conductance range (None: from the data; differential: symmetric)."""

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


@dataclass
class ExportResult:
    """Summary of one export: output folder, report dict and timings (s)."""

    out_dir: Path
    report: dict[str, Any]
    timings_s: dict[str, float]


def _stats(x: np.ndarray) -> dict[str, float]:
    if x.size == 0:
        return {"mean": 0.0, "max": 0.0}
    return {"mean": float(x.mean()), "max": float(x.max())}


def program_layer(w: np.ndarray, cfg: ExportConfig, backend: Any = None,
                  levels_in: np.ndarray | None = None) -> dict[str, Any]:
    """Map, tile and simulate write-verify for weight matrix ``w`` (I, O). Returns everything the writer
    needs (tiles, meta, report) without touching the disk. ``levels_in`` (I, O) int: device levels to use
    instead of quantising ``w`` (a hardware-aware run's trained states; unipolar only)."""
    backend = backend or device_backend()
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2 or min(w.shape) < 1 or not np.all(np.isfinite(w)):
        raise ValueError(f"weights: expected a finite 2-D matrix (inputs x outputs), got shape {w.shape}")
    wv = cfg.write_verify
    t0 = time.perf_counter()
    model = resolve_model(backend, cfg.synapse, cfg.device, cfg.device_params)
    levels = level_table(backend, model, cfg.synapse, wv.v_read_V)
    lo, hi = weight_range(w, cfg.mapping, cfg.w_range)
    scale = make_scale(levels.g_S, cfg.mapping, lo, hi)
    if levels_in is not None:
        lv = np.asarray(levels_in, dtype=np.int64)
        if cfg.mapping != "unipolar" or lv.shape != w.shape or lv.min() < 0 or lv.max() >= len(levels.g_S):
            raise ValueError(f"levels: expected unipolar levels of shape {w.shape} in 0..{len(levels.g_S) - 1}")
        lv = lv.astype(np.int32)
    else:
        lv = weights_to_levels(w, scale)
    layout = make_layout(lv.shape, (cfg.tile_rows, cfg.tile_cols))
    R, C, T = layout.tile_rows, layout.tile_cols, layout.n_tiles
    if T > 65536:
        raise ValueError(f"--tile: {R}x{C} tiles cut the {lv.shape[0]}x{lv.shape[1]} device matrix into {T} "
                         "tiles (at most 65536); use larger tiles")
    lv_t = to_tiles(lv, layout, fill=0)
    if wv.tolerance_S is not None:
        wv = dataclasses.replace(wv, tolerance_levels=wv.tolerance_S / scale.level_step_S, tolerance_S=None)
    mask_t = to_tiles(np.ones(lv.shape, np.uint8), layout, fill=0).astype(bool)
    t_map = time.perf_counter()

    rng = np.random.default_rng(cfg.seed)
    cal = calibrate(backend, model, levels, wv, rng)
    used = np.flatnonzero(mask_t.ravel())  # programming order: tile-major, row-major inside a tile
    lv_u = lv_t.ravel()[used]
    tol_S = wv.tolerance_levels * scale.level_step_S
    g_t = levels.g_S[lv_u]
    lo_S, hi_S = g_t - tol_S, g_t + tol_S
    tgt_state = levels.state[lv_u]
    state0 = np.full(used.size, levels.state[0], dtype=levels.state.dtype)
    res = write_verify(backend, model, levels, cal, wv, state0, tgt_state, lo_S, hi_S, rng)
    t_prog = time.perf_counter()

    # schedule rows in programming order: device-major (used cells ascend), step inside
    n_p = res.n_pulses
    first = np.cumsum(n_p) - n_p
    P = int(n_p.sum())
    perm = np.empty(P, np.int64)
    perm[first[res.dev] + res.step] = np.arange(P)
    dev_sorted = res.dev[perm]
    cell_g = used[dev_sorted]  # global cell index (t * R + row) * C + col, ascending
    cell_local = cell_g % (R * C)
    sched = np.empty(P, dtype=SCHEDULE_DTYPE)
    sched["row"] = cell_local // C
    sched["col"] = cell_local % C
    sched["step"] = res.step[perm]
    v_sorted = res.v_V[perm]
    sched["v_V"] = v_sorted
    sched["width_ns"] = wv.width_ns
    sched["polarity"] = res.polarity[perm]
    sched["verify_lo_S"] = lo_S[dev_sorted]
    sched["verify_hi_S"] = hi_S[dev_sorted]
    g_before = res.g_before_S[perm]
    t_sched = time.perf_counter()
    tile_of_row = cell_g // (R * C)
    tile_of_used = used // (R * C)
    dev_bounds = np.searchsorted(tile_of_used, np.arange(T + 1))
    row_bounds = np.searchsorted(tile_of_row, np.arange(T + 1))

    g_full = np.full(T * R * C, levels.g_S[0])
    g_full[used] = res.g_S
    npul_full = np.zeros(T * R * C, np.uint16)
    npul_full[used] = n_p
    fail_full = np.zeros(T * R * C, np.uint8)
    fail_full[used] = res.failed
    tgt_full = levels.g_S[lv_t.ravel()]
    lo_full, hi_full = tgt_full - tol_S, tgt_full + tol_S
    err_levels = (res.g_S - g_t) / scale.level_step_S

    t_maps = time.perf_counter()
    # half-select disturb, energy and time, all tiles at once
    pol_sorted = sched["polarity"]
    e_P, e_AP = half_select_exposure(cal, wv, (T, R, C), cell_g, v_sorted.astype(np.float64), pol_sorted,
                                     levels.discrete)
    tgt_state_full = levels.state[lv_t]
    if levels.discrete:
        risk = disturb_probability(e_P, e_AP, tgt_state_full.astype(np.float64), levels.n_max)
    else:  # expected net wall drift in levels
        risk = np.abs(e_P - e_AP) / levels.n_max * (len(levels.g_S) - 1)
    risk = np.where(mask_t, risk, 0.0)
    g_used = np.where(mask_t, tgt_full.reshape(T, R, C), 0.0)
    div = wv.half_select_divisor
    vv = v_sorted.astype(np.float64)
    e_write = np.bincount(tile_of_row, pulse_energy_J(vv, g_before, wv.width_ns), minlength=T)
    g_self = g_used.ravel()[cell_g]
    if wv.half_select == "V/2":
        rc = (g_used.sum(axis=2).ravel()[tile_of_row * R + sched["row"]]
              + g_used.sum(axis=1).ravel()[tile_of_row * C + sched["col"]] - 2 * g_self)
    else:
        rc = g_used.sum(axis=(1, 2))[tile_of_row] - g_self
    e_hs = np.bincount(tile_of_row, pulse_energy_J(vv / div, rc, wv.width_ns), minlength=T)
    e_read = (wv.v_read_V**2 * wv.t_read_ns * 1e-9) * (
        g_used.sum(axis=(1, 2)) + np.bincount(tile_of_row, g_before, minlength=T))
    pulses_t = np.diff(row_bounds)
    devices_t = mask_t.sum(axis=(1, 2))
    time_t = pulses_t * (wv.width_ns + wv.t_settle_ns) + (devices_t + pulses_t) * wv.t_read_ns
    abs_err = np.abs(err_levels)
    t_dist = time.perf_counter()
    sign_pattern = np.ones(layout.n_cols, np.int8) if cfg.mapping == "unipolar" else np.tile(
        np.array([1, -1], np.int8), layout.n_cols // 2)
    tiles: list[TileData] = []
    tile_reports = []
    for t in range(T):
        a, b = row_bounds[t], row_bounds[t + 1]
        du = slice(dev_bounds[t], dev_bounds[t + 1])
        sl = slice(t * R * C, (t + 1) * R * C)
        mask = mask_t[t]
        rt = risk[t]
        rep = {
            "tile": t, "devices": int(devices_t[t]), "pulses": int(pulses_t[t]),
            "pulses_per_device": _stats(n_p[du].astype(float)),
            "failed": int(res.failed[du].sum()), "time_ns": float(time_t[t]),
            "energy_write_J": float(e_write[t]), "energy_half_select_J": float(e_hs[t]),
            "energy_read_J": float(e_read[t]), "energy_total_J": float(e_write[t] + e_hs[t] + e_read[t]),
            "abs_error_levels": _stats(abs_err[du]),
            "disturb_risk": {"mean": float(rt[mask].mean()), "max": float(rt.max()),
                             "cells_over_1e-3": int((rt > 1e-3).sum())},
        }
        tile_reports.append(rep)
        r0, c0 = layout.origin(t)
        col_sign = np.zeros(C, np.int8)
        cidx = layout.col_index(t)
        col_sign[cidx >= 0] = sign_pattern[cidx[cidx >= 0]]
        out_idx = np.where(cidx >= 0, cidx // (1 if cfg.mapping == "unipolar" else 2), -1).astype(np.int32)
        tiles.append(TileData(
            g_target_S=tgt_full[sl].reshape(R, C), state=state_of_levels(levels, lv_t[t]),
            level=lv_t[t].astype(np.int32), mask=mask.astype(np.uint8), verify_lo_S=lo_full[sl].reshape(R, C),
            verify_hi_S=hi_full[sl].reshape(R, C), row_index=layout.row_index(t), col_index=out_idx,
            col_sign=col_sign, g_sim_S=g_full[sl].reshape(R, C), n_pulses=npul_full[sl].reshape(R, C),
            failed=fail_full[sl].reshape(R, C), disturb_risk=rt, schedule=sched[a:b],
            attrs={"layer_row0": r0, "layer_col0": c0, "rows_used": layout.used(t)[0],
                   "cols_used": layout.used(t)[1], "report": rep},
        ))
    disturb_full = risk.ravel()
    t_rep = time.perf_counter()
    hist_edges = np.array([-np.inf, -1.5, -0.5, 0.5, 1.5, np.inf])
    summary = {
        "devices": int(used.size), "synapses": int(w.size), "tiles": T, "pulses": P,
        "pulses_per_device": _stats(n_p.astype(float)), "failed": int(res.failed.sum()),
        "failed_fraction": float(res.failed.mean()) if used.size else 0.0,
        "abs_error_levels": _stats(np.abs(err_levels)),
        "error_levels_histogram": {"edges": ["-inf", -1.5, -0.5, 0.5, 1.5, "inf"],
                                   "counts": np.histogram(err_levels, hist_edges)[0].tolist()},
        "inside_band": int(((res.g_S >= lo_S) & (res.g_S <= hi_S)).sum()),
        "time_parallel_tiles_s": max(r["time_ns"] for r in tile_reports) * 1e-9,
        "time_serial_tiles_s": sum(r["time_ns"] for r in tile_reports) * 1e-9,
        "energy_total_J": sum(r["energy_total_J"] for r in tile_reports),
        "disturb_risk": {"mean": float(disturb_full.sum() / max(used.size, 1)), "max": float(disturb_full.max()),
                         "expected_disturbed_cells": float(disturb_full.sum()) if levels.discrete else None,
                         "cells_over_1e-3": int((disturb_full > 1e-3).sum()),
                         "unit": "probability" if levels.discrete else "expected drift (levels)",
                         "scheme": wv.half_select},
    }
    meta = {
        "device_model": model_record(model), "synapse": str(cfg.synapse),
        "mapping": {"kind": cfg.mapping, "column_layout": "unipolar: device column j = output j" if cfg.mapping ==
                    "unipolar" else "differential: device columns 2j (G+) and 2j+1 (G-) = output j",
                    "weight_formula": _formula(scale)},
        "scale": scale.to_json(),
        "levels_from": "trained device states" if levels_in is not None else "quantised weights",
        "write_verify": dataclasses.asdict(wv),
        "calibration": {"set_sign": cal.set_sign, "width_ns": cal.width_ns, "v_step_V": cal.v_step_V,
                        "note": "polarity +1 in schedules raises G; the physical voltage sign is set_sign"},
        "layer": {"n_inputs": int(w.shape[0]), "n_outputs": int(w.shape[1]), "device_rows": layout.n_rows,
                  "device_cols": layout.n_cols},
        "tiles": {"tile_rows": R, "tile_cols": C, "n_tiles": T, "grid": list(layout.grid),
                  "programming_order": "tiles in parallel; cells row-major inside a tile; steps in order"},
        "reset": {"state": float(levels.state[0]), "g_S": float(levels.g_S[0]),
                  "note": "global reset to the lowest-conductance state before programming"},
        "summary": summary,
        "seed": cfg.seed,
    }
    meta_arrays = {
        "g_levels_S": levels.g_S, "level_state": levels.state.astype(np.float64),
        "tile_map": layout.index_map(), "calibration_v_V": cal.v_V, "calibration_r_set": cal.r_set,
        "calibration_r_reset": cal.r_reset,
    }
    timings = {"map_tile": t_map - t0, "program": t_prog - t_map, "schedule": t_sched - t_prog,
               "maps": t_maps - t_sched, "disturb_energy": t_dist - t_maps, "tiles": t_rep - t_dist}
    return {"tiles": tiles, "meta": meta, "meta_arrays": meta_arrays, "summary": summary,
            "tile_reports": tile_reports, "layout": layout, "scale": scale, "levels": levels, "cal": cal,
            "lv": lv, "tgt_full": tgt_full, "timings": timings, "model": model}


def state_of_levels(levels: LevelTable, lv: np.ndarray) -> np.ndarray:
    """Target device state per level index (int16 MTJ counts, or float64 wall positions)."""
    s = levels.state[lv]
    return s.astype(np.int16) if levels.discrete else s.astype(np.float64)


def _formula(scale: ScaleFactors) -> str:
    if scale.mapping == "unipolar":
        return "w = w_lo + (G - g_min_S) / (g_max_S - g_min_S) * (w_hi - w_lo)"
    return "w = (G[:, 2j] - G[:, 2j+1]) / (g_max_S - g_min_S) * w_hi"


def export_chip(w: np.ndarray, cfg: ExportConfig, out_dir: Path, *, source: dict[str, Any] | None = None,
                backend: Any = None, overwrite: bool = False, levels: np.ndarray | None = None) -> ExportResult:
    """Export weight matrix ``w`` (I, O) to a ``spinsyn-chip`` directory ``out_dir`` (written atomically).

    ``source`` describes where the weights came from (path, sha256, kind) and is stored in /meta;
    ``levels`` (I, O) optionally gives the device levels directly (see :func:`program_layer`).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise ValueError(f"--out: {out_dir} already exists; choose a new folder or pass --overwrite")
    t0 = time.perf_counter()
    prog = program_layer(w, cfg, backend, levels)
    prog["meta"]["source"] = source or {"kind": "array"}
    tg = to_tiles_matrix(prog)
    t1 = time.perf_counter()
    report = {"summary": prog["summary"], "tiles": prog["tile_reports"], "synapse": str(cfg.synapse),
              "levels_from": prog["meta"]["levels_from"],
              "mapping": cfg.mapping, "source": prog["meta"]["source"]}
    chipfile.write_chip_dir(out_dir, meta=prog["meta"], meta_arrays=prog["meta_arrays"], tiles=prog["tiles"],
                            report=report, targets_uS=tg * 1e6, discrete=prog["levels"].discrete,
                            fusion=cfg.mapping == "unipolar",
                            seed=cfg.seed, csv=cfg.csv, overwrite=overwrite)
    timings = dict(prog["timings"])
    timings["write_files"] = time.perf_counter() - t1
    timings["total"] = time.perf_counter() - t0
    return ExportResult(out_dir, report, timings)


def to_tiles_matrix(prog: dict[str, Any]) -> np.ndarray:
    """Whole-layer target conductance matrix (device_rows, device_cols) in S."""
    return np.asarray(prog["levels"].g_S)[prog["lv"]]
