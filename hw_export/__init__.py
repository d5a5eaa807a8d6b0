"""spinsyn.hw_export: crossbar conductance maps and write-verify programming schedules (``spinsyn-chip``).

The synapse vocabulary is ``spinsyn.devices`` (``SynapseSpec``, ``SynapseDevice``, ``synapse_device``): a run is
exported on the very ``SynapseDevice`` it trained on (from its checkpoint), weight files on
``synapse_device(spec, preset, **params)``.

Public API::

    export_run(run_dir, out_dir, *, synapse=None, requantize=False, tile=(128, 128), mapping="unipolar",
               seed=0, overwrite=False, write_verify=None, device=None, device_params=None, w_range=None,
               csv=True, write_pulse="fixed"|"auto", deployment_s=10 y) -> ExportResult
    ExportConfig(synapse, mapping="unipolar", tile_rows=128, tile_cols=128, device=None, device_params={}, ...)
    WriteVerifyConfig(width_ns=10.0, v_max_V=1.5, tolerance_levels=0.4, half_select="V/2", ...)
    load_weights(path, key=None) -> WeightSource
    export_chip(w, cfg, out_dir, *, source=None, device=None, levels=None, overwrite=False, notes=None)
        -> ExportResult
    verify_chip(chip_dir, *, allow_extra=False) -> dict   (raises SpinsynFileError; CSVs checked against chip.h5)
    load_chip(chip_dir, *, check=True, allow_extra=False) -> Chip
    simulate_chip(chip_dir, *, seed=1, n_test=None, data_dir=None, run_dir=None, eval_device="auto",
                  disturb=True, allow_extra=False, after=None) -> dict   (round trip: roundtrip.CONDITIONS /
                  LOSS_TERMS; after="0,1s,1h": ageing, see hw_export.ageing)
    map_layer, then per batch of tiles (LayerMap.batches / tiles): program_tiles / build_schedule / tile_report /
    chip_tiles: the steps export_chip composes (a chip streamed to disk batch by batch)

"""

from typing import TYPE_CHECKING

from spinsyn.lazyimport import lazy_package

if TYPE_CHECKING:  # loaded on first use (spinsyn.lazyimport.lazy_package): 'import spinsyn.<stage>.cli' stays light
    from .chipfile import Chip, load_chip, verify_chip
    from .circuit.config import CircuitConfig
    from .export import (
        ExportConfig,
        ExportResult,
        LayerMap,
        Programmed,
        Report,
        Schedule,
        SummaryParts,
        TileSet,
        build_schedule,
        export_chip,
        map_layer,
        program_tiles,
        tile_report,
    )
    from .inputs import WeightSource, load_weights
    from .mapping import ScaleFactors, conductance_to_weights, levels_to_conductance, weights_to_levels
    from .program import WriteVerifyConfig
    from .roundtrip import SIMULATION_FORMAT, SIMULATION_VERSION
    from .runs import export_run, run_target
    from .simulate import program_chip, simulate_chip
    from .tiling import TileLayout, from_tiles, make_layout, parse_tile, to_tiles

__getattr__, __dir__ = lazy_package(__name__)

__all__ = [
    "SIMULATION_FORMAT", "SIMULATION_VERSION", "Chip", "CircuitConfig", "ExportConfig", "ExportResult", "LayerMap",
    "Programmed", "Report", "ScaleFactors", "Schedule", "SummaryParts", "TileSet",
    "TileLayout", "WeightSource", "WriteVerifyConfig", "build_schedule", "conductance_to_weights",
    "export_chip", "export_run", "from_tiles", "levels_to_conductance", "load_chip", "load_weights",
    "make_layout", "map_layer", "parse_tile", "program_chip", "program_tiles", "run_target",
    "simulate_chip", "tile_report", "to_tiles", "verify_chip", "weights_to_levels",
]
