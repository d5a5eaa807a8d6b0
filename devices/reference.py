"""Reference engine: vectorised numpy integration of the same equations as the ngspice netlists.

Stochastic switching is a hazard integral: H(t) = int rate(V(t), state) dt, never reset; the k-th switch
happens when H reaches Theta_k = sum_{i<=k} -ln(u_i) (a fresh threshold after each switch, i.e.
cycle-to-cycle), so state = s0 XOR parity(#{k: Theta_k <= H}). Steps are exact event-located (the rate is
held at its step-midpoint voltage, the crossing time is solved linearly), vectorised over all devices.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numba import njit, prange

from . import physics
from .physics import MTJParams, derive, dw_speed_formula, hazard_rate_per_s, state_rate_formula

if TYPE_CHECKING:
    from .models import DomainWallMTJ, PulseTestbench

K_THRESHOLDS = 4  # switches one device may make during one waveform


@dataclass(frozen=True)
class Draws:
    """Random draws for a (P, T) grid of instances with N MTJs each (shared by both engines).

    s0 (P,T,N) initial MTJ states (1=P); theta (P,T,N,K) cumulative hazard thresholds; z (P,T,N,4)
    standard normals for t_ox, t_fl, TMR0, area spreads; x0 (P,T) DW start; depin (P,T) DW I_dep scale;
    dw_edges (P,T,E) / dw_pin (P,T,E-1): the DW pinning landscape of each instance (``dw_landscape``; None
    for devices without one).
    """

    s0: np.ndarray
    theta: np.ndarray
    z: np.ndarray
    x0: np.ndarray
    depin: np.ndarray
    dw_edges: np.ndarray | None = None
    dw_pin: np.ndarray | None = None


def draw_base(n_dt: int, trials: int, n: int, seed: int) -> tuple[np.random.Generator, Draws]:
    """The draws every device makes first, from ``np.random.default_rng(seed)`` in a fixed order: s0, theta, z
    for ``max(n, 1)`` MTJs, then x0; depin = 1. Returns the generator (devices draw more from it) too."""
    rng = np.random.default_rng(seed)
    shape = (n_dt, trials, max(n, 1))
    s0 = (rng.random(shape) < 0.5).astype(np.int8)
    theta = np.cumsum(-np.log1p(-rng.random(shape + (K_THRESHOLDS,))), axis=-1)
    z = rng.standard_normal(shape + (4,))
    x0 = rng.random((n_dt, trials))
    return rng, Draws(s0, theta, z, x0, np.ones((n_dt, trials)))


def draw(model, n_dt: int, trials: int, seed: int) -> Draws:
    """All random numbers for a sweep from ``np.random.default_rng(seed)`` in a fixed order (``model.draw``)."""
    return model.draw(n_dt, trials, seed)


def device_params(mtj, z: np.ndarray) -> MTJParams:
    """Per-device derived parameters from standard normals z (..., 4)."""
    return derive(
        mtj,
        t_ox_nm=mtj.t_ox_nm * (1 + mtj.sigma_t_ox_pct / 100 * z[..., 0]),
        t_fl_nm=mtj.t_fl_nm * (1 + mtj.sigma_t_fl_pct / 100 * z[..., 1]),
        tmr0=mtj.tmr0 * (1 + mtj.sigma_tmr0_pct / 100 * z[..., 2]),
        area_scale=np.maximum(1 + mtj.sigma_area_pct / 100 * z[..., 3], 0.05),
    )


def time_grid_ms(tb: PulseTestbench, dt_ms: np.ndarray, n_ramp: int = 400, n_pulse: int = 40
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Step edges t (P, S+1) in ms for each Δt and the post voltage (P, S) during each step.

    Segments: [0, dt] ramp, post potentiation, post depression, then the rest of the ramp (+10 %).
    """
    dt = np.asarray(dt_ms, dtype=float)[:, None]
    t_end = max(tb.pre_ramp_ms * 1.02, float(np.max(dt)) + tb.post_us * 1e-3 * 1.5)
    u_r = np.linspace(0, 1, n_ramp + 1)[None, :]
    u_p = np.linspace(0, 1, n_pulse + 1)[None, 1:]
    t1 = dt + tb.post_pot_us * 1e-3
    t2 = t1 + tb.post_dep_us * 1e-3
    edges = np.concatenate([dt * u_r, dt + (t1 - dt) * u_p, t1 + (t2 - t1) * u_p,
                            t2 + (t_end - t2) * u_r[:, 1:]], axis=1)
    n = edges.shape[1] - 1
    vpost = np.zeros((dt.shape[0], n))
    vpost[:, n_ramp:n_ramp + n_pulse] = tb.post_pot_V
    vpost[:, n_ramp + n_pulse:n_ramp + 2 * n_pulse] = tb.post_dep_V
    return edges, vpost


