"""File conventions shared by every stage: atomic writes, provenance, units, format versions.

Every file spinsyn writes goes through this module, so an interrupted run never leaves a half-written
file (temporary file in the same folder, fsync, rename) and every file says who wrote it, when, with
which seed and in which format version.

Conventions
-----------
* Quantities carry their unit in the name (``g_before_S``, ``dt_ms``, ``v_V``, ``width_ns``) or, where the
  name cannot, a ``units`` attribute.
* Every HDF5 file has root attributes ``format`` (e.g. ``"spinsyn-sweep"``), ``format_version`` (int) and
  ``provenance`` (JSON: spinsyn version, command line, seed, UTC timestamp, host, Python version).
* Every JSON file has top-level keys ``format``, ``format_version`` and ``provenance`` likewise.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import itertools
import json
import os
import platform
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .lazyimport import import_uninterrupted

PathLike = str | os.PathLike


class SpinsynFileError(ValueError):
    """A file is missing, malformed, of another format or version, or fails its checksum.

    The message always names the file and what was expected.
    """


def provenance(seed: int | None = None, **extra: Any) -> dict[str, Any]:
    """Provenance record stored in every output file.

    Returns a JSON-serialisable dict: spinsyn version, command line, seed, UTC timestamp, Python and host.
    """
    rec: dict[str, Any] = {
        "spinsyn_version": __version__,
        "command_line": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "",
        "seed": seed,
        "utc_timestamp": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "host": platform.node(),
    }
    rec.update(extra)
    return rec


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` with its missing ancestors; returns the folders created, deepest first."""
    missing = []
    p = folder
    while not (p.exists() or p.is_symlink()) and p.parent != p:
        missing.append(p)
        p = p.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except BaseException:
        remove_empty_dirs(missing)
        raise
    return missing


def remove_empty_dirs(dirs: list[Path]) -> None:
    """Remove each of ``dirs`` (deepest first) that is an empty folder; leave the others."""
    for d in dirs:
        with contextlib.suppress(OSError):
            d.rmdir()


def named_os_error(exc: OSError, path: PathLike, tmp: PathLike | None = None) -> OSError:
    """``exc`` naming ``path`` when it names no file or the temporary file ``tmp`` (an EFBIG or ENOSPC from a
    write names none), so the CLI prints ``spinsyn: error: <path>: File too large``; ``exc`` itself otherwise.
    The text is the system's for the error number (h5py's long messages dropped)."""
    if exc.filename is not None and (tmp is None or str(exc.filename) != str(tmp)):
        return exc
    code = exc.errno
    if isinstance(code, int) and code > 0:
        return OSError(code, os.strerror(code), str(path))  # the matching subclass (PermissionError, ...)
    text = (exc.strerror or str(exc) or type(exc).__name__).splitlines()[0][:200]
    return OSError(exc.errno, text, str(path))


