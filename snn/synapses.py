"""Hardware-aware synapse models (registry; parse ``ideal``, ``quantized:L``, ``compound:N``, ``dw:L``).

Every model stores a conductance ``g_S`` per synapse (784, N) and the network uses
``w = (G − G_min)/(G_max − G_min)`` clipped to [0, 1]. At the end of each image the learning rule gives a
continuous target ``t = clip(w + ΔW, 0, 1)`` (then scaled per neuron to sum 78.4 when normalisation is on;
a chip cannot do this step: it needs a column sum and a division per neuron). The model realises the target:

* ``ideal``: ``w = t`` (float64).
* ``quantized:L``: L equally spaced levels; stochastic rounding (``E[level] = t``) or nearest (``stochastic=False``).
* ``compound:N``: N binary MTJs per synapse, ``G = k·G_P + (N−k)·G_AP`` (k = MTJs in P). With
  ``d = gain·(t·N − k)``, each AP MTJ switches to P with probability ``min(1, d/(N−k))`` if d > 0, each P MTJ
  to AP with ``min(1, −d/k)`` if d < 0 (so ``E[Δk] = d`` for gain 1). G_P/G_AP have a device-to-device
  lognormal spread per synapse; ``read_noise`` (relative σ of G) is applied at inference only.
* ``dw:L``: domain-wall MTJ, wall position on L levels, G linear in position; realised like quantized.

Default conductances: R_P = 6.22 kΩ, R_AP = 10.57 kΩ (``spinsyn.devices.STTMTJ`` when it exists).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

R_P_OHM = 6.22e3  # fallback STT-MTJ parallel resistance (devices stage default)
R_AP_OHM = 10.57e3  # fallback STT-MTJ antiparallel resistance at 0 V
KIND_IDEAL, KIND_QUANT, KIND_COMPOUND = 0, 1, 2


def mtj_conductances_S() -> tuple[float, float]:
    """(G_P, G_AP) in siemens from ``spinsyn.devices`` when available, else 1/6.22 kΩ and 1/10.57 kΩ."""
    try:
        from spinsyn.devices import STTMTJ, conductance_S  # type: ignore[attr-defined]

        m = STTMTJ()
        g = conductance_S(m, np.array([1, 0]), v_read_V=0.1)
        gp, gap = float(g[0]), float(g[1])
        if gp > gap > 0:
            return gp, gap
    except Exception:  # noqa: BLE001 - devices stage not there yet or other API: use the defaults
        pass
    return 1.0 / R_P_OHM, 1.0 / R_AP_OHM


@dataclass
class Synapse:
    """Base class. ``levels`` = number of states (0 = continuous)."""

    name: ClassVar[str] = ""
    kind: ClassVar[int] = KIND_IDEAL

    @property
    def levels(self) -> int:
        return 0

    @property
    def spec(self) -> str:
        return self.name

    def g_bounds_S(self) -> tuple[float, float]:
        gp, gap = mtj_conductances_S()
        return gap, gp

    def to_dict(self) -> dict:
        d = asdict(self)
        d["spec"] = self.spec
        return d

    def init_state(self, w0: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(state int32 (784,N), g_P_S (784,N), g_AP_S (784,N)) realising the initial weights ``w0``."""
        gmin, gmax = self.g_bounds_S()
        shape = w0.shape
        return np.zeros((1, 1), np.int32), np.full(shape, gmax), np.full(shape, gmin)

    def g_S(self, w: np.ndarray, state: np.ndarray, gp: np.ndarray, gap: np.ndarray) -> np.ndarray:
        gmin, gmax = self.g_bounds_S()
        return gmin + w * (gmax - gmin)


@dataclass
class Ideal(Synapse):
    """Float weights in [0, 1]."""

    name: ClassVar[str] = "ideal"


