"""``OUT/report.html`` of ``spinsyn pipeline``: the run summary in pipeline order (devices -> fitting -> snn ->
hw_export) with the provenance of the device and the rule, the accuracy over the deployment time next to the
t = 0 accuracy (with a warning box when the device is volatile), then the device curve, fit, receptive fields
and conductance map (the same sections as a study's best trial)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.fileio import atomic_write_text, read_json, sha256_file
from spinsyn.validation import check_dir, check_writable_file

from . import figures
from .html import Page
from .pieces import Pieces, add_pieces

REPORT_NAME = "report.html"
#: a device whose one-MTJ retention is shorter than this is flagged volatile in the page (one day, s)
VOLATILE_BELOW_S = 86400.0


def _read(path: Path, fmt: str) -> tuple[dict[str, Any] | None, str]:
    """(the JSON document, "") or (None, why not)."""
    if not path.is_file():
        return None, f"{path} not found"
    try:
        return read_json(path, fmt=fmt), ""
    except ValueError as exc:
        return None, str(exc)


def _device_source(metrics: dict[str, Any] | None) -> str:
    """'device file NAME (sha256 12hex)', the preset, or the device recorded in the rule file, of the trained
    synapse (run/metrics.json ``synapse_device``)."""
    if metrics is None:
        return "unknown (no run/metrics.json)"
    sd = metrics.get("synapse_device") or {}
    preset, model = str(sd.get("preset") or "?"), sd.get("model") or {}
    fields = model.get("fields") or {}
    cells = [sd, fields] + [v for v in fields.values() if isinstance(v, dict)]
    source = next((str(c["source"]) for c in cells if "sha256" in str(c.get("source", ""))), None)
    spec = f" ({sd['spec']})" if sd.get("spec") else ""
    if source:
        return f"device file {source}{spec}"
    if preset.startswith("rule:"):
        return f"{model.get('name', '?')} model{spec} as recorded in {preset[5:]} (the device the rule was fitted on)"
    return f"preset {preset}{spec} (built in)"


def _rule_source(metrics: dict[str, Any] | None) -> str:
    """'rule file PATH (sha256 12hex)' or the published rule (run/metrics.json ``rule_function``)."""
    if metrics is None:
        return "unknown (no run/metrics.json)"
    rf = metrics.get("rule_function") or {}
    src = rf.get("source_file") or {}
    if src.get("path"):
        return f"rule file {Path(src['path']).name} (sha256 {str(src.get('sha256', ''))[:12]}), {rf.get('model', '')}"
    rule = (metrics.get("config") or {}).get("rule") or {}
    return f"published {rf.get('model', 'bisigmoid')} parameters (built in; rule {rule.get('name', '?')})"


def _pct(v: float | None) -> str:
    return "—" if v is None or not math.isfinite(v) else f"{100 * v:.2f}"


def _summary_rows(out_dir: Path, metrics: dict[str, Any] | None, sim: dict[str, Any] | None,
                  chip: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    """(stage, item, value) in pipeline order: devices -> fitting -> snn -> hw_export."""
    from spinsyn.hw_export.ageing import format_duration  # lazy: startup

    sweep = out_dir / "sweep.h5"
    rows = [("devices", "device", _device_source(metrics)),
            ("devices", "sweep", f"sweep.h5 (sha256 {sha256_file(sweep)[:12]})" if sweep.is_file() else "none")]
    rows.append(("fitting", "rule", _rule_source(metrics)))
    if metrics is not None:
        rows.append(("snn", "test accuracy after training (%)",
                     f"{_pct(metrics.get('accuracy_all_activity'))} all activity, "
                     f"{_pct(metrics.get('accuracy_proportion'))} proportion ({metrics.get('n_test', '?')} images)"))
    if chip is not None:
        s, ret = chip.get("summary", {}), chip.get("retention", {})
        rows.append(("hw_export", "chip", f"{s.get('synapses', '?')} synapses on {s.get('devices', '?')} devices, "
                     f"{s.get('tiles', '?')} tiles; {s.get('failed', '?')} failed write-verify"))
        rows.append(("hw_export", "retention of one MTJ", format_duration(ret.get("retention_s"))))
        if "circuit" in s:
            rows.append(("hw_export", "tiles as circuits", _circuit_text(s["circuit"])))
    if sim is not None and sim.get("accuracy"):
        key, fin = sim["accuracy_key"], sim.get("final", "programmed")
        rows.append(("hw_export", f"accuracy at t = 0 ({fin}, %)",
                     f"{_pct(sim['accuracy'][fin][key])}; drop {sim.get('drop_points', float('nan')):.2f} points "
                     f"from the trained network ({sim.get('n_test', '?')} images, readout {key})"))
        inf = (sim.get("circuit") or {}).get("inference")
        if inf:
            rows.append(("hw_export", "one inference through the circuit",
                         f"{inf['per_image']['energy_J'] * 1e9:.3g} nJ and {inf['per_image']['latency_s'] * 1e6:.3g} "
                         f"us per image, chip area {inf['area_um2']['total'] * 1e-6:.3g} mm² "
                         f"({inf['adc_bits']}-bit column ADCs)"))
        ag = sim.get("ageing") or {}
        if ag.get("ages") and "accuracy" in ag["ages"][-1]:
            one = (ag.get("one_point") or {}).get("time_s")
            rows.append(("hw_export", "1 accuracy point lost after",
                         format_duration(one) if one else f"not within {ag['ages'][-1]['label']}"))
    return rows


def _circuit_text(c: dict[str, Any]) -> str:
    """The export summary's circuit in one line: node, access, resistances, write share, unreachable, programming."""
    cfg, r, p = c["config"], c["config"]["resolved"], c["programming"]
    comp = "compensated" if c["compensated"] else "uncompensated"
    return (f"{cfg['tech_node']} {cfg['access']}, wire {r['r_wire_ohm']:.3g} Ω/synapse, driver {r['r_driver_ohm']:.3g} "
            f"Ω; write share η mean {c['eta']['mean']:.3f} (min {c['eta']['min']:.3f}), {comp}, "
            f"{c['unreachable']} devices unreachable; programming {p['energy_J']['total'] * 1e6:.3g} µJ")


