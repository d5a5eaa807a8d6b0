"""Independent cross-check of the STT-MTJ switching times with cmtj (C++ macrospin stochastic LLG).

For one preset: median switching time t50 of AP -> P at constant current I = i·Ic0 from cmtj (Heun solver,
1 ps step, thermal field at the preset's temperature) against spinsyn's t50 = ln2 / rate from
``physics.hazard_rate_per_s`` (ungated, the current reached by solving V / R_AP(V) = I). ``--fit`` fits tau0
and transit_eps of spinsyn's switching time (barrier exponent fixed) by least squares on log t50.

Mapping of an ``STTMTJ`` onto one cmtj STT layer: Ms in T = mu0·Ms, thickness t_fl, surface pi r², uniaxial
perpendicular anisotropy K = mu0·Ms·Hk/2 (demagnetising tensor zero: Hk is the effective field), damping
alpha, Slonczewski lambda = 1, spin polarisation eta = P/(1+P²) (so the 0 K critical current of the macrospin
is spinsyn's Ic0), reference layer +z, current density I/area (positive drives AP (mz=-1) -> P (mz=+1)).

Per trial: 5 ns at zero current in the AP well (thermalise), then the current is switched on until mz reaches
+0.8 (committed). mz = 0 is the zero-bias separatrix, so a pulse of width w followed by relaxation ends in P
iff mz(w) > 0: P_switch(w) is the fraction of trials with mz(w) > 0 (one run per trial gives the whole curve)
and t50 the shortest w with P_switch >= 0.5 (``--check-pulse`` runs explicit pulses of width t50 followed by
3 ns at zero current, the procedure of ../shared/PEERS.md; they switch ~50 %).
Thermal equilibrium is checked first at zero current: <mx²> = kT/(2 K V) per in-plane component.

    .venv/bin/pip install cmtj==1.15.0
    .venv/bin/python benchmarks/bench_cmtj.py --preset stt-mtj-macrospin --trials 200 --jobs 2 --fit
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from multiprocessing import Pool

import numpy as np

CURRENTS = (0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0, 3.0)
DT_S = 1e-12
LOG_S = 1e-11
THERMALISE_S = 5e-9
RELAX_S = 3e-9
COMMIT_MZ = 0.8
BLOCK = 25  # trials per worker task


def ungated(mtj):
    """The preset's MTJ without the author's voltage gates (a compound preset gives its MTJ)."""
    cell = getattr(mtj, "cell", mtj)
    return dataclasses.replace(cell, gate_to_p_V=None, gate_to_ap_V=None)


def cmtj_params(mtj) -> dict:
    """The cmtj layer parameters of an STTMTJ (see the module docstring)."""
    from spinsyn.devices.physics import KB_J_PER_K, MU0, OE_TO_A_PER_M, derive

    p = derive(mtj)
    area = math.pi * (mtj.radius_nm * 1e-9) ** 2
    mu0ms = MU0 * mtj.ms_A_per_m
    k = mu0ms * mtj.hk_Oe * OE_TO_A_PER_M / 2
    vol = area * mtj.t_fl_nm * 1e-9
    pol = mtj.polarisation
    return {"area_m2": area, "thickness_m": mtj.t_fl_nm * 1e-9, "ms_T": mu0ms, "k_J_per_m3": k,
            "alpha": mtj.alpha, "eta": pol / (1 + pol * pol), "temperature_K": mtj.temperature_K,
            "ic0_A": float(p.ic0_A), "delta": float(p.delta),
            "mx2_expected": KB_J_PER_K * mtj.temperature_K / (2 * k * vol)}


def _junction(par: dict, seed: int, mz0: float = -1.0):
    import cmtj

    zero = cmtj.CVector(0.0, 0.0, 0.0)
    layer = cmtj.Layer.createSTTLayer("free", cmtj.CVector(0.01, 0.0, mz0), cmtj.CVector(0.0, 0.0, 1.0),
                                      par["ms_T"], par["thickness_m"], par["area_m2"], [zero, zero, zero],
                                      damping=par["alpha"], SlonczewskiSpacerLayerParameter=1.0, beta=0.0,
                                      spinPolarisation=par["eta"])
    layer.setReferenceLayer(cmtj.CVector(0.0, 0.0, 1.0))
    j = cmtj.Junction([layer])
    j.setLayerAnisotropyDriver("free", cmtj.constantDriver(par["k_J_per_m3"]))
    j.setLayerTemperatureDriver("free", cmtj.constantDriver(par["temperature_K"]))
    j.setLayerCurrentDriver("free", cmtj.constantDriver(0.0))
    j.setLayerSeed("free", int(seed))
    return j


def _run(j, seconds: float) -> dict:
    import cmtj

    j.clearLog()
    j.runSimulation(seconds, DT_S, LOG_S, False, False, cmtj.SolverMode.Heun)
    return j.getLog()


def equilibrium(par: dict, seed: int = 1, seconds: float = 400e-9, runs: int = 4) -> float:
    """Measured <mx²> (mean of the two in-plane components) at zero current, after 5 ns."""
    vals = []
    for r in range(runs):
        log = _run(_junction(par, seed + r, 1.0), seconds)
        skip = int(THERMALISE_S / LOG_S)
        mx, my = np.asarray(log["free_mx"])[skip:], np.asarray(log["free_my"])[skip:]
        vals.append(0.5 * float(np.mean(mx * mx + my * my)))
    return float(np.mean(vals))


def _crossings(prev: float, mz: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Times of the upward and downward crossings of mz = 0 in a logged chunk (prev: mz before it)."""
    seq = np.concatenate([[prev], mz])
    return t[np.nonzero((seq[:-1] <= 0) & (seq[1:] > 0))[0]], t[np.nonzero((seq[:-1] > 0) & (seq[1:] <= 0))[0]]


