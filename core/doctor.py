"""``spinsyn doctor``: what this installation has, and whether it can run every stage."""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
from collections.abc import Callable

from . import __version__


def _version(mod: str) -> str | None:
    try:
        m = importlib.import_module(mod)
    except Exception:
        return None
    return str(getattr(m, "__version__", "installed"))


def collect() -> list[tuple[str, str, bool]]:
    """Rows (name, value, ok). ``ok`` is False for a missing required component."""
    rows: list[tuple[str, str, bool]] = [
        ("spinsyn", __version__, True),
        ("python", f"{platform.python_version()} ({sys.executable})", True),
    ]
    for name, mod in (("numpy", "numpy"), ("scipy", "scipy"), ("h5py", "h5py"), ("matplotlib", "matplotlib"),
                      ("tqdm", "tqdm"), ("numba", "numba"), ("PySpice", "PySpice")):
        v = _version(mod)
        rows.append((name, v or "MISSING (pip install -e .)", v is not None))
    tv = _version("torch")
    if tv is None:
        rows.append(("torch", "MISSING (pip install torch==2.13.0)", False))
    else:
        import torch  # lazy: startup

        if torch.cuda.is_available():
            cuda = f"CUDA available: {torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})"
        else:
            cuda = "CUDA not available (CPU only)"
        rows.append(("torch", f"{tv}; {cuda}", True))
    from .ngspice import find_library, library_version  # lazy: startup

    lib = find_library()
    if lib is None:
        rows.append(("ngspice", "MISSING: sudo apt-get install -y libngspice0", False))
    else:
        path, ver = library_version()
        if ver is None:
            rows.append(("ngspice", f"{path}: found but could not be loaded through PySpice", False))
        else:
            rows.append(("ngspice", f"version {ver} ({path})", True))
    from . import mnist  # lazy: startup

    for split in ("train", "test"):
        try:
            src = mnist.resolve_mnist_dir(None, split)
            rows.append((f"mnist {split}", f"{src.folder} ({src.origin})", True))
        except Exception as exc:
            rows.append((f"mnist {split}", f"NOT FOUND: {exc}", False))
    return rows


def run(out: Callable[[str], None] = print) -> int:
    """Print the report; return 0 when everything required is present, else 1."""
    rows = collect()
    width = max(len(r[0]) for r in rows)
    for name, value, ok in rows:
        out(f"{'ok ' if ok else 'ERR'} {name:<{width}}  {value}")
    bad = [r[0] for r in rows if not r[2]]
    if bad:
        out(f"missing or broken: {', '.join(bad)}")
        return 1
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="report versions, ngspice, CUDA and where MNIST is read from")
    p.set_defaults(func=lambda args: run())
