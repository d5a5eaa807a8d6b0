"""``switching="author"``: the switching process of the published author's Verilog-A model, emulated.

This reproduces a simulator's numerical behaviour, not physics. The published bi-sigmoid curve was simulated
with a modified Beihang STT-MTJ model (``wang_model.va``, salah-daddi-nounou/snn_simulator, last changed in
commit 4f69d31dbf168fd5f1ec5b2208c7d806e3c24933, later renamed ``src/mtj_model.va``) in Spectre with a fixed
100 ns step (``oceanScript.ocn``: step = maxstep = minstep = 100n). What that model does at every evaluation
of its analog block while the MTJ may switch:

* gates: AP -> P is evaluated only while V_mtj > ``gate_to_p_V`` (0.15 V), P -> AP only while
  V_mtj < ``gate_to_ap_V`` (-0.1 V); nothing happens outside the gates;
* cut: the evaluation is skipped unless the aiding current V/R(state, V) is below 0.8 Ic0 (``V < 0.8 Ic R``;
  its Sun branch above Ic0 is commented out, so above the cut the MTJ never switches);
* the time compared is ``t - t_open``, t_open = the last upward crossing of that gate (an ``@(above(...))``
  event), so it restarts whenever the gate re-opens;
* at every evaluation a FRESH exponential switching time with mean tau(V) (Beihang thermal,
  tau = tau0 exp(Delta (1 - I/Ic0))) is drawn and the MTJ switches if it is <= t - t_open.

With evaluations at t_open + n h (n = 1 ... N) the survival after N evaluations is prod_n exp(-n h / tau(V_n))
= exp(-h N (N + 1) / 2 / tau) at constant V, instead of the hazard integral exp(-N h / tau): the 69
evaluations of a 7 us pulse act like 242 us. Here the same process is written as a hazard threshold (the n-th
evaluation adds n h / tau(V_n) to the hazard H; the MTJ switches when H reaches its next threshold of
``Draws.theta``), which has exactly the distribution of the per-evaluation redraw and consumes the sweep's
draws like the physical reference engine. tau is ``physics.hazard_rate_per_s`` (the public rate; in the
published testbench's range, 0.39-0.68 Ic0, it is the Beihang beta = 1 rate).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from . import reference as ref
from .physics import MTJParams, hazard_rate_per_s, mtj_current_A

if TYPE_CHECKING:
    from .models import PulseTestbench

SWITCHING = ("physical", "author")
AUTHOR_STEP_S = 100e-9  # the published Spectre run's fixed time step
AUTHOR_CUT = 0.8  # evaluations only while the aiding current is below AUTHOR_CUT * Ic0
_CHUNK = 4096  # evaluations per vectorised block (long windows are summed block by block)


def check_switching(switching: str, model=None, engine: str = "reference") -> None:
    """Raise ``ValueError`` unless ``switching`` is known and, for ``"author"``, the model is gated STT-MTJ(s)
    and the engine is the reference engine."""
    if switching not in SWITCHING:
        raise ValueError(f"switching={switching!r}; expected one of {list(SWITCHING)}")
    if switching != "author":
        return
    if engine != "reference":
        raise ValueError("--switching author: the author's per-evaluation redraw is emulated by the reference "
                         "engine only; use --engine reference")
    if model is not None:
        gated_cell(model)


def gated_cell(model):
    """The STT-MTJ cell of ``model`` with both voltage gates set (what the author's model needs)."""
    cell = getattr(model, "cell", None)
    if cell is None or getattr(cell, "gate_to_p_V", None) is None or cell.gate_to_ap_V is None:
        raise ValueError(f"--switching author: needs a gated STT-MTJ device (presets 'stt-mtj', 'compound'); "
                         f"{type(model).__name__} has no voltage gates")
    if not cell.gate_to_ap_V < cell.gate_to_p_V:
        raise ValueError(f"--switching author: needs gate_to_ap_V < gate_to_p_V, got {cell.gate_to_ap_V} and "
                         f"{cell.gate_to_p_V}")
    return cell


def _v_post(tb: PulseTestbench, dt_s: float, t_s: np.ndarray) -> np.ndarray:
    t1 = dt_s + tb.post_pot_us * 1e-6
    t2 = t1 + tb.post_dep_us * 1e-6
    return np.where((t_s >= dt_s) & (t_s < t1), tb.post_pot_V, np.where((t_s >= t1) & (t_s < t2),
                                                                        tb.post_dep_V, 0.0))


def waveform_segments(tb: PulseTestbench, dt_ms: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """V_mtj(t) of one Δt as linear pieces: breakpoints b (B,) in s and the values v0, v1 (B-1,) at the two ends
    of each piece (V on [b_i, b_i+1) goes linearly from v0_i to v1_i; jumps sit on breakpoints). Same time
    span as ``reference.time_grid_ms``."""
    dt = float(dt_ms) * 1e-3
    t_end = max(tb.pre_ramp_ms * 1.02e-3, dt + tb.post_us * 1.5e-6)
    b = np.unique([0.0, dt, dt + tb.post_pot_us * 1e-6, dt + tb.post_us * 1e-6, tb.pre_ramp_ms * 1e-3, t_end])
    b = b[b <= t_end]
    a, c = b[:-1], b[1:]
    t1, t2 = a + (c - a) / 3, a + 2 * (c - a) / 3  # interior points: no convention at the jumps needed

    def v(t):
        return tb.v_pre_V(t * 1e3) - _v_post(tb, dt, t)

    f1, f2 = v(t1), v(t2)
    slope = (f2 - f1) / (t2 - t1)
    return b, f1 - slope * (t1 - a), f1 + slope * (c - t1)


def gate_windows(b: np.ndarray, v0: np.ndarray, v1: np.ndarray, gate: float, above: bool
                 ) -> list[tuple[float, float]]:
    """Open intervals [t_open, t_close) of the gate V > gate (``above``) or V < gate, pieces merged where the
    gate stays open across a breakpoint (no new crossing there, so the author's t_open is kept)."""
    sgn = 1.0 if above else -1.0
    out: list[tuple[float, float]] = []
    for a, c, x0, x1 in zip(b[:-1], b[1:], v0, v1):
        y0, y1 = sgn * (x0 - gate), sgn * (x1 - gate)  # open where y > 0
        if y0 <= 0 and y1 <= 0:
            continue
        if y0 > 0 and y1 > 0:
            lo, hi = a, c
        else:
            tc = a + (c - a) * y0 / (y0 - y1)
            lo, hi = (a, tc) if y0 > 0 else (tc, c)
        if out and out[-1][1] == a and lo == a:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((float(lo), float(hi)))
    return out


def evaluation_points(b: np.ndarray, v0: np.ndarray, v1: np.ndarray, lo: float, hi: float, step_s: float
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Evaluations at t = t_open + n h while the gate is open at t (t < t_close: the testbench's pulses hold
    on [start, end), so a 7 us window gets n = 1 ... 69) and V_mtj(t) there."""
    n = np.arange(1, int(np.ceil((hi - lo) / step_s - 1e-6)))
    t = lo + n * step_s
    i = np.clip(np.searchsorted(b, t, side="right") - 1, 0, v0.size - 1)
    return n, v0[i] + (v1[i] - v0[i]) * (t - b[i]) / (b[i + 1] - b[i])


def author_windows(tb: PulseTestbench, dt_ms: float, cell) -> list[tuple[float, int, np.ndarray, np.ndarray]]:
    """Every gate window of one Δt in time order: (t_open, state switched from (0 = AP, 1 = P), n, V_n)."""
    b, v0, v1 = waveform_segments(tb, dt_ms)
    found = [(lo, 0, hi) for lo, hi in gate_windows(b, v0, v1, cell.gate_to_p_V, True)]
    found += [(lo, 1, hi) for lo, hi in gate_windows(b, v0, v1, cell.gate_to_ap_V, False)]
    out = []
    for lo, s_from, hi in sorted(found):
        n, v = evaluation_points(b, v0, v1, lo, hi, AUTHOR_STEP_S)
        if n.size:
            out.append((lo, s_from, n, v))
    return out


def _row(p: MTJParams, r: int) -> MTJParams:
    """Parameters of delay row r, with a trailing axis for the evaluations."""
    f = {k.name: getattr(p, k.name) for k in dataclasses.fields(p)}
    return dataclasses.replace(p, **{k: np.asarray(v)[r][..., None] for k, v in f.items()
                                     if isinstance(v, np.ndarray) and v.ndim >= 3})


def window_hazard(p: MTJParams, s_from: int, n: np.ndarray, v: np.ndarray, step_s: float = AUTHOR_STEP_S
                  ) -> np.ndarray:
    """Author hazard of one window: sum_n n h rate(V_n) (-ln of the survival), evaluations with an aiding current
    >= AUTHOR_CUT Ic0 skipped. ``p`` arrays carry a trailing length-1 axis; returns their shape without it."""
    total = 0.0
    for k in range(0, n.size, _CHUNK):
        nn, vv = n[k:k + _CHUNK], v[k:k + _CHUNK]
        rate = hazard_rate_per_s(p, float(s_from), vv)
        i = mtj_current_A(p, float(s_from), vv)
        aid = i if s_from == 0 else -i
        total = total + (nn * step_s * np.where(aid < AUTHOR_CUT * p.ic0_A, rate, 0.0)).sum(-1)
    return np.asarray(total)


def integrate_author(p: MTJParams, s0: np.ndarray, theta: np.ndarray, windows_per_row: list
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Author process over devices s0 (P, T, N), thresholds theta (P, T, N, K), per-device params (P, T, N) and
    the windows of each delay row (``author_windows``). Returns (state, H, n_switches), each (P, T, N)."""
    s0 = s0.astype(np.int64)
    h = np.zeros(s0.shape)
    nsw = np.zeros(s0.shape, dtype=np.int64)
    k_max = theta.shape[-1]
    for r, windows in enumerate(windows_per_row):
        pr = _row(p, r)
        for _, s_from, n, v in windows:
            active = ((s0[r] + nsw[r]) % 2 == s_from) & (nsw[r] < k_max)
            if not active.any():
                continue
            inc = np.broadcast_to(window_hazard(pr, s_from, n, v), active.shape)
            nxt = np.take_along_axis(theta[r], np.minimum(nsw[r], k_max - 1)[..., None], -1)[..., 0]
            hit = active & (h[r] + inc >= nxt)
            h[r] = np.where(hit, nxt, np.where(active, h[r] + inc, h[r]))
            nsw[r] += hit
    return (s0 + nsw) % 2, h, nsw


def run_author(model, tb: PulseTestbench, dt_ms, d: ref.Draws) -> dict[str, np.ndarray]:
    """Final states of a sweep with the author's switching process (the ``run_reference`` dict)."""
    cell = gated_cell(model)
    dt = np.asarray(dt_ms, dtype=float).ravel()
    p = ref.device_params(cell, d.z)
    s1, h, nsw = integrate_author(p, d.s0, d.theta, [author_windows(tb, x, cell) for x in dt])
    return {"s1": s1.astype(np.int8), "h": h, "nsw": nsw}


def survival_formula(p: MTJParams, s_from: int, v_V, n_eval: int, step_s: float = AUTHOR_STEP_S) -> np.ndarray:
    """P(no switch) after ``n_eval`` author evaluations at constant V: exp(-h N (N + 1) / 2 rate(V))."""
    return np.exp(-step_s * n_eval * (n_eval + 1) / 2 * hazard_rate_per_s(p, float(s_from), v_V))
