"""A tolerant reader of lab tables (``spinsyn.labfile``): the CSV/TSV files measurement set-ups write.

:func:`read_table` reads a delimited text file into named float64 columns in canonical units:

* the delimiter is sniffed from the header (``,`` ``;`` tab, else runs of whitespace); with ``;`` a decimal comma
  (``1,5``) is read as a decimal point;
* lines starting with ``#`` are comments, and so is everything after a ``#`` on a line;
* the first other line is the header; each wanted :class:`Column` is found by name or alias (case-insensitive,
  spaces, ``_`` and ``-`` equivalent) with its unit taken from the header: ``dt (us)``, ``dt [us]``, ``dt_us``,
  ``G (uS)``, ``V_pulse (mV)``, ``R (kOhm)`` / ``R (kΩ)``, ``t (h)``, ``t (min)``; SI prefixes f p n u µ m k M G on
  s, S, V, A and ohm/Ω. ``%`` is kept as it is (unit ``"%"``: the caller decides what it is relative to). A
  column without a unit is taken in its canonical unit (with a note);
* extra columns are ignored with one note naming them; rows with a blank, NaN or non-numeric value in a column
  that is read are dropped and counted (``strict_rows=True`` refuses them instead);
* a duplicate match, a missing required column or a unit of the wrong kind (seconds for a voltage) is a
  :class:`~spinsyn.fileio.SpinsynFileError` (a ValueError) whose message starts with the file's path.

Files over the read budget (:func:`spinsyn.safeload.read_budget`) are refused before they are read.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .fileio import SpinsynFileError
from .safeload import clean_text, over_budget, read_budget

#: SI prefixes and their factors (``u``, ``µ`` (micro sign) and ``μ`` (Greek mu) are all micro)
PREFIXES = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "µ": 1e-6, "μ": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6,
            "G": 1e9}
#: base units: spelling -> (dimension, factor to the SI unit of that dimension)
BASE_UNITS = {"s": ("s", 1.0), "sec": ("s", 1.0), "S": ("S", 1.0), "V": ("V", 1.0), "A": ("A", 1.0),
              "ohm": ("ohm", 1.0), "Ohm": ("ohm", 1.0), "\u03a9": ("ohm", 1.0), "\u2126": ("ohm", 1.0)}
#: units taken whole (no prefix): time in minutes and hours, dimensionless counts, percent
WHOLE_UNITS = {"min": ("s", 60.0), "h": ("s", 3600.0), "hr": ("s", 3600.0), "1": ("1", 1.0), "-": ("1", 1.0),
               "%": ("%", 1.0), "K": ("K", 1.0)}
_BRACKET = re.compile(r"^(.*?)\s*[\(\[]\s*([^\)\]]*?)\s*[\)\]]\s*$")
_SEP = re.compile(r"[\s_\-]+")


@dataclass(frozen=True)
class Column:
    """A wanted column: canonical ``name`` (e.g. ``dt_ms``), canonical ``unit`` (``"ms"``, ``"S"``; None = a text
    column), header ``aliases`` accepted besides the name (unit stripped), and whether it must be present."""

    name: str
    unit: str | None
    aliases: tuple[str, ...] = ()
    required: bool = True


@dataclass(frozen=True)
class LabTable:
    """What :func:`read_table` found. ``columns``: canonical name -> (n_rows,) float64 in the canonical unit (or
    in ``"%"`` where the header said so; see ``units``), str arrays for text columns; ``notes``: one line each
    (ignored columns, dropped rows, units seen); ``sha256`` of the file's bytes."""

    columns: dict[str, np.ndarray]
    notes: tuple[str, ...]
    n_rows: int
    n_dropped: int
    sha256: str
    path: str
    #: canonical name -> the unit its values are in: the column's canonical unit, or "%" (None: text)
    units: dict[str, str | None] = field(default_factory=dict)
    #: canonical name -> the header it was read from
    headers: dict[str, str] = field(default_factory=dict)
    #: canonical name -> the unit text its header gave ("us" for "dt (us)" or "dt_us"), None where it gave none
    header_units: dict[str, str | None] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------------- units
def parse_unit(text: str) -> tuple[str, float] | None:
    """(dimension, factor to the SI unit) of a unit spelling (``"us"`` -> ``("s", 1e-6)``, ``"kΩ"`` ->
    ``("ohm", 1e3)``, ``"%"`` -> ``("%", 1)``); None when it is not a unit."""
    u = text.strip().replace(" ", "")
    if u in WHOLE_UNITS:
        return WHOLE_UNITS[u]
    if u in BASE_UNITS:
        return BASE_UNITS[u]
    if len(u) > 1 and u[0] in PREFIXES:
        rest = u[1:]
        if rest in BASE_UNITS:
            dim, f = BASE_UNITS[rest]
            return dim, PREFIXES[u[0]] * f
        if rest.lower() == "ohm":
            return "ohm", PREFIXES[u[0]]
    if u.lower() == "ohm":
        return "ohm", 1.0
    return None


