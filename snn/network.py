"""Training, evaluation, checkpoints and the public API (``train``, ``load_run``, ``evaluate``).

A run: initial weights ``w = 0.3·U(0,1)`` (normalised per neuron when ``norm`` is on), then ``epochs`` passes
over ``n_train`` images in a seeded random order per epoch, ``batch`` images at a time; a checkpoint every
``checkpoint_every`` images. Labels are then assigned with learning off on ``n_assign`` training images
(per-class mean response) and ``n_test`` test images are classified ("all activity" and "proportion
weighting"). Random streams derive from ``(seed, epoch, position)`` only, so a resumed run ends with the same
weights as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.fileio import SpinsynFileError, atomic_path, write_json

from . import labels as L
from .engine import NetState, make_engine
from .params import NetworkParams
from .rules import CompiledRule, LearningRule, rule_from_dict
from .synapses import Synapse, parse_synapse

CHECKPOINT_FORMAT, CHECKPOINT_VERSION = "spinsyn-checkpoint", 1
METRICS_FORMAT, METRICS_VERSION = "spinsyn-metrics", 1
HISTORY_EVERY = 250  # images between running-accuracy points
ASSIGN_WINDOW = 5000  # images whose responses give the running-accuracy label assignment


@dataclass
class TrainConfig:
    """Everything that defines a run (stored as JSON in the checkpoint and metrics)."""

    synapse: str = "ideal"
    rule: dict = field(default_factory=lambda: {"name": "trace"})
    network: dict = field(default_factory=lambda: NetworkParams().to_dict())
    n_train: int = 60000
    n_test: int = 10000
    n_assign: int = 10000
    epochs: int = 1
    batch: int = 1
    merge: str = "winner"  # how a batch's per-image weight changes combine: "winner" | "sum"
    seed: int = 0
    engine: str = "auto"  # "numba" | "torch" | "auto"
    device: str = "auto"
    shuffle: bool = True
    checkpoint_every: int = 5000
    min_spikes: int = 0  # inference: re-show an image with +32 Hz while it evokes fewer spikes (D&C); 0 = off
    synapse_options: dict = field(default_factory=dict)
    data_dir: str | None = None
    nu_final_frac: float = 1.0  # learning rates decay linearly to this fraction of their start over the run
    train_min_spikes: int = 0  # training: re-show an image at +32 Hz while it evokes fewer spikes (D&C); 0 = off

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, s: str) -> TrainConfig:
        d = json.loads(s)
        return cls(**{k: v for k, v in d.items() if k in {f.name for f in dataclasses.fields(cls)}})


@dataclass
class TrainedNetwork:
    """A trained network as loaded from a run directory."""

    config: TrainConfig
    params: NetworkParams
    synapse: Synapse
    rule: LearningRule
    w: np.ndarray  # (784, N) in [0, 1]
    g_S: np.ndarray  # (784, N) conductances
    state: np.ndarray | None  # (784, N) levels / MTJ counts, None for ideal
    theta: np.ndarray  # (N,) mV
    assignments: np.ndarray  # (N,) class per neuron
    proportions: np.ndarray  # (N, 10)
    gp_S: np.ndarray | None = None
    gap_S: np.ndarray | None = None

    @property
    def n_neurons(self) -> int:
        return int(self.w.shape[1])


# ---------------------------------------------------------------------------------------------- helpers
def resolve_device(device: str) -> str:
    """``"auto"`` → ``"cuda"`` when available, else ``"cpu"``. Raises ValueError for unknown/unavailable."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device: {device!r} requested but CUDA is not available; use --device cpu or auto")
    if not (device == "cpu" or device.startswith("cuda")):
        raise ValueError(f"--device: expected auto, cpu or cuda[:i], got {device!r}")
    return device


def resolve_engine(engine: str, device: str) -> str:
    if engine == "auto":
        return "numba" if device == "cpu" else "torch"
    if engine not in ("numba", "torch"):
        raise ValueError(f"--engine: expected auto, numba or torch, got {engine!r}")
    if engine == "numba" and device != "cpu":
        raise ValueError(f"--engine numba runs on the CPU only, but --device is {device!r}")
    return engine


