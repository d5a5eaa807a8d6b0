"""Content-addressed stage cache: ``DIR/cache/<stage>/<key>/``, every entry verified before it is reused.

``key`` = sha256 of the canonical JSON (sorted keys, no spaces) of the stage's inputs, which include the key of
the entry the stage consumes, so a changed sweep changes every key downstream. An entry is computed in a
staging folder ``DIR/cache/<stage>/.staging-<key>-<random>/`` that carries the marker file
:data:`STAGING_MARKER`; its manifest ``entry.json`` (stage, key, inputs, wall time and the sha256 of every other
file of the entry, itself sealed by a sha256 of those fields) is written last, and the folder is renamed onto
``<key>/`` when complete. When two processes compute the same key, the second rename fails and that process
deletes its own staging folder and uses the first one's entry (same inputs, same seeds: the same content).

Reuse: an entry is reused only when :func:`verify_entry` finds its manifest intact and every file's sha256 as
listed (no file missing, none added, no links). Otherwise (edited, truncated, deleted files, or an entry of an
older spinsyn without hashes) a warning line is printed, the entry is recomputed in a fresh staging folder, the
bad one is moved into a marked staging folder and deleted, and the new one renamed into place: a bad entry is
never trusted and never a permanent failure. Staging folders left by a killed study are deleted at the next
start (:func:`clean_staging`; only folders carrying the marker).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spinsyn import __version__
from spinsyn.fileio import read_json, sha256_file, write_json

STAGES = ("sweep", "fit", "train", "export", "simulate")
STAGING_MARKER = ".spinsyn-study-staging"
ENTRY_FILE = "entry.json"
#: v2 adds ``files`` (sha256 per file) and ``sha256`` (of the manifest's own fields); v1 entries are recomputed
ENTRY_FORMAT, ENTRY_VERSION = "spinsyn-study-entry", 2
CACHE_VERSION = 1
_SEALED = ("stage", "key", "inputs", "wall_s", "files")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def canonical_json(obj: Any) -> str:
    """The canonical text of ``obj``: sorted keys, no whitespace, tuples as lists."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def stage_key(stage: str, inputs: dict[str, Any]) -> str:
    """Hex sha256 of the canonical JSON of ``{stage, cache version, spinsyn version, inputs}``."""
    doc = {"stage": stage, "cache_version": CACHE_VERSION, "spinsyn": __version__, "inputs": inputs}
    return hashlib.sha256(canonical_json(doc).encode("utf-8")).hexdigest()


def entry_dir(root: Path, stage: str, key: str) -> Path:
    """``root/cache/<stage>/<key>``."""
    return Path(root) / "cache" / stage / key


def entry_info(path: Path) -> dict[str, Any]:
    """The ``entry.json`` of a complete entry: stage, key, inputs, wall_s (seconds it took to compute), files."""
    return read_json(Path(path) / ENTRY_FILE, fmt=ENTRY_FORMAT, versions=(ENTRY_VERSION,))


def _seal(doc: dict[str, Any]) -> str:
    """Hex sha256 of the canonical JSON of the manifest's fields :data:`_SEALED`."""
    return hashlib.sha256(canonical_json({k: doc.get(k) for k in _SEALED}).encode("utf-8")).hexdigest()


def _entry_files(folder: Path) -> tuple[dict[str, Path], str | None]:
    """The files of an entry folder (relative POSIX name -> path; the manifest and the staging marker left out)
    and the first thing that makes it no entry of ours (a link, something not a file or folder), or None."""
    files: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        for name in sorted(dirnames + filenames):
            p = base / name
            rel = p.relative_to(folder).as_posix()
            if p.is_symlink():
                return files, f"{rel}: a link"
            if name in dirnames:
                continue
            if not p.is_file():
                return files, f"{rel}: not a regular file"
            if rel not in (ENTRY_FILE, STAGING_MARKER):
                files[rel] = p
    return files, None


def _write_manifest(folder: Path, stage: str, key: str, inputs: dict[str, Any], wall_s: float) -> None:
    """Write ``entry.json`` (atomically) with the sha256 of every file of the staging ``folder``."""
    files, problem = _entry_files(folder)
    if problem is not None:
        raise RuntimeError(f"{folder}: {problem}; a stage must write regular files only")
    doc: dict[str, Any] = {"stage": stage, "key": key, "inputs": inputs, "wall_s": wall_s,
                           "files": {rel: sha256_file(p) for rel, p in sorted(files.items())}}
    doc = json.loads(canonical_json(doc))  # the seal covers exactly what is read back
    doc["sha256"] = _seal(doc)
    write_json(folder / ENTRY_FILE, doc, fmt=ENTRY_FORMAT, version=ENTRY_VERSION)


