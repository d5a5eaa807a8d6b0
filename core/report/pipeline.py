"""``OUT/report.html`` of ``spinsyn pipeline``: the run's accuracy summary, device curve, fit, receptive fields
and conductance map (the same sections as a study's best trial)."""

from __future__ import annotations

from pathlib import Path

from spinsyn.fileio import atomic_write_text, read_json
from spinsyn.validation import check_dir, check_writable_file

from .html import Page
from .pieces import Pieces, add_pieces

REPORT_NAME = "report.html"


def _summary(page: Page, out_dir: Path) -> None:
    """Accuracies from ``simulate.json`` (written by the pipeline's simulate step), or a note why not."""
    from spinsyn import hw_export  # lazy: startup

    page.heading("Summary")
    sim = out_dir / "simulate.json"
    if not sim.is_file():
        page.missing(f"accuracy: {sim} not found (the simulate step has not run)")
        return
    try:
        r = read_json(sim, fmt=hw_export.SIMULATION_FORMAT)
    except ValueError as exc:
        page.missing(f"accuracy: {exc}")
        return
    acc, key = r.get("accuracy"), r.get("accuracy_key")
    if not acc or key is None:
        page.missing(f"accuracy: {sim} has no accuracy (the chip was not exported from an snn run)")
        return
    rows = [(cond, f"{100 * v[key]:.2f} %") for cond, v in acc.items() if key in v]
    page.paragraph(f"{r.get('synapse', '')} synapses, {r.get('n_test', '?')} test images, readout {key}: "
                   f"accuracy drops by {r.get('drop_points', float('nan')):.2f} points from the trained network to the "
                   "programmed chip.")
    page.table(["condition", "accuracy"], rows)


def write_pipeline_report(out_dir: str | Path) -> Path:
    """Write ``out_dir/report.html`` (self-contained, images embedded; atomic) for the pipeline run in
    ``out_dir`` (``sweep.h5``, ``rule.json``, ``run/``, ``chip/``, ``simulate.json``; absent ones are stated in the
    page). Returns its path. ValueError naming the folder if it does not exist or cannot be written."""
    out_dir = check_dir(out_dir, "--out")
    out = check_writable_file(out_dir / REPORT_NAME, REPORT_NAME)
    page = Page(f"spinsyn pipeline report: {out_dir.resolve().name}")
    page.paragraph(f"{out_dir.resolve()}")
    _summary(page, out_dir)
    page.heading("Device, rule, network and chip")
    add_pieces(page, Pieces(out_dir / "sweep.h5", out_dir / "rule.json", out_dir / "run", out_dir / "chip"),
               prefix="pipeline")
    return atomic_write_text(out, page.render())
