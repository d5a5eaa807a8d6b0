"""``spinsyn device sweep|plot|info``."""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.options import SWEEP_OPTIONS

#: ``device sweep --model`` choices: ``spinsyn.devices.models.model_names()`` (the device classes' family names,
#: sorted) written out, so that building the parser imports no device model; tests/devices/test_cli.py checks it
MODEL_NAMES = ("compound", "dw-mtj", "graded", "measured-mtj", "sot-mtj", "stt-mtj")


def parse_range(text: str) -> list[float]:
    """``START:STOP:STEP`` (STOP exclusive, like ``range``) or a comma list, in ms."""
    try:
        if ":" in text:
            a, b, c = (float(x) for x in text.split(":"))
            if c <= 0 or b <= a:
                raise ValueError
            vals = np.arange(a, b - 1e-9 * c, c)
        else:
            vals = np.array([float(x) for x in text.split(",")])
    except ValueError:
        raise ValueError(f"--dt-ms: got {text!r}; expected START:STOP:STEP with STOP > START, STEP > 0 "
                         "(STOP exclusive), or a comma list") from None
    if vals.size == 0 or not np.all(np.isfinite(vals)) or np.any(vals < 0) or vals.size > 100000:
        raise ValueError(f"--dt-ms: got {text!r}; expected 1..100000 non-negative delays")
    return [float(v) for v in vals]


def register(subparsers: Any) -> None:
    """Add the ``device`` command."""
    p = subparsers.add_parser("device", help="spintronic synapse pulse simulations (ngspice / reference)")
    sub = p.add_subparsers(dest="device_cmd", metavar="SUBCOMMAND", required=True)
    s = sub.add_parser("sweep", help="Δt x trials pulse sweep -> spinsyn-sweep HDF5")
    s.add_argument("--model", default=None, choices=MODEL_NAMES, help="device model (required unless --device)")
    s.add_argument("--preset", default=None, help="named preset (default: the model name); see 'device info'")
    s.add_argument("--device", default=None, metavar="DEVICE_JSON",
                   help="a device file (spinsyn device fit --out) instead of --model/--preset")
    s.add_argument("--device-param", dest="device_params", action="append", default=None, metavar="K=V",
                   help="dataclass field override of the device (preset or device file), repeatable; see 'device info'")
    s.add_argument("--testbench", default=None,
                   help="pulse testbench preset: published (default), physical, sot (SOT-MTJ pulses)")
    SWEEP_OPTIONS["n_mtj"].add_to(s, default=None)  # unset: the model's own
    s.add_argument("--dt-ms", required=True, help="START:STOP:STEP (STOP exclusive) or comma list, ms")
    SWEEP_OPTIONS["trials"].add_to(s, default=None, required=True)
    SWEEP_OPTIONS["engine"].add_to(s)
    s.add_argument("--switching", default="physical", choices=("physical", "author"),
                   help="physical (default): the hazard integral; author: the published Verilog-A model's "
                        "per-step redraw (reproduces that simulator's numerics, not physics; --engine reference)")
    s.add_argument("--seed", type=int, default=0, help="RNG seed of the Monte-Carlo switching draws (default 0)")
    SWEEP_OPTIONS["jobs"].add_to(s)
    s.add_argument("--scheduler", default="none",
                   help="none (default: this process, --jobs ngspice processes), local[:N] (a dask LocalCluster of N "
                        "workers) or tcp://HOST:PORT (an existing dask scheduler): Monte-Carlo instances spread as "
                        "tasks, bit-identical to none")
    s.add_argument("--save-waveforms", type=int, default=0, metavar="K", help="store K instances' waveforms")
    SWEEP_OPTIONS["sigma_pct"].add_to(s, default=None)  # unset: no spread
    s.add_argument("--out", required=True, help="sweep HDF5 to write (an existing spinsyn sweep is replaced)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing --out that is not a spinsyn sweep")
    s.set_defaults(func=cmd_sweep)
    pl = sub.add_parser("plot", help="plot a sweep file",
                        description="Figure of a sweep file (device sweep --out): the normalised conductance change "
                                    "ΔG (mean ± std over the trials) against the spike delay Δt (ms), the "
                                    "switching fractions AP→P and P→AP against Δt, and one waveform (V_mtj, G in "
                                    "µS) if the sweep stored any (--save-waveforms).")
    pl.add_argument("file", metavar="SWEEP_H5", help="sweep HDF5 written by 'spinsyn device sweep --out'")
    pl.add_argument("--out", required=True, metavar="FIGURE",
                    help="figure to write; the format follows the suffix (.png/.pdf/.svg/...)")
    pl.add_argument("--overwrite", action="store_true",
                    help="replace an existing --out that is not a figure spinsyn wrote")
    pl.set_defaults(func=cmd_plot)
    i = sub.add_parser("info", help="derived numbers of a model preset or a device file")
    i.add_argument("model", help="a preset name (see PRESETS) or a spinsyn-device file (device fit --out)")
    i.set_defaults(func=cmd_info)
    from .fitcmd import register as register_fit  # lazy: startup

    register_fit(sub)


