"""Locally connected (LC) geometry of ``spinsyn train --network lc`` (Saunders et al. 2019).

D. J. Saunders, D. Patel, H. Hazan, H. T. Siegelmann, R. Kozma, "Locally connected spiking neural networks for
unsupervised feature learning", Neural Networks 119 (2019) 332–340 (arXiv:1904.06269); their code is BindsNET's
``LocallyConnectedNetwork`` (``bindsnet/models/models.py``) on ``LocalConnection`` (``bindsnet/network/topology.py``).

An LC network is the Diehl & Cook network of :mod:`spinsyn.snn.engine` with two changes, both derived here from the
geometry: the input → excitatory weights (784, N) carry a fixed connectivity mask (neuron j sees only the k×k
patch of its location), and lateral inhibition acts only among the neurons of one location (its ``filters``
neurons), not all-to-all. Neuron order as BindsNET's ``LocalConnection``: ``j = filter · n_locations + location``,
locations row-major over the output grid. Pure numpy; no engine imports it back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

#: side of the (square) input image: MNIST 28 × 28, uncropped (Saunders et al. crop 4 pixels per border: 20 × 20)
IMAGE_SIDE = 28
#: per-neuron normalisation constant per input of its patch: each neuron's incoming weights sum to 0.2 · k²
#: (BindsNET ``LocallyConnectedNetwork(norm=0.2)``, multiplied by the kernel's size in ``LocalConnection.__init__``;
#: Diehl & Cook: 78.4 over 784 inputs, i.e. 0.1 per input)
NORM_PER_INPUT = 0.2
#: inhibitory → excitatory weight of an LC network unless ``--w-inh`` (mV): the authors' experiment scripts run
#: with ``--inhib 250`` (BindsNET's class default is 25; Diehl & Cook here: 120)
LC_W_INH_MV = 250.0


@dataclass(frozen=True)
class LocalGeometry:
    """Patches of ``kernel`` × ``kernel`` pixels every ``stride`` pixels over the central ``(side − 2·crop)²`` pixels
    of a ``side`` × ``side`` image, ``filters`` neurons per location; locations ``((side − 2·crop − kernel) //
    stride + 1)²`` (valid positions, no padding, as BindsNET's ``LocalConnection``). The authors' scripts crop the
    image to 20 × 20 (``crop`` 4) and feed 400 inputs; here all 784 pixels stay inputs and the border ones reach no
    neuron (the same network: a masked input contributes nothing)."""

    kernel: int  # patch side, pixels; Saunders et al. scripts (crop_locally_connected.py) --kernel_size 16
    stride: int  # pixels between patches; scripts --stride 2
    filters: int  # neurons per location; scripts --n_filters 25
    crop: int = 4  # border pixels left out; scripts --crop 4 (28 → 20 × 20)
    side: int = IMAGE_SIDE

    @property
    def grid(self) -> int:
        """Locations per row (and per column) of the output grid."""
        return (self.side - 2 * self.crop - self.kernel) // self.stride + 1

    @property
    def n_locations(self) -> int:
        return self.grid * self.grid

    @property
    def n_neurons(self) -> int:
        return self.filters * self.n_locations

    @property
    def norm(self) -> float:
        """Per-neuron sum of the input weights: :data:`NORM_PER_INPUT` · kernel² (BindsNET)."""
        return NORM_PER_INPUT * self.kernel * self.kernel

    def to_dict(self) -> dict:
        return asdict(self)

    def check(self) -> LocalGeometry:
        """``self`` when the numbers form a geometry, else ValueError naming the option."""
        for name, flag, lo in (("kernel", "--lc-kernel", 1), ("stride", "--lc-stride", 1),
                               ("filters", "--lc-filters", 1), ("crop", "--lc-crop", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"{flag}: expected an integer >= {lo}, got {v!r}")
        if self.side != IMAGE_SIDE:
            raise ValueError(f"network.lc.side: expected {IMAGE_SIDE} (MNIST), got {self.side!r}")
        inner = self.side - 2 * self.crop
        if self.kernel > inner:
            raise ValueError(f"--lc-kernel: {self.kernel} does not fit the {inner}x{inner} pixels left by --lc-crop "
                             f"{self.crop}")
        return self


def location_groups(geo: LocalGeometry) -> np.ndarray:
    """(N,) int64: the location of each neuron (``j mod n_locations``), the inhibition group of the engines."""
    return np.arange(geo.n_neurons, dtype=np.int64) % geo.n_locations


def connectivity_mask(geo: LocalGeometry) -> np.ndarray:
    """(784, N) uint8: 1 where input pixel i (row-major) lies in the k×k patch of neuron j's location."""
    g, k, s, side, o = geo.grid, geo.kernel, geo.stride, geo.side, geo.crop
    loc = np.zeros((side * side, geo.n_locations), np.uint8)
    for r in range(g):  # g² patches (at most 28²): building the mask, not a hot path
        for c in range(g):
            img = np.zeros((side, side), np.uint8)
            img[o + r * s:o + r * s + k, o + c * s:o + c * s + k] = 1
            loc[:, r * g + c] = img.ravel()
    return np.ascontiguousarray(np.tile(loc, (1, geo.filters)))


def geometry_of(network: dict) -> LocalGeometry | None:
    """The geometry stored in a config's ``network`` dict (key ``lc``), None for a Diehl & Cook network."""
    d = network.get("lc") if isinstance(network, dict) else None
    if d is None:
        return None
    if not isinstance(d, dict):
        raise ValueError(f"network.lc: expected a JSON object, got {d!r}")
    try:
        return LocalGeometry(**d).check()
    except TypeError as exc:
        raise ValueError(f"network.lc: {exc}") from None
