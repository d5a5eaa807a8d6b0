"""Batched PyTorch engine (CUDA, or CPU as a reference) with the semantics of :mod:`spinsyn.snn.kernels`.

Pure step functions over a batch (Norse style): :func:`exc_step`, :func:`inh_step` take ``(input, state,
params)`` and return ``(spikes, new_state)``. Input currents for all steps of a batch come from one matrix
product (weights are frozen within an image); learning is two batched matrix products at the end of the
image (``ΔW_b = ν_post·F_bᵀ S_b`` for the trace rule), so per step only (B, N) element-wise work remains.

Shapes: input spikes ``X`` (B, T, 784), weights ``w`` (784, N), spikes ``S`` (B, T, N).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .kinds import RULE_TRACE, SYN_COMPOUND, SYN_CONTINUOUS, SYN_GRADED, SYN_LEVELS
from .params import (
    P_E_DECAY,
    P_E_REFRAC,
    P_E_RESET,
    P_E_REST,
    P_E_THRESH,
    P_I_DECAY,
    P_I_REFRAC,
    P_I_RESET,
    P_I_REST,
    P_I_THRESH,
    P_THETA_DECAY,
    P_THETA_PLUS,
    P_W_EI,
    P_W_IE,
)


class ExcState(NamedTuple):
    v: torch.Tensor  # (B, N) mV
    ref: torch.Tensor  # (B, N) steps of refractoriness left
    theta: torch.Tensor  # (B, N) mV


class InhState(NamedTuple):
    v: torch.Tensor
    ref: torch.Tensor


def exc_step(I_in: torch.Tensor, s: ExcState, P: list[float], learn: bool
             ) -> tuple[torch.Tensor, ExcState]:
    """One step of the adaptive-threshold LIF layer with one spike per image per step (largest overshoot).

    ``I_in`` (B, N) mV input. Returns one-hot spikes (B, N) float and the new state."""
    rest = P[P_E_REST]
    v = P[P_E_DECAY] * (s.v - rest) + rest
    theta = s.theta * P[P_THETA_DECAY] if learn else s.theta
    v = v + (s.ref <= 0).to(v.dtype) * I_in
    ref = s.ref - 1
    over = v - (P[P_E_THRESH] + theta)
    cross = over >= 0
    ref = torch.where(cross, torch.full_like(ref, P[P_E_REFRAC]), ref)
    v = torch.where(cross, torch.full_like(v, P[P_E_RESET]), v)
    if learn:
        theta = theta + P[P_THETA_PLUS] * cross.to(theta.dtype)
    masked = torch.where(cross, over, torch.full_like(over, -1.0))
    best = masked.argmax(1, keepdim=True)  # first maximum on ties
    spk = torch.zeros_like(v).scatter_(1, best, 1.0) * cross.any(1, keepdim=True).to(v.dtype)
    return spk, ExcState(v, ref, theta)


def inh_step(I_in: torch.Tensor, s: InhState, P: list[float]) -> tuple[torch.Tensor, InhState]:
    """One step of the inhibitory LIF layer. ``I_in`` (B, N) mV. Returns spikes (B, N) float and new state."""
    rest = P[P_I_REST]
    v = P[P_I_DECAY] * (s.v - rest) + rest
    v = v + (s.ref <= 0).to(v.dtype) * I_in
    ref = s.ref - 1
    spk = v >= P[P_I_THRESH]
    ref = torch.where(spk, torch.full_like(ref, P[P_I_REFRAC]), ref)
    v = torch.where(spk, torch.full_like(v, P[P_I_RESET]), v)
    return spk.to(v.dtype), InhState(v, ref)


def poisson_dense(p_step: torch.Tensor, T: int, gen: torch.Generator) -> torch.Tensor:
    """Bernoulli spikes (B, T, 784) of dtype ``p_step.dtype`` with probability ``p_step`` (B, 784) per step."""
    B, n = p_step.shape
    u = torch.rand((B, T, n), generator=gen, device=p_step.device, dtype=p_step.dtype)
    return (u < p_step[:, None, :]).to(p_step.dtype)


def group_matrix(group: torch.Tensor, device, dtype) -> torch.Tensor:
    """One-hot (N, G) matrix of the inhibition group of each neuron (``group`` (N,) int): ``s @ M @ Mᵀ`` is, per
    neuron, the number of spikes of its group (exact: sums of 0/1)."""
    g = group.to(torch.int64)
    n_groups = int(g.max()) + 1 if g.numel() else 1
    return torch.nn.functional.one_hot(g, n_groups).to(device=device, dtype=dtype)


def simulate(X: torch.Tensor, w: torch.Tensor, theta: torch.Tensor, P: list[float], learn: bool,
             groups: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Run B images against the same ``w``. Returns spikes S (B, T, N) and final θ per image (B, N). ``groups``
    (N, G) one-hot (:func:`group_matrix`): inhibition only within a group (the locally connected network, as
    :func:`spinsyn.snn.kernels.simulate_image`); None: all-to-all (Diehl & Cook)."""
    B, T, _ = X.shape
    N = w.shape[1]
    dt, dev = w.dtype, w.device
    Iin = torch.zeros((B, T, N), dtype=dt, device=dev)
    if T > 1:
        Iin[:, 1:] = X[:, :-1] @ w
    es = ExcState(torch.full((B, N), P[P_E_REST], dtype=dt, device=dev), torch.zeros((B, N), dtype=dt, device=dev),
                  theta.to(dt).expand(B, N).clone())
    ins = InhState(torch.full((B, N), P[P_I_REST], dtype=dt, device=dev), torch.zeros((B, N), dtype=dt, device=dev))
    s_inh = torch.zeros((B, N), dtype=dt, device=dev)
    e_prev = torch.zeros((B, N), dtype=dt, device=dev)
    S = torch.empty((B, T, N), dtype=dt, device=dev)
    for t in range(T):
        if groups is None:
            I_in = Iin[:, t] - P[P_W_IE] * (s_inh.sum(1, keepdim=True) - s_inh)
        else:
            I_in = Iin[:, t] - P[P_W_IE] * ((s_inh @ groups) @ groups.T - s_inh)
        spk, es = exc_step(I_in, es, P, learn)
        s_inh, ins = inh_step(P[P_W_EI] * e_prev, ins, P)
        S[:, t] = spk
        e_prev = spk
    return S, es.theta


