"""Fit inputs: a device sweep HDF5 (``spinsyn-sweep`` v1) or a CSV with a unit-bearing header.

Both become a :class:`FitData`: per-Δt mean, spread and trial count, plus the raw trials for the plot.
Everything is validated here, once, with messages naming the file; inner code trusts a FitData.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from spinsyn.fileio import SpinsynFileError, sha256_file

#: CSV time columns and their factor to ms.
DT_COLUMNS = {"dt_ms": 1.0, "dt_us": 1e-3, "dt_s": 1e3}
#: CSV value columns: name -> (factor to the stored unit, stored unit, normalised).
Y_COLUMNS = {
    "dw": (1.0, "1", True),
    "delta_g_S": (1.0, "S", False), "delta_g_mS": (1e-3, "S", False),
    "delta_g_uS": (1e-6, "S", False), "delta_g_nS": (1e-9, "S", False),
}
OPTIONAL_COLUMNS = ("sigma", "trial")
#: largest |Δw| or |ΔG| (in the column's own unit) and |Δt| (ms) a fit accepts: far beyond any device, far below
#: where squares overflow
MAX_ABS_VALUE, MAX_ABS_DT_MS = 1e12, 1e9


@dataclass(frozen=True)
class FitData:
    """Data to fit. Shapes: P distinct Δt values; the raw arrays hold every trial/row (R,).

    ``y_std`` is the spread of the trials at each Δt (NaN where one trial), ``sigma`` the user-given
    uncertainty of each mean (or None), both in ``y_unit``.
    """

    dt_ms: np.ndarray  # (P,) sorted
    y_mean: np.ndarray  # (P,)
    y_std: np.ndarray  # (P,) trial standard deviation (ddof=1), NaN where n_trials == 1
    n_trials: np.ndarray  # (P,) int
    sigma: np.ndarray | None  # (P,) given uncertainty of the mean, or None
    y_unit: str  # "1" (normalised / fraction of range) or "S"
    normalised: bool  # data already divided by the rule amplitude (A cancels)
    raw_dt_ms: np.ndarray  # (R,)
    raw_y: np.ndarray  # (R,)
    source_path: str
    source_sha256: str
    kind: str  # "csv" | "sweep"
    y_label: str = "Δw"

    @property
    def n(self) -> int:
        return int(self.dt_ms.size)

    def weights_sigma(self) -> np.ndarray | None:
        """Uncertainty of each mean used as least-squares weight (None = unweighted).

        The given ``sigma`` if present; else trial std/√n where every Δt has ≥ 2 trials, with every
        value floored at the median positive one (all-equal trials are not infinitely precise).
        """
        if self.sigma is not None:
            return self.sigma
        if np.all(self.n_trials >= 2):
            sem = self.y_std / np.sqrt(self.n_trials)
            pos = sem[sem > 0]
            if pos.size == 0:
                return None
            return np.maximum(sem, float(np.median(pos)))
        return None


def _aggregate(path: Path, dt: np.ndarray, y: np.ndarray, sigma: np.ndarray | None):
    order = np.argsort(dt, kind="stable")
    dt, y = dt[order], y[order]
    ux, inv, counts = np.unique(dt, return_inverse=True, return_counts=True)
    mean = np.bincount(inv, weights=y) / counts
    ss = np.bincount(inv, weights=(y - mean[inv]) ** 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.where(counts > 1, np.sqrt(ss / np.maximum(counts - 1, 1)), np.nan)
    sig = None
    if sigma is not None:
        sigma = sigma[order]
        # several rows per Δt with a sigma each: uncertainty of their mean
        sig = np.sqrt(np.bincount(inv, weights=sigma**2)) / counts
    return ux, mean, std, counts.astype(int), sig, dt, y


def check_curve(path: str | Path, dt: np.ndarray, y: np.ndarray) -> None:
    """Reject curves no model can be fitted to (NaN/inf, constant, too few points)."""
    if not (np.all(np.isfinite(dt)) and np.all(np.isfinite(y))):
        bad = int(np.sum(~np.isfinite(dt)) + np.sum(~np.isfinite(y)))
        raise SpinsynFileError(f"{path}: {bad} value(s) are NaN or infinite; remove or fix them")
    if np.unique(dt).size < 3:
        raise SpinsynFileError(f"{path}: only {np.unique(dt).size} distinct Δt value(s); need at least 3")
    scale = max(float(np.max(np.abs(y))), 1e-300)
    if scale > MAX_ABS_VALUE or float(np.max(np.abs(dt))) > MAX_ABS_DT_MS:
        raise SpinsynFileError(f"{path}: values out of range (|value| up to {scale:.3g}, |Δt| up to "
                               f"{float(np.max(np.abs(dt))):.3g} ms; expected |value| <= {MAX_ABS_VALUE:g} in the "
                               f"column's unit and |Δt| <= {MAX_ABS_DT_MS:g} ms)")
    if float(np.ptp(y)) <= 1e-12 * scale or float(np.ptp(y)) == 0.0:
        raise SpinsynFileError(f"{path}: the curve is constant (all values {float(y[0]):.6g}); nothing to fit")


def _read_rows(path: Path) -> list[list[str]]:
    """Non-empty CSV rows, ``#`` comment lines skipped; SpinsynFileError when missing, not UTF-8 or empty."""
    if not path.is_file():
        raise SpinsynFileError(f"{path}: file not found")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.reader(line for line in fh if not line.lstrip().startswith("#")) if r]
    except UnicodeDecodeError:
        raise SpinsynFileError(f"{path}: not a UTF-8 text CSV file") from None
    if not rows:
        raise SpinsynFileError(f"{path}: empty CSV; expected a header such as 'dt_ms,dw'")
    return rows