def _key(text: str) -> str:
    """Header comparison key: case-insensitive, spaces / ``_`` / ``-`` equivalent."""
    return _SEP.sub("_", text.strip().lower()).strip("_")


def _split_header(header: str) -> tuple[str, str | None]:
    """(name part, unit text or None) of a header: ``dt (us)``, ``dt [us]`` -> ("dt", "us"); ``dt`` -> ("dt", None).
    The ``dt_us`` form is resolved against the wanted columns by :func:`_match_header`."""
    m = _BRACKET.match(header)
    if m:
        return m.group(1).strip(), m.group(2).strip()
    return header.strip(), None


def _stems(col: Column) -> set[str]:
    """Keys that name ``col``: its name and aliases, and each of them without a trailing ``_<unit>``."""
    out = set()
    for n in (col.name, *col.aliases):
        out.add(_key(n))
        head, sep, tail = n.rpartition("_")
        if sep and head and parse_unit(tail) is not None:
            out.add(_key(head))
    return out


def _match_header(header: str, col: Column) -> tuple[bool, str | None]:
    """(does ``header`` name ``col``, the unit text it gives or None)."""
    stems = _stems(col)
    name, unit = _split_header(header)
    if unit is None and col.unit is not None:  # "dt_us", "dt us", "G-uS" (before "dt_ms" as a plain name)
        for sep in ("_", " ", "-"):
            head, s, tail = name.rpartition(sep)
            if s and head and _key(head) in stems and parse_unit(tail) is not None:
                return True, tail
    if _key(name) in stems:
        return True, unit
    return False, None


def header_unit(header: str, col: Column) -> str | None:
    """The unit text ``header`` gives for ``col`` (``"us"`` for ``dt (us)`` or ``dt_us``), None when it names no
    unit (or does not name ``col``)."""
    return _match_header(header, col)[1]


def _unit_factor(path: str, header: str, col: Column, unit: str | None) -> tuple[float, str | None, str | None]:
    """(factor to the canonical unit, unit the values end in, note) for ``col`` read from ``header``."""
    if col.unit is None:
        return 1.0, None, None
    want = parse_unit(col.unit)
    if want is None:  # pragma: no cover - a programming error of the caller
        raise ValueError(f"Column {col.name!r}: unknown canonical unit {col.unit!r}")
    if unit is None or unit == "":
        note = None if col.unit == "1" else f"column {header!r} has no unit; taken as {col.unit}"
        return 1.0, col.unit, note
    got = parse_unit(unit)
    if got is None:
        raise SpinsynFileError(f"{path}: column {header!r}: unknown unit {unit!r} (expected {col.unit} or a "
                               f"prefixed form of it, e.g. {_examples(want[0])})")
    if got[0] == "%":
        return 1.0, "%", None
    if got[0] != want[0]:
        raise SpinsynFileError(f"{path}: column {header!r} is in {unit!r} ({_DIMS.get(got[0], got[0])}), but "
                               f"{col.name} needs {_DIMS.get(want[0], want[0])} (e.g. {_examples(want[0])})")
    return got[1] / want[1], col.unit, None


_DIMS = {"s": "a time", "S": "a conductance", "V": "a voltage", "A": "a current", "ohm": "a resistance",
         "1": "a count or ratio", "%": "a percentage"}


def _examples(dim: str) -> str:
    return {"s": "ms, us, s", "S": "S, mS, uS", "V": "V, mV", "A": "A, mA, uA", "ohm": "ohm, kOhm, kΩ"}.get(dim, dim)


# ---------------------------------------------------------------------------------------------------- mapping
def parse_mapping(text: str) -> dict[str, str]:
    """``--columns`` text -> {canonical name: header}: ``"dt_ms='delay (us)',dg_S=dG"`` ->
    ``{"dt_ms": "delay (us)", "dg_S": "dG"}``. Values may be quoted with ' or " (to hold commas); ValueError
    ``--columns: …`` on a malformed item."""
    out: dict[str, str] = {}
    items, buf, quote = [], [], ""
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
            else:
                buf.append(ch)
        elif ch in "'\"":
            quote = ch
        elif ch == ",":
            items.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    if quote:
        raise ValueError(f"--columns: unterminated quote in {clean_text(text, 120)!r}")
    items.append("".join(buf))
    for item in items:
        if not item.strip():
            continue
        name, eq, header = item.partition("=")
        if not eq or not name.strip() or not header.strip():
            raise ValueError(f"--columns: expected NAME=HEADER items separated by commas, got {item.strip()!r}")
        if name.strip() in out:
            raise ValueError(f"--columns: {name.strip()!r} is mapped twice")
        out[name.strip()] = header.strip()
    if not out:
        raise ValueError("--columns: empty mapping; expected NAME=HEADER[,NAME=HEADER…]")
    return out


