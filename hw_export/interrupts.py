"""SIGINT/SIGTERM during a chip export (:func:`interrupt_guard`, :func:`check_interrupted`; the policy is described
in :mod:`spinsyn.hw_export.staging`, which re-exports both). Its own module so that chipfile.py (which checks for an
interruption between files) and staging.py (which also needs chipfile.py) import it, not each other.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Guard:
    """State of the active :func:`interrupt_guard`: the first signal, whether it was raised, commit phase."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.raised = False
        self.committing = False
        self.exc: BaseException | None = None  # the interruption the handler raised


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
    finally:
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
