"""Boundary checks, in the spirit of scikit-learn's ``check_scalar``: one call per value, a message that names
the option, what was given and what is expected. The CLI and the Python API call the same checks; code behind
the boundary trusts its inputs.

Every check raises :class:`ValueError` (printed by the CLI as ``spinsyn: error: <name>: <problem>``, exit 2).

Output policy (:func:`check_output_file`; every file a command writes: ``device sweep --out``, ``device plot
--out``, ``fit --out/--plot``, ``fit calibrate --out``, ``export nir --out``, ``export simulate --json`` and its
ageing figure, and the Python functions behind them), checked before any work:

1. never an input of the same command (the same path once links are resolved, or the same file through a hard
   link) nor a file inside an input folder, nor another output of the command: refused even with ``--overwrite``;
2. never inside a folder spinsyn made for another command, at any depth (:func:`owned_folder`): a run
   (a spinsyn ``checkpoint.pt`` or a ``spinsyn-metrics`` ``metrics.json``), a chip (a ``spinsyn-chip-manifest``
   ``manifest.json`` or a ``spinsyn-chip`` ``chip.h5``), a study (``.spinsyn-study``) or a pipeline
   (``.spinsyn-pipeline``): refused even with ``--overwrite``. A folder whose lock this process holds (the
   pipeline's own folder) or a study's staging folder (``.spinsyn-study-staging``) is the command's own;
3. an existing file is replaced silently only when it is a spinsyn file of the format the command writes
   (:func:`spinsyn_format`: re-running ``fit ... --out rule.json`` is the common workflow); any other file (a
   user's, another spinsyn format, a figure spinsyn did not mark) needs ``--overwrite``.

Folder writers (train, import, export, pipeline, study) have their own checks; :func:`check_output_folder`
applies rules 1 and 2 to a new folder (``import bindsnet --out``).
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from .lazyimport import import_uninterrupted

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


# ------------------------------------------------------------------------------------------- output policy
#: the format label of the figures spinsyn writes (marked by :func:`figure_save_kwargs`)
FIGURE_FORMAT = "spinsyn-figure"
#: NIR files written by ``export nir`` (root attribute ``format`` added next to NIR's own content)
NIR_FORMAT = "spinsyn-nir"
#: markers of the folders spinsyn makes (names as in snn/checkpoint.py, snn/trainer.py, hw_export/chipfile.py,
#: core/study/runner.py and core/study/cache.py; tests/hostile/test_output_policy.py checks they agree)
RUN_CHECKPOINT, CHECKPOINT_FORMAT = "checkpoint.pt", "spinsyn-checkpoint"
RUN_METRICS, METRICS_FORMAT = "metrics.json", "spinsyn-metrics"
CHIP_MANIFEST, MANIFEST_FORMAT = "manifest.json", "spinsyn-chip-manifest"
CHIP_H5, CHIP_FORMAT = "chip.h5", "spinsyn-chip"
STUDY_MARKER, PIPELINE_MARKER, STUDY_STAGING_MARKER = ".spinsyn-study", ".spinsyn-pipeline", ".spinsyn-study-staging"

_HEAD_BYTES = 16384  # bytes read from each end of a file to recognise it
_JSON_FULL_BYTES = 1 << 20  # JSON up to this size is parsed; larger ones are scanned for the top-level key
_JSON_SCAN_BYTES = 64 << 20
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_ZIP_SIGNATURE = b"PK\x03\x04"
_FIGURE_MAGIC = (b"\x89PNG", b"%PDF", b"%!PS", b"\xc5\xd0\xd3\xc6", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"RIFF",
                 b"<?xml")
_JSON_FORMAT_KEY = re.compile(rb'\n  "format": "(spinsyn-[A-Za-z0-9_.-]{1,80})"')  # fileio.to_json: indent 2


def figure_save_kwargs(fmt: str) -> dict[str, Any]:
    """Keyword arguments of matplotlib's ``savefig`` that mark a figure of format ``fmt`` (``png``, ``.pdf``,
    ``jpg``, ...) as written by spinsyn (text ``spinsyn-figure (spinsyn <version>)`` in its metadata), so that
    :func:`spinsyn_format` recognises it and a rerun may replace it. ``{}`` for formats without metadata."""
    from . import __version__  # lazy: startup

    text = f"{FIGURE_FORMAT} (spinsyn {__version__})"
    f = fmt.lower().lstrip(".")
    f = {"jpg": "jpeg", "tif": "tiff"}.get(f, f)
    if f == "png":
        return {"metadata": {"Software": text}}
    if f in ("pdf", "svg", "ps", "eps"):
        return {"metadata": {"Creator": text}}
    pil = {"jpeg": {"comment": text.encode()}, "tiff": {"description": text}, "webp": {"xmp": text.encode()}}
    return {"pil_kwargs": pil[f]} if f in pil else {}


def spinsyn_format(path: str | Path) -> str | None:
    """The spinsyn format of the file at ``path`` (``"spinsyn-rule"``, ``"spinsyn-sweep"``, ``"spinsyn-nir"``,
    :data:`FIGURE_FORMAT`, ...) or None: not a regular file, unreadable, or not written by spinsyn.

    JSON: top-level ``format`` starting ``spinsyn-``; HDF5: root attribute ``format`` (a NIR graph whose metadata
    says ``producer: spinsyn`` is ``spinsyn-nir``); zip: a run checkpoint (``format.npy`` of a v3 ``.npz``, the
    pickle of a v1/v2 torch file, searched as bytes, never unpickled); figures: the mark of
    :func:`figure_save_kwargs` within the first or last 16 KB. Reads a few KB (a JSON file over 1 MiB is scanned,
    at most 64 MiB); never raises."""
    try:
        p = Path(path)
        if not p.is_file():
            return None
        with open(p, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(_HEAD_BYTES)
            if head.startswith(_HDF5_SIGNATURE):
                return _h5_format(p)
            if head.startswith(_ZIP_SIGNATURE):
                return _zip_format(p)
            if head.lstrip()[:1] == b"{":
                return _json_format(fh, size)
            if not head.startswith(_FIGURE_MAGIC):
                return None
            fh.seek(max(size - _HEAD_BYTES, len(head)))
            tail = fh.read(_HEAD_BYTES)
        return FIGURE_FORMAT if FIGURE_FORMAT.encode() in head + b"\n" + tail else None
    except Exception:  # noqa: BLE001 - a file we cannot recognise is simply not spinsyn's
        return None


def _json_format(fh: Any, size: int) -> str | None:
    fh.seek(0)
    if size <= _JSON_FULL_BYTES:
        doc = json.loads(fh.read().decode("utf-8"))
        fmt = doc.get("format") if isinstance(doc, dict) else None
        return fmt if isinstance(fmt, str) and fmt.startswith("spinsyn-") else None
    carry, seen = b"", 0
    while seen < _JSON_SCAN_BYTES:
        chunk = fh.read(1 << 20)
        if not chunk:
            return None
        m = _JSON_FORMAT_KEY.search(carry + chunk)
        if m:
            return m.group(1).decode()
        carry, seen = chunk[-128:], seen + len(chunk)
    return None


def _h5_format(path: Path) -> str | None:
    h5py = import_uninterrupted("h5py")  # lazy (startup); never half-imported by a signal

    with h5py.File(path, "r") as f:
        fmt = f.attrs.get("format")
        fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
        if isinstance(fmt, str) and fmt.startswith("spinsyn-"):
            return fmt
        producer = f.get("node/metadata/producer")  # a NIR graph from before NIR files carried the attribute
        if isinstance(producer, h5py.Dataset) and producer[()] in (b"spinsyn", "spinsyn"):
            return NIR_FORMAT
    return None


def _zip_format(path: Path) -> str | None:
    mark = CHECKPOINT_FORMAT
    with zipfile.ZipFile(path) as z:
        for info in z.infolist()[:64]:
            if info.filename == "format.npy" or info.filename.rsplit("/", 1)[-1] == "data.pkl":
                with z.open(info) as fh:
                    data = fh.read(65536)
                if mark.encode() in data or mark.encode("utf-32-le") in data:
                    return mark
    return None


def _is_file(p: Path) -> bool:
    try:
        return p.is_file()
    except OSError:
        return False


def owned_folder(folder: str | Path) -> str | None:
    """What spinsyn made ``folder`` for: ``"run"``, ``"chip"``, ``"study"``, ``"pipeline"``, or None (a few
    ``stat`` calls; a small JSON or HDF5 read only where a marker file exists). Never raises."""
    f = Path(folder)
    if _is_file(f / STUDY_MARKER):
        return "study"
    if _is_file(f / PIPELINE_MARKER):
        return "pipeline"
    if spinsyn_format(f / RUN_CHECKPOINT) == CHECKPOINT_FORMAT or spinsyn_format(f / RUN_METRICS) == METRICS_FORMAT:
        return "run"
    if spinsyn_format(f / CHIP_MANIFEST) == MANIFEST_FORMAT or spinsyn_format(f / CHIP_H5) == CHIP_FORMAT:
        return "chip"
    return None


def _resolved(p: Path) -> Path:
    try:
        return Path(os.path.abspath(p)).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return Path(os.path.abspath(p))


def _held_folders() -> set[Path]:
    """The folders (resolved) whose lock this process holds (:func:`spinsyn.locks.folder_lock`)."""
    from .locks import held_folders  # lazy: startup

    return {_resolved(f) for f in held_folders()}


def _check_not_owned(path: Path, start: Path, name: str) -> None:
    """Rule 2: no folder from ``start`` (resolved) up to the root is one spinsyn made for another command; the
    walk stops at a folder this command is making (its lock held here, or a study's staging folder)."""
    held = _held_folders()
    for f in (start, *start.parents):
        if f in held or _is_file(f / STUDY_STAGING_MARKER):
            return
        kind = owned_folder(f)
        if kind is not None:
            raise ValueError(f"{name}: {path} is inside the spinsyn {kind} folder {f}, which this command did not "
                             f"make (writing there would corrupt the {kind}); write it elsewhere")


def _samefile(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _check_not_input(path: Path, name: str, inputs: Iterable[Any], also: Mapping[str, Any], *,
                     folder: bool = False) -> None:
    """Rule 1: ``path`` is no input (nor inside an input folder; with ``folder``, nor holding an input) and no
    other output of the command."""
    out = _resolved(path)
    for opt, other in also.items():
        if other is not None and (out == _resolved(Path(other)) or _samefile(path, Path(other))):
            raise ValueError(f"{name}: {path} is also {opt} of this command; give two different files")
    for inp in inputs:
        if inp is None:
            continue
        i = _resolved(Path(inp))
        if out == i or _samefile(path, Path(inp)):
            alias = "" if str(inp) == str(path) else f" ({inp})"
            raise ValueError(f"{name}: {path} is an input of this command{alias}; choose another "
                             f"{'folder' if folder else 'file'}")
        if i in out.parents:
            raise ValueError(f"{name}: {path} lies inside {inp}, an input of this command; write it elsewhere")
        if folder and out in i.parents:
            raise ValueError(f"{name}: {path} holds {inp}, an input of this command; choose another folder")


def check_output_file(path: str | Path, name: str, *, writes: str, inputs: Iterable[Any] = (),
                      also: Mapping[str, Any] | None = None, overwrite: bool = False,
                      suffixes: Iterable[str] | None = None) -> Path:
    """The output file ``path`` of option ``name`` under the output policy (module docstring): not an input
    (``inputs``: files or folders the command reads) nor another output (``also``: option -> path), not inside a
    run, chip, study or pipeline folder the command did not make, writable (:func:`check_writable_file`, with
    ``suffixes``), and, unless ``overwrite``, absent or a spinsyn file of format ``writes``. Creates nothing.
    ValueError (one line naming the option) otherwise."""
    p = Path(path)
    if str(path) == "":
        return check_writable_file(path, name, suffixes)  # raises
    _check_not_input(p, name, inputs, also or {})
    _check_not_owned(p, _resolved(p).parent, name)
    check_writable_file(p, name, suffixes)
    if not overwrite and (p.exists() or p.is_symlink()):
        got = spinsyn_format(p)
        if got != writes:
            what = f"is not a {writes} file" if got is None else f"is a {got} file, not {writes}"
            raise ValueError(f"{name}: {p} exists and {what}; pass --overwrite to replace it")
    return p


def check_output_folder(path: str | Path, name: str, *, inputs: Iterable[Any] = ()) -> Path:
    """Rules 1 and 2 of the output policy for a new output folder: not an input, inside one or holding one, and not
    inside a run, chip, study or pipeline folder the command did not make. What the folder itself may hold is
    the writer's own check. ValueError naming the option otherwise."""
    p = Path(path)
    _check_not_input(p, name, inputs, {}, folder=True)
    _check_not_owned(p, _resolved(p).parent, name)
    return p
