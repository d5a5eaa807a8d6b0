"""Numba CPU engine: event-driven simulation of one image end to end, a batch of images in parallel
(frozen weights, private θ), and the merge + synapse update at the end of each batch.

Semantics (shared with :mod:`spinsyn.snn.torch_engine`, identical spikes and weights given the same input
spike trains): synchronous update as BindsNET's ``Network.run`` — inputs to every layer at step t come from
spikes at step t−1 (input → exc, exc → inh one-to-one, inh → exc all-but-self). At most one excitatory neuron
emits a spike per step: the one with the largest overshoot ``v − (thresh + θ)`` (lowest index on a tie;
BindsNET picks at random); every neuron over threshold is reset and (learning) gets ``θ += θ+``. Weight
changes accumulate over the image and are realised by the synapse model at its end (BindsNET applies them
every step and normalises at the end of the image); θ is updated immediately.

Input spikes of an image are a CSR list: ``idx`` (int32, input indices) and ``ptr`` (int32, (T+1,)), spikes of
step t in ``idx[ptr[t]:ptr[t+1]]``. Weights ``w`` are (784, N) float64 in [0, 1].
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .kinds import RULE_POSTPRE, RULE_TRACE, SYN_COMPOUND, SYN_CONTINUOUS, SYN_GRADED, SYN_LEVELS
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

N_IN = 784
#: ``adc_offset`` of a disabled ADC (the default of :func:`simulate_image` and :func:`eval_batch`)
_NO_ADC_OFFSET = np.zeros((1, 1))
_NO_ADC_SEEDS = np.zeros(1, np.uint32)
#: the trailing ADC arguments of :func:`simulate_image` / :func:`eval_batch` for "no ADC". The kernels have no
#: default arguments: numba keys its on-disk cache on the argument types, and an omitted array default gets a type
#: that differs in every process, so each process would compile (and write its cache) again.
NO_ADC_IMAGE = (0, 1.0, 0.0, 0.0, _NO_ADC_OFFSET, 0)
NO_ADC_BATCH = (0, 1.0, 0.0, 0.0, _NO_ADC_OFFSET, _NO_ADC_SEEDS)


def _ziggurat_tables(n: int = 128, r: float = 3.442619855899, v: float = 9.91256303526217e-3) -> tuple:
    """(k, w, f) tables of Marsaglia & Tsang's ziggurat for N(0, 1) with ``n`` = 128 layers, tail start ``r`` and
    layer area ``v`` (J. Stat. Softw. 5(8), 2000, ``zigset``; 32-bit signed draws)."""
    m1 = 2147483648.0
    k, w, f = np.zeros(n), np.zeros(n), np.zeros(n)
    dn = tn = r
    q = v / math.exp(-0.5 * dn * dn)
    k[0], w[0], w[n - 1] = (dn / q) * m1, q / m1, dn / m1
    f[0], f[n - 1] = 1.0, math.exp(-0.5 * dn * dn)
    for i in range(n - 2, 0, -1):
        dn = math.sqrt(-2.0 * math.log(v / dn + math.exp(-0.5 * dn * dn)))
        k[i + 1] = (dn / tn) * m1
        tn = dn
        f[i], w[i] = math.exp(-0.5 * dn * dn), dn / m1
    return k, w, f


_ZIG_K, _ZIG_W, _ZIG_F = _ziggurat_tables()
_ZIG_R = 3.442619855899


@njit(cache=True)
def rng_next(st) -> np.uint64:
    """Next 64 random bits of the splitmix64 stream whose state is ``st[0]`` (uint64, advanced in place)."""
    st[0] += np.uint64(0x9E3779B97F4A7C15)
    z = st[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def rng_normal(st) -> float:
    """A N(0, 1) draw from the splitmix64 stream ``st`` by Marsaglia & Tsang's ziggurat (2000), the layer index
    from the low 7 bits and the signed 32-bit abscissa from the high 32 bits of one draw (independent bits, as
    Doornik 2005 recommends); ~4x faster than numba's ``np.random.standard_normal``."""
    while True:
        z = rng_next(st)
        iz = np.int64(z & np.uint64(127))
        hz = np.int64(np.int32(np.uint32(z >> np.uint64(32))))
        x = hz * _ZIG_W[iz]
        if abs(hz) < _ZIG_K[iz]:
            return x
        if iz == 0:  # the tail beyond r (Marsaglia 1964)
            while True:
                x = -math.log(((rng_next(st) >> np.uint64(11)) + np.uint64(1)) * (1.0 / 9007199254740993.0)) / _ZIG_R
                y = -math.log(((rng_next(st) >> np.uint64(11)) + np.uint64(1)) * (1.0 / 9007199254740993.0))
                if y + y >= x * x:
                    return _ZIG_R + x if hz > 0 else -_ZIG_R - x
        u = (rng_next(st) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
        if _ZIG_F[iz] + u * (_ZIG_F[iz - 1] - _ZIG_F[iz]) < math.exp(-0.5 * x * x):
            return x


@njit(cache=True)
def poisson_trains(p_step: np.ndarray, T: int) -> tuple[np.ndarray, np.ndarray]:
    """Bernoulli(p_i) spikes per step for each input, drawn with geometric skips (numba RNG).

    ``p_step`` (784,) float64 spike probability per step. Returns CSR ``(idx, ptr)``.
    """
    n = p_step.shape[0]
    times = np.empty(n * T, np.int32)
    who = np.empty(n * T, np.int32)
    m = 0
    for i in range(n):
        p = p_step[i]
        if p <= 0.0:
            continue
        if p >= 1.0:
            for t in range(T):
                times[m] = t
                who[m] = i
                m += 1
            continue
        lq = math.log1p(-p)
        t = int(math.floor(math.log(1.0 - np.random.random()) / lq))
        while t < T:
            times[m] = t
            who[m] = i
            m += 1
            t += 1 + int(math.floor(math.log(1.0 - np.random.random()) / lq))
    ptr = np.zeros(T + 1, np.int32)
    for k in range(m):
        ptr[times[k] + 1] += 1
    for t in range(T):
        ptr[t + 1] += ptr[t]
    fill = ptr[:T].copy()
    idx = np.empty(m, np.int32)
    for k in range(m):
        t = times[k]
        idx[fill[t]] = who[k]
        fill[t] += 1
    return idx, ptr


@njit(cache=True)
def simulate_image(idx, ptr, T, w, theta, P, learn, rule_kind, f_tab, nu_pre, nu_post, trace_decay, spread,
                   offset, dWT, counts, spiked, adc_rows, adc_lsb, adc_top, adc_noise, adc_offset, adc_seed,
                   group=None):
    """Simulate one image (T steps). Updates ``theta`` (N,) in place (learning only); adds the weight change
    to ``dWT`` (N, 784) rows of neurons that spiked; ``counts`` (N,) spike counts; ``spiked`` lists neurons
    in order of first spike. Returns the number of neurons that spiked.

    ``group`` (N,) int64: inhibition group of each neuron; neuron j gets ``w_IE · (inhibitory spikes of group(j) −
    its own)``. None (default) or all zeros: Diehl & Cook's all-to-all inhibition; the location of each neuron: the
    locally connected network (:func:`spinsyn.snn.lc.location_groups`).

    ``adc_rows`` > 0: the input current of each step is digitised per row block by :func:`adc_input` (arguments
    as there; the noise stream starts from ``adc_seed``; :meth:`spinsyn.snn.adc.AdcModel.kernel_args`); 0
    (default, training): the exact sum."""
    N = w.shape[1]
    e_rest, e_reset, e_thr = P[P_E_REST], P[P_E_RESET], P[P_E_THRESH]
    e_ref, e_dec, th_plus, th_dec = int(P[P_E_REFRAC]), P[P_E_DECAY], P[P_THETA_PLUS], P[P_THETA_DECAY]
    i_rest, i_reset, i_thr = P[P_I_REST], P[P_I_RESET], P[P_I_THRESH]
    i_ref, i_dec, w_ei, w_ie = int(P[P_I_REFRAC]), P[P_I_DECAY], P[P_W_EI], P[P_W_IE]
    v = np.full(N, e_rest)
    ref = np.zeros(N, np.int64)
    vi = np.full(N, i_rest)
    refi = np.zeros(N, np.int64)
    s_inh = np.zeros(N, np.bool_)
    n_inh = 0
    if group is None:
        grp = np.zeros(N, np.int64)
    else:
        grp = group
    n_grp = 1
    for j in range(N):
        n_grp = max(n_grp, grp[j] + 1)
    n_inh_g = np.zeros(n_grp, np.int64)
    I_in = np.zeros(N)
    adc_part = np.zeros(N if adc_rows > 0 else 0)
    adc_rng = np.full(1, np.uint64(adc_seed))
    last_pre = np.full(N_IN, -1, np.int64)
    last_post = np.full(N, -1, np.int64)
    tpow = np.empty(T + 1)
    for k in range(T + 1):
        tpow[k] = trace_decay ** k
    W = f_tab.shape[0]
    e_prev = -1
    n_sp = 0
    for j in range(N):
        counts[j] = 0
    for t in range(T):
        # --- inputs from step t-1
        for j in range(N):
            I_in[j] = 0.0
        if t > 0:
            if adc_rows > 0:
                adc_input(idx, ptr[t - 1], ptr[t], w, adc_rows, adc_lsb, adc_top, adc_noise, adc_offset, I_in,
                          adc_part, adc_rng)
            else:
                for k in range(ptr[t - 1], ptr[t]):
                    row = idx[k]
                    for j in range(N):
                        I_in[j] += w[row, j]
        if n_inh > 0:
            for j in range(N):
                I_in[j] -= w_ie * (n_inh_g[grp[j]] - (1 if s_inh[j] else 0))
        # --- excitatory layer
        best = -1
        best_over = -1.0
        for j in range(N):
            v[j] = e_dec * (v[j] - e_rest) + e_rest
            if learn:
                theta[j] *= th_dec
            if ref[j] <= 0:
                v[j] += I_in[j]
            ref[j] -= 1
            thr = e_thr + theta[j]
            if v[j] >= thr:
                over = v[j] - thr
                if over > best_over:
                    best_over = over
                    best = j
                ref[j] = e_ref
                v[j] = e_reset
                if learn:
                    theta[j] += th_plus
        # --- inhibitory layer (input: exc spike of step t-1)
        n_inh = 0
        for g in range(n_grp):
            n_inh_g[g] = 0
        for j in range(N):
            vi[j] = i_dec * (vi[j] - i_rest) + i_rest
            if refi[j] <= 0 and j == e_prev:
                vi[j] += w_ei
            refi[j] -= 1
            s = vi[j] >= i_thr
            s_inh[j] = s
            if s:
                refi[j] = i_ref
                vi[j] = i_reset
                n_inh += 1
                n_inh_g[grp[j]] += 1
        # --- spikes of step t, traces, learning
        if best >= 0:
            if counts[best] == 0:
                spiked[n_sp] = best
                n_sp += 1
            counts[best] += 1
            last_post[best] = t
        for k in range(ptr[t], ptr[t + 1]):
            i = idx[k]
            if learn and rule_kind == RULE_POSTPRE and nu_pre != 0.0:
                for jj in range(n_sp):
                    j = spiked[jj]
                    dWT[j, i] -= nu_pre * tpow[t - last_post[j]]
            last_pre[i] = t
        if learn and best >= 0:
            if rule_kind == RULE_TRACE:
                for i in range(N_IN):
                    val = 0.0
                    if last_pre[i] >= 0:
                        d = t - last_pre[i]
                        if d < W:
                            val = f_tab[d]
                            if spread > 0.0 and val != 0.0:
                                val *= 1.0 + spread * np.random.standard_normal()
                    dWT[best, i] += nu_post * (val - offset)
            else:
                for i in range(N_IN):
                    if last_pre[i] >= 0:
                        dWT[best, i] += nu_post * tpow[t - last_pre[i]]
        e_prev = best
    return n_sp


@njit(cache=True)
def _binomial(m: int, p: float) -> int:
    """Number of m independent MTJs that switch with probability p (inverse CDF, one uniform draw)."""
    if p >= 1.0:
        return m
    u = np.random.random()
    q = 1.0 - p
    pk = q ** m
    cdf = pk
    k = 0
    while u > cdf and k < m:
        k += 1
        pk *= (m - k + 1) / k * p / q
        cdf += pk
    return k


@njit(cache=True)
def graded_step(x: float, dw: float, P: int, a_ltp: float, a_ltd: float, c2c: float, stochastic: bool) -> float:
    """Normalised conductance of a graded device (devices/graded.py) after the pulses realising ``dw``: n =
    stochastic (or nearest) rounding of |dw|·P pulses along the LTP curve (dw > 0, A = ``a_ltp`` pulses) or the
    LTD curve (A = ``a_ltd``), y' = y e^{-n/A} + (1 − e^{-n/A})/(1 − e^{-P/A}) on y = x (LTP) or 1 − x (LTD),
    plus c2c noise ``c2c``·√n (fraction of the range), clipped to [0, 1]."""
    m = abs(dw) * P
    n = math.floor(m)
    if stochastic:
        if np.random.random() < m - n:
            n += 1
    else:
        n = math.floor(m + 0.5)
    if n <= 0:
        return x
    y = x if dw > 0.0 else 1.0 - x
    a = a_ltp if dw > 0.0 else a_ltd
    em = -math.expm1(-n / a)
    y = y * (1.0 - em) + em / (-math.expm1(-P / a))
    if c2c > 0.0:
        y += c2c * math.sqrt(n) * np.random.standard_normal()
    y = 0.0 if y < 0.0 else (min(y, 1.0))
    return y if dw > 0.0 else 1.0 - y


@njit(cache=True, parallel=True)
def run_batch(p_steps, seeds, T, w, theta, P, group, learn, rule_kind, f_tab, nu_pre, nu_post, trace_decay, spread,
              offset, dWT_all, counts, spiked_all, n_spiked, theta_after):
    """Simulate B images in parallel against the same ``w``; image b starts from ``theta`` and leaves its
    final θ in ``theta_after[b]``. ``p_steps`` (B, 784) spike probability per step; ``seeds`` (B,) uint32
    seed of each image's random stream (input spikes, rule spread); ``group`` (N,) as :func:`simulate_image`."""
    B = p_steps.shape[0]
    for b in prange(B):
        np.random.seed(seeds[b])
        idx, ptr = poisson_trains(p_steps[b], T)
        th = theta.copy()
        n_spiked[b] = simulate_image(idx, ptr, T, w, th, P, learn, rule_kind, f_tab, nu_pre, nu_post,
                                     trace_decay, spread, offset, dWT_all[b], counts[b], spiked_all[b],
                                     0, 1.0, 0.0, 0.0, _NO_ADC_OFFSET, 0, group)
        theta_after[b, :] = th


@njit(cache=True)
def apply_update(w, state, gp, gap, theta, theta0_decayed, theta_after, counts, dWT_all, spiked_all, n_spiked,
                 merge_winner, syn_kind, n_lev, stochastic, gain, gmin, gmax, norm, seed, soft_bound, scale_wins,
                 a_ltp=0.0, a_ltd=0.0, c2c=0.0, mask=None):
    """Merge the per-image weight changes of a batch and realise them with the synapse model (in place).

    θ: ``theta = θ0·decay^T + Σ_b (θ_b − θ0·decay^T)``. Weights: per neuron j, the change of the image in
    which j spiked most (``merge_winner``; first such image on a tie) or the sum over images. Target
    ``t = clip(w + Δ, 0, 1)`` (compound: ``k/N + Δ``, the nominal level; with ``soft_bound`` Δ>0 is scaled by
    1 − base and Δ<0 by base), scaled to sum ``norm`` (if > 0) and clipped; with ``scale_wins`` the winner's change
    is multiplied by max(1, number of images of the batch in which j spiked most of all neurons, lowest index on a
    tie), so a batch teaches as many images as batch 1 would; then ideal (``SYN_CONTINUOUS``),
    levels (``SYN_LEVELS``, ``n_lev`` levels), compound (``SYN_COMPOUND``, ``n_lev`` MTJs, ``gp``/``gap`` per
    synapse) or graded (``SYN_GRADED``: :func:`graded_step` of t − w with ``n_lev`` pulses over the range,
    nonlinearities ``a_ltp``/``a_ltd`` in pulses, ``c2c`` per pulse).

    ``mask`` (784, N) uint8 or None (default): the fixed connectivity of a locally connected network
    (:mod:`spinsyn.snn.lc`): the target of a masked synapse is 0 (so ``norm`` is the sum over the neuron's patch) and
    its weight reads exactly 0 after the update, whatever the device (compound cells with spread included); None or
    a (1, 1) array: no mask (Diehl & Cook, unchanged arithmetic)."""
    B, N = counts.shape
    if mask is None:
        msk = np.zeros((1, 1), np.uint8)
    else:
        msk = mask
    use_mask = msk.shape[0] == N_IN
    np.random.seed(seed)
    for j in range(N):
        acc = theta0_decayed[j]
        for b in range(B):
            acc += theta_after[b, j] - theta0_decayed[j]
        theta[j] = acc
    best_b = np.full(N, -1, np.int64)
    best_c = np.zeros(N, np.int64)
    for b in range(B):
        for jj in range(n_spiked[b]):
            j = spiked_all[b, jj]
            if counts[b, j] > best_c[j]:
                best_c[j] = counts[b, j]
                best_b[j] = b
    wins = np.ones(N)
    if scale_wins:
        wins[:] = 0.0
        for b in range(B):
            top, top_c = -1, 0
            for j in range(N):
                if counts[b, j] > top_c:
                    top, top_c = j, counts[b, j]
            if top >= 0:
                wins[top] += 1.0
    delta = np.zeros(N_IN)
    tgt = np.zeros(N_IN)
    for j in range(N):
        if best_b[j] < 0:
            continue
        if merge_winner:
            sc = max(1.0, wins[j])
            for i in range(N_IN):
                delta[i] = dWT_all[best_b[j], j, i] * sc
        else:
            for i in range(N_IN):
                delta[i] = 0.0
            for b in range(B):
                if counts[b, j] > 0:
                    for i in range(N_IN):
                        delta[i] += dWT_all[b, j, i]
        ssum = 0.0
        for i in range(N_IN):
            # hardware synapses: the update acts on the nominal level (pulse count), not the read conductance
            base = w[i, j] if syn_kind != SYN_COMPOUND else state[i, j] / n_lev
            dl = delta[i]
            if soft_bound:  # weight dependence: potentiation ∝ (1 − w), depression ∝ w (compound: pulse physics)
                dl = dl * (1.0 - base) if dl > 0.0 else dl * base
            x = base + dl
            x = 0.0 if x < 0.0 else (min(x, 1.0))
            if use_mask and msk[i, j] == 0:
                x = 0.0
            tgt[i] = x
            ssum += x
        if norm > 0.0 and ssum > 0.0:
            sc = norm / ssum
            for i in range(N_IN):
                x = tgt[i] * sc
                tgt[i] = min(x, 1.0)
        if syn_kind == SYN_CONTINUOUS:
            for i in range(N_IN):
                w[i, j] = tgt[i]
        elif syn_kind == SYN_LEVELS:
            L1 = n_lev - 1
            for i in range(N_IN):
                x = tgt[i] * L1
                lo = math.floor(x)
                if stochastic:
                    lev = lo + (1 if np.random.random() < x - lo else 0)
                else:
                    lev = int(math.floor(x + 0.5))
                lev = 0 if lev < 0 else (min(lev, L1))
                state[i, j] = lev
                w[i, j] = lev / L1
        elif syn_kind == SYN_GRADED:
            for i in range(N_IN):
                w[i, j] = graded_step(w[i, j], tgt[i] - w[i, j], n_lev, a_ltp, a_ltd, c2c, stochastic)
        else:
            n = n_lev
            span = gmax - gmin
            for i in range(N_IN):
                k = state[i, j]
                d = gain * (tgt[i] * n - k)
                if d > 0.0 and k < n:
                    k += _binomial(n - k, d / (n - k))
                elif d < 0.0 and k > 0:
                    k -= _binomial(k, -d / k)
                state[i, j] = k
                x = (k * gp[i, j] + (n - k) * gap[i, j] - gmin) / span
                w[i, j] = 0.0 if x < 0.0 else (min(x, 1.0))
        if use_mask:
            for i in range(N_IN):
                if msk[i, j] == 0:
                    w[i, j] = 0.0
    for b in range(B):
        for jj in range(n_spiked[b]):
            j = spiked_all[b, jj]
            for i in range(N_IN):
                dWT_all[b, j, i] = 0.0


@njit(cache=True)
def adc_input(idx, lo, hi, w, rows, lsb, top, noise, offset, I_in, part, rng):
    """Add to ``I_in`` (N,) the digitised input current of one step, the input spikes ``idx[lo:hi]`` (ascending,
    as :func:`poisson_trains` and ``np.nonzero`` give them). Inputs are cut in row blocks of ``rows`` (block
    b = i // rows, a tile's rows); per block with at least one spike and neuron j the ADC converts the partial sum
    p = Σ_{spiking i in b} w[i, j] (weight units) to the code c = clip(floor(p/``lsb`` + ``offset``[b, j] +
    ``noise``·n + 1/2), 0, ``top``), n ~ N(0, 1) drawn per conversion from the stream ``rng`` (:func:`rng_normal`;
    only when ``noise`` > 0), and adds c·``lsb``. Blocks without a spike are not converted (add 0). ``part`` (N,)
    is workspace."""
    N = w.shape[1]
    k = lo
    while k < hi:
        blk = idx[k] // rows
        for j in range(N):
            part[j] = 0.0
        while k < hi and idx[k] // rows == blk:
            row = idx[k]
            for j in range(N):
                part[j] += w[row, j]
            k += 1
        for j in range(N):
            x = part[j] / lsb + offset[blk, j]
            if noise > 0.0:
                x += noise * rng_normal(rng)
            c = math.floor(x + 0.5)
            c = 0.0 if c < 0.0 else min(c, top)
            I_in[j] += c * lsb


@njit(cache=True, parallel=True)
def eval_batch(p_steps, seeds, T, w, theta, P, group, counts, adc_rows, adc_lsb, adc_top, adc_noise, adc_offset,
               adc_seeds):
    """Inference (no learning, θ fixed) of B images in parallel; ``counts`` (B, N) spike counts. ``adc_rows`` > 0:
    the input of each step goes through the ADC of :func:`adc_input` (arguments as there), whose noise (if any)
    is drawn from image b's own splitmix64 stream seeded with ``adc_seeds[b]`` (B,) uint32; ``group`` (N,) as
    :func:`simulate_image`."""
    B = p_steps.shape[0]
    N = w.shape[1]
    dummy_f = np.zeros(1)
    for b in prange(B):
        np.random.seed(seeds[b])
        idx, ptr = poisson_trains(p_steps[b], T)
        th = theta.copy()
        dWT = np.zeros((1, 1))
        sp = np.zeros(N, np.int32)
        simulate_image(idx, ptr, T, w, th, P, False, RULE_TRACE, dummy_f, 0.0, 0.0, 1.0, 0.0, 0.0, dWT, counts[b], sp,
                       adc_rows, adc_lsb, adc_top, adc_noise, adc_offset, adc_seeds[b] if adc_rows > 0 else 0, group)


@njit(cache=True, parallel=True)
def adc_block_sum_hist(p_steps, seeds, T, w, rows, p_max, hist):
    """Histogram of the non-zero per-step block partial sums an ADC converts (:func:`adc_input`) for B images in
    parallel: image b's Poisson spikes (seed ``seeds[b]``, as :func:`eval_batch`), steps 0..T−2 (the last step's
    spikes reach no neuron), every block with a spike and every neuron j; p in (0, ``p_max``] counted in
    ``hist[b, min(floor(p/p_max·K), K−1)]``, K = hist.shape[1] bins. Inputs do not depend on the network's
    state, so no neuron is simulated."""
    B = p_steps.shape[0]
    N = w.shape[1]
    K = hist.shape[1]
    for b in prange(B):
        np.random.seed(seeds[b])
        idx, ptr = poisson_trains(p_steps[b], T)
        part = np.zeros(N)
        for t in range(T - 1):
            k = ptr[t]
            while k < ptr[t + 1]:
                blk = idx[k] // rows
                for j in range(N):
                    part[j] = 0.0
                while k < ptr[t + 1] and idx[k] // rows == blk:
                    for j in range(N):
                        part[j] += w[idx[k], j]
                    k += 1
                for j in range(N):
                    if part[j] > 0.0:
                        hist[b, min(int(part[j] / p_max * K), K - 1)] += 1
