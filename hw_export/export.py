"""Weights -> chip directory, in four steps composed by :func:`export_chip`:

1. :func:`map_layer` -- weights (or a run's trained device states) -> level per device, tiles, verify bands
   (:class:`LayerMap`);
2. :func:`program_layer` -- calibration and simulated write-verify of every device (:class:`Programmed`);
3. :func:`build_schedule` -- the pulses as per-tile schedules in programming order (:class:`Schedule`);
4. :func:`layer_report` -- half-select disturb, energy, time, per-tile and layer summaries (:class:`Report`);

then :func:`chip_tiles` / :func:`chip_meta` assemble what ``staging.open_chip_dir``'s writer stores.

The device is a ``spinsyn.devices.SynapseDevice``: the one an snn run trained on (rebuilt from the record in
its checkpoint, so the chip's level conductances are those the network trained with) or
``synapse_device(spec, preset, **params)`` for plain weight matrices.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.devices import SynapseDevice, SynapseSpec, synapse_device
from spinsyn.options import WritePulse

from . import staging, wvkernels
from .ageing import DEFAULT_DEPLOYMENT_S, retention_record, retention_warnings
from .chipfile import SCHEDULE_DTYPE, TileData
from .chipwriter import pack_tile
from .forked import ForkedWorkers, can_fork
from .mapping import MappingKind, ScaleFactors, make_scale, weight_range, weights_to_levels
from .program import (
    Calibration,
    CircuitDrive,
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
    write_verify,
)
from .tiling import TileLayout, make_layout


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
    circuit: Any = None  # spinsyn.hw_export.circuit.CircuitConfig: tiles as circuits (None: ideal lines)

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


#: cells (devices and padding) of one batch of whole tiles: the export maps, programs, schedules, reports and
#: writes the chip one batch at a time, so its memory does not grow with the chip (a tile larger than this is a
#: batch of its own). Part of the random-stream definition: batch 0 continues the calibration's generator,
#: batch b >= 1 draws from ``SeedSequence(seed, spawn_key=(b,))``; a chip of one batch is programmed exactly as
#: the whole-layer export before the streaming one.
BATCH_CELLS = 1 << 18


@dataclass
class LayerMap:
    """Step 1: the level of every device of the layer and its tiling. ``lv`` (I, M) level per device (int32);
    ``wv`` the write-verify config with an absolute tolerance resolved; ``tol_S`` band half-width (S).
    :meth:`tiles` cuts the per-tile arrays of a range of tiles (:class:`TileSet`)."""

    n_inputs: int
    n_outputs: int
    mapping: MappingKind
    levels: LevelTable
    scale: ScaleFactors
    lv: np.ndarray
    layout: TileLayout
    wv: WriteVerifyConfig
    tol_S: float
    from_state: bool
    circuit: Any = None  # CircuitConfig or None (ExportConfig.circuit)

    def batches(self, cells: int | None = None) -> list[tuple[int, int]]:
        """Tile ranges [t0, t1) of at most ``cells`` (default :data:`BATCH_CELLS`) cells each (at least one tile),
        in tile order."""
        per = max(1, (BATCH_CELLS if cells is None else cells) // (self.layout.tile_rows * self.layout.tile_cols))
        T = self.layout.n_tiles
        return [(t0, min(t0 + per, T)) for t0 in range(0, T, per)]

    def tiles(self, t0: int, t1: int) -> TileSet:
        """The levels and masks of tiles ``t0 .. t1 - 1`` (padding: reset level 0, mask False)."""
        lay = self.layout
        R, C = lay.tile_rows, lay.tile_cols
        lv_t = np.zeros((t1 - t0, R, C), np.int32)
        mask_t = np.zeros((t1 - t0, R, C), bool)
        for k, t in enumerate(range(t0, t1)):
            (r0, c0), (ru, cu) = lay.origin(t), lay.used(t)
            lv_t[k, :ru, :cu] = self.lv[r0:r0 + ru, c0:c0 + cu]
            mask_t[k, :ru, :cu] = True
        return TileSet(t0, lv_t, mask_t, np.flatnonzero(mask_t.ravel()))

    @property
    def n_cells(self) -> int:
        """MTJs per crossbar cell: N of compound:N, else 1."""
        return int(self.levels.n_max) if self.levels.discrete else 1

    def used_levels(self) -> np.ndarray:
        """(D,) level of every device in programming order (tile-major, row-major inside a tile's used block)."""
        lay = self.layout
        parts = []
        for t in range(lay.n_tiles):
            (r0, c0), (ru, cu) = lay.origin(t), lay.used(t)
            parts.append(self.lv[r0:r0 + ru, c0:c0 + cu].ravel())
        return np.concatenate(parts)


@dataclass
class TileSet:
    """Tiles ``t0 .. t0 + n - 1`` of a :class:`LayerMap`: ``lv_t``/``mask_t`` (n, R, C); ``used`` flat indices of
    real cells in programming order (tile-major, row-major inside a tile), local to the set."""

    t0: int
    lv_t: np.ndarray
    mask_t: np.ndarray
    used: np.ndarray

    @property
    def n_tiles(self) -> int:
        return int(self.lv_t.shape[0])

    def g_target_S(self, levels: LevelTable) -> np.ndarray:
        """(n * R * C,) target conductance of every cell (padding: reset level)."""
        return levels.g_S[self.lv_t.ravel()]


@dataclass
class Programmed:
    """Step 2: the write-verify outcome of the used cells of a tile set (targets and bands (D,))."""

    cal: Calibration
    res: ProgramResult
    g_t: np.ndarray
    lo_S: np.ndarray
    hi_S: np.ndarray
    drive: CircuitDrive | None = None  # with a circuit: the write shares (circuit.chipcircuit)
    eta: np.ndarray | None = None  # (n, R, C) write share of every cell with a circuit


@dataclass
class Schedule:
    """Step 3: schedule rows of a tile set in programming order (device-major, step inside). ``cell`` (P,) cell
    index ``(k * R + row) * C + col`` local to the set (k: tile of the set); ``v_V`` (P,) float64 amplitudes
    (``rows["v_V"]`` is float32); ``tile_of_row`` (P,) k; ``g_before_S`` (P,); ``row_bounds`` and ``dev_bounds``
    (n+1,) slices of rows / used devices per tile."""

    rows: np.ndarray
    cell: np.ndarray
    v_V: np.ndarray
    tile_of_row: np.ndarray
    g_before_S: np.ndarray
    row_bounds: np.ndarray
    dev_bounds: np.ndarray


@dataclass
class Report:
    """Step 4 for a tile set: disturb risk (n, R, C), per-tile report dicts and the set's summary partials."""

    risk: np.ndarray
    tiles: list[dict[str, Any]]
    partial: SummaryParts


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
    given ``levels_in`` (I, O): a run's trained device states, unipolar only), tiling and verify bands."""
    w = _check_weights(w)
    levels = level_table(dev)
    lo, hi = weight_range(w, cfg.mapping, cfg.w_range)
    scale = make_scale(levels.g_S, cfg.mapping, lo, hi)
    if levels_in is not None:
        lv = _given_levels(levels_in, w.shape, cfg.mapping, len(levels.g_S))
    else:
        lv = weights_to_levels(w, scale).astype(np.int32, copy=False)
    layout = make_layout(lv.shape, (cfg.tile_rows, cfg.tile_cols))
    if layout.n_tiles > 65536:
        raise ValueError(f"--tile: {layout.tile_rows}x{layout.tile_cols} tiles cut the {lv.shape[0]}x{lv.shape[1]} "
                         f"device matrix into {layout.n_tiles} tiles (at most 65536); use larger tiles")
    wv = dataclasses.replace(cfg.write_verify, v_read_V=dev.v_read_V)
    if wv.tolerance_S is not None:
        wv = dataclasses.replace(wv, tolerance_levels=wv.tolerance_S / scale.level_step_S, tolerance_S=None)
    return LayerMap(int(w.shape[0]), int(w.shape[1]), cfg.mapping, levels, scale, lv, layout, wv,
                    wv.tolerance_levels * scale.level_step_S, levels_in is not None, cfg.circuit)


def batch_rng(seed: int, batch: int, first: np.random.Generator) -> np.random.Generator:
    """The random generator of tile batch ``batch``: ``first`` (the calibration's) for batch 0, else an
    independent child stream of ``seed`` (see :data:`BATCH_CELLS`)."""
    if batch == 0:
        return first
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(batch,)))


