"""The Mozafari et al. (2019) network: training (STDP layer by layer, then R-STDP), evaluation, npz files.

Per image: DoG + latency code (C0=6, 28×28) → pad → conv 1 (STDP, k-WTA) → pool → pad → conv 2 (STDP, k-WTA)
→ pool → pad → conv 3 = decision layer. The decision is the class of the conv-3 neuron with the largest
potential at the last step (every neuron with u > 0 fires at the last step, so that is also the first to fire;
SpykeTorch ``get_k_winners(pot, 1, 0, fire(pot))``); feature f belongs to class f // (f3 / n_classes). No neuron
with u > 0: silent (prediction −1, counted wrong).

Training follows [ST] ``MozafariDeep.py``: layer 1 for ``epochs1`` passes (winners of the layer being trained
after point-wise inhibition, STDP of their kernels, a+ doubling every ``lr_double_every`` images up to
``a_plus_max``), then layer 2 likewise, then ``epochs3`` passes of R-STDP on conv 3 (reward: STDP, punishment:
anti-STDP, rates rescaled after each block of ``adapt_every`` images by its miss / hit ratio). Layers 1-2 are
frozen after their phase, so their outputs are computed once per image and cached for the next phase.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..kinds import RULE_TRACE, SYN_COMPOUND, SYN_CONTINUOUS
from ..rules import LearningRule
from ..synapses import Synapse, make_synapse, synapse_from_record
from .coding import encode_images
from .config import ConvConfig
from .layers import (
    conv_step,
    k_winners,
    kernels_by_input,
    pad_times,
    pointwise_inhibition,
    pool_times,
    receptive_field,
    stdp_dw,
    winner_binary,
)
from .rstdp_pass import DropoutMasks, SparseInputs, rstdp_pass_compound, rstdp_pass_ideal, sparse_winner
from .rstdp_state import STATE_KEY, RstdpState
from .stdp_state import StdpState
from .updates import LayerWeights, apply_update, stabilizer_weight

FORMAT = "spinsyn-conv-1"


@dataclass
class ConvNetwork:
    """Trained (or training) network: ``config`` and the three layers' weights (F, C, K, K)."""

    config: ConvConfig
    layers: list[LayerWeights]
    synapse: Synapse | None = None
    history: dict[str, Any] = field(default_factory=dict)

    @property
    def w(self) -> list[np.ndarray]:
        return [lw.w for lw in self.layers]

    def decision_map(self) -> np.ndarray:
        """Class of each conv-3 feature (f3,) int."""
        c = self.config
        return np.arange(c.f3) // (c.f3 // c.n_classes)


def init_network(config: ConvConfig, synapse: Synapse | None, rng: np.random.Generator) -> ConvNetwork:
    """Random initial weights N(w_init_mean, w_init_std), clipped to [0, 1], realised on ``synapse``."""
    c = config
    shapes = [(c.f1, c.n_dog, c.k1_px, c.k1_px), (c.f2, c.f1, c.k2_px, c.k2_px), (c.f3, c.f2, c.k3_px, c.k3_px)]
    layers = [LayerWeights.create(rng.normal(c.w_init_mean, c.w_init_std, s), synapse, rng, signed=c.signed_read,
                                  **weight_range(c, li)) for li, s in enumerate(shapes)]
    return ConvNetwork(config, layers, synapse)


def weight_range(config: ConvConfig, layer: int) -> dict[str, float]:
    """The weights a device synapse's first and last state read as in layer ``layer`` (0-2): {"lo", "hi"}
    (``decision_full_range``: the decision layer's [w3_lo, w3_hi]; otherwise [0, 1])."""
    if layer == 2 and config.decision_full_range:
        return {"lo": config.w3_lo, "hi": config.w3_hi}
    return {"lo": 0.0, "hi": 1.0}


# --- forward pieces -------------------------------------------------------------------------------------------------

