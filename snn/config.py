"""Run configuration: :class:`TrainConfig`, the per-synapse defaults, :func:`make_config` (the one place options
are turned into a config, for the CLI and the Python API alike) and :func:`validate_config` (every option is
checked here, once, before any work; code behind this boundary trusts the config)."""

from __future__ import annotations

import dataclasses
import glob
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
from spinsyn.devices import KIND_COMPOUND, KIND_DW, KIND_IDEAL, KIND_QUANTIZED, SynapseSpec
from spinsyn.devices.synapse import KIND_GRADED
from spinsyn.lazyimport import import_uninterrupted
from spinsyn.options import LC_OPTIONS, LC_UNREAD, TRAIN_OPTIONS, parse_threads
from spinsyn.options import NU_MAX as NU_MAX  # re-exported (spinsyn.snn.checkpoint)
from spinsyn.validation import check_choice, check_file, check_scalar

from .lc import LC_W_INH_MV, LocalGeometry, geometry_of
from .params import N_INPUT, NetworkParams
from .rules import LearningRule, rule_from_dict
from .synapses import Synapse, make_synapse

#: Default ν_post of the trace rule per synapse family, tuned on MNIST (100 neurons, 1 epoch, batch 1):
#: ideal/quantized best at 0.001 (of 0.0005-0.02); compound:8 best at 0.005 (of 0.001-0.005).
DEFAULT_NU = {KIND_IDEAL: 0.001, KIND_QUANTIZED: 0.001, KIND_DW: 0.001, KIND_COMPOUND: 0.005,
              KIND_GRADED: 0.001}
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
#: the torch devices a config may name (checked by form here; :func:`resolve_device` checks availability)
DEVICE_FORMS = "auto, cpu or cuda[:i]"
#: depression offset of the trace rule without per-neuron normalisation (with it: 0)
NO_NORM_OFFSET = 0.5
#: the training option (``spinsyn.options.TRAIN_OPTIONS``) of each rule / synapse field (its flag, type and range)
RULE_OPTION = {"nu_post": "nu", "nu_pre": "nu_pre", "spread": "rule_spread", "offset": "rule_offset"}
SYNAPSE_OPTION = {"gain": "compound_gain", "g_spread": "g_spread", "read_noise": "read_noise_sigma",
                  "stochastic": "deterministic_rounding"}
#: the config field of each option whose name differs (stored configs keep their keys)
CONFIG_FIELD = {"nu_final": "nu_final_frac"}
_INT = (int, np.integer)
_O = TRAIN_OPTIONS


def _default(name: str) -> Any:
    """The table default of option ``name`` (the config field's default)."""
    return TRAIN_OPTIONS[name].default


