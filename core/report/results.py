"""``DIR/results.csv`` of a study, read into columns (the layout ``spinsyn study`` writes; docs/study.md).

Columns in order: ``trial``, ``status`` (``ok``|``failed``), ``error``, one column per axis (dotted path, e.g.
``device.n_mtj``), then :data:`METRIC_COLUMNS` and :data:`PATH_COLUMNS`. Axis columns are every column between
``error`` and ``accuracy``. Accuracies are fractions in [0, 1]; empty cells are missing values.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from spinsyn.fileio import SpinsynFileError

LEAD_COLUMNS = ("trial", "status", "error")
METRIC_COLUMNS = ("accuracy", "accuracy_lo", "accuracy_hi", "accuracy_trained", "energy_pJ_per_synapse",
                  "program_time_ns_per_synapse", "devices", "devices_per_synapse", "retention_s", "area_mm2",
                  "inference_nJ_per_image", "wall_s")
#: metric columns only studies of chips read through their circuits fill (export.circuit not "none")
CIRCUIT_COLUMNS = ("area_mm2", "inference_nJ_per_image")
PATH_COLUMNS = ("sweep_dir", "fit_dir", "run_dir", "chip_dir")
STATUSES = ("ok", "failed")


def to_float(text: str) -> float:
    """A cell as a float; NaN for an empty or non-numeric cell."""
    try:
        return float(text)
    except ValueError:
        return math.nan


@dataclass(frozen=True)
class Trial:
    """One row of results.csv: its cells by column name (strings, as written)."""

    cells: dict[str, str]

    @property
    def ok(self) -> bool:
        return self.cells["status"] == "ok"

    def num(self, column: str) -> float:
        """The cell of ``column`` as a float (NaN if empty)."""
        return to_float(self.cells.get(column, ""))


@dataclass(frozen=True)
class StudyResults:
    """Every trial of a study and its axis names (in column order)."""

    path: Path
    header: list[str]
    axes: list[str]
    trials: list[Trial]

    @property
    def ok(self) -> list[Trial]:
        return [t for t in self.trials if t.ok]

    @property
    def failed(self) -> list[Trial]:
        return [t for t in self.trials if not t.ok]

    def best(self) -> Trial | None:
        """The ok trial of highest accuracy (first in file order on ties), or None when no ok trial has one."""
        scored = [t for t in self.ok if not math.isnan(t.num("accuracy"))]
        return max(scored, key=lambda t: t.num("accuracy")) if scored else None


def _check_header(path: Path, header: list[str]) -> list[str]:
    """The axis names; SpinsynFileError naming the file if the header is not the study layout."""
    if tuple(header[:3]) != LEAD_COLUMNS:
        raise SpinsynFileError(f"{path}: header must start with {','.join(LEAD_COLUMNS)}; got {','.join(header[:3])}")
    missing = [c for c in (*METRIC_COLUMNS, *PATH_COLUMNS) if c not in header and c not in CIRCUIT_COLUMNS]
    if missing:
        raise SpinsynFileError(f"{path}: missing column(s) {', '.join(missing)}")
    if len(set(header)) != len(header):
        raise SpinsynFileError(f"{path}: repeated column names")
    return header[3:header.index("accuracy")]


def read_results(path: str | Path) -> StudyResults:
    """Read and check a study's results.csv; SpinsynFileError (a ValueError) naming the file if malformed."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SpinsynFileError(f"{path}: cannot be read as CSV ({exc})") from None
    if not rows:
        raise SpinsynFileError(f"{path}: empty file; expected the header of a study's results")
    header = rows[0]
    axes = _check_header(path, header)
    trials = []
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise SpinsynFileError(f"{path}: line {i} has {len(row)} cells, the header {len(header)}")
        cells = dict(zip(header, row))
        if cells["status"] not in STATUSES:
            raise SpinsynFileError(f"{path}: line {i}: status {cells['status']!r} is not one of {STATUSES}")
        trials.append(Trial(cells))
    return StudyResults(path, header, axes, trials)


#: axes that are operating conditions the chip meets (not design choices) unless a study's ``[roles]`` says
#: otherwise: the read noise and device-to-device spreads (temperature and deployment time join this list once
#: they become study settings). Every other axis is a design axis.
DEFAULT_CONDITIONS = ("device.read_noise", "device.g_spread", "device.sigma_pct")
ROLES = ("design", "condition")

#: axis and metric names as a reader sees them, with units
LABELS = {
    "device.preset": "device", "device.n_mtj": "MTJs per synapse", "device.levels": "domain-wall levels",
    "device.sigma_pct": "device spread σ (%)", "device.testbench": "testbench", "device.engine": "sweep engine",
    "device.trials": "sweep instances per Δt", "device.dt_ms": "swept Δt (ms)", "device.seed": "sweep seed",
    "device.read_noise": "read noise (σ/G)", "device.g_spread": "G spread (σ/G)", "rule.source": "learning rule",
    "network.neurons": "neurons", "network.n_train": "training images", "network.n_test": "test images",
    "network.epochs": "epochs", "network.input": "input preset", "network.seed": "network seed",
    "network.device": "torch device", "export.tile": "tile (rows×columns)",
    "export.tolerance": "write-verify tolerance (levels)", "export.write_pulse": "write pulse",
    "export.half_select": "half-select scheme", "export.seed": "export seed", "simulate.seed": "simulation seed",
    "accuracy": "accuracy (%)", "accuracy_trained": "accuracy before programming (%)",
    "energy_pJ_per_synapse": "programming energy (pJ per synapse)",
    "program_time_ns_per_synapse": "programming time (ns per synapse)",
    "devices": "magnetic devices", "devices_per_synapse": "devices per synapse (MTJs or DW)",
    "retention_s": "retention (s)", "wall_s": "wall time (s)",
    "export.circuit": "tiles as circuits (access device)", "export.tech_node": "technology node",
    "export.wire_ohm": "wire resistance (Ω per synapse)", "export.driver_ohm": "driver resistance (Ω)",
    "simulate.adc_bits": "column ADC bits", "area_mm2": "chip area (mm²)",
    "inference_nJ_per_image": "inference energy (nJ per image)",
}


def label(column: str) -> str:
    """``column`` (an axis key or a metric) as a label with its unit; the key itself when none is known."""
    return LABELS.get(column, column)


def axis_roles(axes: list[str], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """``design`` or ``condition`` for each axis: ``overrides`` (a study's ``[roles]``), else
    :data:`DEFAULT_CONDITIONS`."""
    over = overrides or {}
    return {a: over.get(a, "condition" if a in DEFAULT_CONDITIONS else "design") for a in axes}
