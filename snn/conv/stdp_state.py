"""Where the STDP of conv 1-2 stands after a pass: layer, passes done, learning rates and the random stream (issue 27).

Conv 1-2 train for minutes to tens of minutes on the full MNIST training set (2 + 4 passes over 60,000 images) before
the first R-STDP pass. A run interrupted there continues from its last checkpoint instead of starting over: after
every pass :func:`.network._train_stdp_layer` saves :class:`StdpState` in the network's history
(``history["stdp_state"]``) next to the weights, and :func:`.resume.resume_conv` continues the layer from it with
the same a+ / a− (doubled every ``lr_double_every`` images, [M19]), image count and generator state, so the result
equals a run that never stopped. When conv 2 is done the state stays (``layer`` 1, ``passes_done`` = E2) and the
R-STDP state (:mod:`.rstdp_state`) takes over.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: key of the state in :attr:`.network.ConvNetwork.history`
STDP_KEY = "stdp_state"


@dataclass
class StdpState:
    """STDP of conv layer ``layer`` (0: conv 1, 1: conv 2) after ``passes_done`` passes over the training images:
    the current a+ and a− and the images seen in this layer (for the doubling schedule), the generator's state."""

    layer: int
    passes_done: int
    a_plus: float
    a_minus: float
    seen: int = 0
    rng: dict[str, Any] | None = None

    @staticmethod
    def start(layer: int, a_plus: float, a_minus: float) -> StdpState:
        """Before the first pass of ``layer``: the configured rates, no image seen."""
        return StdpState(layer, 0, float(a_plus), float(a_minus))

    def record(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def saved(history: dict[str, Any]) -> StdpState | None:
        """The state saved in a network's history; None when there is none (a fresh network, or one saved before
        conv 1-2 were checkpointed: then only a network past conv 1-2 can be resumed)."""
        rec = history.get(STDP_KEY)
        return None if rec is None else StdpState(**rec)

    def save(self, history: dict[str, Any], rng: np.random.Generator) -> None:
        """Record the generator's current state and store this state in ``history``."""
        self.rng = dict(rng.bit_generator.state)
        history[STDP_KEY] = self.record()

    def describe(self, epochs: tuple[int, int]) -> str:
        """``"conv 2 pass 3 of 4"``: where a run resumed from this state starts (``epochs`` = (E1, E2))."""
        return f"conv {self.layer + 1} pass {self.passes_done} of {epochs[self.layer]}"