@dataclass
class TrainConfig:
    """Everything that defines a run (stored as JSON in the checkpoint and metrics). ``device``: the torch
    device (auto, cpu, cuda[:i]); ``device_preset``: the synapse device preset (``spinsyn.devices.PRESETS``;
    None = the default of the synapse kind)."""

    synapse: str = _default("synapse")
    rule: dict = field(default_factory=lambda: {"name": "trace"})
    network: dict = field(default_factory=lambda: NetworkParams().to_dict())
    n_train: int = _default("n_train")
    n_test: int = _default("n_test")
    n_assign: int = _default("n_assign")
    epochs: int = _default("epochs")
    batch: int = _default("batch")
    batch_ramp: int = _default("batch_ramp")  # warm start: batch 1 for the first batch_ramp images, then batch
    merge: str = _default("merge")  # how a batch's per-image weight changes combine: "winner" | "sum" | ...
    seed: int = _default("seed")
    engine: str = _default("engine")  # "numba" | "torch" | "auto"
    device: str = _default("device")
    shuffle: bool = _default("shuffle")
    checkpoint_every: int = _default("checkpoint_every")
    min_spikes: int = _default("min_spikes")  # inference: re-show an image with +32 Hz while it evokes fewer spikes
    synapse_options: dict = field(default_factory=dict)
    data_dir: str | None = None
    nu_final_frac: float = 1.0  # learning rates decay linearly to this fraction of their start over the run
    train_min_spikes: int = _default("train_min_spikes")  # training: re-show an image at +32 Hz (D&C); 0 = off
    device_preset: str | None = None
    checkpoint_weights: str = _default("checkpoint_weights")  # ideal synapses: dtype of w in the final checkpoint
    plots: bool = _default("plots")  # write the PNG figures at the end of the run (matplotlib; ~1.3 s)
    threads: int | str = _default("threads")  # numba CPU threads: "auto" (spinsyn.snn.threads) or N (0 = all allowed)
    origin: dict | None = None  # where a run not trained by spinsyn came from (`spinsyn import`); None = trained
    extra: dict = field(default_factory=dict)  # options declared only in TRAIN_OPTIONS (no field of their own)

    def __getattr__(self, name: str) -> Any:
        """An option declared only in :data:`spinsyn.options.TRAIN_OPTIONS`: its value in ``extra``, else its
        table default (so a new option is one table entry; see docs/CONTRACTS.md)."""
        if name.startswith("_") or name == "extra" or name not in TRAIN_OPTIONS or name in _BUILT:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return self.__dict__.get("extra", {}).get(name, TRAIN_OPTIONS[name].default)

    def to_json(self) -> str:
        d = dataclasses.asdict(self)
        if not d["extra"]:  # runs without table-only options store the same JSON as before
            del d["extra"]
        return json.dumps(d, sort_keys=True)

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

    @classmethod
    def field_names(cls) -> frozenset[str]:
        return frozenset(f.name for f in dataclasses.fields(cls))


# ---------------------------------------------------------------------------------------------- make_config
def _rule_file(path: str | Path) -> dict:
    """``{"name": "sweep", "sweep_path"}`` for a device sweep HDF5, else ``{"rule_path"}`` (a rule JSON)."""
    h5py = import_uninterrupted("h5py")  # lazy (startup); never half-imported by a signal

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
                     g_spread: float | None, read_noise_sigma: float | None) -> dict:
    """The synapse strategy options (keys as stored in checkpoints: ``read_noise`` is the read noise σ)."""
    opts: dict[str, Any] = {}
    if kind in (KIND_QUANTIZED, KIND_DW) and deterministic_rounding:
        opts["stochastic"] = False
    for key, val in (("gain", compound_gain), ("g_spread", g_spread), ("read_noise", read_noise_sigma)):
        if val is not None:
            if kind != KIND_COMPOUND:
                raise ValueError(f"{_O[SYNAPSE_OPTION[key]].cli} applies to compound synapses only")
            opts[key] = val
    return opts


def _network(neurons: int, input_preset: str, intensity: float | None, time_ms: float | None,
             w_inh: float | None, norm: bool, lc: LocalGeometry | None = None) -> dict:
    """The config's ``network`` dict. ``lc``: a locally connected network (:mod:`spinsyn.snn.lc`): filters ×
    locations neurons, per-neuron norm 0.2·k² over its patch and inhibition 250 mV unless ``--w-inh`` (Saunders et
    al. 2019 / BindsNET); None: Diehl & Cook (norm 78.4 over 784 inputs, inhibition 120 mV)."""
    inp: dict[str, Any] = dict(INPUT_PRESETS[check_choice(input_preset, "--input", sorted(INPUT_PRESETS))])
    if lc is not None:
        inp["w_inh_exc_mV"] = LC_W_INH_MV
    for key, val in (("intensity_Hz", intensity), ("time_ms", time_ms), ("w_inh_exc_mV", w_inh)):
        if val is not None:
            inp[key] = val
    if lc is None:
        return NetworkParams(n_neurons=neurons, norm=78.4 if norm else None, **inp).to_dict()
    return NetworkParams(n_neurons=lc.n_neurons, norm=lc.norm if norm else None, lc=lc, **inp).to_dict()


def _geometry(o: dict[str, Any]) -> LocalGeometry | None:
    """The LC geometry of the resolved options ``o`` (``--lc-*``, each checked by its table entry), None for dc."""
    if o["network_kind"] != "lc":
        return None
    for name in ("lc_kernel", "lc_stride", "lc_filters", "lc_crop"):
        _O[name].check(o[name], optional=False)
    return LocalGeometry(o["lc_kernel"], o["lc_stride"], o["lc_filters"], o["lc_crop"]).check()


