"""Optuna multi-objective search over the study's axes (``mode = "optuna"``).

Ask-and-tell in batches of ``study.batch`` trials: a batch is asked, run on the scheduler, and told in trial
order before the next is asked, so the sampled settings depend on the seed and the batch size only, never on
the scheduler or the number of workers. A rerun replays the same asks; finished trials are told from their
rows instead of being run again. A failed trial is told as failed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

from .params import PARAMS
from .spec import Axis, StudySpec
from .trials import Trial, settings_for

#: run one batch of trials, returning each trial's row
RunBatch = Callable[[list[Trial]], dict[int, dict[str, Any]]]


def suggest(ot: Any, a: Axis) -> Any:
    """Axis ``a``'s value for the Optuna trial ``ot`` (tile/delay lists as categorical choices by index)."""
    if a.values is not None:
        if PARAMS[a.key].kind in ("pair", "range3"):
            return a.values[ot.suggest_categorical(a.key, list(range(len(a.values))))]
        return ot.suggest_categorical(a.key, list(a.values))
    low, high = cast(float, a.low), cast(float, a.high)  # a range axis: both ends set
    if a.integer:
        return ot.suggest_int(a.key, int(low), int(high), log=a.log)
    return ot.suggest_float(a.key, float(low), float(high), log=a.log)


def objective_values(spec: StudySpec, row: dict[str, Any]) -> list[float] | None:
    """The objectives of a finished row; None when the trial failed or a value is missing."""
    if row.get("status") != "ok":
        return None
    vals: list[Any] = [row.get(m) for m, _ in spec.objectives]
    if any(v is None or not math.isfinite(float(v)) for v in vals):
        return None
    return [float(v) for v in vals]


def run_search(spec: StudySpec, run_batch: RunBatch) -> None:
    """Ask ``spec.samples`` trials in batches, run each batch with ``run_batch`` and tell the results."""
    import optuna  # lazy: optional

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["maximize" if d == "max" else "minimize" for _, d in spec.objectives],
                                sampler=optuna.samplers.TPESampler(seed=spec.seed))
    index = 0
    while index < spec.samples:
        asked = [study.ask() for _ in range(min(spec.batch, spec.samples - index))]
        trials = []
        for j, ot in enumerate(asked):
            axes = {a.key: suggest(ot, a) for a in spec.axes}
            trials.append(Trial(index + j, axes, settings_for(spec, axes)))
        rows = run_batch(trials)
        for ot, trial in zip(asked, trials):
            values = objective_values(spec, rows[trial.index])
            if values is None:
                study.tell(ot, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(ot, values)
        index += len(asked)