class StaticSimulation:
    """:func:`simulate` on fixed buffers, captured as one CUDA graph on CUDA (the T-step loop of ~20 small kernels
    per step is launch-bound; a graph replays all of them with one launch). On the CPU the same buffers and the
    same call sequence run eagerly, so the copy-in / replay / read-out logic is what the CPU tests check.

    ``w`` (784, N) and ``theta`` (N,) are read by reference at every call (the engine updates them in place);
    the input spikes are copied into the static ``X`` (B, T, 784). The returned spikes S (B, T, N) and final
    θ (B, N) are the static outputs: valid until the next call."""

    def __init__(self, B: int, T: int, w: torch.Tensor, theta: torch.Tensor, P: list[float], learn: bool,
                 capture: bool | None = None, groups: torch.Tensor | None = None):
        self.w, self.theta, self.P, self.learn, self.groups = w, theta, P, learn, groups
        self.X = torch.zeros((B, T, w.shape[0]), dtype=w.dtype, device=w.device)
        self.captured = w.device.type == "cuda" if capture is None else capture
        self.graph: torch.cuda.CUDAGraph | None = None
        if self.captured:
            self._capture()

    def _capture(self) -> None:
        side = torch.cuda.Stream(device=self.w.device)
        side.wait_stream(torch.cuda.current_stream(self.w.device))
        with torch.cuda.stream(side):  # warm-up outside the graph (allocator pools, lazy kernel loads)
            simulate(self.X, self.w, self.theta, self.P, self.learn, self.groups)
        torch.cuda.current_stream(self.w.device).wait_stream(side)
        self.graph = graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.S, self.theta_after = simulate(self.X, self.w, self.theta, self.P, self.learn, self.groups)

    def __call__(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.X.copy_(X)
        if self.graph is None:  # eager: the same inputs, outputs not kept between calls
            return simulate(self.X, self.w, self.theta, self.P, self.learn, self.groups)
        self.graph.replay()
        return self.S, self.theta_after


def _last_times(X: torch.Tensor) -> torch.Tensor:
    """Index of the last spike at or before each step, −1 before the first: (B, T, n) int64."""
    T = X.shape[1]
    t = torch.arange(T, device=X.device).view(1, T, 1)
    return torch.where(X > 0, t, torch.full_like(t, -1)).cummax(dim=1).values


def weight_change(X: torch.Tensor, S: torch.Tensor, rule, gen: torch.Generator | None = None) -> torch.Tensor:
    """ΔW per image (B, 784, N) from input spikes X (B, T, 784) and exc spikes S (B, T, N)."""
    T = X.shape[1]
    dt = S.dtype
    tt = torch.arange(T, device=X.device).view(1, T, 1)
    lp = _last_times(X)
    d = tt - lp
    if rule.kind == RULE_TRACE:
        f_tab = torch.as_tensor(rule.f_tab, dtype=dt, device=X.device)
        W = f_tab.shape[0]
        F = torch.where((lp >= 0) & (d < W), f_tab[d.clamp(0, W - 1)], torch.zeros((), dtype=dt, device=X.device))
        if rule.spread > 0:
            F = F * (1 + rule.spread * torch.randn(F.shape, generator=gen, device=X.device, dtype=dt))
        if rule.offset:
            F = F - rule.offset
        return rule.nu_post * torch.bmm(F.transpose(1, 2), S)
    decay = torch.tensor(rule.trace_decay, dtype=dt, device=X.device)
    xpre = torch.where(lp >= 0, decay ** d.to(dt), torch.zeros((), dtype=dt, device=X.device))
    dW = rule.nu_post * torch.bmm(xpre.transpose(1, 2), S)
    if rule.nu_pre:
        lq = _last_times(S)
        xpost = torch.where(lq >= 0, decay ** (tt - lq).to(dt), torch.zeros((), dtype=dt, device=X.device))
        dW = dW - rule.nu_pre * torch.bmm(X.transpose(1, 2), xpost)
    return dW


def apply_update(w, state, gp, gap, theta, theta0_decayed, theta_after, counts, dW, merge_winner, syn_kind, n_lev,
                 stochastic, gain, gmin, gmax, norm, gen, soft_bound=False, scale_wins=False, graded=(0.0, 0.0, 0.0),
                 mask=None):
    """Torch twin of :func:`spinsyn.snn.kernels.apply_update` (in place on ``w``, ``state``, ``theta``).

    ``counts`` (B, N), ``dW`` (B, 784, N); ``graded`` (A_LTP, A_LTD in pulses, c2c per pulse) of ``SYN_GRADED``;
    ``mask`` (784, N) 0/1 of a locally connected network (masked targets 0, masked weights read 0), None: none."""
    theta.copy_(theta0_decayed + (theta_after - theta0_decayed).sum(0))
    cmax, best_b = counts.max(0)  # first maximum on ties
    cols = cmax > 0
    if not bool(cols.any()):
        return
    N = w.shape[1]
    if merge_winner:
        delta = dW.permute(2, 0, 1)[torch.arange(N, device=w.device), best_b].T  # (784, N)
        if scale_wins:  # × max(1, images in which the neuron spiked most of all neurons)
            top_c, top = counts.max(1)
            wins = torch.bincount(top[top_c > 0], minlength=N).to(delta.dtype)
            delta = delta * wins.clamp_min(1.0)
    else:
        delta = dW.sum(0)
    # compound: the update acts on the nominal level (pulse count), not the read conductance
    base = w if syn_kind != SYN_COMPOUND else state.to(w.dtype) / n_lev
    if soft_bound:
        delta = torch.where(delta > 0, delta * (1.0 - base), delta * base)
    tgt = (base + delta).clamp(0.0, 1.0)
    if mask is not None:
        tgt = tgt * mask
    if norm > 0:
        ssum = tgt.sum(0, keepdim=True)
        tgt = torch.where(ssum > 0, (tgt * (norm / ssum.clamp_min(1e-300))).clamp(max=1.0), tgt)
    c = cols.nonzero().squeeze(1)
    tg = tgt[:, c]
    if syn_kind == SYN_CONTINUOUS:
        w[:, c] = tg
    elif syn_kind == SYN_LEVELS:
        L1 = n_lev - 1
        x = tg * L1
        lo = x.floor()
        if stochastic:
            lev = lo + (torch.rand(x.shape, generator=gen, device=x.device, dtype=x.dtype) < x - lo).to(x.dtype)
        else:
            lev = torch.floor(x + 0.5)
        lev = lev.clamp(0, L1)
        state[:, c] = lev.to(state.dtype)
        w[:, c] = lev / L1
    elif syn_kind == SYN_GRADED:
        w[:, c] = graded_step(w[:, c], tg, n_lev, graded, stochastic, gen)
    else:
        k = state[:, c].to(tg.dtype)
        d = gain * (tg * n_lev - k)
        up_n, dn_n = n_lev - k, k
        p_up = torch.where((d > 0) & (up_n > 0), d / up_n.clamp_min(1), torch.zeros_like(d)).clamp(0, 1)
        p_dn = torch.where((d < 0) & (dn_n > 0), -d / dn_n.clamp_min(1), torch.zeros_like(d)).clamp(0, 1)
        k = k + torch.binomial(up_n, p_up, generator=gen) - torch.binomial(dn_n, p_dn, generator=gen)
        state[:, c] = k.to(state.dtype)
        x = (k * gp[:, c] + (n_lev - k) * gap[:, c] - gmin) / (gmax - gmin)
        w[:, c] = x.clamp(0.0, 1.0)
    if mask is not None:
        w[:, c] = w[:, c] * mask[:, c]


def graded_step(x: torch.Tensor, tg: torch.Tensor, P: int, graded, stochastic: bool,
                gen: torch.Generator | None) -> torch.Tensor:
    """Torch twin of :func:`spinsyn.snn.kernels.graded_step` on (784, C) tensors: x after the pulses realising
    ``tg − x`` (``graded`` = (A_LTP, A_LTD) in pulses, c2c σ per pulse as a fraction of the range)."""
    a_ltp, a_ltd, c2c = (float(v) for v in graded)
    dw = tg - x
    m = dw.abs() * P
    lo = m.floor()
    if stochastic:
        n = lo + (torch.rand(m.shape, generator=gen, device=m.device, dtype=m.dtype) < m - lo).to(m.dtype)
    else:
        n = torch.floor(m + 0.5)
    up = dw > 0
    y = torch.where(up, x, 1.0 - x)
    a = torch.where(up, torch.full_like(x, a_ltp), torch.full_like(x, a_ltd))
    em = -torch.expm1(-n / a)
    y = y * (1.0 - em) + em / (-torch.expm1(-P / a))
    if c2c > 0:
        y = y + c2c * n.sqrt() * torch.randn(y.shape, generator=gen, device=y.device, dtype=y.dtype)
    y = y.clamp(0.0, 1.0)
    return torch.where(n > 0, torch.where(up, y, 1.0 - y), x)