def program_tiles(lm: LayerMap, ts: TileSet, dev: SynapseDevice, cal: Calibration, rng: np.random.Generator,
                  backend: Any = None) -> Programmed:
    """Step 2: write-verify every used cell of ``ts`` from the global reset with calibration ``cal``."""
    levels = lm.levels
    lv_u = ts.lv_t.ravel()[ts.used]
    g_t = levels.g_S[lv_u]
    lo_S, hi_S = g_t - lm.tol_S, g_t + lm.tol_S
    state0 = np.full(ts.used.size, levels.state[0], dtype=levels.state.dtype)
    bias = tiles_bias(lm, ts, dev, cal)
    drive = None if bias is None else CircuitDrive(
        bias[0].ravel()[ts.used], lm.circuit.v_driver_max_V if lm.circuit.compensate else None, bias[1], bias[2])
    res = write_verify(dev, levels, cal, lm.wv, state0, levels.state[lv_u], lo_S, hi_S, rng, backend=backend,
                       drive=drive)
    return Programmed(cal, res, g_t, lo_S, hi_S, drive, None if bias is None else bias[0])


def nominal_write_V(cal: Calibration) -> float:
    """The amplitude at which the calibrated mean set response crosses half the range (V): where a circuit's
    write share is evaluated."""
    return float(cal.v_for(np.array([0.5]), np.array([True]))[0])