def _p_side_intervals(j, current_density: float, t_max: float, sign: float = 1.0) -> list[list[float]]:
    """Run at constant current until sign·mz reaches COMMIT_MZ (or t_max); the intervals [t_up, t_down) (s) during
    which sign·mz > 0, the last one open (inf) once committed: a pulse ending at w leaves the magnet switched iff
    w lies in one of them (mz = 0 is the zero-bias separatrix). ``sign`` +1: AP (mz = -1) -> P with positive
    current; -1: P (mz = +1) -> AP with negative current (the mirror image)."""
    import cmtj

    j.setLayerCurrentDriver("free", cmtj.constantDriver(sign * current_density))
    chunk = min(max(t_max / 50, 2e-9), 100e-9)
    t_off, prev = 0.0, -1.0
    ups: list[float] = []
    downs: list[float] = []
    while t_off < t_max:
        log = _run(j, chunk)
        mz = sign * np.asarray(log["free_mz"])
        t = t_off + np.asarray(log["time"])
        done = np.nonzero(mz > COMMIT_MZ)[0]
        if done.size:
            mz, t = mz[:done[0] + 1], t[:done[0] + 1]
        up, down = _crossings(prev, mz, t)
        ups += up.tolist()
        downs += down.tolist()
        prev, t_off = float(mz[-1]), t_off + chunk
        if done.size:
            break
    downs += [math.inf] * (len(ups) - len(downs))
    return [[a, b] for a, b in zip(ups, downs)]


def _block(task: tuple) -> tuple[float, list]:
    par, i_rel, seeds, t_max = task[:4]
    sign = task[4] if len(task) > 4 else 1.0
    out = []
    for seed in seeds:
        j = _junction(par, seed, -sign)
        _run(j, THERMALISE_S)
        out.append(_p_side_intervals(j, i_rel * par["ic0_A"] / par["area_m2"], t_max, sign))
    return (i_rel, sign) if len(task) > 4 else i_rel, out


