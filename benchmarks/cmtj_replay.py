"""Replay an exported chip's write-verify with cmtj (stochastic LLG) switching probabilities at its own pulses.

The chip's MTJ (``/meta/synapse_device``) is mapped onto cmtj (``bench_cmtj.cmtj_params``, ungated). At the chip's
write width, cmtj measures p_switch on a grid of I/Ic0 covering every amplitude the chip can apply (both
directions: AP -> P at V > 0 through R_AP(V), P -> AP at V < 0 through R_P), ``--trials`` trials per point.
``spinsyn export simulate``'s programming (the stored schedules with verify, then closed-loop write-verify up to
the cap, with the chip's own stored calibration as its controller would) then runs twice on the same seed: with
spinsyn's write physics and with a backend whose probabilities are cmtj's, interpolated linearly in I/Ic0
between grid points (a pulse that drives the wrong way, I <= 0, never switches). Printed: mean pulses per device
and failed cells of the chip's report, of the spinsyn replay and of the cmtj replay. Half-select disturb is not
replayed: its per-exposure probabilities (~1e-6) are below what a Monte-Carlo LLG run can resolve; the export
reports it from the analytic tail.

    .venv/bin/python benchmarks/bench_cmtj.py --replay CHIP_DIR --trials 2000 --jobs 2 --json-out replay.json
"""

from __future__ import annotations

import json
import math
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

I_STEP = 0.05
I_LOW = 0.3  # below this no chip pulse switches within 1e-4 at <= 100 ns (Delta >= 20): measured as 0


def current_grid(mtj, v_max_V: float) -> np.ndarray:
    """I/Ic0 from I_LOW to the largest current either direction reaches at v_max_V, every I_STEP."""
    from spinsyn.devices.physics import derive, r_ap_ohm

    p = derive(mtj)
    i_top = max(v_max_V / float(r_ap_ohm(p, v_max_V)), v_max_V / float(p.r_p_ohm)) / float(p.ic0_A)
    return np.round(np.arange(I_LOW, i_top + I_STEP, I_STEP), 6)


def measure(par: dict, width_ns: float, currents: np.ndarray, trials: int, seed: int, jobs: int) -> dict:
    """Counts switched by one pulse of ``width_ns`` per direction and current (cmtj)."""
    from bench_cmtj import _block, p_switched

    block = 100
    signs = {"AP->P": 1.0, "P->AP": -1.0}
    tasks = [(par, float(i), list(range(seed + 1_000_000 * d + 10_000 * k + b,
                                        seed + 1_000_000 * d + 10_000 * k + min(b + block, trials))),
              width_ns * 1e-9 * 1.001, sign)
             for d, sign in enumerate(signs.values()) for k, i in enumerate(currents) for b in range(0, trials, block)]
    runs: dict = {}
    t0 = time.perf_counter()
    with Pool(jobs) as pool:
        for key, intervals in pool.imap_unordered(_block, tasks):
            runs.setdefault(key, []).extend(intervals)
    counts = {name: [int(round(float(p_switched(runs[(float(i), s)], width_ns * 1e-9)[0]) * trials))
                     for i in currents] for name, s in signs.items()}
    return {"width_ns": width_ns, "currents": currents.tolist(), "trials": trials, "seed": seed, "counts": counts,
            "seconds": time.perf_counter() - t0}