def _check_header(path: Path, header: list[str]) -> tuple[str, str]:
    """Validate the header; return (time column, value column)."""
    allowed = set(DT_COLUMNS) | set(Y_COLUMNS) | set(OPTIONAL_COLUMNS)
    unknown = [h for h in header if h not in allowed]
    if unknown:
        hint = ""
        if any(h in ("dt", "delta_t", "time") for h in unknown):
            hint = " (a time column must carry its unit: dt_ms, dt_us or dt_s)"
        elif any(h.startswith("delta_g") or h in ("dg", "g", "w") for h in unknown):
            hint = " (a conductance change must carry its unit: delta_g_S, _mS, _uS or _nS; 'dw' if normalised)"
        raise SpinsynFileError(f"{path}: unknown column(s) {unknown}{hint}; expected {sorted(allowed)}")
    if len(set(header)) != len(header):
        raise SpinsynFileError(f"{path}: duplicate column names in header {header}")
    dts = [h for h in header if h in DT_COLUMNS]
    ys = [h for h in header if h in Y_COLUMNS]
    if len(dts) != 1:
        raise SpinsynFileError(f"{path}: need exactly one time column of {sorted(DT_COLUMNS)}, got {dts}")
    if len(ys) != 1:
        raise SpinsynFileError(f"{path}: need exactly one value column of {sorted(Y_COLUMNS)}, got {ys}")
    return dts[0], ys[0]


def _columns(path: Path, header: list[str], body: list[list[str]]) -> dict[str, np.ndarray]:
    """Column name -> float64 values; SpinsynFileError naming the line of a ragged row or a non-number."""
    if not body:
        raise SpinsynFileError(f"{path}: header only, no data rows")
    for i, r in enumerate(body, start=2):
        if len(r) != len(header):
            raise SpinsynFileError(f"{path}: line {i} has {len(r)} fields, header has {len(header)}")
    cols: dict[str, np.ndarray] = {}
    for j, name in enumerate(header):
        vals = []
        for i, r in enumerate(body, start=2):
            try:
                vals.append(float(r[j]))
            except ValueError:
                raise SpinsynFileError(f"{path}: line {i}, column {name!r}: {r[j]!r} is not a number") from None
        cols[name] = np.asarray(vals, dtype=np.float64)
    return cols


def read_csv(path: str | Path) -> FitData:
    """Read a CSV whose header names ``dt_ms`` (or dt_us/dt_s) and ``dw`` or ``delta_g_S`` (or _mS/_uS/_nS),
    optionally ``sigma`` (same unit as the value column) and ``trial`` (int). Rows sharing a Δt are trials."""
    path = Path(path)
    rows = _read_rows(path)
    header = [h.strip() for h in rows[0]]
    dt_col, y_col = _check_header(path, header)
    cols = _columns(path, header, rows[1:])
    dt = cols[dt_col] * DT_COLUMNS[dt_col]
    fac, unit, normalised = Y_COLUMNS[y_col]
    y = cols[y_col] * fac
    sigma = None
    if "sigma" in cols:
        sigma = cols["sigma"] * fac
        if not np.all(np.isfinite(sigma)) or np.any(sigma <= 0):
            raise SpinsynFileError(f"{path}: column 'sigma' must be finite and > 0 (same unit as {y_col!r})")
    if "trial" in cols:
        t = cols["trial"]
        if not np.all(np.isfinite(t)) or np.any(t != np.round(t)):
            raise SpinsynFileError(f"{path}: column 'trial' must hold integers")
    check_curve(path, dt, y)
    ux, mean, std, counts, sig, rdt, ry = _aggregate(path, dt, y, sigma)
    return FitData(ux, mean, std, counts, sig, unit, normalised, rdt, ry, str(path), sha256_file(path), "csv",
                   "Δw" if normalised else "ΔG (S)")


def read_sweep_file(path: str | Path) -> FitData:
    """Read a ``spinsyn-sweep`` v1 HDF5 (validated by ``spinsyn.devices.read_sweep``): ΔG = g_after_S −
    g_before_S over every trial, divided by (g_max_S − g_min_S) so y is the fraction of the device's
    conductance range (unit "1", amplitude free)."""
    from spinsyn.devices import read_sweep  # lazy: startup

    path = Path(path)
    r = read_sweep(path)
    dt = np.asarray(r.dt_ms, dtype=np.float64)
    gb, ga = np.asarray(r.g_before_S, dtype=np.float64), np.asarray(r.g_after_S, dtype=np.float64)
    g_min, g_max = float(r.g_min_S), float(r.g_max_S)
    dw = (ga - gb) / (g_max - g_min)  # (P, T)
    rdt = np.repeat(dt, dw.shape[1])
    ry = dw.reshape(-1)
    check_curve(path, rdt, ry)
    ux, mean, std, counts, _, rdt, ry = _aggregate(path, rdt, ry, None)
    return FitData(ux, mean, std, counts, None, "1", False, rdt, ry, str(path), sha256_file(path), "sweep",
                   "ΔG / (g_max − g_min)")


def read_input(path: str | Path) -> FitData:
    """Dispatch on the file's content: HDF5 signature -> sweep, otherwise CSV."""
    path = Path(path)
    if not path.is_file():
        raise SpinsynFileError(f"{path}: file not found")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head == b"\x89HDF\r\n\x1a\n":
        return read_sweep_file(path)
    if path.suffix.lower() in (".h5", ".hdf5", ".hdf"):
        what = "empty file (0 bytes)" if not head else "not an HDF5 file"
        raise SpinsynFileError(f"{path}: {what}; expected a spinsyn-sweep HDF5 written by 'spinsyn device sweep'")
    return read_csv(path)
