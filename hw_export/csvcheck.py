"""CSV contents cross-checked against chip.h5, to each CSV value's printed precision.

The CSV views are regenerated from chip.h5 with the writer's own formatter; equal bytes pass at once. Otherwise
every field is parsed and compared with the exact chip.h5 value: a field printed with k decimals must be within
half a unit of its last digit, ``|csv − h5| ≤ 0.5·10^−k`` (plus 1e-9 relative slack for the float64 product),
so a value re-printed with other formatting passes and a changed value fails, naming its row and column.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from spinsyn.fileio import SpinsynFileError
from spinsyn.lazyimport import import_uninterrupted

from .csvfast import format_csv
from .csvlayout import (
    FUSION_NAME,
    H5_NAME,
    MATRIX_NAME,
    SCHEDULE_CSV_HEADER,
    TARGET_CSV_HEADER,
    _fusion_csv,
    _fusion_header,
    schedule_columns,
    target_columns,
)
from .tiling import TileLayout

_TILE_FIELDS = ("g_target_S", "state", "level", "mask", "verify_lo_S", "verify_hi_S", "row_index", "col_index",
                "col_sign", "schedule")


def _compare_fields(path: Path, body: bytes, ref: np.ndarray, names: list[str], first_line: int) -> None:
    """Every comma/newline separated field of ``body`` against ``ref`` (n_rows, n_cols) to printed precision."""
    n_cols = ref.shape[1] if ref.ndim == 2 else 1
    flat = np.asarray(ref, np.float64).ravel()
    fields = np.array(body.rstrip(b"\n").replace(b"\n", b",").split(b",")) if body.strip() else np.array([], "S1")
    if fields.size != flat.size:
        raise SpinsynFileError(f"{path}: has {fields.size} values, chip.h5 has {flat.size}")
    try:
        vals = fields.astype(np.float64)
    except ValueError:
        raise SpinsynFileError(f"{path}: contains a field that is not a number") from None
    dot = np.char.find(fields, b".")
    dec = np.where(dot >= 0, np.char.str_len(fields) - dot - 1, 0)
    tol = 0.5 * 10.0 ** (-dec.astype(np.float64)) + 1e-9 * np.maximum(1.0, np.abs(flat))
    bad = np.flatnonzero(~(np.abs(vals - flat) <= tol))
    if bad.size:
        i = int(bad[0])
        row, col = divmod(i, n_cols)
        raise SpinsynFileError(
            f"{path}: line {first_line + row} column {names[col] if col < len(names) else col + 1}: "
            f"{fields[i].decode('ascii', 'replace')} differs from chip.h5 ({flat[i]:.{max(int(dec[i]), 0)}f}); "
            f"{bad.size} value(s) differ")


def _check_table(path: Path, header: list[str] | None, cols: list[np.ndarray], dec: list[int]) -> None:
    """A header + rows CSV (``header`` None: no header line) against its columns from chip.h5."""
    raw = path.read_bytes()
    want = format_csv(header or [f"c{j}" for j in range(len(cols))], cols, dec)
    if header is None:
        want = want.split(b"\n", 1)[1]
    if raw == want:
        return
    body = raw if header is None else raw.partition(b"\n")[2]
    ref = np.column_stack([np.asarray(c, np.float64) for c in cols]) if cols and len(cols[0]) else np.zeros((0, 1))
    _compare_fields(path, body, ref, header or [f"c{j}" for j in range(len(cols))], 1 if header is None else 2)


def _check_fusion(path: Path, m_uS: np.ndarray) -> None:
    raw = path.read_bytes()
    if raw == _fusion_csv(m_uS):
        return
    head = _fusion_header(m_uS.shape[0], m_uS.shape[1])
    flat = np.ascontiguousarray(m_uS.T).ravel()
    _compare_fields(path, raw[len(head):], flat[None, :], ["g_uS"] * flat.size, 7)


def verify_csv_contents(chip_dir: Path, listed: set[str], summary: dict[str, Any]) -> None:
    """Cross-check every CSV view listed in the manifest against chip.h5 (raises ``SpinsynFileError``), tile by
    tile and the layer CSVs band by band (memory: one band of tiles, not the chip)."""
    h5py = import_uninterrupted("h5py")  # lazy (startup); never half-imported by a signal

    with h5py.File(chip_dir / H5_NAME, "r") as f:
        for i in range(summary["n_tiles"]):
            g = f["tiles"][str(i)]
            td = SimpleNamespace(**{k: g[k][()] for k in _TILE_FIELDS})
            rel = f"csv/tile_{i}_targets.csv"
            if rel in listed:
                _check_table(chip_dir / rel, TARGET_CSV_HEADER, *target_columns(td))
            rel = f"csv/tile_{i}_schedule.csv"
            if rel in listed:
                _check_table(chip_dir / rel, SCHEDULE_CSV_HEADER, *schedule_columns(td.schedule))
        lay = TileLayout(*summary["device_shape"], *summary["tile_shape"])
        if MATRIX_NAME in listed:
            _check_matrix_streamed(chip_dir / MATRIX_NAME, f, lay)
        if FUSION_NAME in listed:
            _check_fusion_streamed(chip_dir / FUSION_NAME, f, lay)


def _band(f: Any, lay: TileLayout, tiles: range, axis: int) -> np.ndarray:
    """g_target_S in uS of ``tiles`` (one row of the tile grid, ``axis`` 1, or one column, ``axis`` 0) joined into
    their block of the device matrix."""
    parts = []
    for t in tiles:
        ru, cu = lay.used(t)
        parts.append(f["tiles"][str(t)]["g_target_S"][:ru, :cu] * 1e6)
    return np.concatenate(parts, axis=axis)


def _check_matrix_streamed(path: Path, f: Any, lay: TileLayout) -> None:
    """layer_targets_uS.csv, one band of tile rows at a time: equal bytes pass; the first band that differs sends
    the whole file to the field-by-field comparison (:func:`_check_table`)."""
    from .csvfast import format_rows  # lazy: startup

    gr, gc = lay.grid
    with open(path, "rb") as fh:
        for b in range(gr):
            m = _band(f, lay, range(b * gc, (b + 1) * gc), 1)
            want = format_rows(list(m.T), [6] * lay.n_cols)
            if fh.read(len(want)) != want:
                break
        else:
            if not fh.read(1):
                return
    m = np.concatenate([_band(f, lay, range(b * gc, (b + 1) * gc), 1) for b in range(gr)], axis=0)
    _check_table(path, None, list(m.T), [6] * lay.n_cols)


def _check_fusion_streamed(path: Path, f: Any, lay: TileLayout) -> None:
    """aihwkit_fusion.csv, one band of tile columns (outputs) at a time, as :func:`_check_matrix_streamed`."""
    from .csvfast import format_rows  # lazy: startup

    gr, gc = lay.grid
    with open(path, "rb") as fh:
        same = fh.read(len(head := _fusion_header(lay.n_rows, lay.n_cols))) == head
        for b in range(gc) if same else ():
            flat = np.ascontiguousarray(_band(f, lay, range(b, gr * gc, gc), 0).T).ravel()
            want = format_rows([flat], [6]).replace(b"\n", b",")
            want = want if b + 1 < gc else want[:-1] + b"\n"
            if fh.read(len(want)) != want:
                same = False
                break
        if same and not fh.read(1):
            return
    m = np.concatenate([_band(f, lay, range(b * gc, (b + 1) * gc), 1) for b in range(gr)], axis=0)
    _check_fusion(path, m)
