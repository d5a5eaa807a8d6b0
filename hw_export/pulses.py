"""Write-pulse search (``spinsyn export --write-pulse auto``): pulse width and amplitude cap per device kind.

For every candidate (width w from :data:`WIDTHS_NS` of the device kind) x (amplitude cap v_max on the DAC grid,
:func:`amplitude_caps`), the write-verify of the export is run as a Monte-Carlo estimate on a sample of the
chip's own targets (up to ``n_sample`` used cells, drawn without replacement): :func:`program.calibrate` at
(w, v_max), then :func:`program.write_verify` from the global reset, through the device model's
``apply_pulse`` (the corrected switching physics; ISPP steps included). Per programmed synapse it measures

* energy E = Σ_pulses V² G_before w + Σ_pulses (V/k)² G_line w (half-selected cells: G_line = (R − 1 + C − 1)·Ḡ
  for V/2, (R·C − 1)·Ḡ for V/3, Ḡ the mean target conductance) + reads · v_read² Ḡ t_read, reads = 1 + pulses;
* time = pulses · (w + t_settle) + reads · t_read (one synapse after the other);
* write error rate = fraction of the sample still outside its band after ``max_pulses``; a pulse *writes* when
  the upper end of its Wilson 95 % interval (``error_upper``) is within the target (4,096 cells, drawn with
  replacement from a smaller chip: 0 failures are needed for 1e-3);
* disturb = expected fraction of cells disturbed by the half-select pulses applied after them: each pulse of
  amplitude V half-selects the (R − 1 + C − 1)/2 line neighbours programmed before it (row-major, on average)
  and disturbs one with probability 1 − (1 − p(V/k))^m, p = ``switch_probability(mtj, V/k, w)`` per MTJ,
  m = N − k̄ AP MTJs (set pulses) or k̄ P MTJs (reset pulses), k̄ the sample's mean target state; summed over
  the pulses per cell (V/2 scheme; V/3 counted the same); for domain-wall devices the expected drift in levels
  from the calibrated response at V/k.

The chosen pulse minimises E subject to ``error_upper`` ≤ ``error_target`` and disturb ≤ ``error_target``
(default 1e-3); ties prefer the shorter time. Caps are searched by bisection per width (see
:func:`search_write_pulse`). Without a feasible candidate the one that still programs correctly with the
least disturb (else the least write error) is chosen and marked infeasible; the export prints a warning.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from spinsyn.devices import KIND_COMPOUND, SynapseDevice

from .program import LevelTable, WriteVerifyConfig, calibrate, component_mtj, half_select_probability, write_verify
from .roundtrip import accuracy_ci

#: candidate widths (ns) per device kind: STT-MTJs switch in 1-100 ns; domain walls move ~1 um/us
WIDTHS_NS = {KIND_COMPOUND: (1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 50.0, 100.0),
             "other": (3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)}
DEFAULT_ERROR_TARGET = 1e-3
EXTRA_CAPS = 2  # caps above the smallest working one compared per width


@dataclass
class PulseChoice:
    """The chosen write pulse (``width_ns``, ``v_max_V``), its measured costs and the whole candidate table."""

    width_ns: float
    v_max_V: float
    energy_per_synapse_J: float
    time_per_synapse_s: float
    error_rate: float
    disturb: float
    n_sample: int
    table: list[dict[str, Any]]
    feasible: bool = True

    def record(self) -> dict[str, Any]:
        best = {k: v for k, v in dataclasses.asdict(self).items() if k != "table"}
        return {"method": "Monte-Carlo write-verify on a sample of the chip's targets per (width, amplitude cap); "
                          "minimum energy per synapse with write error rate and half-select disturb <= target",
                "chosen": best, "candidates": self.table}


def wilson_upper(k: int, n: int) -> float:
    """Upper end of the Wilson 95 % interval of a failure fraction k/n (``roundtrip.accuracy_ci``): a pulse
    "writes" when even this is within the target (0 failures in 4,096 gives 9.4e-4), so the chip's own failure
    rate meets it with confidence."""
    return float(accuracy_ci(k / n, n)[1]) if n > 0 else 1.0


def amplitude_caps(cfg: WriteVerifyConfig, step_V: float = 0.05) -> np.ndarray:
    """Amplitude caps: every ``step_V`` from 0.1 V to ``cfg.v_max_V`` (on the DAC grid), and ``v_max_V``."""
    q = cfg.v_resolution_V
    caps = np.round(np.arange(max(0.1, cfg.v_min_V + step_V), cfg.v_max_V, step_V) / q) * q
    return np.round(np.unique(np.append(caps[caps > cfg.v_min_V], cfg.v_max_V)), 6)


def _disturb(dev: SynapseDevice, cal: Any, wv: WriteVerifyConfig, levels: LevelTable, res: Any, n: int,
             tile: tuple[int, int], backend: Any) -> float:
    """Expected disturbed fraction (MTJ devices) or drift in levels (domain wall) per cell (see module doc)."""
    k = wv.half_select_divisor
    later = (tile[0] - 1 + tile[1] - 1) / 2.0
    up = res.polarity > 0
    vh = res.v_V / k
    mtj = component_mtj(dev)
    if mtj is None:
        drift = (cal.drift(vh[up], True).sum() - cal.drift(vh[~up], False).sum()) / n
        return float(abs(drift) * later / levels.n_max * (len(levels.g_S) - 1))
    k_bar = float(np.mean(res.state))  # the victims: cells at the sample's mean target state
    p_P = half_select_probability(mtj, vh[up], wv.width_ns, cal.set_sign, True, backend)
    p_AP = half_select_probability(mtj, vh[~up], wv.width_ns, cal.set_sign, False, backend)

    def victims(p: np.ndarray, m: float) -> float:  # expected victims disturbed per pulse, summed
        return float(-np.expm1(m * np.log1p(-np.minimum(p, 1 - 1e-15))).sum())

    # set pulses switch a victim's AP MTJs towards P, reset pulses its P MTJs towards AP
    return float(min(1.0, later * (victims(p_P, levels.n_max - k_bar) + victims(p_AP, k_bar)) / n))


def evaluate_pulse(dev: SynapseDevice, levels: LevelTable, wv: WriteVerifyConfig, target_level: np.ndarray,
                   tol_S: float, tile: tuple[int, int], seed: int = 0, backend: Any = None) -> dict[str, Any]:
    """Energy and time per synapse, write error rate and disturb of write-verify with ``wv`` on the targets
    ``target_level`` (levels of a sample of cells). Raises ValueError if the device cannot be programmed."""
    rng = np.random.default_rng([seed, 99])
    cal = calibrate(dev, levels, wv, rng, backend, half_select=False)  # disturb: at the pulses below (_disturb)
    n = target_level.size
    g_t = levels.g_S[target_level]
    state0 = np.full(n, levels.state[0], dtype=levels.state.dtype)
    res = write_verify(dev, levels, cal, wv, state0, levels.state[target_level], g_t - tol_S, g_t + tol_S, rng,
                       backend=backend)
    w_s = wv.width_ns * 1e-9
    g_bar = float(g_t.mean())
    g_line = (tile[0] - 1 + tile[1] - 1) * g_bar if wv.half_select == "V/2" else (tile[0] * tile[1] - 1) * g_bar
    pulses = res.v_V.size
    reads = n + pulses
    e = (float(np.sum(res.v_V**2 * res.g_before_S)) * w_s + float(np.sum((res.v_V / wv.half_select_divisor) ** 2))
         * g_line * w_s + reads * wv.v_read_V**2 * g_bar * wv.t_read_ns * 1e-9)
    t = (pulses * (wv.width_ns + wv.t_settle_ns) + reads * wv.t_read_ns) * 1e-9
    return {"width_ns": wv.width_ns, "v_max_V": wv.v_max_V, "energy_per_synapse_J": e / n,
            "time_per_synapse_s": t / n, "pulses_per_synapse": pulses / n, "error_rate": float(res.failed.mean()),
            "error_upper": wilson_upper(int(res.failed.sum()), n),
            "disturb": _disturb(dev, cal, wv, levels, res, n, tile, backend)}


def search_write_pulse(dev: SynapseDevice, levels: LevelTable, wv: WriteVerifyConfig, target_level: np.ndarray,
                       tol_S: float, tile: tuple[int, int], *, error_target: float = DEFAULT_ERROR_TARGET,
                       n_sample: int = 4096, seed: int = 0, backend: Any = None,
                       map_widths: Any = None) -> PulseChoice:
    """The minimum-energy (width, amplitude cap) meeting ``error_target`` (see the module docstring).

    Per width, the smallest cap whose write error rate meets the target is found by bisection over the caps
    (the error rate falls as the cap rises), then that cap and the next ``EXTRA_CAPS`` above it are compared;
    disturb and energy grow with the cap, so larger caps are not tried. Without a feasible candidate: the least
    disturb among those meeting the write-error target, else the least write error, with ``feasible`` False (the
    export warns). ``map_widths(widths, params)``: the per-width candidate lists in width order (each
    ``width_candidates(dev, params, backend, w)``), by default from two threads."""
    rng = np.random.default_rng([seed, 98])
    lv = np.asarray(target_level).ravel()
    # a chip with fewer used cells than n_sample programs its targets several times over (with replacement)
    sample = rng.choice(lv, size=n_sample, replace=lv.size < n_sample) if lv.size else lv
    widths = WIDTHS_NS[KIND_COMPOUND if dev.spec.kind == KIND_COMPOUND else "other"]
    fast = dataclasses.replace(wv, n_calibration=min(wv.n_calibration, 512))
    caps = amplitude_caps(wv)
    params = (levels, fast, caps, sample, tol_S, tile, seed, error_target)
    if map_widths is not None:  # e.g. the export's forked workers (they hold the device)
        per_width = list(map_widths(widths, params))
    else:  # widths are independent (each candidate draws from its own generator): two threads, table in order
        with ThreadPoolExecutor(2) as pool:
            per_width = list(pool.map(lambda w: width_candidates(dev, params, backend, w), widths))
    table = [r for rows in per_width for r in rows]
    if not table:
        raise ValueError(f"--write-pulse auto: no (width, amplitude) of {list(widths)} ns x caps up to "
                         f"{wv.v_max_V} V moves {dev.spec}; give --write-pulse WIDTH_NS or raise --v-max")
    ok = [r for r in table if r["feasible"]]
    writes = [r for r in table if r["error_upper"] <= error_target]
    if ok:
        best = min(ok, key=lambda r: (r["energy_per_synapse_J"], r["time_per_synapse_s"]))
    elif writes:  # programs correctly but disturbs its neighbours: the least disturb
        best = min(writes, key=lambda r: (r["disturb"], r["energy_per_synapse_J"]))
    else:
        best = min(table, key=lambda r: (r["error_rate"], r["disturb"]))
    return PulseChoice(best["width_ns"], best["v_max_V"], best["energy_per_synapse_J"], best["time_per_synapse_s"],
                       best["error_rate"], best["disturb"], int(sample.size), table, bool(ok))


def width_candidates(dev: SynapseDevice, params: tuple[Any, ...], backend: Any, w: float) -> list[dict[str, Any]]:
    """The candidates evaluated at width ``w`` (ns), in evaluation order: the smallest cap meeting the error target
    (bisection) and the next :data:`EXTRA_CAPS` caps above it. ``params`` = (levels, write-verify config, caps,
    sample, tol_S, tile, seed, error_target)."""
    levels, fast, caps, sample, tol_S, tile, seed, error_target = params
    rows: list[dict[str, Any]] = []
    done: dict[int, dict[str, Any] | None] = {}  # a candidate is a pure function of its cap (own generator)

    def at(i: int) -> dict[str, Any] | None:
        if i not in done:  # the caps above the bisection's answer are often among those it tried
            cfg = dataclasses.replace(fast, width_ns=w, v_max_V=float(caps[i]))
            try:
                r = evaluate_pulse(dev, levels, cfg, sample, tol_S, tile, seed, backend)
            except ValueError:  # this cap cannot move the device at this width
                r = None
            if r is not None:
                r["feasible"] = r["error_upper"] <= error_target and r["disturb"] <= error_target
            done[i] = r
        r = done[i]
        if r is None:
            return None
        rows.append(dict(r))  # the table lists every evaluation, a repeated one again
        return r

    i = _smallest_working_cap(at, caps.size, error_target)
    for j in range(i + 1, min(i + 1 + EXTRA_CAPS, caps.size)) if i is not None else ():
        at(j)
    return rows


def _smallest_working_cap(evaluate: Any, n_caps: int, error_target: float) -> int | None:
    """Index of the smallest cap whose write error rate is <= ``error_target`` (bisection; ``evaluate(i)``
    returns the candidate dict or None when the cap cannot move the device); the largest cap when none meets
    it but it moves the device; None when even the largest cannot."""
    top = evaluate(n_caps - 1)
    if top is None:
        return None
    if top["error_upper"] > error_target:
        return n_caps - 1
    lo, hi = -1, n_caps - 1  # invariant: hi meets the target, lo does not (or is below the grid)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        r = evaluate(mid)
        if r is not None and r["error_upper"] <= error_target:
            hi = mid
        else:
            lo = mid
    return hi
