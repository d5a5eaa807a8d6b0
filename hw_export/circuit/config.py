"""What a chip's tiles are as circuits: one record from which every tile's :class:`TileCircuit` is built.

Resistances left ``None`` come from the technology node (:mod:`spinsyn.hw_export.circuit.tech`):

* word/bit-line segment: ``TechNode.segment_resistance_ohm(pitch)`` (NeuroSim's Cu resistivity with size effects
  at the node's wire width) over one synapse pitch: a synapse of N MTJs takes N cells' area, so its pitch is
  ``cell_pitch_nm(access) * sqrt(N)``;
* driver and sense resistances: the on-resistance of a ``driver_width_um`` NMOS at the node
  (``TechNode.r_on_ohm``; ASSUMPTION: 100 µm, a write driver for mA-class compound synapses);
* 1T1R access: the node's access transistor (``TechNode.access_width_um``), one per MTJ, so a compound synapse
  of N cells has N in parallel (r_on / N in series with the compound).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

from .tech import TechNode, tech_node
from .tile import TileCircuit

#: ASSUMPTION (no source): width of a line driver / sense input device (µm)
DRIVER_WIDTH_UM = 100.0
#: ASSUMPTION: the largest amplitude a write driver applies (V): a 1.8 V thick-oxide I/O transistor, the usual
#: second device of 28 nm CMOS (core devices stop near 0.9-1.0 V)
V_DRIVER_MAX_V = 1.8


@dataclass(frozen=True)
class CircuitConfig:
    """The crossbar as a circuit (units in the names; ``None``: from ``tech_node``, see the module docstring).

    ``compensate``: programming applies V/η for a wanted cell voltage V, η the selected cell's share of the
    applied voltage (:mod:`spinsyn.hw_export.circuit.bias`), capped at ``v_driver_max_V``; without it the driver
    applies V and the cell gets η·V. ``adc_bits``: the column ADCs' resolution the energy and area assume when a
    simulation does not give its own. ``column_gain``: each tile column's sensed current is divided by the mean
    attenuation of its cells (a digital gain per sense amplifier, set by a calibration read), so that inference
    loses only to the attenuation's spread within a column (:mod:`spinsyn.hw_export.circuit.readout`)."""

    tech_node: str = "28nm"
    access: Literal["0T1R", "1T1R"] = "0T1R"
    r_wire_ohm: float | None = None
    r_driver_ohm: float | None = None
    r_sense_ohm: float | None = None
    driver_width_um: float = DRIVER_WIDTH_UM
    r_access_on_ohm: float | None = None
    compensate: bool = True
    v_driver_max_V: float = V_DRIVER_MAX_V
    adc_bits: int = 8
    column_gain: bool = True

    def __post_init__(self) -> None:
        tech_node(self.tech_node)  # ValueError naming the presets
        if self.access not in ("0T1R", "1T1R"):
            raise ValueError(f"circuit: access={self.access!r}; expected '0T1R' or '1T1R'")
        for name in ("r_wire_ohm", "r_driver_ohm", "r_sense_ohm", "r_access_on_ohm"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float)) and 0 <= v < float("inf")):
                raise ValueError(f"circuit: {name}={v!r}; expected a finite resistance >= 0 (ohm) or None")
        if not self.driver_width_um > 0:
            raise ValueError(f"circuit: driver_width_um={self.driver_width_um!r}; expected > 0")
        if not 0 < self.v_driver_max_V < 100:
            raise ValueError(f"circuit: v_driver_max_V={self.v_driver_max_V!r}; expected a voltage in (0, 100) V")
        if isinstance(self.adc_bits, bool) or not isinstance(self.adc_bits, int) or not 1 <= self.adc_bits <= 16:
            raise ValueError(f"circuit: adc_bits={self.adc_bits!r}; expected an integer in [1, 16]")

    @property
    def node(self) -> TechNode:
        return tech_node(self.tech_node)

    def resistances_ohm(self, n_cells: int = 1) -> dict[str, float]:
        """The resistances used (Ω): wire segment, driver, sense, access (for ``n_cells`` MTJs per synapse)."""
        t = self.node
        r_drv = t.r_on_ohm(self.driver_width_um)
        r_acc = t.r_on_ohm(t.access_width_um) / max(1, n_cells)
        pitch_nm = t.cell_pitch_nm(self.access) * math.sqrt(max(1, n_cells))
        return {"r_wire_ohm": float(t.segment_resistance_ohm(pitch_nm) if self.r_wire_ohm is None
                                    else self.r_wire_ohm),
                "r_driver_ohm": float(r_drv if self.r_driver_ohm is None else self.r_driver_ohm),
                "r_sense_ohm": float(r_drv if self.r_sense_ohm is None else self.r_sense_ohm),
                "r_access_on_ohm": float(r_acc if self.r_access_on_ohm is None else self.r_access_on_ohm)}

    def tile(self, rows: int, cols: int, n_cells: int = 1) -> TileCircuit:
        """The :class:`TileCircuit` of a rows x cols tile of synapses of ``n_cells`` MTJs."""
        return TileCircuit(int(rows), int(cols), access=self.access, **self.resistances_ohm(n_cells))

    def record(self, n_cells: int = 1) -> dict[str, Any]:
        """JSON-able record: the options as given and the resistances they resolve to."""
        return {**dataclasses.asdict(self), "resolved": self.resistances_ohm(n_cells)}

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> CircuitConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in rec.items() if k in fields})
        except TypeError as exc:
            raise ValueError(f"circuit record: {exc}") from None
