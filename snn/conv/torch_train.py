"""Training of the convolutional network with the torch pieces (issue 27): :func:`train_conv_torch`.

:func:`.network.train_conv` with a torch :class:`.network.ConvBackend`: same contract, schedule and random stream
(``rng = default_rng(seed)`` draws the initial weights, then the image order of every pass and the device updates,
phase by phase). What runs where:

* conv 1-2 STDP: the numba path (:func:`.network._train_stdp_layer`; the winners of one image depend on every
  earlier image's update, and the batched variant is not implemented);
* the cached inputs of conv 2 and conv 3 (layers frozen): :func:`.torch_path.propagate_torch`, batched;
* R-STDP of the decision layer: :func:`.torch_rstdp.train_rstdp_torch`, batched and exact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..rules import LearningRule
from ..synapses import Synapse
from .config import ConvConfig
from .network import ConvBackend, ConvNetwork, EpochHook, StdpPassHook, train_conv
from .torch_path import FORWARD_BATCH, propagate_torch, torch_device
from .torch_rstdp import RSTDP_BATCH, train_rstdp_torch


def torch_backend(device: str = "cuda", *, forward_batch: int = FORWARD_BATCH,
                  rstdp_batch: int = RSTDP_BATCH) -> ConvBackend:
    """The torch :class:`.network.ConvBackend` on ``device`` ("cuda", "cuda:N", "cpu", "auto"; ValueError when CUDA
    is asked for and not available)."""
    dev = str(torch_device(device))

    def inputs(net: ConvNetwork, s: np.ndarray, first: int, upto: int) -> np.ndarray:
        return propagate_torch(net, s, upto, dev, first=first, batch=forward_batch)

    def rstdp(net: ConvNetwork, x3: np.ndarray, labels: np.ndarray, epochs: int, rng: np.random.Generator,
              log: Any, on_epoch: Any) -> list[float]:
        return train_rstdp_torch(net, x3, labels, epochs, rng, dev, batch=rstdp_batch, log=log, on_epoch=on_epoch)

    return ConvBackend(dev, inputs, rstdp)


def train_conv_torch(config: ConvConfig, images: np.ndarray, labels: np.ndarray, *, seed: int,
                     synapse: str | Synapse | None = None, device: str = "cuda",
                     log: Callable[[str], None] | None = None, on_epoch: EpochHook | None = None,
                     rule: LearningRule | None = None, forward_batch: int = FORWARD_BATCH,
                     rstdp_batch: int = RSTDP_BATCH, on_stdp_pass: StdpPassHook | None = None) -> ConvNetwork:
    """:func:`.network.train_conv` (same arguments, same random draws in the same order, ``history["device"]`` the
    torch device) with the forward caches and the R-STDP batched on ``device``. With float64 on the CPU the network
    equals :func:`.network.train_conv`'s as long as no decision-layer potentials tie within float64 rounding (the
    numba path sums float32); on CUDA the conv 1-2 potentials are float32 (see :mod:`.torch_path`)."""
    backend = torch_backend(device, forward_batch=forward_batch, rstdp_batch=rstdp_batch)
    return train_conv(config, images, labels, seed=seed, synapse=synapse, log=log, on_epoch=on_epoch, rule=rule,
                      backend=backend, on_stdp_pass=on_stdp_pass)
