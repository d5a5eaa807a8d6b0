"""PyTorch path of the convolutional network (issue 27): batched forward of conv 1-2, decisions, training.

The numba path (:mod:`.layers`, :mod:`.network`) simulates one image at a time on the CPU. Here many images go
through each layer at once, on CUDA when available (float32, TF32 off) or on the CPU (float64 by default, the
reference the tests compare with):

* forward of a conv layer: the spike-onset maps of B images × T steps, (B·T, C, H, W) one-hot in time, through one
  ``conv2d``, then a cumulative sum over the T steps gives every potential u(t) (weights ≥ 0, so u never
  decreases); the first step with u > thr is the spike time, as :func:`.layers.conv_step`; point-wise inhibition,
  pooling of spike times (min = −max(−t)) and padding with T (= never fires) follow the numba functions rule for
  rule (ties: earliest spike, then largest potential, then lowest feature index);
* decision: the binary conv-3 input unfolded (im2col) times the kernels (C·K·K, f3) in one batched matrix product;
  the winner is the first largest potential in (f3, Ho, Wo) order; none > 0: silent (−1).

With float64 on the CPU the spike times equal the numba path's (the sums differ only in their order, ~1e-16
relative); float32 on CUDA can move a threshold crossing where u is within ~1e-7 of thr. The exact batched R-STDP
is :mod:`.torch_rstdp`; :func:`train_conv_torch` strings the pieces together like :func:`.network.train_conv`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F

from ..config import resolve_device
from .layers import kernels_by_input
from .network import ConvNetwork, encode

#: images per forward chunk: (B·T, C, H, W) onset maps and (B, T, F, Ho, Wo) potentials; 64 keeps conv 2 of the
#: default network (250 maps 14×14, T = 15) at ~0.2 GB in float32
FORWARD_BATCH = 64


def torch_device(device: str) -> torch.device:
    """``device`` ("auto", "cpu", "cuda", "cuda:N") as a torch device; ValueError naming ``--device`` when CUDA is
    asked for but not available (:func:`spinsyn.snn.config.resolve_device`)."""
    return torch.device(resolve_device(device))


def default_dtype(dev: torch.device, dtype: torch.dtype | None) -> torch.dtype:
    """``dtype``, or float32 on CUDA and float64 on the CPU (the exact reference) when None."""
    if dtype is None:
        return torch.float32 if dev.type == "cuda" else torch.float64
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    return dtype


@contextmanager
def ieee_fp32() -> Iterator[None]:
    """Full float32 precision (no TF32) for convolutions and matrix products inside the block; restored after.
    cuDNN convolutions default to TF32 (10-bit mantissa), which would move threshold crossings."""
    mm, cd = torch.backends.cuda.matmul, torch.backends.cudnn
    if hasattr(mm, "fp32_precision") and hasattr(cd, "conv"):  # torch >= 2.9
        saved = (mm.fp32_precision, cd.conv.fp32_precision)
        mm.fp32_precision = cd.conv.fp32_precision = "ieee"
        try:
            yield
        finally:
            mm.fp32_precision, cd.conv.fp32_precision = saved
        return
    old = (mm.allow_tf32, cd.allow_tf32)
    mm.allow_tf32 = cd.allow_tf32 = False
    try:
        yield
    finally:
        mm.allow_tf32, cd.allow_tf32 = old


# --- one conv layer on a batch ---------------------------------------------------------------------------------------

def potentials(s: torch.Tensor, w: torch.Tensor, T: int) -> torch.Tensor:
    """Potentials u (B, T, F, Ho, Wo) in ``w``'s dtype at every step for spike times ``s`` (B, C, Hp, Wp) (already
    padded, T = never) and kernels ``w`` (F, C, K, K): u(t) = Σ of the weights of the inputs fired at ≤ t."""
    B, C, Hp, Wp = s.shape
    steps = torch.arange(T, device=s.device).view(1, T, 1, 1, 1)
    onset = (s.unsqueeze(1) == steps).to(w.dtype).reshape(B * T, C, Hp, Wp)
    u = F.conv2d(onset, w)
    return u.reshape(B, T, *u.shape[1:]).cumsum(1)


def fire(u: torch.Tensor, thr: float, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Spike times (B, F, Ho, Wo) int64 (first step with u > thr, strict; T = never) and the potential then (0 where
    silent) from potentials ``u`` (B, T, F, Ho, Wo)."""
    over = u > thr
    t = torch.where(over.any(1), over.to(torch.uint8).argmax(1), T)
    v = torch.gather(u, 1, t.clamp(max=T - 1).unsqueeze(1)).squeeze(1)
    return t, torch.where(t < T, v, torch.zeros_like(v))


