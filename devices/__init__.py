"""spinsyn.devices: spintronic synapse models (STT-MTJ, compound, DW-MTJ), ngspice and reference engines.

Public API (docs/CONTRACTS.md): STTMTJ, CompoundSynapse, DomainWallMTJ, PulseTestbench, get_model, PRESETS,
sweep, write_sweep, read_sweep, SweepResult, conductance_S, apply_pulse, switch_probability.
"""

from .models import (
    PRESETS,
    TESTBENCHES,
    CompoundSynapse,
    DomainWallMTJ,
    PulseTestbench,
    STTMTJ,
    conductance_S,
    derive,
    g_bounds_S,
    get_model,
    get_testbench,
    switch_probability,
)
from .reference import apply_pulse
from .sweep import SweepResult, read_sweep, sweep, write_sweep

__all__ = [
    "PRESETS", "TESTBENCHES", "STTMTJ", "CompoundSynapse", "DomainWallMTJ", "PulseTestbench", "SweepResult",
    "apply_pulse", "conductance_S", "derive", "g_bounds_S", "get_model", "get_testbench", "read_sweep",
    "switch_probability", "sweep", "write_sweep",
]
