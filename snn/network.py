"""Training, evaluation, checkpoints and the public API (``train``, ``load_run``, ``evaluate``).

A run: initial weights ``w = 0.3·U(0,1)`` (normalised per neuron when ``norm`` is on), then ``epochs`` passes
over ``n_train`` images in a seeded random order per epoch, ``batch`` images at a time; a checkpoint every
``checkpoint_every`` images. Labels are then assigned with learning off on ``n_assign`` training images
(per-class mean response) and ``n_test`` test images are classified ("all activity" and "proportion
weighting"). Random streams derive from ``(seed, epoch, position)`` only, so a resumed run ends with the same
weights as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from spinsyn.devices import SynapseDevice, SynapseSpec
from spinsyn.options import TRAIN_OPTIONS
from spinsyn.validation import check_scalar

from . import labels as L
from .adc import AdcModel
from .checkpoint import compiled_rule, net_state, read_checkpoint
from .config import TrainConfig, resolve_device
from .engine import NetState, make_engine
from .inference import (  # noqa: F401  (image_seeds, spike_prob: public here too)
    image_seeds,
    noisy_weights_fn,
    read_noise_fn,
    read_noise_sigma,
    readout,
    spike_counts,
    spike_prob,
)
from .kinds import SYN_FLOAT_KINDS
from .lc import connectivity_mask
from .params import NetworkParams
from .rules import CompiledRule, LearningRule, rule_from_dict
from .synapses import Compound, Synapse, synapse_from_record

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
def init_state(params: NetworkParams, syn: Synapse, seed: int, norm: float) -> NetState:
    """Initial state: ``w = w_init_max·U(0, 1)`` per synapse, scaled per neuron to sum ``norm`` (if > 0), realised by
    ``syn``. A locally connected network (``params.lc``) draws the same numbers and zeroes the masked synapses
    before normalising (the sum is over each neuron's patch); they read exactly 0 on every device."""
    rng = np.random.default_rng([seed, 12345])
    N = params.n_neurons
    w0 = params.w_init_max * rng.random((784, N))
    mask = connectivity_mask(params.lc) if params.lc is not None else None
    if mask is not None:
        w0 = w0 * mask
    if norm > 0:
        w0 = np.minimum(w0 * (norm / w0.sum(0, keepdims=True)), 1.0)
    state, gp, gap = syn.init_state(w0, rng)
    gmin, gmax = syn.g_bounds_S()
    if syn.kind in SYN_FLOAT_KINDS:
        w = w0
    else:
        w = np.clip((syn.g_S(w0, state, gp, gap) - gmin) / (gmax - gmin), 0.0, 1.0)
    if mask is not None:
        w = w * mask
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


def with_read_noise(net: TrainedNetwork, sigma: float) -> TrainedNetwork:
    """``net`` with the read noise σ (relative σ of G, ``--read-noise``) of its compound synapses set to ``sigma``
    for evaluation (:func:`evaluate`, ``spinsyn.hw_export.simulate_chip``): read noise acts only at inference, so
    one trained network serves every read noise. The weights are shared, not copied. ValueError for a σ out of
    range or a network whose synapses are not compound."""
    opt = TRAIN_OPTIONS["read_noise_sigma"]
    sigma = float(check_scalar(sigma, opt.cli, float, min_val=opt.min, max_val=opt.max,
                               include_boundaries=opt.closed))
    if not isinstance(net.synapse, Compound):
        raise ValueError(f"{opt.cli} applies to compound synapses only (this network has {net.spec} synapses)")
    options = {**net.config.synapse_options, "read_noise": sigma}
    return dataclasses.replace(net, config=dataclasses.replace(net.config, synapse_options=options),
                               synapse=dataclasses.replace(net.synapse, read_noise=sigma))


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
            return None, read_noise_fn(syn, ns, net.config.seed)
        apply_read_noise = False
    gmin, gmax = syn.g_bounds_S()
    if g_S is None:
        g_S = syn.g_S(ns.w, ns.state, ns.gp_S, ns.gap_S) if w is None else gmin + np.asarray(w, np.float64) * (
            gmax - gmin)
    g = np.ascontiguousarray(np.asarray(g_S, np.float64))
    sigma = read_noise_sigma(syn) if apply_read_noise else 0.0
    if sigma > 0:
        return None, noisy_weights_fn(syn, g, net.config.seed, sigma)
    if w is not None:
        return np.ascontiguousarray(np.asarray(w, np.float64)), None
    return np.ascontiguousarray(np.clip((g - gmin) / (gmax - gmin), 0.0, 1.0)), None


def evaluate(net: TrainedNetwork, images: np.ndarray, labels: np.ndarray, device: str = "auto",
             w: np.ndarray | None = None, *, g_S: np.ndarray | None = None, apply_read_noise: bool | None = None,
             per_image: bool = False, read_noise: bool | None = None, adc: AdcModel | None = None) -> dict:
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
    ``adc`` (:class:`~spinsyn.snn.adc.AdcModel`): each step's input is the sum of the ADC-digitised partial sums of
    its row blocks (tiles) instead of the exact sum, on whichever weights are evaluated (with read noise: each
    chunk's noisy weights); it runs on the numba CPU engine (``device`` "auto" or "cpu"; ValueError for "cuda").
    None (default): the exact sum, as before.
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
    if adc is not None:
        if not isinstance(adc, AdcModel):
            raise ValueError(f"adc: expected an AdcModel or None, got {type(adc).__name__}")
        if device != "auto" and device != "cpu":
            raise ValueError(f"adc: the ADC model runs on the numba CPU engine only; got device {device!r} "
                             "(use 'cpu' or 'auto')")
        device = "cpu"
    dev = resolve_device(device)
    ns = NetState(np.ascontiguousarray(net.w, dtype=np.float64),
                  net.state if net.state is not None else np.zeros((1, 1), np.int32),
                  net.gp_S if net.gp_S is not None else np.ones((1, 1)),
                  net.gap_S if net.gap_S is not None else np.ones((1, 1)), np.asarray(net.theta, np.float64))
    w, noise = _eval_inputs(net, ns, w, g_S, apply_read_noise)
    eng = make_engine("numba" if dev == "cpu" else "torch", ns, net.params, net.compiled, net.synapse, 0.0, True,
                      dev)
    t0 = time.perf_counter()
    counts = spike_counts(eng, images, net.params, net.config.seed + 1, w, read_noise_fn=noise,
                     min_spikes=net.config.min_spikes, adc=adc)
    dt = time.perf_counter() - t0
    y = np.asarray(labels, np.int64)
    res = readout(counts, y, net.assignments, net.proportions)
    res.update({"n_test": len(images), "test_samples_per_s": len(images) / max(dt, 1e-9), "device": eng.device})
    if per_image:
        res["correct_all_activity"] = L.predict_all_activity(counts, net.assignments) == y
        res["correct_proportion"] = L.predict_proportion(counts, net.assignments, net.proportions) == y
    return res
