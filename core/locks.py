"""Advisory locks on run and chip folders: one writer per folder.

:func:`folder_lock` takes an exclusive ``fcntl.flock`` on a lock file beside the folder
(``<parent>/.<name>.spinsyn-lock``, holding the holder's pid). A second writer does not wait: it raises
:class:`FolderLockedError` (a ValueError, so the CLI prints ``spinsyn: error: --out: ... is in use by spinsyn
process PID`` and exits 2). The operating system drops the lock when the holder dies, kill -9 included, so a
lock is never stale; the holder removes the file when it is done (a file left by kill -9 is unlocked and
simply reused). Locks are re-entrant within one process (the pipeline holds its folder while the training
it calls locks the run folder inside it).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_SUFFIX = ".spinsyn-lock"
_HELD: dict[str, list] = {}  # lock path -> [fd, depth]


class FolderLockedError(ValueError):
    """Another live process holds the folder's lock."""


def lock_path(folder: str | Path) -> Path:
    """The lock file of ``folder``: beside it, so it is neither inside a run nor inside a chip."""
    f = Path(os.path.abspath(folder))
    return f.parent / f".{f.name}{LOCK_SUFFIX}"


def _holder(path: Path) -> str:
    try:
        pid = path.read_text().strip()
    except OSError:
        pid = ""
    return f"spinsyn process {pid}" if pid.isdigit() else "another spinsyn process"


def _acquire(path: Path, folder: Path, name: str) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FolderLockedError(f"{name}: {folder} is in use by {_holder(path)} (lock {path}); wait for it "
                                    "to finish or choose another folder") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:  # the previous holder removed it between our open and flock
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)


@contextlib.contextmanager
def folder_lock(folder: str | Path, name: str = "--out") -> Iterator[Path]:
    """Hold the exclusive lock of ``folder`` (created beside it; the parent folder is created if missing)."""
    path = lock_path(folder)
    key = str(path)
    held = _HELD.get(key)
    if held is not None:
        held[1] += 1
        try:
            yield path
        finally:
            held[1] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire(path, Path(folder), name)
    _HELD[key] = [fd, 1]
    try:
        yield path
    finally:
        del _HELD[key]
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)


def check_unlocked(folder: str | Path, name: str = "--out") -> None:
    """Raise :class:`FolderLockedError` when another process holds ``folder``'s lock (creates nothing), so a
    command checking its options names the holder before any work."""
    path = lock_path(folder)
    if str(path) in _HELD:
        return
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:  # no lock file: nobody holds it
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise FolderLockedError(f"{name}: {folder} is in use by {_holder(path)} (lock {path}); wait for it to "
                                "finish or choose another folder") from None
    finally:
        os.close(fd)
