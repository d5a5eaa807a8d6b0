"""Worker processes forked from the export, for chips of many tile batches on a machine of several cores.

Programming a batch is numpy work with many small steps; in threads those steps queue for Python's lock, so the
export forks :class:`ForkedWorkers` instead: each worker inherits the layer map and the device (copy-on-write,
nothing pickled), programs the batches it is given and returns them packed (compressed chunks, CSV views already
written), results in batch order. Workers ignore SIGINT (the export handles it and stops them), are SIGKILLed when
the export dies (``PR_SET_PDEATHSIG``) and are terminated when the export leaves, however it leaves.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_FN: Callable[[Any, Any], Any] | None = None
_STATE: Any = None


def _init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)


def _call(arg: Any) -> Any:
    assert _FN is not None  # set before the fork
    return _FN(_STATE, arg)


def omp_started() -> bool:
    """Whether numba's GNU OpenMP threading layer has started in this process (a ``parallel=True`` kernel ran, e.g.
    the domain-wall reference kernel during calibration, or training in the same process). A child forked after
    that dies in its first parallel kernel ("Terminating: fork() called from a process already using GNU OpenMP")
    and the export would wait for it forever."""
    if "numba" not in sys.modules:
        return False
    import numba  # lazy: startup

    try:
        return bool(numba.threading_layer() == "omp")
    except ValueError:  # no parallel kernel has run: the layer is not initialised
        return False


def can_fork() -> bool:
    """Whether this process may fork workers: Linux-style fork, not itself a daemonic worker (a study's), and
    numba's OpenMP layer not started (:func:`omp_started`; the export then programs in threads)."""
    return "fork" in mp.get_all_start_methods() and not mp.current_process().daemon and not omp_started()


class ForkedWorkers:
    """``n`` processes forked now, each running ``fn(state, arg)`` for the args given to :meth:`map`. Fork before
    starting any thread in this process (a forked child has only the forking thread)."""

    def __init__(self, fn: Callable[[Any, Any], Any], state: Any, n: int) -> None:
        global _FN, _STATE
        _FN, _STATE = fn, state
        try:
            self.pool = mp.get_context("fork").Pool(n, initializer=_init)
        finally:
            _FN, _STATE = None, None

    def map(self, args: Iterable[Any]) -> Iterator[Any]:
        """Results of ``fn`` in the order of ``args`` (each arg sent as it is reached; a worker's exception is
        raised here)."""
        return self.pool.imap(_call, args, chunksize=1)

    def close(self) -> None:
        """Stop the workers at once (work in progress is dropped)."""
        self.pool.terminate()
        self.pool.join()