@dataclass
class Quantized(Synapse):
    """``L`` levels in [0, 1] (``stochastic`` rounding by default)."""

    name: ClassVar[str] = "quantized"
    kind: ClassVar[int] = KIND_QUANT
    n_levels: int = 9
    stochastic: bool = True

    @property
    def levels(self) -> int:
        return self.n_levels

    @property
    def spec(self) -> str:
        return f"{self.name}:{self.n_levels}"

    def init_state(self, w0, rng):
        L = self.n_levels - 1
        s = np.floor(w0 * L + rng.random(w0.shape)).astype(np.int32) if self.stochastic else np.rint(w0 * L)
        s = np.clip(s, 0, L).astype(np.int32)
        gmin, gmax = self.g_bounds_S()
        return s, np.full(w0.shape, gmax), np.full(w0.shape, gmin)

    def g_S(self, w, state, gp, gap):
        gmin, gmax = self.g_bounds_S()
        return gmin + state / (self.n_levels - 1) * (gmax - gmin)


@dataclass
class DomainWall(Quantized):
    """Domain-wall MTJ with ``L`` wall positions, conductance linear in position."""

    name: ClassVar[str] = "dw"
    n_levels: int = 16


@dataclass
class Compound(Synapse):
    """``n_mtj`` binary STT-MTJs in parallel. ``g_spread``: lognormal σ of G_P and G_AP per synapse."""

    name: ClassVar[str] = "compound"
    kind: ClassVar[int] = KIND_COMPOUND
    n_mtj: int = 8
    gain: float = 1.0
    g_spread: float = 0.05
    read_noise: float = 0.02

    @property
    def levels(self) -> int:
        return self.n_mtj + 1

    @property
    def spec(self) -> str:
        return f"{self.name}:{self.n_mtj}"

    def g_bounds_S(self) -> tuple[float, float]:
        gp, gap = mtj_conductances_S()
        return self.n_mtj * gap, self.n_mtj * gp

    def init_state(self, w0, rng):
        n = self.n_mtj
        k = np.clip(np.floor(w0 * n + rng.random(w0.shape)), 0, n).astype(np.int32)
        gp0, gap0 = mtj_conductances_S()
        gp = gp0 * np.exp(self.g_spread * rng.standard_normal(w0.shape))
        gap = gap0 * np.exp(self.g_spread * rng.standard_normal(w0.shape))
        return k, gp, gap

    def g_S(self, w, state, gp, gap):
        return state * gp + (self.n_mtj - state) * gap


SYNAPSES: dict[str, type[Synapse]] = {c.name: c for c in (Ideal, Quantized, DomainWall, Compound)}


def parse_synapse(spec: str, **overrides: Any) -> Synapse:
    """``"ideal"``, ``"quantized:L"``, ``"compound:N"``, ``"dw:L"`` → a synapse model. Raises ValueError."""
    name, _, arg = str(spec).partition(":")
    if name not in SYNAPSES:
        raise ValueError(f"--synapse: unknown synapse spec {spec!r}; expected ideal, quantized:L, compound:N or dw:L")
    cls = SYNAPSES[name]
    if name == "ideal":
        if arg:
            raise ValueError(f"--synapse: 'ideal' takes no argument, got {spec!r}")
        return cls(**overrides)
    if not arg:
        return cls(**overrides)
    try:
        n = int(arg)
    except ValueError:
        raise ValueError(f"--synapse: {spec!r}: the number after ':' must be an integer") from None
    if name == "compound":
        if n < 1:
            raise ValueError(f"--synapse: {spec!r}: a compound synapse needs at least 1 MTJ, got {n}")
        return cls(n_mtj=n, **overrides)
    if n < 2:
        raise ValueError(f"--synapse: {spec!r}: levels must be >= 2, got {n}")
    return cls(n_levels=n, **overrides)


def synapse_from_dict(d: dict) -> Synapse:
    d = dict(d)
    spec = d.pop("spec")
    name = spec.partition(":")[0]
    return SYNAPSES[name](**d)
