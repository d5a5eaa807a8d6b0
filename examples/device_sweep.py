"""Compound-synapse ΔG(Δt) with the reference engine, one SPICE confirmation point, and the sweep file.

Run: ``.venv/bin/python examples/device_sweep.py [--out device_sweep.h5]`` (the SPICE point needs ngspice).
"""

from __future__ import annotations

import argparse

import numpy as np
from spinsyn import devices


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="device_sweep.h5", help="sweep file to write")
    args = ap.parse_args()
    model, tb = devices.get_model("compound"), devices.get_testbench("published")
    ref = devices.sweep(model, tb, np.arange(0, 60, 2.0), 200, engine="reference", seed=0)
    for dt, g in zip(ref.dt_ms, ref.dg_norm.mean(1)):
        print(f"dt = {dt:4.0f} ms   mean normalised dG = {g:+.3f}")
    spi = devices.sweep(model, tb, [2.0, 56.0], 10, engine="spice", seed=0, jobs=2)
    print("spice check:", np.round(spi.dg_norm.mean(1), 3))
    devices.write_sweep(args.out, ref)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