def image_seeds(seed: int, epoch: int, positions: np.ndarray) -> np.ndarray:
    """uint32 seed per image from (seed, epoch, position in epoch) via splitmix64."""
    with np.errstate(over="ignore"):
        x = (np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(epoch) * np.uint64(0xBF58476D1CE4E5B9)
             + np.asarray(positions, np.uint64) + np.uint64(1))
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def spike_prob(images: np.ndarray, params: NetworkParams) -> np.ndarray:
    """Per-step spike probability (n, 784) float64 = pixel/255 · intensity · dt."""
    return images.reshape(len(images), -1).astype(np.float64) / 255.0 * params.intensity_Hz * params.dt_ms * 1e-3


def init_state(params: NetworkParams, syn: Synapse, seed: int, norm: float) -> NetState:
    rng = np.random.default_rng([seed, 12345])
    N = params.n_neurons
    w0 = params.w_init_max * rng.random((784, N))
    if norm > 0:
        w0 = np.minimum(w0 * (norm / w0.sum(0, keepdims=True)), 1.0)
    state, gp, gap = syn.init_state(w0, rng)
    gmin, gmax = syn.g_bounds_S()
    if syn.kind == 0:
        w = w0
    else:
        w = np.clip((syn.g_S(w0, state, gp, gap) - gmin) / (gmax - gmin), 0.0, 1.0)
    return NetState(np.ascontiguousarray(w), state, gp, gap, np.zeros(N))


def validate_config(cfg: TrainConfig) -> tuple[NetworkParams, Synapse, LearningRule]:
    """Check every option before any work; returns the parsed network, synapse and rule."""
    for name in ("n_train", "n_test", "epochs", "batch", "checkpoint_every"):
        v = getattr(cfg, name)
        if not isinstance(v, int) or v < (0 if name == "n_test" else 1):
            raise ValueError(f"--{name.replace('_', '-')}: expected a positive integer, got {v!r}")
    if cfg.train_min_spikes < 0:
        raise ValueError(f"--train-min-spikes: expected an integer >= 0, got {cfg.train_min_spikes!r}")
    if cfg.train_min_spikes and resolve_engine(cfg.engine, resolve_device(cfg.device)) != "numba":
        raise ValueError("--train-min-spikes: implemented in the numba CPU engine only (use --engine numba)")
    if cfg.min_spikes < 0:
        raise ValueError(f"--min-spikes: expected an integer >= 0, got {cfg.min_spikes!r}")
    if not (0.0 <= cfg.nu_final_frac <= 1.0):
        raise ValueError(f"--nu-final: expected a fraction in [0, 1], got {cfg.nu_final_frac!r}")
    if cfg.n_assign < 1:
        raise ValueError(f"--n-assign: expected a positive integer, got {cfg.n_assign!r}")
    if cfg.merge not in ("winner", "sum"):
        raise ValueError(f"--merge: expected 'winner' or 'sum', got {cfg.merge!r}")
    params = NetworkParams.from_dict(cfg.network)
    if not (np.isfinite(params.intensity_Hz) and params.intensity_Hz > 0):
        raise ValueError(f"--intensity: expected a finite rate > 0 Hz, got {params.intensity_Hz!r}")
    if not (np.isfinite(params.time_ms) and params.time_ms >= params.dt_ms):
        raise ValueError(f"--time-ms: expected a finite time >= {params.dt_ms:g} ms, got {params.time_ms!r}")
    if not (np.isfinite(params.w_inh_exc_mV) and params.w_inh_exc_mV >= 0):
        raise ValueError(f"--w-inh: expected a finite weight >= 0 mV, got {params.w_inh_exc_mV!r}")
    if params.n_neurons < 1:
        raise ValueError(f"--neurons: expected a positive integer, got {params.n_neurons}")
    syn = parse_synapse(cfg.synapse, **cfg.synapse_options)
    rule = rule_from_dict(cfg.rule)
    rule.compile(params.dt_ms)  # loads/validates a rule file
    return params, syn, rule


