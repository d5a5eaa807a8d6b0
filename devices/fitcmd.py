"""``spinsyn device fit DATA.csv [MORE.csv ...] --out device.json``: a device model fitted from measured data.

Each file is read with the lab-file reader (``spinsyn.labfile``: units from headers, delimiter sniffing, ``#``
comments, extra columns and bad rows noted) and recognised by its columns:

* switching counts ``direction, width_ns, v_V, n_attempts, n_switched`` -> ``fit_switching`` (needs R_P,
  TMR0, Vh: a resistance file or ``--param r_p_ohm=... tmr0=... vh_V=...``);
* resistance vs bias ``state, v_V, r_ohm`` -> ``fit_resistance``;
* retention ``t_s, n_cells, n_flipped [, temperature_K]`` -> ``fit_retention`` (Delta; checked against the
  switching Delta when both are given);
* conductance vs pulse number (LTP/LTD) -> ``fit_graded`` (a graded device).

The device (``--family``: ``stt-mtj`` one cell, ``compound`` ``--cells`` N of them, ``graded``) goes to a
``spinsyn-device`` file (``devices.devicefile``) with every parameter's unit and 95 % interval, the data's range,
each fit's goodness and held-out error, the sources' sha256 and the command.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from typing import Any

import numpy as np
from spinsyn.labfile import merge_columns

KINDS = ("switching", "resistance", "retention", "pulses")
FAMILIES = ("auto", "stt-mtj", "compound", "graded")
ELECTRICAL_PARAMS = ("r_p_ohm", "tmr0", "vh_V")


def register(sub: Any) -> None:
    """Add ``device fit`` to the ``device`` subcommands."""
    f = sub.add_parser("fit", help="fit a device model from measured data (lab CSV) -> spinsyn-device JSON")
    f.add_argument("data", nargs="+", help="lab files: switching counts, resistance vs bias, retention, LTP/LTD")
    f.add_argument("--family", default="auto", choices=FAMILIES,
                   help="auto (default: stt-mtj from switching data, graded from LTP/LTD data), stt-mtj, compound "
                        "(--cells N of the fitted cell in parallel), graded")
    f.add_argument("--cells", type=int, default=8, help="cells of a compound device (default 8)")
    f.add_argument("--param", action="append", default=[], metavar="K=V",
                   help="a known number instead of data: r_p_ohm, tmr0, vh_V (no resistance file), temperature_K")
    f.add_argument("--columns", default=None, metavar="MAP",
                   help="column mapping for headers the reader does not know: name='header',... "
                        "(names: direction, width_ns, v_V, n_attempts, n_switched, state, r_ohm, t_s, ...)")
    f.add_argument("--strict-rows", action="store_true", help="refuse rows with blank/NaN values (default: drop, "
                                                                 "with a note)")
    f.add_argument("--folds", type=int, default=5, help="k of the k-fold held-out error (0: none; default 5)")
    f.add_argument("--out", required=True, help="device file to write (spinsyn-device JSON)")
    f.add_argument("--plot", default=None, help="figure of data against fit (.png/.pdf/.svg)")
    f.add_argument("--overwrite", action="store_true", help="replace --out/--plot that are not spinsyn's files")
    f.set_defaults(func=cmd_fit)


def column_sets() -> dict[str, tuple]:
    from .fit_graded import PULSE_COLUMNS  # lazy: startup
    from .fit_resistance import RESISTANCE_COLUMNS  # lazy: startup
    from .fit_retention import RETENTION_COLUMNS  # lazy: startup
    from .fit_switching import SWITCHING_COLUMNS  # lazy: startup

    return {"switching": SWITCHING_COLUMNS, "resistance": RESISTANCE_COLUMNS, "retention": RETENTION_COLUMNS,
            "pulses": PULSE_COLUMNS}


def read_data(path: str, mapping: dict[str, str], strict: bool) -> tuple[str, Any]:
    """(kind, LabTable) of one lab file: the first column set (:data:`KINDS` order) whose required columns it has.
    ValueError naming the file when none fits."""
    from spinsyn.labfile import read_table  # lazy: startup

    errors = []
    for kind, cols in column_sets().items():
        names = {c.name for c in cols}
        try:
            return kind, read_table(path, cols, mapping={k: v for k, v in mapping.items() if k in names},
                                    strict_rows=strict, what=f"{kind} data")
        except ValueError as exc:
            if "strict-rows" in str(exc) or "read budget" in str(exc):
                raise
            errors.append(f"{kind}: {str(exc).removeprefix(str(path) + ': ')}")
    raise ValueError(f"{path}: not switching, resistance, retention or LTP/LTD data ({'; '.join(errors)[:400]})")


def parse_params(items: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        key, sep, val = item.partition("=")
        if not sep or key not in (*ELECTRICAL_PARAMS, "temperature_K"):
            raise ValueError(f"--param: {item!r}; expected K=V with K one of {[*ELECTRICAL_PARAMS, 'temperature_K']}")
        try:
            v = float(val)
        except ValueError:
            raise ValueError(f"--param: {item!r}: {val!r} is not a number") from None
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"--param: {item!r}: expected a finite value > 0")
        out[key] = v
    return out


def check_args(args: argparse.Namespace) -> tuple[dict[str, float], dict[str, str]]:
    """Every option and file checked before any fitting."""
    from spinsyn.labfile import parse_mapping  # lazy: startup
    from spinsyn.validation import check_file, check_output_file  # lazy: startup

    for d in args.data:
        check_file(d, "DATA")
    check_output_file(args.out, "--out", writes="spinsyn-device", inputs=args.data, overwrite=args.overwrite,
                      also={"--plot": args.plot} if args.plot else None, suffixes=(".json",))
    if args.plot:
        from spinsyn.validation import FIGURE_FORMAT  # lazy: startup


        check_output_file(args.plot, "--plot", writes=FIGURE_FORMAT, inputs=args.data, overwrite=args.overwrite,
                          also={"--out": args.out})
    if not 1 <= args.cells <= 64:
        raise ValueError(f"--cells: got {args.cells}; expected 1..64")
    if args.folds != 0 and not 2 <= args.folds <= 20:
        raise ValueError(f"--folds: got {args.folds}; expected 0 or 2..20")
    return parse_params(args.param), (parse_mapping(args.columns) if args.columns else {})


def _source(kind: str, table: Any) -> dict[str, Any]:
    return {"path": table.path, "sha256": table.sha256, "kind": kind, "rows": table.n_rows,
            "dropped": table.n_dropped, "notes": list(table.notes)}


def cmd_fit(args: argparse.Namespace) -> int:
    from .devicefile import device_document, write_device_file  # lazy: startup

    params, mapping = check_args(args)
    tables: dict[str, list] = {k: [] for k in KINDS}
    for path in args.data:
        kind, table = read_data(path, mapping, args.strict_rows)
        tables[kind].append(table)
        for note in table.notes:
            print(f"spinsyn: note: {path}: {note}", file=sys.stderr)
        print(f"{path}: {kind} data, {table.n_rows} rows" + (f" ({table.n_dropped} dropped)" if table.n_dropped
                                                                else ""))
    family = _family(args.family, tables)
    model, sections = (_fit_graded(tables) if family == "graded" else _fit_mtj(tables, params, args.folds))
    if family == "compound":
        from .models import CompoundSynapse  # lazy: startup

        model = CompoundSynapse(args.cells, model)
    sources = [_source(k, t) for k in KINDS for t in tables[k]]
    doc = device_document(model, parameters=sections["parameters"], validity=sections["validity"],
                          fits=sections["fits"], sources=sources, provenance=_provenance())
    if args.plot:
        from .fit_plot import plot_fits  # lazy: startup

        plot_fits(tables, model, sections, args.plot)
    write_device_file(args.out, doc)
    _print_summary(args.out, doc)
    return 0


def _family(requested: str, tables: dict[str, list]) -> str:
    has_mtj = bool(tables["switching"])
    has_pulses = bool(tables["pulses"])
    if requested == "auto":
        if has_mtj == has_pulses:
            raise ValueError("--family: give switching data (an MTJ) or LTP/LTD data (a graded device), "
                             "or name the family")
        return "stt-mtj" if has_mtj else "graded"
    if requested in ("stt-mtj", "compound") and not has_mtj:
        raise ValueError(f"--family {requested}: needs switching data (direction, width, V, attempts, switched)")
    if requested == "graded" and not has_pulses:
        raise ValueError("--family graded: needs conductance vs pulse number data (LTP/LTD)")
    return requested


def _electrical(tables: dict[str, list], params: dict[str, float]) -> tuple[Any, dict[str, Any]]:
    """(Electrical, fit report or None) from a resistance file or --param."""
    from .fit_resistance import fit_resistance  # lazy: startup
    from .fit_switching import Electrical  # lazy: startup

    if tables["resistance"]:
        t = merge_columns(tables["resistance"])
        res = fit_resistance(t["state"], t["v_V"], t["r_ohm"])
        return Electrical(res["r_p_ohm"][0], res["tmr0"][0], res["vh_V"][0]), res
    missing = [k for k in ELECTRICAL_PARAMS if k not in params]
    if missing:
        raise ValueError(f"switching data need R_P, TMR0 and Vh: give a resistance file (state, v_V, r_ohm) or "
                         f"--param {' '.join(k + '=...' for k in missing)}")
    return Electrical(params["r_p_ohm"], params["tmr0"], params["vh_V"]), {}


def _fit_mtj(tables: dict[str, list], params: dict[str, float], folds: int) -> tuple[Any, dict[str, Any]]:
    from .fit_switching import SwitchingData, fit_switching  # lazy: startup

    el, res = _electrical(tables, params)
    s = merge_columns(tables["switching"])
    data = SwitchingData.from_columns(s["direction"], s["width_ns"], s["v_V"], s["n_attempts"], s["n_switched"])
    cell, rep = fit_switching(data, el, folds=folds, temperature_K=params.get("temperature_K", 300.0))
    fits: dict[str, Any] = {"switching": rep["switching"]}
    parameters = dict(rep["parameters"])
    for k, unit in (("r_p_ohm", "ohm"), ("tmr0", "1"), ("vh_V", "V")):
        if res:
            v, lo, hi = res[k]
            parameters[k] = {"value": v, "unit": unit, "ci95": [lo, hi], "method": "least squares (resistance)"}
        else:
            parameters[k] = {"value": params[k], "unit": unit, "ci95": None, "method": "given (--param)"}
    if res:
        fits["resistance"] = {k: v for k, v in res.items() if k not in ELECTRICAL_PARAMS}
    validity = dict(rep["validity"])
    if tables["retention"]:
        fits["retention"] = _retention(tables["retention"], cell)
    return cell, {"parameters": parameters, "fits": fits, "validity": validity}


def _retention(tables: list, cell: Any) -> dict[str, Any]:
    from .fit_retention import fit_retention  # lazy: startup

    t = merge_columns(tables)
    temp = t.get("temperature_K")
    rep = fit_retention(t["t_s"], t["n_cells"], t["n_flipped"], tau_d_s=cell.tau_d_ns * 1e-9,
                        temperature_K=None if temp is None else np.asarray(temp, float))
    d, lo, hi = rep["delta"]
    shallow = min(cell.delta_to_p, cell.delta_to_ap)
    rep["check"] = (f"retention Delta {d:.3g} [{lo:.3g}, {hi:.3g}] vs the switching fit's shallower well "
                    f"{shallow:.3g}: " + ("consistent" if lo <= shallow <= hi else "DIFFERENT (the device file keeps "
                                                                                  "the switching fit's Delta)"))
    return rep


def _fit_graded(tables: dict[str, list]) -> tuple[Any, dict[str, Any]]:
    from .fit_graded import fit_pulse_response  # lazy: startup

    if len(tables["pulses"]) != 1:
        raise ValueError("--family graded: give one LTP/LTD file")
    model, rep = fit_pulse_response(tables["pulses"][0])
    params = rep.get("parameters", {})
    fits = {"pulses": {k: v for k, v in rep.items() if k not in ("parameters", "validity")}}
    return model, {"parameters": params, "fits": fits, "validity": rep.get("validity", {})}


def _provenance() -> dict[str, Any]:
    from spinsyn import __version__  # lazy: startup

    return {"spinsyn": __version__, "command": " ".join(["spinsyn", *sys.argv[1:]])[:2000],
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def _print_summary(out: str, doc: dict[str, Any]) -> None:
    print(f"wrote {out}: {doc['family']} device (sha256 {doc['sha256'][:12]})")
    for name, p in doc["parameters"].items():
        ci = p.get("ci95")
        ci_txt = f" [{ci[0]:.4g}, {ci[1]:.4g}]" if ci and None not in ci else ""
        print(f"  {name} = {p['value']:.4g} {p.get('unit', '')}{ci_txt}  ({p.get('method', '')})")
    for kind, rep in doc["fits"].items():
        print("  " + fit_line(kind, rep))


def fit_line(kind: str, rep: dict[str, Any]) -> str:
    """One line of a fit's goodness and held-out error."""
    parts = [kind]
    for key, label in (("deviance", "deviance"), ("p_value", "p"), ("rms_p", "RMS p"), ("rms_rel", "RMS"),
                       ("heldout_rms_rel", "held-out RMS"), ("rms_S", "RMS S"), ("heldout_rms_S", "held-out RMS S")):
        v = rep.get(key)
        if isinstance(v, (int, float)):
            parts.append(f"{label} {v:.3g}")
    kf = rep.get("kfold")
    if isinstance(kf, dict):
        parts.append(f"{kf['k']}-fold held-out RMS p {kf['rms_p']:.3g}, within max(0.10, 2 SE) "
                     f"{100 * kf['within_2se']:.0f} %")
    if "check" in rep:
        parts.append(str(rep["check"]))
    return "; ".join(parts)
