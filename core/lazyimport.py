"""Lazy imports of compiled libraries that a signal cannot leave half-imported.

A SIGINT or SIGTERM whose Python handler raises while a Cython extension module (h5py, scipy) is being
initialised leaves that module half-initialised in the interpreter: every later ``import`` in the same process
fails (``KeyError: '__reduce_cython__'``). The CLI imports such libraries lazily (a fast ``--help``), so an
interruption can land inside one; :func:`import_uninterrupted` holds SIGINT/SIGTERM for the length of the import
and delivers a signal that arrived meanwhile right after it, to the handler that was in place.
"""

from __future__ import annotations

import importlib
import signal
import sys
import threading
from types import FrameType, ModuleType

_HELD = (signal.SIGINT, signal.SIGTERM)


def import_uninterrupted(name: str) -> ModuleType:
    """``importlib.import_module(name)`` with SIGINT/SIGTERM delivered after the import, not inside it.

    Off the main thread (where Python runs no signal handler) or for a module already imported, a plain import.
    """
    mod = sys.modules.get(name)
    if mod is not None or threading.current_thread() is not threading.main_thread():
        return importlib.import_module(name)
    arrived: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        arrived.append(signum)

    previous = {}
    for s in _HELD:
        handler = signal.getsignal(s)
        if callable(handler):  # a Python handler that may raise; SIG_DFL/SIG_IGN/None act in C, never mid-import
            previous[s] = handler
            signal.signal(s, hold)
    try:
        return importlib.import_module(name)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if arrived:
            signal.raise_signal(arrived[0])
