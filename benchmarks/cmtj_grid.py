"""Switching probability p(I, w) of one preset's MTJ from cmtj (stochastic LLG) on a grid, against spinsyn's
write physics (``spinsyn.devices.macrospin``, the Fokker–Planck model of the same macrospin).

Grid: both directions (AP -> P with positive current from mz = -1; P -> AP with negative current from mz = +1),
I/Ic0 in ``CURRENTS``, pulse widths ``WIDTHS_NS``. Per (direction, current) one cmtj run per trial gives every
width at once (``bench_cmtj._p_side_intervals``: switched iff the magnet is past mz = 0 when the pulse ends).
Counts are stored (``--json-out``); the table gives cmtj's p with its Wilson 95 % interval and spinsyn's p, and
checks the issue's criterion: spinsyn within a factor 2 of cmtj's interval wherever cmtj's p >= 1e-3, and 1 - p
likewise wherever p >= 0.5.

    .venv/bin/python benchmarks/bench_cmtj.py --grid --preset stt-mtj-macrospin --trials 2000 --jobs 2 \\
        --json-out benchmarks/results/cmtj_grid_macrospin.json
    .venv/bin/python benchmarks/bench_cmtj.py --grid --cmtj-json benchmarks/results/cmtj_grid_macrospin.json
"""

from __future__ import annotations

import time
from multiprocessing import Pool

import numpy as np

CURRENTS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0, 3.0)
WIDTHS_NS = (1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0)
DIRECTIONS = {"AP->P": 1.0, "P->AP": -1.0}
BLOCK = 50


def wilson(k: float, n: int) -> tuple[float, float]:
    """Wilson 95 % interval of a binomial proportion k/n (``spinsyn.hw_export.roundtrip.accuracy_ci``)."""
    from spinsyn.hw_export.roundtrip import accuracy_ci

    lo, hi = accuracy_ci(k / n, n)
    return (0.0 if k == 0 else lo), (1.0 if k == n else hi)  # exact at the ends (rounding left 1 - 1e-16)


def measure(par: dict, trials: int, seed: int, jobs: int, currents=CURRENTS, widths_ns=WIDTHS_NS) -> dict:
    """Counts switched per (direction, current, width) from cmtj."""
    from bench_cmtj import _block, p_switched

    t_max = max(widths_ns) * 1e-9 * 1.001
    tasks = [(par, i, list(range(seed + 100000 * d + 1000 * k + b, seed + 100000 * d + 1000 * k
                                 + min(b + BLOCK, trials))), t_max, sign)
             for d, sign in enumerate(DIRECTIONS.values()) for k, i in enumerate(currents)
             for b in range(0, trials, BLOCK)]
    tasks.sort(key=lambda t: t[1])  # weak currents run the full t_max: start them first
    runs: dict = {}
    t0 = time.perf_counter()
    with Pool(jobs) as pool:
        for key, intervals in pool.imap_unordered(_block, tasks):
            runs.setdefault(key, []).extend(intervals)
    w = np.asarray(widths_ns) * 1e-9
    counts = {name: {str(i): (p_switched(runs[(i, sign)], w) * len(runs[(i, sign)])).round().astype(int).tolist()
                     for i in currents} for name, sign in DIRECTIONS.items()}
    return {"trials": trials, "seed": seed, "currents": list(currents), "widths_ns": list(widths_ns),
            "counts": counts, "seconds": time.perf_counter() - t0}


def spinsyn_p(mtj, i_rel: float, width_ns: float) -> float:
    """spinsyn's write-physics p at aiding current i·Ic0 and the width (``macrospin.switching_table``)."""
    from spinsyn.devices import macrospin

    return float(macrospin.switching_table(mtj).p(np.array([i_rel]), np.array([width_ns * 1e-9]))[0])


