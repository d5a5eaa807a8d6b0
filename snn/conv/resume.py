"""Continue the R-STDP of a saved convolutional network (issue 27: the paper's 680 passes span sessions).

:func:`resume_conv` takes a network saved by :func:`.network.save_conv` during or after :func:`.network.train_conv`
(after any R-STDP pass, or after conv 1-2 with ``epochs3 = 0``) and runs its remaining passes: it checks that the
training images are the ones it was trained on (SHA-256 in ``history``), recomputes their conv-3 inputs through the
frozen layers 1-2, puts a fresh generator in the saved generator's state and continues the R-STDP from the saved
rates and block counts (:class:`.rstdp_state.RstdpState`). The result equals an uninterrupted run's.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np

from .network import CPU_BACKEND, ConvBackend, ConvNetwork, EpochHook, encode, training_digest
from .rstdp_state import STATE_KEY, RstdpState


def resumable_passes(net: ConvNetwork) -> int:
    """R-STDP passes a saved network has done; ValueError when it carries no resumable state (saved before
    resumable runs existed, or by a tool that dropped its history)."""
    rec = net.history.get(STATE_KEY)
    if rec is None or rec.get("rng") is None or "train_sha256" not in net.history:
        raise ValueError("the network has no saved R-STDP state (history['rstdp_state'] with the generator, and the "
                         "training-set digest); it cannot be resumed")
    return int(rec["passes_done"])


def resume_conv(net: ConvNetwork, images: np.ndarray, labels: np.ndarray, *, epochs3: int,
                log: Callable[[str], None] | None = None, on_epoch: EpochHook | None = None,
                backend: ConvBackend = CPU_BACKEND) -> ConvNetwork:
    """Run R-STDP passes of ``net`` (in place, and returned) until ``epochs3`` passes are done, on the training
    ``images`` (n, 28, 28) uint8 and ``labels`` (n,) it was trained on; ``log``, ``on_epoch`` and ``backend`` as
    :func:`.network.train_conv` (``on_epoch`` gets the pass number counted from the run's first pass).
    ValueError when the network cannot be resumed, the images differ, or ``epochs3`` is below the passes done."""
    done = resumable_passes(net)
    images = np.asarray(images)
    labels = np.asarray(labels).astype(np.int64)
    if training_digest(images, labels) != net.history["train_sha256"]:
        raise ValueError(f"the {len(images)} training images and labels are not the ones the network was trained on "
                         f"({net.history.get('n_train')} images, SHA-256 {net.history['train_sha256'][:12]}…)")
    if epochs3 < done:
        raise ValueError(f"epochs3 ({epochs3}) is below the {done} R-STDP passes the network has done")
    c = net.config
    rng = np.random.default_rng()
    RstdpState.from_history(net.history, c.n_classes).restore_rng(rng)
    t0 = time.perf_counter()
    x3 = backend.inputs(net, encode(c, images), 0, 2) < c.T
    inputs_s = time.perf_counter() - t0
    net.config = dataclasses.replace(c, epochs3=epochs3)
    backend.rstdp(net, x3, labels, epochs3, rng, log, on_epoch)  # appends to history["train_accuracy"]
    net.history.setdefault("resumed", []).append({"from_pass": done, "to_pass": epochs3, "inputs_s": inputs_s,
                                                  "device": backend.name})
    return net
