"""spinsyn.devices: spintronic synapse models (STT-MTJ, compound, DW-MTJ), ngspice and reference engines.

Public API (docs/CONTRACTS.md): STTMTJ, CompoundSynapse, DomainWallMTJ, PulseTestbench, get_model (a preset name or a
spinsyn-device file, devices/devicefile.py), PRESETS, MeasuredMTJ,
sweep, write_sweep, read_sweep, SweepResult, conductance_S, apply_pulse, switch_probability,
apply_write_pulse, write_switch_probability (the programming physics, devices/macrospin.py). Every device class
implements the ``Device`` protocol (devices/models.py); the module-level functions call its methods.
"""

from typing import TYPE_CHECKING

from spinsyn.lazyimport import lazy_package

if TYPE_CHECKING:  # loaded on first use (spinsyn.lazyimport.lazy_package): 'import spinsyn.<stage>.cli' stays light
    from . import (
        graded,  # noqa: F401  (registers the graded LTP/LTD device and its preset)
        sot,  # noqa: F401  (registers the SOT-MTJ cell and its preset)
    )
    from .author import SWITCHING, run_author
    from .devicefile import DeviceFile, get_model, is_device_file, read_device_file
    from .graded import GradedDevice
    from .measured_mtj import MeasuredMTJ
    from .models import (
        PRESETS,
        STTMTJ,
        TESTBENCHES,
        CompoundSynapse,
        Device,
        DomainWallMTJ,
        PulseTestbench,
        apply_write_pulse,
        conductance_S,
        derive,
        g_bounds_S,
        get_testbench,
        switch_probability,
        write_switch_probability,
    )
    from .plot import plot_sweep
    from .records import DEVICE_CLASSES, model_from_record, model_record
    from .reference import apply_pulse
    from .sweep import SweepResult, read_sweep, sweep, write_sweep
    from .synapse import (
        DEFAULT_PRESET,
        KIND_COMPOUND,
        KIND_DW,
        KIND_GRADED,
        KIND_IDEAL,
        KIND_QUANTIZED,
        SYNAPSE_KINDS,
        SynapseDevice,
        SynapseSpec,
        synapse_device,
    )

__getattr__, __dir__ = lazy_package(__name__)

__all__ = [
    "DeviceFile",
    "GradedDevice",
    "KIND_GRADED",
    "MeasuredMTJ",
    "is_device_file",
    "read_device_file",
    "DEFAULT_PRESET",
    "DEVICE_CLASSES",
    "Device",
    "KIND_COMPOUND",
    "KIND_DW",
    "KIND_IDEAL",
    "KIND_QUANTIZED",
    "SYNAPSE_KINDS",
    "SynapseDevice",
    "SynapseSpec",
    "model_from_record",
    "model_record",
    "plot_sweep",
    "synapse_device",
    "PRESETS",
    "STTMTJ",
    "SWITCHING",
    "run_author",
    "TESTBENCHES",
    "CompoundSynapse",
    "DomainWallMTJ",
    "PulseTestbench",
    "SweepResult",
    "apply_pulse",
    "apply_write_pulse",
    "conductance_S",
    "derive",
    "g_bounds_S",
    "get_model",
    "get_testbench",
    "read_sweep",
    "sweep",
    "switch_probability",
    "write_switch_probability",
    "write_sweep",
]
