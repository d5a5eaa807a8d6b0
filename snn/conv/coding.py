"""Input coding of the convolutional network: DoG filters and intensity-to-latency (rank-order) coding.

Spike trains are stored as *spike times*: an int array ``s`` of the same shape as the neurons, ``s = t`` if the
neuron first fires at step t (0 ≤ t < T) and ``s = T`` if it never fires. Spikes are cumulative as in SpykeTorch
(a neuron that fired at t is "on" at every later step), so a spike time says everything about a neuron.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def dog_kernel(size_px: int, sigma1_px: float, sigma2_px: float) -> np.ndarray:
    """Difference of two normalised 2-D Gaussians on a ``size_px`` × ``size_px`` grid (σ in px), made zero-mean
    and scaled to a maximum of 1. σ1 < σ2 gives an on-centre, σ1 > σ2 an off-centre filter. Returns (s, s)."""
    if size_px < 1 or size_px % 2 == 0:
        raise ValueError(f"size_px must be odd and positive, got {size_px}")
    if sigma1_px <= 0 or sigma2_px <= 0:
        raise ValueError("sigma1_px and sigma2_px must be > 0")
    h = size_px // 2
    y, x = np.mgrid[-h:h + 1, -h:h + 1]
    r2 = (x * x + y * y).astype(np.float64)
    g1 = np.exp(-r2 / (2 * sigma1_px ** 2)) / (2 * np.pi * sigma1_px ** 2)
    g2 = np.exp(-r2 / (2 * sigma2_px ** 2)) / (2 * np.pi * sigma2_px ** 2)
    d = g1 - g2
    d = d - d.mean()
    return d / d.max()


def dog_bank(sizes_px: tuple[int, ...]) -> list[np.ndarray]:
    """On- and off-centre DoG kernels for each window size s (σ = s/9 and 2s/9, SpykeTorch ``MozafariDeep.py``),
    ordered (on s0, off s0, on s1, ...)."""
    out = []
    for s in sizes_px:
        out.append(dog_kernel(s, s / 9, 2 * s / 9))
        out.append(dog_kernel(s, 2 * s / 9, s / 9))
    return out


def dog_filter(images: np.ndarray, sizes_px: tuple[int, ...], threshold: float, norm_radius_px: int) -> np.ndarray:
    """DoG responses of ``images`` (n, H, W) uint8/float on the 0–255 scale: 'same'-size correlation with zero
    padding, responses below ``threshold`` set to 0, then each channel divided by its local mean over a
    (2r+1)² window (zero padding counts as 0; ``r = norm_radius_px``; r = 0 skips it). Returns (n, 2·len(sizes), H, W)
    float64 ≥ 0."""
    x = np.asarray(images, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"images must be (n, H, W), got shape {x.shape}")
    ks = dog_bank(sizes_px)
    out = np.empty((x.shape[0], len(ks), x.shape[1], x.shape[2]))
    for c, k in enumerate(ks):
        r = ndimage.correlate(x, k[None], mode="constant", cval=0.0)
        r[r < threshold] = 0.0
        if norm_radius_px > 0:
            m = ndimage.uniform_filter(r, size=(1, 2 * norm_radius_px + 1, 2 * norm_radius_px + 1),
                                       mode="constant", cval=0.0)
            r = r / (m + 1e-12)
        out[:, c] = r
    return out


def intensity_to_latency(intensity: np.ndarray, T: int) -> np.ndarray:
    """Rank-order latency code of one sample ``intensity`` (any shape, ≥ 0): the n_nz nonzero values sorted in
    decreasing order are cut into T bins of ⌊n_nz/T⌋ values (at least 1); bin t fires at step t, the rest (zero,
    or left over after T bins) never (spike time T). Ties keep the flat index order. Returns int16, same shape."""
    v = np.asarray(intensity, dtype=np.float64).ravel()
    s = np.full(v.size, T, np.int16)
    nz = int(np.count_nonzero(v))
    if nz == 0:
        return s.reshape(np.shape(intensity))
    bin_size = max(1, nz // T)
    order = np.argsort(-v, kind="stable")[: min(nz, bin_size * T)]
    s[order] = (np.arange(order.size) // bin_size).astype(np.int16)
    return s.reshape(np.shape(intensity))


def encode_images(images: np.ndarray, sizes_px: tuple[int, ...], threshold: float, norm_radius_px: int,
                  T: int) -> np.ndarray:
    """Spike times (n, 2·len(sizes), H, W) int16 of ``images`` (n, H, W) on the 0–255 scale: :func:`dog_filter`
    then :func:`intensity_to_latency` per image."""
    r = dog_filter(images, sizes_px, threshold, norm_radius_px)
    return np.stack([intensity_to_latency(ri, T) for ri in r]) if len(r) else np.zeros(r.shape, np.int16)
