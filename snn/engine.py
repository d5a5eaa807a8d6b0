"""Engines: the numba CPU kernels and the batched torch path behind one interface.

Both hold the network state (``w`` (784, N) in [0, 1], ``state`` int32 levels/MTJ counts, per-synapse
``gp``/``gap`` conductances in S, ``theta`` (N,) mV) and offer ``train_batch`` / ``eval_counts`` on spike
probabilities per step ``p_steps`` (B, 784). Random streams: numba seeds each image's stream with its own
seed (input spikes, rule spread) and the synapse update with ``update_seed``; torch seeds one generator per
batch with ``update_seed``. Both engines give identical results on identical input spike trains
(:func:`train_on_trains`); with their own Poisson draws they differ sample by sample, not in distribution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .lc import connectivity_mask, location_groups
from .params import P_THETA_DECAY, NetworkParams
from .rules import CompiledRule
from .synapses import Synapse

if TYPE_CHECKING:
    from .adc import AdcModel


@dataclass
class NetState:
    """Learned state of the network (numpy, float64 unless stated)."""

    w: np.ndarray  # (784, N) in [0, 1]
    state: np.ndarray  # (784, N) int32 levels / P-MTJ counts; (1, 1) for ideal
    gp_S: np.ndarray  # (784, N) G_P per synapse (compound), else G_max
    gap_S: np.ndarray  # (784, N) G_AP per synapse (compound), else G_min
    theta: np.ndarray  # (N,) mV


def _syn_args(syn: Synapse) -> tuple[int, int, bool, float, float, float]:
    """(kind, n_lev, stochastic, gain, g_min, g_max) as the kernels' ``apply_update`` takes them."""
    return syn.kernel_args()


def topology(params: NetworkParams) -> tuple[np.ndarray, np.ndarray]:
    """(inhibition group (N,) int64, connectivity mask uint8) of the network: all zeros and a (1, 1) "no mask" for
    Diehl & Cook; the locations and the (784, N) patch mask of a locally connected network (:mod:`spinsyn.snn.lc`)."""
    if params.lc is None:
        return np.zeros(params.n_neurons, np.int64), np.zeros((1, 1), np.uint8)
    return location_groups(params.lc), connectivity_mask(params.lc)


