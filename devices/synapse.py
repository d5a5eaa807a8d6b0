"""The synapse vocabulary of the whole pipeline: one spec grammar, and one map from a spec to the device that
realises it (level states, level conductances, bounds).

Specs (``SynapseSpec.parse`` ⇄ ``str``):

* ``ideal`` -- a continuous weight stored on an analog device (default the domain-wall MTJ): any conductance
  between its bounds.
* ``quantized:L`` -- an analog device programmed to L levels equally spaced in *conductance*.
* ``dw:L`` -- a domain-wall MTJ with L wall positions x = q/(L-1) (conductance linear in x for the default
  device, so the same levels as ``quantized:L`` there).
* ``compound:N`` -- N binary cells (``devices.cell.Cell``: STT-MTJ, SOT-MTJ) in parallel; state = number k
  of cells in P; N+1 levels ``G_k = k·G_P + (N−k)·G_AP(V_read)``. A compound preset, or a cell preset
  (``stt-mtj``, ``sot-mtj``) whose cell is then used N times.

snn trains on :func:`synapse_device` and hw_export programs the same object (rebuilt from the record stored
in the checkpoint), so the chip's level conductances are those the network trained with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from spinsyn.options import SWEEP_OPTIONS

from .cell import Cell
from .devicefile import get_model
from .graded import ltp_curve
from .models import CompoundSynapse, conductance_S, model_name
from .records import model_from_record, model_record

KIND_IDEAL, KIND_QUANTIZED, KIND_COMPOUND, KIND_DW = "ideal", "quantized", "compound", "dw"
KIND_GRADED = "graded"  # graded:P, a graded LTP/LTD device (devices/graded.py) trained with its pulse steps
SYNAPSE_KINDS = (KIND_IDEAL, KIND_QUANTIZED, KIND_COMPOUND, KIND_DW, KIND_GRADED)
#: n when the spec gives none (``compound`` = ``compound:8``; ``graded`` = the device's own pulse count, n 0).
DEFAULT_N = {KIND_QUANTIZED: 9, KIND_COMPOUND: 8, KIND_DW: 16, KIND_GRADED: 0}
#: device preset (``spinsyn.devices.PRESETS``) of each kind unless one is named.
DEFAULT_PRESET = {KIND_IDEAL: "dw-mtj", KIND_QUANTIZED: "dw-mtj", KIND_COMPOUND: "compound", KIND_DW: "dw-mtj",
                  KIND_GRADED: "graded"}
#: device family each kind needs (``models.model_name`` of the preset's model).
DEVICE_FAMILY = {KIND_IDEAL: "dw-mtj", KIND_QUANTIZED: "dw-mtj", KIND_COMPOUND: "compound", KIND_DW: "dw-mtj",
                 KIND_GRADED: "graded"}
_N_MTJ = SWEEP_OPTIONS["n_mtj"]  # the MTJ count range, declared once
N_RANGE: dict[str, tuple[int, int]] = {KIND_QUANTIZED: (2, 65536),
                                      KIND_COMPOUND: (cast(int, _N_MTJ.min), cast(int, _N_MTJ.max)),
                                      KIND_DW: (2, 65536), KIND_GRADED: (0, 1000000)}
SPEC_HELP = (f"ideal, quantized:L, dw:L (L levels >= 2), compound:N (N MTJs, {_N_MTJ.min}..{_N_MTJ.max}) or "
             "graded[:P] (P pulses over the range), e.g. compound:8")


@dataclass(frozen=True)
class SynapseSpec:
    """How one weight is stored. ``kind`` one of :data:`SYNAPSE_KINDS`; ``n`` MTJs (compound), levels
    (quantized, dw) or 0 (ideal)."""

    kind: str
    n: int = 0

    def __post_init__(self) -> None:
        if self.kind not in SYNAPSE_KINDS:
            raise ValueError(f"--synapse: unknown kind {self.kind!r}; expected {SPEC_HELP}")
        if self.kind == KIND_IDEAL:
            if self.n != 0:
                raise ValueError(f"--synapse: 'ideal' takes no number, got ideal:{self.n}")
            return
        lo, hi = N_RANGE[self.kind]
        if isinstance(self.n, bool) or not isinstance(self.n, (int, np.integer)) or not lo <= self.n <= hi:
            what = "MTJs per synapse" if self.kind == KIND_COMPOUND else "levels"
            raise ValueError(f"--synapse: {self.kind}:{self.n} needs {lo}..{hi} {what}")

    @classmethod
    def parse(cls, text: str | SynapseSpec) -> SynapseSpec:
        """``"compound:8"`` → ``SynapseSpec("compound", 8)``; a bare kind takes :data:`DEFAULT_N`."""
        if isinstance(text, SynapseSpec):
            return text
        kind, sep, arg = str(text).strip().partition(":")
        if kind not in SYNAPSE_KINDS:
            raise ValueError(f"--synapse: got {text!r}, expected {SPEC_HELP}")
        if kind == KIND_IDEAL:
            if sep:
                raise ValueError(f"--synapse: 'ideal' takes no number, got {text!r}")
            return cls(kind)
        if not sep:
            return cls(kind, DEFAULT_N[kind])
        try:
            n = int(arg)
        except ValueError:
            raise ValueError(f"--synapse: {text!r}: the number after ':' must be an integer") from None
        return cls(kind, n)

    def __str__(self) -> str:
        return self.kind if self.kind == KIND_IDEAL or (self.kind == KIND_GRADED and not self.n) \
            else f"{self.kind}:{self.n}"

    @property
    def n_levels(self) -> int:
        """Programmable levels: N+1 for compound, L for quantized/dw, 0 (continuous) for ideal."""
        if self.kind == KIND_IDEAL:
            return 0
        return self.n + 1 if self.kind in (KIND_COMPOUND, KIND_GRADED) else self.n

    @property
    def discrete(self) -> bool:
        """True when the device state is an integer count (compound), False for analog positions."""
        return self.kind == KIND_COMPOUND


@dataclass(frozen=True)
class SynapseDevice:
    """A :class:`SynapseSpec` realised on a device model read at ``v_read_V``.

    ``level_states()`` (L,) device states of the levels (MTJ counts or wall positions), ascending in G;
    ``level_conductances_S()`` (L,) their read conductances; ``g_bounds_S()`` (lowest, highest) in S.
    """

    spec: SynapseSpec
    model: Any
    preset: str
    v_read_V: float = 0.1

    @property
    def cell(self) -> Any | None:
        """The binary cell (``devices.cell.Cell``) of a compound synapse, whose write and half-select physics
        programming uses; None for analog devices."""
        return self.model.cell if self.spec.kind == KIND_COMPOUND else None

    @property
    def n_cells(self) -> int:
        """Binary cells per synapse (N of compound:N); 0 for analog devices."""
        return int(self.model.n_mtj) if self.spec.kind == KIND_COMPOUND else 0

    @property
    def retention_s(self) -> float | None:
        """Zero-bias escape time (s) of one cell of a compound synapse; None for devices that do not age."""
        return float(self.model.retention_s) if self.spec.kind == KIND_COMPOUND else None

    def half_select_probabilities(self, v_hs_V, width_ns) -> tuple[np.ndarray, np.ndarray] | None:
        """(P(AP->P), P(P->AP)) of one cell that sees v_hs_V on its write path for width_ns (the cell's own
        half-select physics); None for analog devices."""
        if self.cell is None:
            return None
        return self.model.half_select_probabilities(v_hs_V, np.asarray(width_ns, dtype=float) * 1e-9)

    def conductance_S(self, state: np.ndarray) -> np.ndarray:
        """Read conductance (S) of device states (any shape)."""
        return np.asarray(conductance_S(self.model, state, self.v_read_V), dtype=np.float64)

    def g_bounds_S(self) -> tuple[float, float]:
        """(g_min, g_max): the lowest- and highest-conductance states of the device."""
        top = self.model.n_mtj if self.spec.kind == KIND_COMPOUND else 1.0
        g = self.conductance_S(np.array([0.0, top]))
        return float(g[0]), float(g[1])

    def level_states(self) -> np.ndarray:
        """Device state of each level: 0..N (int64) for compound, wall positions in [0, 1] otherwise."""
        kind, L = self.spec.kind, self.spec.n_levels
        if kind == KIND_IDEAL:
            raise ValueError("ideal synapses are continuous: they have no levels")
        if kind == KIND_COMPOUND:
            return np.arange(L, dtype=np.int64)
        if kind == KIND_DW:
            return np.linspace(0.0, 1.0, L)
        if kind == KIND_GRADED:  # the states identical pulses reach from g_min along the LTP curve
            return ltp_curve(np.arange(L, dtype=float), self.model.a_ltp_pulses, self.model.n_pulses)
        xs = np.linspace(0.0, 1.0, 4097)  # quantized: equal conductance steps, states by inverting G(x)
        gx = self.conductance_S(xs)
        if not np.all(np.diff(gx) > 0):
            raise ValueError(f"{self.spec}: the device conductance must increase with its state")
        return np.interp(np.linspace(gx[0], gx[-1], L), gx, xs)

    def level_conductances_S(self) -> np.ndarray:
        """Read conductance (S) of each level, strictly increasing."""
        g = self.conductance_S(self.level_states())
        if not np.all(np.diff(g) > 0):
            raise ValueError(f"{self.spec}: level conductances of the device are not strictly increasing: {g}")
        return g

    def record(self) -> dict[str, Any]:
        """JSON-able record (stored in checkpoints and chip files); :meth:`from_record` reverses it."""
        return {"spec": str(self.spec), "preset": self.preset, "v_read_V": float(self.v_read_V),
                "model": model_record(self.model)}

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> SynapseDevice:
        try:
            spec, preset, v_read, model = rec["spec"], rec["preset"], rec["v_read_V"], rec["model"]
        except (KeyError, TypeError):
            raise ValueError(f"synapse device record: expected spec, preset, v_read_V and model, "
                             f"got {str(rec)[:200]}") from None
        return cls(SynapseSpec.parse(spec), model_from_record(model), str(preset), float(v_read))


def synapse_device(spec: str | SynapseSpec, preset: str | None = None, v_read_V: float = 0.1,
                   **overrides: Any) -> SynapseDevice:
    """The device realising ``spec``: preset ``preset`` (default :data:`DEFAULT_PRESET`) with dataclass field
    ``overrides``; for ``compound:N`` the preset's MTJ count is set to N. Raises ValueError naming the option."""
    s = SynapseSpec.parse(spec)
    name = preset or DEFAULT_PRESET[s.kind]
    cell_preset = s.kind == KIND_COMPOUND and _is_cell_preset(name)
    if s.kind == KIND_COMPOUND and not cell_preset:
        overrides = {**overrides, "n_mtj": s.n}
    if s.kind == KIND_GRADED and s.n:
        overrides = {**overrides, "n_pulses": s.n}
    try:
        model = get_model(name, **overrides)
    except TypeError as exc:
        raise ValueError(f"--device-param: {exc}") from None
    if cell_preset:
        model = CompoundSynapse(s.n, model)  # a cell preset (stt-mtj, sot-mtj): N of its cells in parallel
    family = model_name(model)
    if family != DEVICE_FAMILY[s.kind]:
        raise ValueError(f"--device: preset {name!r} is a {family} device; {s} needs a "
                         f"{DEVICE_FAMILY[s.kind]} preset")
    if s.kind == KIND_GRADED:  # graded = graded:P of the device
        s = SynapseSpec(KIND_GRADED, int(model.n_pulses))
    return SynapseDevice(s, model, name, float(v_read_V))


def _is_cell_preset(name: str) -> bool:
    """True when preset ``name`` is one binary cell (a ``devices.cell.Cell`` that is no compound itself)."""
    try:
        model = get_model(name)
    except ValueError:
        return False
    return isinstance(model, Cell) and cast(Any, model).synapse_family is None  # Cell declares no such field
