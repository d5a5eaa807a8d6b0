"""``spinsyn fit INPUT --model ... --out rule.json`` and ``spinsyn fit calibrate --target rule.json``.

argparse cannot mix a sub-command with a free positional path, so ``fit`` takes one positional: the word
``calibrate`` selects inverse design; anything else is the input file (write ``./calibrate`` for a file
literally named so).
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``fit`` command to the ``spinsyn`` CLI."""
    p = subparsers.add_parser(
        "fit",
        help="fit a learning rule to a device sweep or CSV; 'fit calibrate' for inverse design",
        description=(
            "spinsyn fit INPUT --model {auto,bisigmoid,exp-stdp,sigmoid} --out rule.json [--plot fit.png]\n"
            "spinsyn fit calibrate --target rule.json --model compound [--out cal.json]\n"
            "INPUT is a spinsyn-sweep HDF5 or a CSV with header dt_ms and dw or delta_g_S (+ sigma, trial)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="INPUT|calibrate", help="sweep .h5 or .csv, or the word 'calibrate'")
    p.add_argument("--model", default="auto",
                   help="rule family: auto, bisigmoid, exp-stdp, sigmoid (fit); device preset (calibrate)")
    p.add_argument("--out", default=None, help="output rule JSON (required for fit)")
    p.add_argument("--plot", default=None, help="save the fit figure here (.png/.pdf/.svg)")
    p.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamples for 95 %% intervals (0: off)")
    p.add_argument("--loss", default="linear", choices=("linear", "soft_l1", "huber", "cauchy", "arctan"),
                   help="least-squares loss (robust losses down-weight outliers)")
    p.add_argument("--seed", type=int, default=0, help="random seed (bootstrap, calibrate)")
    p.add_argument("--target", default=None, help="calibrate: target rule JSON (default: published rule)")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    if args.input == "calibrate":
        from .calibrate import run_calibrate_cli

        return run_calibrate_cli(args)
    if not args.out:
        raise ValueError("fit: --out rule.json is required")
    if args.bootstrap < 0:
        raise ValueError(f"--bootstrap must be >= 0, got {args.bootstrap}")
    from .fit import fit
    from .inputs import read_input
    from .rules import FAMILIES, save_rule

    if args.model != "auto" and args.model not in FAMILIES:
        raise ValueError(f"--model {args.model!r} is unknown; expected 'auto' or one of {sorted(FAMILIES)}")
    data = read_input(args.input)
    result, reason = fit(data, args.model, loss=args.loss, bootstrap=args.bootstrap, seed=args.seed)
    rule = result.rule
    print(reason)
    m = rule.metrics
    print(f"{rule.model} on {data.n} Δt points ({'weighted' if m['weighted'] else 'unweighted'}): "
          f"R²={m['r2']:.5f} RMSE={m['rmse']:.4g} AIC={m['aic']:.1f} BIC={m['bic']:.1f}")
    for name, pi in rule.params.items():
        if pi.identifiable:
            print(f"  {name:>13} = {pi.value:.6g} {pi.unit}  ± {pi.stderr:.3g}  95% [{pi.ci95[0]:.6g}, {pi.ci95[1]:.6g}]"
                  + (f"  boot [{pi.ci95_bootstrap[0]:.6g}, {pi.ci95_bootstrap[1]:.6g}]" if pi.ci95_bootstrap else ""))
        else:
            val = "—" if pi.value is None else f"{pi.value:.6g} {pi.unit}"
            print(f"  {name:>13} = {val}  NOT IDENTIFIABLE: {pi.note}")
    if args.plot:
        from .plot import plot_fit

        plot_fit(args.plot, data, result)
    save_rule(args.out, rule, seed=args.seed)
    print(f"wrote {args.out}" + (f" and {args.plot}" if args.plot else ""))
    return 0
