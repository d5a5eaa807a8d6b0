"""Switching probabilities p_up(Δt), p_down(Δt) read directly from a device sweep ("spinsyn-sweep" HDF5).

A sweep (``spinsyn device sweep``) applies the pre/post pulse pair at each delay Δt to T Monte-Carlo synapses
of N MTJs and records, per instance, how many MTJs were in P before (``state_before``) and how many switched
AP→P (``switched_up``) and P→AP (``switched_down``). Pooled over the trials:

    p_up(Δt)   = Σ switched_up   / Σ (N − state_before)     (probability that one AP MTJ switches to P)
    p_down(Δt) = Σ switched_down / Σ state_before            (probability that one P MTJ switches to AP)

Both are interpolated linearly onto the SNN's time grid k·dt_ms, k = 0 .. floor(max Δt of the sweep / dt_ms),
and are zero beyond the sweep's largest Δt (the rule's window).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from spinsyn.devices import read_sweep
from spinsyn.fileio import SpinsynFileError


def switching_probabilities(path: str | Path, dt_ms: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grid_ms (W+1,), p_up (W+1,), p_down (W+1,)) from a sweep file; raises SpinsynFileError/ValueError."""
    if not (dt_ms > 0 and math.isfinite(dt_ms)):
        raise ValueError(f"dt_ms: expected a positive step, got {dt_ms!r}")
    r = read_sweep(path)
    n = int(r.n_mtj)
    if n < 1:
        raise SpinsynFileError(f"{path}: sweep of a {r.model.get('name', '?')!r} device has no MTJ counts (n_mtj=0); "
                               "p_switch needs an stt-mtj or compound sweep")
    if r.state_before is None:
        raise SpinsynFileError(
            f"{path}: the sweep has no per-MTJ states ('state_before' dataset, MTJs in P before the pulses), so the "
            "switching probabilities cannot be normalised (g_before_S alone is not reliable); write the sweep with "
            "`spinsyn device sweep` / spinsyn.devices.sweep + write_sweep, which always store state_before "
            "(write_sweep omits it only for a SweepResult built with state_before=None)")
    dt = np.asarray(r.dt_ms, dtype=np.float64)
    if dt.size < 2:
        raise SpinsynFileError(f"{path}: need at least 2 delays in dt_ms to interpolate p_switch, got {dt.size}")
    if not np.all(np.isfinite(dt)) or np.any(dt < 0):
        raise SpinsynFileError(f"{path}: dt_ms must hold finite delays >= 0 ms, got {dt.tolist()}")
    k_p = np.asarray(r.state_before, dtype=np.float64)
    up, down = np.asarray(r.switched_up, np.float64), np.asarray(r.switched_down, np.float64)
    if k_p.shape != up.shape:
        raise SpinsynFileError(f"{path}: state_before has shape {k_p.shape}, expected {up.shape}")
    n_ap, n_p = (n - k_p).sum(1), k_p.sum(1)
    p_up = np.divide(up.sum(1), n_ap, out=np.zeros(dt.size), where=n_ap > 0)
    p_dn = np.divide(down.sum(1), n_p, out=np.zeros(dt.size), where=n_p > 0)
    order = np.argsort(dt, kind="stable")
    dt, p_up, p_dn = dt[order], p_up[order], p_dn[order]
    if np.any(np.diff(dt) <= 0):
        raise SpinsynFileError(f"{path}: dt_ms holds repeated delays; expected distinct values")
    grid = np.arange(math.floor(dt[-1] / dt_ms) + 1, dtype=np.float64) * dt_ms
    return grid, np.interp(grid, dt, p_up), np.interp(grid, dt, p_dn)
