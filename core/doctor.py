"""``spinsyn doctor``: what this installation has, and whether it can run every stage."""

from __future__ import annotations

import argparse
import gzip
import importlib
import platform
import sys
from collections.abc import Callable
from pathlib import Path

from . import __version__


def _version(mod: str) -> str | None:
    try:
        m = importlib.import_module(mod)
    except Exception:
        return None
    return str(getattr(m, "__version__", "installed"))


def collect(data_dir: str | None = None) -> list[tuple[str, str, bool]]:
    """Rows (name, value, ok). ``ok`` is False for a missing required component; ``data_dir``: the MNIST folder
    to check instead of the lookup order (``--data-dir``)."""
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
    rows.extend(mnist_rows(data_dir))
    return rows


#: how doctor names each MNIST origin (spinsyn.mnist.resolve_mnist_dir)
ORIGIN_TEXT = {"embedded": "embedded subset", "data-dir": "--data-dir folder", "env": "$SPINSYN_MNIST_DIR",
               "cache": "user cache"}
#: images per split of the full, standard MNIST set
FULL_MNIST = {"train": 60_000, "test": 10_000}


def _count(folder: Path, split: str) -> int:
    """Images of ``split`` in ``folder``, from the IDX header of the images file (the first 8 bytes)."""
    from . import mnist  # lazy: startup

    files = mnist.split_files(folder, split)
    assert files is not None  # resolve_mnist_dir found both files
    opener = gzip.open if files[0].suffix == ".gz" else open
    with opener(files[0], "rb") as fh:
        head = fh.read(8)
    if len(head) < 8 or int.from_bytes(head[:4], "big") != 0x0803:
        raise ValueError(f"{files[0]}: not an MNIST images file (IDX magic 0x00000803)")
    return int.from_bytes(head[4:8], "big")


def mnist_rows(data_dir: str | None = None) -> list[tuple[str, str, bool]]:
    """Which MNIST source each split is read from and how many images it holds; one row when both splits come
    from one folder (e.g. "embedded subset: 2,000 train / 1,000 test images ...")."""
    from . import mnist  # lazy: startup

    found: dict[str, tuple[Path, str, int]] = {}
    rows: list[tuple[str, str, bool]] = []
    for split in ("train", "test"):
        try:
            src = mnist.resolve_mnist_dir(data_dir, split)
            found[split] = (src.folder, src.origin, _count(src.folder, split))
        except Exception as exc:
            rows.append((f"mnist {split}", f"NOT FOUND: {exc}", False))
    if not found:
        return rows
    short = [s for s, (_, _, n) in found.items() if n < FULL_MNIST[s]]
    note = (f" (not the full set of {FULL_MNIST['train']:,} / {FULL_MNIST['test']:,}; spinsyn data mnist "
            "--download)" if short else "")
    if len(found) == 2 and found["train"][:2] == found["test"][:2]:
        folder, origin, n_train = found["train"]
        return [("mnist", f"{ORIGIN_TEXT.get(origin, origin)}: {n_train:,} train / {found['test'][2]:,} test images"
                          f"{note}, in {folder}", True)]
    for split, (folder, origin, n) in found.items():
        rows.append((f"mnist {split}", f"{ORIGIN_TEXT.get(origin, origin)}: {n:,} {split} images"
                                       f"{note if split in short else ''}, in {folder}", True))
    return rows


def run(out: Callable[[str], None] = print, data_dir: str | None = None) -> int:
    """Print the report (MNIST from ``data_dir`` when given); return 0 when everything required is present, else
    1."""
    rows = collect(data_dir)
    width = max(len(r[0]) for r in rows)
    for name, value, ok in rows:
        out(f"{'ok ' if ok else 'ERR'} {name:<{width}}  {value}")
    bad = [r[0] for r in rows if not r[2]]
    if bad:
        out(f"missing or broken: {', '.join(bad)}")
        return 1
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="report versions, ngspice, CUDA and where MNIST is read from",
                       description="Versions, torch CUDA, the ngspice library, and which MNIST source spinsyn reads "
                                   "(and how many images it holds). Exit 1 when something required is missing.")
    p.add_argument("--data-dir", default=None, metavar="DIR",
                   help="MNIST folder to check instead of the lookup order (--data-dir, $SPINSYN_MNIST_DIR, user "
                        "cache, embedded subset)")
    p.set_defaults(func=_cmd_doctor)


def _cmd_doctor(args: argparse.Namespace) -> int:
    """``spinsyn doctor``: a --data-dir that is not a folder is a bad option (exit 2, nothing checked)."""
    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        raise ValueError(f"--data-dir: {args.data_dir}: not a directory")
    return run(data_dir=args.data_dir)