def masked_weights(w: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Weights (784, N) as the network reads them: ``w · mask`` with an LC mask (masked cells exactly 0, whatever
    the evaluated conductances or their read noise), ``w`` itself without one."""
    if mask.shape != np.shape(w):
        return w
    return np.ascontiguousarray(np.asarray(w, np.float64) * mask)


class NumbaEngine:
    """CPU engine: images of a batch in parallel threads, event-driven per image."""

    name = "numba"

    def __init__(self, ns: NetState, params: NetworkParams, rule: CompiledRule, syn: Synapse, norm: float,
                 merge_winner: bool = True, threads: int = 0, scale_wins: bool = False):
        self.ns, self.params, self.rule, self.syn = ns, params, rule, syn
        self.scale_wins = bool(scale_wins)  # ``--merge winner-scaled``
        #: numba threads for the parallel kernels (0 = all that NUMBA_NUM_THREADS allows); results do not depend
        #: on it (each image has its own random stream and workspace)
        self.threads = int(threads)
        self.P, self.T, self.norm, self.merge_winner = params.packed(), params.steps, float(norm), merge_winner
        self._ws: tuple = ()
        self.device = "cpu"
        self._syn = _syn_args(syn)
        self._graded = syn.graded_args()  # (A_LTP, A_LTD, c2c) of graded synapses, zeros otherwise
        #: inhibition group per neuron and input mask (:func:`topology`; LC network: per location, patch)
        self.group, self.mask = topology(params)
        #: Diehl & Cook's training rule: an image evoking fewer spikes is shown again (its first presentation
        #: discarded) with the input rate raised by 32 Hz per retry, up to 5 times; 0 = off (BindsNET)
        self.train_min_spikes = 0

    def _workspace(self, B: int) -> tuple:
        """(dWT (B, N, 784), counts, spiked, n_spiked, θ after) views of one workspace sized for the largest batch
        so far (a batch ramp does not allocate one per size); dWT rows are zeroed again by the merge."""
        if not self._ws or self._ws[0].shape[0] < B:
            N = self.ns.w.shape[1]
            self._ws = (np.zeros((B, N, 784)), np.zeros((B, N), np.int64), np.zeros((B, N), np.int64),
                        np.zeros(B, np.int64), np.zeros((B, N)))
        return tuple(a[:B] for a in self._ws)

    def warm_up(self) -> None:
        """Load the compiled kernels (the first call of each loads it from numba's cache, ~0.5 s in all) on a
        1-step dummy image and copies of the state, so that timed calls count simulation only."""
        from . import kernels as K  # lazy: startup

        ns, r, N = self.ns, self.rule, self.ns.w.shape[1]
        w, th, p, sd = ns.w.copy(), ns.theta.copy(), np.zeros((1, 784)), np.zeros(1, np.uint32)
        dWT, counts, spiked, nsp, tha = (np.zeros((1, N, 784)), np.zeros((1, N), np.int64), np.zeros((1, N), np.int64),
                                         np.zeros(1, np.int64), np.zeros((1, N)))
        K.run_batch(p, sd, 1, w, th, self.P, self.group, True, r.kind, r.f_tab, r.nu_pre, r.nu_post, r.trace_decay,
                    r.spread, r.offset, dWT, counts, spiked, nsp, tha)
        kind, n_lev, stoch, gain, gmin, gmax = self._syn
        K.apply_update(w, ns.state.copy(), ns.gp_S.copy(), ns.gap_S.copy(), th, th.copy(), tha, counts, dWT, spiked,
                       nsp, self.merge_winner, kind, n_lev, stoch, gain, gmin, gmax, self.norm, np.uint32(0),
                       bool(r.soft_bound), self.scale_wins, *self._graded, self.mask)
        K.eval_batch(p, sd, 1, w, th, self.P, self.group, counts, *K.NO_ADC_BATCH)

    def _pin(self, B: int) -> None:
        """Use ``min(threads, B)`` threads for a call on ``B`` images: a parallel region with idle threads costs
        their wake-up and barrier (measured: batch-1 training at 2 threads on a loaded 2-core machine ran at 63
        instead of ~1,400 images/s)."""
        import numba  # lazy: startup

        n = self.threads or numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]  # set at numba import
        numba.set_num_threads(max(1, min(n, B)))

    def train_batch(self, p_steps: np.ndarray, seeds: np.ndarray, update_seed: int) -> np.ndarray:
        from . import kernels as K  # lazy: startup

        B = p_steps.shape[0]
        self._pin(B)
        dWT, counts, spiked, nsp, tha = self._workspace(B)
        r, ns = self.rule, self.ns
        K.run_batch(p_steps, seeds, self.T, ns.w, ns.theta, self.P, self.group, True, r.kind, r.f_tab, r.nu_pre,
                    r.nu_post, r.trace_decay, r.spread, r.offset, dWT, counts, spiked, nsp, tha)
        if self.train_min_spikes > 0:
            self._represent_weak(p_steps, seeds, dWT, counts, spiked, nsp, tha)
        self._merge(counts, dWT, spiked, nsp, tha, update_seed)
        return counts.copy()

    def _represent_weak(self, p_steps, seeds, dWT, counts, spiked, nsp, tha) -> None:
        """Replace, in the batch workspace, the result of every image with fewer than ``train_min_spikes``
        spikes by a new presentation at +32 Hz per retry (same frozen weights and θ; up to 5 retries)."""
        from . import kernels as K  # lazy: startup

        r_, ns = self.rule, self.ns
        base = self.params.intensity_Hz
        for retry in range(1, 6):
            low = np.nonzero(counts.sum(1) < self.train_min_spikes)[0]
            if len(low) == 0:
                return
            n, N = len(low), counts.shape[1]
            sub = (np.zeros((n, N, 784)), np.zeros((n, N), np.int64), np.zeros((n, N), np.int64),
                   np.zeros(n, np.int64), np.zeros((n, N)))
            p = np.minimum(p_steps[low] * ((base + 32.0 * retry) / base), 1.0)
            with np.errstate(over="ignore"):
                sd = (seeds[low].astype(np.uint64) + np.uint64(0x9E3779B9 * retry)) & np.uint64(0xFFFFFFFF)
            K.run_batch(p, sd.astype(np.uint32), self.T, ns.w, ns.theta, self.P, self.group, True, r_.kind, r_.f_tab,
                        r_.nu_pre, r_.nu_post, r_.trace_decay, r_.spread, r_.offset, *sub)
            dWT[low], counts[low], spiked[low], nsp[low], tha[low] = sub

    def _merge(self, counts, dWT, spiked, nsp, tha, update_seed):
        from . import kernels as K  # lazy: startup

        ns = self.ns
        th0d = ns.theta * self.P[P_THETA_DECAY] ** self.T
        kind, n_lev, stoch, gain, gmin, gmax = self._syn
        K.apply_update(ns.w, ns.state, ns.gp_S, ns.gap_S, ns.theta, th0d, tha, counts, dWT, spiked, nsp,
                       self.merge_winner, kind, n_lev, stoch, gain, gmin, gmax, self.norm, np.uint32(update_seed),
                       bool(self.rule.soft_bound), self.scale_wins, *self._graded, self.mask)

    def eval_counts(self, p_steps: np.ndarray, seeds: np.ndarray, w: np.ndarray | None = None,
                    adc: AdcModel | None = None) -> np.ndarray:
        """Spike counts (B, N) of the images with spike probabilities ``p_steps`` (B, 784) and seeds ``seeds``
        (B,) on ``w`` (None: the engine's own); ``adc``: digitise each step's input per row block
        (:mod:`spinsyn.snn.adc`), None: the exact sum."""
        from . import kernels as K  # lazy: startup

        self._pin(p_steps.shape[0])
        ww = self.ns.w if w is None else masked_weights(w, self.mask)
        counts = np.zeros((p_steps.shape[0], self.ns.w.shape[1]), np.int64)
        if adc is None:
            K.eval_batch(p_steps, seeds, self.T, ww, self.ns.theta, self.P, self.group, counts, *K.NO_ADC_BATCH)
        else:
            K.eval_batch(p_steps, seeds, self.T, ww, self.ns.theta, self.P, self.group, counts,
                         *adc.kernel_args(ww.shape[1], seeds, ww.shape[0]))
        return counts

    def train_trains(self, X: np.ndarray, update_seed: int) -> np.ndarray:
        """Train on given input spikes ``X`` (B, T, 784) bool as one batch. Returns counts (B, N)."""
        from . import kernels as K  # lazy: startup

        B = X.shape[0]
        dWT, counts, spiked, nsp, tha = self._workspace(B)
        r, ns = self.rule, self.ns
        for b in range(B):
            t_idx, i_idx = np.nonzero(X[b])
            ptr = np.zeros(self.T + 1, np.int32)
            np.add.at(ptr, t_idx + 1, 1)
            ptr = np.cumsum(ptr).astype(np.int32)
            th = ns.theta.copy()
            nsp[b] = K.simulate_image(i_idx.astype(np.int32), ptr, self.T, ns.w, th, self.P, True, r.kind, r.f_tab,
                                      r.nu_pre, r.nu_post, r.trace_decay, r.spread, r.offset, dWT[b], counts[b],
                                      spiked[b], *K.NO_ADC_IMAGE, self.group)
            tha[b] = th
        self._merge(counts, dWT, spiked, nsp, tha, update_seed)
        return counts.copy()

    def sync(self) -> NetState:
        return self.ns


class TorchEngine:
    """Batched torch engine on ``device`` (``"cuda"``, ``"cpu"``), float32 on CUDA, float64 on CPU."""

    name = "torch"

    def __init__(self, ns: NetState, params: NetworkParams, rule: CompiledRule, syn: Synapse, norm: float,
                 merge_winner: bool = True, device: str = "cpu", dtype=None, scale_wins: bool = False):
        import torch  # lazy: startup

        from . import torch_engine as TE  # lazy: startup

        self.scale_wins = bool(scale_wins)  # ``--merge winner-scaled``

        self.torch = torch
        self.params, self.rule, self.syn, self.norm, self.merge_winner = params, rule, syn, float(norm), merge_winner
        self.P = [float(x) for x in params.packed()]
        self.T = params.steps
        self.device = str(torch.device(device))
        self.dtype = dtype or (torch.float64 if self.device == "cpu" else torch.float32)

        def tt(a, dt=None):
            return torch.as_tensor(np.ascontiguousarray(a), device=self.device, dtype=dt or self.dtype)

        self.w, self.gp, self.gap = tt(ns.w), tt(ns.gp_S, torch.float64), tt(ns.gap_S, torch.float64)
        self.theta = tt(ns.theta)
        self.state = torch.as_tensor(ns.state, device=self.device)
        self.gen = torch.Generator(device=self.device)
        self._ns = ns
        self._syn = _syn_args(syn)
        self._graded = syn.graded_args()
        #: one :class:`~spinsyn.snn.torch_engine.StaticSimulation` per training batch size: a CUDA graph of the
        #: T-step loop on CUDA (``capture`` False: the eager loop, as on the CPU)
        self.capture = self.device.startswith("cuda")
        self._sims: dict[int, object] = {}
        group, mask = topology(params)
        #: LC network: one-hot location matrix (N, L) of the inhibition and the input mask (784, N); None for D&C
        self.groups = None if params.lc is None else TE.group_matrix(torch.as_tensor(group), self.device, self.dtype)
        self.mask = None if params.lc is None else tt(mask, torch.float64)

    def _sim(self, B: int):
        """The static training simulation for a batch of ``B`` on the engine's own ``w`` and θ. (Evaluation, a
        few large chunks, calls :func:`~spinsyn.snn.torch_engine.simulate` directly: a graph keeps its memory
        pool, and pools for 2,048-image chunks would not fit next to each other for thousands of neurons.)"""
        from . import torch_engine as TE  # lazy: startup

        if B not in self._sims:
            self._sims[B] = TE.StaticSimulation(B, self.T, self.w, self.theta, self.P, True, capture=self.capture,
                                                groups=self.groups)
        return self._sims[B]

    def _update(self, X, update_seed: int):
        from . import torch_engine as TE  # lazy: startup

        torch = self.torch
        S, th_after = self._sim(X.shape[0])(X)
        dW = TE.weight_change(X, S, self.rule, self.gen)
        counts = S.sum(1)
        th0d = self.theta * self.P[P_THETA_DECAY] ** self.T
        kind, n_lev, stoch, gain, gmin, gmax = self._syn
        w64 = self.w.to(torch.float64)
        theta64 = self.theta.to(torch.float64)
        TE.apply_update(w64, self.state, self.gp, self.gap, theta64, th0d.to(torch.float64),
                        th_after.to(torch.float64), counts, dW.to(torch.float64), self.merge_winner, kind, n_lev,
                        stoch, gain, gmin, gmax, self.norm, self.gen, bool(self.rule.soft_bound), self.scale_wins,
                        self._graded, self.mask)
        self.w.copy_(w64)
        self.theta.copy_(theta64)
        return counts.round().to(torch.int64).cpu().numpy()

    def train_batch(self, p_steps: np.ndarray, seeds: np.ndarray, update_seed: int) -> np.ndarray:
        from . import torch_engine as TE  # lazy: startup

        self.gen.manual_seed(int(update_seed))
        p = self.torch.as_tensor(p_steps, device=self.device, dtype=self.dtype)
        return self._update(TE.poisson_dense(p, self.T, self.gen), update_seed)

    def train_trains(self, X: np.ndarray, update_seed: int) -> np.ndarray:
        self.gen.manual_seed(int(update_seed))
        return self._update(self.torch.as_tensor(X, device=self.device, dtype=self.dtype), update_seed)

    def eval_counts(self, p_steps: np.ndarray, seeds: np.ndarray, w: np.ndarray | None = None,
                    adc: AdcModel | None = None) -> np.ndarray:
        from . import torch_engine as TE  # lazy: startup

        if adc is not None:
            raise ValueError("adc: the ADC model runs on the numba CPU engine only (evaluate with device='cpu')")
        torch = self.torch
        self.gen.manual_seed(int(seeds[0]) if len(seeds) else 0)
        p = torch.as_tensor(p_steps, device=self.device, dtype=self.dtype)
        ww = self.w if w is None else torch.as_tensor(w, device=self.device, dtype=self.dtype)
        if w is not None and self.mask is not None:
            ww = ww * self.mask.to(self.dtype)
        S, _ = TE.simulate(TE.poisson_dense(p, self.T, self.gen), ww, self.theta, self.P, False, self.groups)
        return S.sum(1).round().to(torch.int64).cpu().numpy()

    def warm_up(self) -> None:
        """Nothing to load (torch kernels need no compilation here)."""

    def sync(self) -> NetState:
        ns = self._ns
        ns.w[...] = self.w.detach().to(self.torch.float64).cpu().numpy()
        ns.theta[...] = self.theta.detach().to(self.torch.float64).cpu().numpy()
        if ns.state.size > 1:
            ns.state[...] = self.state.cpu().numpy()
        return ns


def make_engine(kind: str, ns: NetState, params: NetworkParams, rule: CompiledRule, syn: Synapse, norm: float,
                merge_winner: bool, device: str, threads: int = 0, scale_wins: bool = False):
    """``kind`` = "numba" (CPU only; ``threads``: 0 = all allowed) or "torch"; ``scale_wins``: ``--merge
    winner-scaled`` (with ``merge_winner``)."""
    if kind == "numba":
        return NumbaEngine(ns, params, rule, syn, norm, merge_winner, threads, scale_wins)
    return TorchEngine(ns, params, rule, syn, norm, merge_winner, device=device, scale_wins=scale_wins)
