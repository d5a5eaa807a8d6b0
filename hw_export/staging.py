"""Writing a chip folder safely: a marked temporary folder, signals, and what ``--overwrite`` may remove.

* **Temporary folder.** An export writes into ``<parent>/.spinsyn-export-<pid>-<random>.tmp/chip`` next to
  ``--out``; the wrapper folder holds a marker file ``.spinsyn-tmp`` (JSON: format, pid, the process's start
  time, host, creation time). The finished ``chip`` folder is renamed onto ``--out`` (atomic on one file
  system), an overwritten chip first being moved into the wrapper; then the wrapper is removed. On any
  error, SIGINT or SIGTERM the wrapper is removed and ``--out`` is left as it was.
* **Leftovers of kill -9.** Every export first removes, in the same parent, the wrappers whose marker names a
  process of this host that no longer runs (dead, a zombie, or its pid reused by a process started at another
  time). Nothing without the marker, or with an unreadable one, is ever removed.
* **Signals.** :func:`interrupt_guard` installs SIGINT/SIGTERM handlers (main thread only; nested guards are
  no-ops): the first signal raises ``KeyboardInterrupt`` (SIGINT; the CLI exits 130) or ``SystemExit(143)``
  (SIGTERM), and is also recorded, so that an interrupt swallowed on its way up (raised inside a ``__del__``
  or a weakref callback of h5py or a thread pool) still stops the export at its next safe point
  (:func:`check_interrupted`: after the HDF5 file, after the CSVs, at the commit). Such a swallowed interrupt
  is not printed ("Exception ignored ... SystemExit: 143"): the guard's ``sys.unraisablehook`` drops it. The
  commit (the renames) is the point of no return: a signal after it is ignored and the export succeeds.
* **Overwrite.** ``--out`` may name the export's source (the run folder, the weight file) or a folder holding
  it: refused. An existing ``--out`` is replaced only with ``overwrite`` and only if it is a spinsyn chip
  folder (:func:`spinsyn.hw_export.chipfile.chip_dir_problem`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import interrupts
from .chipfile import chip_dir_problem
from .chipwriter import ChipWriter
from .interrupts import check_interrupted, interrupt_guard  # noqa: F401  (re-exported)

TMP_PREFIX = ".spinsyn-export-"
TMP_SUFFIX = ".tmp"
MARKER_NAME = ".spinsyn-tmp"
MARKER_FORMAT = "spinsyn-export-tmp"


# ----------------------------------------------------------------------------- stale temporary folders
def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state letter, start time in clock ticks) of a process from /proc, None where unavailable."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    return (fields[0], fields[19]) if len(fields) > 19 else None


def _alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    st = _proc_stat(pid)
    if st is None:
        return True
    return st[0] not in ("Z", "X") and (start is None or st[1] == start)


def _marker(wrapper: Path) -> dict[str, Any] | None:
    m = wrapper / MARKER_NAME
    if wrapper.is_symlink() or not wrapper.is_dir() or m.is_symlink() or not m.is_file():
        return None
    try:
        doc = json.loads(m.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != MARKER_FORMAT or not isinstance(doc.get("pid"), int):
        return None
    return doc


def remove_stale(parent: Path) -> list[Path]:
    """Remove the temporary folders of dead exports of this host in ``parent``; returns those removed."""
    removed: list[Path] = []
    try:
        entries = list(Path(parent).iterdir())
    except OSError:
        return removed
    host = socket.gethostname()
    for p in entries:
        if not (p.name.startswith(TMP_PREFIX) and p.name.endswith(TMP_SUFFIX)):
            continue
        doc = _marker(p)
        if doc is None:
            if not _unfinished_wrapper_of_dead_process(p):
                continue
        elif doc.get("host") != host or _alive(doc["pid"], doc.get("start")):
            continue
        shutil.rmtree(p, ignore_errors=True)
        if not p.exists():
            removed.append(p)
    return removed


def _unfinished_wrapper_of_dead_process(p: Path) -> bool:
    """A wrapper killed between its creation and its marker's last byte: our name (which carries the pid),
    nothing inside but a (partial) marker file, and that pid is gone. Nothing of value can be in it."""
    try:
        pid = int(p.name[len(TMP_PREFIX):].split("-", 1)[0])
        inside = [q.name for q in p.iterdir()]
    except (ValueError, OSError):
        return False
    return (p.is_dir() and not p.is_symlink() and set(inside) <= {MARKER_NAME}
            and not _alive(pid, None))


def _rmtree(p: Path) -> None:
    """Remove ``p``, retrying while worker threads may still be writing into it (up to ~5 s)."""
    for _ in range(100):
        shutil.rmtree(p, ignore_errors=True)
        if not p.exists():
            return
        time.sleep(0.05)


# ----------------------------------------------------------------------------- staging
def is_or_holds(folder: str | Path, path: str | Path) -> bool:
    """``path`` (resolved) is ``folder`` (resolved) or lies inside it."""
    f, p = Path(folder).resolve(), Path(path).resolve()
    return p == f or f in p.parents


def check_out_dir(out_dir: Path, *, overwrite: bool, sources: tuple[Path, ...] = ()) -> None:
    """Refuse an ``--out`` that is (or holds) a source, exists without ``overwrite``, or is not a chip."""
    for src in sources:
        if is_or_holds(out_dir, src):
            what = "is" if Path(out_dir).resolve() == Path(src).resolve() else "holds"
            raise ValueError(f"--out: {out_dir} {what} the export's source {src}; choose another folder")
    if not (out_dir.exists() or out_dir.is_symlink()):
        return
    if not overwrite:
        raise ValueError(f"--out: {out_dir} already exists; choose a new folder or pass --overwrite")
    problem = chip_dir_problem(out_dir)
    if problem:
        raise ValueError(f"--overwrite: {out_dir} {problem}; --overwrite replaces only a spinsyn chip folder "
                         "(remove it yourself if you mean it)")


class Staging:
    """``with Staging(out_dir, overwrite) as st:`` write into ``st.payload``, then ``st.commit()``."""

    def __init__(self, out_dir: Path, overwrite: bool = False, sources: tuple[Path, ...] = ()) -> None:
        self.out_dir = Path(out_dir)
        self.overwrite = overwrite
        self.sources = sources
        self.wrapper: Path | None = None
        self._lock: contextlib.ExitStack | None = None
        self._unregister: Any = None

    @property
    def payload(self) -> Path:
        assert self.wrapper is not None
        return self.wrapper / "chip"

    def __enter__(self) -> Staging:
        from spinsyn.locks import folder_lock  # lazy: startup

        check_out_dir(self.out_dir, overwrite=self.overwrite, sources=self.sources)
        self._lock = contextlib.ExitStack()  # one writer per chip folder (re-entrant: the CLI holds it already)
        self._lock.enter_context(folder_lock(self.out_dir, "--out"))
        try:
            return self._make_wrapper()
        except BaseException:
            self.__exit__()
            raise

    def _make_wrapper(self) -> Staging:
        parent = self.out_dir.parent
        parent.mkdir(parents=True, exist_ok=True)
        remove_stale(parent)
        self.wrapper = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", suffix=TMP_SUFFIX, dir=parent))
        wrapper = self.wrapper
        self._unregister = interrupts.on_forced_exit(lambda: _rmtree(wrapper))
        st = _proc_stat(os.getpid())
        doc = {"format": MARKER_FORMAT, "pid": os.getpid(), "start": st[1] if st else None,
               "host": socket.gethostname(), "created": time.time(), "out": self.out_dir.name}
        with open(self.wrapper / MARKER_NAME, "w") as fh:
            fh.write(json.dumps(doc))
            fh.flush()
            os.fsync(fh.fileno())
        self.payload.mkdir()
        return self

    def commit(self) -> None:
        """Rename the payload onto ``out_dir`` (an existing chip moved into the wrapper first)."""
        g = interrupts._GUARD
        if g is not None:
            g.committing = True  # from here on a signal is recorded, not raised
        check_interrupted()
        check_out_dir(self.out_dir, overwrite=self.overwrite, sources=self.sources)
        assert self.wrapper is not None  # set by __enter__
        old = self.wrapper / "old"
        moved = False
        if self.out_dir.exists() or self.out_dir.is_symlink():
            os.replace(self.out_dir, old)
            moved = True
        try:
            os.replace(self.payload, self.out_dir)
        except BaseException:
            if moved:
                os.replace(old, self.out_dir)
            raise
        with contextlib.suppress(OSError):
            fd = os.open(self.out_dir.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def __exit__(self, *exc: Any) -> None:
        try:
            if self.wrapper is not None:
                _rmtree(self.wrapper)
            if self._unregister is not None:
                self._unregister()
        finally:
            if self._lock is not None:
                self._lock.close()


@contextlib.contextmanager
def open_chip_dir(out_dir: Path, *, discrete: bool, seed: int | None, csv: bool = True, overwrite: bool = False,
                  jobs: int = 2, fusion: bool = False, sources: tuple[Path, ...] = ()) -> Iterator[ChipWriter]:
    """A :class:`~spinsyn.hw_export.chipwriter.ChipWriter` writing into a marked temporary folder beside
    ``out_dir`` (``start_matrices``, ``add_packed`` batch by batch, then ``finish``); when the body returns, the
    folder is renamed onto ``out_dir`` (an existing chip folder replaced only with ``overwrite``); on an error,
    SIGINT or SIGTERM it is removed and ``out_dir`` is untouched. ``sources``: paths the export read, which
    ``out_dir`` must neither be nor hold. A refused write (EFBIG, ENOSPC) is one OSError naming the chip's file."""
    out_dir = Path(out_dir)
    with interrupt_guard(), Staging(out_dir, overwrite, sources) as st:
        try:
            cw = ChipWriter(st.payload, discrete=discrete, seed=seed, csv=csv, fusion=fusion, jobs=jobs)
            try:
                yield cw
            finally:
                cw.close()
        except OSError as exc:  # a refused write names the chip's file, not the staging copy
            raise _named_in_out(exc, st.payload, out_dir) from None
        st.commit()


def _named_in_out(exc: OSError, payload: Path, out_dir: Path) -> OSError:
    """``exc`` naming ``out_dir/<file>`` where it names ``payload/<file>`` of the staging folder."""
    name = exc.filename
    if name is None:
        return OSError(exc.errno, exc.strerror or str(exc), str(out_dir))
    try:
        rel = Path(os.path.abspath(name)).relative_to(os.path.abspath(payload))
    except ValueError:
        return exc
    return OSError(exc.errno, exc.strerror or str(exc), str(out_dir / rel))