def step_voltages(tb: PulseTestbench, dt_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step edges (P, S+1) in seconds and V_mtj (P, S) at each step's midpoint."""
    edges_ms, vpost = time_grid_ms(tb, dt_ms)
    tmid = 0.5 * (edges_ms[:, 1:] + edges_ms[:, :-1])
    return edges_ms * 1e-3, tb.v_pre_V(tmid) - vpost


def integrate_mtj_numpy(p: MTJParams, s0: np.ndarray, theta: np.ndarray, edges_s: np.ndarray,
                  v_mid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Event-located hazard integration. s0 (...,), theta (..., K), edges_s/v_mid broadcastable to
    (..., S+1)/(..., S) along the last axis. Returns (state, H, n_switches) at the end."""
    return integrate_hazard(lambda state, v: hazard_rate_per_s(p, state, v), s0, theta,
                            np.diff(edges_s, axis=-1), v_mid)


def integrate_hazard(rate_per_s: Callable[[np.ndarray, np.ndarray], np.ndarray], s0: np.ndarray, theta: np.ndarray,
                     widths_s: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Event-located integration of any cell's switching hazard ``rate_per_s(state, v)`` (1/s): s0 (...,) states,
    theta (..., K) exponential thresholds, widths_s (s) and v (V) broadcastable to (..., S) along the last axis.
    Returns (state, H, n_switches) at the end."""
    shape = s0.shape
    h = np.zeros(shape)
    nsw = np.zeros(shape, dtype=np.int64)
    k_max = theta.shape[-1]
    for j in range(widths_s.shape[-1]):
        rem = np.broadcast_to(widths_s[..., j], shape).copy()
        vj = np.broadcast_to(v[..., j], shape)
        for _ in range(k_max + 1):
            rate = rate_per_s((s0 + nsw) % 2, vj)
            nxt = np.take_along_axis(theta, np.minimum(nsw, k_max - 1)[..., None], -1)[..., 0]
            can = (nsw < k_max) & (rate > 0)
            t_hit = np.where(can, (nxt - h) / np.where(rate > 0, rate, 1.0), np.inf)
            hit = t_hit < rem
            h = np.where(hit, nxt, h + rate * rem)
            rem = np.where(hit, rem - t_hit, 0.0)
            nsw = nsw + hit
            if not hit.any():
                break
    return (s0 + nsw) % 2, h, nsw


@njit(cache=True, fastmath=False, nogil=True)
def _rate(s: int, v: float, r_p: float, tmr0: float, vh: float, ic0: float, delta: float, tau0: float,
          k_prec: float, beta: float, eps: float, brown: float, gate_p: float, gate_ap: float) -> float:
    """Scalar ``physics.hazard_rate_per_s`` for a fixed state (gates: NaN = no gate)."""
    if s == 0 and not np.isnan(gate_p) and not v > gate_p:
        return 0.0
    if s == 1 and not np.isnan(gate_ap) and not v < gate_ap:
        return 0.0
    return state_rate_formula(s, v, r_p, tmr0, vh, ic0, delta, tau0, k_prec, beta, eps, brown)


@njit(cache=True, parallel=True, nogil=True)
def _integrate_kernel(r_p, tmr0, ic0, delta, k_prec, vh, tau0, beta, eps, brown, gate_p, gate_ap, s0, theta, row,
                      widths, v_mid, h_out, nsw_out):
    """Flat devices d (D,): per-device params, s0 (D,), theta (D, K), row (D,) index into widths/v_mid (P, S)."""
    n_dev, k_max = theta.shape
    n_steps = widths.shape[1]
    for d in prange(n_dev):
        r = row[d]
        h = 0.0
        nsw = 0
        for j in range(n_steps):
            rem = widths[r, j]
            v = v_mid[r, j]
            for _ in range(k_max + 1):
                rate = _rate((s0[d] + nsw) % 2, v, r_p[d], tmr0[d], vh, ic0[d], delta[d], tau0, k_prec[d],
                             beta, eps, brown, gate_p, gate_ap)
                if rate > 0.0 and nsw < k_max:
                    t_hit = (theta[d, nsw] - h) / rate
                    if t_hit < rem:
                        h = theta[d, nsw]
                        rem -= t_hit
                        nsw += 1
                        continue
                h += rate * rem
                break
        h_out[d] = h
        nsw_out[d] = nsw


def _stamp_physics(*kernels) -> None:
    """numba keys a kernel's on-disk cache on the kernel's own source file; add ``physics.py`` (where the
    formulas the kernels inline live) so that editing a formula recompiles instead of loading stale code."""
    try:
        st = os.stat(physics.__file__)
        for k in kernels:
            cf = k._cache._cache_file
            cf._source_stamp = (cf._source_stamp, st.st_mtime, st.st_size)
    except (AttributeError, OSError):  # numba internals moved: the cache is then keyed on this file only
        pass


_stamp_physics(_rate, _integrate_kernel)


def integrate_mtj(p: MTJParams, s0: np.ndarray, theta: np.ndarray, edges_s: np.ndarray, v_mid: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compiled (numba, parallel over devices) form of :func:`integrate_mtj_numpy`, same arithmetic.

    s0 (P, T, N), theta (P, T, N, K); edges_s (P, S+1) and v_mid (P, S) per Δt row. Returns
    (state, H, n_switches), each (P, T, N).
    """
    shape = s0.shape
    n_rows = edges_s.shape[0]
    if shape[0] != n_rows:
        raise ValueError(f"s0 has {shape[0]} delay rows, the time grid {n_rows}")
    flat = int(np.prod(shape))
    full = np.broadcast_to

    def per_dev(a):
        return np.ascontiguousarray(full(np.asarray(a, dtype=float), shape).reshape(flat))

    row = np.repeat(np.arange(n_rows, dtype=np.int64), flat // n_rows)
    h: np.ndarray = np.empty(flat)
    nsw: np.ndarray = np.empty(flat, dtype=np.int64)
    nan = float("nan")
    _integrate_kernel(per_dev(p.r_p_ohm), per_dev(p.tmr0), per_dev(p.ic0_A), per_dev(p.delta),
                      per_dev(p.k_prec_per_A_s), float(p.vh_V), float(p.tau0_s), float(p.barrier_exponent),
                      float(p.transit_eps), float(p.brown),
                      nan if p.gate_to_p_V is None else float(p.gate_to_p_V),
                      nan if p.gate_to_ap_V is None else float(p.gate_to_ap_V),
                      np.ascontiguousarray(s0.reshape(flat), dtype=np.int64),
                      np.ascontiguousarray(theta.reshape(flat, theta.shape[-1]), dtype=float), row,
                      np.ascontiguousarray(np.diff(edges_s, axis=-1)), np.ascontiguousarray(v_mid, dtype=float),
                      h, nsw)
    h, nsw = h.reshape(shape), nsw.reshape(shape)
    return (s0 + nsw) % 2, h, nsw


def dw_speed(model: DomainWallMTJ, v, i_th_scale):
    """|dx/dt| (1/s) of the wall for V_mtj ``v`` (array or ``netlist.Expr``) where the local depinning current
    is ``i_th_scale`` x I_dep (creep below, flow above: ``physics.dw_speed_formula``)."""
    return dw_speed_formula(v, model.r_hm_ohm, model.i_depin_A * i_th_scale, model.v_depin_m_per_s,
                            model.v_coeff_m_per_s, model.creep_u_kt, model.creep_mu, model.length_nm * 1e-9)


def dw_velocity_per_s(model: DomainWallMTJ, v_V, i_th_scale) -> np.ndarray:
    """dx/dt (1/s) of the wall position for V_mtj across the device, local threshold i_th_scale x I_dep."""
    v = np.asarray(v_V, dtype=float)
    return np.sign(v) * dw_speed(model, v, np.asarray(i_th_scale, dtype=float))


def dw_landscape(model: DomainWallMTJ, rng: np.random.Generator, shape: tuple[int, ...]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Pinning landscapes (one per index of ``shape``) along the free layer, x in [0, 1].

    Sites: a hard-core Poisson process, gaps ``site_width_nm`` + Exp(``site_spacing_nm`` - width) (mean spacing
    = grain size), the first centre uniform in [0, spacing); each site pins over ``site_width_nm`` with threshold
    ratio f = max(1 + sigma_pin z, ``j_background_frac``) x J_dep; between sites the weak background threshold
    ``j_background_frac`` x J_dep. Returns (edges (..., 2M+2): 0, lo_0, hi_0, lo_1, ..., 1; pin (..., 2M+1):
    threshold ratio of each cell, background in even cells, site k in cell 2k+1). Sites past the end have zero
    width at x = 1. Draw order: gaps, offsets, strengths.
    """
    L, sp, w = model.length_nm, model.site_spacing_nm, model.site_width_nm
    n_mean = L / sp
    m = int(n_mean + 6 * np.sqrt(n_mean) + 8)
    gaps = w + rng.exponential(sp - w, shape + (m,))
    gaps[..., 0] = 0.0
    centre = (rng.random(shape + (1,)) * sp + np.cumsum(gaps, axis=-1)) / L
    f = np.maximum(1 + model.sigma_pin_pct / 100 * rng.standard_normal(shape + (m,)), model.j_background_frac)
    lo = np.clip(centre - 0.5 * w / L, 0.0, 1.0)
    hi = np.clip(centre + 0.5 * w / L, 0.0, 1.0)
    edges = np.concatenate([np.zeros(shape + (1,)), np.stack([lo, hi], -1).reshape(shape + (2 * m,)),
                            np.ones(shape + (1,))], axis=-1)
    pin = np.full(shape + (2 * m + 1,), model.j_background_frac)
    pin[..., 1::2] = f
    return edges, pin


def dw_site_centres(edges: np.ndarray) -> np.ndarray:
    """Site centres (..., M) of landscapes from ``dw_landscape`` (x = 1 for sites past the end)."""
    return 0.5 * (edges[..., 1:-1:2] + edges[..., 2:-1:2])


@njit(cache=True, nogil=True)
def _dw_step(x, c, v, rem, edges, pin, scale, r_hm, i_dep, v_dep, v_flow, u_kt, mu, length_m):
    """Wall (position x in cell c: edges[c] <= x <= edges[c+1]) after ``rem`` s at V_mtj = v: exact in the
    piecewise-constant landscape, cell boundary to cell boundary (event-located)."""
    n_cells = pin.shape[0]
    up = v > 0.0
    while rem > 0.0:
        target = edges[c + 1] if up else edges[c]
        if (up and x >= target) or (not up and x <= target):
            if up and c + 1 < n_cells:
                c += 1
            elif not up and c > 0:
                c -= 1
            else:
                break  # at an end of the strip
            continue
        spd = dw_speed_formula(v, r_hm, i_dep * pin[c] * scale, v_dep, v_flow, u_kt, mu, length_m)
        if spd <= 0.0:
            break
        t_hit = abs(target - x) / spd
        if t_hit >= rem:
            x = x + spd * rem if up else x - spd * rem
            break
        x = target
        rem -= t_hit
    return x, c


@njit(cache=True, parallel=True, nogil=True)
def _dw_kernel(x0, scale, lrow, edges, pin, row, widths, v_mid, r_hm, i_dep, v_dep, v_flow, u_kt, mu, length_m,
               x_out):
    """Flat walls d (D,): start x0, threshold scale, landscape row lrow into edges/pin, time row into
    widths/v_mid (R, S)."""
    n_cells = pin.shape[1]
    for d in prange(x0.shape[0]):
        lr, r = lrow[d], row[d]
        x = x0[d]
        c = 0
        while c < n_cells - 1 and x > edges[lr, c + 1]:
            c += 1
        for j in range(widths.shape[1]):
            v = v_mid[r, j]
            if v != 0.0 and widths[r, j] > 0.0:
                x, c = _dw_step(x, c, v, widths[r, j], edges[lr], pin[lr], scale[d], r_hm, i_dep, v_dep, v_flow,
                                u_kt, mu, length_m)
        x_out[d] = min(max(x, 0.0), 1.0)


_stamp_physics(_dw_step, _dw_kernel)


def integrate_dw_landscape(model: DomainWallMTJ, x0: np.ndarray, scale: np.ndarray, edges: np.ndarray,
                           pin: np.ndarray, widths_s: np.ndarray, v_mid: np.ndarray,
                           time_row: np.ndarray | None = None) -> np.ndarray:
    """Wall positions after piecewise-constant drives (numba, parallel over walls), before notch snapping.

    x0, scale (D,) start positions and threshold scales; edges (D or 1, E), pin (D or 1, E-1) landscapes;
    widths_s, v_mid (R, S) step widths (s) and V_mtj per step, row ``time_row[d]`` (default: row d, or 0 if
    R = 1) for wall d.
    """
    x0 = np.ascontiguousarray(np.asarray(x0, dtype=float).ravel())
    n = x0.size

    def rows(a):
        return np.arange(n, dtype=np.int64) if a.shape[0] == n else np.zeros(n, dtype=np.int64)

    out = np.empty(n)
    f = np.ascontiguousarray
    t_row = rows(widths_s) if time_row is None else f(time_row, dtype=np.int64)
    _dw_kernel(x0, f(np.broadcast_to(np.asarray(scale, dtype=float).ravel(), (n,))), rows(edges),
               f(edges, dtype=float), f(pin, dtype=float), t_row, f(widths_s, dtype=float),
               f(v_mid, dtype=float), float(model.r_hm_ohm), float(model.i_depin_A), float(model.v_depin_m_per_s),
               float(model.v_coeff_m_per_s), float(model.creep_u_kt), float(model.creep_mu),
               float(model.length_nm * 1e-9), out)
    return out


def snap_notches(model: DomainWallMTJ, x0: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Pin the wall at the last notch it passed (toward its start)."""
    if model.n_notches == 0:
        return x
    n = model.n_notches
    up = np.floor(x * n + 1e-9) / n
    dn = np.ceil(x * n - 1e-9) / n
    return np.where(x >= x0, up, dn)


def integrate_dw(model: DomainWallMTJ, x0: np.ndarray, depin: np.ndarray, edges_s: np.ndarray,
                 v_mid: np.ndarray, dw_edges: np.ndarray, dw_pin: np.ndarray) -> np.ndarray:
    """Wall positions (P, T) after the waveform: x0, depin (P, T); edges_s (P, S+1), v_mid (P, S) per Δt row;
    landscapes dw_edges (P, T, E), dw_pin (P, T, E-1). Clamped to [0, 1], then pinned at notches."""
    P, T = x0.shape
    x = integrate_dw_landscape(model, x0, depin, dw_edges.reshape(P * T, -1), dw_pin.reshape(P * T, -1),
                               np.diff(edges_s, axis=-1), v_mid, np.repeat(np.arange(P), T)).reshape(P, T)
    return snap_notches(model, x0, x)


def run_reference(model, tb: PulseTestbench, dt_ms: np.ndarray, d: Draws) -> dict[str, np.ndarray]:
    """Final states for every (Δt, trial): ``s1`` (P,T,N) MTJ states or ``x1`` (P,T) wall positions."""
    return model.run_reference(tb, dt_ms, d)


def pulse_arrays(state, v_V, width_ns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(state, V_mtj, width in s) broadcast to the state's shape."""
    state = np.asarray(state)
    v = np.broadcast_to(np.asarray(v_V, dtype=float), state.shape)
    w = np.broadcast_to(np.asarray(width_ns, dtype=float), state.shape) * 1e-9
    return state, v, w


def apply_pulse(model, state, v_V, width_ns, rng: np.random.Generator, params=None) -> np.ndarray:
    """One rectangular pulse of v_V (V_mtj) for width_ns on each device of a batch; returns new states.

    STT-MTJ: state 1/0, switches with p = 1 - exp(-rate * width); compound: binomial over the MTJs in the
    state the pulse can switch; dw-mtj: wall moves by the deterministic velocity with a drawn I_dep.
    """
    return model.apply_pulse(state, v_V, width_ns, rng, params)