class CmtjPhysics:
    """Pulse physics backend (``apply_pulse``, ``switch_probability``) from cmtj's measured p at one width."""

    def __init__(self, table: dict):
        self.width_ns = float(table["width_ns"])
        self.i = np.asarray(table["currents"], dtype=float)
        self.p = {k: np.asarray(v, dtype=float) / table["trials"] for k, v in table["counts"].items()}

    def _p(self, i_rel: np.ndarray, direction: str) -> np.ndarray:
        p = np.interp(i_rel, self.i, self.p[direction], left=0.0, right=float(self.p[direction][-1]))
        return np.where(i_rel > 0, p, 0.0)

    def probabilities(self, mtj, v_V, width_ns) -> tuple[np.ndarray, np.ndarray]:
        from spinsyn.devices.physics import derive, r_ap_ohm

        w = np.asarray(width_ns, dtype=float)
        if not np.allclose(w, self.width_ns):
            raise ValueError(f"cmtj table measured at {self.width_ns} ns, asked for {np.unique(w)} ns")
        p = derive(mtj)
        v = np.asarray(v_V, dtype=float)
        i_up = v / r_ap_ohm(p, v) / p.ic0_A
        i_dn = -v / p.r_p_ohm / p.ic0_A
        return self._p(i_up, "AP->P"), self._p(i_dn, "P->AP")

    def switch_probability(self, mtj, v_V, width_ns, to_parallel: bool) -> np.ndarray:
        up, dn = self.probabilities(mtj, v_V, width_ns)
        return up if to_parallel else dn

    def apply_pulse(self, model, state, v_V, width_ns, rng: np.random.Generator) -> np.ndarray:
        state = np.asarray(state)
        v = np.broadcast_to(np.asarray(v_V, dtype=float), state.shape)
        up, dn = self.probabilities(model.cell, v, np.full(state.shape, float(width_ns)))
        k = state.astype(np.int64)
        return k + rng.binomial(model.n_mtj - k, up) - rng.binomial(k, dn)


def _replay_stats(chip, backend, seed: int) -> dict:
    """``export simulate``'s programming (stored schedules with verify, then closed-loop write-verify up to the
    cap) with the chip's own stored calibration, on ``backend``'s physics (None: spinsyn's write physics)."""
    from spinsyn.hw_export.simulate import program_chip

    st = program_chip(chip, seed=seed, disturb=False, backend=backend, stored_calibration=True)["stats"]
    n = st["devices"]
    return {"pulses_per_device": (st["pulses_replayed"] + st["extra_pulses"]) / n, "failed": st["failed"],
            "failed_fraction": st["failed"] / n, "devices": n, "failed_by_level": st["failed_by_level"]}


def main_replay(args) -> int:
    from bench_cmtj import _cmtj_version, cmtj_params, ungated
    from spinsyn.hw_export.chipfile import load_chip
    from spinsyn.hw_export.simulate import chip_device

    chip = load_chip(Path(args.replay))
    dev = chip_device(chip)
    mtj = ungated(dev.model.mtj)
    wv = chip.meta["write_verify"]
    if args.cmtj_json:
        table = json.load(open(args.cmtj_json))["cmtj"]
    else:
        grid = current_grid(mtj, float(wv["v_max_V"]))
        print(f"cmtj: {grid.size} currents x 2 directions x {args.trials} trials at {wv['width_ns']:g} ns "
              f"(I/Ic0 {grid[0]:g}..{grid[-1]:g})", flush=True)
        table = measure(cmtj_params(mtj), float(wv["width_ns"]), grid, args.trials, args.seed, args.jobs)
        table["cmtj_version"] = _cmtj_version()
    s = chip.meta["summary"]
    rows = {"chip report (spinsyn, export)": {"pulses_per_device": s["pulses_per_device"]["mean"],
                                              "failed": s["failed"], "failed_fraction": s["failed_fraction"]},
            "replay, spinsyn write physics": _replay_stats(chip, None, 1),
            "replay, cmtj probabilities": _replay_stats(chip, CmtjPhysics(table), 1)}
    print(f"chip {args.replay}: {s['devices']} devices, write pulse {wv['width_ns']:g} ns <= {wv['v_max_V']:g} V; "
          f"cmtj {table.get('cmtj_version')} ({table['trials']} trials per point, {table['seconds']:.0f} s)")
    for name, r in rows.items():
        print(f"  {name:34s} pulses/device {r['pulses_per_device']:6.2f}   failed {r['failed']:6d} "
              f"({r['failed_fraction']:.2e})")
    ref = rows["chip report (spinsyn, export)"]["pulses_per_device"]
    cm = rows["replay, cmtj probabilities"]
    ok = cm["failed_fraction"] <= 1e-3 and abs(cm["pulses_per_device"] / ref - 1) <= 0.25
    print(f"criterion (cmtj replay: failed <= 1e-3, pulses within 25 % of the report): {'holds' if ok else 'FAILS'} "
          f"(pulses ratio {cm['pulses_per_device'] / ref:.3f})")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"chip": str(args.replay), "cmtj": table, "rows": rows, "criterion_holds": bool(ok)}, f,
                      indent=1)
        print(f"wrote {args.json_out}")
    return 0 if ok or math.isnan(ref) else 1
