"""``DIR/report.html`` of a study (``spinsyn study``): Pareto fronts, one effect plot per axis, the results
table, failed trials, and the best trial's device curve, fit, receptive fields and conductance map."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from spinsyn.fileio import atomic_write_text
from spinsyn.validation import check_dir, check_file, check_writable_file

from . import figures
from .html import Page, slug
from .pieces import Pieces, add_pieces, locate
from .results import PATH_COLUMNS, StudyResults, Trial, read_results, to_float

REPORT_NAME = "report.html"
#: (column, axis label) of each Pareto front; accuracy is always the other coordinate
FRONTS = (("energy_pJ_per_synapse", "programming energy (pJ per synapse)"),
          ("devices_per_synapse", "devices per synapse"))
PERCENT_COLUMNS = ("accuracy", "accuracy_lo", "accuracy_hi", "accuracy_trained")


def _points(trials: list[Trial], x_column: str | None) -> figures.Points:
    """Plot points of ``trials`` (x from ``x_column``, or 0 when None)."""
    x = np.array([t.num(x_column) if x_column else 0.0 for t in trials])
    acc, lo, hi = (np.array([t.num(c) for t in trials]) for c in ("accuracy", "accuracy_lo", "accuracy_hi"))
    return figures.Points(x, acc, lo, hi, labels=[t.cells["trial"] for t in trials])


def _scored(results: StudyResults) -> list[Trial]:
    """The ok trials that have an accuracy."""
    return [t for t in results.ok if not math.isnan(t.num("accuracy"))]


def _summary(page: Page, study_dir: Path, results: StudyResults) -> None:
    page.heading("Study")
    page.paragraph(f"{study_dir.resolve()}: {len(results.trials)} trials, {len(results.ok)} ok, "
                   f"{len(results.failed)} failed; axes: {', '.join(results.axes) or '(none)'}. Accuracies are "
                   "test-set accuracies after simulated chip programming, with their 95 % interval.")
    toml = study_dir / "study.toml"
    if toml.is_file():
        page.heading("study.toml", 3)
        page.preformatted(toml.read_text(encoding="utf-8", errors="replace"))


def device_rows(results: StudyResults) -> list[tuple[str, str, str]]:
    """(axis value, device label, source line) of every device file a study's ``device.preset`` axis names,
    and of the device stored in each rule file of its ``rule.source`` axis (a rule fitted from a sweep)."""
    from spinsyn.devices import is_device_file, read_device_file  # lazy: startup

    rows = []
    for axis in ("device.preset", "rule.source"):
        if axis not in results.axes:
            continue
        for value in dict.fromkeys(t.cells[axis] for t in results.trials):
            if not str(value).lower().endswith(".json"):
                continue
            if axis == "device.preset" and is_device_file(value):
                try:
                    dev = read_device_file(value)
                    rows.append((value, dev.label, dev.source_line()))
                except ValueError as exc:
                    rows.append((value, "unreadable", str(exc)))
            elif axis == "rule.source":
                rows.append((value, f"rule file {Path(value).name}", _rule_device_source(Path(value))))
    return rows


def _rule_device_source(path: Path) -> str:
    """The device a rule file was fitted on (its ``source.device`` cell label), or what it was fitted from."""
    try:
        src = json.loads(path.read_text()).get("source") or {}
    except (OSError, ValueError, AttributeError):
        return "unreadable"
    fields = ((src.get("device") or {}).get("model") or {}).get("fields") or {}
    cells = [fields] + [v for v in fields.values() if isinstance(v, dict)]
    label = next((c["source"] for c in cells if isinstance(c.get("source"), str) and c["source"]), None)
    fitted = f"fitted from {Path(str(src.get('path', '?'))).name} ({src.get('kind', '?')})"
    return f"{fitted} on device {label}" if label else fitted


def _devices(page: Page, results: StudyResults) -> None:
    rows = device_rows(results)
    if rows:
        page.heading("Devices and rule files", 3)
        page.table(["axis value", "device", "source"], rows, text_cols=[0, 1, 2])


def _fronts(page: Page, results: StudyResults, best: Trial | None) -> None:
    page.heading("Pareto fronts")
    with page.row():
        for column, label in FRONTS:
            _front(page, results, best, column, label)


def _front(page: Page, results: StudyResults, best: Trial | None, column: str, label: str) -> None:
    """One Pareto front: accuracy against ``column`` for the ok trials that have both."""
    trials = [t for t in _scored(results) if math.isfinite(t.num(column))]
    if not trials:
        page.missing(f"accuracy vs {label}: no ok trial has both values")
        return
    b = trials.index(best) if best in trials else None
    page.figure(f"pareto-{column}", figures.pareto_figure(_points(trials, column), label, b),
                alt=f"Pareto front of accuracy against {label}",
                caption=f"Accuracy against {label} for {len(trials)} ok trials (labels: trial), with 95 % "
                        "intervals. Red: the Pareto front (no other trial is both cheaper and more accurate).")


def _effects(page: Page, results: StudyResults) -> None:
    page.heading("Effect of each axis")
    if not results.axes:
        page.missing("the study has no axes (results.csv has no column between error and accuracy)")
        return
    trials = _scored(results)
    if not trials:
        page.missing("no ok trial has an accuracy")
        return
    page.paragraph("One plot per axis. The other axes are marginalised: blue is the mean accuracy over all ok trials "
                   "at each value of the axis (bar: the mean of their interval bounds); grey points are the single "
                   "trials with their 95 % intervals.")
    with page.row():
        for axis in results.axes:
            values = [t.cells[axis] for t in trials]
            page.figure(f"effect-{axis}", figures.effect_figure(axis, values, _points(trials, None)),
                        alt=f"mean accuracy against {axis}",
                        caption=f"Accuracy against {axis}, other axes marginalised (mean over the trials at each "
                                "value).")


def _cell(column: str, text: str) -> str:
    if column in PERCENT_COLUMNS and math.isfinite(to_float(text)):
        return f"{100 * to_float(text):.2f} %"
    v = to_float(text)
    if not math.isfinite(v) or column == "trial":
        return text
    return f"{int(v)}" if v.is_integer() and abs(v) < 1e12 else f"{v:.4g}"


def _table(page: Page, results: StudyResults) -> None:
    page.heading("Results")
    columns = [c for c in results.header if c != "error"]
    rows = [[_cell(c, t.cells[c]) for c in columns] for t in results.trials]
    page.table(columns, rows, text_cols=[columns.index(c) for c in PATH_COLUMNS])
    page.heading("Failed trials", 3)
    if results.failed:
        page.table(["trial", *results.axes, "error"],
                   [[t.cells["trial"], *(t.cells[a] for a in results.axes), t.cells["error"] or "(no message)"]
                    for t in results.failed], text_cols=[len(results.axes) + 1])
    else:
        page.paragraph("none")


def _best(page: Page, study_dir: Path, best: Trial | None) -> None:
    page.heading("Best trial")
    if best is None:
        page.missing("no ok trial with an accuracy: nothing to show")
        return
    c = best.cells
    page.paragraph(f"trial {c['trial']}: accuracy {_cell('accuracy', c['accuracy'])} "
                   f"[{_cell('accuracy_lo', c['accuracy_lo'])}, {_cell('accuracy_hi', c['accuracy_hi'])}]")
    page.table(["column", "value"], [(k, _cell(k, v)) for k, v in c.items() if k not in ("status", "error")],
               text_cols=[1])
    add_pieces(page, Pieces(locate(study_dir, c["sweep_dir"], "sweep.h5"), locate(study_dir, c["fit_dir"], "rule.json"),
                            locate(study_dir, c["run_dir"], "run"), locate(study_dir, c["chip_dir"], "chip")),
               prefix=f"best-{slug(c['trial'])}")


def write_study_report(study_dir: str | Path) -> Path:
    """Write ``study_dir/report.html`` (self-contained, images embedded; atomic) from the study's results.csv
    and cached stage outputs. Returns its path. ValueError naming the folder or file if they are not a study's."""
    study_dir = check_dir(study_dir, "study_dir")
    results = read_results(check_file(study_dir / "results.csv", "results.csv"))
    out = check_writable_file(study_dir / REPORT_NAME, REPORT_NAME)
    best = results.best()
    page = Page(f"spinsyn study report: {study_dir.resolve().name}")
    _summary(page, study_dir, results)
    _devices(page, results)
    _fronts(page, results, best)
    _effects(page, results)
    _table(page, results)
    _best(page, study_dir, best)
    return atomic_write_text(out, page.render())
