"""Technology-node parameters of a crossbar tile (issue 26): wires, transistors, cells, ADCs, DACs.

Every value of a preset is cited where it is set. The sources, and how each is used:

* **NeuroSim** (DNN_NeuroSim_V1.3, github.com/neurosim/DNN_NeuroSim_V1.3, ``Inference_pytorch/NeuroSIM``; the
  values are the same in V2.1): ``Param.cpp`` (interconnect table: wire width, aspect ratio AR and Cu resistivity
  Rho with size effects, per node; 1T1R cell 4F x 12F = 48 F², cross-point cell 2F x 2F = 4 F²;
  ``IR_DROP_TOLERANCE`` 0.25 in ``constant.h``), ``Technology.cpp`` (PTM low-standby-power "LP" devices, the
  NeuroSim default ``deviceroadmap = 2``: VDD, on-current per width, gate capacitances, junction capacitances),
  ``formula.cpp`` (on-resistance = effectiveResistanceMultiplier · VDD / I_on; gate cap = (capIdealGate +
  capOverlap + capFringe) · W with capOverlap = 0.2 · capIdealGate; minimum-inverter area 28F x 7.6F),
  ``SubArray.cpp:132`` (wire capacitance 0.2 fF/µm), ``SarADC.cpp`` (SAR ADC power fit per node and bits,
  latency (bits + 1) ns, area in minimum-inverter units).
* **Walden figure of merit** floor for ADC energy: 4.4 fJ per conversion step, the best ``P / (2^ENOB · f_s)`` in
  B. E. Jonsson's ADC performance survey (van Elzakker et al., ISSCC 2008, a SAR; "ADC Survey: Spring 2011 update
  on FOM state-of-the-art", converterpassion.wordpress.com; still the record in its 2012 update).

Nodes 28 nm and 40 nm are not NeuroSim nodes: every numeric field is **linearly interpolated in the node** between
the NeuroSim neighbours (22/32 nm and 32/45 nm), an assumption stated in each preset's ``source``.

Assumptions that are not from a source (named ``ASSUMPTION`` where they are set): the access-transistor width of
an MTJ 1T1R cell (4 F; NeuroSim's 1 F is sized for 6 kΩ RRAM), the square-cell pitch (√area · F), the DAC unit
capacitor (1 fF) and its area, and the DAC settling time.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

Access = Literal["1T1R", "0T1R"]
ACCESS_KINDS: tuple[str, ...] = ("1T1R", "0T1R")

#: NeuroSim constant.h: an access device / driver may drop at most this fraction of the line voltage
IR_DROP_TOLERANCE = 0.25
#: NeuroSim formula.cpp CalculateGateArea: an unfolded minimum inverter half (one transistor) is 28F x 7.6F
MIN_INV_AREA_F2 = 28.0 * 7.6
#: NeuroSim SarADC.cpp CalculateUnitArea: NMOS units 269 + 109 (b - 1), PMOS units 209 + 73 (b - 1)
SAR_AREA_UNITS = (269.0 + 209.0, 109.0 + 73.0)
#: NeuroSim Technology.cpp: junction capacitances (F/m², F/m, F/m), grading coefficients, built-in potential (V)
_CJD, _CJSWD, _CJSWGD, _MJ, _MJSW, _PHI_B = 1e-3, 2.5e-10, 0.5e-10, 0.5, 0.33, 0.9
#: NeuroSim formula.cpp: drain diffusion length of an unfolded transistor, MIN_GAP_BET_GATE_POLY = 2.8 F
_DRAIN_LENGTH_F = 2.8


@dataclass(frozen=True)
class TechNode:
    """One CMOS node with its interconnect and periphery (units in the names; F = ``node_nm``).

    ``cu_resistivity_ohm_m`` already contains the size effect (surface and grain-boundary scattering) at
    ``wire_width_nm``; the wire thickness is ``wire_aspect_ratio · wire_width_nm``. ``r_on_nmos_ohm_um`` is the
    on-resistance of 1 µm of NMOS width at VDD (divide by the width in µm). ``c_gate_F_per_um`` is the gate
    capacitance per µm of width. The SAR ADC power is ``adc_power_per_bit_W · bits + adc_power_offset_W`` for
    ``(bits + 1) · adc_time_per_cycle_s``, and never less than ``adc_floor_J_per_step · 2^bits`` per conversion.
    """

    name: str
    node_nm: float
    wire_width_nm: float
    wire_aspect_ratio: float
    cu_resistivity_ohm_m: float
    wire_cap_F_per_um: float
    vdd_V: float
    r_on_nmos_ohm_um: float
    pn_ratio: float
    c_gate_F_per_um: float
    adc_power_per_bit_W: float
    adc_power_offset_W: float
    source: str
    cell_area_1t1r_F2: float = 48.0
    cell_area_0t1r_F2: float = 4.0
    access_width_F: float = 4.0
    adc_time_per_cycle_s: float = 1e-9
    adc_floor_J_per_step: float = 4.4e-15
    dac_unit_cap_F: float = 1e-15
    dac_unit_area_um2: float = 0.5
    dac_settle_s: float = 1e-9
    min_driver_width_F: float = 2.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float | int) and not (math.isfinite(v) and v > 0):
                raise ValueError(f"TechNode {self.name!r}: {f.name} must be finite and > 0, got {v!r}")

    # ---- geometry -------------------------------------------------------------------------------------
    @property
    def f_um(self) -> float:
        """Feature size F in µm."""
        return self.node_nm * 1e-3

    def cell_area_F2(self, access: str) -> float:
        """Cell area in F² for ``access`` ("1T1R": NeuroSim 4F x 12F; "0T1R": cross-point 2F x 2F)."""
        _check_access(access)
        return self.cell_area_1t1r_F2 if access == "1T1R" else self.cell_area_0t1r_F2

    def cell_pitch_nm(self, access: str) -> float:
        """Line length per cell in nm, ``√(area) · F`` (ASSUMPTION: a square cell of the cited area; NeuroSim's
        4F x 12F 1T1R cell has the same area but 4F along one line and 12F along the other)."""
        return math.sqrt(self.cell_area_F2(access)) * self.node_nm

    def cell_area_um2(self, access: str) -> float:
        """Cell area in µm²."""
        return self.cell_area_F2(access) * self.f_um ** 2

    # ---- wires --------------------------------------------------------------------------------------------
    @property
    def wire_r_ohm_per_um(self) -> float:
        """Wire resistance per µm: ρ / (w · AR · w)."""
        w_m = self.wire_width_nm * 1e-9
        return self.cu_resistivity_ohm_m / (w_m * w_m * self.wire_aspect_ratio) * 1e-6

    def segment_resistance_ohm(self, cell_pitch_nm: float) -> float:
        """Resistance (Ω) of one line segment between neighbouring cells, ``ρ · pitch / (w · t)``."""
        _positive("cell_pitch_nm", cell_pitch_nm)
        return self.wire_r_ohm_per_um * cell_pitch_nm * 1e-3

    def segment_capacitance_F(self, cell_pitch_nm: float) -> float:
        """Wire capacitance (F) of one line segment, ``wire_cap_F_per_um · pitch`` (wire only; the cell's own
        transistor capacitance is :meth:`cell_line_capacitance_F`)."""
        _positive("cell_pitch_nm", cell_pitch_nm)
        return self.wire_cap_F_per_um * cell_pitch_nm * 1e-3

    # ---- transistors --------------------------------------------------------------------------------------
    def r_on_ohm(self, width_um: float) -> float:
        """NMOS on-resistance (Ω) of ``width_um`` µm at VDD."""
        _positive("width_um", width_um)
        return self.r_on_nmos_ohm_um / width_um

    def c_gate_F(self, width_um: float) -> float:
        """Gate capacitance (F) of ``width_um`` µm of transistor."""
        return self.c_gate_F_per_um * width_um

    def c_drain_F(self, width_um: float) -> float:
        """Drain junction capacitance (F) of an unfolded transistor of ``width_um`` µm (NeuroSim formula.cpp,
        CalculateGateCapacitance for an inverter: bottom ``cj · W · 2.8F`` + sidewall ``cjsw · (2 · 2.8F + W)`` +
        gate edge ``cjswg · W``, each graded at VDD)."""
        w = width_um * 1e-6
        ld = _DRAIN_LENGTH_F * self.f_um * 1e-6
        k = 1.0 + self.vdd_V / _PHI_B
        return (_CJD / k ** _MJ * w * ld + _CJSWD / k ** _MJSW * (2 * ld + w) + _CJSWGD / k ** _MJSW * w)

    @property
    def access_width_um(self) -> float:
        """Width of the 1T1R access transistor in µm (ASSUMPTION: 4 F, see the module docstring)."""
        return self.access_width_F * self.f_um

    def cell_line_capacitance_F(self, access: str, line: Literal["row", "col"]) -> float:
        """Capacitance a cell adds to its line besides the wire (F): in a 1T1R cell the row is the word line
        (the access transistor's gate) and the column sees its drain; a 0T1R junction adds nothing here."""
        _check_access(access)
        if access == "0T1R":
            return 0.0
        w = self.access_width_um
        return self.c_gate_F(w) if line == "row" else self.c_drain_F(w)

    # ---- ADC / sense amplifier ----------------------------------------------------------------------------
    def adc_energy_J(self, bits: int) -> float:
        """Energy (J) of one conversion of a ``bits``-bit SAR ADC (a 1-bit one is a sense amplifier)."""
        b = _bits(bits)
        fit = (self.adc_power_per_bit_W * b + self.adc_power_offset_W) * self.adc_latency_s(b)
        return max(fit, self.adc_floor_J_per_step * 2.0 ** b)

    def adc_latency_s(self, bits: int) -> float:
        """Latency (s) of one conversion: ``(bits + 1)`` cycles (NeuroSim SarADC.cpp)."""
        return (_bits(bits) + 1) * self.adc_time_per_cycle_s

    def adc_area_um2(self, bits: int) -> float:
        """Area (µm²) of one SAR ADC: ``(478 + 182 (bits − 1))`` minimum-transistor units of 212.8 F²."""
        b = _bits(bits)
        return (SAR_AREA_UNITS[0] + SAR_AREA_UNITS[1] * (b - 1)) * MIN_INV_AREA_F2 * self.f_um ** 2

    # ---- DAC ----------------------------------------------------------------------------------------------
    def dac_energy_J(self, bits: int, v_out_V: float) -> float:
        """Energy (J) of one conversion of a binary-weighted capacitive DAC: ``2^bits · C_unit · V_out · VDD``
        (every unit capacitor charged once from VDD to at most V_out: an upper bound; ASSUMPTION C_unit)."""
        return 2.0 ** _bits(bits) * self.dac_unit_cap_F * abs(v_out_V) * self.vdd_V

    def dac_area_um2(self, bits: int) -> float:
        """Area (µm²) of one DAC: ``2^bits`` unit capacitors (ASSUMPTION 0.5 µm² each, a 1 fF MOM capacitor)."""
        return 2.0 ** _bits(bits) * self.dac_unit_area_um2


def _bits(bits: int) -> int:
    if isinstance(bits, bool) or int(bits) != bits or not 1 <= bits <= 16:
        raise ValueError(f"adc/dac bits must be an integer in 1..16, got {bits!r}")
    return int(bits)


def _positive(name: str, v: float) -> None:
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be finite and > 0, got {v!r}")


def _check_access(access: str) -> None:
    if access not in ACCESS_KINDS:
        raise ValueError(f"access must be one of {ACCESS_KINDS}, got {access!r}")


def _neurosim_lp(name: str, node_nm: float, wire_width_nm: float, ar: float, rho: float, vdd: float,
                 i_on_n_uA_um: float, i_on_p_uA_um: float, c_ideal_F_m: float, c_fringe_F_m: float,
                 adc_slope_uW: float, adc_offset_uW: float) -> TechNode:
    """A NeuroSim node: PTM LP device numbers (Technology.cpp, 300 K column), converted to per-µm values."""
    return TechNode(
        name=name, node_nm=float(node_nm), wire_width_nm=float(wire_width_nm), wire_aspect_ratio=float(ar),
        cu_resistivity_ohm_m=float(rho), wire_cap_F_per_um=0.2e-15, vdd_V=float(vdd),
        # formula.cpp CalculateOnResistance: effectiveResistanceMultiplier (1.77 for LP, "from CACTI") · VDD / I_on
        r_on_nmos_ohm_um=1.77 * vdd / (i_on_n_uA_um * 1e-6), pn_ratio=i_on_n_uA_um / i_on_p_uA_um,
        # formula.cpp CalculateGateCap: capIdealGate + capOverlap (0.2 · capIdealGate) + capFringe, F/m -> F/µm
        c_gate_F_per_um=(1.2 * c_ideal_F_m + c_fringe_F_m) * 1e-6,
        adc_power_per_bit_W=adc_slope_uW * 1e-6, adc_power_offset_W=adc_offset_uW * 1e-6,
        source=(f"NeuroSim V1.3: Param.cpp wire table (wireWidth {wire_width_nm:g} nm, AR {ar}, Rho {rho:g}); "
                f"Technology.cpp PTM {node_nm:g}nm_LP (VDD {vdd}, I_on {i_on_n_uA_um}/{i_on_p_uA_um} uA/um); "
                f"SarADC.cpp LP fit ({adc_slope_uW}*bits + {adc_offset_uW}) uW; SubArray.cpp 0.2 fF/um"),
    )


def interpolate_node(lo: TechNode, hi: TechNode, node_nm: float, name: str) -> TechNode:
    """A node between two presets: every numeric field linear in ``node_nm`` (an ASSUMPTION, see ``source``)."""
    if not min(lo.node_nm, hi.node_nm) < node_nm < max(lo.node_nm, hi.node_nm):
        raise ValueError(f"node_nm {node_nm} is not strictly between {lo.node_nm} and {hi.node_nm}")
    t = (node_nm - lo.node_nm) / (hi.node_nm - lo.node_nm)
    vals: dict[str, object] = {}
    for f in dataclasses.fields(TechNode):
        a, b = getattr(lo, f.name), getattr(hi, f.name)
        vals[f.name] = a + t * (b - a) if isinstance(a, float) else a
    vals.update(name=name, node_nm=float(node_nm),
                source=f"ASSUMPTION: every value linearly interpolated in the node between NeuroSim {lo.name} and "
                       f"{hi.name} (not a NeuroSim node)")
    return TechNode(**vals)  # type: ignore[arg-type]


def _presets() -> dict[str, TechNode]:
    # name, F, wire width (nm), AR, Rho (Ω·m) [Param.cpp]; VDD, I_on N/P (µA/µm), capIdealGate, capFringe (F/m)
    # [Technology.cpp LP]; SAR power slope/offset (µW) [SarADC.cpp, LP branch]
    n22 = _neurosim_lp("22nm", 22, 40, 1.90, 4.03e-8, 0.85, 791.90, 600.20, 5.245e-10, 8.004e-10, 0.538, 4.3753)
    n32 = _neurosim_lp("32nm", 32, 56, 1.80, 3.70e-8, 0.9, 600.20, 400.00, 8.375279e-10, 6.856677e-10,
                       1.1294, 8.8998)
    n45 = _neurosim_lp("45nm", 45, 80, 1.70, 3.31e-8, 1.0, 500.20, 300.00, 8.930709e-10, 8.849901e-10,
                       2.1691, 16.693)
    n65 = _neurosim_lp("65nm", 65, 105, 1.70, 2.68e-8, 1.1, 400.00, 238.70, 1.1926e-9, 9.62148e-10,
                       3.7506, 25.844)
    nodes = [n22, interpolate_node(n22, n32, 28, "28nm"), n32, interpolate_node(n32, n45, 40, "40nm"), n45, n65]
    return {n.name: n for n in nodes}


#: presets by name ("22nm", "28nm", "32nm", "40nm", "45nm", "65nm"); 28 and 40 nm are interpolated
TECH_NODES: dict[str, TechNode] = _presets()


def tech_node(name: str | TechNode) -> TechNode:
    """A preset by name (or the node itself); ValueError naming the known presets otherwise."""
    if isinstance(name, TechNode):
        return name
    try:
        return TECH_NODES[name]
    except KeyError:
        raise ValueError(f"node must be one of {sorted(TECH_NODES)}, got {name!r}") from None
