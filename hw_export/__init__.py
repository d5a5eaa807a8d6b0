"""spinsyn.hw_export: crossbar conductance maps and write-verify programming schedules (``spinsyn-chip``).

Public API::

    parse_synapse("compound:8") -> SynapseSpec
    ExportConfig(synapse, mapping="unipolar", tile_rows=128, tile_cols=128, ...)
    WriteVerifyConfig(width_ns=10.0, v_max_V=1.5, tolerance_levels=0.4, half_select="V/2", ...)
    load_weights(path) -> WeightSource
    export_chip(w, cfg, out_dir) -> ExportResult
    verify_chip(chip_dir) -> dict          (raises SpinsynFileError)
    load_chip(chip_dir) -> Chip
    simulate_chip(chip_dir, seed=1, n_test=None) -> dict
"""

from .chipfile import Chip, load_chip, verify_chip
from .export import ExportConfig, ExportResult, export_chip, program_layer
from .inputs import WeightSource, load_weights
from .mapping import (
    ScaleFactors,
    SynapseSpec,
    conductance_to_weights,
    levels_to_conductance,
    parse_synapse,
    weights_to_levels,
)
from .program import WriteVerifyConfig
from .simulate import program_chip, simulate_chip
from .tiling import TileLayout, from_tiles, make_layout, parse_tile, to_tiles

__all__ = [
    "Chip", "ExportConfig", "ExportResult", "ScaleFactors", "SynapseSpec", "TileLayout", "WeightSource",
    "WriteVerifyConfig", "conductance_to_weights", "export_chip", "from_tiles", "levels_to_conductance",
    "load_chip", "load_weights", "make_layout", "parse_synapse", "parse_tile", "program_chip",
    "program_layer", "simulate_chip", "to_tiles", "verify_chip", "weights_to_levels",
]