def pointwise(t: torch.Tensor, v: torch.Tensor, T: int) -> torch.Tensor:
    """Point-wise inhibition of spike times ``t`` (B, F, H, W): at each position only the feature that fires first
    keeps its spike, the largest potential ``v`` on a tie, then the lowest feature index
    (:func:`.layers.pointwise_inhibition`)."""
    cand = (t == t.min(1, keepdim=True).values) & (t < T)
    vm = torch.where(cand, v, torch.full_like(v, -torch.inf))
    keep = torch.zeros_like(cand).scatter_(1, vm.argmax(1, keepdim=True), True) & cand
    return torch.where(keep, t, torch.full_like(t, T))


def pool_pad(t: torch.Tensor, k: int, pad: int, T: int) -> torch.Tensor:
    """Earliest spike per k × k window (stride k, remainder dropped) of ``t`` (B, F, H, W), padded by ``pad``
    never-firing (T) neurons: the next layer's input (:func:`.layers.pool_times`, :func:`.layers.pad_times`)."""
    p = (-F.max_pool2d(-t.to(torch.float32), k)).to(torch.int64)  # exact: integers < 2^24
    return F.pad(p, (pad, pad, pad, pad), value=T) if pad else p


def layer_forward(net: ConvNetwork, li: int, s: torch.Tensor, w: torch.Tensor, learning: bool = False
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Spike times and first-spike potentials (B, F, Ho, Wo) of conv layer ``li`` (0 or 1) for padded input ``s``
    (B, C, Hp, Wp) with kernels ``w`` on the device (:func:`.network._layer`)."""
    c = net.config
    t, v = fire(potentials(s, w, c.T), (c.thr1, c.thr2)[li], c.T)
    if learning or c.pointwise_inference:
        t = pointwise(t, v, c.T)
    return t, v


def next_input(net: ConvNetwork, li: int, t: torch.Tensor) -> torch.Tensor:
    """Pooled, padded input of layer li + 1 from the spike times of layer ``li`` (:func:`.network._next_input`)."""
    c = net.config
    pool, pad = ((c.pool1_px, c.pad2), (c.pool2_px, c.pad3))[li]
    return pool_pad(t, pool, pad, c.T)


# --- many images ----------------------------------------------------------------------------------------------------

def _chunks(n: int, batch: int) -> Iterator[slice]:
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    return (slice(a, min(a + batch, n)) for a in range(0, n, batch))


def _map_chunks(net: ConvNetwork, s: np.ndarray, first: int, upto: int, dev: torch.device, dtype: torch.dtype,
                batch: int, tail: Callable[[torch.Tensor], torch.Tensor]) -> list[np.ndarray]:
    ws = [torch.as_tensor(lw.w, dtype=dtype, device=dev) for lw in net.layers[:2]]
    out = []
    with torch.no_grad(), ieee_fp32():
        for sl in _chunks(len(s), batch):
            x = torch.as_tensor(np.asarray(s[sl], np.int64), device=dev)
            for li in range(first, upto):
                x = next_input(net, li, layer_forward(net, li, x, ws[li])[0])
            out.append(tail(x).cpu().numpy())
    return out


def propagate_torch(net: ConvNetwork, s0: np.ndarray, upto: int, device: str = "cuda", *, first: int = 0,
                    batch: int = FORWARD_BATCH, dtype: torch.dtype | None = None) -> np.ndarray:
    """Padded input of layer ``upto`` (1: conv 2, 2: conv 3) for the padded inputs ``s0`` (n, C, H, W) of layer
    ``first`` (0: the coded images of :func:`.network.encode`), layers frozen, ``batch`` images at a time on
    ``device``: (n, C', H', W') int16, equal to stacking :func:`.network.propagate` (exactly in float64)."""
    if not 0 <= first <= upto <= 2:
        raise ValueError(f"need 0 <= first <= upto <= 2, got first={first}, upto={upto}")
    dev = torch_device(device)
    s0 = np.asarray(s0)
    if len(s0) == 0:
        raise ValueError("s0: no images")
    parts = _map_chunks(net, s0, first, upto, dev, default_dtype(dev, dtype), batch, lambda x: x.to(torch.int16))
    return np.concatenate(parts)


def decision_kernels(net: ConvNetwork, dev: torch.device, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The decision layer's kernels as (C·K·K, f3) on ``dev``: the float64-stored weights rounded to float32 (as
    :func:`.network.decision_weights`), held in ``dtype``. In float64 the potentials are then exact sums whatever
    their order (weights in [2⁻³, 1] rounded to float32 span ≤ 27 bits below the sum's leading bit, which float64's
    53 hold for sums < 2²⁶), so ties, frequent once R-STDP has clipped many weights to ``w3_hi``, break as in one
    fixed order."""
    return torch.as_tensor(kernels_by_input(net.layers[2].w, np.float32), device=dev).to(dtype)


def decision_potentials(x3: torch.Tensor, w3: torch.Tensor, K: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(im2col input (B, Ho·Wo, C·K·K), last-step potentials (B, Ho·Wo, f3)) of the decision layer for the binary
    input ``x3`` (B, C, H, W) and kernels ``w3`` (C·K·K, f3) (:func:`.layers.kernels_by_input` layout)."""
    cols = F.unfold(x3.to(w3.dtype), K).transpose(1, 2).contiguous()
    return cols, torch.matmul(cols, w3)


def winners(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(largest potential (B,), its flat index (B,) in (f3, Ho, Wo) order, the first on a tie) of decision
    potentials ``u`` (B, Ho·Wo, f3) (:func:`.layers.winner_binary`)."""
    v, flat = u.transpose(1, 2).reshape(len(u), -1).max(1)
    return v, flat


def decisions(net: ConvNetwork, u: torch.Tensor) -> torch.Tensor:
    """Class per image (B,) int64 (−1 silent) from decision potentials ``u`` (B, Ho·Wo, f3): feature f of the winner
    is class f // (f3 / n_classes) (:func:`.network.decide`)."""
    c = net.config
    v, flat = winners(u)
    cls = flat // u.shape[1] // (c.f3 // c.n_classes)
    return torch.where(v > 0, cls, torch.full_like(cls, -1))


def predict_conv_torch(net: ConvNetwork, images: np.ndarray, device: str = "cuda", *, batch: int = FORWARD_BATCH,
                       dtype: torch.dtype | None = None, decision_dtype: torch.dtype = torch.float64) -> np.ndarray:
    """Predicted class per image (n,) int64, −1 where the decision layer stays silent (:func:`.network.predict_conv`
    batched on ``device``). ``dtype``: the conv 1-2 potentials (None: float32 on CUDA, float64 on the CPU);
    ``decision_dtype``: the decision layer's sums of float32-rounded weights (float64: exact,
    :func:`decision_kernels`; float32: rounded in the device's order)."""
    dev = torch_device(device)
    c = net.config
    w3 = decision_kernels(net, dev, default_dtype(dev, decision_dtype))

    def decide(x: torch.Tensor) -> torch.Tensor:
        return decisions(net, decision_potentials(x < c.T, w3, c.k3_px)[1])

    s0 = encode(c, np.asarray(images))
    return np.concatenate(_map_chunks(net, s0, 0, 2, dev, default_dtype(dev, dtype), batch, decide)).astype(np.int64)