def encode(config: ConvConfig, images: np.ndarray) -> np.ndarray:
    """Latency-coded, padded input of conv 1: (n, 2·len(dog_sizes), H + 2·pad1, W + 2·pad1) int16."""
    c = config
    s = encode_images(images, c.dog_sizes_px, c.dog_threshold, c.norm_radius_px, c.T)
    return np.pad(s, ((0, 0), (0, 0), (c.pad1, c.pad1), (c.pad1, c.pad1)), constant_values=c.T)


def _layer(net: ConvNetwork, li: int, s_in: np.ndarray, learning: bool) -> tuple[np.ndarray, np.ndarray]:
    """Spike times and first-spike potentials of conv layer ``li`` (0 or 1) for padded input ``s_in``."""
    c = net.config
    thr = (c.thr1, c.thr2)[li]
    t, pot = conv_step(s_in, net.layers[li].w, thr, c.T)
    if learning or c.pointwise_inference:
        t = pointwise_inhibition(t, pot.v_first, c.T)
    return t, pot.v_first


def _next_input(net: ConvNetwork, li: int, t: np.ndarray) -> np.ndarray:
    c = net.config
    pool, pad = ((c.pool1_px, c.pad2), (c.pool2_px, c.pad3))[li]
    return pad_times(pool_times(t, pool), pad, c.T)


def propagate(net: ConvNetwork, s0: np.ndarray, upto: int) -> np.ndarray:
    """Padded input of layer ``upto`` (1: conv 2, 2: conv 3) for coded input ``s0`` of one image, layers frozen."""
    s = s0
    for li in range(upto):
        t, _ = _layer(net, li, s, learning=False)
        s = _next_input(net, li, t)
    return s


def decision_weights(net: ConvNetwork) -> np.ndarray:
    """The decision layer's kernels as the (C·K·K, f3) float32 matrix :func:`decide` accumulates in (the
    potentials of training and evaluation are float32 sums of float64-stored weights)."""
    return kernels_by_input(net.layers[2].w, np.float32)


