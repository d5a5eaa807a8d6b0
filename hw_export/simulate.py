"""Round trip: execute a chip directory's schedules on the device model, then run the network.

The device is rebuilt from the chip's ``/meta/synapse_device`` record (``SynapseDevice.from_record``: the
device the chip was exported for, i.e. for run sources the one the network trained on). Each device starts
from the global reset. Its stored schedule is replayed step by step with verify (stop once inside the band),
on a *fresh* stochastic draw of the device model (another seed than the export, so another instance of its
variability). Devices the replay leaves outside the band get closed-loop write-verify pulses up to the cap
(counted as ``extra_pulses``). Half-select disturb from the pulses applied after each cell was programmed is
then sampled from the device model's switching probability. The programmed conductances are mapped back to
weights with the stored scale factors; for run sources the network (``spinsyn.snn.load_run``: the checkpoint
alone, no rule or sweep file) is evaluated under one noise model (:mod:`spinsyn.hw_export.roundtrip`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.devices import SynapseDevice, SynapseSpec, model_from_record

from .chipfile import Chip, load_chip
from .mapping import ScaleFactors, conductance_to_weights, weight_step
from .program import (
    Calibration,
    LevelTable,
    WriteVerifyConfig,
    calibrate,
    half_select_exposure,
    replay,
    write_verify,
)
from .tiling import TileLayout, from_tiles


def chip_device(chip: Chip) -> SynapseDevice:
    """The ``SynapseDevice`` a chip was exported for (format 1 chips: rebuilt from ``device_model``)."""
    rec = chip.meta.get("synapse_device")
    if rec is not None:
        return SynapseDevice.from_record(rec)
    model = model_from_record(chip.meta["device_model"])
    preset = str(chip.meta["device_model"].get("name", ""))
    return SynapseDevice(SynapseSpec.parse(chip.meta["synapse"]), model, preset,
                         float(chip.meta["write_verify"]["v_read_V"]))


def _chip_parts(chip: Chip) -> tuple[TileLayout, ScaleFactors, LevelTable, WriteVerifyConfig]:
    tl, layer = chip.meta["tiles"], chip.meta["layer"]
    layout = TileLayout(layer["device_rows"], layer["device_cols"], tl["tile_rows"], tl["tile_cols"])
    sc = dict(chip.meta["scale"])
    sc["g_levels_S"] = tuple(sc["g_levels_S"])
    discrete = SynapseSpec.parse(chip.meta["synapse"]).discrete
    st = chip.meta_arrays["level_state"]
    levels = LevelTable(state=st.astype(np.int64) if discrete else st, g_S=chip.meta_arrays["g_levels_S"],
                        discrete=discrete, n_max=float(st[-1]))
    return layout, ScaleFactors(**sc), levels, WriteVerifyConfig(**chip.meta["write_verify"])


@dataclass
class _Cells:
    """Used cells of a chip (D,) in programming order and its schedule rows (P,)."""

    used: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    level: np.ndarray
    sched: np.ndarray
    tile_of_row: np.ndarray
    cell: np.ndarray
    dev: np.ndarray


def _cells(chip: Chip, layout: TileLayout) -> _Cells:
    R, C = layout.tile_rows, layout.tile_cols
    mask = np.stack([t.mask for t in chip.tiles]).astype(bool)
    used = np.flatnonzero(mask.ravel())
    lo = np.concatenate([t.verify_lo_S.ravel() for t in chip.tiles])[used]
    hi = np.concatenate([t.verify_hi_S.ravel() for t in chip.tiles])[used]
    level = np.concatenate([t.level.ravel() for t in chip.tiles])[used]
    sched = np.concatenate([t.schedule for t in chip.tiles])
    tile_of_row = np.repeat(np.arange(layout.n_tiles), [t.schedule.size for t in chip.tiles])
    cell = tile_of_row * R * C + sched["row"].astype(np.int64) * C + sched["col"]
    return _Cells(used, lo, hi, level, sched, tile_of_row, cell, np.searchsorted(used, cell))


def _sample_disturb(dev: SynapseDevice, cal: Calibration, wv: WriteVerifyConfig, levels: LevelTable,
                    layout: TileLayout, cells: _Cells, state: np.ndarray, n_used: np.ndarray,
                    rng: np.random.Generator) -> int:
    """Sample half-select disturb of the applied pulses into ``state`` (in place); returns devices changed."""
    R, C = layout.tile_rows, layout.tile_cols
    sched, used = cells.sched, cells.used
    applied = sched["step"] < n_used[cells.dev]
    n_disturbed = 0
    for t in range(layout.n_tiles):
        rows = np.flatnonzero((cells.tile_of_row == t) & applied)
        e_P, e_AP = half_select_exposure(cal, wv, (R, C), cells.cell[rows] - t * R * C,
                                         sched["v_V"][rows].astype(np.float64), sched["polarity"][rows],
                                         levels.discrete)
        d_lo, d_hi = np.searchsorted(used, [t * R * C, (t + 1) * R * C])
        loc = used[d_lo:d_hi] - t * R * C
        s = state[d_lo:d_hi]
        if levels.discrete:
            up = rng.binomial((levels.n_max - s).astype(np.int64), -np.expm1(-e_P.ravel()[loc]))
            dn = rng.binomial(s.astype(np.int64), -np.expm1(-e_AP.ravel()[loc]))
            new = s + up - dn
        else:
            new = np.clip(s + e_P.ravel()[loc] - e_AP.ravel()[loc], 0.0, levels.n_max)
        n_disturbed += int(np.sum(new != s))
        state[d_lo:d_hi] = new
    return n_disturbed


def _layer(values: np.ndarray, fill: float, cells: _Cells, layout: TileLayout) -> np.ndarray:
    """(device_rows, device_cols) layer matrix of per-used-cell ``values`` (padding: ``fill``)."""
    T, R, C = layout.n_tiles, layout.tile_rows, layout.tile_cols
    full = np.full(T * R * C, fill, dtype=np.result_type(values.dtype, np.asarray(fill).dtype))
    full[cells.used] = values
    return from_tiles(full.reshape(T, R, C), layout)


def _program_stats(c: _Cells, levels: LevelTable, scale: ScaleFactors, g_prog: np.ndarray, g_dist: np.ndarray,
                   n_used: np.ndarray, extra: np.ndarray, failed: np.ndarray) -> dict[str, Any]:
    err = (g_dist - levels.g_S[c.level]) / scale.level_step_S
    return {
        "devices": int(c.used.size), "pulses_replayed": int(n_used.sum()), "extra_pulses": int(extra.sum()),
        "devices_needing_extra_pulses": int((extra > 0).sum()), "failed": int(failed.sum()),
        "inside_band_after_programming": float(((g_prog >= c.lo) & (g_prog <= c.hi)).mean()),
        "inside_band_after_disturb": float(((g_dist >= c.lo) & (g_dist <= c.hi)).mean()),
        "abs_error_levels_mean": float(np.abs(err).mean()), "abs_error_levels_max": float(np.abs(err).max()),
        "failed_by_level": {int(k): float(failed[c.level == k].mean()) for k in np.unique(c.level)},
    }


def program_chip(chip: Chip, *, seed: int = 1, disturb: bool = True, backend: Any = None,
                 stored_calibration: bool = False) -> dict[str, Any]:
    """Execute all schedules of ``chip`` on its device. Returns, as (device_rows, device_cols) layer matrices,
    the conductances ``g_S`` (after disturb, if sampled) and ``g_programmed_S`` (after write-verify, before
    disturb), the device states ``state`` / ``state_programmed``, the targets ``g_target_S`` and ``level``;
    the scale factors and statistics. ``stored_calibration``: drive with the calibration stored in the chip (what
    its controller holds; no half-select tables, so only with ``disturb=False``) instead of re-measuring it."""
    dev = chip_device(chip)
    layout, scale, levels, wv = _chip_parts(chip)
    rng = np.random.default_rng(seed)
    if stored_calibration and disturb:
        raise ValueError("program_chip: the stored calibration has no half-select tables; use disturb=False")
    cal = chip_calibration(chip) if stored_calibration else calibrate(dev, levels, wv, rng, backend)
    if cal.set_sign != int(chip.meta["calibration"]["set_sign"]):
        raise ValueError(f"{chip.path}: the device model's polarity differs from the one the chip was exported for")
    c = _cells(chip, layout)
    count = np.bincount(c.dev, minlength=c.used.size)
    start = np.cumsum(count) - count
    state0 = np.full(c.used.size, levels.state[0], dtype=levels.state.dtype)
    v_dac = np.round(c.sched["v_V"].astype(np.float64) / wv.v_resolution_V) * wv.v_resolution_V  # f4 -> DAC grid
    state, n_used = replay(dev, cal, state0, c.lo, c.hi, start, count, v_dac, c.sched["polarity"].astype(np.float64),
                           c.sched["width_ns"].astype(np.float64), rng, backend)
    res = write_verify(dev, levels, cal, wv, state, levels.state[c.level], c.lo, c.hi, rng, n_pulses0=n_used,
                       backend=backend)
    state_prog = res.state.copy()
    g_prog = dev.conductance_S(state_prog)
    state, n_disturbed = res.state, 0
    if disturb:
        n_disturbed = _sample_disturb(dev, cal, wv, levels, layout, c, state, n_used, rng)
    g_dist = dev.conductance_S(state) if disturb else g_prog
    stats = _program_stats(c, levels, scale, g_prog, g_dist, n_used, res.n_pulses - n_used, res.failed)
    stats.update({"disturbed_devices": n_disturbed, "seed": seed, "half_select": wv.half_select,
                  "disturb_sampled": bool(disturb)})
    g0, s0 = float(levels.g_S[0]), levels.state[0]
    return {"g_S": _layer(g_dist, g0, c, layout), "g_programmed_S": _layer(g_prog, g0, c, layout),
            "state": _layer(state, s0, c, layout), "state_programmed": _layer(state_prog, s0, c, layout),
            "g_target_S": from_tiles(np.stack([t.g_target_S for t in chip.tiles]), layout),
            "level": from_tiles(np.stack([t.level for t in chip.tiles]), layout),
            "scale": scale, "levels": levels, "stats": stats}


def chip_calibration(chip: Chip) -> Calibration:
    """The calibration a chip was exported with (``/meta/calibration`` and its arrays), without half-select
    tables."""
    c, a = chip.meta["calibration"], chip.meta_arrays
    return Calibration(a["calibration_v_V"], a["calibration_r_set"], a["calibration_r_reset"], int(c["set_sign"]),
                       float(c["width_ns"]), float(c["v_step_V"]), np.zeros(0), None, None)


def _ageing(chip: Chip, out: dict[str, Any], after: list[tuple[str, float]] | None,
            seed: int) -> tuple[list[dict[str, Any]] | None, dict[str, Any] | None]:
    """Age the programmed chip through ``after`` ((label, s), sorted): the aged states and the ageing record."""
    if not after:
        return None, None
    from .ageing import FLIP_FORMULA, age_chip, device_retention_s, no_ageing_model  # lazy: startup

    dev = chip_device(chip)
    tau = device_retention_s(dev)
    aged = age_chip(out["state"], out["level"], dev, out["levels"].g_S, out["scale"].level_step_S, after, seed)
    return aged, {"retention_s": tau, "model": no_ageing_model(dev) if tau is None else FLIP_FORMULA,
                  "ages": [a["stats"] for a in aged]}


def _ageing_accuracy(ageing: dict[str, Any], ev: dict[str, Any]) -> None:
    """Accuracy, CI and retention loss of every age (from the round trip) and the 1-point time, in place."""
    from .ageing import one_point_time  # lazy: startup
    from .roundtrip import AGED_PREFIX  # lazy: startup

    key, terms = ev["accuracy_key"], {t["to"]: t for t in ev["loss_terms"] if t["term"] == "retention"}
    for a in ageing["ages"]:
        c = AGED_PREFIX + a["label"]
        a.update({"accuracy": ev["accuracy"][c][key], "accuracy_ci95": ev["accuracy_ci95"][c],
                  "retention_points": terms[c]["points"], "retention_ci95_points": terms[c]["ci95_points"]})
    ageing["accuracy_key"], ageing["from"] = key, ev["final"]
    ageing["one_point"] = one_point_time(ageing["ages"], ageing["retention_s"])


def simulate_chip(chip_dir: Path, *, seed: int = 1, n_test: int | None = None, data_dir: str | None = None,
                  run_dir: str | Path | None = None, eval_device: str = "auto", disturb: bool = True,
                  backend: Any = None, allow_extra: bool = False, after: list[tuple[str, float]] | str | None = None,
                  read_noise: float | None = None) -> dict[str, Any]:
    """Verify CHIP_DIR, program it in simulation and, for snn runs, evaluate the round trip (``read_noise``: the
    read noise σ of compound synapses to evaluate with instead of the run's own, :func:`spinsyn.snn.with_read_noise`).

    Returns a dict with ``programming`` statistics, ``weights`` errors and (runs only, see
    :mod:`spinsyn.hw_export.roundtrip`) ``accuracy`` per condition (``trained``, ``trained_no_read_noise``,
    ``targets``, ``programmed``, ``disturbed``), ``loss_terms`` (each loss in percentage points with its 95 %
    CI), ``drop_points`` (trained − final condition) and the ``noise_model`` they share.

    ``after`` (``"0,1s,1h,1d,10y"`` or [(label, seconds)]): age the programmed chip by zero-bias relaxation
    (:mod:`spinsyn.hw_export.ageing`) to each time; ``ageing`` then holds, per time, the flip probability, the
    flipped fraction, the level error and (runs) the accuracy ``aged@<label>`` with its CI and retention loss,
    and ``one_point`` (the time at which 1 accuracy point is lost).
    """
    from .ageing import check_ages, parse_ages  # lazy: startup
    from .roundtrip import evaluate_round_trip  # lazy: startup

    ages = parse_ages(after) if isinstance(after, str) else (check_ages(list(after)) if after else None)
    if n_test is not None:
        from spinsyn.validation import check_scalar  # lazy: startup

        check_scalar(n_test, "--n-test", int, min_val=1)
    chip = load_chip(Path(chip_dir), allow_extra=allow_extra)
    src = chip.meta.get("source", {})
    rd = Path(run_dir) if run_dir else (Path(src["run_dir"]) if src.get("run_dir") else None)
    if rd is not None:
        from spinsyn.snn import read_checkpoint  # lazy: startup

        read_checkpoint(rd)  # the run's checkpoint is range-checked before the chip is programmed
    out = program_chip(chip, seed=seed, disturb=disturb, backend=backend)
    aged, ageing = _ageing(chip, out, ages, seed)
    scale = out["scale"]
    w_prog = conductance_to_weights(out["g_S"], scale)
    w_tgt = conductance_to_weights(out["g_target_S"], scale)
    step = weight_step(scale)
    result: dict[str, Any] = {
        "chip_dir": str(chip_dir), "synapse": chip.meta["synapse"], "programming": out["stats"],
        "weights": {"abs_error_vs_targets_mean_levels": float(np.abs(w_prog - w_tgt).mean() / step),
                    "abs_error_vs_targets_max_levels": float(np.abs(w_prog - w_tgt).max() / step)},
    }
    if ageing is not None:
        result["ageing"] = ageing
    if rd is None:
        result["accuracy"] = None
        result["note"] = "weights did not come from an snn run: no network to evaluate (pass --run RUN_DIR)"
        return result
    ev = evaluate_round_trip(rd, chip, out, n_test=n_test, data_dir=data_dir, eval_device=eval_device, aged=aged,
                             read_noise=read_noise)
    result["weights"].update(ev.pop("weights"))
    result.update(ev)
    if ageing is not None:
        _ageing_accuracy(ageing, ev)
    return result


def plot_ageing(result: dict[str, Any], path: Path) -> Path:
    """``accuracy_vs_time.png``: accuracy (95 % CI) and flipped-MTJ fraction against time after programming
    (:func:`spinsyn.hw_export.ageing.draw_ageing`)."""
    import matplotlib  # lazy: startup

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: startup

    from .ageing import draw_ageing  # lazy: startup

    fig = plt.figure(figsize=(7, 5))
    draw_ageing(fig, result)
    fig.tight_layout()
    path = Path(path)
    from spinsyn.fileio import atomic_path  # lazy: startup
    from spinsyn.validation import figure_save_kwargs  # lazy: startup

    fmt = path.suffix.lstrip(".") or "png"
    with atomic_path(path) as tmp:  # a refused write (EFBIG, ENOSPC) names path and leaves no partial figure
        fig.savefig(tmp, dpi=120, format=fmt, bbox_inches="tight",
                    **figure_save_kwargs(path.suffix or "png"))  # marked: rerun may replace
    plt.close(fig)
    return path
