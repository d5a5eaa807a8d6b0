"""Dask schedulers shared by the stages that fan work out (``spinsyn device sweep --scheduler``, ``spinsyn study``).

``none`` (in this process), ``local:N`` (a dask.distributed LocalCluster of N single-threaded worker processes that
die with this process; N at most the machine's cores and its available memory over :data:`WORKER_MEMORY`,
:func:`local_cap`) and ``tcp://HOST:PORT`` (an existing dask scheduler). A base module: it imports no stage, and
dask itself only when a client is opened.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

SCHEDULER_HELP = "none (in process), local[:N] (LocalCluster of N worker processes; default and most: " \
                 "local:<cores>, fewer when memory is short), or tcp://HOST:PORT (an existing dask scheduler)"
#: one thread per library in each worker: the worker is the unit of parallelism
WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
#: memory set aside per local worker process (a training worker with torch and numba loaded), bytes
WORKER_MEMORY = 1 << 30


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one, else ``os.cpu_count()``)."""
    with contextlib.suppress(AttributeError, OSError):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def available_memory() -> int | None:
    """Bytes of memory available to new processes now (psutil, else ``sysconf``); None if unknown."""
    with contextlib.suppress(Exception):
        import psutil  # lazy: optional

        return int(psutil.virtual_memory().available)
    with contextlib.suppress(ValueError, OSError, AttributeError):
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    return None


def local_cap() -> tuple[int, str]:
    """The most ``local:N`` workers this machine allows: N <= cores and N x :data:`WORKER_MEMORY` <= available
    memory (at least 1), and the reason in words."""
    cores, mem = usable_cores(), available_memory()
    cap, why = cores, f"{cores} cores"
    if mem is not None:
        cap = max(1, min(cap, mem // WORKER_MEMORY))
        why += f", {mem / 2**30:.1f} GiB memory available at {WORKER_MEMORY / 2**30:g} GiB per worker"
    return cap, why


def default_scheduler() -> str:
    """``local:<N>``, N the most this machine allows (:func:`local_cap`: its cores, fewer when memory is short)."""
    return f"local:{local_cap()[0]}"


def parse_scheduler(text: str) -> tuple[str, Any]:
    """``("none", None)``, ``("local", N)`` or ``("tcp", address)``; ValueError naming ``--scheduler`` (a
    ``local:N`` beyond :func:`local_cap` is refused, stating the cap)."""
    if not isinstance(text, str):
        raise ValueError(f"--scheduler: expected text, got {text!r}")
    if text == "none":
        return "none", None
    if text == "local" or text.startswith("local:"):
        cap, why = local_cap()
        n = text.partition(":")[2] or str(cap)
        if not (n.isascii() and n.isdigit()) or len(n) > 9 or not 1 <= int(n) <= cap:
            raise ValueError(f"--scheduler: got {text!r}, expected local:N with 1 <= N <= {cap}: this machine "
                             f"allows at most local:{cap} ({why})")
        return "local", int(n)
    if text.startswith("tcp://"):
        host, _, port = text[len("tcp://"):].rpartition(":")
        if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
            raise ValueError(f"--scheduler: got {text!r}, expected tcp://HOST:PORT")
        return "tcp", text
    raise ValueError(f"--scheduler: got {text!r}, expected {SCHEDULER_HELP}")


def _die_with_parent_plugin() -> Any:
    from distributed import WorkerPlugin  # lazy: optional

    class DieWithParent(WorkerPlugin):
        """Linux: SIGKILL this worker process when the process that started it dies (``PR_SET_PDEATHSIG``)."""

        name = "spinsyn-die-with-parent"

        def setup(self, worker: Any) -> None:
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

    from distributed import Client, LocalCluster  # lazy: optional

    if kind == "tcp":
        try:
            client = Client(arg, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"--scheduler: cannot reach {arg} ({exc})") from None
        with client:
            yield client
        return
    # the scheduler's HTTP server on a free port of the loopback: never the fixed 8787 ("Port 8787 is already in
    # use" when two studies run), never on every interface
    with LocalCluster(n_workers=arg, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
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
