"""Fit inputs: a device sweep HDF5 (``spinsyn-sweep`` v1) or a CSV with a unit-bearing header.

Both become a :class:`FitData`: per-Δt mean, spread and trial count, plus the raw trials for the plot.
Everything is validated here, once, with messages naming the file; inner code trusts a FitData.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from spinsyn.fileio import SpinsynFileError, sha256_file
from spinsyn.labfile import Column, LabTable, parse_unit, read_table

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
    notes: tuple[str, ...] = ()  # what the reader did (ignored columns, dropped rows, units), one line each
    device: dict | None = None  # a sweep's device: {"model": model record, "n_mtj", "g_min_S", "g_max_S"}

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


#: the columns of an STDP window (spinsyn.labfile): Δt, ΔG or normalised Δw, and optional G before, σ, trial
WINDOW_COLUMNS = (
    Column("dt_ms", "ms", ("dt", "delta_t", "Δt", "delay", "dt_ms")),
    Column("dw", "1", ("dw", "delta_w", "Δw"), required=False),
    Column("delta_g_S", "S", ("dG", "delta_g", "ΔG", "dg"), required=False),
    Column("g_before_S", "S", ("G_before", "G0", "g_initial", "G_pre"), required=False),
    Column("sigma", None, ("sigma", "σ", "err", "std"), required=False),
    Column("trial", "1", ("trial", "rep", "repeat"), required=False),
)


def _value_column(path: Path, t: LabTable) -> str:
    """``dw`` or ``delta_g_S``: exactly one, each with a unit in its header (``dw`` is dimensionless)."""
    ys = [n for n in ("dw", "delta_g_S") if n in t.columns]
    if len(ys) != 1:
        raise SpinsynFileError(f"{path}: need exactly one value column, 'dw' (normalised) or a conductance change "
                               f"such as 'dG (uS)' / delta_g_S, _mS, _uS or _nS; got {[t.headers[n] for n in ys]} "
                               "(map one with --columns delta_g_S=HEADER)")
    if ys[0] == "delta_g_S" and t.header_units["delta_g_S"] is None:
        raise SpinsynFileError(f"{path}: column {t.headers['delta_g_S']!r} has no unit; a conductance change must "
                               "carry its unit: delta_g_S, _mS, _uS or _nS, or 'dG (uS)', 'dG (%)'; 'dw' if normalised")
    return ys[0]


def _percent_to_S(path: Path, t: LabTable, y: np.ndarray, g_ref_S: float | None) -> tuple[np.ndarray, str]:
    """ΔG given in % -> S, relative to the G_before column row by row, else to ``g_ref_S``; refused without."""
    if "g_before_S" in t.columns and t.units.get("g_before_S") == "S":
        return y / 100.0 * t.columns["g_before_S"], f"dG in % of {t.headers['g_before_S']!r}, row by row"
    if g_ref_S is not None:
        return y / 100.0 * g_ref_S, f"dG in % of the device's G = {g_ref_S:g} S"
    raise SpinsynFileError(f"{path}: column {t.headers['delta_g_S']!r} is in % but there is no G_before / G0 column "
                           "(in S, mS or uS) and no device G to take it relative to")


def _sigma(path: Path, t: LabTable, y_col: str, y_factor: float) -> np.ndarray | None:
    """The optional ``sigma`` column (text as read) in the value column's unit; None when absent."""
    if "sigma" not in t.columns:
        return None
    try:
        raw = t.columns["sigma"].astype(np.float64)
    except ValueError:
        raise SpinsynFileError(f"{path}: column 'sigma' must hold numbers (same unit as {y_col!r})") from None
    unit = t.header_units["sigma"]
    got = parse_unit(unit) if unit else None
    factor = y_factor if got is None or got[0] != "S" else got[1]
    sigma = raw * factor
    if not np.all(np.isfinite(sigma)) or np.any(sigma <= 0):
        raise SpinsynFileError(f"{path}: column 'sigma' must be finite and > 0 (same unit as {y_col!r})")
    return sigma