def _read_manifest(path: Path, stage: str, key: str) -> tuple[dict[str, Any] | None, str | None]:
    """(manifest, None), or (None, ``entry.json: <problem>``)."""
    try:
        doc = json.loads((path / ENTRY_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"{ENTRY_FILE}: missing"
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, f"{ENTRY_FILE}: unreadable ({type(exc).__name__})"
    if not isinstance(doc, dict) or doc.get("format") != ENTRY_FORMAT:
        return None, f"{ENTRY_FILE}: not a {ENTRY_FORMAT} manifest"
    if doc.get("format_version") != ENTRY_VERSION:
        return None, (f"{ENTRY_FILE}: format_version {doc.get('format_version')!r}, expected {ENTRY_VERSION} "
                      "(written by an older spinsyn, without file hashes)")
    try:
        sealed = doc.get("sha256") == _seal(doc)
    except (TypeError, ValueError):  # NaN or infinity in it
        sealed = False
    if not sealed:
        return None, f"{ENTRY_FILE}: its content does not match its own sha256 (edited)"
    files = doc.get("files")
    if doc.get("stage") != stage or doc.get("key") != key or not isinstance(files, dict) \
            or not all(isinstance(v, str) and _HEX64.fullmatch(v) for v in files.values()):
        return None, f"{ENTRY_FILE}: not the manifest of {stage} entry {key[:12]}"
    return doc, None


def verify_entry(path: Path, stage: str, key: str) -> str | None:
    """None when the entry at ``path`` is intact: its manifest sealed and naming ``stage``/``key``, every file
    listed there present with the listed sha256, no other file, no link. Otherwise ``<file>: <problem>``."""
    path = Path(path)
    if path.is_symlink() or not path.is_dir():
        return f"{path.name}: not a folder"
    doc, problem = _read_manifest(path, stage, key)
    if doc is None:
        return problem
    files, problem = _entry_files(path)
    if problem is not None:
        return problem
    listed: dict[str, str] = doc["files"]
    for rel in sorted(set(listed) | set(files)):
        if rel not in files:
            return f"{rel}: missing"
        if rel not in listed:
            return f"{rel}: not in the manifest"
        try:
            same = sha256_file(files[rel]) == listed[rel]
        except OSError as exc:
            return f"{rel}: unreadable ({exc.strerror or type(exc).__name__})"
        if not same:
            return f"{rel}: sha256 differs from the manifest (edited or truncated)"
    return None


def warn(message: str) -> None:
    """One ``spinsyn: warning: ...`` line on stderr."""
    print(f"spinsyn: warning: {message}", file=sys.stderr, flush=True)


def compute_entry(root: Path, stage: str, key: str, inputs: dict[str, Any],
                  action: Callable[[Path], None]) -> Path:
    """The entry ``root/cache/<stage>/<key>``, computed by ``action(staging_folder)`` unless it exists and
    passes :func:`verify_entry` (a bad entry is recomputed, with a warning, and replaced).

    ``action`` writes the stage's outputs into the folder it is given; ``entry.json`` (inputs, wall time, the
    sha256 of every file) is written last, then the folder is renamed into place. Returns the entry's path."""
    final = entry_dir(root, stage, key)
    bad = None
    if final.exists() or final.is_symlink():
        bad = verify_entry(final, stage, key)
        if bad is None:
            return final
        warn(f"cache entry {final} failed verification ({bad}); recomputing")
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{key[:16]}-", dir=final.parent))
    try:
        (staging / STAGING_MARKER).write_text(f"{os.getpid()}\n")
        t0 = time.perf_counter()
        action(staging)
        _write_manifest(staging, stage, key, inputs, time.perf_counter() - t0)
        (staging / STAGING_MARKER).unlink()
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes 0700; give entries the usual folder mode
        if bad is not None:
            _discard(final, key)
        try:
            os.rename(staging, final)
        except OSError:  # another process finished the same key first: keep its entry
            if not final.is_dir():
                raise
            _remove_staging(staging, marked=False)
    except BaseException:
        _remove_staging(staging, marked=False)
        raise
    return final


def _discard(final: Path, key: str) -> None:
    """Move the bad entry ``final`` into a marked staging folder of ours, then delete that folder (a kill in
    between leaves a marked folder that :func:`clean_staging` deletes)."""
    trash = Path(tempfile.mkdtemp(prefix=f".staging-{key[:16]}-bad-", dir=final.parent))
    (trash / STAGING_MARKER).write_text(f"{os.getpid()}\n")
    try:
        os.rename(final, trash / "entry")
    except FileNotFoundError:  # gone meanwhile
        pass
    _remove_staging(trash)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_staging(folder: Path, marked: bool = True) -> None:
    """Delete a staging folder of ours (with ``marked``: only when it carries the marker)."""
    if folder.is_dir() and not folder.is_symlink() and (not marked or (folder / STAGING_MARKER).is_file()):
        shutil.rmtree(folder, ignore_errors=True)


def clean_staging(root: Path) -> int:
    """Delete the marked staging folders a killed study left in ``root/cache``; returns how many."""
    n = 0
    for stage in STAGES:
        folder = Path(root) / "cache" / stage
        if not folder.is_dir():
            continue
        for p in folder.glob(".staging-*"):
            if (p / STAGING_MARKER).is_file():
                _remove_staging(p)
                n += 1
    return n


def relative(root: Path, path: Path | None) -> str:
    """``path`` relative to ``root`` as text ('' for None)."""
    if path is None:
        return ""
    with contextlib.suppress(ValueError):
        return Path(path).relative_to(root).as_posix()
    return str(path)
