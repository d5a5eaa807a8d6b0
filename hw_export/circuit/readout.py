"""Reading a programmed chip through its tiles' circuits: what fraction of each cell's ideal current is sensed.

Inference drives word line i with v_read·x_i (x the input spikes of a step) and senses every bit line at 0 V
(current-sum readout). With line resistance and sneak paths the column currents are i_col = M.T @ (v_read·x),
M (R, C) the tile's effective read conductances (:func:`spinsyn.hw_export.circuit.nodal.read_matrix`: the
junctions linearised at the all-rows-on operating point; exact for a linear network, so for any input). The
*attenuation* of cell (i, j) is ``alpha = M[i, j] / g[i, j]``, g its ideal read conductance: the network sees
``alpha·g`` where an ideal crossbar gives g. The G_min offset of the unipolar weight mapping
(w = (G − G_min)/(G_max − G_min)) is removed by a reference current that shares the attenuation (a G_min
reference per cell position), so the weight becomes ``alpha·w``. With ``CircuitConfig.column_gain`` (default) every
tile column's sense amplifier divides by the mean attenuation of its cells (a digital gain set by a calibration
read; :func:`column_gain`): what remains is the attenuation's spread within the column (bit-line drop, sneak paths).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .config import CircuitConfig
from .nodal import read_matrix
from .tile import JunctionIV


def read_attenuation(cfg: CircuitConfig, dev: Any, state: np.ndarray, n_cells: int = 1) -> np.ndarray:
    """(R, C) attenuation ``alpha`` of a tile of ``dev`` (a ``SynapseDevice``) in device states ``state`` (R, C),
    read at ``dev.v_read_V`` through ``cfg.tile(R, C, n_cells)``."""
    st = np.asarray(state)
    iv = JunctionIV.from_device(dev, st)
    m = read_matrix(cfg.tile(st.shape[0], st.shape[1], n_cells), iv, float(dev.v_read_V))
    return m / iv.secant_conductance_S(np.full(st.shape, float(dev.v_read_V)))


def column_gain(alpha: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(T, R, C) attenuation after a per-column digital gain: each tile column (T, C) divided by the mean attenuation
    of its real (``mask``) cells; columns without one keep theirs."""
    n = mask.sum(axis=1)
    mean = np.where(n > 0, (alpha * mask).sum(axis=1) / np.maximum(n, 1), 1.0)
    return alpha / mean[:, None, :]


def attenuation_stats(alpha: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
    """Summary of the attenuation of the real (``mask``) cells: mean, min, 1st percentile."""
    a = alpha[mask]
    return {"mean": float(a.mean()), "min": float(a.min()), "p01": float(np.percentile(a, 1))}
