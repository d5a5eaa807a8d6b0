"""Run configuration: :class:`TrainConfig`, the per-synapse defaults, :func:`make_config` (the one place options
are turned into a config, for the CLI and the Python API alike) and :func:`validate_config` (every option is
checked here, once, before any work; code behind this boundary trusts the config)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.devices import KIND_COMPOUND, KIND_DW, KIND_IDEAL, KIND_QUANTIZED, SynapseSpec
from spinsyn.validation import check_choice, check_file, check_scalar

from .params import N_INPUT, NetworkParams
from .rules import LearningRule, rule_from_dict
from .synapses import Synapse, make_synapse

#: Default ν_post of the trace rule per synapse family, tuned on MNIST (100 neurons, 1 epoch, batch 1):
#: ideal/quantized best at 0.001 (of 0.0005-0.02); compound:8 best at 0.005 (of 0.001-0.005).
DEFAULT_NU = {KIND_IDEAL: 0.001, KIND_QUANTIZED: 0.001, KIND_DW: 0.001, KIND_COMPOUND: 0.005}
#: ν annealing (fraction of ν reached at the end of the run). 100 neurons, 1 epoch: compound:8 78.29 % with a
#: constant ν (seed 0), 79.35 % (seed 0) and 78.37 % (seed 1) annealed to 0.1 (docs/snn.md)
DEFAULT_NU_FINAL = {KIND_COMPOUND: 0.1}
#: input statistics: BindsNET's eth_mnist (the default network, as the issue specifies) and the Diehl & Cook
#: 2015 paper (pixel/4 Hz, 350 ms presentations). 100 neurons, 1 epoch, ideal, seeds 0/1/2: 80.65/80.15/81.08 %
#: and 85.85/85.24/86.95 % (docs/snn.md)
INPUT_PRESETS = {"bindsnet": {"intensity_Hz": 128.0, "time_ms": 250.0},
                 "diehl-cook": {"intensity_Hz": 63.75, "time_ms": 350.0}}
#: PostPre defaults (BindsNET)
POSTPRE_NU, POSTPRE_NU_PRE = 0.01, 1e-4
#: largest learning rate accepted (``--nu``, ``--nu-pre``): ν is the weight change per pairing at the rule's
#: peak and weights live in [0, 1], so ν ≥ 1 already saturates every update; beyond 10³ it is a typo
NU_MAX = 1e3
#: the torch devices a config may name (checked by form here; :func:`resolve_device` checks availability)
DEVICE_FORMS = "auto, cpu or cuda[:i]"
#: depression offset of the trace rule without per-neuron normalisation (with it: 0)
NO_NORM_OFFSET = 0.5
#: option name (as typed on the command line) of each rule / synapse field
RULE_OPTION = {"nu_post": "--nu", "nu_pre": "--nu-pre", "spread": "--rule-spread", "offset": "--rule-offset",
               "tau_trace_ms": "rule.tau_trace_ms"}
SYNAPSE_OPTION = {"gain": "--compound-gain", "g_spread": "--g-spread", "read_noise": "--read-noise",
                  "stochastic": "--deterministic-rounding"}
_INT = (int, np.integer)


@dataclass
class TrainConfig:
    """Everything that defines a run (stored as JSON in the checkpoint and metrics). ``device``: the torch
    device (auto, cpu, cuda[:i]); ``device_preset``: the synapse device preset (``spinsyn.devices.PRESETS``;
    None = the default of the synapse kind)."""

    synapse: str = "ideal"
    rule: dict = field(default_factory=lambda: {"name": "trace"})
    network: dict = field(default_factory=lambda: NetworkParams().to_dict())
    n_train: int = 60000
    n_test: int = 10000
    n_assign: int = 10000
    epochs: int = 1
    batch: int = 1
    batch_ramp: int = 0  # warm start: batch 1 for the first batch_ramp images of the run, then batch; 0 = off
    merge: str = "winner"  # how a batch's per-image weight changes combine: "winner" | "sum" | "winner-scaled"
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
    device_preset: str | None = None
    checkpoint_weights: str = "float64"  # ideal synapses: dtype of w in the final checkpoint (float64/32/16)
    plots: bool = True  # write the PNG figures at the end of the run (matplotlib; ~1.3 s)
    threads: int = 0  # numba CPU threads (0 = all allowed by NUMBA_NUM_THREADS)
    origin: dict | None = None  # where a run not trained by spinsyn came from (`spinsyn import`); None = trained

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, s: str) -> TrainConfig:
        """The config stored as JSON text ``s``; ValueError "config is not valid JSON (…)" / "config: expected a
        JSON object" when it is not one (keys it does not know are ignored)."""
        try:
            d = json.loads(s)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"config is not valid JSON ({exc})") from None
        return cls.from_dict(d)

    @classmethod
    def from_dict(cls, d: Any) -> TrainConfig:
        """The config of the dict ``d`` (keys it does not know are ignored; values are checked by
        :func:`validate_config` / :func:`check_stored_config`)."""
        if not isinstance(d, dict):
            raise ValueError(f"config: expected a JSON object, got {type(d).__name__}")
        return cls(**{k: v for k, v in d.items() if k in {f.name for f in dataclasses.fields(cls)}})


