"""Tiling a device matrix onto R x C crossbars, with padding and the tile <-> layer index map.

The device matrix D has shape (I, M): I input rows (e.g. 784 pixels) and M device columns (O for a
unipolar mapping, 2*O interleaved G+/G- for a differential one). Tile ``t`` covers rows
``tile_row*R .. +R`` and columns ``tile_col*C .. +C`` of D; tiles are numbered row-major
(``t = tile_row * n_tile_cols + tile_col``). Cells beyond the edge of D are padding: they stay in the
reset state and are marked ``mask == 0``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_TILE_RE = re.compile(r"^(\d+)[xX](\d+)$")


def parse_tile(text: str) -> tuple[int, int]:
    """Parse ``RxC`` (e.g. ``128x128``) into (rows, cols). Raises ValueError otherwise."""
    from spinsyn.options import EXPORT_OPTIONS  # lazy: startup

    side = EXPORT_OPTIONS["tile_side"]
    m = _TILE_RE.match(str(text).strip())
    if not m:
        raise ValueError(f"--tile: got {text!r}, expected ROWSxCOLS with each side {side.range_text()}, e.g. 128x128")
    rows, cols = (side.check(int(g), "--tile") for g in m.groups())
    return rows, cols


@dataclass(frozen=True)
class TileLayout:
    """Crossbar tiling of an (n_rows, n_cols) device matrix onto tiles of tile_rows x tile_cols."""

    n_rows: int
    n_cols: int
    tile_rows: int
    tile_cols: int

    @property
    def grid(self) -> tuple[int, int]:
        """(number of tile rows, number of tile columns)."""
        return -(-self.n_rows // self.tile_rows), -(-self.n_cols // self.tile_cols)

    @property
    def n_tiles(self) -> int:
        gr, gc = self.grid
        return gr * gc

    def origin(self, t: int) -> tuple[int, int]:
        """(first device-matrix row, first device-matrix column) of tile ``t``."""
        _, gc = self.grid
        return (t // gc) * self.tile_rows, (t % gc) * self.tile_cols

    def used(self, t: int) -> tuple[int, int]:
        """(rows, cols) of tile ``t`` that hold real devices (the rest is padding)."""
        r0, c0 = self.origin(t)
        return min(self.tile_rows, self.n_rows - r0), min(self.tile_cols, self.n_cols - c0)

    def index_map(self) -> np.ndarray:
        """Structured array (n_tiles,): tile, layer_row0, layer_col0, rows_used, cols_used."""
        dt = np.dtype([("tile", "<i4"), ("layer_row0", "<i4"), ("layer_col0", "<i4"),
                       ("rows_used", "<i4"), ("cols_used", "<i4")])
        out = np.zeros(self.n_tiles, dtype=dt)
        for t in range(self.n_tiles):
            out[t] = (t, *self.origin(t), *self.used(t))
        return out

    def row_index(self, t: int) -> np.ndarray:
        """(tile_rows,) int32 device-matrix row of each tile row, -1 for padding."""
        r0, _ = self.origin(t)
        idx = np.arange(r0, r0 + self.tile_rows, dtype=np.int32)
        idx[idx >= self.n_rows] = -1
        return idx

    def col_index(self, t: int) -> np.ndarray:
        """(tile_cols,) int32 device-matrix column of each tile column, -1 for padding."""
        _, c0 = self.origin(t)
        idx = np.arange(c0, c0 + self.tile_cols, dtype=np.int32)
        idx[idx >= self.n_cols] = -1
        return idx

    def mask(self, t: int) -> np.ndarray:
        """(tile_rows, tile_cols) uint8: 1 where a real device sits, 0 for padding."""
        m = np.zeros((self.tile_rows, self.tile_cols), dtype=np.uint8)
        ru, cu = self.used(t)
        m[:ru, :cu] = 1
        return m


def make_layout(shape: tuple[int, int], tile: tuple[int, int]) -> TileLayout:
    """Layout for a device matrix of ``shape`` on tiles of ``tile`` = (rows, cols)."""
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"device matrix must be 2-D and non-empty, got shape {tuple(shape)}")
    return TileLayout(int(shape[0]), int(shape[1]), int(tile[0]), int(tile[1]))


def to_tiles(mat: np.ndarray, layout: TileLayout, fill: float = 0) -> np.ndarray:
    """Split (n_rows, n_cols) into (n_tiles, tile_rows, tile_cols), padding with ``fill``."""
    gr, gc = layout.grid
    R, C = layout.tile_rows, layout.tile_cols
    padded = np.full((gr * R, gc * C), fill, dtype=mat.dtype)
    padded[: layout.n_rows, : layout.n_cols] = mat
    return padded.reshape(gr, R, gc, C).transpose(0, 2, 1, 3).reshape(gr * gc, R, C)


def from_tiles(tiles: np.ndarray, layout: TileLayout) -> np.ndarray:
    """Inverse of :func:`to_tiles`: (n_tiles, R, C) -> (n_rows, n_cols), padding dropped."""
    gr, gc = layout.grid
    R, C = layout.tile_rows, layout.tile_cols
    if tiles.shape != (gr * gc, R, C):
        raise ValueError(f"expected tiles of shape {(gr * gc, R, C)}, got {tiles.shape}")
    full = tiles.reshape(gr, gc, R, C).transpose(0, 2, 1, 3).reshape(gr * R, gc * C)
    return full[: layout.n_rows, : layout.n_cols]