@contextlib.contextmanager
def atomic_path(path: PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it onto ``path``.

    If the body raises (or the process dies), ``path`` keeps its old content (or stays absent), the
    temporary file is removed and so are the folders this call created. Use for writers that need a
    filename (torch.save, matplotlib). An OSError naming no file or the temporary one (a write refused with
    EFBIG under ``ulimit -f``, ENOSPC, EACCES) is raised again naming ``path`` (:func:`named_os_error`).
    """
    path = Path(path)
    created = make_parents(path.parent)
    sfx = suffix if suffix is not None else path.suffix
    tmp_path: Path | None = None
    try:
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{sfx}", dir=path.parent)
        except OSError as exc:  # names the random temporary name it tried: name path instead
            raise named_os_error(exc, path, exc.filename) from None
        os.close(fd)
        tmp_path = Path(tmp)
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give files the usual mode
        os.replace(tmp_path, path)
        _fsync_dir(path.parent)
    except BaseException as exc:
        if tmp_path is not None:
            with contextlib.suppress(OSError):
                tmp_path.unlink()
        remove_empty_dirs(created)
        if isinstance(exc, OSError):
            named = named_os_error(exc, path, tmp_path)
            if named is not exc:
                raise named from None
        raise


@contextlib.contextmanager
def atomic_h5(path: PathLike) -> Iterator[Any]:
    """Yield a new ``h5py.File`` built in memory; on success its bytes are written to ``path`` atomically.

    HDF5 never writes to disk itself, so a write refused by the system (EFBIG under ``ulimit -f``, ENOSPC)
    is one OSError naming ``path`` (:func:`atomic_path`), never HDF5's error cascade or a crash in its
    finalisers; nothing is left behind. Memory: the whole file (chip and sweep files are at most tens of MB).
    """
    h5py = import_uninterrupted("h5py")  # lazy (startup); never half-imported by a signal

    f = h5py.File(f"spinsyn-memory-{os.getpid()}-{id(path)}-{next(_H5_COUNTER)}.h5", "w", driver="core",
                  backing_store=False)
    try:
        yield f
        f.flush()
        image = f.id.get_file_image()
    finally:
        f.close()
    atomic_write_bytes(path, image)


_H5_COUNTER = itertools.count()


def user_cache_dir(*parts: str) -> Path:
    """``$XDG_CACHE_HOME/spinsyn/<parts>`` (``~/.cache`` when unset): spinsyn's per-user caches."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "spinsyn", *parts)


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically. Returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically. Returns the path."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "__dataclass_fields__"):
        return dataclasses.asdict(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def to_json(obj: Any) -> str:
    """JSON text for ``obj`` (numpy scalars/arrays, paths and dataclasses allowed), indented, sorted."""
    return json.dumps(obj, indent=2, sort_keys=True, default=_json_default, allow_nan=False)


def write_json(
    path: PathLike,
    payload: dict[str, Any],
    *,
    fmt: str,
    version: int,
    seed: int | None = None,
) -> Path:
    """Atomically write ``payload`` as JSON with ``format``, ``format_version`` and ``provenance`` keys."""
    doc = {"format": fmt, "format_version": int(version), "provenance": provenance(seed)}
    doc.update(payload)
    return atomic_write_text(path, to_json(doc) + "\n")


def read_json(path: PathLike, *, fmt: str | None = None, versions: tuple[int, ...] | None = None) -> dict:
    """Read a spinsyn JSON file and check its ``format`` and ``format_version``.

    Raises :class:`SpinsynFileError` naming the file for a missing file, bad JSON, another format or an
    unsupported version.
    """
    path = Path(path)
    if not path.is_file():
        raise SpinsynFileError(f"{path}: file not found")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SpinsynFileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise SpinsynFileError(f"{path}: expected a JSON object at the top level")
    check_format(path, doc.get("format"), doc.get("format_version"), fmt, versions)
    return doc


def check_format(
    path: PathLike,
    got_fmt: Any,
    got_version: Any,
    fmt: str | None,
    versions: tuple[int, ...] | None,
) -> None:
    """Raise :class:`SpinsynFileError` unless ``got_fmt``/``got_version`` match what is expected."""
    if fmt is not None and got_fmt != fmt:
        raise SpinsynFileError(f"{path}: format is {got_fmt!r}, expected {fmt!r}")
    if versions is not None:
        try:
            v = int(got_version)
        except (TypeError, ValueError):
            raise SpinsynFileError(f"{path}: missing or invalid format_version {got_version!r}") from None
        if v not in versions:
            raise SpinsynFileError(
                f"{path}: format_version {v} is not supported (this spinsyn reads {list(versions)})"
            )


def h5_write_meta(h5obj: Any, *, fmt: str, version: int, seed: int | None = None, **json_attrs: Any) -> None:
    """Set ``format``, ``format_version``, ``provenance`` and JSON-encoded extra attributes on an HDF5 node."""
    h5obj.attrs["format"] = fmt
    h5obj.attrs["format_version"] = int(version)
    h5obj.attrs["provenance"] = to_json(provenance(seed))
    for key, value in json_attrs.items():
        h5obj.attrs[key] = to_json(value)


def h5_dataset(group: Any, name: str, data: Any, units: str | None = None, **kwargs: Any) -> Any:
    """Create dataset ``name`` with a ``units`` attribute (taken from the name suffix if not given).

    Suffix convention: ``_S`` siemens, ``_ohm``, ``_V``, ``_A``, ``_ms``, ``_ns``, ``_s``, ``_J``.
    """
    ds = group.create_dataset(name, data=data, **kwargs)
    ds.attrs["units"] = units if units is not None else units_from_name(name)
    return ds


_SUFFIX_UNITS = {
    "_S": "S", "_uS": "uS", "_ohm": "ohm", "_V": "V", "_mV": "mV", "_A": "A", "_uA": "uA",
    "_ms": "ms", "_us": "us", "_ns": "ns", "_s": "s", "_J": "J", "_pJ": "pJ",
}


def units_from_name(name: str) -> str:
    """Unit implied by a dataset name suffix (``"1"`` = dimensionless when none matches)."""
    for suffix, unit in sorted(_SUFFIX_UNITS.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return unit
    return "1"


def h5_read_meta(path: PathLike, h5obj: Any, *, fmt: str, versions: tuple[int, ...]) -> dict[str, Any]:
    """Check ``format``/``format_version`` of an HDF5 node and return its attributes, JSON ones decoded."""
    attrs = dict(h5obj.attrs)
    check_format(path, _decode(attrs.get("format")), attrs.get("format_version"), fmt, versions)
    out: dict[str, Any] = {}
    for k, v in attrs.items():
        v = _decode(v)
        if isinstance(v, str) and v[:1] in "{[":
            with contextlib.suppress(json.JSONDecodeError):
                v = json.loads(v)
        out[k] = v
    return out


def _decode(v: Any) -> Any:
    return v.decode("utf-8") if isinstance(v, bytes) else v


def sha256_file(path: PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def save_with(path: PathLike, writer: Callable[[Path], None]) -> Path:
    """Run ``writer(tmp_path)`` and atomically move the result onto ``path``."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)
