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

#: fewest network steps a rule's valid Δt range must span (a narrower window is a one- or two-entry table)
MIN_WINDOW_STEPS = 3


def check_window(where: str, window_ms: tuple[float, float], dt_ms: float, time_scale: float = 1.0) -> None:
    """Refuse a rule whose valid Δt range (``window_ms``, the data's range, × ``time_scale``) covers fewer than
    :data:`MIN_WINDOW_STEPS` of the network's Δt ≥ 0 steps ``k·dt_ms``: at the network step it would become a one-
    or two-entry table (a window measured in µs used at 1 ms). ValueError ``<where>: …`` suggesting
    ``--rule-time-scale``."""
    if not (time_scale > 0 and math.isfinite(time_scale)):
        raise ValueError(f"--rule-time-scale: expected a finite value > 0, got {time_scale!r}")
    lo, hi = max(float(window_ms[0]), 0.0) * time_scale, float(window_ms[1]) * time_scale
    n_steps = math.floor(hi / dt_ms + 1e-9) - math.ceil(lo / dt_ms - 1e-9) + 1 if hi >= lo else 0
    if n_steps >= MIN_WINDOW_STEPS:
        return
    span = f"{window_ms[0]:g}..{window_ms[1]:g} ms" + (f" × {time_scale:g}" if time_scale != 1.0 else "")
    hint = ""
    if hi > 0:
        x = 10.0 ** round(math.log10(60.0 * dt_ms / hi)) * time_scale
        hint = f"; if its Δt was measured in another unit, pass --rule-time-scale {x:g} (Δt × {x:g})"
    raise ValueError(f"{where}: the rule is valid on Δt {span}, which covers {max(n_steps, 0)} step(s) of the "
                     f"network's {dt_ms:g} ms time step (at least {MIN_WINDOW_STEPS} needed){hint}")


def switching_probabilities(path: str | Path, dt_ms: float = 1.0, time_scale: float = 1.0
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grid_ms (W+1,), p_up (W+1,), p_down (W+1,)) from a sweep file; raises SpinsynFileError/ValueError.
    ``time_scale`` (``--rule-time-scale``) multiplies the sweep's Δt axis; a sweep whose Δt range then covers fewer
    than 3 network steps is refused (:func:`check_window`)."""
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
    check_window(f"--rule {path}", (float(dt[0]), float(dt[-1])), dt_ms, time_scale)
    grid = np.arange(math.floor(dt[-1] * time_scale / dt_ms) + 1, dtype=np.float64) * dt_ms
    at = grid if time_scale == 1.0 else grid / time_scale  # the sweep's own Δt of each network step
    return grid, np.interp(at, dt, p_up), np.interp(at, dt, p_dn)
