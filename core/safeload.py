"""Bounded reading of files spinsyn did not write: a memory budget, zip-member limits, ``.npy`` header checks and
one-line, control-character-free error text.

Every reader of a user-supplied file (a BindsNET network, a ``--labels`` tensor, a weight ``.npy``/``.pt``, a
checkpoint ``.npz``) checks what the file *declares* (tensor sizes, strides, offsets, zip members' uncompressed
sizes, ``.npy`` shapes) against the bytes it actually holds and against :func:`read_budget` **before**
allocating anything. A refusal is a :class:`~spinsyn.fileio.SpinsynFileError` naming the file in one line.

The budget (bytes) is a quarter of the memory this process can still get (``MemAvailable``, and the address-space
limit ``RLIMIT_AS`` where one is set), lowered further by the environment variable ``SPINSYN_READ_LIMIT_MB``.
"""

from __future__ import annotations

import os
import re
import resource
import struct
import unicodedata
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from .fileio import SpinsynFileError

#: environment variable (MiB) that lowers the read budget
ENV_LIMIT = "SPINSYN_READ_LIMIT_MB"
#: most members a zip archive may list
MAX_ZIP_MEMBERS = 100_000
#: a member larger than this (bytes) must not compress better than MAX_RATIO:1 (a zip bomb otherwise)
RATIO_FLOOR, MAX_RATIO = 64 << 20, 200
#: largest array dimension count accepted from a header
MAX_NDIM = 32
_CHUNK = 1 << 20
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")