# ---------------------------------------------------------------------------------------------- make_config
def _rule_file(path: str | Path) -> dict:
    """``{"name": "sweep", "sweep_path"}`` for a device sweep HDF5, else ``{"rule_path"}`` (a rule JSON)."""
    import h5py

    p = check_file(path, "--rule").resolve()
    return {"name": "sweep", "sweep_path": str(p)} if h5py.is_hdf5(p) else {"rule_path": str(p)}


def _rule_options(kind: str, learning_rule: str, rule: str | Path | None, nu: float | None, nu_pre: float | None,
                  rule_spread: float, rule_offset: float | None, soft_bound: bool, norm: bool) -> dict:
    check_choice(learning_rule, "--learning-rule", ("trace", "postpre"))
    if learning_rule == "postpre":
        for given, opt in ((rule, "--rule"), (soft_bound, "--soft-bound")):
            if given:
                raise ValueError(f"{opt} applies to --learning-rule trace only")
        return {"name": "postpre", "nu_post": POSTPRE_NU if nu is None else nu,
                "nu_pre": POSTPRE_NU_PRE if nu_pre is None else nu_pre}
    if nu_pre is not None:
        raise ValueError("--nu-pre applies to --learning-rule postpre only")
    out = {"name": "trace", "nu_post": DEFAULT_NU[kind] if nu is None else nu, "spread": rule_spread,
           "offset": (0.0 if norm else NO_NORM_OFFSET) if rule_offset is None else rule_offset,
           "soft_bound": bool(soft_bound)}
    return {**out, **_rule_file(rule)} if rule else out


def _synapse_options(kind: str, deterministic_rounding: bool, compound_gain: float | None,
                     g_spread: float | None, read_noise: float | None) -> dict:
    opts: dict[str, Any] = {}
    if kind in (KIND_QUANTIZED, KIND_DW) and deterministic_rounding:
        opts["stochastic"] = False
    for key, val in (("gain", compound_gain), ("g_spread", g_spread), ("read_noise", read_noise)):
        if val is not None:
            if kind != KIND_COMPOUND:
                raise ValueError(f"{SYNAPSE_OPTION[key]} applies to compound synapses only")
            opts[key] = val
    return opts


def _network(neurons: int, input_preset: str, intensity: float | None, time_ms: float | None,
             w_inh: float | None, norm: bool) -> dict:
    inp = dict(INPUT_PRESETS[check_choice(input_preset, "--input", sorted(INPUT_PRESETS))])
    for key, val in (("intensity_Hz", intensity), ("time_ms", time_ms), ("w_inh_exc_mV", w_inh)):
        if val is not None:
            inp[key] = val
    return NetworkParams(n_neurons=neurons, norm=78.4 if norm else None, **inp).to_dict()


