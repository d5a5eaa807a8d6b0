"""Fast CSV writing for large integer / fixed-point tables (numba-compiled formatter).

``np.savetxt`` formats one row at a time in Python (~5 us/row); chip tables have millions of rows.
Values are passed as int64 already scaled by 10**decimals, and written with the decimal point inserted.
The formatter releases the GIL, so several tables can be formatted in threads.
"""

from __future__ import annotations

import numba
import numpy as np

#: "00", "01", ..., "99": two digits per division in :func:`_format`
_PAIRS = np.frombuffer(b"".join(f"{i:02d}".encode() for i in range(100)), dtype=np.uint8).copy()


@numba.njit(cache=True, nogil=True)
def _format(vals: np.ndarray, decimals: np.ndarray, pairs: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    n, k = vals.shape
    buf = np.empty(n * k * 24 + n + 16, dtype=np.uint8)
    tmp = np.empty(24, dtype=np.uint8)
    pos = 0
    for i in range(n):
        for j in range(k):
            s = vals[i, j]
            if s < 0:
                buf[pos] = 45  # '-'
                pos += 1
                s = -s
            v = np.uint64(s)
            d = decimals[j]
            m = 0
            while v >= 100:  # digits least significant first, two per (unsigned) division
                q = v // np.uint64(100)
                r = v - q * np.uint64(100)
                tmp[m] = pairs[2 * r + 1]
                tmp[m + 1] = pairs[2 * r]
                m += 2
                v = q
            if v >= 10:
                tmp[m] = pairs[2 * v + 1]
                tmp[m + 1] = pairs[2 * v]
                m += 2
            else:
                tmp[m] = 48 + v
                m += 1
            while m <= d:  # leading zeros: a digit before the decimal point
                tmp[m] = 48
                m += 1
            for e in range(m - 1, -1, -1):
                buf[pos] = tmp[e]
                pos += 1
                if e == d and d > 0:
                    buf[pos] = 46  # '.'
                    pos += 1
            buf[pos] = 44 if j < k - 1 else 10  # ',' or '\n'
            pos += 1
    return buf[:pos]


@numba.njit(cache=True, nogil=True)
def _scaled(col: np.ndarray, scale: float, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``out[i] = rint(float64(col[i]) * scale)``: one pass instead of numpy's four (cast, multiply, round, store)."""
    for i in range(col.size):
        out[i] = np.int64(np.rint(np.float64(col[i]) * scale))


def format_csv(header: list[str], columns: list[np.ndarray], decimals: list[int]) -> bytes:
    """CSV bytes: ``header`` line then one line per row; column j rounded to ``decimals[j]`` places."""
    if len(header) != len(columns):
        raise ValueError("header, columns and decimals must have the same length")
    return (",".join(header) + "\n").encode("ascii") + format_rows(columns, decimals)


def format_rows(columns: list[np.ndarray], decimals: list[int]) -> bytes:
    """CSV lines without a header: one line per row; column j rounded to ``decimals[j]`` places."""
    if len(columns) != len(decimals):
        raise ValueError("header, columns and decimals must have the same length")
    n = len(columns[0]) if columns else 0
    vals = np.empty((n, len(columns)), dtype=np.int64)
    for j, (col, d) in enumerate(zip(columns, decimals)):
        col = np.asarray(col)
        if d == 0 and col.dtype.kind in "iub":
            vals[:, j] = col
        elif col.dtype.kind == "f" and col.ndim == 1:
            _scaled(col, 10.0**d, vals[:, j])
        else:
            vals[:, j] = np.rint(col.astype(np.float64) * 10.0**d)
    return _format(vals, np.asarray(decimals, dtype=np.int64), _PAIRS).tobytes() if n else b""