def _meminfo_available() -> int | None:
    """``MemAvailable`` of /proc/meminfo in bytes (None where there is none)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _address_space_left() -> int | None:
    """Bytes of address space left under ``RLIMIT_AS`` (None when unlimited)."""
    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    if soft == resource.RLIM_INFINITY:
        return None
    used = 0
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            used = next((int(x.split()[1]) * 1024 for x in fh if x.startswith("VmSize:")), 0)
    except (OSError, ValueError, IndexError):
        pass
    return max(soft - used, 0)


def read_budget() -> int:
    """Bytes one read of an untrusted file may allocate: ¼ of the memory left (``MemAvailable``, ``RLIMIT_AS``),
    at most ``SPINSYN_READ_LIMIT_MB`` MiB when that is set (an invalid value is ignored)."""
    left = [v for v in (_meminfo_available(), _address_space_left()) if v is not None]
    budget = min(left) // 4 if left else 1 << 30
    env = os.environ.get(ENV_LIMIT, "").strip()
    if env:
        try:
            budget = min(budget, max(int(float(env) * (1 << 20)), 0))
        except (ValueError, OverflowError):
            pass
    return budget


def mib(nbytes: int) -> str:
    """``nbytes`` as a short human figure ("1.5 GiB", "12 MiB", "300 B")."""
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if nbytes >= 1 << shift:
            return f"{nbytes / (1 << shift):.3g} {unit}"
    return f"{nbytes} B"


def over_budget(nbytes: int, budget: int) -> str:
    """The one-line reason for refusing ``nbytes`` over ``budget``."""
    return (f"would need {mib(nbytes)}, over the read budget of {mib(budget)} (a quarter of the free memory; "
            f"{ENV_LIMIT} lowers it)")


def clean_text(text: Any, limit: int | None = 240) -> str:
    """``text`` fit for one terminal line: ANSI escape sequences removed, other control and format characters
    (C0, C1, DEL, bidi overrides, line separators) shown as ``\\xNN``/``\\uNNNN``, whitespace runs collapsed; cut
    at a word boundary with "…" when longer than ``limit`` characters (None: never cut)."""
    s = _ANSI.sub("", str(text))
    out = []
    for ch in s:
        if ch in "\t\n\r\v\f":
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co"):
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    s = re.sub(r"\s+", " ", "".join(out)).strip()
    if limit is not None and len(s) > limit:
        cut = s[:limit]
        space = cut.rfind(" ")
        s = (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:(") + "…"
    return s


def file_error(path: Any, problem: Any, limit: int | None = 400) -> SpinsynFileError:
    """A :class:`SpinsynFileError` ``"<path>: <problem>"`` with both parts cleaned by :func:`clean_text`."""
    return SpinsynFileError(f"{clean_text(path, None)}: {clean_text(problem, limit)}")


# ----------------------------------------------------------------------------------------------------- zip archives
def check_zip(path: Any, zf: zipfile.ZipFile, budget: int | None = None) -> dict[str, zipfile.ZipInfo]:
    """Members of ``zf`` (name → ZipInfo) after checking the member count, each member's declared uncompressed size
    against ``budget`` (default :func:`read_budget`) and the sum of them, and the compression ratio of large members.
    Raises SpinsynFileError naming ``path``."""
    budget = read_budget() if budget is None else budget
    infos = zf.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise file_error(path, f"zip archive lists {len(infos)} members (at most {MAX_ZIP_MEMBERS} are read)")
    total = 0
    for info in infos:
        size, name = info.file_size, clean_text(info.filename, 80)
        if size > RATIO_FLOOR and size > MAX_RATIO * max(info.compress_size, 1):
            raise file_error(path, f"zip member {name} inflates {mib(info.compress_size)} to {mib(size)} (more than "
                             f"{MAX_RATIO}:1, a zip bomb); refused")
        if size > budget:
            raise file_error(path, f"zip member {name} declares {mib(size)}: " + over_budget(size, budget))
        total += size
    if total > budget:
        raise file_error(path, f"zip members declare {mib(total)} in all: " + over_budget(total, budget))
    return {i.filename: i for i in infos}


def read_member(path: Any, zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, declared_limit: bool = True
                ) -> bytes:
    """The bytes of member ``info``, read in chunks that stop at its declared size (never more, whatever the
    compressed stream holds) and at ``limit`` bytes. ``declared_limit``: refuse a member that declares more than
    ``limit`` (else read its first ``limit`` bytes)."""
    if declared_limit and info.file_size > limit:
        raise file_error(path, f"zip member {clean_text(info.filename, 80)} declares {mib(info.file_size)}: "
                         + over_budget(info.file_size, limit))
    parts, left = [], min(info.file_size, limit)
    with zf.open(info) as fh:
        while left > 0:
            part = fh.read(min(_CHUNK, left))
            if not part:
                break
            parts.append(part)
            left -= len(part)
    return b"".join(parts)


def open_zip(path: Any) -> zipfile.ZipFile:
    """``zipfile.ZipFile(path)`` with its failures (not a zip, a broken central directory) as SpinsynFileError."""
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, NotImplementedError, OverflowError,
            struct.error) as exc:
        raise file_error(path, f"unreadable zip archive ({exc})") from None


def check_zip_file(path: Any, budget: int | None = None) -> None:
    """:func:`check_zip` on the archive at ``path`` (a file that is not a zip is left to its reader)."""
    with open(path, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":
            return
    with open_zip(path) as zf:
        check_zip(path, zf, budget)


# ------------------------------------------------------------------------------------------------------- .npy files
def describe_start(head: bytes) -> str:
    """What a file that should be ``.npy`` looks like instead, from its first bytes."""
    if not head:
        return "empty file (0 bytes)"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive (an .npz?), not a .npy file"
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return "a Python pickle, not a .npy file (spinsyn never loads pickles)"
    return "not a .npy file (no \\x93NUMPY magic at its start)"


def npy_header(fh: IO[bytes], nbytes: int, where: Any, budget: int | None = None) -> tuple[tuple, bool, np.dtype]:
    """Check the ``.npy`` header at the start of ``fh`` (``nbytes`` bytes long in all) before any ``np.load``:
    magic and version 1.0/2.0, a numeric (non-object) dtype, shape × itemsize within the bytes after the header
    and within ``budget``. Returns (shape, fortran_order, dtype); raises SpinsynFileError naming ``where``."""
    fmt = np.lib.format
    head = fh.read(6)
    if head != b"\x93NUMPY":
        raise file_error(where, describe_start(head))
    try:
        version = tuple(fh.read(2))
        readers = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}
        if version not in readers:
            raise file_error(where, f".npy format version {version} (spinsyn reads 1.0 and 2.0)")
        shape, fortran, dtype = readers[version](fh)
        start = fh.tell()
    except SpinsynFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - numpy parses a hostile header with ast/tokenize: any failure, one line
        raise file_error(where, f"malformed .npy header ({type(exc).__name__}: {clean_text(str(exc)[:300], 160)})"
                         ) from None
    if dtype.hasobject:
        raise file_error(where, f"refused: the .npy array has dtype {dtype} (Python objects, which spinsyn never "
                         "loads); save a numeric array")
    if len(shape) > MAX_NDIM or any(not isinstance(n, int) or n < 0 for n in shape):
        raise file_error(where, f".npy header declares shape {clean_text(shape, 80)}")
    need = int(np.prod([int(n) for n in shape], dtype=object)) * dtype.itemsize
    have = nbytes - start
    if need > have:
        raise file_error(where, f".npy header declares shape {shape} {dtype} = {mib(need)} but the file holds "
                         f"{mib(max(have, 0))} of data (truncated or forged)")
    budget = read_budget() if budget is None else budget
    if need > budget:
        raise file_error(where, f".npy array of shape {shape} {dtype} " + over_budget(need, budget))
    return tuple(shape), bool(fortran), dtype


def check_npy_file(path: Any, budget: int | None = None) -> tuple[tuple, bool, np.dtype]:
    """:func:`npy_header` on the file at ``path`` (size from the file system)."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        return npy_header(fh, size, path, budget)