def _model_name(args) -> tuple[str, str]:
    """(preset name or device-file path, the option naming it) of ``device sweep``."""
    from . import is_device_file  # lazy: startup

    if args.device is None:
        if args.model is None:
            raise ValueError("--model: required (or --device DEVICE_JSON, a device file)")
        return args.preset or args.model, "--preset"
    if args.preset is not None:
        raise ValueError(f"--device: give either --device {args.device} or --preset {args.preset}, not both")
    if not is_device_file(args.device):
        raise ValueError(f"--device: expected a spinsyn-device JSON file (.json), got {args.device!r}")
    return args.device, "--device"


def _build_model(args):
    from spinsyn.options import parse_device_params  # lazy: startup

    from . import get_model  # lazy: startup

    name, opt = _model_name(args)
    try:
        model = get_model(name)
    except ValueError as exc:
        raise ValueError(f"{opt}: {exc}") from None
    overrides = dict(parse_device_params(getattr(args, "device_params", None)) or {})
    if args.n_mtj is not None:
        if "n_mtj" not in {f.name for f in dataclasses.fields(model)}:
            raise ValueError(f"--n-mtj applies to the compound model, not {name!r}")
        overrides["n_mtj"] = SWEEP_OPTIONS["n_mtj"].check(args.n_mtj)
    if args.sigma_pct is not None:
        SWEEP_OPTIONS["sigma_pct"].check(args.sigma_pct)
        overrides.update(model.spread_overrides(args.sigma_pct))
    try:
        model = get_model(name, **overrides)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"--device-param: {exc}") from None
    if args.model is not None and model.name != args.model:
        raise ValueError(f"{opt} {name!r} is not a {args.model} model")
    return model


def cmd_sweep(args: argparse.Namespace) -> int:
    from spinsyn.validation import check_output_file  # lazy: startup

    from . import get_testbench, sweep, write_sweep  # lazy: startup
    from .sweep import FORMAT  # lazy: startup

    # before any work (SpiceConvergenceError: one stderr line, exit 2); the output policy of spinsyn.validation
    check_output_file(args.out, "--out", writes=FORMAT, overwrite=args.overwrite)
    SWEEP_OPTIONS["trials"].check(args.trials)
    jobs = SWEEP_OPTIONS["jobs"].check(args.jobs if args.jobs is not None else (os.cpu_count() or 1))
    if args.save_waveforms < 0:
        raise ValueError(f"--save-waveforms: got {args.save_waveforms}; expected >= 0")
    dt = parse_range(args.dt_ms)
    if args.scheduler != "none":
        from spinsyn.parallel import parse_scheduler  # lazy: startup

        parse_scheduler(args.scheduler)
    model = _build_model(args)
    tb = get_testbench(args.testbench or "published")
    out = Path(args.out)
    if args.engine == "spice":
        from spinsyn.ngspice import ensure_library  # lazy: startup

        ensure_library()
    res = sweep(model, tb, dt, args.trials, engine=args.engine, seed=args.seed, jobs=jobs,
                save_waveforms=args.save_waveforms, progress=True, netlist_dir=out.parent,
                switching=args.switching, scheduler=args.scheduler)
    write_sweep(out, res)
    dg = res.dg_norm.mean(1)
    how = args.engine if args.switching == "physical" else f"{args.engine}, switching {args.switching}"
    print(f"wrote {out}: {len(dt)} delays x {args.trials} trials ({how}); mean normalised dG "
          f"from {dg.min():+.3f} to {dg.max():+.3f}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from .plot import plot_sweep  # lazy: startup

    plot_sweep(args.file, args.out, overwrite=args.overwrite)  # checks --out (output policy) before reading
    print(f"wrote {args.out}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from . import PRESETS, get_model, is_device_file, read_device_file  # lazy: startup

    if is_device_file(args.model):
        dev = read_device_file(args.model)
        m = get_model(args.model)
        _print_device_file(dev)
    else:
        m = get_model(args.model)
        print(f"{args.model}: {PRESETS[args.model][1]}")
    print(m)
    for line in m.info_lines():
        print(line)
    return 0


def _print_device_file(dev) -> None:
    """The sections of a device file a reader checks first: family, sources, parameters with intervals, fits."""
    from .fitcmd import fit_line  # lazy: startup

    print(f"{dev.label}: {dev.family} device fitted from measured data ({dev.provenance.get('command', '?')}; "
          f"{dev.provenance.get('created', '?')})")
    print(f"sources: {dev.source_line()}")
    for name, p in dev.parameters.items():
        ci = p.get("ci95")
        ci_txt = f" [{ci[0]:.4g}, {ci[1]:.4g}]" if ci and None not in ci else ""
        print(f"  {name} = {p['value']:.4g} {p.get('unit', '')}{ci_txt} ({p.get('method', '')})")
    print("valid for: " + "; ".join(f"{k} {v[0]:g}..{v[1]:g}" for k, v in dev.validity.items()
                                    if isinstance(v, list) and len(v) == 2))
    for kind, rep in dev.fits.items():
        if isinstance(rep, dict):
            print("  " + fit_line(kind, rep))
