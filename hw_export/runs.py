"""Exporting an snn run: the synapse and the device come from the run.

A run's checkpoint holds the ``SynapseDevice`` the network trained on and its trained device states, so
``export_run`` programs exactly those levels (``levels_from = "trained device states"``, unipolar mapping)
on exactly that device: the chip's level conductances are those the network trained with.

* ``synapse=None`` (or the run's own spec): the run's synapse and device.
* another ``synapse``: refused unless ``requantize=True``; then the trained weights ``w`` are quantised onto
  the new spec's device (the run's device model when it is of the same family, else the spec's default
  preset). ``device``/``device_params`` pick another device and also need ``requantize=True``.
* an ``ideal`` run has no levels: it is exported as ``quantized:32`` on the run's analog device unless a
  ``synapse`` is given (no ``requantize`` needed: there are no trained levels to re-quantise).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.devices import KIND_COMPOUND, KIND_IDEAL, SynapseDevice, SynapseSpec, synapse_device
from spinsyn.devices.synapse import DEVICE_FAMILY

from .ageing import DEFAULT_DEPLOYMENT_S
from .export import ExportConfig, ExportResult, export_chip
from .inputs import WeightSource, load_weights
from .mapping import MappingKind
from .program import WriteVerifyConfig

#: what an ideal run is exported as unless a synapse is given
IDEAL_DEFAULT = SynapseSpec("quantized", 32)
IDEAL_NOTE = "ideal weights quantised to 32 levels; choose with --synapse quantized:L"


@dataclass(frozen=True)
class RunTarget:
    """What a run is programmed as: the device, the levels to program (None: quantise ``w``), notes."""

    device: SynapseDevice
    levels: np.ndarray | None
    notes: tuple[str, ...] = ()


def device_like(spec: SynapseSpec, base: SynapseDevice | None, preset: str | None = None,
                params: dict[str, Any] | None = None, v_read_V: float = 0.1) -> SynapseDevice:
    """The device realising ``spec``: ``synapse_device(spec, preset, **params)`` when a preset or overrides
    are given or there is no ``base``; else ``base``'s model when it is of the family ``spec`` needs
    (compound: with ``n_mtj`` set to N), else the spec's default preset read at ``base``'s voltage."""
    if preset is not None or params or base is None:
        return synapse_device(spec, preset, base.v_read_V if base else v_read_V, **(params or {}))
    if DEVICE_FAMILY[spec.kind] != DEVICE_FAMILY[base.spec.kind]:
        return synapse_device(spec, v_read_V=base.v_read_V)
    model = dataclasses.replace(base.model, n_mtj=spec.n) if spec.kind == KIND_COMPOUND else base.model
    return SynapseDevice(spec, model, base.preset, base.v_read_V)


def run_target(src: WeightSource, synapse: str | SynapseSpec | None = None, *, requantize: bool = False,
               mapping: str = "unipolar", preset: str | None = None,
               params: dict[str, Any] | None = None) -> RunTarget:
    """Decide the device and levels for exporting the run ``src`` (see the module docstring)."""
    run_dev = src.device
    if run_dev is None:
        raise ValueError(f"{src.path}: not an snn run (a weight file needs --synapse)")
    want = SynapseSpec.parse(synapse) if synapse is not None else None
    if (preset is not None or params) and not requantize:
        raise ValueError(f"--device/--device-param: the run fixes the device ({run_dev.preset}, {run_dev.spec}); "
                         "pass --requantize to quantise its weights onto another device")
    if run_dev.spec.kind == KIND_IDEAL:
        want = None if want is not None and want.kind == KIND_IDEAL else want  # the run's own spec: the default
        spec = want or IDEAL_DEFAULT
        return RunTarget(device_like(spec, run_dev, preset, params), None, () if want else (IDEAL_NOTE,))
    if want is not None and want != run_dev.spec and not requantize:
        raise ValueError(f"--synapse: the run was trained with {run_dev.spec}, got {want}; pass --requantize to "
                         f"quantise its trained weights onto {want} (or leave --synapse out)")
    spec = want or run_dev.spec
    if not requantize:
        levels = src.state if mapping == "unipolar" else None
        return RunTarget(run_dev, levels)
    note = f"trained {run_dev.spec} weights re-quantised onto {spec}"
    return RunTarget(device_like(spec, run_dev, preset, params), None, (note,))


def export_run(run_dir: str | Path, out_dir: str | Path, *, synapse: str | SynapseSpec | None = None,
               requantize: bool = False, tile: tuple[int, int] = (128, 128), mapping: MappingKind = "unipolar",
               seed: int = 0, overwrite: bool = False, write_verify: WriteVerifyConfig | None = None,
               device: str | None = None, device_params: dict[str, Any] | None = None,
               w_range: tuple[float, float] | None = None, csv: bool = True, write_pulse: str = "auto",
               deployment_s: float = DEFAULT_DEPLOYMENT_S, circuit: Any = None) -> ExportResult:
    """Export the snn run in ``run_dir`` to the chip directory ``out_dir``.

    The synapse and device come from the run (its checkpoint's ``SynapseDevice``); ``synapse`` different from
    the run's, ``device`` or ``device_params`` need ``requantize=True``. ``w_range`` defaults to [0, 1].
    ``write_pulse``: ``"fixed"`` (``write_verify``'s width) or ``"auto"`` (:mod:`spinsyn.hw_export.pulses`);
    ``deployment_s``: the lifetime the retention is checked against (report ``warnings``); ``circuit``: a
    ``spinsyn.hw_export.CircuitConfig`` (tiles as circuits; None: ideal lines)."""
    src = load_weights(run_dir)
    if src.kind != "run":
        raise ValueError(f"{run_dir}: not an snn run directory")
    target = run_target(src, synapse, requantize=requantize, mapping=mapping, preset=device, params=device_params)
    dev = target.device
    cfg = ExportConfig(dev.spec, mapping=mapping, tile_rows=int(tile[0]), tile_cols=int(tile[1]),
                       device=dev.preset, w_range=w_range if w_range is not None else src.w_range,
                       write_verify=write_verify or WriteVerifyConfig(), seed=seed, csv=csv, write_pulse=write_pulse,
                       deployment_s=deployment_s, circuit=circuit)
    return export_chip(src.w, cfg, Path(out_dir), source=src.record(), device=dev, levels=target.levels,
                       overwrite=overwrite, notes=list(target.notes))