# ---------------------------------------------------------------------------------------------------- reading
def _read_text(path: Path) -> tuple[str, str, list[str]]:
    """(text, sha256, notes) of the file, refused over the read budget; decoded as UTF-8 (BOM allowed), else
    Windows-1252 with a note."""
    if not path.is_file():
        raise SpinsynFileError(f"{path}: file not found")
    size, budget = os.path.getsize(path), read_budget()
    # rows become Python strings and float arrays: ~8x the bytes is the most a table costs in memory
    if size * 8 > budget:
        raise SpinsynFileError(f"{path}: a {size}-byte table " + over_budget(size * 8, budget))
    raw = path.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    if b"\x00" in raw[:4096]:
        raise SpinsynFileError(f"{path}: not a UTF-8 text table (NUL bytes: a binary or UTF-16 file); expected a "
                               "delimited text CSV")
    try:
        return raw.decode("utf-8-sig"), sha, []
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace"), sha, ["not UTF-8; read as Windows-1252"]


def _strip_comment(line: str) -> str:
    return line.split("#", 1)[0].rstrip() if "#" in line else line.rstrip()


def _sniff(header: str) -> str | None:
    """The delimiter of ``header``: the most frequent of tab, ``;`` and ``,`` (None: whitespace)."""
    counts = {d: header.count(d) for d in ("\t", ";", ",")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else None


def _split_lines(path: Path, text: str) -> tuple[list[str], list[tuple[int, list[str]]], str | None]:
    """(header fields, [(line number, fields)] of the data rows, delimiter) of the table text."""
    lines = [(i, _strip_comment(x)) for i, x in enumerate(text.splitlines(), start=1)]
    lines = [(i, x) for i, x in lines if x.strip()]
    if not lines:
        raise SpinsynFileError(f"{path}: no header and no data (empty, or only # comments)")
    delim = _sniff(lines[0][1])

    def fields(s: str) -> list[str]:
        if delim is None:
            return s.split()
        return [f.strip() for f in next(csv.reader([s], delimiter=delim, skipinitialspace=True))]

    header = [h.strip() for h in fields(lines[0][1])]
    return header, [(i, fields(x)) for i, x in lines[1:]], delim


def _resolve_columns(path: Path, header: list[str], columns: Sequence[Column], mapping: Mapping[str, str]
                     ) -> dict[str, tuple[int, str | None]]:
    """Canonical name -> (header index, unit text) of each column found; SpinsynFileError on a duplicate match or
    a missing required column."""
    names = {c.name for c in columns}
    unknown = sorted(set(mapping) - names)
    if unknown:
        raise SpinsynFileError(f"{path}: --columns names {unknown}, which this file type does not read; expected "
                               f"some of {sorted(names)}")
    found: dict[str, tuple[int, str | None]] = {}
    for col in columns:
        if col.name in mapping:
            found[col.name] = _mapped(path, header, col, mapping[col.name])
            continue
        hits = [(j, u) for j, h in enumerate(header) for ok, u in [_match_header(h, col)] if ok]
        taken = {j for j, _ in found.values()}
        hits = [(j, u) for j, u in hits if j not in taken]
        if len(hits) > 1:
            both = " and ".join(repr(header[j]) for j, _ in hits)
            raise SpinsynFileError(f"{path}: columns {both} both match {col.name}; choose one with --columns "
                                   f"{col.name}=HEADER")
        if hits:
            found[col.name] = hits[0]
        elif col.required:
            accepted = sorted({n for n in (col.name, *col.aliases)})
            raise SpinsynFileError(f"{path}: no column for {col.name} (accepted headers: {', '.join(accepted)}"
                                   f"{'' if col.unit is None else ', with a unit such as (' + col.unit + ')'}); "
                                   f"headers are {header}; map one with --columns {col.name}=HEADER")
    return found


def _mapped(path: Path, header: list[str], col: Column, want: str) -> tuple[int, str | None]:
    """(index, unit text) of the header ``want`` that ``--columns`` maps to ``col``."""
    hits = [j for j, h in enumerate(header) if _key(h) == _key(want)]
    if not hits:
        hits = [j for j, h in enumerate(header) if _key(_split_header(h)[0]) == _key(want)]
    if len(hits) != 1:
        what = "no" if not hits else "more than one"
        raise SpinsynFileError(f"{path}: --columns {col.name}={want!r}: {what} header matches; headers are {header}")
    name, unit = _split_header(header[hits[0]])
    if unit is None:
        head, s, tail = name.rpartition("_")
        if s and head and parse_unit(tail) is not None and col.unit is not None:
            unit = tail
    return hits[0], unit


def _number(text: str, decimal_comma: bool) -> float:
    """``text`` as a float; NaN when blank or not a number."""
    t = text.strip()
    if decimal_comma:
        t = t.replace(",", ".")
    try:
        v = float(t)
    except ValueError:
        return math.nan
    return v


def _bad_rows(rows: list[tuple[int, list[str]]], found: dict[str, tuple[int, str | None]],
              text_cols: set[str], decimal_comma: bool) -> tuple[np.ndarray, dict[str, list]]:
    """(bool mask of rows to drop, name -> raw values per row) over the columns read."""
    values: dict[str, list] = {n: [] for n in found}
    bad = np.zeros(len(rows), dtype=bool)
    for r, (_, fields) in enumerate(rows):
        for name, (j, _) in found.items():
            cell = fields[j] if j < len(fields) else ""
            if name in text_cols:
                values[name].append(cell.strip())
                bad[r] |= not cell.strip()
            else:
                v = _number(cell, decimal_comma)
                values[name].append(v)
                bad[r] |= not math.isfinite(v)
    return bad, values


def _lines_text(lines: list[int]) -> str:
    shown = ", ".join(str(i) for i in lines[:8])
    return shown + (f", … ({len(lines)} in all)" if len(lines) > 8 else "")


def read_table(path: str | Path, columns: Sequence[Column], *, mapping: Mapping[str, str] | None = None,
               strict_rows: bool = False, what: str = "") -> LabTable:
    """Read the lab table at ``path`` into the wanted ``columns`` (see the module docstring). ``mapping``:
    canonical name -> header (``--columns``, :func:`parse_mapping`); ``strict_rows``: refuse a row with a blank,
    NaN or non-numeric value instead of dropping it; ``what``: a few words for messages ("STDP window").
    Raises SpinsynFileError (a ValueError) whose message starts with ``path``."""
    path = Path(path)
    text, sha, notes = _read_text(path)
    header, rows, delim = _split_lines(path, text)
    if not rows:
        raise SpinsynFileError(f"{path}: header only, no data rows" + (f" ({what})" if what else ""))
    found = _resolve_columns(path, header, columns, mapping or {})
    by_name = {c.name: c for c in columns}
    used = {j for j, _ in found.values()}
    extra = [h for j, h in enumerate(header) if j not in used]
    if extra:
        notes.append(f"ignored column(s) {', '.join(repr(clean_text(h, 60)) for h in extra)}")
    text_cols = {n for n in found if by_name[n].unit is None}
    bad, values = _bad_rows(rows, found, text_cols, delim == ";")
    if bad.any():
        first = int(np.nonzero(bad)[0][0])
        cells = [rows[first][1][j] for n, (j, _) in found.items() if n not in text_cols and j < len(rows[first][1])]
        shown = next((c for c in cells if c.strip() and not math.isfinite(_number(c, delim == ";"))), "")
        lines = [rows[r][0] for r in np.nonzero(bad)[0]]
        where = ("line " if len(lines) == 1 else "lines ") + _lines_text(lines)
        where += (": " if len(lines) == 1 else f"; line {lines[0]}: ") + repr(clean_text(shown, 40)) if shown else ""
        if strict_rows:
            raise SpinsynFileError(f"{path}: {int(bad.sum())} row(s) with a blank, NaN or non-numeric value in a "
                                   f"column that is read ({where}); --strict-rows refuses them")
        notes.append(f"dropped {int(bad.sum())} row(s) with a blank, NaN or non-numeric value ({where})")
    keep = ~bad
    out: dict[str, np.ndarray] = {}
    units: dict[str, str | None] = {}
    seen = []
    for name, (j, unit) in found.items():
        factor, units[name], note = _unit_factor(str(path), header[j], by_name[name], unit)
        if note:
            notes.append(note)
        if name in text_cols:
            out[name] = np.asarray(values[name], dtype=str)[keep]
            continue
        out[name] = np.asarray(values[name], dtype=np.float64)[keep] * factor
        if unit:
            seen.append(f"{clean_text(header[j], 40)} → {units[name]}" + ("" if factor == 1 else f" (×{factor:g})"))
    if seen:
        notes.append("units: " + "; ".join(seen))
    n_rows = int(keep.sum())
    if n_rows == 0:
        raise SpinsynFileError(f"{path}: no usable data rows (all {len(rows)} dropped)")
    return LabTable(out, tuple(notes), n_rows, int(bad.sum()), sha, str(path), units,
                    {n: header[j] for n, (j, _) in found.items()}, {n: u or None for n, (_, u) in found.items()})


def merge_columns(tables: Sequence[LabTable]) -> dict[str, np.ndarray]:
    """The columns of several tables read with the same column set, concatenated in order (rows of all files)."""
    return {k: np.concatenate([t.columns[k] for t in tables]) for k in tables[0].columns}
