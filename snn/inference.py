"""Inference helpers shared by training, label assignment, evaluation and export: Poisson input probabilities,
per-image seeds, spike counts of a batch of images on an engine, the read-out of counts into accuracies, and the
read noise of compound synapses at inference.

Public so that :mod:`spinsyn.snn.trainer`, :mod:`spinsyn.snn.assign`, :mod:`spinsyn.snn.network` and
:mod:`spinsyn.hw_export` use one implementation (no private names imported across modules).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from . import labels as L
from .engine import NetState
from .kinds import SYN_COMPOUND
from .params import NetworkParams
from .synapses import Synapse

if TYPE_CHECKING:
    from .adc import AdcModel


def image_seeds(seed: int, epoch: int, positions: np.ndarray) -> np.ndarray:
    """uint32 seed per image from (seed, epoch, position in epoch) via splitmix64."""
    with np.errstate(over="ignore"):
        x = (np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(epoch) * np.uint64(0xBF58476D1CE4E5B9)
             + np.asarray(positions, np.uint64) + np.uint64(1))
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def spike_prob(images: np.ndarray, params: NetworkParams) -> np.ndarray:
    """Per-step spike probability (n, 784) float64 = pixel/255 · intensity · dt."""
    return images.reshape(len(images), 784).astype(np.float64) / 255.0 * params.intensity_Hz * params.dt_ms * 1e-3


def spike_counts(engine, images: np.ndarray, params: NetworkParams, seed_base: int, w: np.ndarray | None,
            chunk: int = 256, progress: Callable[[int], None] | None = None, read_noise_fn: Callable | None = None,
            min_spikes: int = 0, adc: AdcModel | None = None) -> np.ndarray:
    """Spike counts (n, N) of ``images``; ``read_noise_fn``: ``k -> w`` the noisy weights of the chunk starting at
    image ``k`` (:func:`noisy_weights_fn`), else the fixed weights ``w`` (None: the engine's own); ``adc``: the
    column ADC (:class:`~spinsyn.snn.adc.AdcModel`) on whatever weights a chunk uses (numba engine only), None:
    exact input sums."""
    extra = {} if adc is None else {"adc": adc}  # engines and stand-ins without the argument keep working
    p = spike_prob(images, params)
    if getattr(engine, "device", "cpu").startswith("cuda"):
        chunk = max(chunk, 2048)  # one batch of the torch engine per 2,048 images on a GPU
    out = []
    for k in range(0, len(p), chunk):
        seeds = image_seeds(seed_base, 10**6, np.arange(k, min(k + chunk, len(p))))
        ww = read_noise_fn(k) if read_noise_fn is not None else w
        out.append(engine.eval_counts(p[k:k + chunk], seeds, ww, **extra))
        if progress:
            progress(len(seeds))
    counts = np.concatenate(out) if out else np.zeros((0, params.n_neurons), np.int64)
    # Diehl & Cook 2015: an image that evokes fewer than `min_spikes` spikes is shown again with the input
    # rate raised by 32 Hz (up to 5 times). BindsNET does not do this; min_spikes = 0 turns it off.
    for r in range(1, 6 if min_spikes > 0 else 1):
        low = np.nonzero(counts.sum(1) < min_spikes)[0]
        if len(low) == 0:
            break
        scale = (params.intensity_Hz + 32.0 * r) / params.intensity_Hz
        for k in range(0, len(low), chunk):
            sel = low[k:k + chunk]
            seeds = image_seeds(seed_base, 10**6 + r, sel)
            ww = read_noise_fn(int(sel[0]) + 10**7 * r) if read_noise_fn is not None else w
            counts[sel] = engine.eval_counts(np.minimum(p[sel] * scale, 1.0), seeds, ww, **extra)
    return counts


def readout(counts: np.ndarray, labels: np.ndarray, assignments: np.ndarray, proportions: np.ndarray) -> dict:
    pa = L.predict_all_activity(counts, assignments)
    pp = L.predict_proportion(counts, assignments, proportions)
    return {
        # no test images (--n-test 0): no accuracy (null in metrics.json), not a measured 0 %
        "accuracy_all_activity": float(np.mean(pa == labels)) if len(labels) else None,
        "accuracy_proportion": float(np.mean(pp == labels)) if len(labels) else None,
        "confusion": L.confusion_matrix(labels, pa).tolist(),
    }


def noisy_weights_fn(net_syn: Synapse, g: np.ndarray | None, seed: int, sigma: float) -> Callable | None:
    """``k -> w`` for the chunk starting at image ``k``: ``G·(1 + σ·n)`` with n ~ N(0, 1) drawn from the stream
    ``[seed, 777, k]`` (the same draws for any ``g`` of the same shape), mapped to ``clip((G − G_min)/(G_max −
    G_min), 0, 1)``. None when σ ≤ 0."""
    if sigma <= 0:
        return None
    assert g is not None  # the caller reads G whenever σ > 0
    gmin, gmax = net_syn.g_bounds_S()

    def noisy(k: int) -> np.ndarray:
        rng = np.random.default_rng([seed, 777, k])
        gn = g * (1.0 + sigma * rng.standard_normal(g.shape))
        return np.ascontiguousarray(np.clip((gn - gmin) / (gmax - gmin), 0.0, 1.0))

    return noisy


def read_noise_sigma(net_syn: Synapse) -> float:
    """Relative σ of the read noise of ``net_syn`` at inference (compound ``read_noise``; 0 for the others)."""
    if net_syn.kind != SYN_COMPOUND:
        return 0.0
    return float(net_syn.options().get("read_noise", 0.0))


def read_noise_fn(net_syn: Synapse, ns: NetState, seed: int) -> Callable | None:
    g = net_syn.g_S(ns.w, ns.state, ns.gp_S, ns.gap_S) if read_noise_sigma(net_syn) > 0 else None
    return noisy_weights_fn(net_syn, g, seed, read_noise_sigma(net_syn))
