"""The one place spinsyn talks to ngspice (shared library, through PySpice 1.5).

* :func:`find_library` locates ``libngspice.so*`` (``$NGSPICE_LIBRARY_PATH``, ``ctypes.util``, known paths)
  and :func:`ensure_library` exports ``NGSPICE_LIBRARY_PATH`` for PySpice, or raises
  :class:`NgspiceMissingError` with the install command.
* :class:`SpinsynNgSpice` subclasses PySpice's ``NgSpiceShared`` so informational lines on stderr
  ("Using SPARSE 1.3…", "Note: …", "Trying gmin…", which ngspice >= 42 prints) are not failures, while
  real errors still raise.
* :class:`NgspiceSession` loads a netlist, runs it, returns the vectors as numpy arrays and unloads the
  circuit afterwards (PySpice keeps every circuit otherwise: ~30 KB per run).

One ngspice instance exists per process (a limitation of the shared library); parallel simulations need
separate processes (see ``spinsyn.devices``).
"""

from __future__ import annotations

import ctypes.util
import glob
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

INSTALL_HINT = (
    "ngspice: the shared library libngspice.so was not found; install it with "
    "'sudo apt-get install -y libngspice0' (Debian/Ubuntu; scripts/test and scripts/demo do this when run as "
    "root), or set NGSPICE_LIBRARY_PATH to the full path of libngspice.so"
)

_KNOWN_DIRS = (
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
    "/opt/homebrew/lib",
)

# stderr lines that ngspice prints for information only.
_INFO_PATTERNS = re.compile(
    r"^\s*(Using SPARSE|Note:|Trying gmin|Trying source|gmin stepping|source stepping|"
    r"Supplies reduced|Warning:|Reference value|No compatibility mode|Circuit:|Doing analysis|"
    r"Initial Transient Solution|\s*$|-+\s*$|Node\s+Voltage|ngspice-\d|\*\*\*)",
    re.IGNORECASE,
)


class NgspiceMissingError(RuntimeError):
    """The ngspice shared library cannot be found or loaded."""


class NgspiceSimulationError(RuntimeError):
    """ngspice rejected a netlist or a simulation failed (e.g. did not converge).

    ``netlist`` holds the netlist that failed, ``log`` what ngspice printed.
    """

    def __init__(self, message: str, netlist: str = "", log: str = "") -> None:
        super().__init__(message)
        self.netlist = netlist
        self.log = log


def find_library() -> Path | None:
    """Path of the ngspice shared library, or ``None`` when it is not installed.

    ``$NGSPICE_LIBRARY_PATH``, when set, is the only place looked at (a missing file is not silently replaced
    by the system library: :func:`ensure_library` names it)."""
    env = os.environ.get("NGSPICE_LIBRARY_PATH")
    if env:
        return Path(env) if Path(env).is_file() else None
    for d in _KNOWN_DIRS:
        for cand in sorted(glob.glob(os.path.join(d, "libngspice.so*"))):
            if Path(cand).is_file():
                return Path(cand)
    name = ctypes.util.find_library("ngspice")
    if name:
        for d in _KNOWN_DIRS:
            if (Path(d) / name).is_file():
                return Path(d) / name
    return None


