"""The per-run sections of a report: device curve, fit, receptive fields and conductance map.

Each file is read only through its owner's public reader (docs/CONTRACTS.md): the sweep by
``spinsyn.devices.plot_sweep`` / ``spinsyn.fitting.read_input`` (which call ``read_sweep``), the rule by
``spinsyn.fitting.load_rule``, the run by ``spinsyn.snn.load_run``, the chip by ``spinsyn.hw_export.load_chip``.
A piece that is absent (e.g. no sweep because the rule was the published one) or unreadable is stated in the
page instead of failing the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import figures
from .html import Page


@dataclass(frozen=True)
class Pieces:
    """Where one run's files are; None where the run has no such file."""

    sweep: Path | None  # sweep HDF5
    rule: Path | None  # rule JSON
    run: Path | None  # snn run folder
    chip: Path | None  # chip folder


def locate(base: Path, rel: str, name: str) -> Path | None:
    """``base/rel/name`` when it exists, else ``base/rel`` (the entry is the file or folder itself); None
    when ``rel`` is empty (the trial did not use that stage)."""
    if not rel.strip():
        return None
    p = base / rel
    return p / name if (p / name).exists() else p


def _guarded(page: Page, what: str, path: Path | None, absent: str, draw: Callable[[Path], None]) -> None:
    """Run ``draw(path)``; state in the page why not when ``path`` is None, missing or unreadable."""
    if path is None:
        page.missing(f"{what}: {absent}")
        return
    if not path.exists():
        page.missing(f"{what}: {path} not found")
        return
    try:
        draw(path)
    except (ValueError, OSError) as exc:  # SpinsynFileError is a ValueError and names the file
        page.missing(f"{what}: could not be read ({exc})")


def add_pieces(page: Page, pieces: Pieces, prefix: str) -> None:
    """Add the four sections for ``pieces``; figure ids start with ``prefix``."""
    page.heading("Device curve", 3)
    _guarded(page, "device curve", pieces.sweep, "no sweep for this run (its rule was not fitted from a device "
             "sweep, e.g. the published rule)", lambda p: _device_curve(page, p, prefix))
    page.heading("Learning-rule fit", 3)
    _guarded(page, "fit", pieces.rule, "no rule file for this run (it trained without one, e.g. the published "
             "default rule)", lambda p: _fit(page, p, pieces.sweep, prefix))
    page.heading("Receptive fields", 3)
    _guarded(page, "receptive fields", pieces.run, "no trained run", lambda p: _receptive_fields(page, p, prefix))
    page.heading("Conductance map", 3)
    _guarded(page, "conductance map", pieces.chip, "no exported chip", lambda p: _conductance(page, p, prefix))


def _device_curve(page: Page, sweep: Path, prefix: str) -> None:
    page.figure(f"{prefix}-device-curve", figures.sweep_png(sweep), alt=f"device sweep {sweep.name}: mean "
                "normalised conductance change and switching probability against the pre-post delay",
                caption=f"{sweep}: normalised ΔG(Δt) and switching probability (spinsyn.devices.plot_sweep).")


def _fit(page: Page, rule_path: Path, sweep: Path | None, prefix: str) -> None:
    from spinsyn.fitting import load_rule, read_input  # lazy: startup

    rule = load_rule(rule_path)
    data = read_input(sweep) if sweep is not None and sweep.is_file() else None
    png, axes = figures.fit_figure_axes(rule, data)
    page.figure(f"{prefix}-fit", png, axes=axes, alt=f"{rule.model} rule curve"
                + (" over the device sweep" if data is not None else ""),
                caption=f"{rule_path}: {rule.model} rule" + (f" fitted to {sweep}" if data is not None else
                                                             " (no sweep to compare with)"))
    rows = [(k, "—" if v.value is None else f"{v.value:.6g}", v.unit, "—" if v.stderr is None else f"{v.stderr:.3g}",
             "yes" if v.identifiable else "no") for k, v in rule.params.items()]
    page.table(["parameter", "value", "unit", "stderr (unit of value)", "identifiable"], rows)


def _receptive_fields(page: Page, run: Path, prefix: str) -> None:
    from spinsyn import snn  # lazy: startup

    net = snn.load_run(run)
    page.figure(f"{prefix}-receptive-fields",
                figures.receptive_fields_figure(net.w, f"{net.n_neurons} neurons, {net.spec} synapses"),
                alt=f"receptive fields of {net.n_neurons} neurons as 28 by 28 weight images",
                caption=f"{run}: input weights w ∈ [0, 1] of each excitatory neuron (spinsyn.snn.load_run).")


def chip_matrix(chip: Any) -> np.ndarray:
    """The layer's conductance map reached by programming (S; device rows × device columns) from a loaded chip
    (``spinsyn.hw_export.Chip``), assembled from its tiles by the tile map."""
    layer = chip.meta["layer"]
    g = np.full((int(layer["device_rows"]), int(layer["device_cols"])), np.nan)
    for t in chip.meta_arrays["tile_map"]:
        tile = chip.tiles[int(t["tile"])]
        r0, c0, nr, nc = (int(t[k]) for k in ("layer_row0", "layer_col0", "rows_used", "cols_used"))
        g[r0:r0 + nr, c0:c0 + nc] = np.where(tile.mask[:nr, :nc] > 0, tile.g_sim_S[:nr, :nc], np.nan)
    return g


def _conductance(page: Page, chip_dir: Path, prefix: str) -> None:
    from spinsyn.hw_export import load_chip  # lazy: startup

    chip = load_chip(chip_dir)
    g = chip_matrix(chip)
    s = chip.meta.get("summary", {})
    page.figure(f"{prefix}-conductance-map",
                figures.conductance_figure(g, chip.meta_arrays["g_levels_S"], f"{chip.meta['synapse']}: "
                                           f"{g.shape[0]}×{g.shape[1]} devices"),
                alt="crossbar conductance map after simulated programming, and the histogram of conductances",
                axes=["device row (input)", "device column (output)", "G (µS)", "devices (count, log scale)"],
                caption=f"{chip_dir}: {s.get('devices', '?')} devices on {chip.meta['tiles']['n_tiles']} tiles, "
                        f"{s.get('failed', '?')} failed write-verify (spinsyn.hw_export.load_chip).")