# ---------------------------------------------------------------------------------------------- checkpoint
def _save_checkpoint(run_dir: Path, cfg: TrainConfig, syn: Synapse, ns: NetState, pos: tuple[int, int],
                     history: list, recent_counts: np.ndarray, recent_labels: np.ndarray, extra: dict) -> None:
    import torch

    gmin, gmax = syn.g_bounds_S()
    g = syn.g_S(ns.w, ns.state, ns.gp_S, ns.gap_S) if syn.kind else gmin + ns.w * (gmax - gmin)
    ck: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "config_json": cfg.to_json(),
        "w": torch.from_numpy(ns.w.copy()),
        "g_S": torch.from_numpy(np.asarray(g, np.float64)),
        "theta": torch.from_numpy(ns.theta.copy()),
        "position": torch.tensor(pos, dtype=torch.int64),  # (epoch, images done in it)
        "rng_json": json.dumps({"scheme": "splitmix64(seed, epoch, position)", "seed": cfg.seed}),
        "history_json": json.dumps(history),
        "recent_counts": torch.from_numpy(recent_counts.astype(np.int32)),
        "recent_labels": torch.from_numpy(recent_labels.astype(np.int64)),
    }
    if syn.kind:
        ck["state"] = torch.from_numpy(ns.state.copy())
        ck["gp_S"] = torch.from_numpy(ns.gp_S.copy())
        ck["gap_S"] = torch.from_numpy(ns.gap_S.copy())
    for k, v in extra.items():
        ck[k] = torch.from_numpy(np.asarray(v))
    with atomic_path(run_dir / "checkpoint.pt") as tmp:
        torch.save(ck, tmp)


def _read_checkpoint(run_dir: Path) -> dict:
    import torch

    path = Path(run_dir) / "checkpoint.pt"
    if not path.is_file():
        raise SpinsynFileError(f"{path}: no checkpoint (expected a run directory written by 'spinsyn train')")
    try:
        ck = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001
        raise SpinsynFileError(f"{path}: cannot load ({exc})") from None
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise SpinsynFileError(f"{path}: not a {CHECKPOINT_FORMAT!r} file")
    if ck.get("format_version") != CHECKPOINT_VERSION:
        raise SpinsynFileError(f"{path}: format_version {ck.get('format_version')!r}; expected {CHECKPOINT_VERSION}")
    return ck


def load_run(run_dir: str | Path) -> TrainedNetwork:
    """Load a trained network from ``run_dir/checkpoint.pt`` (written by :func:`train`)."""
    ck = _read_checkpoint(Path(run_dir))
    cfg = TrainConfig.from_json(ck["config_json"])
    params, syn, rule = NetworkParams.from_dict(cfg.network), parse_synapse(cfg.synapse, **cfg.synapse_options), \
        rule_from_dict(cfg.rule)
    N = params.n_neurons
    asg = ck.get("assignments")
    return TrainedNetwork(
        cfg, params, syn, rule, ck["w"].numpy(), ck["g_S"].numpy(),
        ck["state"].numpy() if "state" in ck else None, ck["theta"].numpy(),
        asg.numpy() if asg is not None else np.zeros(N, np.int64),
        ck["proportions"].numpy() if "proportions" in ck else np.zeros((N, 10)),
        ck["gp_S"].numpy() if "gp_S" in ck else None, ck["gap_S"].numpy() if "gap_S" in ck else None,
    )


# ---------------------------------------------------------------------------------------------- inference
def _counts(engine, images: np.ndarray, params: NetworkParams, seed_base: int, w: np.ndarray | None,
            chunk: int = 256, progress: Callable[[int], None] | None = None, read_noise: Callable | None = None,
            min_spikes: int = 0) -> np.ndarray:
    p = spike_prob(images, params)
    if getattr(engine, "device", "cpu").startswith("cuda"):
        chunk = max(chunk, 2048)  # one batch of the torch engine per 2,048 images on a GPU
    out = []
    for k in range(0, len(p), chunk):
        seeds = image_seeds(seed_base, 10**6, np.arange(k, min(k + chunk, len(p))))
        ww = read_noise(k) if read_noise is not None else w
        out.append(engine.eval_counts(p[k:k + chunk], seeds, ww))
        if progress:
            progress(len(seeds))
    counts = np.concatenate(out) if out else np.zeros((0, params.n_neurons), np.int64)
    # Diehl & Cook 2015: an image that evokes fewer than `min_spikes` spikes is shown again with the input
    # rate raised by 32 Hz (up to 5 times). BindsNET does not do this; min_spikes = 0 turns it off.
    for r in range(1, 6 if min_spikes > 0 else 1):
        low = np.nonzero(counts.sum(1) < min_spikes)[0]
        if len(low) == 0:
            break
        scale = (params.intensity_Hz + 32.0 * r) / params.intensity_Hz
        for k in range(0, len(low), chunk):
            sel = low[k:k + chunk]
            seeds = image_seeds(seed_base, 10**6 + r, sel)
            ww = read_noise(int(sel[0]) + 10**7 * r) if read_noise is not None else w
            counts[sel] = engine.eval_counts(np.minimum(p[sel] * scale, 1.0), seeds, ww)
    return counts


