"""spinsyn.study: parameter studies over the whole pipeline on dask.distributed (``spinsyn study``).

A study file (TOML) fixes settings and names the axes to vary (a grid, a seeded random sample or an Optuna
multi-objective search); every trial runs only the stages it needs, each distinct stage input is computed once
into a content-addressed cache in the study folder, and one row per trial goes to results.csv/.parquet as trials
finish. docs/study.md.

Public API: :func:`run_study`, :func:`load_spec` (:class:`StudySpec`, :class:`Axis`), :func:`parse_scheduler`,
:func:`open_client` (also used by ``spinsyn device sweep --scheduler``), :func:`default_scheduler`,
:data:`SCHEDULER_HELP`, :data:`PARAMS` (the settings a study can fix or vary), :func:`columns` (results columns).
"""

from typing import TYPE_CHECKING

from spinsyn.lazyimport import lazy_package

if TYPE_CHECKING:  # loaded on first use (spinsyn.lazyimport.lazy_package): 'import spinsyn.<stage>.cli' stays light
    from .execute import SCHEDULER_HELP, default_scheduler, live_workers, open_client, parse_scheduler
    from .params import PARAMS, Param
    from .results import columns
    from .runner import StudyOutcome, run_study
    from .spec import Axis, StudySpec, load_spec

__getattr__, __dir__ = lazy_package(__name__)

__all__ = [
    "PARAMS",
    "SCHEDULER_HELP",
    "Axis",
    "Param",
    "StudyOutcome",
    "StudySpec",
    "columns",
    "default_scheduler",
    "live_workers",
    "load_spec",
    "open_client",
    "parse_scheduler",
    "run_study",
]
