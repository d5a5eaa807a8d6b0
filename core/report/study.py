"""``DIR/report.html`` of a study (``spinsyn study``): Pareto fronts over the design axes (one front per condition
value, :mod:`.fronts`), one effect plot per axis, the results table (a compact one, the full one folded), failed
trials, and the best trial's retention (a warning box when its device forgets within the deployment), device curve,
fit, receptive fields and conductance map."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.fileio import atomic_write_text
from spinsyn.validation import check_dir, check_file, check_writable_file

from . import figures
from .fronts import condition_fronts, front_figure, same_order, split_axes
from .html import Page, slug
from .pieces import Pieces, add_pieces, locate
from .results import (
    CIRCUIT_COLUMNS,
    METRIC_COLUMNS,
    PATH_COLUMNS,
    StudyResults,
    Trial,
    axis_roles,
    label,
    read_results,
    to_float,
)

REPORT_NAME = "report.html"
#: cost columns of the Pareto fronts (accuracy is always the other coordinate) unless an Optuna study names its
#: own objectives; a column that orders the trials as an earlier one does gives the same front and is not plotted
FRONTS = ("energy_pJ_per_synapse", "devices_per_synapse", "program_time_ns_per_synapse", "area_mm2",
          "inference_nJ_per_image")
PERCENT_COLUMNS = ("accuracy", "accuracy_lo", "accuracy_hi", "accuracy_trained")
#: metric columns of the compact results table (the full table is folded below it) and their short headers
COMPACT_METRICS = {"energy_pJ_per_synapse": "energy (pJ/synapse)", "devices_per_synapse": "devices/synapse",
                   "retention_s": "retention"}


def _points(trials: list[Trial], x_column: str | None) -> figures.Points:
    """Plot points of ``trials`` (x from ``x_column``, or 0 when None)."""
    x = np.array([t.num(x_column) if x_column else 0.0 for t in trials])
    acc, lo, hi = (np.array([t.num(c) for t in trials]) for c in ("accuracy", "accuracy_lo", "accuracy_hi"))
    return figures.Points(x, acc, lo, hi, labels=[t.cells["trial"] for t in trials])


def _scored(results: StudyResults) -> list[Trial]:
    """The ok trials that have an accuracy."""
    return [t for t in results.ok if not math.isnan(t.num("accuracy"))]


def study_document(study_dir: Path) -> dict[str, Any]:
    """The study's ``study.toml`` as a dict ({} when absent or not TOML: the report then uses the defaults)."""
    if sys.version_info >= (3, 11):
        import tomllib  # lazy: optional
    else:  # pragma: no cover - the study extra installs tomli on 3.10
        import tomli as tomllib  # lazy: optional
    try:
        return tomllib.loads((study_dir / "study.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def roles_of(doc: dict[str, Any], axes: list[str]) -> dict[str, str]:
    """Each axis's role from the ``[roles]`` table of a study document (quoted or nested dotted keys) over the
    defaults (:func:`.results.axis_roles`)."""
    given: dict[str, str] = {}

    def walk(table: Any, path: tuple[str, ...]) -> None:
        for k, v in (table.items() if isinstance(table, dict) else ()):
            if isinstance(v, dict):
                walk(v, (*path, k))
            elif v in ("design", "condition"):
                given[".".join((*path, k))] = v

    walk(doc.get("roles"), ())
    return axis_roles(axes, given)


def _summary(page: Page, study_dir: Path, results: StudyResults, roles: dict[str, str]) -> None:
    page.heading("Study")
    design, conditions = split_axes(results, roles)
    page.paragraph(f"{study_dir.resolve()}: {len(results.trials)} trials, {len(results.ok)} ok, "
                   f"{len(results.failed)} failed; axes: {', '.join(results.axes) or '(none)'}. Accuracies are "
                   "test-set accuracies after simulated chip programming, with their 95 % interval.")
    page.paragraph(f"Design axes (choices): {', '.join(label(a) for a in design) or '(none)'}; condition axes "
                   f"(what the chip meets): {', '.join(label(a) for a in conditions) or '(none)'}. Read noise and "
                   "device spreads are conditions unless [roles] in study.toml says otherwise (docs/study.md).")
    toml = study_dir / "study.toml"
    if toml.is_file():
        with page.collapsed("study.toml"):
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


def front_columns(doc: dict[str, Any]) -> tuple[str, ...]:
    """The cost columns to plot accuracy against: an Optuna study's ``:min`` objectives (lower is better), else
    :data:`FRONTS`."""
    st = doc.get("study")
    st = st if isinstance(st, dict) else {}
    objectives = st.get("objectives") if st.get("mode") == "optuna" else None
    if isinstance(objectives, list):
        pairs = [str(o).partition(":") for o in objectives]
        cols = tuple(m for m, _, d in pairs if d == "min" and m in METRIC_COLUMNS and not m.startswith("accuracy"))
        if cols:
            return cols
    return FRONTS


def _fronts(page: Page, results: StudyResults, roles: dict[str, str], costs: tuple[str, ...]) -> None:
    """One plot per (accuracy, cost) pair; a cost that orders the trials as an already plotted one is named,
    not drawn again."""
    page.heading("Pareto fronts")
    design, conditions = split_axes(results, roles)
    page.paragraph("Fronts over the design axes (" + (", ".join(label(a) for a in design) or "none") + "), one per "
                   + ("value of " + ", ".join(label(a) for a in conditions) if conditions else "study")
                   + ": a trial is compared only with trials under the same conditions. Filled markers are on "
                   "their condition's front (no trial under the same conditions is both cheaper and more accurate), "
                   "open ones are dominated; labels are design values; bars are 95 % intervals.")
    trials = _scored(results)
    shown: list[tuple[str, np.ndarray]] = []
    for cost in costs:
        x = np.array([t.num(cost) for t in trials])
        if not np.isfinite(x).any():
            if cost not in CIRCUIT_COLUMNS:  # those are empty unless the study reads chips through circuits
                page.missing(f"accuracy vs {label(cost)}: no ok trial has both values")
            continue
        twin = next((c for c, xs in shown if same_order(xs, x)), None)
        if twin is not None:
            page.paragraph(f"Not drawn again: {label(cost)} orders the trials as {label(twin)} does (the same "
                           "fronts).")
            continue
        shown.append((cost, x))
        fronts = condition_fronts(trials, design, conditions, cost)
        page.figure(f"pareto-{cost}", front_figure(fronts, label(cost)),
                    alt=f"Pareto fronts of accuracy against {label(cost)}",
                    caption=f"Accuracy against {label(cost)}: {len(fronts)} front(s), "
                            f"{sum(len(f.trials) for f in fronts)} ok trials.", axes=[label(cost), "accuracy (%)"])


def _effects(page: Page, results: StudyResults, roles: dict[str, str]) -> None:
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
            page.figure(f"effect-{axis}", figures.effect_figure(label(axis), values, _points(trials, None)),
                        alt=f"mean accuracy against {label(axis)}",
                        caption=f"Accuracy against {label(axis)} ({axis}, a {roles[axis]} axis), other axes "
                                "marginalised (mean over the trials at each value).",
                        axes=[label(axis), "accuracy (%)"])


def _cell(column: str, text: str) -> str:
    if column in PERCENT_COLUMNS and math.isfinite(to_float(text)):
        return f"{100 * to_float(text):.2f} %"
    v = to_float(text)
    if column == "retention_s" and text.strip():
        from spinsyn.hw_export.ageing import format_duration  # lazy: startup

        return format_duration(v) if math.isfinite(v) else text
    if not math.isfinite(v) or column == "trial":
        return text
    return f"{int(v)}" if v.is_integer() and abs(v) < 1e12 else f"{v:.4g}"


def _accuracy_cell(t: Trial) -> str:
    """``"62.80 [60.10, 65.30]"`` (%), or ``"—"`` without an accuracy."""
    a, lo, hi = (t.num(c) for c in ("accuracy", "accuracy_lo", "accuracy_hi"))
    if not math.isfinite(a):
        return "—"
    return f"{100 * a:.2f}" + (f" [{100 * lo:.2f}, {100 * hi:.2f}]" if math.isfinite(lo) and math.isfinite(hi)
                               else "")


def _table(page: Page, results: StudyResults) -> None:
    """A compact table that fits the page (axes, accuracy with its interval, energy, devices, retention), and
    every column of results.csv folded below it."""
    page.heading("Results")
    header = ["trial", "status", *(label(a) for a in results.axes), "accuracy (%) [95 % CI]",
              *COMPACT_METRICS.values()]
    rows = [[t.cells["trial"], t.cells["status"], *(t.cells[a] for a in results.axes), _accuracy_cell(t),
             *(_cell(m, t.cells[m]) if t.ok else "—" for m in COMPACT_METRICS)] for t in results.trials]
    page.table(header, rows)
    with page.collapsed(f"full table: every column of {results.path.name}"):
        columns = [c for c in results.header if c != "error"]
        full = [[_cell(c, t.cells[c]) for c in columns] for t in results.trials]
        page.table(columns, full, text_cols=[columns.index(c) for c in PATH_COLUMNS])
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
    _retention(page, study_dir, best)
    page.table(["column", "value"], [(k, _cell(k, v)) for k, v in c.items() if k not in ("status", "error")],
               text_cols=[1])
    add_pieces(page, Pieces(locate(study_dir, c["sweep_dir"], "sweep.h5"), locate(study_dir, c["fit_dir"], "rule.json"),
                            locate(study_dir, c["run_dir"], "run"), locate(study_dir, c["chip_dir"], "chip")),
               prefix=f"best-{slug(c['trial'])}")


def _retention(page: Page, study_dir: Path, best: Trial) -> None:
    """The best trial's retention with its unit, and a warning box when its chip's weights do not last the
    deployment (the chip's ``retention`` record, ``spinsyn.hw_export``)."""
    from spinsyn import hw_export  # lazy: startup
    from spinsyn.hw_export.ageing import format_duration, retention_warnings  # lazy: startup

    rec: dict[str, Any] = {}
    chip = locate(study_dir, best.cells["chip_dir"], "chip")
    if chip is not None and chip.is_dir():
        try:
            rec = hw_export.load_chip(chip, check=False).meta.get("retention") or {}
        except (ValueError, OSError):
            rec = {}
    warnings = retention_warnings(rec) if rec.get("deployment_s") is not None else []
    tau = format_duration(rec["retention_s"]) if "retention_s" in rec else _cell("retention_s",
                                                                                  best.cells["retention_s"])
    page.paragraph(f"Retention: {tau or 'not recorded'} (zero-bias "
                   "relaxation time of one MTJ; 'never' for a device without ageing). The accuracies of this study "
                   "are at the moment of programming.")
    if rec.get("volatile") or warnings:
        page.warning("The best trial's device forgets:", "; ".join(warnings) + ". Its accuracy falls after "
                     "programming; the figure below measures it (`spinsyn export simulate CHIP --after 1s,1h,1d`).")
    if chip is not None and chip.is_dir() and "retention_s" in rec:
        _best_ageing(page, chip, best)


#: the times after programming at which the report measures the best trial's chip (as the pipeline report)
BEST_AGES = "0,1s,1h,1d,1y"


def _best_ageing(page: Page, chip: Path, best: Trial) -> None:
    """The best trial's chip simulated at :data:`BEST_AGES` after programming (``simulate_chip(after=...)`` on the
    test images of its run, at most 1,000): accuracy over the deployment time next to the study's t = 0 figure."""
    from spinsyn import hw_export  # lazy: startup

    from . import figures  # lazy: startup

    n = best.cells.get("network.n_test")
    n_test = min(int(n), 1000) if isinstance(n, (int, float)) and n == n and n > 0 else 500
    try:
        sim = hw_export.simulate_chip(chip, seed=1, n_test=n_test, eval_device="cpu", after=BEST_AGES)
    except (ValueError, OSError) as exc:
        page.missing(f"accuracy over the deployment time: the best trial's chip could not be simulated ({exc})")
        return
    ag = sim.get("ageing") or {}
    if not ag.get("ages") or "accuracy" not in ag["ages"][0]:
        page.missing("accuracy over the deployment time: the best trial's chip has no snn run to evaluate")
        return
    png, axes = figures.ageing_figure(sim)
    page.figure(f"best-{slug(best.cells['trial'])}-ageing", png,
                alt="accuracy of the best trial's chip against the time after programming",
                caption=f"Best trial's chip: accuracy (%) and flipped MTJs (%) after zero-bias relaxation at "
                        f"{BEST_AGES} ({sim.get('n_test', n_test)} test images; the study's accuracies are at t = 0).",
                axes=axes)
    lost = (ag.get("one_point") or {}).get("time_s")
    if isinstance(lost, (int, float)):
        page.paragraph(f"1 accuracy point lost after {lost:.3g} s.")


def write_study_report(study_dir: str | Path) -> Path:
    """Write ``study_dir/report.html`` (self-contained, images embedded; atomic) from the study's results.csv
    and cached stage outputs. Returns its path. ValueError naming the folder or file if they are not a study's."""
    study_dir = check_dir(study_dir, "study_dir")
    results = read_results(check_file(study_dir / "results.csv", "results.csv"))
    out = check_writable_file(study_dir / REPORT_NAME, REPORT_NAME)
    best = results.best()
    doc = study_document(study_dir)
    roles = roles_of(doc, results.axes)
    page = Page(f"spinsyn study report: {study_dir.resolve().name}")
    _summary(page, study_dir, results, roles)
    _devices(page, results)
    _fronts(page, results, roles, front_columns(doc))
    _effects(page, results, roles)
    _table(page, results)
    _best(page, study_dir, best)
    return atomic_write_text(out, page.render())
