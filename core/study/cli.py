"""``spinsyn study STUDY.toml --out DIR [--scheduler none | local:N | tcp://HOST:PORT]``.

Runs a parameter study over the whole pipeline (device sweep -> fit -> train -> export -> simulate): the axes
of STUDY.toml as a grid, a seeded random sample or an Optuna search. Identical stage inputs are computed once
(DIR/cache); DIR/results.csv and DIR/results.parquet get one row per trial as trials finish; a rerun skips
finished trials; a failed trial is recorded with its error. At the end DIR/report.html is written.
Format and folder layout: docs/study.md.
"""

from __future__ import annotations

import argparse

from .execute import SCHEDULER_HELP, default_scheduler


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``spinsyn study``."""
    p = sub.add_parser("study", help="parameter study over the whole pipeline (grid, random or Optuna; dask)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("study_file", metavar="STUDY.toml", help="the study file (docs/study.md)")
    p.add_argument("--out", required=True, help="study folder (cache, results, report)")
    p.add_argument("--scheduler", default=None, help=f"{SCHEDULER_HELP}")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd)


def _cmd(args: argparse.Namespace) -> int:
    from spinsyn.report import write_study_report

    from .runner import run_study

    r = run_study(args.study_file, args.out, args.scheduler or default_scheduler(), progress=not args.quiet)
    print(f"study: {r.trials} trials, {r.ok} ok, {r.failed} failed ({r.skipped} done already) in {r.wall_s:.1f} s; "
          f"results in {r.out / 'results.csv'} and {r.out / 'results.parquet'}")
    print(f"wrote {write_study_report(r.out)}")
    return 0
