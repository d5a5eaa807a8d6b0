"""Hyperparameters of the Mozafari et al. convolutional STDP / R-STDP network, one frozen dataclass.

Sources (cited per field):

* [M19] M. Mozafari, M. Ganjtabesh, A. Nowzari-Dalini, S. J. Thorpe, T. Masquelier, "Bio-inspired digit
  recognition using reward-modulated spike-timing-dependent plasticity in deep convolutional networks",
  Pattern Recognition 94 (2019) 87–95 (arXiv:1804.00227): architecture, R-STDP with anti-STDP on punishment,
  adaptive learning rates scaled by the miss / hit ratio, 97.2 % on MNIST.
* [ST] SpykeTorch (github.com/miladmozafari/SpykeTorch, commit aa302c7), ``MozafariDeep.py`` (class
  ``MozafariMNIST2018``, the authors' reimplementation of [M19], 96.89 %) and ``SpykeTorch/utils.py``
  (``DoGKernel``, ``Filter``, ``Intensity2Latency``): the numbers below where [M19]'s text leaves them out.

Weights are in [0, 1] as everywhere in :mod:`spinsyn.snn`; the decision layer is clipped to
[``w3_lo``, ``w3_hi``] ([ST]: 0.2–0.8).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class ConvConfig:
    """The network and its training schedule (defaults: [ST] ``MozafariDeep.py`` unless noted)."""

    # --- input coding: DoG filters + intensity-to-latency --------------------------------------------------------
    #: DoG window sizes (px); each gives an on-centre (σ1 = s/9, σ2 = 2s/9) and an off-centre (swapped) filter
    #: -> 2·len channels ([ST] ``kernels = [DoGKernel(3, 3/9, 6/9), ...]``; [M19] §3.1 "DoG filters")
    dog_sizes_px: tuple[int, ...] = (3, 7, 13)
    #: DoG responses below this (on the 0–255 pixel scale) are set to 0 ([ST] ``Filter(..., thresholds=50)``)
    dog_threshold: float = 50.0
    #: local normalisation: divide by the mean over a (2r+1)² window ([ST] ``local_normalization(image, 8)``)
    norm_radius_px: int = 8
    #: time steps of the latency code ([ST] ``S1C1Transform(filter, timesteps=15)``)
    T: int = 15
    #: zero padding of the coded image before conv 1 ([ST] ``sf.pad(input, (2,2,2,2))``)
    pad1: int = 2

    # --- conv layer 1 (STDP) --------------------------------------------------------------------------------------
    f1: int = 30  # feature maps ([ST] ``Convolution(6, 30, 5, 0.8, 0.05)``)
    k1_px: int = 5  # kernel size
    thr1: float = 15.0  # firing threshold ([ST] ``conv1_t = 15``)
    kwta1: int = 5  # winners per image ([ST] ``k1 = 5``)
    rinh1: int = 3  # lateral-inhibition radius of a winner, all feature maps ([ST] ``r1 = 3``)
    pool1_px: int = 2  # max pooling window = stride ([ST] ``sf.pooling(spk, 2, 2)``)
    pad2: int = 1  # zero padding before conv 2 ([ST] ``sf.pad(..., (1,1,1,1))``)

    # --- conv layer 2 (STDP) --------------------------------------------------------------------------------------
    f2: int = 250  # ([ST] ``Convolution(30, 250, 3, 0.8, 0.05)``)
    k2_px: int = 3
    thr2: float = 10.0  # ([ST] ``conv2_t = 10``)
    kwta2: int = 8  # ([ST] ``k2 = 8``)
    rinh2: int = 1  # ([ST] ``r2 = 1``)
    pool2_px: int = 3  # ([ST] ``sf.pooling(spk, 3, 3)``)
    pad3: int = 2  # ([ST] ``sf.pad(..., (2,2,2,2))``)

    # --- conv layer 3 = decision layer (R-STDP) -------------------------------------------------------------------
    f3: int = 200  # 20 feature maps per class ([ST] ``Convolution(250, 200, 5, ...)``, ``decision_map``)
    k3_px: int = 5
    n_classes: int = 10

    # --- initial weights ------------------------------------------------------------------------------------------
    w_init_mean: float = 0.8  # N(mean, std) clipped to [0, 1] ([ST] ``Convolution(..., 0.8, 0.05)``)
    w_init_std: float = 0.05

    # --- unsupervised STDP of layers 1-2 (multiplicative, a·w(1−w)) -----------------------------------------------
    #: initial (a+, a−) ([ST] ``snn.STDP(conv, (0.004, -0.003))``; [M19] eq. 3 with the stabiliser w(1−w))
    a_plus: float = 0.004
    a_minus: float = -0.003
    #: every ``lr_double_every`` images a+ doubles (capped at ``a_plus_max``) and a− = ``a_minus_ratio``·a+
    #: ([ST] ``spk_cnt >= 500``, ``max_ap = 0.15``, ``an = ap * -0.75``)
    lr_double_every: int = 500
    a_plus_max: float = 0.15
    a_minus_ratio: float = -0.75
    #: training passes over the training images ([ST]: 2 for layer 1, 4 for layer 2)
    epochs1: int = 2
    epochs2: int = 4
    #: ms per latency step when a fitted rule (``--rule``) shapes the STDP of conv 1-2: Δt = (t_post − t_pre)·dt.
    #: 4 ms puts the T = 15 steps on 0–60 ms, the published bi-sigmoid's window (spinsyn.fitting.published_rule;
    #: the papers' rule has no Δt axis, so this is spinsyn's choice, not theirs)
    rule_dt_ms: float = 4.0

    #: synapses of finitely many states: the stabilizer w(1−w) is evaluated at the nominal level kept this many steps
    #: inside [0, 1] (spinsyn.snn.conv.updates.stabilizer_weight; at 0 a synapse in its first or last state could
    #: never leave it). spinsyn's choice for device synapses; ideal weights are not affected
    stabilizer_floor_steps: float = 0.5

    # --- R-STDP of the decision layer (additive, no stabiliser) ---------------------------------------------------
    #: reward: STDP (a_r+, a_r−); punishment: anti-STDP (a_p−, a_p+) on spiked / silent inputs
    #: ([ST] ``STDP(conv3, (0.004, -0.003), False, 0.2, 0.8)``, ``anti_stdp3 = STDP(conv3, (-0.004, 0.0005), ...)``)
    ar_plus: float = 0.004
    ar_minus: float = -0.003
    ap_minus: float = -0.004
    ap_plus: float = 0.0005
    w3_lo: float = 0.2
    w3_hi: float = 0.8
    #: the rates are rescaled after each block of this many images: reward rates × N_miss/N, punishment rates ×
    #: N_hit/N of that block ([M19] §2.3 adaptive learning rate; [ST] batch of 1000, ``adaptive_int = 1``)
    adapt_every: int = 1000
    #: R-STDP passes ([ST]: 680; shorten to fit a time budget)
    epochs3: int = 680
    #: feature dropout of the decision layer while it learns: each of its f3 feature maps is dropped with this
    #: probability, in masks drawn at the start of every R-STDP pass (one per pass or per ``rstdp_dropout_every``
    #: images; a dropped map cannot win, so it is neither rewarded nor punished); evaluation uses all maps.
    #: 0 (default): none, as [M19] and [ST] ``MozafariDeep.py``.
    #: The authors' regulariser against R-STDP overfitting in their shallow network ([M18] M. Mozafari et al.,
    #: "First-spike-based visual categorization using reward-modulated STDP", IEEE TNNLS 29 (2018) 6178-6190;
    #: [ST] ``MozafariShallow.py`` ``dropout`` 0.4-0.5, redrawn by ``update_dropout()`` per pass)
    rstdp_dropout: float = 0.0
    #: images per dropout mask: a new mask every this many images of a pass (in the pass's order); 0 (default): one
    #: mask per pass, as [ST]'s ``update_dropout()`` (whose datasets have hundreds of images per pass, not 60,000)
    rstdp_dropout_every: int = 0
    #: each R-STDP pass visits the training images in a new random order (True, spinsyn's default) or in file order
    #: (False: [ST] ``DataLoader(MNIST_train, batch_size=1000, shuffle=False)``, the same order every pass)
    rstdp_shuffle: bool = True
    #: the rate factors of the first block of ``adapt_every`` images: the chance ratios (f_miss, f_hit) =
    #: (1 − 1/n_classes, 1/n_classes) (False, default; [M19] §2.3) or 1 and 1, the unscaled rates (True: as [ST]
    #: runs it: it computes the chance ratios but first rescales after its first batch of 1,000 images)
    rstdp_unscaled_first_block: bool = False

    # --- reading a synapse ----------------------------------------------------------------------------------------
    #: compound:N synapses are read as w = (G − N·G_AP)/(N·(G_P − G_AP)) with the nominal cell conductances, i.e.
    #: against a reference column of N nominal AP cells that subtracts the offset; with device-to-device spread the
    #: weight of k = 0 is then signed (±g_spread·G_AP/ΔG), not clipped. False: clipped to [0, 1] as the Diehl & Cook
    #: kernels do (runs written before this field read False). The clip adds a positive bias to every zero-state
    #: weight; measured on the same trained compound:8 conv 1-2 states (docs/snn.md), it raised the conv-3 input
    #: density from 0.41 to 0.47 and cost 12 points. spinsyn's choice; the papers have float weights.
    signed_read: bool = True
    #: device synapses of the decision layer span its weight range: the first and last device state read as
    #: ``w3_lo`` and ``w3_hi`` (w = w3_lo + (w3_hi − w3_lo)·x for the state fraction x; in a crossbar a reference
    #: column supplies the w3_lo offset, as for ``signed_read``). False: states read as [0, 1] and R-STDP's clip to
    #: [w3_lo, w3_hi] leaves compound:8 about 5 of its 9 states, the outer ones pushed back inside by every update
    #: (runs written before this field read False). spinsyn's choice; the papers have float weights.
    decision_full_range: bool = True

    # --- inference ------------------------------------------------------------------------------------------------
    #: apply the one-winner-per-position (point-wise) inhibition across feature maps in layers 1-2 outside their own
    #: training ([ST]: only while a layer learns; ``False``)
    pointwise_inference: bool = False

    def _check_integers(self) -> None:
        pos_int = ("T", "f1", "k1_px", "kwta1", "pool1_px", "f2", "k2_px", "kwta2", "pool2_px", "f3", "k3_px",
                   "n_classes", "lr_double_every", "adapt_every", "norm_radius_px")
        for name in pos_int:
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        for name in ("pad1", "pad2", "pad3", "rinh1", "rinh2", "epochs1", "epochs2", "epochs3", "rstdp_dropout_every"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {v!r}")

    def __post_init__(self) -> None:
        self._check_integers()
        for name in ("rstdp_shuffle", "rstdp_unscaled_first_block", "signed_read", "decision_full_range",
                     "pointwise_inference"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if not self.dog_sizes_px or any(int(s) < 1 or int(s) % 2 == 0 for s in self.dog_sizes_px):
            raise ValueError(f"dog_sizes_px must be odd positive window sizes, got {self.dog_sizes_px!r}")
        if self.f3 % self.n_classes:
            raise ValueError(f"f3 ({self.f3}) must be a multiple of n_classes ({self.n_classes})")
        if not 0.0 <= self.w3_lo < self.w3_hi <= 1.0:
            raise ValueError(f"w3_lo, w3_hi must satisfy 0 <= lo < hi <= 1, got {self.w3_lo}, {self.w3_hi}")
        if not 0.0 < self.stabilizer_floor_steps <= 0.5:
            raise ValueError(f"stabilizer_floor_steps must be in (0, 0.5], got {self.stabilizer_floor_steps!r}")
        if not 0.0 <= self.rstdp_dropout < 1.0:
            raise ValueError(f"rstdp_dropout must be in [0, 1), got {self.rstdp_dropout!r}")
        if not self.rule_dt_ms > 0:
            raise ValueError(f"rule_dt_ms must be > 0, got {self.rule_dt_ms!r}")
        if self.thr1 < 0 or self.thr2 < 0:
            raise ValueError("thr1, thr2 must be >= 0")

    @property
    def n_dog(self) -> int:
        """Input channels: an on- and an off-centre DoG per window size."""
        return 2 * len(self.dog_sizes_px)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["dog_sizes_px"] = list(self.dog_sizes_px)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ConvConfig:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"ConvConfig: unknown fields {unknown}")
        kw = dict(d)
        if "dog_sizes_px" in kw:
            kw["dog_sizes_px"] = tuple(int(s) for s in kw["dog_sizes_px"])
        return cls(**kw)
