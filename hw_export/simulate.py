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

import dataclasses
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
from .tiling import TileLayout, from_tiles, to_tiles


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
                    rng: np.random.Generator, drive: Any = None) -> int:
    """Sample half-select disturb of the applied pulses into ``state`` (in place); returns devices changed.
    ``drive``: the chip's circuit (half-selected cells see its ``kappa`` shares of each pulse)."""
    R, C = layout.tile_rows, layout.tile_cols
    sched, used = cells.sched, cells.used
    applied = sched["step"] < n_used[cells.dev]
    n_disturbed = 0
    for t in range(layout.n_tiles):
        rows = np.flatnonzero((cells.tile_of_row == t) & applied)
        kappa = None if drive is None else drive.kappa(np.full(rows.size, t), sched["row"][rows], sched["col"][rows])
        d_lo, d_hi = np.searchsorted(used, [t * R * C, (t + 1) * R * C])
        loc = used[d_lo:d_hi] - t * R * C
        s = state[d_lo:d_hi]
        before: np.ndarray | None = None
        if not levels.discrete:  # the cells' states before disturb: an analog device's per-level wall response
            flat = np.zeros(R * C)
            flat[loc] = s
            before = flat.reshape(R, C)
        e_P, e_AP = half_select_exposure(cal, wv, (R, C), cells.cell[rows] - t * R * C,
                                         sched["v_V"][rows].astype(np.float64), sched["polarity"][rows],
                                         levels.discrete, kappa, before)
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
    drive = chip_drive(chip, dev, layout, levels, c)
    state, n_used = replay(dev, cal, state0, c.lo, c.hi, start, count, v_dac, c.sched["polarity"].astype(np.float64),
                           c.sched["width_ns"].astype(np.float64), rng, backend,
                           eta=None if drive is None else drive.eta)
    res = write_verify(dev, levels, cal, wv, state, levels.state[c.level], c.lo, c.hi, rng, n_pulses0=n_used,
                       backend=backend, drive=drive)
    state_prog = res.state.copy()
    g_prog = dev.conductance_S(state_prog)
    state, n_disturbed = res.state, 0
    if disturb:
        n_disturbed = _sample_disturb(dev, cal, wv, levels, layout, c, state, n_used, rng, drive)
    g_dist = dev.conductance_S(state) if disturb else g_prog
    stats = _program_stats(c, levels, scale, g_prog, g_dist, n_used, res.n_pulses - n_used, res.failed)
    stats.update({"disturbed_devices": n_disturbed, "seed": seed, "half_select": wv.half_select,
                  "disturb_sampled": bool(disturb)})
    if drive is not None:
        assert res.unreachable is not None  # set with a drive
        stats["unreachable"] = int(res.unreachable.sum())
    g0, s0 = float(levels.g_S[0]), levels.state[0]
    return {"g_S": _layer(g_dist, g0, c, layout), "g_programmed_S": _layer(g_prog, g0, c, layout),
            "state": _layer(state, s0, c, layout), "state_programmed": _layer(state_prog, s0, c, layout),
            "g_target_S": from_tiles(np.stack([t.g_target_S for t in chip.tiles]), layout),
            "level": from_tiles(np.stack([t.level for t in chip.tiles]), layout),
            "scale": scale, "levels": levels, "stats": stats}


def chip_drive(chip: Chip, dev: SynapseDevice, layout: TileLayout, levels: LevelTable, c: _Cells) -> Any:
    """The :class:`~spinsyn.hw_export.program.CircuitDrive` of a chip exported with ``--circuit`` (its record and
    the export's nominal write amplitude; the write share of each used cell on the target states, as the export
    computed it), else None."""
    rec = chip.meta.get("circuit")
    if rec is None:
        return None
    from .circuit.chipcircuit import tile_bias  # lazy: startup
    from .circuit.config import CircuitConfig  # lazy: startup
    from .program import CircuitDrive  # lazy: startup

    cfg = CircuitConfig.from_record(rec)
    v = float(chip.meta["summary"]["circuit"]["v_write_nominal_V"])
    wv = WriteVerifyConfig(**chip.meta["write_verify"])
    eta, k_row, k_col = (np.stack(x) for x in zip(*[tile_bias(cfg, dev, levels.state[t.level], v, wv.half_select)
                                                      for t in chip.tiles]))
    return CircuitDrive(eta.ravel()[c.used], cfg.v_driver_max_V if cfg.compensate else None, k_row, k_col)


def chip_circuit(chip: Chip, circuit: Any = None) -> Any:
    """The :class:`~spinsyn.hw_export.circuit.config.CircuitConfig` a chip is read through: the chip's own
    ``/meta/circuit`` record (it was exported for that circuit), else ``circuit`` (a what-if read of an ideal-line
    chip), else None. A chip with a record and another ``circuit`` is refused (ValueError)."""
    from .circuit.config import CircuitConfig  # lazy: startup

    rec = chip.meta.get("circuit")
    own = CircuitConfig.from_record(rec) if rec is not None else None
    if own is not None and circuit is not None and dataclasses.replace(circuit, compensate=own.compensate) != own:
        raise ValueError(f"{chip.path}: the chip was exported for its own circuit ({own.tech_node}, {own.access}); "
                         "the circuit options apply to chips exported without --circuit")
    return own if own is not None else circuit