def t_max_s(par: dict, i_rel: float) -> float:
    """Longest pulse simulated: 40 ns x exp(Delta (1 - i)²) (far above the macrospin median)."""
    return 40e-9 * math.exp(par["delta"] * max(1 - i_rel, 0.0) ** 2)


def cmtj_switching(par: dict, currents, trials: int, seed: int, jobs: int) -> dict[float, list]:
    """Per current, per trial: the P-side intervals of ``_p_side_intervals``."""
    tasks = [(par, i, list(range(seed + 1000 * k + b, seed + 1000 * k + min(b + BLOCK, trials))), t_max_s(par, i))
             for k, i in enumerate(currents) for b in range(0, trials, BLOCK)]
    tasks.sort(key=lambda t: -t[3])
    res: dict[float, list] = {i: [] for i in currents}
    with Pool(jobs) as pool:
        for i_rel, intervals in pool.imap_unordered(_block, tasks):
            res[i_rel] += intervals
    return res


def p_switched(intervals: list, w) -> np.ndarray:
    """Fraction of trials a pulse of width w (s, array) leaves in P."""
    w = np.atleast_1d(np.asarray(w, dtype=float))
    hit = np.zeros((len(intervals), w.size), dtype=bool)
    for k, iv in enumerate(intervals):
        for a, b in iv:
            hit[k] |= (w >= a) & (w < b)
    return hit.mean(0)


def width_at(intervals: list, q: float) -> float:
    """Shortest pulse width (s) that switches a fraction >= q (t50 for q = 0.5); NaN if none within t_max."""
    cand = np.unique([a for iv in intervals for a, _ in iv])
    if cand.size == 0:
        return math.nan
    ok = np.nonzero(p_switched(intervals, cand) >= q)[0]
    return float(cand[ok[0]]) if ok.size else math.nan


def pulse_check(par: dict, i_rel: float, width_s: float, trials: int, seed: int) -> float:
    """Fraction switched by explicit pulses: thermalise, current for width_s, 3 ns at zero current, mz > 0."""
    import cmtj

    n = 0
    for k in range(trials):
        j = _junction(par, seed + k)
        _run(j, THERMALISE_S)
        j.setLayerCurrentDriver("free", cmtj.constantDriver(i_rel * par["ic0_A"] / par["area_m2"]))
        _run(j, width_s)
        j.setLayerCurrentDriver("free", cmtj.constantDriver(0.0))
        _run(j, RELAX_S)
        n += j.getLayerMagnetisation("free").z > 0
    return n / trials


# ---------------------------------------------------------------------------------------- spinsyn side


def voltage_for_current(mtj, i_A: float) -> float:
    """V_mtj at which an AP MTJ carries i_A (V / R_AP(V) = I, monotone in V)."""
    from scipy.optimize import brentq
    from spinsyn.devices.physics import derive, mtj_current_A

    p = derive(mtj)
    return float(brentq(lambda v: float(mtj_current_A(p, 0.0, v)) - i_A, 0.0, 20.0, xtol=1e-12, rtol=1e-12))


def spinsyn_t50(mtj, currents) -> np.ndarray:
    """ln2 / rate (s) of AP -> P at i·Ic0 for each i, from ``hazard_rate_per_s`` (ungated MTJ)."""
    from spinsyn.devices.physics import derive, hazard_rate_per_s

    m = ungated(mtj)
    p = derive(m)
    v = np.array([voltage_for_current(m, i * float(p.ic0_A)) for i in currents])
    return math.log(2) / hazard_rate_per_s(p, 0.0, v)