def _readout(counts: np.ndarray, labels: np.ndarray, assignments: np.ndarray, proportions: np.ndarray) -> dict:
    pa = L.predict_all_activity(counts, assignments)
    pp = L.predict_proportion(counts, assignments, proportions)
    return {
        "accuracy_all_activity": float(np.mean(pa == labels)) if len(labels) else 0.0,
        "accuracy_proportion": float(np.mean(pp == labels)) if len(labels) else 0.0,
        "confusion": L.confusion_matrix(labels, pa).tolist(),
    }


def _read_noise_fn(net_syn: Synapse, ns: NetState, seed: int) -> Callable | None:
    sigma = float(getattr(net_syn, "read_noise", 0.0) or 0.0)
    if net_syn.kind != 2 or sigma <= 0:
        return None
    gmin, gmax = net_syn.g_bounds_S()
    g = net_syn.g_S(ns.w, ns.state, ns.gp_S, ns.gap_S)

    def noisy(k: int) -> np.ndarray:
        rng = np.random.default_rng([seed, 777, k])
        gn = g * (1.0 + sigma * rng.standard_normal(g.shape))
        return np.ascontiguousarray(np.clip((gn - gmin) / (gmax - gmin), 0.0, 1.0))

    return noisy


def evaluate(net: TrainedNetwork, images: np.ndarray, labels: np.ndarray, device: str = "auto",
             w: np.ndarray | None = None) -> dict:
    """Classify ``images`` (n, 28, 28) uint8 with ``net``'s label assignment; ``w`` (784, N) in [0, 1]
    overrides the input weights (e.g. programmed conductances mapped back). Returns
    ``{"accuracy_all_activity", "accuracy_proportion", "confusion", "n_test", "test_samples_per_s", "device"}``.
    Compound synapses get a fresh read noise per chunk of 256 images unless ``w`` is given."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"images: expected shape (n, 28, 28), got {images.shape}")
    if len(labels) != len(images):
        raise ValueError(f"labels: expected {len(images)} labels, got {len(labels)}")
    if w is not None:
        w = np.ascontiguousarray(np.asarray(w, np.float64))
        if w.shape != net.w.shape:
            raise ValueError(f"w: expected shape {net.w.shape}, got {w.shape}")
    dev = resolve_device(device)
    ns = NetState(np.ascontiguousarray(net.w, dtype=np.float64),
                  net.state if net.state is not None else np.zeros((1, 1), np.int32),
                  net.gp_S if net.gp_S is not None else np.ones((1, 1)),
                  net.gap_S if net.gap_S is not None else np.ones((1, 1)), np.asarray(net.theta, np.float64))
    eng = make_engine("numba" if dev == "cpu" else "torch", ns, net.params, net.rule.compile(net.params.dt_ms),
                      net.synapse, 0.0, True, dev)
    noise = _read_noise_fn(net.synapse, ns, net.config.seed) if w is None else None
    t0 = time.perf_counter()
    counts = _counts(eng, images, net.params, net.config.seed + 1, w, read_noise=noise,
                     min_spikes=net.config.min_spikes)
    dt = time.perf_counter() - t0
    res = _readout(counts, np.asarray(labels, np.int64), net.assignments, net.proportions)
    res.update({"n_test": len(images), "test_samples_per_s": len(images) / max(dt, 1e-9), "device": eng.device})
    return res


# ---------------------------------------------------------------------------------------------- training
def scheduled_rule(rule: CompiledRule, final_frac: float, progress: float) -> CompiledRule:
    """The rule with ν_pre and ν_post scaled by ``1 + (final_frac − 1)·progress`` (linear annealing;
    ``progress`` = fraction of the run's training images already shown, so resume gives the same schedule)."""
    s = 1.0 + (final_frac - 1.0) * min(max(progress, 0.0), 1.0)
    return dataclasses.replace(rule, nu_pre=rule.nu_pre * s, nu_post=rule.nu_post * s)


def train(cfg: TrainConfig, run_dir: str | Path, resume: bool = False, progress: bool = True,
          stop_after: int | None = None) -> dict:
    """Train (or resume) a run into ``run_dir``; returns the metrics dict (also written to metrics.json).

    ``stop_after``: stop (after checkpointing) once this many training images were processed in this call
    (used to test resume)."""
    from spinsyn.mnist import load_mnist

    run_dir = Path(run_dir)
    params, syn, rule = validate_config(cfg)
    device = resolve_device(cfg.device)
    engine_kind = resolve_engine(cfg.engine, device)
    # data first: errors before any work
    Xtr, ytr = load_mnist("train", cfg.data_dir, n=cfg.n_train)
    if len(Xtr) < cfg.n_train:
        raise ValueError(f"--n-train: {cfg.n_train} requested but the MNIST training set found has {len(Xtr)}")
    Xte, yte = load_mnist("test", cfg.data_dir, n=cfg.n_test) if cfg.n_test else (np.zeros((0, 28, 28), np.uint8),
                                                                                    np.zeros(0, np.uint8))
    if len(Xte) < cfg.n_test:
        raise ValueError(f"--n-test: {cfg.n_test} requested but the MNIST test set found has {len(Xte)}")
    norm = float(params.norm or 0.0)
    compiled = rule.compile(params.dt_ms)
    N = params.n_neurons
    history: list = []
    recent_counts = np.zeros((0, N), np.int64)
    recent_labels = np.zeros(0, np.int64)
    epoch0, done0 = 0, 0
    if resume:
        ck = _read_checkpoint(run_dir)
        ns = NetState(ck["w"].numpy().copy(), ck["state"].numpy().copy() if "state" in ck else np.zeros((1, 1), np.int32),
                      ck["gp_S"].numpy().copy() if "gp_S" in ck else np.ones((1, 1)),
                      ck["gap_S"].numpy().copy() if "gap_S" in ck else np.ones((1, 1)), ck["theta"].numpy().copy())
        epoch0, done0 = (int(x) for x in ck["position"].tolist())
        history = json.loads(ck["history_json"])
        recent_counts, recent_labels = ck["recent_counts"].numpy(), ck["recent_labels"].numpy()
    else:
        ns = init_state(params, syn, cfg.seed, norm)
        if syn.kind == 0:
            ns.state, ns.gp_S, ns.gap_S = np.zeros((1, 1), np.int32), np.ones((1, 1)), np.ones((1, 1))
    eng = make_engine(engine_kind, ns, params, compiled, syn, norm, cfg.merge == "winner", device)
    if cfg.train_min_spikes:
        eng.train_min_spikes = int(cfg.train_min_spikes)
    p_all = spike_prob(Xtr, params)
    ytr64 = ytr.astype(np.int64)
    total = cfg.epochs * cfg.n_train
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=epoch0 * cfg.n_train + done0, unit="img", desc="train", dynamic_ncols=True)
    asg = np.zeros(N, np.int64)
    props = np.zeros((N, 10))
    if len(recent_labels):
        asg, props = L.assign_labels(recent_counts, recent_labels)
    pend_c: list = []
    pend_l: list = []
    t_train, n_done_call, last_ck = 0.0, 0, epoch0 * cfg.n_train + done0
    stopped = False
    for epoch in range(epoch0, cfg.epochs):
        order = (np.random.default_rng([cfg.seed, epoch]).permutation(cfg.n_train) if cfg.shuffle
                 else np.arange(cfg.n_train))
        start = done0 if epoch == epoch0 else 0
        for k in range(start, cfg.n_train, cfg.batch):
            sel = order[k:k + cfg.batch]
            seeds = image_seeds(cfg.seed, epoch, np.arange(k, k + len(sel)))
            if cfg.nu_final_frac != 1.0:
                eng.rule = scheduled_rule(compiled, cfg.nu_final_frac, (epoch * cfg.n_train + k) / total)
            t0 = time.perf_counter()
            counts = eng.train_batch(p_all[sel], seeds, int(seeds[0]) ^ 0x5BD1E995)
            t_train += time.perf_counter() - t0
            n_done_call += len(sel)
            # running accuracy: predict with the assignment from the previous window, then update it
            pend_c.append(counts)
            pend_l.append(ytr64[sel])
            g = epoch * cfg.n_train + k + len(sel)
            if g // HISTORY_EVERY != (g - len(sel)) // HISTORY_EVERY or g - last_ck >= cfg.checkpoint_every:
                recent_counts = np.concatenate([recent_counts, *pend_c])[-ASSIGN_WINDOW:]
                recent_labels = np.concatenate([recent_labels, *pend_l])[-ASSIGN_WINDOW:]
                pend_c, pend_l = [], []
            if g // HISTORY_EVERY != (g - len(sel)) // HISTORY_EVERY:
                m = min(HISTORY_EVERY, len(recent_labels))
                acc = float(np.mean(L.predict_all_activity(recent_counts[-m:], asg) == recent_labels[-m:]))
                history.append({"samples": int(g), "running_accuracy": acc})
                asg, props = L.assign_labels(recent_counts, recent_labels)
                if bar is not None:
                    bar.set_postfix(acc=f"{acc:.3f}", sps=f"{n_done_call / max(t_train, 1e-9):.0f}")
            if bar is not None:
                bar.update(len(sel))
            pos = (epoch, k + len(sel)) if k + len(sel) < cfg.n_train else (epoch + 1, 0)
            if g - last_ck >= cfg.checkpoint_every or (stop_after is not None and n_done_call >= stop_after):
                recent_counts = np.concatenate([recent_counts, *pend_c])[-ASSIGN_WINDOW:]
                recent_labels = np.concatenate([recent_labels, *pend_l])[-ASSIGN_WINDOW:]
                pend_c, pend_l = [], []
                eng.sync()
                _save_checkpoint(run_dir, cfg, syn, ns, pos, history, recent_counts, recent_labels, {})
                last_ck = g
            if stop_after is not None and n_done_call >= stop_after:
                stopped = True
                break
        if stopped:
            break
    if bar is not None:
        bar.close()
    recent_counts = np.concatenate([recent_counts, *pend_c])[-ASSIGN_WINDOW:]
    recent_labels = np.concatenate([recent_labels, *pend_l])[-ASSIGN_WINDOW:]
    ns = eng.sync()
    if stopped:
        return {"stopped": True}
    _save_checkpoint(run_dir, cfg, syn, ns, (cfg.epochs, 0), history, recent_counts, recent_labels, {})
    # label assignment (learning off) and test
    n_assign = min(cfg.n_assign, cfg.n_train)
    t0 = time.perf_counter()
    ca = _counts(eng, Xtr[:n_assign], params, cfg.seed + 2, None, min_spikes=cfg.min_spikes)
    asg, props = L.assign_labels(ca, ytr64[:n_assign])
    noise = _read_noise_fn(syn, ns, cfg.seed)
    t1 = time.perf_counter()
    ct = _counts(eng, Xte, params, cfg.seed + 1, None, read_noise=noise, min_spikes=cfg.min_spikes)
    t_test = time.perf_counter() - t1
    res = _readout(ct, yte.astype(np.int64), asg, props)
    gmin, gmax = syn.g_bounds_S()
    extra = {"assignments": asg, "proportions": props}
    _save_checkpoint(run_dir, cfg, syn, ns, (cfg.epochs, 0), history, recent_counts, recent_labels, extra)
    n_train_total = total - (epoch0 * cfg.n_train + done0) if resume else total
    metrics = {
        "accuracy_all_activity": res["accuracy_all_activity"],
        "accuracy_proportion": res["accuracy_proportion"],
        "confusion": res["confusion"],
        "n_train": int(cfg.n_train),
        "epochs": int(cfg.epochs),
        "n_test": len(Xte),
        "n_assign": int(n_assign),
        "train_samples_per_s": n_train_total / max(t_train, 1e-9) if n_done_call else 0.0,
        "test_samples_per_s": len(Xte) / max(t_test, 1e-9) if len(Xte) else 0.0,
        "assign_time_s": t1 - t0,
        "train_time_s": t_train,
        "device": eng.device,
        "engine": engine_kind,
        "config": json.loads(cfg.to_json()),
        "synapse": {**syn.to_dict(), "g_min_S": gmin, "g_max_S": gmax},
        "history": history,
        "rule_function": rule.describe(params.dt_ms) if hasattr(rule, "describe") else None,
        "mean_spikes_per_test_image": float(ct.sum(1).mean()) if len(ct) else 0.0,
    }
    write_json(run_dir / "metrics.json", metrics, fmt=METRICS_FORMAT, version=METRICS_VERSION, seed=cfg.seed)
    try:
        from .plots import write_plots

        write_plots(run_dir, ns.w, history, np.asarray(res["confusion"]), asg)
    except Exception as exc:  # noqa: BLE001 - plots are a convenience; the run's files are written
        print(f"spinsyn: warning: plots not written ({exc})")
    return metrics
