"""Lazy imports of compiled libraries that a signal cannot leave half-imported.

A SIGINT or SIGTERM whose Python handler raises while a Cython extension module (h5py, scipy) is being
initialised leaves that module half-initialised in the interpreter: every later ``import`` in the same process
fails (``KeyError: '__reduce_cython__'``). The CLI imports such libraries lazily (a fast ``--help``), so an
interruption can land inside one; :func:`import_uninterrupted` holds SIGINT/SIGTERM for the length of the import
and delivers a signal that arrived meanwhile right after it, to the handler that was in place.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

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


def lazy_package(name: str) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` of a package whose public names are imported under ``if TYPE_CHECKING:`` in its
    ``__init__``: the first access of any such name runs that block for real (every import, in order, exactly as an
    eager ``__init__`` would), so ``import spinsyn.<stage>.cli`` (building the command line) stays light while
    ``from spinsyn.<stage> import X`` behaves as before. A submodule's name imports just that submodule (``from .
    import reference``, also one the block imports as a module), without loading the rest."""
    state: dict[str, Any] = {"loaded": False}

    def block() -> list[ast.stmt]:
        mod = sys.modules[name]
        tree = ast.parse(Path(str(mod.__file__)).read_text(encoding="utf-8"))
        return [stmt for node in tree.body if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                for stmt in node.body]

    def exported() -> set[str]:
        if "names" not in state:
            state["names"] = {(a.asname or a.name).split(".")[0] for stmt in block()
                              if isinstance(stmt, ast.ImportFrom) and stmt.module for a in stmt.names}
        return state["names"]

    def load() -> None:
        mod = sys.modules[name]
        state["loaded"] = True  # before the imports: a name asked for while they run is not there yet
        code = compile(ast.Module(body=block(), type_ignores=[]), str(mod.__file__), "exec")
        exec(code, mod.__dict__)  # the package's own import statements, run in its namespace

    def getattr_(attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        if not state["loaded"] and attr in exported():
            load()
            return getattr(sys.modules[name], attr)
        if importlib.util.find_spec(f"{name}.{attr}") is not None:
            return importlib.import_module(f"{name}.{attr}")
        raise AttributeError(f"module {name!r} has no attribute {attr!r}")

    def dir_() -> list[str]:
        mod = sys.modules[name]
        return sorted(set(mod.__dict__) | set(getattr(mod, "__all__", ())))

    return getattr_, dir_
