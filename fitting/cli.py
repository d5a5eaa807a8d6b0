"""``spinsyn fit INPUT --model ... --out rule.json`` and ``spinsyn fit calibrate --target rule.json``.

argparse cannot mix a sub-command with a free positional path, so ``fit`` takes one positional: the word
``calibrate`` selects inverse design; anything else is the input file (write ``./calibrate`` for a file
literally named so).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .result import LOSSES


def register(subparsers: Any) -> None:
    """Add the ``fit`` command to the ``spinsyn`` CLI."""
    p = subparsers.add_parser(
        "fit",
        help="fit a learning rule to a device sweep or CSV; 'fit calibrate' for inverse design",
        description=(
            "spinsyn fit INPUT --model {auto,bisigmoid,exp-stdp,sigmoid} --out rule.json [--plot fit.png]\n"
            "spinsyn fit calibrate --target rule.json --model compound [--out cal.json]\n"
            "INPUT is a spinsyn-sweep HDF5 or a CSV (',' ';' tab or space separated, # comments) with a Δt column\n"
            "and dw or ΔG, units in the header: dt_ms or 'dt (us)', delta_g_S or 'dG (uS)' or 'dG (%)' (of a\n"
            "G_before / G0 column), + sigma, trial. Extra columns are ignored and blank/NaN rows dropped, with a note."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="INPUT|calibrate", help="sweep .h5 or .csv, or the word 'calibrate'")
    p.add_argument("--model", default="auto",
                   help="rule family: auto, bisigmoid, exp-stdp, sigmoid (fit); device preset (calibrate)")
    p.add_argument("--out", default=None, help="output rule JSON (required for fit)")
    p.add_argument("--plot", default=None, help="save the fit figure here (.png/.pdf/.svg)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing --out/--plot that is not a spinsyn file of that kind (a spinsyn rule, "
                        "calibration or figure is replaced anyway; an input, or a file inside a run, chip, study "
                        "or pipeline folder, never)")
    p.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamples for 95 %% intervals (0: off)")
    p.add_argument("--loss", default="linear", choices=LOSSES,
                   help="least-squares loss (robust losses down-weight outliers)")
    p.add_argument("--seed", type=int, default=0, help="random seed (bootstrap, calibrate)")
    p.add_argument("--target", default=None, help="calibrate: target rule JSON (default: published rule)")
    p.add_argument("--columns", default=None, metavar="MAPPING",
                   help="CSV: which header holds which column, e.g. \"dt_ms='delay (us)',delta_g_S=dG\" (names: "
                        "dt_ms, dw, delta_g_S, g_before_S, sigma, trial; the unit comes from the header)")
    p.add_argument("--strict-rows", action="store_true",
                   help="CSV: refuse rows with a blank, NaN or non-numeric value instead of dropping them")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    """Dispatch ``fit calibrate`` or fit INPUT via :func:`spinsyn.fitting.fit_file`."""
    if args.input == "calibrate":
        from .calibrate import run_calibrate_cli  # lazy: startup

        return run_calibrate_cli(args)
    from spinsyn.labfile import parse_mapping  # lazy: startup
    from spinsyn.safeload import clean_text  # lazy: startup

    from .fit import check_fit_options, describe_fit, fit_file  # lazy: startup

    if not args.out:
        raise ValueError("fit: --out rule.json is required")
    check_fit_options(args.model, args.loss, args.bootstrap, args.seed, prefix="--")
    columns = parse_mapping(args.columns) if args.columns is not None else None

    def note(line: str) -> None:
        print(f"spinsyn: note: {clean_text(args.input, None)}: {line}", file=sys.stderr)

    result, reason = fit_file(args.input, args.out, args.model, plot_path=args.plot, loss=args.loss,
                              bootstrap=args.bootstrap, seed=args.seed, overwrite=args.overwrite, columns=columns,
                              strict_rows=args.strict_rows, notes=note)
    print(reason)
    for line in describe_fit(result.rule):
        print(line)
    print(f"wrote {args.out}" + (f" and {args.plot}" if args.plot else ""))
    for line in training_notes(result.rule.window_ms):
        note(line)
    return 0


def training_notes(window_ms: tuple[float, float], dt_ms: float = 1.0) -> list[str]:
    """Warnings for ``spinsyn train`` about a rule valid on ``window_ms`` (ms) at the network step ``dt_ms``."""
    lo, hi = window_ms
    out = []
    if lo < 0:
        out.append(f"the rule has a Δt < 0 branch (valid on {lo:g}..{hi:g} ms); 'spinsyn train' refuses it (its trace "
                   "rule updates at post spikes only, Δt >= 0): fit the Δt >= 0 half to train with it")
    if hi - max(lo, 0.0) < 2 * dt_ms:
        out.append(f"the rule is valid on Δt {lo:g}..{hi:g} ms, under 3 steps of the network's {dt_ms:g} ms step; "
                   "'spinsyn train' refuses it unless --rule-time-scale stretches it")
    return out
