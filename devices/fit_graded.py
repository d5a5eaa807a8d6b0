"""Fit a :class:`~spinsyn.devices.graded.GradedDevice` to measured conductance-vs-pulse data (LTP/LTD cycles).

Data: rows of (pulse number, G after that pulse, optional direction, cycle, device). Within a (device, cycle)
the rows sorted by pulse number form a potentiation segment then a depression segment: from the direction column
(``+1``/``-1``, ``LTP``/``LTD``, ``SET``/``RESET``, ``pot``/``dep``, ``up``/``down``) when there is one, else
split at the peak of G (G rising then falling; on the plateau around the peak, within 5 % of the range, at the
point nearest the middle of the cycle). Pulse k = 1..n of a segment is read after k pulses.

Model (devices/graded.py, NeuroSim's): the LTP segment starts at g_min,
G_k = g_min + Δ (1 − e^{−k/A_p})/(1 − e^{−P/A_p}); the LTD segment starts at g_max,
G_k = g_max − Δ (1 − e^{−k/A_d})/(1 − e^{−P/A_d}); Δ = g_max − g_min, P = the
(modal) number of pulses of a segment. The four parameters (g_min, g_max, A_p, A_d) are one least-squares fit over
every segment (``scipy.optimize.least_squares``, A fitted as log A). Spreads:

* cycle-to-cycle: from the residual of each step ΔG_k = G_k − G_{k−1} against the model's step from the measured
  G_{k−1}, with the white read noise separated by the residuals' lag-1 covariance (``_c2c_pct``), / Δ in percent;
* device-to-device: with several devices, each device is fitted alone and the relative spread (std/mean) of its
  A_p, A_d and Δ, averaged, in percent; with one device 0 and a note.

Intervals: 95 % percentile bootstrap over cycles (cycles resampled with replacement; a note when < 3 cycles).
Held-out error: leave-one-cycle-out (fit on the other cycles, RMS on the cycle left out), with ≥ 2 cycles.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.labfile import Column, LabTable

from .graded import GradedDevice, ltd_curve, ltp_curve, ltp_steps

#: The columns of a pulse-response file (``spinsyn.labfile.read_table``): canonical names and units.
PULSE_COLUMNS: tuple[Column, ...] = (
    Column("pulse", "1", ("pulse number", "pulse no", "pulse #", "n pulse", "n_pulse", "pulse index", "n", "#")),
    Column("g_S", "S", ("G", "conductance", "g")),
    Column("direction", None, ("polarity", "dir", "mode", "ltp/ltd", "set/reset"), required=False),
    Column("cycle", "1", ("cycle number", "cycle no", "cyc", "sweep"), required=False),
    Column("device", None, ("device id", "dev", "cell", "junction"), required=False),
)

_UP = {"+1", "1", "1.0", "+", "ltp", "set", "pot", "potentiation", "up", "p", "+1.0"}
_DOWN = {"-1", "-1.0", "-", "ltd", "reset", "dep", "depression", "down", "d"}


@dataclass(frozen=True)
class PulseData:
    """Plain arrays of a pulse-response data set: ``pulse`` (n,), ``g_S`` (n,) in S, ``direction`` (n,) +1 LTP /
    −1 LTD or None (detected), ``cycle`` (n,) ints, ``device`` (n,) str labels."""

    pulse: np.ndarray
    g_S: np.ndarray
    direction: np.ndarray | None
    cycle: np.ndarray
    device: np.ndarray


@dataclass(frozen=True)
class Segment:
    """One direction of one cycle: ``sign`` +1 LTP / −1 LTD, ``k`` (m,) pulses since its start (1..), ``g_S`` (m,),
    ``cycle`` key (device, cycle)."""

    sign: int
    k: np.ndarray
    g_S: np.ndarray
    cycle: tuple[str, int]


def _direction_codes(raw: np.ndarray) -> np.ndarray:
    """+1/−1 from a direction column (numbers or words). Raises ValueError naming an unknown value."""
    out = np.zeros(raw.size)
    for i, v in enumerate(raw):
        s = str(v).strip().lower()
        if s in _UP:
            out[i] = 1
        elif s in _DOWN:
            out[i] = -1
        else:
            try:
                out[i] = np.sign(float(s))
            except ValueError:
                raise ValueError(f"direction: unknown value {v!r}; expected +1/-1, LTP/LTD or SET/RESET") from None
    return out


def pulse_data(table: LabTable | PulseData | dict[str, Any]) -> PulseData:
    """:class:`PulseData` of a :class:`~spinsyn.labfile.LabTable` read with :data:`PULSE_COLUMNS` (or a dict of the
    same canonical names, or a PulseData)."""
    if isinstance(table, PulseData):
        return table
    cols = table.columns if isinstance(table, LabTable) else table
    g = np.asarray(cols["g_S"], dtype=float)
    n = g.size
    pulse = np.asarray(cols["pulse"], dtype=float) if cols.get("pulse") is not None else np.arange(n, dtype=float)
    d = cols.get("direction")
    cyc = cols.get("cycle")
    dev = cols.get("device")
    return PulseData(pulse, g, None if d is None else _direction_codes(np.asarray(d)),
                     np.zeros(n, int) if cyc is None else np.asarray(cyc).astype(float).astype(int),
                     np.full(n, "0") if dev is None else np.asarray(dev).astype(str))


def _split(g: np.ndarray, d: np.ndarray | None) -> np.ndarray:
    """+1/−1 per row of one cycle sorted by pulse: the direction column, else up to the peak of G (3-point mean)."""
    if d is not None:
        return d
    sm = np.convolve(g, np.ones(3) / 3, mode="same") if g.size >= 3 else g
    top = np.nonzero(sm >= sm.max() - 0.05 * (sm.max() - sm.min()))[0]  # the plateau at the peak
    peak = int(top[np.argmin(np.abs(top - (g.size / 2 - 1)))])  # on a plateau: the split nearest the middle
    return np.where(np.arange(g.size) <= peak, 1, -1)


def segments(data: PulseData) -> list[Segment]:
    """The LTP and LTD segments of every (device, cycle), in file order of first appearance."""
    out: list[Segment] = []
    keys = list(dict.fromkeys(zip(data.device.tolist(), data.cycle.tolist(), strict=True)))
    for dev, cyc in keys:
        m = (data.device == dev) & (data.cycle == cyc)
        order = np.argsort(data.pulse[m], kind="stable")
        g = data.g_S[m][order]
        sign = _split(g, None if data.direction is None else data.direction[m][order])
        for s in (1, -1):
            sel = sign == s
            if sel.sum() >= 2:
                out.append(Segment(s, np.arange(1, int(sel.sum()) + 1, dtype=float), g[sel], (str(dev), int(cyc))))
    if not any(s.sign == 1 for s in out) or not any(s.sign == -1 for s in out):
        raise ValueError("pulse data: need both a potentiation (G rising) and a depression (G falling) segment "
                         "of >= 2 pulses")
    return out


def _model(theta: np.ndarray, seg: Segment, P: int) -> np.ndarray:
    g0, g1, la_p, la_d = theta
    if seg.sign > 0:
        return g0 + (g1 - g0) * ltp_curve(seg.k, np.exp(la_p), P)
    return g0 + (g1 - g0) * ltd_curve(seg.k, np.exp(la_d), P)


def _fit(segs: list[Segment], P: int, start: np.ndarray | None = None) -> np.ndarray:
    """Least-squares (g_min, g_max, log A_p, log A_d) over ``segs``; from ``start`` (such a vector) when given,
    else the best of three starts."""
    from scipy.optimize import least_squares  # lazy: startup

    g_all = np.concatenate([s.g_S for s in segs])
    lo, hi = float(np.percentile(g_all, 2)), float(np.percentile(g_all, 98))
    scale = max(hi - lo, 1e-30)

    def resid(t: np.ndarray) -> np.ndarray:
        th = np.array([t[0] * scale, t[1] * scale, t[2], t[3]])
        return np.concatenate([(_model(th, s, P) - s.g_S) / scale for s in segs])

    best = None
    starts = [np.array([lo / scale, hi / scale, np.log(a0 * P), np.log(a0 * P)]) for a0 in (0.2, 1.0, 5.0)]
    if start is not None:  # strongly nonlinear to nearly linear (A/P) above; else the given one
        starts = [np.array([start[0] / scale, start[1] / scale, start[2], start[3]])]
    for x0 in starts:
        r = least_squares(resid, x0, bounds=([-np.inf, -np.inf, np.log(0.01), np.log(0.01)],
                                             [np.inf, np.inf, np.log(1e6 * P), np.log(1e6 * P)]))
        if best is None or r.cost < best.cost:
            best = r
    assert best is not None
    t = best.x
    return np.array([t[0] * scale, t[1] * scale, t[2], t[3]])


def _rms(theta: np.ndarray, segs: list[Segment], P: int) -> float:
    return float(np.sqrt(np.mean(np.concatenate([(_model(theta, s, P) - s.g_S) ** 2 for s in segs]))))


def _c2c_pct(theta: np.ndarray, segs: list[Segment], P: int) -> tuple[float, float]:
    """(cycle-to-cycle σ per pulse, read-noise σ), both % of the range, from the step residuals d_k (observed ΔG
    minus the model's step from the measured G_{k−1}). A per-pulse (cumulative) noise c_k and a white read noise
    r_k give d_k = c_k + r_k − r_{k−1}: Var d = σ_c² + 2 σ_r² and Cov(d_k, d_{k+1}) = −σ_r², so
    σ_c² = Var d + 2 Cov₁ and σ_r² = −Cov₁ (each floored at 0). Without the split the read noise of a long,
    finely stepped segment (1000 pulses of 0.1 % each) would count as c2c noise and compound as σ√n."""
    g0, g1, la_p, la_d = theta
    span = g1 - g0
    res, pairs = [], []
    for s in segs:
        x_prev = (s.g_S[:-1] - g0) / span
        if s.sign > 0:
            pred = ltp_steps(x_prev, 1.0, np.exp(la_p), P)
        else:
            pred = 1.0 - ltp_steps(1.0 - x_prev, 1.0, np.exp(la_d), P)
        ok = (x_prev > 0.02) & (x_prev < 0.98)  # away from the clipped bounds
        d = (s.g_S[1:] - s.g_S[:-1]) / span - (pred - x_prev)
        res.append(d[ok])
        both = ok[:-1] & ok[1:]
        pairs.append(np.stack([d[:-1][both], d[1:][both]]))
    r = np.concatenate(res) if res else np.zeros(0)
    if r.size <= 2:
        return 0.0, 0.0
    m = float(r.mean())
    var = float(np.var(r, ddof=1))
    pr = np.concatenate(pairs, axis=1)
    cov1 = float(np.mean((pr[0] - m) * (pr[1] - m))) if pr.shape[1] > 2 else 0.0
    return float(np.sqrt(max(var + 2 * cov1, 0.0)) * 100), float(np.sqrt(max(-cov1, 0.0)) * 100)


def _to_device(theta: np.ndarray, P: int, c2c: float, d2d: float, base: GradedDevice | None) -> GradedDevice:
    g0, g1, la_p, la_d = theta
    dev = base or GradedDevice()
    return replace(dev, g_min_S=float(g0), g_max_S=float(g1), n_pulses=int(P), a_ltp_pulses=float(np.exp(la_p)),
                   a_ltd_pulses=float(np.exp(la_d)), sigma_c2c_pct=float(min(c2c, 49.0)),
                   sigma_d2d_pct=float(min(d2d, 49.0)))


def _bootstrap(segs: list[Segment], P: int, n_boot: int, rng: np.random.Generator, start: np.ndarray
               ) -> np.ndarray:
    """(n_boot, 4) parameter vectors (g_min, g_max, A_p, A_d) of fits to cycles resampled with replacement."""
    keys = sorted({s.cycle for s in segs})
    out = []
    for _ in range(n_boot):
        pick = rng.choice(len(keys), size=len(keys), replace=True)
        sample = [s for i in pick for s in segs if s.cycle == keys[i]]
        if not any(s.sign > 0 for s in sample) or not any(s.sign < 0 for s in sample):
            continue
        th = _fit(sample, P, start)
        out.append([th[0], th[1], np.exp(th[2]), np.exp(th[3])])
    return np.asarray(out).reshape(-1, 4)


def _heldout(segs: list[Segment], P: int, start: np.ndarray) -> float | None:
    """Leave-one-cycle-out RMS (S) over all cycles; None with fewer than 2 cycles."""
    keys = sorted({s.cycle for s in segs})
    if len(keys) < 2:
        return None
    sq: list[np.ndarray] = []
    for k in keys:
        train = [s for s in segs if s.cycle != k]
        test = [s for s in segs if s.cycle == k]
        if not any(s.sign > 0 for s in train) or not any(s.sign < 0 for s in train):
            continue
        th = _fit(train, P, start)
        sq += [(_model(th, s, P) - s.g_S) ** 2 for s in test]
    return float(np.sqrt(np.mean(np.concatenate(sq)))) if sq else None


def _d2d(segs: list[Segment], P: int) -> tuple[float, list[str]]:
    devices = sorted({s.cycle[0] for s in segs})
    if len(devices) < 2:
        return 0.0, ["device-to-device spread: one device in the data, set to 0"]
    per = []
    for d in devices:
        sub = [s for s in segs if s.cycle[0] == d]
        if any(s.sign > 0 for s in sub) and any(s.sign < 0 for s in sub):
            th = _fit(sub, P)
            per.append([np.exp(th[2]), np.exp(th[3]), th[1] - th[0]])
    if len(per) < 2:
        return 0.0, ["device-to-device spread: fewer than 2 devices with both directions, set to 0"]
    a = np.asarray(per)
    rel = a.std(axis=0, ddof=1) / np.abs(a.mean(axis=0))
    return float(rel.mean() * 100), [f"device-to-device spread from {len(per)} devices: relative std of A_LTP, "
                                     f"A_LTD, range = {', '.join(f'{100 * r:.3g} %' for r in rel)} (mean used)"]


def fit_pulse_response(table: LabTable | PulseData | dict[str, Any], *, n_boot: int = 100, seed: int = 0,
                       base: GradedDevice | None = None) -> tuple[GradedDevice, dict[str, Any]]:
    """Fit the graded-device step model to conductance-vs-pulse data (module docstring).

    ``table``: a LabTable read with :data:`PULSE_COLUMNS` (G in S), a dict of those canonical names, or PulseData;
    ``n_boot``: bootstrap fits for the 95 % intervals (0 = none); ``base``: the device whose other fields (write
    pulse, threshold) the result keeps (default the ``graded`` preset's). Returns (device, report) with report keys
    ``parameters`` (name -> {value, unit, ci95}), ``rms_S``, ``heldout_rms_S``, ``n_rows``, ``n_cycles``,
    ``n_devices``, ``n_pulses``, ``notes``. Raises ValueError when the data hold no LTP or no LTD segment."""
    data = pulse_data(table)
    segs = segments(data)
    P = int(np.bincount([s.k.size for s in segs]).argmax())
    notes = [] if isinstance(table, (PulseData, dict)) else list(table.notes)
    notes.append("direction: from the direction column" if data.direction is not None
                 else "direction: detected per cycle (G rising to its peak = LTP, then LTD)")
    theta = _fit(segs, P)
    c2c, read_pct = _c2c_pct(theta, segs, P)
    d2d, d2d_notes = _d2d(segs, P)
    notes += d2d_notes
    notes.append(f"c2c spread {c2c:.3g} % per pulse after separating a white read noise of {read_pct:.3g} % of the "
                 "range (lag-1 covariance of the step residuals)")
    dev = _to_device(theta, P, c2c, d2d, base)
    n_cyc = len({s.cycle for s in segs})
    boot = _bootstrap(segs, P, n_boot, np.random.default_rng(seed), theta) if n_boot and n_cyc >= 2 \
        else np.zeros((0, 4))
    if n_cyc < 3:
        notes.append(f"only {n_cyc} cycle(s): " + ("no interval (a bootstrap over one cycle resamples the same "
                                                  "cycle)" if n_cyc < 2 else "the bootstrap intervals are rough"))
    ci = {}
    for j, name in enumerate(("g_min_S", "g_max_S", "a_ltp_pulses", "a_ltd_pulses")):
        ci[name] = [float(np.percentile(boot[:, j], 2.5)), float(np.percentile(boot[:, j], 97.5))] \
            if boot.shape[0] >= 10 else None
    units = {"g_min_S": "S", "g_max_S": "S", "a_ltp_pulses": "pulses", "a_ltd_pulses": "pulses",
             "n_pulses": "pulses", "sigma_c2c_pct": "% of range per pulse", "sigma_d2d_pct": "%"}
    method = {"g_min_S": "least squares", "g_max_S": "least squares", "a_ltp_pulses": "least squares",
              "a_ltd_pulses": "least squares", "n_pulses": "pulses per segment (mode)",
              "sigma_c2c_pct": "step residuals, read noise separated", "sigma_d2d_pct": "per-device fits"}
    params = {k: {"value": float(getattr(dev, k)), "unit": u, "ci95": ci.get(k),
                  "method": method[k] + (", 95 % bootstrap over cycles" if ci.get(k) else "")}
              for k, u in units.items()}
    heldout = _heldout(segs, P, theta)
    if heldout is None:
        notes.append("held-out error: one cycle only, not computed")
    report = {"parameters": params, "rms_S": _rms(theta, segs, P), "heldout_rms_S": heldout,
              "n_rows": int(data.g_S.size), "n_cycles": n_cyc, "n_devices": len({s.cycle[0] for s in segs}),
              "n_pulses": P, "notes": notes}
    return dev, report


def plot_pulse_fit(table: LabTable | PulseData | dict[str, Any], device: GradedDevice, path: str) -> None:
    """Plot the data (G in µS against the pulse index of each cycle, LTP then LTD) and the fitted curves to
    ``path`` (PNG/PDF by suffix)."""
    import matplotlib  # lazy: optional

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: optional

    segs = segments(pulse_data(table))
    P = device.n_pulses
    fig, ax = plt.subplots(figsize=(6, 4))
    for s in segs:
        off = 0 if s.sign > 0 else P
        ax.plot(s.k + off, s.g_S * 1e6, ".", ms=3, color="C0" if s.sign > 0 else "C1", alpha=0.5)
    k = np.arange(0, P + 1, dtype=float)
    span = device.g_max_S - device.g_min_S
    ax.plot(k, (device.g_min_S + span * ltp_curve(k, device.a_ltp_pulses, P)) * 1e6, "k-", label="fit LTP")
    ax.plot(k + P, (device.g_min_S + span * ltd_curve(k, device.a_ltd_pulses, P)) * 1e6, "k--", label="fit LTD")
    ax.set_xlabel("pulse (LTP 1..P, then LTD)")
    ax.set_ylabel("G (µS)")
    ax.set_title(f"graded fit: A_LTP {device.a_ltp_pulses:.3g}, A_LTD {device.a_ltd_pulses:.3g} pulses")
    ax.legend()
    fig.tight_layout()
    from spinsyn.fileio import atomic_path  # lazy: optional
    from spinsyn.validation import figure_save_kwargs  # lazy: optional

    suffix = Path(path).suffix or ".png"
    with atomic_path(Path(path)) as tmp:  # marked as spinsyn's figure: a rerun may replace it
        fig.savefig(tmp, format=suffix.lstrip("."), **figure_save_kwargs(suffix))
    plt.close(fig)