#: options built into the config by the functions above; every other option is copied to the config field of
#: its name (a new option with a field of its name needs no code here)
_BUILT = frozenset({"synapse", "neurons", "input_preset", "intensity", "time_ms", "w_inh", "norm", "rule",
                    "learning_rule", "nu", "nu_pre", "rule_spread", "rule_offset", "soft_bound",
                    "deterministic_rounding", "compound_gain", "g_spread", "read_noise_sigma", "nu_final", "data_dir",
                    "lc_kernel", "lc_stride", "lc_filters", "lc_crop"})
#: the options stored as given in the config field of their name (counts, choices, switches)
PLAIN_OPTIONS = tuple(n for n in TRAIN_OPTIONS if n not in _BUILT)


def plain_options() -> tuple[str, ...]:
    """The options stored as given, as the table holds them now: in their config field, or in ``extra`` when they
    have none (an option added to TRAIN_OPTIONS only)."""
    return tuple(n for n in TRAIN_OPTIONS if n not in _BUILT)


def make_config(**options: Any) -> TrainConfig:
    """A validated :class:`TrainConfig` from options named as in :data:`spinsyn.options.TRAIN_OPTIONS` (the
    ``spinsyn train`` flags, ``--n-train`` → ``n_train``; ``--input`` → ``input_preset``, ``--read-noise`` →
    ``read_noise_sigma``, whose old name ``read_noise`` is still accepted; ``--no-norm`` → ``norm=False``), each
    at its table default unless given, with the per-synapse defaults (:data:`DEFAULT_NU`, :data:`DEFAULT_NU_FINAL`,
    :data:`INPUT_PRESETS`, rule offset 0.5 without normalisation). ``rule``: a rule JSON or a device sweep HDF5
    (detected by content); ``device``: torch device; ``device_preset``: synapse device preset. Raises ValueError
    naming the option (TypeError for an unknown keyword)."""
    o = TRAIN_OPTIONS.resolve(options, "make_config")
    if o["network_kind"] == "conv":  # the conv network has its own entry points; a TrainConfig is D&C's or LC's
        raise ValueError(f"network_kind={o['network_kind']!r}: make_config builds the Diehl & Cook network (dc) and "
                         "its locally connected variant (lc); train the convolutional one with "
                         "spinsyn.snn.conv.train_conv (or spinsyn train --network conv)")
    o["threads"] = parse_threads(o["threads"])  # the command line gives text: "auto" or a number
    kind = SynapseSpec.parse(o["synapse"]).kind
    _check_kind_options(o, options)
    network = _network(o["neurons"], o["input_preset"], o["intensity"], o["time_ms"], o["w_inh"], o["norm"],
                       _geometry(o))
    rule = _rule_options(kind, o["learning_rule"], o["rule"], o["nu"], o["nu_pre"], o["rule_spread"],
                         o["rule_offset"], o["soft_bound"], o["norm"])
    syn = _synapse_options(kind, o["deterministic_rounding"], o["compound_gain"], o["g_spread"],
                           o["read_noise_sigma"])
    o["device_preset"] = _device_preset(o["device_preset"], o["device_model"])  # a device file: its absolute path
    o["device_model"] = o["device_preset"] if o["device_model"] is not None else None
    cfg = TrainConfig(
        synapse=str(o["synapse"]), network=network, rule=rule, synapse_options=syn,
        nu_final_frac=DEFAULT_NU_FINAL.get(kind, 1.0) if o["nu_final"] is None else o["nu_final"],
        data_dir=str(Path(o["data_dir"]).resolve()) if o["data_dir"] else None,
        **{n: o[n] for n in plain_options() if n in TrainConfig.field_names()},
        extra={n: o[n] for n in plain_options() if n not in TrainConfig.field_names() and o[n] != _O[n].default})
    validate_config(cfg)
    return cfg