def _conditions(sim: dict[str, Any]) -> list[str]:
    """The t = 0 conditions of ``simulate.json`` in pipeline order (trained -> programmed chip)."""
    from spinsyn.hw_export.roundtrip import AGED_PREFIX, CONDITIONS  # lazy: startup

    order = [name for name, _ in CONDITIONS]
    have = [c for c in sim["accuracy"] if not c.startswith(AGED_PREFIX)]
    return sorted(have, key=lambda c: order.index(c) if c in order else len(order))


def _volatile_warning(page: Page, sim: dict[str, Any] | None, chip: dict[str, Any] | None) -> None:
    """A warning box when one MTJ's retention is below :data:`VOLATILE_BELOW_S` or shorter than the deployment."""
    from spinsyn.hw_export.ageing import format_duration  # lazy: startup

    ret = (chip or {}).get("retention") or {}
    tau = ret.get("retention_s", ((sim or {}).get("ageing") or {}).get("retention_s"))
    if tau is None or (tau >= VOLATILE_BELOW_S and not ret.get("volatile")):
        return
    text = (f"one MTJ relaxes at zero bias within {format_duration(tau)} (retention), so the programmed weights "
            f"decay unless refreshed every {format_duration(ret.get('refresh_interval_s'))}.")
    ag = (sim or {}).get("ageing") or {}
    later = [a for a in ag.get("ages", []) if a["t_s"] > 0 and "accuracy" in a]
    if later:
        text += " Accuracy " + ", ".join(f"after {a['label']}: {100 * a['accuracy']:.1f} %" for a in later[:3])
        text += " (chance: 10 %). The t = 0 accuracy holds only at the moment of programming."
    page.warning("Volatile device.", text)


