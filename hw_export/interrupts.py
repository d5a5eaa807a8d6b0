"""SIGINT/SIGTERM during a chip export (:func:`interrupt_guard`, :func:`check_interrupted`; the policy is described
in :mod:`spinsyn.hw_export.staging`, which re-exports both). Its own module so that chipfile.py (which checks for an
interruption between files) and staging.py (which also needs chipfile.py) import it, not each other.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: seconds an interrupted export may take to unwind (threads stopped, staging folder removed) before a watchdog
#: removes its staging folders and lock files itself and ends the process with the interruption's exit code: an
#: interruption raised at an arbitrary point can leave a Python-level lock held that a worker thread then waits on
#: forever, and a signalled process must still end (one such hang in ~20 SIGTERM tries was seen, not reproduced)
FORCED_EXIT_S = 60.0
#: cleanups the watchdog runs before it ends the process (registered by :class:`spinsyn.hw_export.staging.Staging`)
_CLEANUPS: list[Callable[[], None]] = []


def on_forced_exit(fn: Callable[[], None]) -> Callable[[], None]:
    """Register ``fn`` to run if an interrupted export has not unwound within :data:`FORCED_EXIT_S`; returns the
    function that unregisters it."""
    _CLEANUPS.append(fn)

    def remove() -> None:
        with contextlib.suppress(ValueError):
            _CLEANUPS.remove(fn)

    return remove


def _forced_exit(code: int) -> None:
    """The watchdog: run the registered cleanups, remove this process's lock files, say so in one line, exit."""
    from spinsyn.locks import unlink_held  # lazy: startup

    for fn in list(_CLEANUPS):
        with contextlib.suppress(Exception):
            fn()
    with contextlib.suppress(Exception):
        unlink_held()
    with contextlib.suppress(Exception):
        sys.stderr.write(f"spinsyn: error: interrupted: the export did not stop within {FORCED_EXIT_S:g} s of the "
                         "signal; its temporary folder and lock were removed and the process ends\n")
        sys.stderr.flush()
    os._exit(code)


class _Guard:
    """State of the active :func:`interrupt_guard`: the first signal, whether it was raised, commit phase."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.raised = False
        self.committing = False
        self.exc: BaseException | None = None  # the interruption the handler raised
        self.watchdog: threading.Timer | None = None  # ends the process if unwinding hangs (FORCED_EXIT_S)


_GUARD: _Guard | None = None


def _interruption(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else SystemExit(128 + signum)


def _handler(signum: int, frame: Any) -> None:
    g = _GUARD
    if g is None:  # pragma: no cover - handlers are removed with the guard
        raise _interruption(signum)
    if g.signum is None:
        g.signum = signum
    if g.raised or g.committing:
        return
    g.raised = True
    g.exc = _interruption(signum)
    if g.watchdog is None:
        code = 130 if signum == signal.SIGINT else 128 + signum
        g.watchdog = threading.Timer(FORCED_EXIT_S, _forced_exit, (code,))
        g.watchdog.daemon = True
        g.watchdog.start()
    raise g.exc


def _quiet_unraisable(prev: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """An ``sys.unraisablehook`` that drops the guard's own interruption: raised by the handler inside a
    finaliser (``__del__``, a weakref callback of h5py or a thread pool) it cannot propagate and Python would
    print "Exception ignored ... SystemExit: 143"; it is recorded, and :func:`check_interrupted` raises it
    again at the export's next safe point. Everything else goes to ``prev``."""

    def hook(unraisable: Any) -> None:
        g = _GUARD
        exc = getattr(unraisable, "exc_value", None)
        if g is not None and g.signum is not None and exc is not None and exc is g.exc:
            return
        prev(unraisable)

    return hook


@contextlib.contextmanager
def interrupt_guard(*, ignore_after: bool = False) -> Iterator[_Guard | None]:
    """SIGINT -> KeyboardInterrupt, SIGTERM -> SystemExit(143), recorded for :func:`check_interrupted`.
    ``ignore_after``: leave both signals ignored after a successful exit (the CLI, whose work is done)."""
    global _GUARD
    if _GUARD is not None or threading.current_thread() is not threading.main_thread():
        yield _GUARD
        return
    g = _Guard()
    _GUARD = g
    prev_hook = sys.unraisablehook
    sys.unraisablehook = _quiet_unraisable(prev_hook)
    prev = {s: signal.signal(s, _handler) for s in _SIGNALS}
    ok = False
    try:
        yield g
        ok = True
    except SystemError as exc:
        if g.signum is None:
            raise
        # the signal's exception landed inside a compiled (numba) call, which reports it as "returned a result with
        # an exception set": it is the interruption, not an error
        raise (g.exc if g.exc is not None else _interruption(g.signum)) from exc
    finally:
        if g.watchdog is not None:
            g.watchdog.cancel()
        for s, h in prev.items():
            signal.signal(s, signal.SIG_IGN if ok and ignore_after else h)
        _GUARD = None
        sys.unraisablehook = prev_hook


def check_interrupted() -> None:
    """Raise the recorded interruption, if any (also when it was raised before and swallowed)."""
    g = _GUARD
    if g is not None and g.signum is not None:
        g.raised = True
        g.exc = _interruption(g.signum)
        raise g.exc
