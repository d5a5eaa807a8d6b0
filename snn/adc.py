"""Sense amplifier / ADC model of a crossbar's column read-out at inference.

On a crossbar chip the inputs (784 rows) are cut into tiles of ``rows`` rows; each tile column's current (the
partial sum of its rows' weights over the inputs that spike in a time step) is digitised by an ADC every step, and
the neuron receives the sum of the digitised partial sums of its column's tiles instead of the exact
Σ_i x_i(t)·w_ij. For row block b (inputs i with i // rows = b) with at least one spiking input in step t and
neuron j::

    p_bj  = Σ_{spiking i in b} w_ij                                (weight units: w in [0, 1])
    code  = clip(floor(p_bj / lsb + offset_bj + noise_lsb_sigma·n + 1/2), 0, 2^bits − 1),   n ~ N(0, 1)
    I_j  += code · lsb,      lsb = full_scale / (2^bits − 1)

``offset_bj`` ~ ``offset_lsb_sigma``·N(0, 1) is a static offset per ADC (one per (row block, neuron)), drawn once
from ``seed``; n is drawn per conversion from a stream seeded per image (from the image's seed and ``seed``), so
an evaluation is reproducible. Blocks without a spiking input are not converted and contribute 0 (a real array
would read the column's idle current; the model assumes it is subtracted). The ADC acts on the normalised weight
``w = (G − G_min)/(G_max − G_min)``: the column current minus the G_min part (a reference column's subtraction)
is what it digitises; its full scale is in the same units. Rounding is to the nearest code (half up).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from spinsyn.validation import check_scalar

from .inference import image_seeds as _mix_seeds
from .inference import spike_prob
from .params import NetworkParams

#: bins of the histogram :func:`calibrate_full_scale` takes its quantile from (error ≤ one bin = p_max / 65,536)
CALIBRATION_BINS = 1 << 16
#: images per call of the histogram kernel (workspace: chunk × bins × 8 bytes = 8 MiB)
_CALIBRATION_CHUNK = 16


@dataclass(frozen=True)
class AdcModel:
    """One ADC per tile column and row block of ``rows`` inputs (see the module docstring for the formula).

    ``rows``: rows per tile (row block), ≥ 1; ``bits``: resolution, 1..16; ``full_scale``: the partial sum (weight
    units, > 0) that maps to the top code 2^bits − 1; ``offset_lsb_sigma``: σ of the static offset per ADC in LSB;
    ``noise_lsb_sigma``: σ of the noise per conversion in LSB; ``seed``: the offsets' and the noise's stream."""

    rows: int
    bits: int
    full_scale: float
    offset_lsb_sigma: float = 0.0
    noise_lsb_sigma: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        check_scalar(self.rows, "AdcModel.rows", int, min_val=1)
        check_scalar(self.bits, "AdcModel.bits", int, min_val=1, max_val=16)
        check_scalar(self.full_scale, "AdcModel.full_scale", float, min_val=0.0, include_boundaries="neither")
        check_scalar(self.offset_lsb_sigma, "AdcModel.offset_lsb_sigma", float, min_val=0.0)
        check_scalar(self.noise_lsb_sigma, "AdcModel.noise_lsb_sigma", float, min_val=0.0)
        check_scalar(self.seed, "AdcModel.seed", int, min_val=0, max_val=2**32 - 1)

    @property
    def top_code(self) -> int:
        """Largest code, 2^bits − 1."""
        return (1 << self.bits) - 1

    @property
    def lsb(self) -> float:
        """Weight units per code, ``full_scale`` / (2^bits − 1)."""
        return float(self.full_scale) / self.top_code

    def n_blocks(self, n_inputs: int = 784) -> int:
        """Row blocks (tiles down a column) for ``n_inputs`` rows: ceil(n_inputs / rows)."""
        return -(-n_inputs // self.rows)

    def offsets_lsb(self, n_neurons: int, n_inputs: int = 784) -> np.ndarray:
        """Static offset per ADC (n_blocks, n_neurons) float64 in LSB: ``offset_lsb_sigma``·N(0, 1) from the stream
        ``[seed, 0xADC]`` (zeros when σ = 0); the same for every image, chunk and weight matrix of that shape."""
        shape = (self.n_blocks(n_inputs), int(n_neurons))
        if self.offset_lsb_sigma <= 0:
            return np.zeros(shape)
        return float(self.offset_lsb_sigma) * np.random.default_rng([int(self.seed), 0xADC]).standard_normal(shape)

    def noise_seeds(self, image_seeds: np.ndarray) -> np.ndarray:
        """uint32 seed of the conversion noise per image, from the image's own seed and ``seed`` (splitmix64)."""
        return _mix_seeds(int(self.seed), 0xADC, np.asarray(image_seeds, np.uint64))

    def kernel_args(self, n_neurons: int, image_seeds: np.ndarray, n_inputs: int = 784) -> tuple:
        """``(rows, lsb, top, noise, offset (n_blocks, N), noise seeds (B,))`` as ``kernels.eval_batch`` takes
        them after ``counts``."""
        return (int(self.rows), self.lsb, float(self.top_code), float(self.noise_lsb_sigma),
                np.ascontiguousarray(self.offsets_lsb(n_neurons, n_inputs)), self.noise_seeds(image_seeds))

    @classmethod
    def calibrated(cls, w: np.ndarray, images: np.ndarray, params: NetworkParams, *, rows: int, bits: int,
                   quantile: float = 0.999, offset_lsb_sigma: float = 0.0, noise_lsb_sigma: float = 0.0,
                   seed: int = 0) -> AdcModel:
        """The ADC with the full scale a designer would set for weights ``w`` (784, N) on the calibration
        ``images`` (n, 28, 28) uint8 (e.g. training images): :func:`calibrate_full_scale` of their Poisson inputs
        (``params``' rate and steps; spike streams from ``seed``, not those of the evaluation)."""
        cls(rows, bits, 1.0, offset_lsb_sigma, noise_lsb_sigma, seed)  # validate before the calibration pass
        images = np.asarray(images)
        fs = calibrate_full_scale(w, spike_prob(images, params), params.steps, rows, quantile=quantile, seed=seed)
        return cls(rows, bits, fs, offset_lsb_sigma, noise_lsb_sigma, seed)