def circuit_read(chip: Chip, out: dict[str, Any], cfg: Any) -> dict[str, Any]:
    """Read attenuation ``alpha`` (device_rows, device_cols) of the final chip states ``out["state"]`` through the
    circuit ``cfg`` (one read-matrix solve per tile, :func:`spinsyn.hw_export.circuit.readout.read_attenuation`),
    and its statistics."""
    from .circuit.readout import attenuation_stats, column_gain, read_attenuation  # lazy: startup

    dev = chip_device(chip)
    layout = _chip_parts(chip)[0]
    reset = out["levels"].state[0]
    st = to_tiles(np.asarray(out["state"]), layout, fill=reset)
    alpha = np.stack([read_attenuation(cfg, dev, st[t], max(1, dev.n_cells)) for t in range(layout.n_tiles)])
    mask = np.stack([t.mask for t in chip.tiles]).astype(bool)
    seen = column_gain(alpha, mask) if cfg.column_gain else alpha
    return {"alpha": from_tiles(seen, layout), "config": cfg.record(max(1, dev.n_cells)),
            "attenuation": attenuation_stats(alpha, mask), "after_column_gain": attenuation_stats(seen, mask),
            "column_gain": bool(cfg.column_gain), "v_read_V": float(dev.v_read_V)}


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
    ageing["accuracy_key"], ageing["from"] = key, ev["final_chip"]
    ageing["one_point"] = one_point_time(ageing["ages"], ageing["retention_s"])


def _check_adc(bits: int | None, offset_lsb: float, noise_lsb: float) -> None:
    from spinsyn.options import EXPORT_OPTIONS  # lazy: startup

    o = EXPORT_OPTIONS
    o["adc_bits"].check(bits)
    o["adc_offset_lsb"].check(offset_lsb)
    o["adc_noise_lsb"].check(noise_lsb)
    if bits is None and (offset_lsb or noise_lsb):
        raise ValueError(f"{o['adc_offset_lsb'].cli} / {o['adc_noise_lsb'].cli}: apply with --adc-bits only")


def _inference_cost(chip: Chip, out: dict[str, Any], cfg: Any, activity: dict[str, Any],
                    adc_bits: int | None) -> dict[str, Any]:
    """Energy, latency and area of inference through the chip's tiles (``circuit.chipcircuit``): one time step
    (every tile read once, rows driven with the test images' mean spike probability) and one image (its steps)."""
    from .circuit.chipcircuit import chip_inference_cost  # lazy: startup

    dev = chip_device(chip)
    layout = _chip_parts(chip)[0]
    g = to_tiles(np.asarray(out["g_S"]), layout, fill=float(out["levels"].g_S[0]))
    rec = chip_inference_cost(cfg, dev, g, activity["rows_active_per_step"], adc_bits)
    steps = int(activity["steps_per_image"])
    rec["per_image"] = {"steps": steps, "energy_J": rec["energy_J"]["total"] * steps,
                        "latency_s": rec["latency_s"]["total"] * steps}
    return rec


def simulate_chip(chip_dir: Path, *, seed: int = 1, n_test: int | None = None, data_dir: str | None = None,
                  run_dir: str | Path | None = None, eval_device: str = "auto", disturb: bool = True,
                  backend: Any = None, allow_extra: bool = False, after: list[tuple[str, float]] | str | None = None,
                  read_noise: float | None = None, circuit: Any = None, adc_bits: int | None = None,
                  adc_offset_lsb: float = 0.0, adc_noise_lsb: float = 0.0) -> dict[str, Any]:
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

    ``circuit`` (a ``CircuitConfig``): read chips exported without one through it (:func:`chip_circuit`; a chip
    exported with ``--circuit`` is always read through its own): ``circuit`` then holds the read attenuation
    statistics and the round trip the ``circuit`` condition and loss term. ``adc_bits`` (runs): add the ``adc``
    condition, every tile's column sums digitised at each time step (``adc_offset_lsb`` / ``adc_noise_lsb``: the
    static offset and conversion noise σ in LSB; :mod:`spinsyn.hw_export.roundtrip`).
    """
    from .ageing import check_ages, parse_ages  # lazy: startup
    from .roundtrip import evaluate_round_trip  # lazy: startup

    ages = parse_ages(after) if isinstance(after, str) else (check_ages(list(after)) if after else None)
    if n_test is not None:
        from spinsyn.validation import check_scalar  # lazy: startup

        check_scalar(n_test, "--n-test", int, min_val=1)
    _check_adc(adc_bits, adc_offset_lsb, adc_noise_lsb)
    chip = load_chip(Path(chip_dir), allow_extra=allow_extra)
    src = chip.meta.get("source", {})
    rd = Path(run_dir) if run_dir else (Path(src["run_dir"]) if src.get("run_dir") else None)
    if rd is not None:
        from spinsyn.snn import read_checkpoint  # lazy: startup

        read_checkpoint(rd)  # the run's checkpoint is range-checked before the chip is programmed
    cfg = chip_circuit(chip, circuit)
    out = program_chip(chip, seed=seed, disturb=disturb, backend=backend)
    if cfg is not None:
        out["circuit"] = circuit_read(chip, out, cfg)
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
    if cfg is not None:
        result["circuit"] = {k: v for k, v in out["circuit"].items() if k != "alpha"}
    if rd is None:
        result["accuracy"] = None
        result["note"] = "weights did not come from an snn run: no network to evaluate (pass --run RUN_DIR)"
        return result
    adc = None if adc_bits is None else {"bits": adc_bits, "rows": int(chip.meta["tiles"]["tile_rows"]),
                                         "offset_lsb_sigma": adc_offset_lsb, "noise_lsb_sigma": adc_noise_lsb,
                                         "seed": seed}
    ev = evaluate_round_trip(rd, chip, out, n_test=n_test, data_dir=data_dir, eval_device=eval_device, aged=aged,
                             read_noise=read_noise, adc=adc)
    result["weights"].update(ev.pop("weights"))
    result.update(ev)
    if cfg is not None:
        result["circuit"]["inference"] = _inference_cost(chip, out, cfg, ev["input_activity"], adc_bits)
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