def read_window(path: str | Path, *, mapping: Mapping[str, str] | None = None, strict_rows: bool = False,
                g_ref_S: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, str, bool,
                                                       tuple[str, ...]]:
    """An STDP window through :func:`spinsyn.labfile.read_table`: (Δt ms (R,), y (R,), σ (R,) or None, y unit,
    normalised, notes). Δt must carry its unit; ΔG in % is taken relative to a G_before/G0 column or ``g_ref_S``."""
    path = Path(path)
    t = read_table(path, WINDOW_COLUMNS, mapping=mapping, strict_rows=strict_rows, what="STDP window")
    if t.header_units["dt_ms"] is None:
        raise SpinsynFileError(f"{path}: column {t.headers['dt_ms']!r} has no unit; a time column must carry its "
                               "unit: dt_ms, dt_us or dt_s, or 'dt (ms)', 'dt (us)'")
    if t.units["dt_ms"] == "%":
        raise SpinsynFileError(f"{path}: column {t.headers['dt_ms']!r}: Δt cannot be a percentage")
    notes = list(t.notes)
    y_col = _value_column(path, t)
    y = t.columns[y_col]
    unit_text = t.header_units[y_col]
    parsed = parse_unit(unit_text) if unit_text else None
    y_factor = parsed[1] if parsed is not None and parsed[0] != "%" else 1.0
    if t.units[y_col] == "%":
        if y_col == "dw":
            y, why = y / 100.0, "dw in %, divided by 100"
        else:
            y, why = _percent_to_S(path, t, y, g_ref_S)
        y_factor = 0.01 if y_col == "dw" else 1.0
        notes.append(why)
    if "trial" in t.columns:
        tr = t.columns["trial"]
        if np.any(tr != np.round(tr)):
            raise SpinsynFileError(f"{path}: column 'trial' must hold integers")
    sigma = _sigma(path, t, y_col, y_factor)
    n_dt = np.unique(t.columns["dt_ms"]).size
    if n_dt < t.n_rows:
        notes.append(f"{t.n_rows} rows at {n_dt} Δt values: repeats averaged, their spread weights the fit")
    return t.columns["dt_ms"], y, sigma, ("1" if y_col == "dw" else "S"), y_col == "dw", tuple(notes)


def read_csv(path: str | Path, *, mapping: Mapping[str, str] | None = None, strict_rows: bool = False,
             g_ref_S: float | None = None) -> FitData:
    """Read an STDP window table (:func:`read_window`: ``dt_ms`` / ``dt (us)`` …, ``dw`` or ``delta_g_S`` /
    ``dG (uS)`` / ``dG (%)``, optionally ``G_before``, ``sigma``, ``trial``; extra columns ignored, blank / NaN rows
    dropped, both with a note in ``FitData.notes``). Rows sharing a Δt are trials."""
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise SpinsynFileError(f"{path}: empty CSV; expected a header such as 'dt_ms,dw'")
    try:
        dt, y, sigma, unit, normalised, notes = read_window(path, mapping=mapping, strict_rows=strict_rows,
                                                            g_ref_S=g_ref_S)
    except UnicodeDecodeError:  # pragma: no cover - the reader falls back to Windows-1252
        raise SpinsynFileError(f"{path}: not a UTF-8 text CSV file") from None
    try:
        check_curve(path, dt, y)
    except SpinsynFileError as exc:
        dropped = [n for n in notes if n.startswith("dropped")]
        raise SpinsynFileError(f"{exc}" + (f" (after {dropped[0]})" if dropped else "")) from None
    ux, mean, std, counts, sig, rdt, ry = _aggregate(path, dt, y, sigma)
    return FitData(ux, mean, std, counts, sig, unit, normalised, rdt, ry, str(path), sha256_file(path), "csv",
                   "Δw" if normalised else "ΔG (S)", notes=notes)


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
    device = {"model": r.model, "n_mtj": int(r.n_mtj), "g_min_S": g_min, "g_max_S": g_max}
    return FitData(ux, mean, std, counts, None, "1", False, rdt, ry, str(path), sha256_file(path), "sweep",
                   "ΔG / (g_max − g_min)", device=device)


def read_input(path: str | Path, *, mapping: Mapping[str, str] | None = None, strict_rows: bool = False,
               g_ref_S: float | None = None) -> FitData:
    """Dispatch on the file's content: HDF5 signature -> sweep, otherwise a CSV window (:func:`read_csv`, whose
    ``mapping``, ``strict_rows`` and ``g_ref_S`` apply to CSV only)."""
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
    return read_csv(path, mapping=mapping, strict_rows=strict_rows, g_ref_S=g_ref_S)
