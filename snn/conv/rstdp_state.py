"""Where R-STDP stands after a pass: adaptive rates, block counts, passes done and the random stream (issue 27).

Mozafari et al. 2019's 680 R-STDP passes take hours; a run that stops (a time limit, a session) is continued from
its saved network by :func:`.network.resume_conv`. That needs everything the next pass depends on besides the
weights: the adaptive learning-rate factors f_miss and f_hit ([M19] §2.3), the hit / miss counts of the current
block of ``adapt_every`` images, and the state of the NumPy generator (the next pass's image order and device
draws). :class:`RstdpState` holds them and is saved with the network (``history["rstdp_state"]``), so a resumed
run makes the same draws and decisions as one that never stopped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: key of the state in :attr:`.network.ConvNetwork.history`
STATE_KEY = "rstdp_state"


@dataclass
class RstdpState:
    """R-STDP state after ``passes_done`` passes: rate factors, counts of the current block, generator state."""

    passes_done: int
    f_miss: float
    f_hit: float
    hits: int = 0
    misses: int = 0
    block: int = 0
    rng: dict[str, Any] | None = None

    @staticmethod
    def start(n_classes: int, unscaled: bool = False) -> RstdpState:
        """Before the first pass: chance-level ratios ([M19]), or 1 and 1 with ``unscaled`` (as [ST] runs its first
        block; ``ConvConfig.rstdp_unscaled_first_block``)."""
        if unscaled:
            return RstdpState(0, 1.0, 1.0)
        return RstdpState(0, 1.0 - 1.0 / n_classes, 1.0 / n_classes)

    def count(self, adapt_every: int) -> None:
        """One more image of the block; at ``adapt_every`` images the factors become that block's ratios."""
        self.block += 1
        if self.block == adapt_every:
            self.f_miss, self.f_hit = self.misses / self.block, self.hits / self.block
            self.hits = self.misses = self.block = 0

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """([f_miss, f_hit] float64, [hits, misses, block] int64), the compiled pass's in-place view."""
        return np.array([self.f_miss, self.f_hit]), np.array([self.hits, self.misses, self.block], np.int64)

    def set_arrays(self, rates: np.ndarray, counts: np.ndarray) -> None:
        self.f_miss, self.f_hit = float(rates[0]), float(rates[1])
        self.hits, self.misses, self.block = (int(v) for v in counts)

    def record(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_history(history: dict[str, Any], n_classes: int, unscaled: bool = False) -> RstdpState:
        """The state saved in a network's history; the start state (:meth:`start`) when there is none."""
        rec = history.get(STATE_KEY)
        if rec is None:
            return RstdpState.start(n_classes, unscaled)
        return RstdpState(**rec)

    def restore_rng(self, rng: np.random.Generator) -> None:
        """Put ``rng`` where the saved run's generator was (no-op without a saved generator state)."""
        restore_generator(rng, self.rng)


def restore_generator(rng: np.random.Generator, saved: dict[str, Any] | None) -> None:
    """Put ``rng`` in the ``bit_generator.state`` ``saved`` (no-op for None); ValueError for another bit generator."""
    if saved is not None:
        if saved.get("bit_generator") != type(rng.bit_generator).__name__:
            raise ValueError(f"saved generator {saved.get('bit_generator')!r} is not "
                             f"{type(rng.bit_generator).__name__}")
        rng.bit_generator.state = saved
