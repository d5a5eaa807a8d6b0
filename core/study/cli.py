"""``spinsyn study STUDY.toml --out DIR [--scheduler none | local:N | tcp://HOST:PORT]``.

Runs a parameter study over the whole pipeline (device sweep -> fit -> train -> export -> simulate): the axes
of STUDY.toml as a grid, a seeded random sample or an Optuna search. Identical stage inputs are computed once
(DIR/cache; each entry's files are checked against their sha256 before reuse, and a bad entry is recomputed
with a warning); DIR/results.csv and DIR/results.parquet get one row per trial as trials finish; a rerun skips
finished trials; a failed trial is recorded with its error. At the end DIR/report.html is written.
Format and folder layout: docs/study.md.

Exit status: 0 every trial ok; 1 the study ran but some trials failed (a last line on stderr says how many;
their errors are in the error column of DIR/results.csv); 2 bad input (study file, image counts, --out,
--scheduler), refused before any work with one line naming it.
"""

from __future__ import annotations

import argparse
import sys

from spinsyn.parallel import SCHEDULER_HELP, default_scheduler  # light: the parser imports no study module

#: exit status of a study that ran but had failed trials (bad input is 2, as for every command)
EXIT_TRIALS_FAILED = 1


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
    from spinsyn.report import write_study_report  # lazy: startup

    from .runner import run_study  # lazy: startup

    r = run_study(args.study_file, args.out, args.scheduler or default_scheduler(), progress=not args.quiet)
    csv = r.out / "results.csv"
    print(f"study: {r.trials} trials, {r.ok} ok, {r.failed} failed ({r.skipped} done already) in {r.wall_s:.1f} s; "
          f"results in {csv} and {r.out / 'results.parquet'}")
    print(f"study: writing the report {r.out / 'report.html'} (figures of the fronts and the best trial) ...",
          flush=True)
    print(f"wrote {write_study_report(r.out)}")
    if not r.failed:
        return 0
    shown = ", ".join(str(i) for i in r.failed_trials[:10]) + (", ..." if len(r.failed_trials) > 10 else "")
    print(f"spinsyn: study: {r.failed} of {r.ok + r.failed} trials failed (trial {shown}); their errors are in the "
          f"error column of {csv} (exit status {EXIT_TRIALS_FAILED})", file=sys.stderr)
    return EXIT_TRIALS_FAILED