def make_config(*, synapse: str = "ideal", neurons: int = 100, n_train: int = 60000, n_test: int = 10000,
                n_assign: int = 10000, epochs: int = 1, batch: int = 1, batch_ramp: int = 0, merge: str = "winner",
                seed: int = 0,
                device: str = "auto", engine: str = "auto", device_preset: str | None = None,
                data_dir: str | Path | None = None, rule: str | Path | None = None, learning_rule: str = "trace",
                nu: float | None = None, nu_final: float | None = None, nu_pre: float | None = None,
                rule_spread: float = 0.0, rule_offset: float | None = None, soft_bound: bool = False,
                deterministic_rounding: bool = False, compound_gain: float | None = None,
                g_spread: float | None = None, read_noise: float | None = None, input_preset: str = "bindsnet",
                intensity: float | None = None, time_ms: float | None = None, w_inh: float | None = None,
                norm: bool = True, shuffle: bool = True, min_spikes: int = 0, train_min_spikes: int = 0,
                checkpoint_every: int = 5000, checkpoint_weights: str = "float64", plots: bool = True,
                threads: int = 0) -> TrainConfig:
    """A validated :class:`TrainConfig` from options named as on the command line (``spinsyn train --help``),
    with the per-synapse defaults (:data:`DEFAULT_NU`, :data:`DEFAULT_NU_FINAL`, :data:`INPUT_PRESETS`, rule
    offset 0.5 without normalisation). ``rule``: a rule JSON or a device sweep HDF5 (detected by content);
    ``device``: torch device; ``device_preset``: synapse device preset. Raises ValueError naming the option."""
    kind = SynapseSpec.parse(synapse).kind
    cfg = TrainConfig(
        synapse=str(synapse), network=_network(neurons, input_preset, intensity, time_ms, w_inh, norm),
        rule=_rule_options(kind, learning_rule, rule, nu, nu_pre, rule_spread, rule_offset, soft_bound, norm),
        synapse_options=_synapse_options(kind, deterministic_rounding, compound_gain, g_spread, read_noise),
        n_train=n_train, n_test=n_test, n_assign=n_assign, epochs=epochs, batch=batch, batch_ramp=batch_ramp,
        merge=merge, seed=seed,
        engine=engine, device=device, device_preset=device_preset, shuffle=shuffle, min_spikes=min_spikes,
        train_min_spikes=train_min_spikes, checkpoint_every=checkpoint_every,
        checkpoint_weights=checkpoint_weights, plots=plots, threads=threads,
        nu_final_frac=DEFAULT_NU_FINAL.get(kind, 1.0) if nu_final is None else nu_final,
        data_dir=str(Path(data_dir).resolve()) if data_dir else None)
    validate_config(cfg)
    return cfg


# ---------------------------------------------------------------------------------------------- validation
def _may_have_gpu() -> bool:
    """False only on a POSIX machine with no NVIDIA (``/dev/nvidia<i>``), ROCm (``/dev/kfd``) or WSL (``/dev/dxg``)
    GPU device node, where ``torch.cuda.is_available()`` is necessarily False."""
    import glob
    import os

    if os.name != "posix":
        return True
    return bool(glob.glob("/dev/nvidia[0-9]*") or os.path.exists("/dev/kfd") or os.path.exists("/dev/dxg"))


def resolve_device(device: str) -> str:
    """``"auto"`` → ``"cuda"`` when available, else ``"cpu"``. Raises ValueError for unknown/unavailable."""
    if device == "cpu":
        return device  # no torch import: checking a CPU run's options stays fast
    if not isinstance(device, str) or not (device == "auto" or device.startswith("cuda")):
        raise ValueError(f"--device: expected auto, cpu or cuda[:i], got {device!r}")
    if device == "auto" and not _may_have_gpu():
        return "cpu"  # no GPU device node: CUDA cannot be available, and torch (~1.3 s to import) is not needed
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device: {device!r} requested but CUDA is not available; use --device cpu or auto")
    return device