def calibrate_full_scale(w: np.ndarray, p_steps: np.ndarray, steps: int, rows: int, quantile: float = 0.999,
                         seed: int = 0) -> float:
    """ADC full scale (weight units) for weights ``w`` (784, N) in [0, 1]: the ``quantile`` of the non-zero per-step
    row-block partial sums Σ_{spiking i in b} w_ij (every block, neuron and step of every image) over Poisson inputs
    with per-step spike probabilities ``p_steps`` (n, 784) and ``steps`` steps, drawn as in evaluation (numba,
    image k seeded with ``inference.image_seeds(seed, 3·10^6, k)``). Exact up to the histogram: the empirical
    quantile (the smallest sum whose CDF ≥ ``quantile``) is interpolated inside its bin, within one bin width
    p_max / 65,536 (p_max: the largest block column sum, all rows spiking) of it.
    Inputs do not depend on the network's state, so no neuron is simulated. ValueError for bad arguments; when no
    partial sum is non-zero (no input spike or all-zero weights), returns p_max or 1.0."""
    from . import kernels as K  # lazy: startup (numba)

    check_scalar(rows, "rows", int, min_val=1)
    check_scalar(steps, "steps", int, min_val=1)
    check_scalar(quantile, "quantile", float, min_val=0.0, max_val=1.0, include_boundaries="right")
    w = np.ascontiguousarray(np.asarray(w, np.float64))
    p_steps = np.ascontiguousarray(np.asarray(p_steps, np.float64))
    if w.ndim != 2 or w.shape[0] != K.N_IN:
        raise ValueError(f"w: expected shape ({K.N_IN}, N), got {w.shape}")
    if p_steps.ndim != 2 or p_steps.shape[1] != K.N_IN:
        raise ValueError(f"p_steps: expected shape (n, {K.N_IN}), got {p_steps.shape}")
    nb = -(-K.N_IN // rows)
    pad = np.zeros((nb * rows, w.shape[1]))
    pad[:K.N_IN] = w
    p_max = float(pad.reshape(nb, rows, -1).sum(1).max()) if w.size else 0.0
    if p_max <= 0.0:
        return 1.0
    p_max *= 1.0 + 1e-12  # the kernel's sums (another order) may round above the reshape's
    hist = np.zeros(CALIBRATION_BINS, np.int64)
    work = np.zeros((_CALIBRATION_CHUNK, CALIBRATION_BINS), np.int64)
    for k in range(0, len(p_steps), _CALIBRATION_CHUNK):
        chunk = p_steps[k:k + _CALIBRATION_CHUNK]
        h = work[:len(chunk)]
        h[...] = 0
        K.adc_block_sum_hist(chunk, _mix_seeds(seed, 3 * 10**6, np.arange(k, k + len(chunk))), steps, w, rows,
                             p_max, h)
        hist += h.sum(0)
    total = int(hist.sum())
    if total == 0:
        return p_max
    cdf = np.cumsum(hist) / total
    i = int(np.searchsorted(cdf, quantile, side="left"))
    i = min(i, CALIBRATION_BINS - 1)
    lo = cdf[i - 1] if i > 0 else 0.0
    frac = (quantile - lo) / (cdf[i] - lo) if cdf[i] > lo else 1.0
    return float(p_max * (i + frac) / CALIBRATION_BINS)
