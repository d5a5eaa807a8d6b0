"""Running trials on a scheduler (:mod:`spinsyn.parallel`: ``none``, ``local:N``, ``tcp://HOST:PORT``; with tcp the
workers must see the study folder at the same path). Each distinct cache key is one task, shared by every trial that
needs it; a trial's row is written when its simulate task finishes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, cast

# the schedulers live in the base module spinsyn.parallel (devices/ uses them too); re-exported here
from ..parallel import (  # noqa: F401
    SCHEDULER_HELP,
    WORKER_ENV,
    WORKER_MEMORY,
    available_memory,
    default_scheduler,
    live_workers,
    local_cap,
    open_client,
    parse_scheduler,
    usable_cores,
)
from .stages import run_task
from .trials import StageTask, Trial

OnDone = Callable[[Trial, "str | None"], None]


def run_trials(root: str, trials: list[Trial], plans: dict[int, list[StageTask]], client: Any,
               on_done: OnDone) -> None:
    """Run ``trials`` (their stage tasks in ``plans``) and call ``on_done(trial, error or None)`` as each ends."""
    if client is None:
        _run_in_process(root, trials, plans, on_done)
    else:
        _run_on_dask(root, trials, plans, client, on_done)


def _run_in_process(root: str, trials: list[Trial], plans: dict[int, list[StageTask]], on_done: OnDone) -> None:
    """Trial by trial, each key computed once (a failed key fails every trial that needs it, at once)."""
    done: dict[str, str | Exception] = {}
    jobs = os.cpu_count() or 1
    for trial in trials:
        error = None
        for task in plans[trial.index]:
            if task.key not in done:
                up = done.get(cast(str, plans_key(plans[trial.index], task.upstream))) if task.upstream else None
                try:
                    done[task.key] = run_task(root, task, up if isinstance(up, str) else None, jobs)
                except Exception as exc:  # StageError: recorded in the row, the study goes on
                    done[task.key] = exc
            if isinstance(done[task.key], Exception):
                error = str(done[task.key])
                break
        on_done(trial, error)


def plans_key(tasks: list[StageTask], stage: str | None) -> str | None:
    """The key of ``stage`` among a trial's tasks."""
    return next((t.key for t in tasks if t.stage == stage), None)


def _run_on_dask(root: str, trials: list[Trial], plans: dict[int, list[StageTask]], client: Any,
                 on_done: OnDone) -> None:
    from distributed import as_completed  # lazy: optional

    futures: dict[str, Any] = {}
    finals: dict[str, list[Trial]] = {}
    for trial in trials:
        for task in plans[trial.index]:
            if task.key not in futures:
                up = futures[cast(str, plans_key(plans[trial.index], task.upstream))] if task.upstream else None
                futures[task.key] = client.submit(run_task, root, task, up, 1, key=f"{task.stage}-{task.key}",
                                                  pure=False, priority=-trial.index, retries=0)
        finals.setdefault(plans[trial.index][-1].key, []).append(trial)
    by_future = {futures[k]: k for k in finals}
    try:
        for fut in as_completed(list(by_future)):
            error = None if fut.status == "finished" else str(fut.exception())
            for trial in finals[by_future[fut]]:
                on_done(trial, error)
    finally:
        client.cancel(list(futures.values()))
