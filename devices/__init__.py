"""spinsyn.devices: spintronic synapse models (STT-MTJ, compound, DW-MTJ), ngspice and reference engines.

Public API (docs/CONTRACTS.md): STTMTJ, CompoundSynapse, DomainWallMTJ, PulseTestbench, get_model, PRESETS,
sweep, write_sweep, read_sweep, SweepResult, conductance_S, apply_pulse, switch_probability.
"""

from .models import (
    PRESETS,
    STTMTJ,
    TESTBENCHES,
    CompoundSynapse,
    DomainWallMTJ,
    PulseTestbench,
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
    "PRESETS",
    "STTMTJ",
    "TESTBENCHES",
    "CompoundSynapse",
    "DomainWallMTJ",
    "PulseTestbench",
    "SweepResult",
    "apply_pulse",
    "conductance_S",
    "derive",
    "g_bounds_S",
    "get_model",
    "get_testbench",
    "read_sweep",
    "sweep",
    "switch_probability",
    "write_sweep",
]