def decide(net: ConvNetwork, x3: np.ndarray, w3T: np.ndarray | None = None) -> tuple[int, int]:
    """Decision for one image from the binary conv-3 input ``x3`` (C, H, W) (input fired at all): (class or −1,
    flat index of the winning neuron in (f3, Ho, Wo) or −1). ``w3T``: cached :func:`decision_weights`."""
    K = net.config.k3_px
    flat, v = winner_binary(x3, decision_weights(net) if w3T is None else w3T, K)
    if v <= 0.0:
        return -1, -1
    ho, wo = x3.shape[1] - K + 1, x3.shape[2] - K + 1
    return int(flat // (ho * wo)) // (net.config.f3 // net.config.n_classes), flat


def decide_all(net: ConvNetwork, x3: np.ndarray) -> np.ndarray:
    """Decisions (n,) int64 (−1 silent) for binary conv-3 inputs ``x3`` (n, C, H, W) of frozen layers 1-2."""
    w3T = decision_weights(net)
    return np.array([decide(net, x, w3T)[0] for x in x3], np.int64)


# --- training -------------------------------------------------------------------------------------------------------

#: called after each pass of conv 1-2 STDP with the network (its history holds the :class:`StdpState` just saved)
StdpPassHook = Callable[["ConvNetwork"], None]


def _train_stdp_layer(net: ConvNetwork, li: int, inputs: np.ndarray, epochs: int, rng: np.random.Generator,
                      log: Callable[[str], None] | None, f_tab: np.ndarray | None = None,
                      on_pass: StdpPassHook | None = None) -> None:
    """STDP of conv layer ``li`` (0, 1; in place) on its padded inputs (n, ...) up to ``epochs`` passes, from the
    pass after the one saved in ``net.history`` for this layer (:class:`.stdp_state.StdpState`; none: the first).
    After each pass the state is saved there and ``on_pass(net)`` called."""
    c = net.config
    K = (c.k1_px, c.k2_px)[li]
    kw, r = (c.kwta1, c.rinh1) if li == 0 else (c.kwta2, c.rinh2)
    saved = StdpState.saved(net.history)
    st = saved if saved is not None and saved.layer == li else StdpState.start(li, c.a_plus, c.a_minus)
    ap, an, seen = st.a_plus, st.a_minus, st.seen
    lw = net.layers[li]
    for ep in range(st.passes_done, epochs):
        t0 = time.perf_counter()
        for n in rng.permutation(len(inputs)):
            s_in = inputs[n]
            t, v1 = _layer(net, li, s_in, learning=True)
            for f, i, j in k_winners(t, v1, kw, r, c.T):
                stab = stabilizer_weight(lw, int(f), c.stabilizer_floor_steps)
                dw = stdp_dw(receptive_field(s_in, i, j, K), int(t[f, i, j]), stab, ap, an, f_tab=f_tab)
                apply_update(lw, int(f), dw, rng)
            seen += 1
            if seen % c.lr_double_every == 0:
                ap = min(2 * ap, c.a_plus_max)
                an = c.a_minus_ratio * ap
        st = StdpState(li, ep + 1, ap, an, seen)
        st.save(net.history, rng)
        if log:
            log(f"conv{li + 1} epoch {ep + 1}/{epochs}: {len(inputs)} images, {time.perf_counter() - t0:.1f} s, "
                f"a+ = {ap:.4g}")
        if on_pass is not None:
            on_pass(net)


def _conv12_done(net: ConvNetwork, li: int) -> bool:
    """Whether conv layer ``li`` is behind the saved state: R-STDP has begun, or a later layer is training (a layer
    saved part-way continues in :func:`_train_stdp_layer`)."""
    saved = StdpState.saved(net.history)
    return STATE_KEY in net.history or (saved is not None and saved.layer > li)


#: called after each R-STDP pass with (pass number from 1, the network, that pass's training accuracy)
EpochHook = Callable[[int, "ConvNetwork", float], None]


def _train_rstdp(net: ConvNetwork, x3: np.ndarray | SparseInputs, labels: np.ndarray, epochs: int,
                 rng: np.random.Generator, log: Callable[[str], None] | None,
                 on_epoch: EpochHook | None = None) -> list[float]:
    """R-STDP of the decision layer (``net.layers[2]``, in place) on the binary conv-3 inputs ``x3`` (n, C, H, W)
    with ``labels`` (n,) from the pass after the one saved in ``net.history`` (:class:`.rstdp_state.RstdpState`;
    none: the first) up to pass ``epochs``. Ideal weights: one compiled pass (:func:`.rstdp_pass.rstdp_pass_ideal`);
    device synapses: a Python loop over the images (their pulses are drawn from ``rng``). Returns the training
    accuracy of each pass run."""
    c = net.config
    xs = x3 if isinstance(x3, SparseInputs) else SparseInputs.from_dense(x3)
    labels = np.asarray(labels).astype(np.int64)
    state = RstdpState.from_history(net.history, c.n_classes, c.rstdp_unscaled_first_block)
    w3T = decision_weights(net)
    train_acc = []
    for _ in range(state.passes_done, epochs):
        t0 = time.perf_counter()
        order = pass_order(c, len(xs), rng)
        active = dropout_masks(c, len(xs), rng)
        if net.layers[2].scheme == SYN_CONTINUOUS:
            hits = _ideal_pass(net, xs, labels, order, w3T, state, active)
        elif net.layers[2].scheme == SYN_COMPOUND:
            hits = _compound_pass(net, xs, labels, order, w3T, state, rng, active)
        else:
            hits = _device_pass(net, xs, labels, order, w3T, state, rng, active)
        train_acc.append(hits / len(xs))
        end_of_pass(net, state, rng, epochs, train_acc[-1], t0, log, on_epoch)
    return train_acc


def pass_order(config: ConvConfig, n_images: int, rng: np.random.Generator) -> np.ndarray:
    """The order (n_images,) int64 in which an R-STDP pass visits the images: one ``rng.permutation`` per pass, or
    file order without a draw when ``config.rstdp_shuffle`` is False ([ST])."""
    if config.rstdp_shuffle:
        return rng.permutation(n_images)
    return np.arange(n_images, dtype=np.int64)


def dropout_masks(config: ConvConfig, n_images: int, rng: np.random.Generator) -> DropoutMasks | None:
    """The decision-layer feature maps that may win in an R-STDP pass over ``n_images``: each map dropped with
    probability ``config.rstdp_dropout``, a new mask every ``rstdp_dropout_every`` images (0: one per pass); one
    ``rng.random((n_masks, f3))`` draw after the pass's permutation. None (no draw) without dropout."""
    if config.rstdp_dropout <= 0.0:
        return None
    every = config.rstdp_dropout_every or max(n_images, 1)
    n_masks = max(-(-n_images // every), 1)
    return DropoutMasks(rng.random((n_masks, config.f3)) >= config.rstdp_dropout, every)


def _ideal_pass(net: ConvNetwork, xs: SparseInputs, labels: np.ndarray, order: np.ndarray, w3T: np.ndarray,
                state: RstdpState, active: DropoutMasks | None) -> int:
    c = net.config
    w = net.layers[2].w.reshape(c.f3, -1)
    assert np.shares_memory(w, net.layers[2].w) and w.dtype == np.float64
    rates, counts = state.arrays()
    hits = rstdp_pass_ideal(order, xs, labels, w, w3T, c.k3_px, c.f3 // c.n_classes, rates, counts,
                            (c.ar_plus, c.ar_minus, c.ap_minus, c.ap_plus), c.w3_lo, c.w3_hi, c.adapt_every, active)
    state.set_arrays(rates, counts)
    return hits


def _compound_pass(net: ConvNetwork, xs: SparseInputs, labels: np.ndarray, order: np.ndarray, w3T: np.ndarray,
                   state: RstdpState, rng: np.random.Generator, active: DropoutMasks | None) -> int:
    c = net.config
    rates, counts = state.arrays()
    hits = rstdp_pass_compound(order, xs, labels, net.layers[2], w3T, c.k3_px, c.f3 // c.n_classes, rates, counts,
                               (c.ar_plus, c.ar_minus, c.ap_minus, c.ap_plus), c.w3_lo, c.w3_hi, c.adapt_every, rng,
                               active)
    state.set_arrays(rates, counts)
    return hits


def reward_or_punish(net: ConvNetwork, x: np.ndarray, flat: int, hit: bool, state: RstdpState,
                     rng: np.random.Generator) -> int:
    """Realise R-STDP for the winner ``flat`` (index in (f3, Ho, Wo)) of the binary conv-3 input ``x`` (C, H, W):
    reward (``hit``: STDP scaled by f_miss) or punishment (anti-STDP scaled by f_hit) of its kernel through
    :func:`.updates.apply_update`, counted in ``state``; returns the feature whose kernel changed."""
    c = net.config
    K = c.k3_px
    ho, wo = x.shape[1] - K + 1, x.shape[2] - K + 1
    f, rest = divmod(flat, ho * wo)
    i, j = divmod(rest, wo)
    pre = receptive_field(x, i, j, K)
    if hit:
        dw = np.where(pre, c.ar_plus * state.f_miss, c.ar_minus * state.f_miss)
        state.hits += 1
    else:
        dw = np.where(pre, c.ap_minus * state.f_hit, c.ap_plus * state.f_hit)
        state.misses += 1
    apply_update(net.layers[2], f, dw, rng, lo=c.w3_lo, hi=c.w3_hi)
    return f


def _device_pass(net: ConvNetwork, xs: SparseInputs, labels: np.ndarray, order: np.ndarray, w3T: np.ndarray,
                 state: RstdpState, rng: np.random.Generator, active: DropoutMasks | None) -> int:
    c = net.config
    K = c.k3_px
    n_pos = (xs.shape[1] - K + 1) * (xs.shape[2] - K + 1)
    u = np.empty((n_pos, c.f3), w3T.dtype)
    hits = 0
    for q, n in enumerate(order):
        flat, v = sparse_winner(xs, n, w3T, K, u, None if active is None else active.row(q))
        if v > 0.0:
            hit = flat // n_pos // (c.f3 // c.n_classes) == labels[n]
            hits += hit
            f = reward_or_punish(net, xs.dense(n), flat, hit, state, rng)
            w3T[:, f] = net.layers[2].w[f].ravel()
        state.count(c.adapt_every)
    return int(hits)


def end_of_pass(net: ConvNetwork, state: RstdpState, rng: np.random.Generator, epochs: int, train_acc: float,
                t0: float, log: Callable[[str], None] | None, on_epoch: EpochHook | None) -> None:
    """After an R-STDP pass of ``epochs`` begun at ``perf_counter`` time ``t0``: count it in ``state``, save the
    state with the generator's in ``net.history`` (a run saved now resumes exactly), the log line, ``on_epoch``."""
    state.passes_done += 1
    state.rng = dict(rng.bit_generator.state)
    net.history[STATE_KEY] = state.record()
    net.history.setdefault("train_accuracy", []).append(float(train_acc))
    done = state.passes_done
    if log:
        log(f"conv3 R-STDP epoch {done}/{epochs}: train accuracy {train_acc:.4f}, {time.perf_counter() - t0:.1f} s")
    if on_epoch is not None:
        on_epoch(done, net, train_acc)


def _compile_rule(rule: LearningRule | None, config: ConvConfig) -> tuple[np.ndarray | None, dict[str, Any] | None]:
    """(f table per latency step, record) of a fitted trace rule at ``config.rule_dt_ms``; (None, None) without."""
    if rule is None:
        return None, None
    compiled = rule.compile(config.rule_dt_ms)
    if compiled.kind != RULE_TRACE:
        raise ValueError(f"--rule: the conv network takes a trace rule (bi-sigmoid JSON or device sweep), not "
                         f"{rule.name!r}")
    return np.asarray(compiled.f_tab, np.float64), {**compiled.info, "dt_ms": config.rule_dt_ms,
                                                     "f_per_step": compiled.f_tab[:config.T].round(6).tolist()}


@dataclass(frozen=True)
class ConvBackend:
    """Where :func:`train_conv` computes the frozen layers' outputs and the R-STDP: ``inputs(net, s, first, upto)``
    -> the padded input of layer ``upto`` for the padded inputs ``s`` (n, ...) of layer ``first``, and
    ``rstdp(net, x3, labels, epochs, rng, log, on_epoch)`` -> training accuracy per pass (the contract of
    :func:`_train_rstdp`). The conv 1-2 STDP always runs on the numba path."""

    name: str
    inputs: Callable[[ConvNetwork, np.ndarray, int, int], np.ndarray]
    rstdp: Callable[..., list[float]]


def _cpu_inputs(net: ConvNetwork, s: np.ndarray, first: int, upto: int) -> np.ndarray:
    out = []
    for x in s:
        for li in range(first, upto):
            x = _next_input(net, li, _layer(net, li, x, learning=False)[0])
        out.append(x)
    return np.stack(out)


#: the numba path
CPU_BACKEND = ConvBackend("cpu", _cpu_inputs, _train_rstdp)


def train_conv(config: ConvConfig, images: np.ndarray, labels: np.ndarray, *, seed: int,
               synapse: str | Synapse | None = None, log: Callable[[str], None] | None = None,
               on_epoch: EpochHook | None = None, rule: LearningRule | None = None,
               backend: ConvBackend = CPU_BACKEND, on_stdp_pass: StdpPassHook | None = None) -> ConvNetwork:
    """Train the network on ``images`` (n, 28, 28) uint8 with ``labels`` (n,) in 0..n_classes−1: STDP of conv 1
    and conv 2, then R-STDP of conv 3, with the schedule of ``config``. ``synapse``: None/"ideal" (float weights),
    a spec string ("quantized:16", "compound:8") or a :class:`~spinsyn.snn.synapses.Synapse`. Deterministic given
    ``seed``. ``log`` receives one line per epoch; ``on_epoch(pass, net, train_accuracy)`` is called after each
    R-STDP pass (e.g. to test or save the network on the way). ``rule``: a fitted trace rule (bi-sigmoid JSON or
    device sweep, :mod:`spinsyn.snn.rules`) that shapes the STDP of conv 1-2 (:func:`stdp_dw`), read at
    ``config.rule_dt_ms`` per step; None: the papers' sign rule. The decision layer keeps the papers' R-STDP.
    ``backend``: where the frozen layers' outputs and the R-STDP are computed (:class:`ConvBackend`; the torch path:
    :func:`.torch_train.train_conv_torch`); the random draws are the same on every backend. ``on_stdp_pass(net)``:
    called after each conv 1-2 pass (e.g. to checkpoint the network; :func:`.resume.resume_conv` continues it)."""
    images = np.asarray(images)
    labels = np.asarray(labels).astype(np.int64)
    if images.ndim != 3 or len(images) != len(labels) or len(images) == 0:
        raise ValueError(f"images (n, H, W) and labels (n,) must match and be non-empty, got {images.shape}, "
                         f"{labels.shape}")
    if labels.min() < 0 or labels.max() >= config.n_classes:
        raise ValueError(f"labels must be in 0..{config.n_classes - 1}")
    syn = make_synapse(synapse) if isinstance(synapse, str) and synapse != "ideal" else (
        None if synapse in (None, "ideal") else synapse)
    assert syn is None or isinstance(syn, Synapse)
    f_tab, rule_info = _compile_rule(rule, config)
    rng = np.random.default_rng(seed)
    net = init_network(config, syn, rng)
    net.history = {"n_train": int(len(images)), "train_sha256": training_digest(images, labels), "seed": int(seed),
                   "rule": rule_info, "device": backend.name,
                   "stdp_f_tab": None if f_tab is None else f_tab.tolist()}
    net.history["timing"] = continue_training(net, images, labels, rng, log=log, on_epoch=on_epoch,
                                              backend=backend, on_stdp_pass=on_stdp_pass)
    return net  # "train_accuracy" (one per pass) is appended by end_of_pass


def continue_training(net: ConvNetwork, images: np.ndarray, labels: np.ndarray, rng: np.random.Generator, *,
                      log: Callable[[str], None] | None = None, on_epoch: EpochHook | None = None,
                      backend: ConvBackend = CPU_BACKEND, on_stdp_pass: StdpPassHook | None = None
                      ) -> dict[str, float]:
    """Train ``net`` (in place) from where its history says it stands (nothing: the start; a
    :class:`.stdp_state.StdpState`: that conv 1-2 pass; an R-STDP state: that R-STDP pass) to the end of its
    config's schedule, with ``rng`` in the state the run's generator was in at that point; arguments as
    :func:`train_conv`. Returns the seconds per phase run here (``encode_s``, ``conv1_s``, ``conv2_s``,
    ``conv3_s``; a phase done before counts 0 s)."""
    c = net.config
    ft = net.history.get("stdp_f_tab")
    f_tab = None if ft is None else np.asarray(ft, np.float64)
    t0 = time.perf_counter()
    s0 = encode(c, images)
    timing = {"encode_s": time.perf_counter() - t0}
    t0 = time.perf_counter()
    if not _conv12_done(net, 0):
        _train_stdp_layer(net, 0, s0, c.epochs1, rng, log, f_tab, on_stdp_pass)
    timing["conv1_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    s1 = backend.inputs(net, s0, 0, 1)
    if not _conv12_done(net, 1):
        _train_stdp_layer(net, 1, s1, c.epochs2, rng, log, f_tab, on_stdp_pass)
    timing["conv2_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    x3 = backend.inputs(net, s1, 1, 2) < c.T
    if STATE_KEY not in net.history:
        start = RstdpState.start(c.n_classes, c.rstdp_unscaled_first_block)
        net.history[STATE_KEY] = start.record() | {"rng": rng.bit_generator.state}
    backend.rstdp(net, x3, labels, c.epochs3, rng, log, on_epoch)
    timing["conv3_s"] = time.perf_counter() - t0
    return timing


def training_digest(images: np.ndarray, labels: np.ndarray) -> str:
    """SHA-256 (hex) of the training images (uint8) and labels (int64) in order: a resumed run checks it trains on
    the same images."""
    h = hashlib.sha256(np.ascontiguousarray(images, np.uint8).tobytes())
    h.update(np.ascontiguousarray(labels, np.int64).tobytes())
    return h.hexdigest()


# --- evaluation -----------------------------------------------------------------------------------------------------

def predict_conv(net: ConvNetwork, images: np.ndarray) -> np.ndarray:
    """Predicted class per image (n,) int64, −1 where the decision layer stays silent."""
    c = net.config
    s0 = encode(c, np.asarray(images))
    out = np.empty(len(s0), np.int64)
    w3T = decision_weights(net)
    for n, s in enumerate(s0):
        out[n] = decide(net, propagate(net, s, 2) < c.T, w3T)[0]
    return out


def evaluate_conv(net: ConvNetwork, images: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Accuracy of ``net`` on ``images`` (n, 28, 28): {"accuracy": fraction correct (silent = wrong), "silent":
    fraction silent, "per_image": predictions (n,) int64 (−1 silent), "n": n}."""
    labels = np.asarray(labels).astype(np.int64)
    pred = predict_conv(net, images)
    if len(pred) != len(labels):
        raise ValueError(f"{len(pred)} images but {len(labels)} labels")
    n = max(len(pred), 1)
    return {"accuracy": float(np.sum(pred == labels) / n), "silent": float(np.sum(pred < 0) / n),
            "per_image": pred, "n": int(len(pred))}


# --- files ----------------------------------------------------------------------------------------------------------

def save_conv(net: ConvNetwork, path: str | Path) -> Path:
    """Write ``net`` to ``path`` (.npz): config, synapse record, read weights and device state per layer."""
    path = Path(path)
    meta: dict[str, Any] = {"format": FORMAT, "config": net.config.to_dict(),
                            "history": {k: v for k, v in net.history.items()}}
    if net.synapse is not None:
        meta["synapse"] = {"record": net.synapse.device.record(), "options": net.synapse.options()}
    arrays: dict[str, np.ndarray] = {"meta": np.frombuffer(json.dumps(meta).encode(), np.uint8)}
    for i, lw in enumerate(net.layers, 1):
        arrays[f"w{i}"] = lw.w
        for name in ("state", "gp", "gap"):
            a = getattr(lw, name)
            if a is not None:
                arrays[f"{name}{i}"] = a
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]  # numpy stubs type ** as allow_pickle
    return path


def load_conv(path: str | Path) -> ConvNetwork:
    """Read a network written by :func:`save_conv`."""
    with np.load(Path(path)) as z:
        meta = json.loads(bytes(z["meta"]).decode())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path}: not a {FORMAT} file (format {meta.get('format')!r})")
        # files written before ConvConfig.signed_read (decision_full_range) existed trained with the clipped read
        # (decision states read as [0, 1])
        cfg = ConvConfig.from_dict({"signed_read": False, "decision_full_range": False, **meta["config"]})
        syn = None
        if "synapse" in meta:
            syn = synapse_from_record(meta["synapse"]["record"], **meta["synapse"]["options"])
        layers = []
        for i in (1, 2, 3):
            kw = {name: z[f"{name}{i}"] for name in ("state", "gp", "gap") if f"{name}{i}" in z}
            span = weight_range(cfg, i - 1) if syn is not None else {"lo": 0.0, "hi": 1.0}
            layers.append(LayerWeights(z[f"w{i}"].copy(), syn, **kw, signed=cfg.signed_read, lo=span["lo"],
                                       hi=span["hi"]))
    return ConvNetwork(cfg, layers, syn, meta.get("history", {}))
