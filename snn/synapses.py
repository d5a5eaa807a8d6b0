"""Hardware-aware synapse strategies (registry keyed by ``spinsyn.devices`` synapse kinds).

The spec grammar (``ideal``, ``quantized:L``, ``compound:N``, ``dw:L``) and the device behind it belong to
``spinsyn.devices`` (:class:`~spinsyn.devices.SynapseSpec`, :func:`~spinsyn.devices.synapse_device`); a strategy
here is built from a spec and its :class:`~spinsyn.devices.SynapseDevice` and takes conductance bounds and level
conductances from it, so the chip (hw_export rebuilds the device from the checkpoint's record) programs the
conductances the network trained with.

Every strategy stores a conductance ``g_S`` per synapse (784, N) and the network uses
``w = (G − G_min)/(G_max − G_min)`` clipped to [0, 1]. At the end of each image the learning rule gives a
continuous target ``t = clip(w + ΔW, 0, 1)`` (then scaled per neuron to sum 78.4 when normalisation is on;
a chip cannot do this step: it needs a column sum and a division per neuron). The strategy realises the target:

* ``ideal``: ``w = t`` (float64) on the analog device's range (default ``dw-mtj``, 125–250 µS).
* ``quantized:L``: L levels equally spaced in conductance; stochastic rounding (``E[level] = t``) or nearest
  (``stochastic=False``). ``G = device.level_conductances_S()[level]``.
* ``dw:L``: domain-wall MTJ, wall position on L levels; realised like quantized, ``G`` from the device's levels.
* ``compound:N``: N binary MTJs per synapse, ``G = k·G_P + (N−k)·G_AP`` (k = MTJs in P), G_P = g_max/N and
  G_AP = g_min/N of the device. With ``d = gain·(t·N − k)``, each AP MTJ switches to P with probability
  ``min(1, d/(N−k))`` if d > 0, each P MTJ to AP with ``min(1, −d/k)`` if d < 0 (so ``E[Δk] = d`` for gain 1).
  G_P/G_AP have a device-to-device lognormal spread per synapse (``g_spread``); ``read_noise`` (relative σ of
  G) is applied at inference only.
* ``graded:P``: a graded LTP/LTD device (``devices.graded``), ``w = x``; ``t − w`` becomes ≈|t − w|·P pulses along
  the device's LTP or LTD curve (nonlinear steps, c2c noise per pulse): :class:`Graded`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from spinsyn.devices import (
    KIND_COMPOUND,
    KIND_DW,
    KIND_IDEAL,
    KIND_QUANTIZED,
    SynapseDevice,
    SynapseSpec,
    synapse_device,
)
from spinsyn.devices.synapse import KIND_GRADED

from .kinds import SYN_COMPOUND, SYN_CONTINUOUS, SYN_GRADED, SYN_LEVELS


@dataclass
class Synapse:
    """Base strategy: a spec realised on ``device``. Subclasses register under a ``spinsyn.devices`` kind."""

    spec: SynapseSpec
    device: SynapseDevice
    name: ClassVar[str] = ""
    kind: ClassVar[int] = SYN_CONTINUOUS

    def __post_init__(self) -> None:
        if self.spec.kind != self.name:
            raise ValueError(f"--synapse: {type(self).__name__} realises {self.name!r} specs, got {self.spec}")
        if self.device.spec != self.spec:
            raise ValueError(f"--synapse: device built for {self.device.spec}, not {self.spec}")

    @property
    def levels(self) -> int:
        """Number of states (0 = continuous)."""
        return self.spec.n_levels

    @property
    def n_states(self) -> int:
        """``n_lev`` argument of the kernels: levels (quantized, dw), MTJs (compound), 0 (ideal)."""
        return self.spec.n

    def options(self) -> dict[str, Any]:
        """The strategy's own options (``TrainConfig.synapse_options``)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.init and f.name not in ("spec", "device")}

    def g_bounds_S(self) -> tuple[float, float]:
        return self.device.g_bounds_S()

    def kernel_args(self) -> tuple[int, int, bool, float, float, float]:
        """(kind, n_lev, stochastic, gain, g_min, g_max): the synapse arguments of the update kernels."""
        opts = self.options()
        gmin, gmax = self.g_bounds_S()
        return self.kind, self.n_states, bool(opts.get("stochastic", True)), float(opts.get("gain", 1.0)), gmin, gmax

    def graded_args(self) -> tuple[float, float, float]:
        """(A_LTP, A_LTD in pulses, c2c σ per pulse as a fraction of the range): the graded-update arguments of
        the kernels; zeros for every kind but graded."""
        return 0.0, 0.0, 0.0

    def to_dict(self) -> dict:
        gmin, gmax = self.g_bounds_S()
        return {"spec": str(self.spec), **self.options(), "device_preset": self.device.preset,
                "g_min_S": gmin, "g_max_S": gmax}

    def init_state(self, w0: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(state int32 (784,N), g_P_S (784,N), g_AP_S (784,N)) realising the initial weights ``w0``."""
        gmin, gmax = self.g_bounds_S()
        shape = w0.shape
        return np.zeros((1, 1), np.int32), np.full(shape, gmax), np.full(shape, gmin)

    def g_S(self, w: Any, state: Any, gp: Any, gap: Any) -> np.ndarray:
        """Conductances (S) of weights ``w`` / levels ``state`` / cell conductances ``gp``, ``gap``: arrays, or None
        for the ones a kind does not use."""
        gmin, gmax = self.g_bounds_S()
        return gmin + w * (gmax - gmin)


@dataclass
class Ideal(Synapse):
    """Float weights in [0, 1] on the analog device's conductance range."""

    name: ClassVar[str] = KIND_IDEAL


@dataclass
class Quantized(Synapse):
    """L levels equally spaced in conductance (``stochastic`` rounding by default)."""

    name: ClassVar[str] = KIND_QUANTIZED
    kind: ClassVar[int] = SYN_LEVELS
    stochastic: bool = True
    level_g_S: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.level_g_S = self.device.level_conductances_S()

    @property
    def n_levels(self) -> int:
        return self.spec.n

    def init_state(self, w0, rng):
        L = self.n_levels - 1
        s = np.floor(w0 * L + rng.random(w0.shape)).astype(np.int32) if self.stochastic else np.rint(w0 * L)
        s = np.clip(s, 0, L).astype(np.int32)
        gmin, gmax = self.g_bounds_S()
        return s, np.full(w0.shape, gmax), np.full(w0.shape, gmin)

    def g_S(self, w, state, gp, gap):
        return self.level_g_S[state]


@dataclass
class DomainWall(Quantized):
    """Domain-wall MTJ with L wall positions; conductances of the device's levels."""

    name: ClassVar[str] = KIND_DW


@dataclass
class Compound(Synapse):
    """N binary STT-MTJs in parallel. ``g_spread``: lognormal σ of G_P and G_AP per synapse; ``gain``: ν→switching
    probability scale; ``read_noise``: relative σ of G at inference."""

    name: ClassVar[str] = KIND_COMPOUND
    kind: ClassVar[int] = SYN_COMPOUND
    gain: float = 1.0
    g_spread: float = 0.05
    read_noise: float = 0.02

    @property
    def n_mtj(self) -> int:
        return self.spec.n

    def mtj_conductances_S(self) -> tuple[float, float]:
        """Nominal (G_P, G_AP) of one MTJ: g_max/N and g_min/N of the device."""
        gmin, gmax = self.g_bounds_S()
        return gmax / self.n_mtj, gmin / self.n_mtj

    def init_state(self, w0, rng):
        n = self.n_mtj
        k = np.clip(np.floor(w0 * n + rng.random(w0.shape)), 0, n).astype(np.int32)
        gp0, gap0 = self.mtj_conductances_S()
        gp = gp0 * np.exp(self.g_spread * rng.standard_normal(w0.shape))
        gap = gap0 * np.exp(self.g_spread * rng.standard_normal(w0.shape))
        return k, gp, gap

    def g_S(self, w, state, gp, gap):
        return state * gp + (self.n_mtj - state) * gap


@dataclass
class Graded(Synapse):
    """A graded LTP/LTD device (``devices.graded.GradedDevice``): w = x, the normalised conductance; the rule's
    ΔW = t − w becomes stochastic (``stochastic``) or nearest rounding of |ΔW|·P pulses applied along the device's
    LTP (ΔW > 0) or LTD (ΔW < 0) curve with its cycle-to-cycle noise per pulse (``kernels.graded_step``). The
    device-to-device spread of the device is not applied in training (one nominal curve for every synapse)."""

    name: ClassVar[str] = KIND_GRADED
    kind: ClassVar[int] = SYN_GRADED
    stochastic: bool = True

    def graded_args(self) -> tuple[float, float, float]:
        m = self.device.model
        return float(m.a_ltp_pulses), float(m.a_ltd_pulses), float(m.sigma_c2c_pct) / 100


SYNAPSES: dict[str, type[Synapse]] = {c.name: c for c in (Ideal, Quantized, DomainWall, Compound, Graded)}


def synapse_option_names(kind: str) -> tuple[str, ...]:
    """Options a strategy of ``kind`` takes (``stochastic``; ``gain``, ``g_spread``, ``read_noise``)."""
    return tuple(f.name for f in dataclasses.fields(SYNAPSES[kind]) if f.init and f.name not in ("spec", "device"))


def _build(spec: SynapseSpec, device: SynapseDevice, options: dict[str, Any]) -> Synapse:
    allowed = synapse_option_names(spec.kind)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"synapse_options: {unknown} do not apply to {spec} synapses (options: {list(allowed)})")
    return SYNAPSES[spec.kind](spec, device, **options)


def make_synapse(spec: str | SynapseSpec, preset: str | None = None, device_params: dict[str, Any] | None = None,
                 **options: Any) -> Synapse:
    """The strategy for ``spec`` on ``synapse_device(spec, preset, **device_params)`` (``preset``: a preset name or
    a device file; ``device_params``: dataclass field overrides); ``options`` as in :attr:`Synapse.options`."""
    dev = synapse_device(SynapseSpec.parse(spec), preset, **(device_params or {}))
    return _build(dev.spec, dev, options)  # the device's spec: ``graded`` is graded:P of the device


def synapse_from_record(record: dict[str, Any], **options: Any) -> Synapse:
    """The strategy on the device of ``record`` (``SynapseDevice.record()``, as stored in a checkpoint)."""
    dev = SynapseDevice.from_record(record)
    return _build(dev.spec, dev, options)
