"""The sparse nodal tile solver against ngspice on the same netlist (issue 26): time and agreement per tile size.

For each size N: an N x N tile of compound:8 synapses in random states (seed 0; nonlinear junctions, mixed P/AP),
Cu wire segments of 2.2 Ω (28 nm, ρ ≈ 5e-8 Ω·m), 10 Ω drivers and sense inputs, under the V/2 programming bias
(word line 3 at 1 V, bit line 5 at 0 V, every other line at 0.5 V). ngspice (``spice_tile``, .op) and the sparse
solver (``solve_tile``) run in the same process, one after the other; each time is the best of ``--repeat`` runs.
The table gives both times, the speed-up, the largest |ΔV| over all cell voltages (mV) and the largest relative
difference, and the time of ``read_matrix`` (one full solve + R right-hand sides).

    .venv/bin/python benchmarks/bench_crossbar_solver.py --sizes 32,64,128 --repeat 1
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

R_WIRE_OHM = 5e-8 * 70e-9 / (28e-9 * 56e-9)  # ρL/(w·t), Cu at 28 nm, 70 nm pitch
R_DRIVER_OHM = R_SENSE_OHM = 10.0


def best_time(fn, repeat: int):
    """(result of the last call, best wall time in s over ``repeat`` calls)."""
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


def one_size(n: int, access: str, repeat: int) -> dict:
    from spinsyn.devices import synapse_device
    from spinsyn.hw_export.circuit import JunctionIV, TileCircuit, read_matrix, solve_tile, spice_tile

    dev = synapse_device("compound:8")
    state = np.random.default_rng(0).integers(0, dev.n_cells + 1, (n, n))
    iv = JunctionIV.from_device(dev, state)
    circ = TileCircuit(n, n, R_WIRE_OHM, R_DRIVER_OHM, R_SENSE_OHM, access, 15e3 / 8)
    v_wl, v_bl = np.full(n, 0.5), np.full(n, 0.5)
    v_wl[3], v_bl[5] = 1.0, 0.0
    ref, t_spice = best_time(lambda: spice_tile(circ, iv, v_wl, v_bl), repeat)
    ours, t_sparse = best_time(lambda: solve_tile(circ, iv, v_wl, v_bl), repeat)
    _, t_read = best_time(lambda: read_matrix(circ, iv, 0.1), repeat)
    d = np.abs(ours.v_cell_V - ref.v_cell_V)
    return {"n": n, "spice_s": t_spice, "sparse_s": t_sparse, "speedup": t_spice / t_sparse,
            "max_dv_mV": float(d.max() * 1e3), "max_rel": float((d / np.abs(ref.v_cell_V)).max()),
            "read_s": t_read, "iters": ours.iterations}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="32,64,128", help="comma-separated tile sides N (N x N tiles)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per solver and size (best time kept)")
    ap.add_argument("--access", default="0T1R", choices=("0T1R", "1T1R"))
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print(f"access {args.access}, r_wire {R_WIRE_OHM:.2f} ohm, load average {os.getloadavg()}")
    print(f"{'size':>9} {'ngspice s':>10} {'sparse s':>9} {'speed-up':>9} {'max|dV| mV':>11} {'max rel':>9} "
          f"{'Newton it':>9} {'read_matrix s':>13}")
    for n in sizes:
        r = one_size(n, args.access, max(1, args.repeat))
        print(f"{n:>4}x{n:<4} {r['spice_s']:>10.3f} {r['sparse_s']:>9.3f} {r['speedup']:>9.0f} "
              f"{r['max_dv_mV']:>11.2e} {r['max_rel']:>9.1e} {r['iters']:>9d} {r['read_s']:>13.3f}", flush=True)
    print(f"load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
