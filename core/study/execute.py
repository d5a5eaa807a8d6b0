"""Schedulers: ``none`` (in this process), ``local:N`` (a dask.distributed LocalCluster of N single-threaded
worker processes that die with this process) and ``tcp://HOST:PORT`` (an existing dask scheduler; its workers
must see the study folder at the same path). Each distinct cache key is one task, shared by every trial that
needs it; a trial's row is written when its simulate task finishes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from .stages import run_task
from .trials import StageTask, Trial

SCHEDULER_HELP = "none (in process), local[:N] (LocalCluster of N worker processes; default local:<cores>), " \
                 "or tcp://HOST:PORT (an existing dask scheduler)"
#: one thread per library in each worker: the worker is the unit of parallelism
WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
OnDone = Callable[[Trial, "str | None"], None]


def default_scheduler() -> str:
    """``local:<cores>``."""
    return f"local:{os.cpu_count() or 1}"


def parse_scheduler(text: str) -> tuple[str, Any]:
    """``("none", None)``, ``("local", N)`` or ``("tcp", address)``; ValueError naming ``--scheduler``."""
    if not isinstance(text, str):
        raise ValueError(f"--scheduler: expected text, got {text!r}")
    if text == "none":
        return "none", None
    if text == "local" or text.startswith("local:"):
        n = text.partition(":")[2] or str(os.cpu_count() or 1)
        if not n.isdigit() or not 1 <= int(n) <= 1024:
            raise ValueError(f"--scheduler: got {text!r}, expected local:N with 1 <= N <= 1024")
        return "local", int(n)
    if text.startswith("tcp://"):
        host, _, port = text[len("tcp://"):].rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"--scheduler: got {text!r}, expected tcp://HOST:PORT")
        return "tcp", text
    raise ValueError(f"--scheduler: got {text!r}, expected {SCHEDULER_HELP}")


def _die_with_parent_plugin() -> Any:
    from distributed import WorkerPlugin

    class DieWithParent(WorkerPlugin):
        """Linux: SIGKILL this worker process when the process that started it dies (``PR_SET_PDEATHSIG``)."""

        name = "spinsyn-die-with-parent"

        def setup(self, worker: Any) -> None:
            import ctypes
            import signal
            import sys

            if sys.platform.startswith("linux"):
                with contextlib.suppress(OSError, AttributeError):
                    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)

    return DieWithParent()


@contextlib.contextmanager
def open_client(scheduler: str) -> Iterator[Any]:
    """A dask ``Client`` for ``scheduler`` (None for ``none``), closed (a LocalCluster shut down) on exit."""
    kind, arg = parse_scheduler(scheduler)
    if kind == "none":
        yield None
        return
    import logging

    from distributed import Client, LocalCluster

    if kind == "tcp":
        try:
            client = Client(arg, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"--scheduler: cannot reach {arg} ({exc})") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=arg, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR, env=WORKER_ENV) as cluster, Client(cluster) as client:
        client.register_plugin(_die_with_parent_plugin())
        yield client


def live_workers(client: Any) -> int:
    """Workers connected to the scheduler now (1 for in-process runs)."""
    if client is None:
        return 1
    with contextlib.suppress(Exception):
        return len(client.scheduler_info(n_workers=-1)["workers"])
    return 0


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
                up = done.get(plans_key(plans[trial.index], task.upstream)) if task.upstream else None
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
    from distributed import as_completed

    futures: dict[str, Any] = {}
    finals: dict[str, list[Trial]] = {}
    for trial in trials:
        for task in plans[trial.index]:
            if task.key not in futures:
                up = futures[plans_key(plans[trial.index], task.upstream)] if task.upstream else None
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
