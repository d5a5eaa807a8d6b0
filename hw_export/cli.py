"""``spinsyn export``: weights -> chip directory; ``export verify CHIP_DIR``; ``export simulate CHIP_DIR``.

argparse cannot mix a sub-command with a free positional path, so ``export`` takes one positional
``SOURCE`` and an optional second one: when SOURCE is the word ``verify`` or ``simulate`` the second
positional is the chip directory and that action runs; anything else is a run directory or a weight
file to export (write ``./verify`` to export a file literally named ``verify``).
"""

from __future__ import annotations

import argparse
from typing import Any

ACTIONS = ("verify", "simulate")


def register(subparsers: Any) -> None:
    """Add the ``export`` command to the ``spinsyn`` CLI."""
    p = subparsers.add_parser(
        "export",
        help="export weights to chip programming files; 'export verify DIR'; 'export simulate DIR'",
        description=(
            "spinsyn export RUN_DIR_OR_WEIGHTS --synapse compound:8 --out CHIP_DIR   (write chip files)\n"
            "spinsyn export verify CHIP_DIR     (schema, ranges, shapes, checksums)\n"
            "spinsyn export simulate CHIP_DIR   (program on the device model, evaluate accuracy)\n"
            "The first positional is an action word (verify/simulate) or the source to export."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", metavar="RUN_DIR_OR_WEIGHTS|verify|simulate",
                   help="snn run directory, .npy or .pt weight matrix (inputs x outputs), or an action word")
    p.add_argument("chip_dir", nargs="?", metavar="CHIP_DIR", help="chip directory (verify/simulate)")
    g = p.add_argument_group("export")
    g.add_argument("--synapse", help="compound:N | dw:L | quantized:L (required for export)")
    g.add_argument("--tile", default="128x128", help="crossbar size ROWSxCOLS (default 128x128)")
    g.add_argument("--mapping", choices=("unipolar", "differential"), default="unipolar",
                   help="one device per weight, or a G+/G- pair (default unipolar)")
    g.add_argument("--tolerance", default="0.4",
                   help="verify band half-width: in level steps (e.g. 0.4, the default) or absolute with a "
                        "unit suffix S/mS/uS (e.g. 2uS)")
    g.add_argument("--device", default=None, help="device preset for spinsyn.devices.get_model "
                   "(default: compound for compound:N, dw-mtj otherwise)")
    g.add_argument("--device-param", action="append", default=[], metavar="KEY=VALUE",
                   help="override a device model field (repeatable)")
    g.add_argument("--w-range", default=None, metavar="LO,HI",
                   help="weight range mapped onto [g_min, g_max] (default: [0,1] for runs, data range otherwise)")
    g.add_argument("--key", default=None, help="tensor name inside a .pt dict")
    g.add_argument("--width-ns", type=float, default=None, help="write pulse width in ns")
    g.add_argument("--v-max", type=float, default=None, help="largest write amplitude in V")
    g.add_argument("--v-step", type=float, default=None, help="ISPP amplitude step in V")
    g.add_argument("--max-pulses", type=int, default=None, help="write-verify cap per device")
    g.add_argument("--half-select", choices=("V/2", "V/3"), default="V/2", help="half-select scheme")
    g.add_argument("--no-csv", action="store_true", help="skip the per-tile CSV views")
    g.add_argument("--overwrite", action="store_true", help="replace an existing CHIP_DIR")
    g.add_argument("--out", default=None, help="output chip directory (required for export)")
    s = p.add_argument_group("simulate")
    s.add_argument("--n-test", type=int, default=None, help="MNIST test images (default: all available)")
    s.add_argument("--data-dir", default=None, help="MNIST folder (default: spinsyn lookup order)")
    s.add_argument("--run", default=None, help="snn run directory if it moved since export")
    s.add_argument("--eval-device", default="auto", help="torch device for evaluate (default auto)")
    s.add_argument("--no-disturb", action="store_true", help="do not sample half-select disturb")
    s.add_argument("--json", default=None, help="also write the simulate result to this JSON file")
    p.add_argument("--seed", type=int, default=None, help="RNG seed (export default 0, simulate default 1)")
    p.set_defaults(func=handler)


def _fail_if(cond: bool, msg: str) -> None:
    if cond:
        raise ValueError(msg)


def handler(args: argparse.Namespace) -> int:
    """Dispatch ``export`` / ``export verify`` / ``export simulate``."""
    if args.source in ACTIONS:
        _fail_if(args.chip_dir is None, f"export {args.source}: missing CHIP_DIR")
        return _verify(args) if args.source == "verify" else _simulate(args)
    _fail_if(args.chip_dir is not None, f"export: unexpected second positional {args.chip_dir!r} "
             "(use --out CHIP_DIR; actions are 'verify' and 'simulate')")
    return _export(args)


def _parse_params(items: list[str]) -> dict[str, Any]:
    import json

    out: dict[str, Any] = {}
    for it in items:
        k, sep, v = it.partition("=")
        _fail_if(not sep or not k, f"--device-param: got {it!r}, expected KEY=VALUE")
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def parse_tolerance(text: str) -> dict[str, float]:
    """``"0.4"`` -> tolerance_levels; ``"2uS"``, ``"0.5mS"``, ``"1e-6S"`` -> tolerance_S."""
    t = str(text).strip()
    for suffix, f in (("uS", 1e-6), ("mS", 1e-3), ("S", 1.0)):
        if t.endswith(suffix):
            try:
                v = float(t[: -len(suffix)]) * f
            except ValueError:
                break
            if v > 0:
                return {"tolerance_S": v}
            break
    else:
        try:
            v = float(t)
        except ValueError:
            v = -1.0
        if 0 < v <= 10:
            return {"tolerance_levels": v}
    raise ValueError(f"--tolerance: got {text!r}, expected level steps in (0, 10] (e.g. 0.4) or a conductance "
                     "with unit (e.g. 2uS)")


def _export(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from .export import ExportConfig, export_chip
    from .inputs import load_weights
    from .mapping import parse_synapse
    from .program import WriteVerifyConfig
    from .tiling import parse_tile

    _fail_if(args.synapse is None, "export: --synapse is required (compound:N, dw:L or quantized:L)")
    _fail_if(args.out is None, "export: --out CHIP_DIR is required")
    spec = parse_synapse(args.synapse)
    tile = parse_tile(args.tile)
    w_range = None
    if args.w_range:
        try:
            lo, hi = (float(x) for x in args.w_range.split(","))
        except ValueError:
            raise ValueError(f"--w-range: got {args.w_range!r}, expected LO,HI") from None
        w_range = (lo, hi)
    wv_over = {k: v for k, v in (("width_ns", args.width_ns), ("v_max_V", args.v_max), ("v_step_V", args.v_step),
                                 ("max_pulses", args.max_pulses)) if v is not None}
    wv_over.update(parse_tolerance(args.tolerance))
    wv = dataclasses.replace(WriteVerifyConfig(), half_select=args.half_select, **wv_over)
    params = _parse_params(args.device_param)
    src = load_weights(args.source, key=args.key)
    cfg = ExportConfig(synapse=spec, mapping=args.mapping, tile_rows=tile[0], tile_cols=tile[1],
                       device=args.device, device_params=params,
                       w_range=w_range if w_range is not None else src.w_range, write_verify=wv,
                       seed=0 if args.seed is None else args.seed, csv=not args.no_csv)
    levels = src.levels_for(str(spec), args.mapping)
    res = export_chip(src.w, cfg, Path(args.out), source=src.record(), overwrite=args.overwrite, levels=levels)
    s = res.report["summary"]
    print(f"exported {s['synapses']} synapses ({s['devices']} devices, {spec}, {args.mapping}) onto "
          f"{s['tiles']} tiles of {tile[0]}x{tile[1]} -> {res.out_dir}")
    print(f"  levels from {res.report['levels_from']}")
    print(f"  pulses/device mean {s['pulses_per_device']['mean']:.2f} max {s['pulses_per_device']['max']:.0f}; "
          f"failed {s['failed']} ({100 * s['failed_fraction']:.3f}%); inside band {s['inside_band']}")
    print(f"  programming time {s['time_parallel_tiles_s'] * 1e3:.3f} ms (tiles in parallel), "
          f"energy {s['energy_total_J'] * 1e6:.3f} uJ; half-select ({s['disturb_risk']['scheme']}) risk "
          f"max {s['disturb_risk']['max']:.3g} {s['disturb_risk']['unit']}, "
          f"cells over 1e-3: {s['disturb_risk']['cells_over_1e-3']}")
    print(f"  took {res.timings_s['total']:.2f} s")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .chipfile import verify_chip

    s = verify_chip(Path(args.chip_dir))
    print(f"{args.chip_dir}: OK ({s['files_checked']} files, {s['n_tiles']} tiles of {s['tile_shape'][0]}x"
          f"{s['tile_shape'][1]}, {s['n_devices']} devices, {s['n_schedule_rows']} schedule rows, {s['synapse']})")
    if s["unlisted_files"]:
        print(f"  note: files not in manifest.json (ignored): {', '.join(s['unlisted_files'])}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from spinsyn.fileio import write_json

    from .simulate import simulate_chip

    _fail_if(args.n_test is not None and args.n_test < 1, f"--n-test: got {args.n_test}, expected >= 1")
    seed = 1 if args.seed is None else args.seed
    r = simulate_chip(Path(args.chip_dir), seed=seed, n_test=args.n_test, data_dir=args.data_dir,
                      run_dir=args.run, eval_device=args.eval_device, disturb=not args.no_disturb)
    p = r["programming"]
    print(f"programmed {p['devices']} devices (seed {seed}): {p['pulses_replayed']} scheduled pulses replayed, "
          f"{p['extra_pulses']} extra on {p['devices_needing_extra_pulses']} devices, {p['failed']} failed")
    print(f"  inside band: {100 * p['inside_band_after_programming']:.3f}% after programming, "
          f"{100 * p['inside_band_after_disturb']:.3f}% after {p['half_select']} disturb "
          f"({p['disturbed_devices']} devices disturbed); |error| mean {p['abs_error_levels_mean']:.4f} levels")
    if r.get("accuracy"):
        key = r["accuracy_key"]
        a = r["accuracy"]
        print(f"  accuracy ({key}, {r['n_test']} MNIST test images): trained {100 * a['trained'][key]:.2f}%, "
              f"targets {100 * a['targets'][key]:.2f}%, programmed {100 * a['programmed'][key]:.2f}% "
              f"-> drop {r['drop_points']:.2f} points")
    else:
        print(f"  {r.get('note')}")
    if args.json:
        write_json(args.json, r, fmt="spinsyn-chip-simulation", version=1, seed=seed)
    return 0
