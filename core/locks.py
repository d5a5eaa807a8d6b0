"""Advisory locks on run and chip folders: one writer per folder.

:func:`folder_lock` takes an exclusive ``fcntl.flock`` on a lock file beside the folder
(``<parent>/.<name>.spinsyn-lock``, holding the holder's pid). A second writer does not wait: it raises
:class:`FolderLockedError` (a ValueError, so the CLI prints ``spinsyn: error: --out: ... is in use by spinsyn
process PID`` and exits 2). The operating system drops the lock when the holder dies, kill -9 included, so a
lock is never stale; the holder removes the file when it is done, on an error and on SIGINT/SIGTERM too (a file
left by kill -9 is unlocked: the next writer reuses and removes it, and :func:`check_unlocked` removes it).
Locks are re-entrant within one process (the pipeline holds its folder while the training it calls locks the
run folder inside it).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
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


def _locked_error(name: str, folder: Path, path: Path) -> FolderLockedError:
    return FolderLockedError(f"{name}: {folder} is in use by {_holder(path)} (lock {path}); wait for it to finish "
                             "or choose another folder")


def _flock_nb(fd: int, tries: int = 5) -> bool:
    """Take the exclusive lock of ``fd`` without blocking (a few short retries: a process only checking the lock,
    :func:`check_unlocked`, holds it for microseconds). False when another process holds it."""
    for k in range(tries):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if k + 1 < tries:
                time.sleep(0.02)
    return False


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:  # the previous holder removed it between our open and flock
        return False


def _acquire(path: Path, folder: Path, name: str) -> int:
    """Open (creating) and lock ``path``; returns the fd holding the lock, with this pid written in the file."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        ours = False
        try:
            if not _flock_nb(fd):
                raise _locked_error(name, folder, path)
            ours = _same_file(fd, path)
            if ours:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                return fd
        except BaseException:  # refused, or interrupted while taking it: never leave a file of ours behind
            if ours:
                with contextlib.suppress(OSError):
                    os.unlink(path)
                os.close(fd)
            raise
        finally:
            if not ours:
                os.close(fd)


@contextlib.contextmanager
def folder_lock(folder: str | Path, name: str = "--out") -> Iterator[Path]:
    """Hold the exclusive lock of ``folder`` (created beside it; the parent folder is created if missing, and
    removed again on release when it is empty). The lock file is removed on every exit but kill -9; one left
    by kill -9 is unlocked, reused and removed by the next writer (or removed by :func:`check_unlocked`)."""
    from spinsyn.fileio import make_parents, remove_empty_dirs  # lazy: startup

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
    created = make_parents(path.parent)
    try:
        fd = _acquire(path, Path(folder), name)
    except BaseException:
        remove_empty_dirs(created)
        raise
    _HELD[key] = [fd, 1]
    try:
        yield path
    finally:
        del _HELD[key]
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)
        remove_empty_dirs(created)


def unlink_held() -> None:
    """Remove the lock files this process holds (the last-resort exit of an interrupted command that did not
    unwind: :data:`spinsyn.hw_export.interrupts.FORCED_EXIT_S`); the locks themselves end with the process."""
    for key in list(_HELD):
        with contextlib.suppress(OSError):
            os.unlink(key)


def check_unlocked(folder: str | Path, name: str = "--out") -> None:
    """Raise :class:`FolderLockedError` when another process holds ``folder``'s lock (creates nothing), so a
    command checking its options names the holder before any work. A lock file nobody holds (left by kill -9)
    is removed."""
    path = lock_path(folder)
    if str(path) in _HELD:
        return
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:  # no lock file: nobody holds it
        return
    try:
        if not _flock_nb(fd, tries=1):
            raise _locked_error(name, Path(folder), path)
        if _same_file(fd, path):  # stale: its holder died without removing it
            with contextlib.suppress(OSError):
                os.unlink(path)
    finally:
        os.close(fd)


def held_folders() -> list[Path]:
    """The folders whose lock this process holds now (absolute paths, as locked)."""
    out = []
    for key in list(_HELD):
        lock = Path(key)  # <parent>/.<name>.spinsyn-lock
        out.append(lock.parent / lock.name[1:-len(LOCK_SUFFIX)])
    return out
