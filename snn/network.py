"""Training, evaluation, checkpoints and the public API (``train``, ``load_run``, ``evaluate``).

A run: initial weights ``w = 0.3·U(0,1)`` (normalised per neuron when ``norm`` is on), then ``epochs`` passes
over ``n_train`` images in a seeded random order per epoch, ``batch`` images at a time; a checkpoint every
``checkpoint_every`` images. Labels are then assigned with learning off on ``n_assign`` training images
(per-class mean response) and ``n_test`` test images are classified ("all activity" and "proportion
weighting"). Random streams derive from ``(seed, epoch, position)`` only, so a resumed run ends with the same
weights as an uninterrupted one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from spinsyn.devices import SynapseDevice, SynapseSpec

from . import labels as L
from .checkpoint import compiled_rule, net_state, read_checkpoint
from .config import TrainConfig, resolve_device
from .engine import NetState, make_engine
from .kinds import SYN_COMPOUND, SYN_CONTINUOUS
from .params import NetworkParams
from .rules import CompiledRule, LearningRule, rule_from_dict
from .synapses import Synapse, synapse_from_record

HISTORY_EVERY = 250  # images between running-accuracy points
ASSIGN_WINDOW = 5000  # images whose responses give the running-accuracy label assignment


@dataclass
class TrainedNetwork:
    """A trained network as loaded from a run directory."""

    config: TrainConfig
    params: NetworkParams
    synapse: Synapse  # strategy on the device the network trained on
    rule: LearningRule  # the rule's options (its file is not read again: see ``compiled``)
    compiled: CompiledRule  # the compiled rule stored in the checkpoint
    w: np.ndarray  # (784, N) in [0, 1]
    g_S: np.ndarray  # (784, N) conductances
    state: np.ndarray | None  # (784, N) levels / MTJ counts, None for ideal
    theta: np.ndarray  # (N,) mV
    assignments: np.ndarray  # (N,) class per neuron
    proportions: np.ndarray  # (N, 10)
    gp_S: np.ndarray | None = None
    gap_S: np.ndarray | None = None

    @property
    def n_neurons(self) -> int:
        return int(self.w.shape[1])

    @property
    def spec(self) -> SynapseSpec:
        return self.synapse.spec

    @property
    def synapse_device(self) -> SynapseDevice:
        return self.synapse.device


# ---------------------------------------------------------------------------------------------- helpers
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


def init_state(params: NetworkParams, syn: Synapse, seed: int, norm: float) -> NetState:
    rng = np.random.default_rng([seed, 12345])
    N = params.n_neurons
    w0 = params.w_init_max * rng.random((784, N))
    if norm > 0:
        w0 = np.minimum(w0 * (norm / w0.sum(0, keepdims=True)), 1.0)
    state, gp, gap = syn.init_state(w0, rng)
    gmin, gmax = syn.g_bounds_S()
    if syn.kind == SYN_CONTINUOUS:
        w = w0
    else:
        w = np.clip((syn.g_S(w0, state, gp, gap) - gmin) / (gmax - gmin), 0.0, 1.0)
    return NetState(np.ascontiguousarray(w), state, gp, gap, np.zeros(N))


# ---------------------------------------------------------------------------------------------- loading
def load_run(run_dir: str | Path) -> TrainedNetwork:
    """Load a trained network from ``run_dir/checkpoint.pt`` (written by :func:`train`); reads nothing else (the
    synapse device and the compiled rule come from the checkpoint)."""
    ck = read_checkpoint(run_dir)
    cfg = TrainConfig.from_json(ck["config_json"])
    params = NetworkParams.from_dict(cfg.network)
    syn = synapse_from_record(json.loads(ck["synapse_device_json"]), **cfg.synapse_options)
    ns = net_state(ck)
    N = params.n_neurons
    return TrainedNetwork(
        cfg, params, syn, rule_from_dict(cfg.rule), compiled_rule(ck), ns.w, ck["g_S"].numpy(),
        ns.state if "state" in ck else None, ns.theta,
        ck["assignments"].numpy() if "assignments" in ck else np.zeros(N, np.int64),
        ck["proportions"].numpy() if "proportions" in ck else np.zeros((N, 10)),
        ns.gp_S if "gp_S" in ck else None, ns.gap_S if "gap_S" in ck else None,
    )


# ---------------------------------------------------------------------------------------------- inference
def _counts(engine, images: np.ndarray, params: NetworkParams, seed_base: int, w: np.ndarray | None,
            chunk: int = 256, progress: Callable[[int], None] | None = None, read_noise_fn: Callable | None = None,
            min_spikes: int = 0) -> np.ndarray:
    """Spike counts (n, N) of ``images``; ``read_noise_fn``: ``k -> w`` the noisy weights of the chunk starting at
    image ``k`` (:func:`_noisy_weights_fn`), else the fixed weights ``w`` (None: the engine's own)."""
    p = spike_prob(images, params)
    if getattr(engine, "device", "cpu").startswith("cuda"):
        chunk = max(chunk, 2048)  # one batch of the torch engine per 2,048 images on a GPU
    out = []
    for k in range(0, len(p), chunk):
        seeds = image_seeds(seed_base, 10**6, np.arange(k, min(k + chunk, len(p))))
        ww = read_noise_fn(k) if read_noise_fn is not None else w
        out.append(engine.eval_counts(p[k:k + chunk], seeds, ww))
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
            counts[sel] = engine.eval_counts(np.minimum(p[sel] * scale, 1.0), seeds, ww)
    return counts


def _readout(counts: np.ndarray, labels: np.ndarray, assignments: np.ndarray, proportions: np.ndarray) -> dict:
    pa = L.predict_all_activity(counts, assignments)
    pp = L.predict_proportion(counts, assignments, proportions)
    return {
        # no test images (--n-test 0): no accuracy (null in metrics.json), not a measured 0 %
        "accuracy_all_activity": float(np.mean(pa == labels)) if len(labels) else None,
        "accuracy_proportion": float(np.mean(pp == labels)) if len(labels) else None,
        "confusion": L.confusion_matrix(labels, pa).tolist(),
    }


def _noisy_weights_fn(net_syn: Synapse, g: np.ndarray | None, seed: int, sigma: float) -> Callable | None:
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


def _read_noise_fn(net_syn: Synapse, ns: NetState, seed: int) -> Callable | None:
    g = net_syn.g_S(ns.w, ns.state, ns.gp_S, ns.gap_S) if read_noise_sigma(net_syn) > 0 else None
    return _noisy_weights_fn(net_syn, g, seed, read_noise_sigma(net_syn))


def _eval_inputs(net: TrainedNetwork, ns: NetState, w: np.ndarray | None, g_S: np.ndarray | None,
                 apply_read_noise: bool | None) -> tuple[np.ndarray | None, Callable | None]:
    """(fixed weights or None, read-noise function or None) for :func:`evaluate`."""
    for name, a in (("w", w), ("g_S", g_S)):
        if a is not None and np.shape(a) != net.w.shape:
            raise ValueError(f"{name}: expected shape {net.w.shape}, got {np.shape(a)}")
    if w is not None and g_S is not None:
        raise ValueError("evaluate: pass w or g_S, not both")
    syn = net.synapse
    if apply_read_noise is None:  # the behaviour before the switch existed
        if w is None and g_S is None:
            return None, _read_noise_fn(syn, ns, net.config.seed)
        apply_read_noise = False
    gmin, gmax = syn.g_bounds_S()
    if g_S is None:
        g_S = syn.g_S(ns.w, ns.state, ns.gp_S, ns.gap_S) if w is None else gmin + np.asarray(w, np.float64) * (
            gmax - gmin)
    g = np.ascontiguousarray(np.asarray(g_S, np.float64))
    sigma = read_noise_sigma(syn) if apply_read_noise else 0.0
    if sigma > 0:
        return None, _noisy_weights_fn(syn, g, net.config.seed, sigma)
    if w is not None:
        return np.ascontiguousarray(np.asarray(w, np.float64)), None
    return np.ascontiguousarray(np.clip((g - gmin) / (gmax - gmin), 0.0, 1.0)), None


def evaluate(net: TrainedNetwork, images: np.ndarray, labels: np.ndarray, device: str = "auto",
             w: np.ndarray | None = None, *, g_S: np.ndarray | None = None, apply_read_noise: bool | None = None,
             per_image: bool = False, read_noise: bool | None = None) -> dict:
    """Classify ``images`` (n, 28, 28) uint8 with ``net``'s label assignment. Returns
    ``{"accuracy_all_activity", "accuracy_proportion", "confusion", "n_test", "test_samples_per_s", "device"}``
    (with ``per_image``: also ``correct_all_activity`` / ``correct_proportion``, (n,) bool per image).

    ``w`` (784, N) in [0, 1] overrides the input weights (e.g. programmed conductances mapped back); ``g_S``
    (784, N) overrides the input *conductances* (S), used as ``w = clip((G − G_min)/(G_max − G_min), 0, 1)`` on
    the network's bounds. ``apply_read_noise``: None (default) keeps the original behaviour: compound synapses get a
    fresh read noise per chunk of images on their trained conductances unless ``w`` or ``g_S`` is given;
    True applies the synapse's read noise (compound ``read_noise`` σ, none for other kinds) to whichever
    conductances are evaluated (trained, ``g_S``, or ``G_min + w·(G_max − G_min)``), with the same draws for
    the same chunk whatever the conductances, so evaluations differ only by their conductances; False: none.
    ``read_noise``: the old name of ``apply_read_noise``, still accepted.
    The Poisson input spikes are the same in every call (seeded per image position)."""
    if read_noise is not None:
        if apply_read_noise is not None:
            raise ValueError("evaluate: pass apply_read_noise or its old name read_noise, not both")
        apply_read_noise = read_noise
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"images: expected shape (n, 28, 28), got {images.shape}")
    if len(labels) != len(images):
        raise ValueError(f"labels: expected {len(images)} labels, got {len(labels)}")
    dev = resolve_device(device)
    ns = NetState(np.ascontiguousarray(net.w, dtype=np.float64),
                  net.state if net.state is not None else np.zeros((1, 1), np.int32),
                  net.gp_S if net.gp_S is not None else np.ones((1, 1)),
                  net.gap_S if net.gap_S is not None else np.ones((1, 1)), np.asarray(net.theta, np.float64))
    w, noise = _eval_inputs(net, ns, w, g_S, apply_read_noise)
    eng = make_engine("numba" if dev == "cpu" else "torch", ns, net.params, net.compiled, net.synapse, 0.0, True,
                      dev)
    t0 = time.perf_counter()
    counts = _counts(eng, images, net.params, net.config.seed + 1, w, read_noise_fn=noise,
                     min_spikes=net.config.min_spikes)
    dt = time.perf_counter() - t0
    y = np.asarray(labels, np.int64)
    res = _readout(counts, y, net.assignments, net.proportions)
    res.update({"n_test": len(images), "test_samples_per_s": len(images) / max(dt, 1e-9), "device": eng.device})
    if per_image:
        res["correct_all_activity"] = L.predict_all_activity(counts, net.assignments) == y
        res["correct_proportion"] = L.predict_proportion(counts, net.assignments, net.proportions) == y
    return res
