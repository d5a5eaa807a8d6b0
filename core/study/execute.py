"""Running trials on a scheduler (:mod:`spinsyn.parallel`: ``none``, ``local:N``, ``tcp://HOST:PORT``; with tcp the
workers must see the study folder at the same path). Each distinct cache key is one task, shared by every trial that
needs it; a trial's row is written when its simulate task finishes. On dask, the parent hands one ready task to each
free worker, upstream stages first (:class:`_Dispatch`), so the trainings start early and no worker idles while
work is ready.
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
from .cache import STAGES
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


class _Dispatch:
    """The distinct stage tasks of a batch of trials and what waits on each: the dask path's bookkeeping."""

    def __init__(self, trials: list[Trial], plans: dict[int, list[StageTask]]) -> None:
        self.tasks: dict[str, StageTask] = {}
        self.upstream: dict[str, str | None] = {}
        self.waiting: dict[str, list[str]] = {}  # key -> the keys that consume its entry
        self.finals: dict[str, list[Trial]] = {}  # key of a trial's last task -> the trials it ends
        self.rank: dict[str, tuple[int, int]] = {}
        for trial in trials:
            for task in plans[trial.index]:
                if task.key not in self.tasks:
                    up = plans_key(plans[trial.index], task.upstream) if task.upstream else None
                    self.tasks[task.key], self.upstream[task.key] = task, up
                    self.rank[task.key] = (STAGES.index(task.stage), trial.index)
                    if up is not None:
                        self.waiting.setdefault(up, []).append(task.key)
            self.finals.setdefault(plans[trial.index][-1].key, []).append(trial)
        self.ready = sorted((k for k, up in self.upstream.items() if up is None), key=self.rank.__getitem__)

    def release(self, key: str) -> None:
        """``key`` is computed: the tasks consuming it are ready (upstream stages first, then by trial)."""
        self.ready = sorted(self.ready + self.waiting.pop(key, []), key=self.rank.__getitem__)

    def failed(self, key: str) -> list[str]:
        """``key`` and every task downstream of it (they fail with it, without running)."""
        out, todo = [], [key]
        while todo:
            k = todo.pop()
            out.append(k)
            todo += self.waiting.pop(k, [])
        return out


def _run_on_dask(root: str, trials: list[Trial], plans: dict[int, list[StageTask]], client: Any,
                 on_done: OnDone) -> None:
    """At most one task per live worker in flight, each submitted when its upstream entry exists (its path is
    the argument): a free worker always takes the most upstream ready task (sweeps, fits and trainings first, so
    the long trainings start early and the evaluations fill the workers at the end), none waits behind a busy
    one, and nothing is queued on a worker."""
    from distributed import as_completed  # lazy: optional

    d = _Dispatch(trials, plans)
    paths: dict[str, str] = {}
    flight: dict[Any, str] = {}
    pool = as_completed()

    def submit() -> None:
        while d.ready and len(flight) < max(1, live_workers(client)):
            key = d.ready.pop(0)
            task, up = d.tasks[key], d.upstream[key]
            fut = client.submit(run_task, root, task, paths[up] if up else None, 1, key=f"{task.stage}-{key}",
                                pure=False, retries=0)
            flight[fut] = key
            pool.add(fut)

    try:
        submit()
        for fut in pool:
            key = flight.pop(fut)
            if fut.status == "finished":
                paths[key] = fut.result()
                d.release(key)
                done: list[tuple[str, str | None]] = [(key, None)]
            else:
                error = str(fut.exception())
                done = [(k, error) for k in d.failed(key)]
            submit()
            for k, why in done:
                for trial in d.finals.get(k, []):
                    on_done(trial, why)
    finally:
        client.cancel(list(flight))
