"""Training of the convolutional network with the torch pieces (issue 27): :func:`train_conv_torch`.

Same contract, schedule and random stream as :func:`.network.train_conv`: ``rng = default_rng(seed)`` draws the
initial weights, then the image order of every pass and the device updates, phase by phase. What runs where:

* conv 1-2 STDP: the numba path (:func:`.network._train_stdp_layer`; the winners of one image depend on every
  earlier image's update, and the batched variant is not implemented);
* the cached inputs of conv 2 and conv 3 (layers frozen): :func:`.torch_path.propagate_torch`, batched;
* R-STDP of the decision layer: :func:`.torch_rstdp.train_rstdp_torch`, batched and exact.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ..rules import LearningRule
from ..synapses import Synapse, make_synapse
from .config import ConvConfig
from .network import ConvNetwork, EpochHook, _compile_rule, _train_stdp_layer, encode, init_network
from .torch_path import FORWARD_BATCH, propagate_torch, torch_device
from .torch_rstdp import RSTDP_BATCH, train_rstdp_torch


def _check(config: ConvConfig, images: np.ndarray, labels: np.ndarray) -> None:
    if images.ndim != 3 or len(images) != len(labels) or len(images) == 0:
        raise ValueError(f"images (n, H, W) and labels (n,) must match and be non-empty, got {images.shape}, "
                         f"{labels.shape}")
    if labels.min() < 0 or labels.max() >= config.n_classes:
        raise ValueError(f"labels must be in 0..{config.n_classes - 1}")


def _synapse(synapse: str | Synapse | None) -> Synapse | None:
    if synapse is None or synapse == "ideal":
        return None
    return make_synapse(synapse) if isinstance(synapse, str) else synapse


def train_conv_torch(config: ConvConfig, images: np.ndarray, labels: np.ndarray, *, seed: int,
                     synapse: str | Synapse | None = None, device: str = "cuda",
                     log: Callable[[str], None] | None = None, on_epoch: EpochHook | None = None,
                     rule: LearningRule | None = None, forward_batch: int = FORWARD_BATCH,
                     rstdp_batch: int = RSTDP_BATCH) -> ConvNetwork:
    """:func:`.network.train_conv` (same arguments, same random draws in the same order, same ``history`` plus
    ``"device"``) with the forward caches and the R-STDP batched on ``device`` ("cuda", "cuda:N", "cpu", "auto";
    ValueError when CUDA is asked for and not available). With float64 on the CPU the network equals
    :func:`.network.train_conv`'s as long as no decision-layer potentials tie within float64 rounding (the numba
    path sums float32); on CUDA the conv 1-2 potentials are float32 (see :mod:`.torch_path`)."""
    dev = str(torch_device(device))
    images = np.asarray(images)
    labels = np.asarray(labels).astype(np.int64)
    _check(config, images, labels)
    syn = _synapse(synapse)
    f_tab, rule_info = _compile_rule(rule, config)
    rng = np.random.default_rng(seed)
    net = init_network(config, syn, rng)
    t0 = time.perf_counter()
    s0 = encode(config, images)
    timing = {"encode_s": time.perf_counter() - t0}
    t0 = time.perf_counter()
    _train_stdp_layer(net, 0, s0, config.epochs1, rng, log, f_tab)
    timing["conv1_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    s1 = propagate_torch(net, s0, 1, dev, batch=forward_batch)
    _train_stdp_layer(net, 1, s1, config.epochs2, rng, log, f_tab)
    timing["conv2_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    x3 = propagate_torch(net, s1, 2, dev, first=1, batch=forward_batch) < config.T
    acc = train_rstdp_torch(net, x3, labels, config.epochs3, rng, dev, batch=rstdp_batch, log=log,
                            on_epoch=on_epoch)
    timing["conv3_s"] = time.perf_counter() - t0
    net.history = {"train_accuracy": acc, "timing": timing, "n_train": int(len(images)), "seed": int(seed),
                   "rule": rule_info, "device": dev}
    return net
