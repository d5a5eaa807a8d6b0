"""Continue the training of a saved convolutional network (issue 27: the paper's 680 passes span sessions).

:func:`resume_conv` takes a network saved by :func:`.network.save_conv` during or after :func:`.network.train_conv`
(after any conv 1-2 pass, any R-STDP pass, or after conv 1-2 with ``epochs3 = 0``) and runs its remaining passes: it
checks that the training images are the ones it was trained on (SHA-256 in ``history``), puts a fresh generator in
the saved generator's state, finishes conv 1-2 from the saved pass and rates (:class:`.stdp_state.StdpState`),
recomputes the conv-3 inputs through the frozen layers 1-2 and continues the R-STDP from the saved rates and block
counts (:class:`.rstdp_state.RstdpState`). The result equals an uninterrupted run's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from .network import (
    CPU_BACKEND,
    ConvBackend,
    ConvNetwork,
    EpochHook,
    StdpPassHook,
    continue_training,
    training_digest,
)
from .rstdp_state import STATE_KEY, RstdpState, restore_generator
from .stdp_state import StdpState


def resumable_passes(net: ConvNetwork) -> int:
    """R-STDP passes a saved network has done (0 while conv 1-2 train); ValueError when it carries no resumable state
    (saved before resumable runs existed, or by a tool that dropped its history)."""
    rec = net.history.get(STATE_KEY)
    if "train_sha256" not in net.history or _saved_generator(net) is None:
        raise ValueError("the network has no saved R-STDP or conv 1-2 state (history['rstdp_state'] or "
                         "history['stdp_state'] with the generator, and the training-set digest); it cannot be "
                         "resumed")
    return 0 if rec is None else int(rec["passes_done"])


def _saved_generator(net: ConvNetwork) -> dict | None:
    """The generator state of the R-STDP state, else of the conv 1-2 state; None without either."""
    rec = net.history.get(STATE_KEY)
    if rec is not None:
        return rec.get("rng")
    stdp = StdpState.saved(net.history)
    return None if stdp is None else stdp.rng


def resume_point(net: ConvNetwork) -> str:
    """Where a resumed run starts: ``"R-STDP pass 7"`` or ``"conv 2 pass 1 of 4"`` (before R-STDP)."""
    rec = net.history.get(STATE_KEY)
    stdp = StdpState.saved(net.history)
    if rec is not None or stdp is None:
        return f"R-STDP pass {resumable_passes(net)}"
    return stdp.describe((net.config.epochs1, net.config.epochs2))


#: ConvConfig fields read by the R-STDP passes only (not by the initial weights, conv 1-2 or the decision): a network
#: saved before its first R-STDP pass may take other values for them (:func:`with_rstdp_config`)
RSTDP_FIELDS = ("ar_plus", "ar_minus", "ap_minus", "ap_plus", "adapt_every", "rstdp_dropout", "rstdp_dropout_every",
                "rstdp_shuffle", "rstdp_unscaled_first_block")


def with_rstdp_config(net: ConvNetwork, overrides: dict[str, Any]) -> ConvNetwork:
    """``net`` (in place, and returned) with the R-STDP fields ``overrides`` (names in :data:`RSTDP_FIELDS`) changed,
    so that R-STDP variants start from one conv 1-2 stage: :func:`resume_conv` of the result equals a run made with
    those values from the start (they are not read before R-STDP). ValueError for other fields, or a network that
    has begun R-STDP."""
    other = sorted(set(overrides) - set(RSTDP_FIELDS))
    if other:
        raise ValueError(f"only the R-STDP fields {', '.join(RSTDP_FIELDS)} may change before R-STDP, not "
                         f"{', '.join(other)}")
    if resumable_passes(net) != 0:
        raise ValueError("the network has begun R-STDP; its R-STDP fields can no longer change")
    net.config = dataclasses.replace(net.config, **overrides)
    rec = net.history.get(STATE_KEY)
    if rec is not None:  # the start factors follow rstdp_unscaled_first_block; the saved generator stays
        c = net.config
        start = RstdpState.start(c.n_classes, c.rstdp_unscaled_first_block)
        net.history[STATE_KEY] = rec | {"f_miss": start.f_miss, "f_hit": start.f_hit}
    net.history.setdefault("rstdp_config_changed", []).append(dict(overrides))
    return net


def resume_conv(net: ConvNetwork, images: np.ndarray, labels: np.ndarray, *, epochs3: int,
                log: Callable[[str], None] | None = None, on_epoch: EpochHook | None = None,
                backend: ConvBackend = CPU_BACKEND, on_stdp_pass: StdpPassHook | None = None) -> ConvNetwork:
    """Train ``net`` (in place, and returned) from its saved state, a conv 1-2 pass or an R-STDP pass, until
    ``epochs3`` R-STDP passes are done, on the training ``images`` (n, 28, 28) uint8 and ``labels`` (n,) it was
    trained on; ``log``, ``on_epoch``, ``backend`` and ``on_stdp_pass`` as :func:`.network.train_conv`
    (``on_epoch`` gets the pass number counted from the run's first pass). ValueError when the network cannot be
    resumed, the images differ, or ``epochs3`` is below the passes done."""
    done = resumable_passes(net)
    start = resume_point(net)
    images = np.asarray(images)
    labels = np.asarray(labels).astype(np.int64)
    if training_digest(images, labels) != net.history["train_sha256"]:
        raise ValueError(f"the {len(images)} training images and labels are not the ones the network was trained on "
                         f"({net.history.get('n_train')} images, SHA-256 {net.history['train_sha256'][:12]}…)")
    if epochs3 < done:
        raise ValueError(f"epochs3 ({epochs3}) is below the {done} R-STDP passes the network has done")
    c = net.config
    rng = np.random.default_rng()
    restore_generator(rng, _saved_generator(net))
    net.config = dataclasses.replace(c, epochs3=epochs3)
    timing = continue_training(net, images, labels, rng, log=log, on_epoch=on_epoch, backend=backend,
                               on_stdp_pass=on_stdp_pass)  # appends to history["train_accuracy"]
    net.history.setdefault("resumed", []).append({"from_pass": done, "to_pass": epochs3, "from": start,
                                                  "timing": timing, "device": backend.name})
    return net