def compare(mtj, grid: dict) -> tuple[list[dict], dict]:
    """Rows (direction, I/Ic0, width, cmtj p and interval, spinsyn p, ok) and a summary of the criterion."""
    rows = []
    n = grid["trials"]
    for name in DIRECTIONS:
        for i in grid["currents"]:
            for w, k in zip(grid["widths_ns"], grid["counts"][name][str(i)]):
                lo, hi = wilson(k, n)
                ps = spinsyn_p(mtj, i, w)
                pc = k / n
                ok = True
                if pc >= 1e-3:
                    ok &= lo / 2 <= ps <= 2 * hi
                if pc >= 0.5:
                    ok &= (1 - hi) / 2 <= 1 - ps <= 2 * (1 - lo)
                rows.append({"direction": name, "i_rel": i, "width_ns": w, "cmtj_p": pc, "lo": lo, "hi": hi,
                             "spinsyn_p": ps, "checked": pc >= 1e-3, "ok": bool(ok)})
    checked = [r for r in rows if r["checked"]]
    return rows, {"points": len(rows), "checked": len(checked), "ok": sum(r["ok"] for r in checked),
                  "failed": [(r["direction"], r["i_rel"], r["width_ns"]) for r in checked if not r["ok"]]}


def print_table(rows: list[dict], summary: dict) -> None:
    print(f"{'dir':6} {'I/Ic0':>5} {'w ns':>5} {'cmtj p':>9} {'95% CI':>21} {'spinsyn p':>10} {'ok':>3}")
    for r in rows:
        print(f"{r['direction']:6} {r['i_rel']:5.2f} {r['width_ns']:5g} {r['cmtj_p']:9.4g} "
              f"[{r['lo']:8.3g}, {r['hi']:8.3g}] {r['spinsyn_p']:10.4g} "
              f"{('yes' if r['ok'] else 'NO') if r['checked'] else '-':>3}")
    print(f"criterion (factor 2 of cmtj's interval where cmtj p >= 1e-3; 1 - p where p >= 0.5): "
          f"{summary['ok']}/{summary['checked']} points hold; failed: {summary['failed']}")


def markdown(rows: list[dict], author_mtj=None) -> str:
    """The grid as a markdown table: one row per (direction, I/Ic0), one column per width; each cell
    "cmtj / spinsyn" (and "/ author" with ``author_mtj``: the published preset's own law, gates included, through
    ``devices.switch_probability`` at the V_mtj of that current), a failed criterion in bold."""
    from scipy.optimize import brentq
    from spinsyn.devices import switch_probability
    from spinsyn.devices.physics import derive, r_ap_ohm

    widths = sorted({r["width_ns"] for r in rows})
    head = "| dir | I/Ic0 | " + " | ".join(f"{w:g} ns" for w in widths) + " |"
    out = [head, "|" + "---|" * (len(widths) + 2)]
    p_auth = derive(author_mtj) if author_mtj is not None else None

    def v_of(direction, i):  # V_mtj carrying i Ic0 through R_AP(V) (AP->P, V > 0) or R_P (P->AP, V < 0)
        ic0 = float(p_auth.ic0_A) * i
        if direction == "AP->P":
            return brentq(lambda v: v / float(r_ap_ohm(p_auth, v)) - ic0, 0.0, 20.0)
        return -ic0 * float(p_auth.r_p_ohm)

    for (d, i) in dict.fromkeys((r["direction"], r["i_rel"]) for r in rows):
        cells = []
        for w in widths:
            r = next(x for x in rows if x["direction"] == d and x["i_rel"] == i and x["width_ns"] == w)
            c = f"{_g(r['cmtj_p'])} / {_g(r['spinsyn_p'])}"
            if author_mtj is not None:
                v = v_of(d, i)
                c += f" / {_g(float(switch_probability(author_mtj, v, w, d == 'AP->P')))}"
            cells.append(f"**{c}**" if r["checked"] and not r["ok"] else c)
        out.append(f"| {d} | {i:g} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def _g(p: float) -> str:
    if p == 0:
        return "0"
    if p >= 0.999:
        return f"1-{1 - p:.1g}" if p < 1 else "1"
    return f"{p:.2g}"