def _check_kind_options(o: dict[str, Any], given: dict[str, Any]) -> None:
    """Refuse an option the chosen network does not read, given with a value other than its default: ``--neurons``
    for lc (filters × locations), ``--lc-*`` for dc."""
    lc = o["network_kind"] == "lc"
    for name in (LC_UNREAD if lc else LC_OPTIONS):
        if name in given and o[name] != _O[name].default:
            raise ValueError(f"{_O[name].cli}: applies to --network {'dc' if lc else 'lc'} only"
                             + (" (an lc network has --lc-filters x locations neurons)" if lc else ""))


# ---------------------------------------------------------------------------------------------- validation
def _may_have_gpu() -> bool:
    """False only on a POSIX machine with no NVIDIA (``/dev/nvidia<i>``), ROCm (``/dev/kfd``) or WSL (``/dev/dxg``)
    GPU device node, where ``torch.cuda.is_available()`` is necessarily False."""
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
    import torch  # lazy: startup

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
    """The run's counts, choices and field types (the checks that do not depend on this machine), each option
    by its entry in :data:`spinsyn.options.TRAIN_OPTIONS`."""
    for name in plain_options():
        opt = _O[name]
        if name not in ("device", "device_preset", "device_model", "device_params", "threads"):  # checked below
            opt.check(getattr(cfg, name), name if opt.type is bool else None, optional=False)
    _O["nu_final"].check(cfg.nu_final_frac, optional=False)
    if parse_threads(cfg.threads) != cfg.threads:  # the text "2" where make_config stores the number
        raise ValueError(f"--threads: got {cfg.threads!r}, expected auto or a whole number >= 0")
    dev = cfg.device
    if not isinstance(dev, str) or not (dev in ("auto", "cpu", "cuda") or (dev.startswith("cuda:")
                                                                           and dev[5:].isdigit())):
        raise ValueError(f"--device: expected {DEVICE_FORMS}, got {dev!r}")
    for name in ("device_preset", "data_dir", "device_model"):
        if getattr(cfg, name) is not None and not isinstance(getattr(cfg, name), str):
            raise ValueError(f"{name}: expected a string or null, got {getattr(cfg, name)!r}")
    _check_device_params(cfg.device_params)
    for name in ("synapse_options", "origin", "extra"):
        if not isinstance(getattr(cfg, name), dict) and not (name == "origin" and cfg.origin is None):
            raise ValueError(f"{name}: expected a JSON object, got {getattr(cfg, name)!r}")
    SynapseSpec.parse(cfg.synapse if isinstance(cfg.synapse, str) else repr(cfg.synapse))


