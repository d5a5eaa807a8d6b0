"""Names and column layouts of a chip folder's files (the CSV views of chip.h5): shared by chipfile.py, which writes
and verifies the folder, and csvcheck.py, which compares the CSV contents; both import it, not each other.
"""

from __future__ import annotations

from typing import Any

import numpy as np

H5_NAME = "chip.h5"
MATRIX_NAME = "layer_targets_uS.csv"
FUSION_NAME = "aihwkit_fusion.csv"
FUSION_LAYER = "input_to_excitatory"
TARGET_CSV_HEADER = ["row", "col", "layer_row", "layer_col", "sign", "level", "state", "g_target_uS",
                     "verify_lo_uS", "verify_hi_uS"]
SCHEDULE_CSV_HEADER = ["row", "col", "step", "v_V", "width_ns", "polarity"]


def target_columns(td: Any) -> tuple[list[np.ndarray], list[int]]:
    """Columns (used cells, row-major) and decimals of ``csv/tile_<i>_targets.csv`` for a tile (attributes as
    :class:`TileData`); the state has 0 decimals for discrete devices (integer dtype), else 6."""
    rr, cc = np.nonzero(td.mask)
    uS = 1e6
    cols = [rr, cc, td.row_index[rr], td.col_index[cc], td.col_sign[cc], td.level[rr, cc], td.state[rr, cc],
            td.g_target_S[rr, cc] * uS, td.verify_lo_S[rr, cc] * uS, td.verify_hi_S[rr, cc] * uS]
    return cols, [0, 0, 0, 0, 0, 0, 0 if td.state.dtype.kind in "iu" else 6, 6, 6, 6]



def schedule_columns(s: np.ndarray) -> tuple[list[np.ndarray], list[int]]:
    """Columns and decimals of ``csv/tile_<i>_schedule.csv`` for a schedule array."""
    return [s["row"], s["col"], s["step"], s["v_V"], s["width_ns"], s["polarity"]], [0, 0, 0, 4, 3, 0]



def _fusion_header(n_in: int, n_out: int) -> bytes:
    """The five header lines (id, class, num_weights, height, width) and the layer-name line of aihwkit's
    ``fusion_export`` CSV for one analog linear layer of ``n_out`` x ``n_in`` weights."""
    return f"1\nAnalogLinear\n{n_in * n_out}\n{n_out}\n{n_in}\n{FUSION_LAYER}\n".encode("ascii")



def _fusion_csv(targets_uS: np.ndarray) -> bytes:
    """aihwkit Fusion-layout CSV: header lines, then one line with the layer's conductances (uS) flattened
    in aihwkit's weight order (out_size, in_size), i.e. the transpose of our (inputs, outputs) matrix."""
    from .csvfast import format_csv  # lazy: startup

    flat = np.ascontiguousarray(targets_uS.T).ravel()
    body = format_csv(["g_uS"], [flat], [6]).split(b"\n", 1)[1]  # one value per line
    return _fusion_header(targets_uS.shape[0], targets_uS.shape[1]) + body[:-1].replace(b"\n", b",") + b"\n"
