"""Boundary checks, in the spirit of scikit-learn's ``check_scalar``: one call per value, a message that names
the option, what was given and what is expected. The CLI and the Python API call the same checks; code behind
the boundary trusts its inputs.

Every check raises :class:`ValueError` (printed by the CLI as ``spinsyn: error: <name>: <problem>``, exit 2).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

Closed = Literal["both", "left", "right", "neither"]


def _type_name(t: type | tuple[type, ...]) -> str:
    if isinstance(t, tuple):
        return " or ".join(x.__name__ for x in t)
    return t.__name__


def check_scalar(x: Any, name: str, target_type: type | tuple[type, ...], *, min_val: float | None = None,
                 max_val: float | None = None, include_boundaries: Closed = "both") -> Any:
    """Return ``x`` when it is a finite scalar of ``target_type`` inside the range, else raise ValueError.

    ``name`` is what the user typed (``--nu``, ``n_train``); ``bool`` is never accepted as a number, ints are
    accepted where floats are expected, NaN and ±inf never.
    """
    types = target_type if isinstance(target_type, tuple) else (target_type,)
    ok_type = (isinstance(x, target_type) or (float in types and isinstance(x, numbers.Real))
               or (int in types and isinstance(x, numbers.Integral)))  # numpy scalars count
    if isinstance(x, bool) or not ok_type:
        raise ValueError(f"{name}: expected {_type_name(target_type)}, got {x!r}")
    if isinstance(x, numbers.Real) and not math.isfinite(float(x)):
        raise ValueError(f"{name}: expected a finite number, got {x!r}")
    lo_ok = min_val is None or (x >= min_val if include_boundaries in ("both", "left") else x > min_val)
    hi_ok = max_val is None or (x <= max_val if include_boundaries in ("both", "right") else x < max_val)
    if not (lo_ok and hi_ok):
        raise ValueError(f"{name}: got {x!r}, expected {_range_text(min_val, max_val, include_boundaries)}")
    return x


def _range_text(lo: float | None, hi: float | None, closed: Closed) -> str:
    left = "[" if closed in ("both", "left") else "("
    right = "]" if closed in ("both", "right") else ")"
    if lo is not None and hi is not None:
        return f"a value in {left}{lo:g}, {hi:g}{right}"
    if lo is not None:
        return f"a value {'>=' if left == '[' else '>'} {lo:g}"
    return f"a value {'<=' if right == ']' else '<'} {hi:g}"


def check_choice(x: Any, name: str, choices: Iterable[Any]) -> Any:
    """Return ``x`` when it is one of ``choices``, else raise ValueError listing them."""
    options = list(choices)
    if x not in options:
        raise ValueError(f"{name}: got {x!r}, expected one of {', '.join(map(str, options))}")
    return x


def check_file(path: str | Path, name: str) -> Path:
    """An existing regular file, else ValueError naming the option and the path."""
    return _check_existing(path, name, want_dir=False)


def check_dir(path: str | Path, name: str) -> Path:
    """An existing directory, else ValueError naming the option and the path."""
    return _check_existing(path, name, want_dir=True)


def _check_existing(path: str | Path, name: str, *, want_dir: bool) -> Path:
    p = Path(path)
    if p.is_dir() if want_dir else p.is_file():
        return p
    if not p.exists():
        problem = "directory not found" if want_dir else "file not found"
    else:
        problem = "is a file, expected a directory" if want_dir else "is a directory, expected a file"
    raise ValueError(f"{name}: {p}: {problem}")


def _nearest_existing(p: Path) -> Path:
    """``p`` or its nearest existing ancestor."""
    q = p
    while not q.exists() and q != q.parent:
        q = q.parent
    return q


def _probe_folder(folder: Path, name: str, target: Path) -> None:
    """Create (and remove) a temporary file in ``folder``, the way every writer will; ValueError if impossible."""
    import os
    import tempfile

    if not folder.is_dir():
        raise ValueError(f"{name}: {target}: {folder} is a file, expected a directory")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".spinsyn-probe-", dir=folder)
    except OSError as exc:
        raise ValueError(f"{name}: {target}: cannot write into {folder} ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(tmp)


#: figure file endings matplotlib writes (``--plot`` of fit, ``device plot --out``)
FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".eps", ".ps", ".tif", ".tiff", ".webp")


def check_writable_file(path: str | Path, name: str, suffixes: Iterable[str] | None = None) -> Path:
    """An output file spinsyn can write: not a directory, its folder (or nearest existing ancestor) a
    directory where a temporary file can be created (probed), and, with ``suffixes``, one of those endings.
    Creates nothing. ValueError naming the option and the path otherwise."""
    p = Path(path)
    if str(path) == "" or p.is_dir():
        raise ValueError(f"{name}: {p}: is a directory, expected a file")
    if suffixes is not None:
        allowed = [s.lower() for s in suffixes]
        if p.suffix.lower() not in allowed:
            raise ValueError(f"{name}: {p}: unsupported file type {p.suffix or '(none)'!r}; expected "
                             f"{', '.join(allowed)}")
    _probe_folder(_nearest_existing(p.parent if str(p.parent) else Path(".")), name, p)
    return p


def check_writable_dir(path: str | Path, name: str) -> Path:
    """An output folder spinsyn can write: a directory (or absent, with a writable nearest ancestor that is a
    directory), never a file. Creates nothing. ValueError naming the option and the path otherwise."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ValueError(f"{name}: {p}: is a file, expected a directory")
    _probe_folder(_nearest_existing(p), name, p)
    return p
