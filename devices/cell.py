"""The binary cell of a compound synapse (aihwkit's unit-cell idea): what ``CompoundSynapse`` and the stages
after it ask of one cell. Implemented by ``models.STTMTJ`` (two-terminal STT-MTJ) and ``sot.SOTMTJ``
(three-terminal SOT-MTJ). A one-cell device is itself a compound of one: ``cell`` returns itself.

States: 1 = P (high conductance), 0 = AP. Voltages are those across the device's write terminals (pre - post);
for a two-terminal cell that is the barrier, for a three-terminal cell the heavy-metal write line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from .reference import Draws


@runtime_checkable
class Cell(Protocol):
    """One binary cell.

    * ``cell_conductance_S(n_p, n_ap, v_read_V)``: conductance (S) of n_p cells in P and n_ap in AP in parallel.
    * ``switch_probabilities(v_V, width_s, params=None)``: (P(AP->P), P(P->AP)) of a rectangular pulse with the
      sweep engines' drive law (``apply_pulse``).
    * ``cell_write_probabilities(v_V, width_s)``: the same with the programming physics (write-verify).
    * ``half_select_probabilities(v_hs_V, width_s)``: (P(AP->P), P(P->AP)) of a half-selected cell that sees
      v_hs_V on its write path (its own half-select physics).
    * ``cell_retention_s``: zero-bias escape time (s) from either state; ``read_disturb`` whether a read
      current crosses the switching path.
    * ``cell_integrate(d, edges_s, v_mid)``: reference engine over the draws' cells -> (state, H, switches).
    * ``cell_elements(d, ip, it, n)``: SPICE elements of the n cells of instance (ip, it): hazard node ``h<i>``,
      state node ``s<i>`` per cell (``devices.netlist``).
    * ``cell_spread_overrides(sigma_pct)``, ``cell_info_lines()``.
    """

    name: ClassVar[str]
    read_disturb: ClassVar[bool]

    def cell_conductance_S(self, n_p, n_ap, v_read_V: float = 0.1) -> np.ndarray: ...

    def switch_probabilities(self, v_V, width_s, params=None) -> tuple[np.ndarray, np.ndarray]: ...

    def cell_write_probabilities(self, v_V, width_s) -> tuple[np.ndarray, np.ndarray]: ...

    def half_select_probabilities(self, v_hs_V, width_s) -> tuple[np.ndarray, np.ndarray]: ...

    @property
    def cell_retention_s(self) -> float: ...

    def cell_integrate(self, d: Draws, edges_s: np.ndarray, v_mid: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def cell_elements(self, d: Draws, ip: int, it: int, n: int) -> list[str]: ...

    def cell_spread_overrides(self, sigma_pct: float) -> dict[str, float]: ...

    def cell_info_lines(self) -> list[str]: ...