def resolve_engine(engine: str, device: str) -> str:
    if engine == "auto":
        return "numba" if device == "cpu" else "torch"
    check_choice(engine, "--engine", ("auto", "numba", "torch"))
    if engine == "numba" and device != "cpu":
        raise ValueError(f"--engine numba runs on the CPU only, but --device is {device!r}")
    return engine


def _check_numbers(cfg: TrainConfig) -> None:
    """The run's counts, choices and field types (the checks that do not depend on this machine)."""
    for name, lo in (("n_train", 1), ("n_test", 0), ("n_assign", 1), ("epochs", 1), ("batch", 1),
                     ("checkpoint_every", 1), ("seed", 0), ("min_spikes", 0), ("train_min_spikes", 0),
                     ("batch_ramp", 0)):
        check_scalar(getattr(cfg, name), f"--{name.replace('_', '-')}", _INT, min_val=lo)
    check_scalar(cfg.nu_final_frac, "--nu-final", float, min_val=0.0, max_val=1.0)
    check_choice(cfg.merge, "--merge", ("winner", "sum", "winner-scaled"))
    check_choice(cfg.shuffle, "shuffle", (True, False))
    check_choice(cfg.plots, "plots", (True, False))
    check_choice(cfg.checkpoint_weights, "--checkpoint-weights", ("float64", "float32", "float16"))
    check_scalar(cfg.threads, "--threads", _INT, min_val=0)
    check_choice(cfg.engine, "--engine", ("auto", "numba", "torch"))
    dev = cfg.device
    if not isinstance(dev, str) or not (dev in ("auto", "cpu", "cuda") or (dev.startswith("cuda:")
                                                                           and dev[5:].isdigit())):
        raise ValueError(f"--device: expected {DEVICE_FORMS}, got {dev!r}")
    for name in ("device_preset", "data_dir"):
        if getattr(cfg, name) is not None and not isinstance(getattr(cfg, name), str):
            raise ValueError(f"{name}: expected a string or null, got {getattr(cfg, name)!r}")
    for name in ("synapse_options", "origin"):
        if not isinstance(getattr(cfg, name), dict) and not (name == "origin" and cfg.origin is None):
            raise ValueError(f"{name}: expected a JSON object, got {getattr(cfg, name)!r}")
    SynapseSpec.parse(cfg.synapse if isinstance(cfg.synapse, str) else repr(cfg.synapse))


def _check_run(cfg: TrainConfig) -> None:
    """:func:`_check_numbers`, then the thread count, device and engine this machine offers."""
    _check_numbers(cfg)
    if cfg.threads > 1:
        from numba import config as numba_config

        check_scalar(cfg.threads, "--threads", _INT, max_val=int(numba_config.NUMBA_NUM_THREADS))
    engine = resolve_engine(cfg.engine, resolve_device(cfg.device))
    if cfg.train_min_spikes and engine != "numba":
        raise ValueError("--train-min-spikes: implemented in the numba CPU engine only (use --engine numba)")


def _check_network(params: NetworkParams) -> None:
    check_scalar(params.n_neurons, "--neurons", _INT, min_val=1)
    check_scalar(params.dt_ms, "network.dt_ms", float, min_val=0.0, include_boundaries="neither")
    check_scalar(params.intensity_Hz, "--intensity", float, min_val=0.0, include_boundaries="neither")
    check_scalar(params.time_ms, "--time-ms", float, min_val=params.dt_ms)
    check_scalar(params.w_inh_exc_mV, "--w-inh", float, min_val=0.0)
    check_scalar(params.w_exc_inh_mV, "network.w_exc_inh_mV", float, min_val=0.0)
    check_scalar(params.w_init_max, "network.w_init_max", float, min_val=0.0, max_val=1.0,
                 include_boundaries="right")
    if params.norm is not None:
        check_scalar(params.norm, "network.norm", float, min_val=0.0, max_val=float(N_INPUT),
                     include_boundaries="right")
    for part in (params.exc, params.inh):
        for f in dataclasses.fields(part):
            check_scalar(getattr(part, f.name), f"network.{f.name}", float)