def _over_time(page: Page, sim: dict[str, Any] | None, sim_path: Path) -> None:
    """t = 0 accuracy per condition next to the accuracy over the deployment time, and the table of ages."""
    page.heading("Accuracy at programming and over the deployment time")
    if sim is None or not sim.get("accuracy"):
        page.missing(f"accuracy: {sim_path} has no accuracy (the simulate step has not run, or the chip was not "
                     "exported from an snn run)")
        return
    key, names = sim["accuracy_key"], _conditions(sim)
    ci = sim.get("accuracy_ci95", {})
    acc = np.array([sim["accuracy"][c][key] for c in names])
    lo = np.array([(ci.get(c) or [math.nan, math.nan])[0] for c in names], float)
    hi = np.array([(ci.get(c) or [math.nan, math.nan])[1] for c in names], float)
    ag = sim.get("ageing")
    with page.row():
        png, axes = figures.conditions_figure(names, acc, lo, hi, f"t = 0: {sim.get('n_test', '?')} test images, "
                                                                   f"readout {key}")
        page.figure("pipeline-accuracy-t0", png, alt="accuracy of each round-trip condition at programming time",
                    caption="Accuracy (%, 95 % CI) at t = 0, from the trained network to the programmed chip.",
                    axes=axes)
        if ag and ag.get("ages") and "accuracy" in ag["ages"][0]:
            png, axes = figures.ageing_figure(sim)
            page.figure("pipeline-ageing", png, alt="accuracy and flipped MTJs against the time after programming",
                        caption="Accuracy (%) and flipped MTJs (%) after zero-bias relaxation for each --after time "
                                "(spinsyn export simulate --after).", axes=axes)
    if not ag or not ag.get("ages") or "accuracy" not in ag["ages"][0]:
        page.missing(f"ageing: {sim_path} has no accuracy over time (delete it and report.html and rerun the same "
                     "spinsyn pipeline: only the simulate and report steps run)")
        return
    rows = [(a["label"], f"{a['t_s']:.4g}", _pct(a["accuracy"]),
             f"{_pct(a['accuracy_ci95'][0])} – {_pct(a['accuracy_ci95'][1])}", f"{a['retention_points']:.2f}",
             f"{100 * a['flipped_fraction']:.3g}") for a in ag["ages"]]
    page.table(["time after programming", "t (s)", "accuracy (%)", "95 % CI (%)", "loss vs t = 0 (points)",
                "flipped MTJs (%)"], rows)


def write_pipeline_report(out_dir: str | Path) -> Path:
    """Write ``out_dir/report.html`` (self-contained, images embedded; atomic) for the pipeline run in
    ``out_dir`` (``sweep.h5``, ``rule.json``, ``run/``, ``chip/``, ``simulate.json``; absent ones are stated in the
    page). Returns its path. ValueError naming the folder if it does not exist or cannot be written."""
    from spinsyn import hw_export  # lazy: startup

    out_dir = check_dir(out_dir, "--out")
    out = check_writable_file(out_dir / REPORT_NAME, REPORT_NAME)
    page = Page(f"spinsyn pipeline report: {out_dir.resolve().name}")
    page.paragraph(f"{out_dir.resolve()}")
    sim, why = _read(out_dir / "simulate.json", hw_export.SIMULATION_FORMAT)
    metrics, _ = _read(out_dir / "run" / "metrics.json", "spinsyn-metrics")
    chip, _ = _read(out_dir / "chip" / "report.json", "spinsyn-chip-report")
    page.heading("Summary (pipeline order: devices → fitting → snn → hw_export)")
    if sim is None:
        page.missing(f"accuracy: {why} (the simulate step has not run)")
    page.table(["stage", "item", "value"], _summary_rows(out_dir, metrics, sim, chip), text_cols=(1, 2))
    _volatile_warning(page, sim, chip)
    _over_time(page, sim, out_dir / "simulate.json")
    page.heading("Device, rule, network and chip")
    add_pieces(page, Pieces(out_dir / "sweep.h5", out_dir / "rule.json", out_dir / "run", out_dir / "chip"),
               prefix="pipeline")
    return atomic_write_text(out, page.render())
