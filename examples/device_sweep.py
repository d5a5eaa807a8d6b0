"""Compound-synapse ΔG(Δt) with the reference engine, one SPICE confirmation point, and the sweep file.

Run: ``.venv/bin/python examples/device_sweep.py [--out device_sweep.h5] [--quick]`` (the SPICE point needs
ngspice). ``--quick``: 5 delays × 10 trials and 2 SPICE trials instead of 30 × 200 and 10 (same code path; the
test suite runs it).
"""

from __future__ import annotations

import argparse

import numpy as np
from spinsyn import devices


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="device_sweep.h5", help="sweep file to write (nothing else is written)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, for the test suite")
    args = ap.parse_args()
    step, trials, spice_trials = (12.0, 10, 2) if args.quick else (2.0, 200, 10)
    model, tb = devices.get_model("compound"), devices.get_testbench("published")
    ref = devices.sweep(model, tb, np.arange(0, 60, step), trials, engine="reference", seed=0)
    for dt, g in zip(ref.dt_ms, ref.dg_norm.mean(1)):
        print(f"dt = {dt:4.0f} ms   mean normalised dG = {g:+.3f}")
    spi = devices.sweep(model, tb, [2.0, 56.0], spice_trials, engine="spice", seed=0, jobs=2)
    print("spice check:", np.round(spi.dg_norm.mean(1), 3))
    devices.write_sweep(args.out, ref)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