def _check_rule(rule: LearningRule, files: bool) -> None:
    d = rule.to_dict()
    for key, lo, hi in (("nu_post", 0.0, NU_MAX), ("nu_pre", 0.0, NU_MAX), ("spread", 0.0, None),
                        ("offset", -1.0, 1.0)):
        if key in d:
            check_scalar(d[key], RULE_OPTION[key], float, min_val=lo, max_val=hi)
    if "tau_trace_ms" in d:
        check_scalar(d["tau_trace_ms"], RULE_OPTION["tau_trace_ms"], float, min_val=0.0, include_boundaries="neither")
    for key in ("rule_path", "sweep_path"):
        if files and d.get(key):
            check_file(d[key], "--rule")
    if d["name"] == "sweep" and not d.get("sweep_path"):
        raise ValueError("--rule: the 'sweep' rule needs a device sweep HDF5 file")


def _check_synapse(syn: Synapse) -> None:
    for key, val in syn.options().items():
        if key == "stochastic":
            check_choice(val, SYNAPSE_OPTION[key], (True, False))
        elif key == "gain":
            check_scalar(val, SYNAPSE_OPTION[key], float, min_val=0.0, include_boundaries="neither")
        else:
            check_scalar(val, SYNAPSE_OPTION[key], float, min_val=0.0, max_val=1.0)


def _parse_rule(d: Any) -> LearningRule:
    if not isinstance(d, dict) or "name" not in d:
        raise ValueError(f"rule: expected a dict with a 'name', got {d!r}")
    try:
        return rule_from_dict(d)
    except TypeError as exc:
        raise ValueError(f"rule: {exc}") from None


def _parse_network(d: Any) -> NetworkParams:
    """:class:`NetworkParams` of the config's ``network`` dict; ValueError naming it when malformed."""
    if not isinstance(d, dict) or not all(isinstance(d.get(k, {}), dict) for k in ("exc", "inh")):
        raise ValueError(f"network: expected a JSON object (with 'exc' and 'inh' objects), got {str(d)[:80]!r}")
    try:
        return NetworkParams.from_dict(d)
    except TypeError as exc:
        raise ValueError(f"network: {exc}") from None


def check_stored_config(cfg: TrainConfig) -> tuple[NetworkParams, LearningRule]:
    """The checks :func:`validate_config` makes that hold on any machine (counts, network, rule options; not the
    torch device, engine, thread count, rule file or synapse preset): for a config read back from a checkpoint,
    whose synapse comes from the device record stored with it. Returns the network and the rule options."""
    _check_numbers(cfg)
    params = _parse_network(cfg.network)
    _check_network(params)
    rule = _parse_rule(cfg.rule)
    _check_rule(rule, False)
    return params, rule


def check_synapse(syn: Synapse) -> Synapse:
    """The strategy options of ``syn`` (``--compound-gain``, ``--g-spread``, …) in range; returns ``syn``."""
    _check_synapse(syn)
    return syn


def validate_config(cfg: TrainConfig, files: bool = True) -> tuple[NetworkParams, Synapse, LearningRule]:
    """Check every option before any work; returns the parsed network, synapse strategy (on its device) and
    rule. Does not open the rule file beyond checking it exists (``files``; off when resuming a run, whose
    compiled rule is in its checkpoint); :func:`train` compiles it."""
    _check_run(cfg)
    params = _parse_network(cfg.network)
    _check_network(params)
    syn = make_synapse(cfg.synapse, cfg.device_preset, **cfg.synapse_options)
    _check_synapse(syn)
    rule = _parse_rule(cfg.rule)
    _check_rule(rule, files)
    return params, syn, rule