def fit_switching(mtj, currents, t50_s, beta: float) -> dict:
    """tau0_ns and transit_eps (barrier exponent ``beta`` fixed) minimising sum (log t50 ratio)²."""
    from scipy.optimize import least_squares

    ok = np.isfinite(t50_s)
    cur = [c for c, k in zip(currents, ok) if k]
    target = np.log(np.asarray(t50_s)[ok])

    def resid(x):
        m = dataclasses.replace(ungated(mtj), barrier_exponent=beta, tau0_ns=math.exp(x[0]),
                                transit_eps=math.exp(x[1]))
        return np.log(spinsyn_t50(m, cur)) - target

    sol = least_squares(resid, x0=[math.log(2.0), math.log(0.3)], x_scale=1.0)
    r = resid(sol.x)
    return {"barrier_exponent": beta, "tau0_ns": math.exp(sol.x[0]), "transit_eps": math.exp(sol.x[1]),
            "rms_log10": float(np.sqrt(np.mean(r * r)) / math.log(10)), "max_ratio": float(np.exp(np.abs(r)).max())}


# --------------------------------------------------------------------------------------------- driver


def _print_table(rows: list[dict]) -> None:
    print(f"{'I/Ic0':>6} {'V (V)':>7} {'cmtj t50 ns':>12} {'switched':>9} {'spinsyn t50 ns':>15} {'ratio':>7}")
    for r in rows:
        print(f"{r['i_rel']:6.2f} {r['v_V']:7.3f} {r['cmtj_t50_ns']:12.3g} {r['switched']:9.3f} "
              f"{r['spinsyn_t50_ns']:15.3g} {r['ratio']:7.2f}")


def _rows(mtj, currents, t50_cmtj_s, switched) -> list[dict]:
    m = ungated(mtj)
    ic0 = cmtj_params(m)["ic0_A"]
    t_sp = spinsyn_t50(m, currents)
    return [{"i_rel": i, "v_V": voltage_for_current(m, i * ic0), "cmtj_t50_ns": tc * 1e9, "switched": sw,
             "spinsyn_t50_ns": ts * 1e9, "ratio": ts / tc if math.isfinite(tc) else math.nan}
            for i, tc, sw, ts in zip(currents, t50_cmtj_s, switched, t_sp)]


def _measure(args, mtj) -> dict:
    par = cmtj_params(ungated(mtj))
    t0 = time.perf_counter()
    mx2 = equilibrium(par, seed=args.seed + 99)
    print(f"thermal equilibrium at 0 A: <mx²> = {mx2:.4f} (kT/(2KV) = {par['mx2_expected']:.4f})", flush=True)
    if abs(mx2 / par["mx2_expected"] - 1) > 0.15:
        raise SystemExit("cmtj is not in thermal equilibrium (solver/step): refusing to measure switching")
    runs = cmtj_switching(par, args.currents, args.trials, args.seed, args.jobs)
    return {"cmtj_version": _cmtj_version(), "params": par, "mx2_measured": mx2, "trials": args.trials,
            "seed": args.seed, "solver": "Heun", "dt_s": DT_S, "seconds": time.perf_counter() - t0,
            "t50_s": [width_at(runs[i], 0.5) for i in args.currents],
            "switched": [float(p_switched(runs[i], t_max_s(par, i) * 0.999)[0]) for i in args.currents],
            "quartiles_s": [[width_at(runs[i], q) for q in (0.25, 0.75)] for i in args.currents]}


def _main_grid(args, mtj) -> int:
    import cmtj_grid

    if args.cmtj_json:
        saved = json.load(open(args.cmtj_json))
        grid, mtj = saved["cmtj"], STTMTJ_from(saved["mtj"])
    else:
        par = cmtj_params(mtj)
        grid = cmtj_grid.measure(par, args.trials, args.seed, args.jobs)
        grid.update(cmtj_version=_cmtj_version(), params=par, solver="Heun", dt_s=DT_S)
        if args.json_out:  # the measurement first: the comparison can be redone from it with --cmtj-json
            with open(args.json_out, "w") as f:
                json.dump({"preset": args.preset, "mtj": dataclasses.asdict(mtj), "cmtj": grid}, f, indent=1)
    rows, summary = cmtj_grid.compare(mtj, grid)
    print(f"{args.preset}: cmtj {grid.get('cmtj_version')} Heun 1 ps, {grid['trials']} trials per point "
          f"({grid['seconds']:.0f} s); spinsyn: Fokker-Planck write physics (spinsyn.devices.macrospin)")
    cmtj_grid.print_table(rows, summary)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"preset": args.preset, "mtj": dataclasses.asdict(mtj), "cmtj": grid, "rows": rows,
                       "summary": summary}, f, indent=1)
        print(f"wrote {args.json_out}")
    return 0


