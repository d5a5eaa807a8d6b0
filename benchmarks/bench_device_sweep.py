"""Instances/s of device sweeps: (a) naive PySpice loop, (b) spinsyn SPICE engine, (c) reference engine.

Same grid and model for all three (default: one gated STT-MTJ, the published testbench). (a) builds a
plain PySpice ``Circuit`` per instance (same behavioural sources) and runs ``simulator().transient`` each
time (re-parsed every run). Memory: RSS growth of the spinsyn worker over ``--mem-runs`` transients.

    .venv/bin/python benchmarks/bench_device_sweep.py [--model stt-mtj|compound|dw-mtj] [--n-dt 30] [--trials 10]
        [--jobs 2] [--mem-runs 1000]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np


def rss_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def naive(model, tb, dt, d) -> float:
    """One PySpice Circuit + simulator per instance, built from the same netlist elements."""
    import logging

    from PySpice.Spice.Netlist import Circuit
    from spinsyn.devices import spice
    from spinsyn.ngspice import ensure_library

    logging.getLogger("PySpice").setLevel(logging.ERROR)
    import os

    os.environ.setdefault("NGSPICE_LIBRARY_PATH", str(ensure_library()))
    from PySpice.Spice.NgSpice.Shared import NgSpiceShared

    NgSpiceShared.LIBRARY_PATH = str(ensure_library())
    n = 0
    t0 = time.perf_counter()
    for ip in range(len(dt)):
        for it in range(d.s0.shape[1]):
            net = spice.netlist(model, tb, float(dt[ip]), d, ip, it)
            c = Circuit("naive")
            t_end = None
            for line in net.splitlines()[1:]:
                if line.startswith(".tran"):
                    t_end = float(line.split()[2])
                elif line.startswith((".end", ".options")) or not line.strip():
                    continue
                else:
                    c.raw_spice += line + "\n"
            sim = c.simulator(simulator="ngspice-shared")
            sim.options(reltol=1e-4)
            sim.transient(step_time=t_end / 2000, end_time=t_end, use_initial_condition=True)
            n += 1
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="stt-mtj")
    ap.add_argument("--n-dt", type=int, default=30)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--mem-runs", type=int, default=1000)
    a = ap.parse_args()
    from spinsyn import devices as D
    from spinsyn.devices import reference, spice

    model, tb = D.get_model(a.model), D.PulseTestbench()
    dt = np.linspace(0, 58, a.n_dt)
    d = reference.draw(model, dt.size, a.trials, 0)
    n = dt.size * a.trials
    ra = naive(model, tb, dt, d)
    t0 = time.perf_counter()
    spice.run_spice(model, tb, dt, d, jobs=a.jobs)
    rb = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    reference.run_reference(model, tb, dt[:2], reference.draw(model, 2, 2, 1))  # numba compile or cache load
    t_jit = time.perf_counter() - t0
    dref = reference.draw(model, dt.size, 2000, 0)
    t0 = time.perf_counter()
    reference.run_reference(model, tb, dt, dref)
    rc = dt.size * 2000 / (time.perf_counter() - t0)
    print(f"grid: {a.model}, {dt.size} delays x {a.trials} trials = {n} instances")
    print(f"(a) naive PySpice loop      : {ra:10.1f} instances/s")
    print(f"(b) spinsyn SPICE ({a.jobs} jobs)  : {rb:10.1f} instances/s   (b)/(a) = {rb / ra:6.1f}x")
    print(f"(c) reference engine        : {rc:10.1f} instances/s   (c)/(a) = {rc / ra:8.0f}x   "
          f"(2000 trials per delay; one-off numba compile/cache load {t_jit:.2f} s not counted)")
    # memory over many runs in one process (the worker path)
    from spinsyn.ngspice import session

    s = session()
    net = spice.netlist(model, tb, 5.0, d, 0, 0)
    for _ in range(20):
        s.run(net)
    r0 = rss_kb()
    for _ in range(a.mem_runs):
        s.run(net)
    r1 = rss_kb()
    print(f"memory: RSS {r0 / 1024:.1f} MiB -> {r1 / 1024:.1f} MiB over {a.mem_runs} runs "
          f"({(r1 - r0) / a.mem_runs:.2f} KiB/run)")


if __name__ == "__main__":
    main()