def load_npy(path: Any) -> np.ndarray:
    """``np.load(path, allow_pickle=False)`` of a ``.npy`` after :func:`check_npy_file`; every failure is one
    SpinsynFileError naming ``path``."""
    check_npy_file(path)
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, MemoryError) as exc:
        raise file_error(path, f"not a readable .npy file ({exc})") from None


def check_npz(path: Any, budget: int | None = None) -> None:
    """Check an ``.npz`` (a zip of ``.npy`` members) before ``np.load``: :func:`check_zip`, then each ``.npy``
    member's header against its declared size. Raises SpinsynFileError naming ``path`` (and the member)."""
    budget = read_budget() if budget is None else budget
    try:
        with open_zip(path) as zf:
            for name, info in check_zip(path, zf, budget).items():
                if name.endswith(".npy"):
                    with zf.open(info) as fh:
                        npy_header(fh, info.file_size, f"{clean_text(path, None)}: member {name}", budget)
    except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError) as exc:
        raise file_error(path, f"unreadable zip archive ({exc})") from None


# ----------------------------------------------------------------------------------------------- torch.load errors
def torch_problem(exc: BaseException) -> str:
    """One clean line for a ``torch.load(weights_only=True)`` failure (torch's text runs over several lines, carries
    terminal escape codes and suggests ``weights_only=False``, which spinsyn never does)."""
    text = _ANSI.sub("", str(exc))
    m = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if m:
        return (f"holds pickled Python objects ({clean_text(m.group(1), 120)}), which spinsyn never loads (tensors "
                "are read with torch.load(weights_only=True))")
    m = re.search(r"WeightsUnpickler error:\s*(.+)", text)
    first = m.group(1) if m else (text.strip().splitlines() or [type(exc).__name__])[0]
    return f"unreadable torch file ({clean_text(first, 160)})"


def check_torch_file(path: Path) -> None:
    """Before ``torch.load``: the file must be a zip archive (torch ≥ 1.6 format; the legacy format declares storage
    sizes that torch allocates unchecked) whose members pass :func:`check_zip`."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head != b"PK\x03\x04":
        what = ("empty file (0 bytes)" if not head else
                "legacy (pre-zip, torch < 1.6) torch file, not read; re-save it with a current torch"
                if head[:1] == b"\x80" or head[:2] == b"\x8a\x0a" else "not a torch file (torch.save writes a zip)")
        raise file_error(path, what)
    with open_zip(path) as zf:
        check_zip(path, zf)
