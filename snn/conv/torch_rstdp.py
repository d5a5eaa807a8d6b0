"""Exact batched R-STDP of the decision layer on a torch device (issue 27: "GPU path batched where the rule allows").

R-STDP is sequential: image n's decision depends on every earlier image's update. But one image changes only its
winner feature f's kernel (:func:`.network._train_rstdp`), so the potentials of the next ``batch`` images are
computed with the current kernels in one batched matrix product (im2col of the binary conv-3 input × kernels), and
the batch is then walked in order: decide (the first largest potential in (f3, Ho, Wo) order; none > 0: silent),
realise the reward / punishment change of feature f on the host with :func:`.network.reward_or_punish` (so every
synapse kind's device physics and the random stream stay those of the numba path), upload f's kernel, and
recompute only feature f's potentials of the images of the batch not yet processed. The decisions are those of the
sequential path up to the summation order of the potentials (float32 by default, as :func:`.network.decide`; float64
on request); the random draws are the same and in the same order (``rng.permutation`` per pass unless the images
go in file order, then the draws of each update).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from .network import ConvNetwork, EpochHook, dropout_masks, end_of_pass, pass_order, reward_or_punish
from .rstdp_state import RstdpState
from .torch_path import decision_kernels, decision_potentials, ieee_fp32, torch_device, winners

#: images whose potentials are computed together (im2col (B, C·K·K, Ho·Wo): ~100 MB float32 for the default network)
RSTDP_BATCH = 256


def _chunk(net: ConvNetwork, x3: np.ndarray, labels: np.ndarray, idx: np.ndarray, x_dev: torch.Tensor,
           w3: torch.Tensor, rates: RstdpState, rng: np.random.Generator, active: np.ndarray | None) -> int:
    """One batch ``idx`` of the pass in order; updates ``w3`` (C·K·K, f3) on the device in place; returns hits.
    ``active`` (B, f3) bool: the feature maps each image's winner may come from (R-STDP dropout), or None."""
    c = net.config
    per_class = c.f3 // c.n_classes
    cols, u = decision_potentials(x_dev[torch.as_tensor(idx, device=x_dev.device)], w3, c.k3_px)
    dropped = None if active is None else ~torch.as_tensor(active, device=u.device)[:, None, :]  # (B, 1, f3)
    if dropped is not None:  # below every potential an active map can have, so a dropped map never wins
        u.masked_fill_(dropped, -torch.inf)
    n_pos, ckk = cols.shape[1], cols.shape[2]
    hits = 0
    for b, n in enumerate(idx):
        best = winners(u[b:b + 1])  # the first largest in (f3, Ho, Wo) order; one device-to-host sync
        v, flat = torch.cat((best[0].to(torch.float64), best[1].to(torch.float64))).tolist()
        if v > 0.0:
            hit = bool(int(flat) // n_pos // per_class == labels[n])
            hits += hit
            f = reward_or_punish(net, x3[n], int(flat), hit, rates, rng)
            wf = torch.as_tensor(net.layers[2].w[f].reshape(-1).astype(np.float32), device=w3.device).to(w3.dtype)
            w3[:, f] = wf
            if b + 1 < len(idx):  # only feature f changed: its potentials for the rest of the batch
                u[b + 1:, :, f] = torch.mv(cols[b + 1:].reshape(-1, ckk), wf).reshape(-1, n_pos)
                if dropped is not None:  # f may be dropped for later images (a new mask within the batch)
                    u[b + 1:, :, f].masked_fill_(dropped[b + 1:, :, f], -torch.inf)
        rates.count(c.adapt_every)
    return hits


def train_rstdp_torch(net: ConvNetwork, x3: np.ndarray, labels: np.ndarray, epochs: int, rng: np.random.Generator,
                      device: str = "cuda", *, batch: int = RSTDP_BATCH, dtype: torch.dtype = torch.float64,
                      log: Callable[[str], None] | None = None, on_epoch: EpochHook | None = None) -> list[float]:
    """R-STDP of the decision layer (``net.layers[2]``, in place) over the binary conv-3 inputs ``x3`` (n, C, H, W)
    with ``labels`` (n,) for ``epochs`` passes, ``batch`` images' potentials at a time on ``device``; the contract of
    :func:`.network._train_rstdp` (same random draws in the same order, same log lines and ``on_epoch`` calls).
    ``dtype``: the sums of the float32-rounded weights (float64: exact in any order, :func:`.torch_path.
    decision_kernels`; float32: faster, rounded in the device's order). Returns the training accuracy per pass."""
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    dev = torch_device(device)
    c = net.config
    x3 = np.ascontiguousarray(x3, np.bool_)
    labels = np.asarray(labels).astype(np.int64)
    # the start, or where a saved run stopped
    rates = RstdpState.from_history(net.history, c.n_classes, c.rstdp_unscaled_first_block)
    w3 = decision_kernels(net, dev, dtype)
    x_dev = torch.as_tensor(x3, device=dev)
    train_acc: list[float] = []
    with torch.no_grad(), ieee_fp32():
        for _ in range(rates.passes_done, epochs):
            t0 = time.perf_counter()
            perm = pass_order(c, len(x3), rng)
            m = dropout_masks(c, len(x3), rng)
            rows = None if m is None else m.active[np.arange(len(perm)) // m.every]  # (n, f3) per position
            ep_hits = sum(_chunk(net, x3, labels, perm[a:a + batch], x_dev, w3, rates, rng,
                                 None if rows is None else rows[a:a + batch])
                          for a in range(0, len(perm), batch))
            train_acc.append(ep_hits / len(x3))
            end_of_pass(net, rates, rng, epochs, train_acc[-1], t0, log, on_epoch)
    return train_acc
