"""``DIR/results.csv`` and ``DIR/results.parquet``: one row per trial, rewritten (atomically, rows sorted by
trial) each time a trial finishes, so an interrupted study keeps every finished row and the files of two runs
of the same study compare line by line. Columns: :func:`columns` (docs/study.md)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from spinsyn.fileio import atomic_write_text, read_json, save_with

from .cache import entry_dir, entry_info, relative
from .params import PARAMS
from .trials import StageTask, Trial

METRICS = ("accuracy", "accuracy_lo", "accuracy_hi", "accuracy_trained", "energy_pJ_per_synapse",
           "program_time_ns_per_synapse", "devices", "devices_per_synapse", "retention_s", "area_mm2",
           "inference_nJ_per_image", "wall_s")
DIRS = {"sweep_dir": "sweep", "fit_dir": "fit", "run_dir": "train", "chip_dir": "export"}
CSV_NAME, PARQUET_NAME = "results.csv", "results.parquet"


def columns(axis_keys: list[str]) -> list[str]:
    """``trial, status, error, <axes...>, <metrics...>, wall_s, sweep_dir, fit_dir, run_dir, chip_dir``."""
    return ["trial", "status", "error", *axis_keys, *METRICS, *DIRS]


def axis_cell(key: str, value: Any) -> Any:
    """An axis value as stored: numbers and strings as they are, a tile as ``RxC``, delays as ``a:b:c``."""
    kind = PARAMS[key].kind
    if kind == "pair":
        return "x".join(str(v) for v in value)
    if kind == "range3":
        return ":".join(f"{v:g}" for v in value)
    return value


def _finite(x: Any) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None


def _metrics(root: Path, by_stage: dict[str, StageTask]) -> dict[str, Any]:
    from spinsyn import hw_export  # lazy: startup

    sim = read_json(entry_dir(root, "simulate", by_stage["simulate"].key) / "simulate.json",
                    fmt=hw_export.SIMULATION_FORMAT)
    key, final = sim["accuracy_key"], sim["final"]
    chip = hw_export.load_chip(entry_dir(root, "export", by_stage["export"].key) / "chip", check=False)
    s = chip.meta["summary"]
    lo, hi = sim["accuracy_ci95"][final]
    devices = _magnetic_devices(chip)
    return {"accuracy": sim["accuracy"][final][key], "accuracy_lo": lo, "accuracy_hi": hi,
            "accuracy_trained": sim["accuracy"]["trained"][key],
            "energy_pJ_per_synapse": s["energy_per_synapse_J"] * 1e12,
            "program_time_ns_per_synapse": s["time_per_synapse_serial_s"] * 1e9, "devices": devices,
            "devices_per_synapse": devices / s["synapses"], "retention_s": _finite(chip.meta.get("retention_s")),
            **_circuit_metrics(sim)}


def _circuit_metrics(sim: dict[str, Any]) -> dict[str, float | None]:
    """Chip area (mm²) and inference energy per image (nJ) of a chip read through its circuit (export.circuit
    not "none"), else empty cells."""
    inf = sim.get("circuit", {}).get("inference")
    if not inf:
        return {"area_mm2": None, "inference_nJ_per_image": None}
    return {"area_mm2": inf["area_um2"]["total"] * 1e-6, "inference_nJ_per_image": inf["per_image"]["energy_J"] * 1e9}


def _magnetic_devices(chip: Any) -> int:
    """MTJs (compound:N: N per crossbar cell) or domain-wall devices (one per cell) on the chip; the chip summary's
    ``devices`` counts crossbar cells (two per synapse with the differential mapping)."""
    from spinsyn.devices import KIND_COMPOUND, SynapseSpec  # lazy: startup

    spec = SynapseSpec.parse(chip.meta["synapse"])
    return int(chip.meta["summary"]["devices"]) * (spec.n if spec.kind == KIND_COMPOUND else 1)


def build_row(root: Path, trial: Trial, tasks: list[StageTask], error: str | None) -> dict[str, Any]:
    """The results row of a finished trial (``error`` None) or a failed one (metric cells empty)."""
    by_stage = {t.stage: t for t in tasks}
    row: dict[str, Any] = {"trial": trial.index, "status": "ok" if error is None else "failed", "error": error or ""}
    row.update({k: axis_cell(k, v) for k, v in trial.axes.items()})
    row.update(dict.fromkeys(METRICS))
    if error is None:
        row.update(_metrics(root, by_stage))
        row["wall_s"] = sum(float(entry_info(entry_dir(root, t.stage, t.key))["wall_s"]) for t in tasks)
    for col, stage in DIRS.items():
        t = by_stage.get(stage)
        row[col] = relative(root, entry_dir(root, stage, t.key)) if t is not None else ""
    return row


def _csv_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _schema(axis_keys: list[str]) -> Any:
    import pyarrow as pa  # lazy: optional

    kinds = {"int": pa.int64(), "float": pa.float64()}
    fields = [("trial", pa.int64()), ("status", pa.string()), ("error", pa.string())]
    fields += [(k, kinds.get(PARAMS[k].kind, pa.string())) for k in axis_keys]
    fields += [(m, pa.int64() if m == "devices" else pa.float64()) for m in METRICS]
    fields += [(d, pa.string()) for d in DIRS]
    return pa.schema(fields)


class ResultsWriter:
    """Holds the rows of a study and rewrites both result files whenever a row is added."""

    def __init__(self, root: Path, axis_keys: list[str]) -> None:
        self.root, self.axis_keys = Path(root), list(axis_keys)
        self.rows: dict[int, dict[str, Any]] = {}

    def load(self) -> dict[int, dict[str, Any]]:
        """Rows of an earlier run of this study (from results.parquet, which keeps types); {} if none."""
        path = self.root / PARQUET_NAME
        if path.is_file():
            import pyarrow.parquet as pq  # lazy: optional

            table = pq.read_table(path)
            if table.schema.names == columns(self.axis_keys):
                self.rows = {int(r["trial"]): r for r in table.to_pylist()}
        return self.rows

    def add(self, row: dict[str, Any]) -> None:
        """Record ``row`` (replacing an earlier row of that trial) and rewrite the files."""
        self.rows[int(row["trial"])] = row
        self.write()

    def write(self) -> None:
        import pyarrow as pa  # lazy: optional
        import pyarrow.parquet as pq  # lazy: optional

        cols = columns(self.axis_keys)
        rows = [self.rows[k] for k in sorted(self.rows)]
        table = pa.Table.from_pylist([{c: r.get(c) for c in cols} for r in rows], schema=_schema(self.axis_keys))
        save_with(self.root / PARQUET_NAME, lambda tmp: pq.write_table(table, tmp))
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        w.writerows([[_csv_cell(r.get(c)) for c in cols] for r in rows])
        atomic_write_text(self.root / CSV_NAME, buf.getvalue())
