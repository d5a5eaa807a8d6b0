"""Compound-synapse ΔG(Δt) with the reference engine, one SPICE confirmation point, and the sweep file."""

import numpy as np
from spinsyn import devices as D

model, tb = D.get_model("compound"), D.PulseTestbench()
ref = D.sweep(model, tb, np.arange(0, 60, 2.0), 200, engine="reference", seed=0)
for dt, g in zip(ref.dt_ms, ref.dg_norm.mean(1)):
    print(f"dt = {dt:4.0f} ms   mean normalised dG = {g:+.3f}")
spi = D.sweep(model, tb, [2.0, 56.0], 10, engine="spice", seed=0, jobs=2)
print("spice check:", np.round(spi.dg_norm.mean(1), 3))
D.write_sweep("device_sweep.h5", ref)