def tiles_bias(lm: LayerMap, ts: TileSet, dev: SynapseDevice,
               cal: Calibration) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(eta (n, R, C), kappa_row (n, R), kappa_col (n, C)): write shares of every cell of ``ts`` and of its
    half-selected neighbours through its tile's circuit (None without one), on the target states
    (:func:`spinsyn.hw_export.circuit.chipcircuit.tile_bias`)."""
    if lm.circuit is None:
        return None
    from .circuit.chipcircuit import tile_bias  # lazy: startup

    st = lm.levels.state[ts.lv_t]
    v = nominal_write_V(cal)
    parts = [tile_bias(lm.circuit, dev, st[k], v, lm.wv.half_select) for k in range(ts.n_tiles)]
    return tuple(np.stack(x) for x in zip(*parts))  # type: ignore[return-value]


def build_schedule(lm: LayerMap, ts: TileSet, prog: Programmed) -> Schedule:
    """Step 3: the pulse log of ``ts`` as schedule rows, device-major (used cells ascending), step inside."""
    res, lay = prog.res, lm.layout
    R, C, T = lay.tile_rows, lay.tile_cols, ts.n_tiles
    n_p = res.n_pulses
    first = np.cumsum(n_p) - n_p
    P = int(n_p.sum())
    rows = np.empty(P, dtype=SCHEDULE_DTYPE)
    cell, v_V, g_before = np.empty(P, np.int64), np.empty(P), np.empty(P)
    tile_of_row = np.empty(P, np.int64)
    fields = tuple(rows[f] for f in ("row", "col", "step", "v_V", "width_ns", "polarity", "verify_lo_S",
                                     "verify_hi_S"))
    wvkernels.schedule_rows(res.dev, res.step, first, ts.used, res.v_V, res.polarity, res.g_before_S, prog.lo_S,
                            prog.hi_S, R, C, float(lm.wv.width_ns), fields, (cell, v_V, g_before, tile_of_row))
    # one pass; cell ascending (the used cells in order)
    dev_bounds = np.searchsorted(ts.used // (R * C), np.arange(T + 1))
    row_bounds = np.searchsorted(tile_of_row, np.arange(T + 1))
    return Schedule(rows, cell, v_V, tile_of_row, g_before, row_bounds, dev_bounds)


def _disturb_risk(lm: LayerMap, ts: TileSet, prog: Programmed, sched: Schedule) -> np.ndarray:
    """(n, R, C) half-select disturb risk of every cell of ``ts`` (0 on padding)."""
    lay, levels = lm.layout, lm.levels
    kappa = None if prog.drive is None else prog.drive.kappa(sched.tile_of_row, sched.rows["row"], sched.rows["col"])
    state = None if levels.discrete else levels.state[ts.lv_t].astype(np.float64)  # per-level wall response
    e_P, e_AP = half_select_exposure(prog.cal, lm.wv, (ts.n_tiles, lay.tile_rows, lay.tile_cols), sched.cell,
                                     sched.v_V, sched.rows["polarity"], levels.discrete, kappa, state)
    if levels.discrete:
        risk = disturb_probability(e_P, e_AP, levels.state[ts.lv_t].astype(np.float64), levels.n_max)
    else:  # expected net wall drift in levels
        risk = np.abs(e_P - e_AP) / levels.n_max * (len(levels.g_S) - 1)
    return np.where(ts.mask_t, risk, 0.0)


def _tile_costs(lm: LayerMap, ts: TileSet, sched: Schedule) -> dict[str, np.ndarray]:
    """Per-tile (n,) write, half-select and read energy (J), pulses, devices and time (ns) of ``ts``."""
    wv, lay = lm.wv, lm.layout
    T, R, C = ts.n_tiles, lay.tile_rows, lay.tile_cols
    g_used = np.where(ts.mask_t, ts.g_target_S(lm.levels).reshape(T, R, C), 0.0)
    vv = sched.v_V
    tr = sched.tile_of_row
    g_self = g_used.ravel()[sched.cell]
    if wv.half_select == "V/2":
        rc = (g_used.sum(axis=2).ravel()[tr * R + sched.rows["row"]]
              + g_used.sum(axis=1).ravel()[tr * C + sched.rows["col"]] - 2 * g_self)
    else:
        rc = g_used.sum(axis=(1, 2))[tr] - g_self
    # np.bincount(tr, pulse_energy_J(...)) of the write and half-select pulses and of g_before, in one pass
    e_write, e_hs, g_before = wvkernels.tile_energy_sums(tr, vv, sched.g_before_S, rc, wv.half_select_divisor,
                                                         float(wv.width_ns), T)
    e_read = (wv.v_read_V**2 * wv.t_read_ns * 1e-9) * (g_used.sum(axis=(1, 2)) + g_before)
    pulses = np.diff(sched.row_bounds)
    devices = ts.mask_t.sum(axis=(1, 2))
    time_ns = pulses * (wv.width_ns + wv.t_settle_ns) + (devices + pulses) * wv.t_read_ns
    return {"e_write": e_write, "e_hs": e_hs, "e_read": e_read, "pulses": pulses, "devices": devices,
            "time_ns": time_ns}


_HIST_EDGES = np.array([-np.inf, -1.5, -0.5, 0.5, 1.5, np.inf])


@dataclass
class SummaryParts:
    """Sums, maxima and counts of one or more tile sets, from which :meth:`summary` forms the layer summary
    (mean = sum / count, as ``np.mean`` computes it, so a chip of one batch gives the whole-layer figures)."""

    devices: int = 0
    pulses: int = 0
    pulses_max: float = 0.0
    failed: int = 0
    err_sum: float = 0.0
    err_max: float = 0.0
    hist: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(5, np.int64))
    inside: int = 0
    risk_sum: float = 0.0
    risk_max: float = 0.0
    risk_over: int = 0
    expo_sum: float = 0.0
    expo_max: float = 0.0
    hs_top: int = -1
    hs_P: list[float] = dataclasses.field(default_factory=lambda: [0.0, 0.0])  # sum, count over set pulses
    hs_AP: list[float] = dataclasses.field(default_factory=lambda: [0.0, 0.0])  # sum, count over reset pulses

    def add(self, o: SummaryParts) -> None:
        """Add another part (a later tile set)."""
        self.devices += o.devices
        self.pulses += o.pulses
        self.failed += o.failed
        self.inside += o.inside
        self.risk_over += o.risk_over
        self.hist += o.hist
        for k in ("pulses_max", "err_max", "risk_max", "expo_max"):
            setattr(self, k, max(getattr(self, k), getattr(o, k)))
        for k in ("err_sum", "risk_sum", "expo_sum"):
            setattr(self, k, getattr(self, k) + getattr(o, k))
        self.hs_top = max(self.hs_top, o.hs_top)
        for mine, theirs in ((self.hs_P, o.hs_P), (self.hs_AP, o.hs_AP)):
            mine[0] += theirs[0]
            mine[1] += theirs[1]

    def per_exposure(self, cal: Calibration) -> dict[str, Any]:
        n = max(self.devices, 1)
        out: dict[str, Any] = {"exposures_per_cell": {"mean": self.expo_sum / n if self.devices else 0.0,
                                                      "max": self.expo_max}}
        if cal.p_hs_P is None or self.hs_top < 0:
            return out
        assert cal.p_hs_AP is not None  # the calibration sets both directions together
        top = self.hs_top
        out.update({"v_half_select_max_V": float(cal.v_hs_V[top]),
                    "to_P_at_max": float(cal.p_hs_P[top]), "to_AP_at_max": float(cal.p_hs_AP[top]),
                    "to_P_mean": self.hs_P[0] / self.hs_P[1] if self.hs_P[1] else 0.0,
                    "to_AP_mean": self.hs_AP[0] / self.hs_AP[1] if self.hs_AP[1] else 0.0})
        return out

    def summary(self, lm: LayerMap, cal: Calibration, tiles: list[dict[str, Any]]) -> dict[str, Any]:
        """The layer summary of report.json and /meta (``tiles``: every tile's report dict)."""
        n_used, syn = self.devices, lm.n_inputs * lm.n_outputs
        energy = sum(r["energy_total_J"] for r in tiles)
        serial_s = sum(r["time_ns"] for r in tiles) * 1e-9
        return {
            "devices": int(n_used), "synapses": syn, "tiles": lm.layout.n_tiles,
            "pulses": int(self.pulses), "pulses_per_device": self._stat(self.pulses, self.pulses_max),
            "failed": int(self.failed), "failed_fraction": self.failed / n_used if n_used else 0.0,
            "abs_error_levels": self._stat(self.err_sum, self.err_max),
            "error_levels_histogram": {"edges": ["-inf", -1.5, -0.5, 0.5, 1.5, "inf"],
                                       "counts": self.hist.tolist()},
            "inside_band": int(self.inside),
            "time_parallel_tiles_s": max(r["time_ns"] for r in tiles) * 1e-9,
            "time_serial_tiles_s": serial_s,
            "energy_total_J": energy,
            "energy_per_synapse_J": energy / max(syn, 1),
            "time_per_synapse_serial_s": serial_s / max(syn, 1),
            "write_pulse": {"width_ns": lm.wv.width_ns, "v_max_V": lm.wv.v_max_V},
            "disturb_risk": {"mean": float(self.risk_sum / max(n_used, 1)), "max": float(self.risk_max),
                             "expected_disturbed_cells": float(self.risk_sum) if lm.levels.discrete else None,
                             "cells_over_1e-3": int(self.risk_over),
                             "unit": "probability" if lm.levels.discrete else "expected drift (levels)",
                             "scheme": lm.wv.half_select, "per_exposure": self.per_exposure(cal)},
            **({"circuit": _circuit_summary(lm, cal, tiles)} if lm.circuit is not None else {}),
        }

    def _stat(self, total: float, top: float) -> dict[str, float]:
        return {"mean": float(total) / self.devices if self.devices else 0.0, "max": float(top)}


def _circuit_summary(lm: LayerMap, cal: Calibration, tiles: list[dict[str, Any]]) -> dict[str, Any]:
    """The chip as a circuit: its record, the devices' write share and unreachable devices, programming cost."""
    from .circuit.chipcircuit import chip_programming_cost  # lazy: startup

    c = [t["circuit"] for t in tiles]
    n = np.array([t["devices"] for t in tiles], float)
    unreachable = int(sum(x["unreachable"] for x in c))
    return {"config": lm.circuit.record(lm.n_cells), "v_write_nominal_V": nominal_write_V(cal),
            "eta": {"mean": float(np.dot(n, [x["eta"]["mean"] for x in c]) / max(n.sum(), 1)),
                    "min": float(min(x["eta"]["min"] for x in c))},
            "unreachable": unreachable, "unreachable_fraction": unreachable / max(int(n.sum()), 1),
            "compensated": bool(lm.circuit.compensate),
            "programming": chip_programming_cost([x["programming"] for x in c]),
            "eta_model": "line model of the selected word and bit line (spinsyn.hw_export.circuit.bias) on the "
                         "tile's target states at v_write_nominal_V"}


def _parts(lm: LayerMap, ts: TileSet, prog: Programmed, sched: Schedule, risk: np.ndarray) -> SummaryParts:
    """The summary partials of one tile set."""
    res, cal, wv = prog.res, prog.cal, lm.wv
    err = (res.g_S - prog.g_t) / lm.scale.level_step_S
    abs_err = np.abs(err)
    flat = risk.ravel()
    lay = lm.layout
    expo = half_select_counts((ts.n_tiles, lay.tile_rows, lay.tile_cols), sched.cell, wv.half_select)[ts.mask_t]
    part = SummaryParts(
        devices=int(ts.used.size), pulses=int(res.n_pulses.sum()), pulses_max=float(res.n_pulses.max(initial=0)),
        failed=int(res.failed.sum()), err_sum=float(np.add.reduce(abs_err)), err_max=float(abs_err.max(initial=0.0)),
        hist=np.histogram(err, _HIST_EDGES)[0].astype(np.int64),
        inside=int(((res.g_S >= prog.lo_S) & (res.g_S <= prog.hi_S)).sum()),
        risk_sum=float(flat.sum()), risk_max=float(flat.max()), risk_over=int((flat > 1e-3).sum()),
        expo_sum=float(np.add.reduce(expo)), expo_max=float(expo.max(initial=0.0)))
    if cal.p_hs_P is not None and sched.v_V.size:
        assert cal.p_hs_AP is not None
        p_up, p_down, top = wvkernels.half_select_gather(sched.v_V, sched.rows["polarity"], wv.half_select_divisor,
                                                         wv.v_resolution_V, cal.p_hs_P, cal.p_hs_AP)
        part.hs_top = int(top)
        part.hs_P = [float(np.add.reduce(p_up)), float(p_up.size)]
        part.hs_AP = [float(np.add.reduce(p_down)), float(p_down.size)]
    return part


def tile_report(lm: LayerMap, ts: TileSet, prog: Programmed, sched: Schedule) -> Report:
    """Step 4: disturb risk, per-tile time/energy/error report and the summary partials of ``ts``."""
    risk = _disturb_risk(lm, ts, prog, sched)
    cost = _tile_costs(lm, ts, sched)
    res = prog.res
    abs_err = np.abs((res.g_S - prog.g_t) / lm.scale.level_step_S)
    tiles = []
    for k in range(ts.n_tiles):
        du = slice(sched.dev_bounds[k], sched.dev_bounds[k + 1])
        rt = risk[k]
        e = (float(cost["e_write"][k]), float(cost["e_hs"][k]), float(cost["e_read"][k]))
        tiles.append({
            "tile": ts.t0 + k, "devices": int(cost["devices"][k]), "pulses": int(cost["pulses"][k]),
            "pulses_per_device": _stats(res.n_pulses[du].astype(float)),
            "failed": int(res.failed[du].sum()), "time_ns": float(cost["time_ns"][k]),
            "energy_write_J": e[0], "energy_half_select_J": e[1], "energy_read_J": e[2], "energy_total_J": sum(e),
            "abs_error_levels": _stats(abs_err[du]),
            "disturb_risk": {"mean": float(rt[ts.mask_t[k]].mean()), "max": float(rt.max()),
                             "cells_over_1e-3": int((rt > 1e-3).sum())},
        })
        if prog.eta is not None:
            tiles[-1]["circuit"] = _tile_circuit(lm, ts, prog, sched, k)
    return Report(risk, tiles, _parts(lm, ts, prog, sched, risk))


def _tile_circuit(lm: LayerMap, ts: TileSet, prog: Programmed, sched: Schedule, k: int) -> dict[str, Any]:
    """Tile ``k`` of ``ts`` as a circuit: its cells' write share, unreachable devices, programming cost."""
    from .circuit.chipcircuit import eta_stats, tile_programming_cost  # lazy: startup

    assert prog.eta is not None and prog.res.unreachable is not None  # a circuit export sets both
    R, C = lm.layout.tile_rows, lm.layout.tile_cols
    rows = slice(sched.row_bounds[k], sched.row_bounds[k + 1])
    du = slice(sched.dev_bounds[k], sched.dev_bounds[k + 1])
    pulses = np.bincount(sched.cell[rows] - k * R * C, minlength=R * C).reshape(R, C).astype(np.float64)
    g = lm.levels.g_S[ts.lv_t[k]]
    v = float(sched.v_V[rows].mean()) if sched.v_V[rows].size else nominal_write_V(prog.cal)
    cells = ts.used[du][prog.res.unreachable[du]] - k * R * C
    return {"eta": eta_stats(prog.eta[k][ts.mask_t[k]]), "unreachable": int(cells.size),
            "unreachable_cells": np.stack([cells // C, cells % C], axis=1).tolist(),
            "v_applied_mean_V": v, "programming": tile_programming_cost(lm.circuit, lm.n_cells, g, pulses, v, lm.wv)}


def state_of_levels(levels: LevelTable, lv: np.ndarray) -> np.ndarray:
    """Target device state per level index (int16 MTJ counts, or float64 wall positions)."""
    s = levels.state[lv]
    return s.astype(np.int16) if levels.discrete else s.astype(np.float64)


def _cell_maps(lm: LayerMap, ts: TileSet, prog: Programmed) -> dict[str, np.ndarray]:
    """(n * R * C,) simulated conductance, pulses, failed flags and verify bands of every cell of ``ts``."""
    n = ts.n_tiles * lm.layout.tile_rows * lm.layout.tile_cols
    res = prog.res
    g = np.full(n, lm.levels.g_S[0])
    g[ts.used] = res.g_S
    npul = np.zeros(n, np.uint16)
    npul[ts.used] = res.n_pulses
    fail = np.zeros(n, np.uint8)
    fail[ts.used] = res.failed
    tgt = ts.g_target_S(lm.levels)
    return {"g_sim_S": g, "n_pulses": npul, "failed": fail, "g_target_S": tgt, "verify_lo_S": tgt - lm.tol_S,
            "verify_hi_S": tgt + lm.tol_S}


def chip_tiles(lm: LayerMap, ts: TileSet, prog: Programmed, sched: Schedule, rep: Report) -> list[TileData]:
    """One :class:`TileData` per tile of ``ts`` (datasets and attributes of ``/tiles/<i>``)."""
    lay = lm.layout
    R, C = lay.tile_rows, lay.tile_cols
    maps = _cell_maps(lm, ts, prog)
    per_out = 1 if lm.mapping == "unipolar" else 2
    tiles: list[TileData] = []
    for k in range(ts.n_tiles):
        t = ts.t0 + k
        sl = slice(k * R * C, (k + 1) * R * C)
        cidx = lay.col_index(t)
        col_sign = np.zeros(C, np.int8)
        if lm.mapping == "unipolar":
            col_sign[cidx >= 0] = 1
        else:
            col_sign[cidx >= 0] = np.where(cidx[cidx >= 0] % 2 == 0, 1, -1)
        (r0, c0), (ru, cu) = lay.origin(t), lay.used(t)
        cell = {key: v[sl].reshape(R, C) for key, v in maps.items()}
        tiles.append(TileData(
            **cell, state=state_of_levels(lm.levels, ts.lv_t[k]), level=ts.lv_t[k].astype(np.int32),
            mask=ts.mask_t[k].astype(np.uint8), row_index=lay.row_index(t),
            col_index=np.where(cidx >= 0, cidx // per_out, -1).astype(np.int32), col_sign=col_sign,
            disturb_risk=rep.risk[k], schedule=sched.rows[sched.row_bounds[k]:sched.row_bounds[k + 1]],
            attrs={"layer_row0": r0, "layer_col0": c0, "rows_used": ru, "cols_used": cu, "report": rep.tiles[k]},
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


def chip_meta(lm: LayerMap, cal: Calibration, summary: dict[str, Any], dev: SynapseDevice,
              seed: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``/meta`` attributes and datasets of chip.h5 (``summary``: :meth:`SummaryParts.summary`)."""
    lay, record = lm.layout, dev.record()
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
        "summary": summary,
        "seed": seed,
    }
    if lm.circuit is not None:  # the circuit the schedules were computed for (simulate reads the chip through it)
        meta["circuit"] = lm.circuit.record(lm.n_cells)
    arrays = {"g_levels_S": lm.levels.g_S, "level_state": lm.levels.state.astype(np.float64),
              "tile_map": lay.index_map(), "calibration_v_V": cal.v_V, "calibration_r_set": cal.r_set,
              "calibration_r_reset": cal.r_reset}
    return meta, arrays


def choose_write_pulse(lm: LayerMap, dev: SynapseDevice, cfg: ExportConfig, backend: Any = None,
                       procs: ForkedWorkers | None = None) -> dict[str, Any]:
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
    widths = None if procs is None else (lambda ws, params: procs.map(("widths", params, w) for w in ws))
    choice = search_write_pulse(dev, lm.levels, lm.wv, lm.used_levels(), lm.tol_S, tile, seed=cfg.seed,
                                backend=backend, map_widths=widths)
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


#: chips of at least this many tile batches are programmed in forked worker processes (one per core)
PROCESS_MIN_BATCHES = 4


def _export(w: np.ndarray, cfg: ExportConfig, out_dir: Path, source: dict[str, Any] | None, dev: SynapseDevice,
            levels: np.ndarray | None, overwrite: bool, notes: list[str] | None, backend: Any,
            sources: tuple[Path, ...]) -> ExportResult:
    clock = _Clock()
    lm = map_layer(w, dev, cfg, levels)
    procs = _workers(lm, dev, backend)  # forked before this export starts any thread
    try:
        with staging.open_chip_dir(out_dir, discrete=lm.levels.discrete, seed=cfg.seed, csv=cfg.csv,
                                   overwrite=overwrite, fusion=cfg.mapping == "unipolar", sources=sources) as cw:
            cw.start_matrices(lm.lv, lm.levels.g_S)  # the layer CSVs need only the levels: written meanwhile
            pulse = choose_write_pulse(lm, dev, cfg, backend, procs)
            rng = np.random.default_rng(cfg.seed)
            cal = calibrate(dev, lm.levels, lm.wv, rng, backend)
            clock.lap("map_tile")
            parts, tile_reports = SummaryParts(), []
            for rep, packed in _batches(lm, dev, cal, rng, cfg.seed, backend, clock, cw, procs):
                parts.add(rep.partial)
                tile_reports += rep.tiles
                cw.add_packed(packed)
                del rep, packed
            clock.lap("write_files")
            summary = parts.summary(lm, cal, tile_reports)
            meta, meta_arrays = chip_meta(lm, cal, summary, dev, cfg.seed)
            meta.update(source=source or {"kind": "array"}, notes=list(notes or []),
                        retention=retention_record(dev, cfg.deployment_s), write_pulse=pulse)
            meta["retention_s"] = meta["retention"]["retention_s"]
            report = {"summary": summary, "tiles": tile_reports, "synapse": str(dev.spec),
                      "levels_from": meta["levels_from"], "mapping": cfg.mapping, "source": meta["source"],
                      "notes": meta["notes"], "retention": meta["retention"],
                      "warnings": retention_warnings(meta["retention"]) + _pulse_warnings(pulse),
                      "write_pulse": pulse}
            cw.finish(meta, meta_arrays, report)
    finally:
        if procs is not None:
            procs.close()
    clock.lap("write_files")
    return ExportResult(out_dir, report, clock.timings())


def _workers(lm: LayerMap, dev: SynapseDevice, backend: Any) -> ForkedWorkers | None:
    """Forked workers (one per usable core) for a chip of at least :data:`PROCESS_MIN_BATCHES` batches, else None
    (the batches are then programmed in a thread of this process)."""
    from spinsyn.parallel import usable_cores  # lazy: startup

    n = min(usable_cores(), len(lm.batches()))
    if len(lm.batches()) < PROCESS_MIN_BATCHES or n < 2 or not can_fork():
        return None
    return ForkedWorkers(_batch_in_worker, (lm, dev, backend), n)


def program_batch(lm: LayerMap, dev: SynapseDevice, cal: Calibration, rng: np.random.Generator, t0: int, t1: int,
                  backend: Any = None) -> tuple[Report, list[TileData], dict[str, float]]:
    """Tiles ``t0 .. t1 - 1`` programmed with ``rng``, scheduled and reported: (report, tile data, seconds per
    step)."""
    t = time.perf_counter()
    ts = lm.tiles(t0, t1)
    prog = program_tiles(lm, ts, dev, cal, rng, backend)
    t_prog = time.perf_counter()
    sched = build_schedule(lm, ts, prog)
    t_sched = time.perf_counter()
    rep = tile_report(lm, ts, prog, sched)
    tiles = chip_tiles(lm, ts, prog, sched, rep)
    return rep, tiles, {"program": t_prog - t, "schedule": t_sched - t_prog, "report": time.perf_counter() - t_sched}


def _batch_in_worker(state: tuple[LayerMap, SynapseDevice, Any], arg: tuple[Any, ...]) -> Any:
    """One batch in a forked worker: programmed, then packed (compressed, CSVs written) for the writer; or
    (``("widths", params, w)``) one width of the write-pulse search."""
    lm, dev, backend = state
    if arg[0] == "widths":  # a width of the write-pulse search
        from .pulses import width_candidates  # lazy: startup

        return width_candidates(dev, arg[1], backend, arg[2])
    b, t0, t1, wv, cal, rng, seed, tmp, csv = arg
    lm = dataclasses.replace(lm, wv=wv)  # the write pulse chosen after the fork
    rep, tiles, spent = program_batch(lm, dev, cal, batch_rng(seed, b, rng), t0, t1, backend)
    t = time.perf_counter()
    packed = [pack_tile(td, t0 + k, tmp, csv=csv, discrete=lm.levels.discrete) for k, td in enumerate(tiles)]
    spent["pack"] = time.perf_counter() - t
    rep.risk = np.zeros(0)  # in the tiles' data already
    return rep, packed, spent


def _batches(lm: LayerMap, dev: SynapseDevice, cal: Calibration, rng: np.random.Generator, seed: int, backend: Any,
             clock: _Clock, cw: Any, procs: ForkedWorkers | None) -> Iterator[tuple[Report, list[Any]]]:
    """(report, packed tiles) of every batch in order: from the forked workers, or programmed in a worker thread
    one batch ahead and packed by the writer's threads."""
    if procs is not None:
        args = ((b, t0, t1, lm.wv, cal, rng if b == 0 else None, seed, cw.tmp, cw.csv)
                for b, (t0, t1) in enumerate(lm.batches()))
        for rep, packed, spent in procs.map(args):
            clock.add(**spent)
            yield rep, packed
        return
    for rep, tiles in _ahead(_programmed_batches(lm, dev, cal, rng, seed, backend, clock)):
        yield rep, cw.pack(tiles)  # packed by the writer's threads, stored as each tile is ready


class _Clock:
    """Wall time per named phase, summed over the tile batches (s)."""

    def __init__(self) -> None:
        self.t = time.perf_counter()
        self.t0 = self.t
        self.spent: dict[str, float] = {}

    def add(self, **seconds: float) -> None:
        for k, v in seconds.items():
            self.spent[k] = self.spent.get(k, 0.0) + v

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.spent[name] = self.spent.get(name, 0.0) + now - self.t
        self.t = now

    def timings(self) -> dict[str, float]:
        return {**self.spent, "total": self.t - self.t0}


def _programmed_batches(lm: LayerMap, dev: SynapseDevice, cal: Calibration, rng: np.random.Generator, seed: int,
                        backend: Any, clock: _Clock) -> Iterator[tuple[Report, list[TileData]]]:
    """Program, schedule and report the tile batches in order: (report, tile data) per batch. ``clock`` collects
    the program / schedule / report time (a thread of its own: these overlap the writing)."""
    for b, (t0, t1) in enumerate(lm.batches()):
        rep, tiles, spent = program_batch(lm, dev, cal, batch_rng(seed, b, rng), t0, t1, backend)
        clock.add(**spent)
        yield rep, tiles


def _ahead(batches: Iterator[Any]) -> Iterator[Any]:
    """The items of ``batches``, each computed in a worker thread while the caller consumes the previous one (at
    most two batches in memory). numpy releases the GIL in its array loops, so programming overlaps writing."""
    with ThreadPoolExecutor(1) as pool:
        nxt = pool.submit(next, batches, None)
        while (item := nxt.result()) is not None:
            nxt = pool.submit(next, batches, None)
            yield item