def _check_run(cfg: TrainConfig) -> None:
    """:func:`_check_numbers`, then the thread count, device and engine this machine offers."""
    _check_numbers(cfg)
    if cfg.threads != "auto" and cfg.threads > 1:  # type: ignore[operator]  # an int once not "auto"
        from numba import config as numba_config  # lazy: startup

        check_scalar(cfg.threads, _O["threads"].cli, _INT, max_val=int(numba_config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
    engine = resolve_engine(cfg.engine, resolve_device(cfg.device))
    if cfg.train_min_spikes and engine != "numba":
        raise ValueError("--train-min-spikes: implemented in the numba CPU engine only (use --engine numba)")


def _check_network(params: NetworkParams) -> None:
    _O["neurons"].check(params.n_neurons, optional=False)
    check_scalar(params.dt_ms, "network.dt_ms", float, min_val=0.0, include_boundaries="neither")
    _O["intensity"].check(params.intensity_Hz, optional=False)
    check_scalar(params.time_ms, _O["time_ms"].cli, float, min_val=params.dt_ms)  # at least one time step
    _O["w_inh"].check(params.w_inh_exc_mV, optional=False)
    check_scalar(params.w_exc_inh_mV, "network.w_exc_inh_mV", float, min_val=0.0)
    check_scalar(params.w_init_max, "network.w_init_max", float, min_val=0.0, max_val=1.0,
                 include_boundaries="right")
    if params.norm is not None:
        check_scalar(params.norm, "network.norm", float, min_val=0.0, max_val=float(N_INPUT),
                     include_boundaries="right")
    for part in (params.exc, params.inh):
        for f in dataclasses.fields(part):
            check_scalar(getattr(part, f.name), f"network.{f.name}", float)
    if params.lc is not None:
        params.lc.check()
        if params.n_neurons != params.lc.n_neurons:
            raise ValueError(f"network.n_neurons: {params.n_neurons} does not match the locally connected geometry "
                             f"({params.lc.filters} filters x {params.lc.n_locations} locations)")


def _check_rule(rule: LearningRule, files: bool) -> None:
    d = rule.to_dict()
    for key, option in RULE_OPTION.items():
        if key in d:
            _O[option].check(d[key], optional=False)
    if "tau_trace_ms" in d:
        check_scalar(d["tau_trace_ms"], "rule.tau_trace_ms", float, min_val=0.0, include_boundaries="neither")
    for key in ("rule_path", "sweep_path"):
        if files and d.get(key):
            check_file(d[key], "--rule")
    if d["name"] == "sweep" and not d.get("sweep_path"):
        raise ValueError("--rule: the 'sweep' rule needs a device sweep HDF5 file")


def _check_synapse(syn: Synapse) -> None:
    for key, val in syn.options().items():
        _O[SYNAPSE_OPTION[key]].check(val, optional=False)


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
        geometry_of(d)  # a malformed "lc" entry: ValueError naming network.lc
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


def _device_preset(preset: str | None, device_model: str | None) -> str | None:
    """The config's ``device_preset``: ``--device-preset`` as given (a preset name), or ``--device-model`` (a
    device file, stored by its absolute path); ValueError when both are given or the file is no device file."""
    if device_model is None:
        return preset
    from spinsyn.devices import is_device_file  # lazy: startup

    if preset is not None:
        raise ValueError(f"--device-model: give either --device-model {device_model} or --device-preset {preset}, "
                         "not both")
    if not isinstance(device_model, str) or not is_device_file(device_model):
        raise ValueError(f"--device-model: expected a spinsyn-device JSON file (.json), got {device_model!r}")
    return str(check_file(device_model, "--device-model").resolve())


def _check_device_params(params: Any) -> None:
    """``--device-param``: None or a mapping of field names to numbers, strings or booleans."""
    if params is None:
        return
    if not isinstance(params, dict) or not all(isinstance(k, str) and isinstance(v, (int, float, str, bool))
                                               for k, v in params.items()):
        raise ValueError(f"--device-param: expected K=V field overrides, got {params!r}")


def _rule_device(cfg: TrainConfig) -> dict[str, Any] | None:
    """The device a ``--rule`` JSON was fitted on (``source.device`` of a rule fitted from a device sweep:
    ``{"model": model record, "n_mtj", "g_min_S", "g_max_S"}``) when it fits the synapse kind; else None."""
    from spinsyn.devices import model_from_record  # lazy: startup
    from spinsyn.devices.models import model_name  # lazy: startup
    from spinsyn.devices.synapse import DEVICE_FAMILY  # lazy: startup

    path = cfg.rule.get("rule_path") if isinstance(cfg.rule, dict) else None
    if not path:
        return None
    try:
        doc = json.loads(Path(path).read_text())
        dev = doc["source"]["device"]
        model = model_from_record(dev["model"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no device stored (a rule fitted from a CSV window), or a file checked elsewhere
    kind = SynapseSpec.parse(cfg.synapse).kind
    return {**dev, "path": str(path)} if model_name(model) == DEVICE_FAMILY.get(kind) else None


def rule_device_note(cfg: TrainConfig) -> str | None:
    """A one-line note when ``--device-model`` / ``--device-preset`` replaces the device the ``--rule`` file was
    fitted on (training uses the named device's conductances); None otherwise."""
    dev = _rule_device(cfg) if cfg.device_preset is not None else None
    if dev is None or (cfg.device_model and _file_label(cfg.device_model) == _record_source(dev["model"])):
        return None
    return (f"the rule {Path(dev['path']).name} was fitted on another device ({_record_source(dev['model'])}); "
            f"training uses {'--device-model' if cfg.device_model else '--device-preset'} {cfg.device_preset}")


def _file_label(path: str) -> str | None:
    """The label of device file ``path`` (``NAME (sha256 12hex)``), None when it cannot be read."""
    from spinsyn.devices import read_device_file  # lazy: startup

    try:
        return read_device_file(path).label
    except ValueError:
        return None


def _record_source(rec: dict[str, Any]) -> str:
    """The device-file label stored in a model record's cell (``source``), else its model name."""
    fields = rec.get("fields") or {}
    cells = [fields] + [v for v in fields.values() if isinstance(v, dict)]
    return next((c["source"] for c in cells if isinstance(c.get("source"), str) and c["source"]),
                str(rec.get("name", "?")))


def _synapse_on_rule_device(cfg: TrainConfig, params: dict[str, Any]) -> Synapse:
    """The synapse strategy on the device stored in the ``--rule`` file (compound: N cells of the spec), with
    ``--device-param`` overrides; its preset is recorded as ``rule:<rule file name>``."""
    from spinsyn.devices import model_from_record, model_record  # lazy: startup
    from spinsyn.devices.devicefile import apply_overrides  # lazy: startup

    from .synapses import synapse_from_record  # lazy: startup

    dev = cast(dict, _rule_device(cfg))
    spec = SynapseSpec.parse(cfg.synapse)
    model = model_from_record(dev["model"])
    if spec.kind == KIND_COMPOUND:
        params = {**params, "n_mtj": spec.n}
    try:
        model = apply_overrides(model, params, "rule device") if params else model
    except (TypeError, ValueError) as exc:
        raise ValueError(f"--device-param: {exc}") from None
    record = {"spec": str(spec), "preset": f"rule:{Path(dev['path']).name}", "v_read_V": 0.1,
              "model": model_record(model)}
    return synapse_from_record(record, **cfg.synapse_options)


def _synapse_on_preset(cfg: TrainConfig) -> Synapse:
    """The synapse strategy on its device (``--device-preset`` / ``--device-model``, with ``--device-param``
    overrides); a preset or device file that is unknown or does not fit the synapse kind is an error of its
    option, an unknown field an error of ``--device-param``."""
    preset, params = cfg.device_preset, dict(cfg.device_params or {})
    opt = "--device-model" if cfg.device_model else "--device-preset"
    if preset is None and _rule_device(cfg) is not None:
        return _synapse_on_rule_device(cfg, params)
    if preset is None and not params:
        return make_synapse(cfg.synapse, None, **cfg.synapse_options)
    try:
        return make_synapse(cfg.synapse, preset, device_params=params, **cfg.synapse_options)
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        if params and ("--device-param" in msg or "unknown parameter" in msg or "unexpected keyword" in msg):
            raise ValueError(f"--device-param: {msg.removeprefix('--device-param: ')}") from None
        raise ValueError(f"{opt}: {preset!r} for --synapse {cfg.synapse}: {exc}") from None


def validate_config(cfg: TrainConfig, files: bool = True) -> tuple[NetworkParams, Synapse, LearningRule]:
    """Check every option before any work; returns the parsed network, synapse strategy (on its device) and
    rule. Does not open the rule file beyond checking it exists (``files``; off when resuming a run, whose
    compiled rule is in its checkpoint); :func:`train` compiles it."""
    _check_run(cfg)
    params = _parse_network(cfg.network)
    _check_network(params)
    syn = _synapse_on_preset(cfg)
    _check_synapse(syn)
    rule = _parse_rule(cfg.rule)
    _check_rule(rule, files)
    return params, syn, rule


def device_summary(syn: Synapse) -> dict[str, Any]:
    """What a run's metrics.json says of its synapse device: ``preset`` (a preset name or a device file's path),
    ``source`` (the device file's label ``NAME (sha256 12hex)``, else the preset name), ``levels_uS`` (the level
    read conductances in µS; the two bounds for a continuous synapse)."""
    dev = syn.device
    cell = getattr(dev.model, "cell", dev.model)
    source = str(getattr(cell, "source", "") or dev.preset)
    g = dev.level_conductances_S() if syn.spec.n_levels else np.array(dev.g_bounds_S())
    return {"preset": dev.preset, "source": source, "levels_uS": [round(float(x) * 1e6, 6) for x in g]}
