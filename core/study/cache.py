"""Content-addressed stage cache: ``DIR/cache/<stage>/<key>/``.

``key`` = sha256 of the canonical JSON (sorted keys, no spaces) of the stage's inputs, which include the key of
the entry the stage consumes, so a changed sweep changes every key downstream. An entry is computed in a
staging folder ``DIR/cache/<stage>/.staging-<key>-<random>/`` that carries the marker file
:data:`STAGING_MARKER`, and renamed onto ``<key>/`` when complete: an entry that exists is complete. When two
processes compute the same key, the second rename fails and that process deletes its own staging folder and
uses the first one's entry (same inputs, same seeds: the same content). Staging folders left by a killed study
are deleted at the next start (:func:`clean_staging`; only folders carrying the marker).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spinsyn import __version__
from spinsyn.fileio import read_json, write_json

STAGES = ("sweep", "fit", "train", "export", "simulate")
STAGING_MARKER = ".spinsyn-study-staging"
ENTRY_FILE = "entry.json"
ENTRY_FORMAT, ENTRY_VERSION = "spinsyn-study-entry", 1
CACHE_VERSION = 1


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
    """The ``entry.json`` of a complete entry: stage, key, inputs, wall_s (seconds it took to compute)."""
    return read_json(Path(path) / ENTRY_FILE, fmt=ENTRY_FORMAT, versions=(ENTRY_VERSION,))


def compute_entry(root: Path, stage: str, key: str, inputs: dict[str, Any],
                  action: Callable[[Path], None]) -> Path:
    """The entry ``root/cache/<stage>/<key>``, computed by ``action(staging_folder)`` unless it exists.

    ``action`` writes the stage's outputs into the folder it is given; ``entry.json`` (inputs, wall time) is
    added, then the folder is renamed into place. Returns the entry's path."""
    final = entry_dir(root, stage, key)
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{key[:16]}-", dir=final.parent))
    try:
        (staging / STAGING_MARKER).write_text(f"{os.getpid()}\n")
        t0 = time.perf_counter()
        action(staging)
        write_json(staging / ENTRY_FILE, {"stage": stage, "key": key, "inputs": inputs,
                                          "wall_s": time.perf_counter() - t0}, fmt=ENTRY_FORMAT, version=ENTRY_VERSION)
        (staging / STAGING_MARKER).unlink()
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes 0700; give entries the usual folder mode
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_staging(folder: Path, marked: bool = True) -> None:
    """Delete a staging folder of ours (with ``marked``: only when it carries the marker)."""
    if folder.is_dir() and (not marked or (folder / STAGING_MARKER).is_file()):
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