def _is_shared_object(path: Path) -> bool:
    """The file starts like an ELF or Mach-O shared library (an empty or truncated file does not)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    return head in (b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe")


def ensure_library() -> Path:
    """Locate the library, export ``NGSPICE_LIBRARY_PATH`` for PySpice and return its path.

    Cheap (no ngspice is loaded): the parent process calls it before starting workers or a progress bar, so a
    missing library is one :class:`NgspiceMissingError` whatever ``--jobs`` is."""
    env = os.environ.get("NGSPICE_LIBRARY_PATH")
    if env and not Path(env).is_file():
        raise NgspiceMissingError(f"NGSPICE_LIBRARY_PATH={env}: file not found; point it to libngspice.so, or "
                                  "unset it to use the system library (sudo apt-get install -y libngspice0)")
    lib = find_library()
    if lib is None:
        raise NgspiceMissingError(INSTALL_HINT)
    if not _is_shared_object(lib):
        raise NgspiceMissingError(f"{lib}: not a shared library (empty or damaged); reinstall it with "
                                  "'sudo apt-get install -y libngspice0' or set NGSPICE_LIBRARY_PATH to a working one")
    os.environ["NGSPICE_LIBRARY_PATH"] = str(lib)
    return lib


class _VersionWarningFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:  # noqa: A003
        msg = record.getMessage()
        return "Unsupported Ngspice version" not in msg and "spinit was not found" not in msg


def _import_shared():
    ensure_library()
    logging.getLogger("PySpice").addFilter(_VersionWarningFilter())
    for name in ("PySpice.Spice.NgSpice.Shared.NgSpiceShared", "PySpice.Spice.NgSpice.Shared"):
        logging.getLogger(name).addFilter(_VersionWarningFilter())
    from PySpice.Spice.NgSpice import Shared as _shared  # lazy: startup

    return _shared


_lock = threading.Lock()
_session: NgspiceSession | None = None


def _make_class():
    shared = _import_shared()
    base = shared.NgSpiceShared

    class SpinsynNgSpice(base):  # type: ignore[misc, valid-type]
        """NgSpiceShared whose stderr handling tells information from errors."""

        @staticmethod
        def _send_char(message_c, ngspice_id, user_data):
            self = shared.ffi.from_handle(user_data)
            message = shared.ffi_string_utf8(message_c)
            prefix, _, content = message.partition(" ")
            if prefix == "stderr":
                self._stderr.append(content)
                if is_error_line(content):
                    self._error_in_stderr = True
            else:
                self._stdout.append(content)
                if is_error_line(content):
                    self._error_in_stdout = True
            return 0

        # PySpice's keeps a reference; we never want the PySpice logger to spam on load.
        def _get_version(self):  # noqa: D401
            return super()._get_version()

    # PySpice's class-level platform set-up reads NGSPICE_LIBRARY_PATH.
    SpinsynNgSpice.setup_platform()
    return SpinsynNgSpice


def is_error_line(line: str) -> bool:
    """True for an ngspice output line that reports a real error (not an informational note)."""
    text = line.strip()
    if not text or _INFO_PATTERNS.match(text):
        return False
    low = text.lower()
    return (
        "error" in low
        or "timestep too small" in low
        or "singular matrix" in low
        or "simulation(s) aborted" in low
        or "unknown" in low and ("model" in low or "subckt" in low or "parameter" in low)
        or "could not find" in low
        or "no such" in low
    )


@dataclass(frozen=True)
class TransientResult:
    """Vectors of one transient run: ``time_s`` (n,) and ``vectors`` name -> (n,) float64 arrays."""

    time_s: np.ndarray
    vectors: dict[str, np.ndarray]
    log: str

    def __getitem__(self, name: str) -> np.ndarray:
        key = vector_key(name)
        if key not in self.vectors:
            raise KeyError(f"no vector {name!r}; have {sorted(self.vectors)}")
        return self.vectors[key]


class NgspiceSession:
    """Runs netlists on this process's single ngspice instance.

    Use :func:`session` to get it. Each :meth:`run` loads the netlist, runs its analyses, copies the
    vectors out, then removes the circuit and destroys its plots so memory stays flat.
    """

    def __init__(self) -> None:
        cls = _make_class()
        self._ng = cls.new_instance()
        self.library_path = ensure_library()
        self.version = int(getattr(self._ng, "_ngspice_version", 0) or 0)

    def run(self, netlist: str, vectors: list[str] | None = None) -> TransientResult:
        """Load ``netlist`` (which holds its own ``.tran``/``.options``/``.end``), run it, return vectors.

        ``vectors`` restricts what is copied out (names as ngspice lists them, e.g. ``"v(out)"``,
        ``"vsrc#branch"``); ``None`` copies every vector. Raises :class:`NgspiceSimulationError` with the
        netlist and log when ngspice reports an error or produces no data.
        """
        ng = self._ng
        with _lock:
            try:
                try:
                    ng.load_circuit(netlist)
                except Exception as exc:  # PySpice raises NgSpiceCircuitError / NameError
                    raise NgspiceSimulationError(
                        f"ngspice rejected the netlist: {_first_error(ng.stdout + chr(10) + ng.stderr) or exc}",
                        netlist,
                        ng.stdout + "\n" + ng.stderr,
                    ) from None
                try:
                    ng.run()
                except Exception as exc:
                    raise NgspiceSimulationError(
                        f"ngspice simulation failed: {_first_error(ng.stdout + chr(10) + ng.stderr) or exc}",
                        netlist,
                        ng.stdout + "\n" + ng.stderr,
                    ) from None
                log = ng.stdout + "\n" + ng.stderr
                plot_name = ng.last_plot
                if plot_name == "const":
                    raise NgspiceSimulationError("ngspice produced no analysis data", netlist, log)
                data = _read_vectors(ng, plot_name, vectors)
                time = data.pop("time", None)
                if time is None:
                    time = np.zeros(0)
                return TransientResult(time_s=time, vectors=data, log=log)
            finally:
                self._unload()

    def _unload(self) -> None:
        ng = self._ng
        for cmd in ("destroy all", "remcirc"):
            try:
                ng.exec_command(cmd)
            except Exception:  # nothing loaded: harmless
                pass


def _read_vectors(ng, plot_name: str, wanted: list[str] | None) -> dict[str, np.ndarray]:
    shared = _import_shared()
    ffi = shared.ffi
    lib = ng._ngspice_shared
    names = []
    all_c = lib.ngSpice_AllVecs(plot_name.encode("utf8"))
    i = 0
    while all_c[i] != ffi.NULL:
        names.append(shared.ffi_string_utf8(all_c[i]))
        i += 1
    want = None if wanted is None else {vector_key(w) for w in wanted} | {"time"}
    out: dict[str, np.ndarray] = {}
    for name in names:
        key = vector_key(name)
        if want is not None and key not in want:
            continue
        info = lib.ngGet_Vec_Info(f"{plot_name}.{name}".encode())
        n = info.v_length
        if info.v_compdata == ffi.NULL:
            arr = np.frombuffer(ffi.buffer(info.v_realdata, n * 8), dtype=np.float64).copy()
        else:
            tmp = np.frombuffer(ffi.buffer(info.v_compdata, n * 16), dtype=np.float64)
            arr = tmp[0::2].copy()
        out[key] = arr
    if want is not None:
        missing = want - set(out) - {"time"}
        if missing:
            raise NgspiceSimulationError(f"ngspice has no vector(s) {sorted(missing)}; it has {sorted(out)}")
    return out


def vector_key(name: str) -> str:
    """Canonical vector name: lower case, ``v(node)`` -> ``node`` (ngspice's own naming)."""
    key = name.strip().lower()
    m = re.fullmatch(r"v\(([^,()]+)\)", key)
    return m.group(1) if m else key


def _first_error(log: str) -> str:
    for line in log.splitlines():
        if is_error_line(line):
            return line.strip()
    return ""


def session() -> NgspiceSession:
    """This process's ngspice session (created on first use). Raises :class:`NgspiceMissingError`."""
    global _session
    if _session is None:
        _session = NgspiceSession()
    return _session


def session_started() -> bool:
    """Whether this process has already loaded ngspice (a forked child would inherit its state)."""
    return _session is not None


def library_version() -> tuple[Path | None, int | None]:
    """(library path, ngspice major version) without raising; (None, None) when missing/unloadable."""
    try:
        s = session()
    except Exception:
        return find_library(), None
    return s.library_path, s.version