def STTMTJ_from(fields: dict):
    from spinsyn.devices import STTMTJ

    return STTMTJ(**fields)


def _cmtj_version() -> str:
    from importlib.metadata import version

    return version("cmtj")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="stt-mtj-macrospin")
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--currents", type=lambda s: [float(x) for x in s.split(",")], default=list(CURRENTS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fit", action="store_true", help="fit tau0_ns and transit_eps to the cmtj t50")
    ap.add_argument("--beta", type=float, default=2.0, help="barrier exponent held fixed by --fit")
    ap.add_argument("--cmtj-json", default=None, help="reuse the cmtj results of an earlier --json-out")
    ap.add_argument("--check-pulse", type=float, default=None, metavar="I_REL",
                    help="also run explicit pulses of the measured t50 at this I/Ic0 (expect ~0.5 switched)")
    ap.add_argument("--json-out", default=None)
    ap.add_argument("--grid", action="store_true",
                    help="p(I, w) on the grid of benchmarks/cmtj_grid.py (both directions) against spinsyn's write "
                         "physics, instead of t50")
    ap.add_argument("--replay", default=None, metavar="CHIP_DIR",
                    help="replay an exported chip's write-verify with cmtj probabilities at its own pulses "
                         "(benchmarks/cmtj_replay.py)")
    args = ap.parse_args(argv)
    from spinsyn.devices import get_model

    if args.replay:
        from cmtj_replay import main_replay

        return main_replay(args)
    mtj = ungated(get_model(args.preset))
    if args.grid:
        return _main_grid(args, mtj)
    if args.cmtj_json:
        cm = json.load(open(args.cmtj_json))["cmtj"]
        args.currents = [r["i_rel"] for r in json.load(open(args.cmtj_json))["rows"]]
    else:
        cm = _measure(args, mtj)
    out = {"preset": args.preset, "mtj": dataclasses.asdict(mtj), "cmtj": cm}
    print(f"{args.preset}: cmtj {cm['cmtj_version']} Heun {cm['dt_s'] * 1e12:g} ps, {cm['trials']} trials per point "
          f"({cm['seconds']:.0f} s); Ic0 = {cm['params']['ic0_A'] * 1e6:.2f} uA, Delta = {cm['params']['delta']:.2f}")
    out["rows"] = _rows(mtj, args.currents, cm["t50_s"], cm["switched"])
    _print_table(out["rows"])
    if args.fit:
        out["fit"] = fit_switching(mtj, args.currents, np.asarray(cm["t50_s"]), args.beta)
        print("fit:", json.dumps(out["fit"]))
        fitted = dataclasses.replace(mtj, **{k: out["fit"][k] for k in ("barrier_exponent", "tau0_ns", "transit_eps")})
        out["rows_fitted"] = _rows(fitted, args.currents, cm["t50_s"], cm["switched"])
        _print_table(out["rows_fitted"])
    if args.check_pulse is not None:
        k = args.currents.index(args.check_pulse)
        frac = pulse_check(cm["params"], args.check_pulse, cm["t50_s"][k], 100, args.seed + 7)
        out["pulse_check"] = {"i_rel": args.check_pulse, "width_s": cm["t50_s"][k], "switched": frac}
        print(f"pulse check at {args.check_pulse} Ic0, width t50: {frac:.2f} switched (expect ~0.5)")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(out, f, indent=1)
        print(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
