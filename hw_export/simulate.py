"""Round trip: execute a chip directory's schedules on the device model, then run the network.

Each device starts from the global reset. Its stored schedule is replayed step by step with verify
(stop once inside the band), on a *fresh* stochastic draw of the device model (another seed than the
export, so another instance of its variability). Devices the replay leaves outside the band get closed-
loop write-verify pulses up to the cap (counted as ``extra_pulses``). Half-select disturb from the pulses
applied after each cell was programmed is then sampled from the device model's switching probability.
The programmed conductances are mapped back to weights with the stored scale factors.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import numpy as np

from .chipfile import Chip, load_chip
from .mapping import ScaleFactors, conductance_to_weights
from .program import (
    LevelTable,
    WriteVerifyConfig,
    calibrate,
    device_backend,
    half_select_exposure,
    replay,
    write_verify,
)
from .tiling import TileLayout, from_tiles


def rebuild_model(backend: Any, record: dict[str, Any]) -> Any:
    """Device model from its stored record (class name + dataclass fields, nested dataclasses allowed)."""
    cls = getattr(backend, record["class"], None)
    if cls is None or not dataclasses.is_dataclass(cls):
        raise ValueError(f"device model class {record['class']!r} is not provided by spinsyn.devices")
    return _build(cls, record["fields"])


def _build(cls: Any, fields: dict[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    kw = {}
    for f in dataclasses.fields(cls):
        if f.name not in fields:
            continue
        v = fields[f.name]
        t = hints.get(f.name)
        if isinstance(v, dict) and dataclasses.is_dataclass(t):
            v = _build(t, v)
        elif isinstance(v, list):
            v = tuple(v)
        kw[f.name] = v
    return cls(**kw)


def _chip_parts(chip: Chip) -> tuple[TileLayout, ScaleFactors, LevelTable, WriteVerifyConfig]:
    tl, layer = chip.meta["tiles"], chip.meta["layer"]
    layout = TileLayout(layer["device_rows"], layer["device_cols"], tl["tile_rows"], tl["tile_cols"])
    sc = dict(chip.meta["scale"])
    sc["g_levels_S"] = tuple(sc["g_levels_S"])
    scale = ScaleFactors(**sc)
    discrete = chip.meta["synapse"].startswith("compound:")
    st = chip.meta_arrays["level_state"]
    levels = LevelTable(state=st.astype(np.int64) if discrete else st, g_S=chip.meta_arrays["g_levels_S"],
                        discrete=discrete, n_max=float(st[-1]))
    wv = WriteVerifyConfig(**chip.meta["write_verify"])
    return layout, scale, levels, wv


def program_chip(chip: Chip, *, seed: int = 1, disturb: bool = True, backend: Any = None) -> dict[str, Any]:
    """Execute all schedules of ``chip`` on the device model. Returns programmed conductances
    ``g_S`` (device_rows, device_cols), target ``g_target_S`` and statistics."""
    backend = backend or device_backend()
    model = rebuild_model(backend, chip.meta["device_model"])
    layout, scale, levels, wv = _chip_parts(chip)
    rng = np.random.default_rng(seed)
    cal = calibrate(backend, model, levels, wv, rng)
    if cal.set_sign != int(chip.meta["calibration"]["set_sign"]):
        raise ValueError(f"{chip.path}: the device model's polarity differs from the one the chip was exported for")
    T, R, C = layout.n_tiles, layout.tile_rows, layout.tile_cols
    mask = np.stack([t.mask for t in chip.tiles]).astype(bool)
    used = np.flatnonzero(mask.ravel())
    lo = np.concatenate([t.verify_lo_S.ravel() for t in chip.tiles])[used]
    hi = np.concatenate([t.verify_hi_S.ravel() for t in chip.tiles])[used]
    level = np.concatenate([t.level.ravel() for t in chip.tiles])[used]
    sched = np.concatenate([t.schedule for t in chip.tiles])
    tile_of_row = np.repeat(np.arange(T), [t.schedule.size for t in chip.tiles])
    cell = tile_of_row * R * C + sched["row"].astype(np.int64) * C + sched["col"]
    dev = np.searchsorted(used, cell)
    count = np.bincount(dev, minlength=used.size)
    start = np.cumsum(count) - count
    state0 = np.full(used.size, levels.state[0], dtype=levels.state.dtype)
    v_dac = np.round(sched["v_V"].astype(np.float64) / wv.v_resolution_V) * wv.v_resolution_V  # f4 -> DAC grid
    state, n_used = replay(backend, model, wv, cal, state0, lo, hi, start, count,
                           v_dac, sched["polarity"].astype(np.float64),
                           sched["width_ns"].astype(np.float64), rng)
    res = write_verify(backend, model, levels, cal, wv, state, levels.state[level], lo, hi, rng, n_pulses0=n_used)
    state = res.state
    extra = res.n_pulses - n_used
    g_prog = np.asarray(backend.conductance_S(model, state, v_read_V=wv.v_read_V), np.float64)
    inside_programmed = (g_prog >= lo) & (g_prog <= hi)
    n_disturbed = 0
    if disturb:
        applied = (sched["step"] < n_used[dev])
        for t in range(T):
            rows = np.flatnonzero((tile_of_row == t) & applied)
            e_P, e_AP = half_select_exposure(cal, wv, (R, C), (cell[rows] - t * R * C),
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
        g_prog = np.asarray(backend.conductance_S(model, state, v_read_V=wv.v_read_V), np.float64)
    g_full = np.full(T * R * C, levels.g_S[0])
    g_full[used] = g_prog
    g_map = from_tiles(g_full.reshape(T, R, C), layout)
    g_tgt = from_tiles(np.stack([t.g_target_S for t in chip.tiles]), layout)
    err = (g_prog - levels.g_S[level]) / scale.level_step_S
    inside = (g_prog >= lo) & (g_prog <= hi)
    stats = {
        "devices": int(used.size), "pulses_replayed": int(n_used.sum()), "extra_pulses": int(extra.sum()),
        "devices_needing_extra_pulses": int((extra > 0).sum()), "failed": int(res.failed.sum()),
        "inside_band_after_programming": float(inside_programmed.mean()),
        "inside_band_after_disturb": float(inside.mean()), "disturbed_devices": n_disturbed,
        "abs_error_levels_mean": float(np.abs(err).mean()), "abs_error_levels_max": float(np.abs(err).max()),
        "seed": seed, "half_select": wv.half_select,
    }
    return {"g_S": g_map, "g_target_S": g_tgt, "scale": scale, "stats": stats}


def simulate_chip(chip_dir: Path, *, seed: int = 1, n_test: int | None = None, data_dir: str | None = None,
                  run_dir: str | Path | None = None, eval_device: str = "auto", disturb: bool = True,
                  backend: Any = None) -> dict[str, Any]:
    """Verify CHIP_DIR, program it in simulation and, for snn runs, evaluate accuracy before and after.

    Returns a dict with ``programming`` statistics, ``weights`` errors and (runs only) ``accuracy``
    with ``trained`` (checkpoint weights), ``targets`` (quantised targets, ideal programming),
    ``programmed`` (simulated programming) and ``drop_points`` (trained - programmed, percent points).
    """
    chip = load_chip(Path(chip_dir))
    out = program_chip(chip, seed=seed, disturb=disturb, backend=backend)
    scale = out["scale"]
    w_prog = conductance_to_weights(out["g_S"], scale)
    w_tgt = conductance_to_weights(out["g_target_S"], scale)
    from .mapping import weight_step

    step = weight_step(scale)
    result: dict[str, Any] = {
        "chip_dir": str(chip_dir), "programming": out["stats"],
        "weights": {"abs_error_vs_targets_mean_levels": float(np.abs(w_prog - w_tgt).mean() / step),
                    "abs_error_vs_targets_max_levels": float(np.abs(w_prog - w_tgt).max() / step)},
    }
    src = chip.meta.get("source", {})
    rd = Path(run_dir) if run_dir else (Path(src["run_dir"]) if src.get("run_dir") else None)
    if rd is None:
        result["accuracy"] = None
        result["note"] = "weights did not come from an snn run: no network to evaluate (pass --run RUN_DIR)"
        return result
    from spinsyn.mnist import load_mnist
    from spinsyn.snn import evaluate, load_run

    net = load_run(rd)
    images, labels = load_mnist("test", data_dir, n=n_test)
    from .inputs import load_checkpoint

    w_trained = load_checkpoint(rd / "checkpoint.pt")["w"]
    w_trained = w_trained.detach().cpu().double().numpy()
    result["weights"]["abs_error_vs_trained_mean_levels"] = float(np.abs(w_prog - w_trained).mean() / step)
    if w_trained.shape != w_prog.shape:
        raise ValueError(f"{rd}: trained weights {w_trained.shape} do not match the chip's layer {w_prog.shape}")
    acc = {}
    for name, w in (("trained", None), ("targets", w_tgt), ("programmed", w_prog)):
        r = evaluate(net, images, labels, device=eval_device, w=None if w is None else _like(w, net))
        acc[name] = {k: float(v) for k, v in r.items() if k.startswith("accuracy") and np.isscalar(v)}
    key = "accuracy_all_activity" if "accuracy_all_activity" in acc["trained"] else next(iter(acc["trained"]), None)
    result["accuracy"] = acc
    result["accuracy_key"] = key
    result["n_test"] = len(labels)
    if key:
        result["drop_points"] = 100.0 * (acc["trained"][key] - acc["programmed"][key])
        result["drop_points_quantisation"] = 100.0 * (acc["trained"][key] - acc["targets"][key])
    return result


def _like(w: np.ndarray, net: Any) -> Any:
    import torch

    return torch.as_tensor(np.clip(w, 0.0, 1.0), dtype=torch.float32)
