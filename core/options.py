"""Options declared once (``spinsyn.options``): one :class:`Option` per option — type, unit, default, range,
choices, help and command-line flag — in one table per stage (:data:`TRAIN_OPTIONS`, :data:`EXPORT_OPTIONS`,
:data:`SWEEP_OPTIONS`). From one entry come the ``argparse`` argument (:meth:`OptionTable.add_arguments`: flag,
type, default, help with unit and range), the check (:meth:`Option.check`, through
:func:`spinsyn.validation.check_scalar` / :func:`~spinsyn.validation.check_choice`, the message naming the flag),
the defaults and checks of ``spinsyn.snn.make_config``, of stored run configs and of ``spinsyn pipeline``, and
the type and range of a study setting (``spinsyn.study.params``). A new option is one entry (docs/CONTRACTS.md).

This is a base module: it imports no stage (stages import it). :class:`WritePulse` is the ``--write-pulse``
value (``auto`` or a fixed width in ns), parsed once for the export CLI, ``ExportConfig`` and studies.
"""

from __future__ import annotations

import argparse
import json
import numbers
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from .validation import Closed, _range_text, check_choice, check_scalar


@dataclass(frozen=True)
class Option:
    """One option. ``name``: keyword / config key / argparse destination; ``type``: int, float, str or bool;
    ``default``: None = "unset" (the stage picks a default described in ``help``); ``min``/``max`` with
    ``closed`` (which ends belong to the range, as :func:`~spinsyn.validation.check_scalar`); ``choices``: the
    allowed values; ``flag``: the command-line flag (default ``--name-with-dashes``; ``""``: not on the command
    line); a bool option whose ``default`` is True is cleared by its flag (``--no-norm`` → ``norm=False``)."""

    name: str
    type: type
    default: Any = None
    help: str = ""
    unit: str = ""
    min: float | None = None
    max: float | None = None
    closed: Closed = "both"
    choices: tuple[Any, ...] | None = None
    flag: str | None = None
    metavar: str | None = None

    @property
    def cli(self) -> str:
        """The flag as typed on the command line (``--n-train``); the name used in messages."""
        return self.flag if self.flag is not None else "--" + self.name.replace("_", "-")

    def range_text(self) -> str:
        """``in [1, 256]``, ``>= 0``, ``> 0`` or ``""`` (no bound)."""
        if self.min is None and self.max is None:
            return ""
        return _range_text(self.min, self.max, self.closed).removeprefix("a value ")

    def check(self, value: Any, name: str | None = None, optional: bool | None = None) -> Any:
        """``value`` when it fits this option, else ValueError ``<name>: <problem>`` (``name`` defaults to
        :attr:`cli`). None passes when ``optional`` (default: when the option's default is None)."""
        name = name or self.cli
        if value is None and (self.default is None if optional is None else optional):
            return None
        if self.type is bool:
            return check_choice(value, name, (True, False))
        if self.choices is not None:
            return check_choice(value, name, self.choices)
        if self.type in (int, float):
            return check_scalar(value, name, self.type, min_val=self.min, max_val=self.max,
                                include_boundaries=self.closed)
        if not isinstance(value, self.type):
            raise ValueError(f"{name}: expected {self.type.__name__}, got {value!r}")
        return value

    def help_text(self, default: Any = None) -> str:
        """The help line: ``help``, then unit, range and ``default`` in parentheses (``%`` escaped for argparse)."""
        extra = [x for x in (self.unit, self.range_text()) if x]
        if default is not None and self.type is not bool:
            extra.append(f"default {default}")
        text = f"{self.help} ({'; '.join(extra)})" if extra else self.help
        return text.replace("%", "%%")

    def add_to(self, parser: argparse.ArgumentParser | Any, **over: Any) -> None:
        """Add this option's argument to ``parser``; ``over``: argparse keywords that differ for this command
        (``default=None`` where "unset" means "the model's own", ``required=True``, another ``default``)."""
        kw: dict[str, Any] = {"dest": self.name, "help": self.help_text(over.get("default", self.default))}
        if self.type is bool:
            kw.update(action="store_false" if self.default else "store_true", default=bool(self.default))
        else:
            kw.update(type=self.type, default=self.default)
            if self.choices is not None:
                kw["choices"] = list(self.choices)
            if self.metavar:
                kw["metavar"] = self.metavar
        parser.add_argument(self.cli, **{**kw, **over})


class OptionTable(Mapping[str, Option]):
    """The options of one stage, by name, in declaration order."""

    def __init__(self, stage: str, options: Iterable[Option], aliases: Mapping[str, str] | None = None) -> None:
        self.stage = stage
        self._opts = {o.name: o for o in options}
        #: old keyword -> current name (e.g. ``read_noise`` -> ``read_noise_sigma``), still accepted
        self.aliases = dict(aliases or {})

    def __getitem__(self, name: str) -> Option:
        return self._opts[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._opts)

    def __len__(self) -> int:
        return len(self._opts)

    def defaults(self) -> dict[str, Any]:
        """Every option at its default."""
        return {n: o.default for n, o in self._opts.items()}

    def resolve(self, given: Mapping[str, Any], where: str) -> dict[str, Any]:
        """The defaults overridden by ``given`` (old names of :attr:`aliases` accepted); TypeError naming an
        unknown keyword, as Python does for a function ``where``."""
        out = self.defaults()
        for k, v in given.items():
            name = self.aliases.get(k, k)
            if name not in self._opts:
                raise TypeError(f"{where}() got an unexpected keyword argument {k!r}")
            out[name] = v
        return out

    def add_arguments(self, parser: argparse.ArgumentParser | Any, names: Iterable[str] | None = None,
                      defaults: Mapping[str, Any] | None = None) -> None:
        """Add the arguments of ``names`` (default: every option with a flag, in table order) to ``parser``;
        ``defaults``: name -> this command's own default (e.g. ``spinsyn pipeline``'s demo sizes)."""
        defaults = defaults or {}
        for n in (names if names is not None else self.cli_names()):
            self._opts[n].add_to(parser, **({"default": defaults[n]} if n in defaults else {}))

    def cli_names(self) -> list[str]:
        """The options that have a command-line flag."""
        return [n for n, o in self._opts.items() if o.flag != ""]


# ---------------------------------------------------------------------------------------------- WritePulse
@dataclass(frozen=True)
class WritePulse:
    """The export write pulse: ``auto`` (search width and amplitude cap for the least energy per synapse) or a
    fixed width ``width_ns`` (None: the write-verify config's own width). Text forms: ``"auto"``, ``"fixed"``,
    a width in ns (``"2.5"``)."""

    auto: bool = True
    width_ns: float | None = None

    MODES: ClassVar[tuple[str, str]] = ("auto", "fixed")

    def __post_init__(self) -> None:
        if self.auto and self.width_ns is not None:
            raise ValueError("--write-pulse: auto chooses the width; leave out --width-ns")

    @property
    def mode(self) -> str:
        return "auto" if self.auto else "fixed"

    @classmethod
    def parse(cls, value: Any, name: str = "--write-pulse") -> WritePulse:
        """A :class:`WritePulse` from ``"auto"``, ``"fixed"``, a width in ns (number or text) or a WritePulse;
        ValueError ``<name>: got …, expected auto or a width in ns``."""
        if isinstance(value, WritePulse):
            return value
        if value in cls.MODES:
            return cls(auto=value == "auto")
        try:
            width = float(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
        except ValueError:
            width = None
        if width is None:
            raise ValueError(f"{name}: got {value!r}, expected auto or a width in ns")
        return cls(auto=False, width_ns=WIDTH_NS.check(width, name))


def parse_threads(value: Any, name: str = "--threads") -> int | str:
    """The ``--threads`` value: ``"auto"`` or a whole number >= 0 (int or its text; 0 = all that
    NUMBA_NUM_THREADS allows); ValueError ``<name>: got …, expected auto or a whole number >= 0``."""
    if value == "auto":
        return "auto"
    n = value.strip() if isinstance(value, str) else value
    if isinstance(n, str) and n.isdigit():
        n = int(n)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"{name}: got {value!r}, expected auto or a whole number >= 0 (0 = all that "
                         "NUMBA_NUM_THREADS allows)")
    return int(n)


# ---------------------------------------------------------------------------------------------- the tables
#: largest learning rate (``--nu``, ``--nu-pre``): ν is the weight change per pairing at the rule's peak and
#: weights live in [0, 1], so ν ≥ 1 already saturates every update; beyond 10³ it is a typo
NU_MAX = 1e3

#: the networks ``spinsyn train --network`` trains: dc = Diehl & Cook 2015 (spinsyn.snn), conv = Mozafari et al. 2019
#: convolutional STDP with an R-STDP decision layer (spinsyn.snn.conv; issue 27), lc = Saunders et al. 2019 locally
#: connected network (spinsyn.snn.lc: the dc engine with an input mask and per-location inhibition; issue 27)
NETWORK_KINDS = ("dc", "conv", "lc")
#: the train options only a --network lc run reads (its geometry, spinsyn.snn.lc.LocalGeometry)
LC_OPTIONS = ("lc_kernel", "lc_stride", "lc_filters", "lc_crop")
#: the dc options a --network lc run does not read (its neuron count is --lc-filters x locations)
LC_UNREAD = ("neurons",)
#: the train options a --network conv run reads (spinsyn.snn.conv.run); every other one applies to dc only
CONV_OPTIONS = ("network_kind", "synapse", "n_train", "n_test", "seed", "data_dir", "dataset", "conv_epochs",
                "conv_config", "rule", "device_preset", "device_model", "device")
#: the datasets ``--dataset`` names: MNIST, and Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747), read
#: by the same IDX reader (the keys of spinsyn.mnist.DATASETS, listed here so that building a parser imports no numpy)
DATASET_NAMES = ("mnist", "fashion-mnist")
#: ``--dataset``: declared once here; ``spinsyn eval`` and ``export simulate`` add it with default None (the run's)
DATASET = Option("dataset", str, "mnist", "images to train and test on: mnist, or fashion-mnist (Xiao et al. 2017, "
                 "same IDX files and shapes; no embedded subset: spinsyn data fashion-mnist --download); --data-dir "
                 "and the lookup order then name a Fashion-MNIST folder", choices=DATASET_NAMES)

TRAIN_OPTIONS = OptionTable("train", [
    Option("network_kind", str, "dc", "network: dc = Diehl & Cook 2015; conv = convolutional STDP with an R-STDP "
           "decision layer (Mozafari et al. 2019; issue 27, in progress; docs/snn.md); lc = locally connected "
           "(Saunders et al. 2019: k x k input patches, inhibition among the filters of one location)",
           choices=NETWORK_KINDS,
           flag="--network"),
    Option("synapse", str, "ideal", "ideal | quantized:L | compound:N | dw:L"),
    Option("neurons", int, 100, "excitatory neurons", min=1),
    Option("n_train", int, 60000, "training images", min=1),
    Option("n_test", int, 10000, "test images", min=0),
    Option("n_assign", int, 10000, "training images for label assignment", min=1),
    Option("epochs", int, 1, "passes over the training images", min=1),
    Option("batch", int, 1, "images simulated in parallel", min=1),
    Option("batch_ramp", int, 0, "warm start: batch 1 for the first K images of the run, then --batch (0 = --batch "
           "from the start; measured worse at 400 neurons, docs/snn.md)", min=0, metavar="K"),
    Option("merge", str, "winner", "how a batch's weight changes combine (winner: per neuron, its strongest image)",
           choices=("winner", "sum", "winner-scaled")),
    Option("seed", int, 0, "RNG seed", min=0),
    Option("device", str, "auto", "torch device: auto | cpu | cuda[:i]"),
    Option("engine", str, "auto", "auto = numba on CPU, torch on CUDA", choices=("auto", "numba", "torch")),
    Option("data_dir", str, None, "MNIST folder (default: lookup order of spinsyn.mnist)"),
    DATASET,
    Option("device_preset", str, None, "synapse device preset, e.g. stt-mtj, sot-mtj (spinsyn device info; "
           "default: the synapse kind's)", metavar="PRESET"),
    Option("device_model", str, None, "synapse device file (spinsyn-device JSON, 'spinsyn device fit --out'): the "
           "levels and write physics of training and export come from it; instead of --device-preset (default: the "
           "device stored in the --rule file, else the synapse kind's preset)", metavar="DEVICE_JSON"),
    Option("device_params", dict, None, "dataclass field overrides K=V of the synapse device (preset or device file; "
           "spinsyn device info lists the fields), e.g. tmr0=0.7; on the command line --device-param K=V, repeatable",
           flag=""),
    Option("rule", str, None, "fitted bi-sigmoid rule (spinsyn-rule JSON), or a device sweep HDF5 (spinsyn device "
           "sweep) whose measured p_up(Δt) − p_down(Δt) is used directly; default: the published parameters",
           metavar="RULE_JSON|SWEEP_H5"),
    Option("rule_time_scale", float, 1.0, "trace rule: multiply the Δt axis of the --rule file's data by X (a "
           "window measured in µs, valid on 0..0.06 ms, used at the 1 ms network step: 1000); recorded in the run's "
           "config and metrics", min=0.0, closed="neither", metavar="X"),
    Option("learning_rule", str, "trace", "trace = bi-sigmoid trace rule, postpre = BindsNET PostPre STDP",
           choices=("trace", "postpre")),
    Option("nu", float, None, "post-spike learning rate (trace default: 0.001, compound 0.005, tuned on MNIST; "
           "postpre 0.01)", min=0.0, max=NU_MAX, metavar="NU_POST"),
    Option("nu_final", float, None, "learning rates decay linearly to FRAC of their start over the run (default: "
           "0.1 for compound, whose stochastic updates need annealing; 1 = constant for the others)",
           min=0.0, max=1.0, metavar="FRAC"),
    Option("soft_bound", bool, False, "trace rule: weight-dependent updates, ΔW>0 scaled by (1−w), ΔW<0 by w (for "
           "compound:N this is pulse physics: each MTJ in the other state switches with probability |ΔW|)"),
    Option("nu_pre", float, None, "postpre: pre-spike depression rate (default 1e-4)", min=0.0, max=NU_MAX),
    Option("rule_spread", float, 0.0, "trace rule: relative trial-to-trial spread of f", min=0.0),
    Option("rule_offset", float, None, "trace rule: depression offset (default 0, or 0.5 with --no-norm)",
           min=-1.0, max=1.0),
    Option("deterministic_rounding", bool, False, "quantized/dw: round to nearest level"),
    Option("compound_gain", float, None, "compound: ν→probability scale (default 1)", min=0.0, closed="neither"),
    Option("g_spread", float, None, "compound: lognormal σ of G_P/G_AP (default 0.05)", min=0.0, max=1.0),
    Option("read_noise_sigma", float, None, "compound: relative read noise σ of G at inference (default 0.02)",
           min=0.0, max=1.0, flag="--read-noise", metavar="SIGMA"),
    Option("input_preset", str, "bindsnet", "input statistics: bindsnet = 128 Hz max rate for 250 ms (BindsNET "
           "eth_mnist); diehl-cook = 63.75 Hz (pixel/4) for 350 ms, as in Diehl & Cook 2015",
           choices=("bindsnet", "diehl-cook"), flag="--input"),
    Option("intensity", float, None, "rate of a white pixel (overrides --input)", unit="Hz", min=0.0,
           closed="neither", metavar="HZ"),
    Option("time_ms", float, None, "presentation per image (overrides --input; at least one time step)", unit="ms",
           min=0.0, closed="neither"),
    Option("w_inh", float, None, "inhibitory -> excitatory weight (default 120, as BindsNET)", unit="mV", min=0.0,
           metavar="MV"),
    Option("norm", bool, True, "no per-neuron weight normalisation (what a chip can do)", flag="--no-norm"),
    Option("shuffle", bool, True, "present training images in file order", flag="--no-shuffle"),
    Option("min_spikes", int, 0, "inference: re-show an image at +32 Hz while it evokes fewer spikes (Diehl & Cook; "
           "0 = off, as BindsNET)", min=0),
    Option("train_min_spikes", int, 0, "training: discard and re-show an image at +32 Hz (up to 5 times) while it "
           "evokes fewer than K spikes, as Diehl & Cook did (numba engine; 0 = off, as BindsNET)", min=0,
           metavar="K"),
    Option("checkpoint_every", int, 5000, "images between checkpoints", min=1),
    Option("checkpoint_weights", str, "float64", "ideal synapses: dtype of the weights in the final checkpoint "
           "(float16: 4x smaller, relative error <= 2^-11; leveled synapses always store exact level indices)",
           choices=("float64", "float32", "float16")),
    Option("threads", str, "auto", "CPU threads of the numba engine: auto = a second thread only when a core is "
           "free at the start of training (spinsyn.snn.threads); N pins it (0 = all that NUMBA_NUM_THREADS allows); "
           "images of a batch and of evaluation run in parallel, with the same results at any thread count",
           metavar="auto|N"),
    Option("plots", bool, True, "do not write the PNG figures (saves ~1.3 s)", flag="--no-plots"),
    Option("lc_kernel", int, 16, "--network lc: side of each location's input patch (Saunders et al. 2019 scripts: "
           "16)", unit="pixels", min=1, max=28, metavar="K"),
    Option("lc_stride", int, 2, "--network lc: step between neighbouring patches (scripts: 2)", unit="pixels", min=1,
           max=28, metavar="S"),
    Option("lc_filters", int, 25, "--network lc: neurons (filters) per location; neurons = filters x locations "
           "(scripts: 25)", min=1, metavar="F"),
    Option("lc_crop", int, 4, "--network lc: border pixels no patch covers; patches tile the central (28 - 2C)^2 "
           "pixels (scripts: 4, i.e. 20 x 20 images)", unit="pixels", min=0, max=13, metavar="C"),
    Option("conv_epochs", str, "2,4,680", "--network conv: passes over the training images of conv layer 1 (STDP), "
           "conv layer 2 (STDP) and the decision layer (R-STDP); default: SpykeTorch MozafariDeep.py (commit aa302c7)",
           metavar="E1,E2,E3"),
    Option("conv_config", str, "{}", "--network conv: hyperparameters other than the passes, as a JSON object of "
           "spinsyn.snn.conv.ConvConfig fields (inline, or the path of a .json file holding one), e.g. "
           "'{\"lr_double_every\": 50}'; fields left out keep their defaults (SpykeTorch MozafariDeep.py)",
           metavar="JSON"),
], aliases={"read_noise": "read_noise_sigma"})

#: largest write pulse width (ns): 1 ms, far beyond any MTJ write
WIDTH_NS = Option("width_ns", float, None, "write pulse width", unit="ns", min=0.0, max=1e6, closed="right")

#: technology-node presets of spinsyn.hw_export.circuit.tech (tests/hw_export/test_circuit_config.py checks them)
TECH_NODE_NAMES = ("22nm", "28nm", "32nm", "40nm", "45nm", "65nm")

EXPORT_OPTIONS = OptionTable("export", [
    Option("mapping", str, "unipolar", "one device per weight, or a G+/G- pair", choices=("unipolar", "differential")),
    WIDTH_NS,
    Option("v_max", float, None, "largest write amplitude (at least the write-verify v_min_V)", unit="V", max=100.0,
           closed="right"),
    Option("v_step", float, None, "ISPP amplitude step", unit="V", min=0.0, max=10.0),
    Option("max_pulses", int, None, "write-verify cap per device", min=1, max=65535),
    Option("write_pulse", str, None, "write pulse (spinsyn.options.WritePulse): 'auto' (default) searches width "
           "and amplitude cap for the least energy per synapse at write errors and half-select disturb <= 1e-3; a "
           "number fixes the width in ns (= --width-ns) with the amplitude from --v-max; 'fixed' keeps the "
           "write-verify default width", metavar="auto|WIDTH_NS"),
    Option("tolerance_levels", float, 0.4, "verify band half-width in level steps", min=0.0, max=10.0,
           closed="right", flag=""),
    Option("half_select", str, "V/2", "half-select scheme", choices=("V/2", "V/3")),
    Option("seed", int, None, "RNG seed (export default 0, simulate default 1)", min=0, max=2**63 - 1),
    Option("tile", str, "128x128", "crossbar tile size ROWSxCOLS (each side as tile_side)", metavar="ROWSxCOLS"),
    Option("tile_side", int, 128, "rows or columns of one crossbar tile", min=1, max=65535, flag=""),
    Option("circuit", bool, False, "model each tile as a circuit: program with the voltage that reaches each cell "
           "(line and driver resistance, half-selected currents) and read through line resistance and sneak paths "
           "(spinsyn.hw_export.circuit)"),
    Option("tech_node", str, "28nm", "technology node of the circuit's wires, transistors and ADCs (NeuroSim "
           "parameters; 28 and 40 nm interpolated)", choices=TECH_NODE_NAMES),
    Option("access", str, "0T1R", "cell access device of the circuit: none (cross-point) or one transistor per MTJ",
           choices=("0T1R", "1T1R")),
    Option("wire_ohm", float, None, "word/bit-line resistance per synapse pitch (default: Cu at --tech-node)",
           unit="ohm", min=0.0, max=1e6),
    Option("driver_ohm", float, None, "word-line driver output resistance (default: a 100 um NMOS at --tech-node)",
           unit="ohm", min=0.0, max=1e9),
    Option("sense_ohm", float, None, "bit-line driver / sense input resistance (default: as --driver-ohm)",
           unit="ohm", min=0.0, max=1e9),
    Option("compensate", bool, True, "do not raise the applied write voltage to make up for the circuit's drop "
           "(V / eta, capped at the driver's maximum)", flag="--no-compensate"),
    Option("column_gain", bool, True, "do not divide each tile column's sensed current by its cells' mean read "
           "attenuation (a digital gain per sense amplifier)", flag="--no-column-gain"),
    Option("adc_bits", int, None, "simulate: digitise every tile's column sums at each time step with ADCs of this "
           "many bits (full scale calibrated on training images; default: exact sums)", min=1, max=16),
    Option("adc_offset_lsb", float, 0.0, "simulate: static offset spread of each ADC (sigma)", unit="LSB", min=0.0,
           max=1e3),
    Option("adc_noise_lsb", float, 0.0, "simulate: noise of each conversion (sigma)", unit="LSB", min=0.0, max=1e3),
])


SWEEP_OPTIONS = OptionTable("sweep", [
    Option("n_mtj", int, 8, "MTJs in the compound synapse", min=1, max=256),
    Option("trials", int, 20, "Monte-Carlo trials per Δt", min=1, max=10**6),
    Option("engine", str, "spice", "sweep engine: ngspice, or the reference Python model",
           choices=("spice", "reference")),
    Option("sigma_pct", float, 0.0, "device-to-device spread on t_ox, t_fl, TMR0 and area", unit="%", min=0.0,
           max=30.0, closed="left"),
    Option("jobs", int, None, "parallel ngspice processes (device sweep default: CPU count)", min=1),
    Option("seed", int, 0, "sweep seed", min=0),
])


def parse_device_params(items: Iterable[str] | None, name: str = "--device-param") -> dict[str, Any] | None:
    """``["tmr0=0.7", "n_mtj=4"]`` → ``{"tmr0": 0.7, "n_mtj": 4}`` (values read as JSON numbers, booleans or
    null, else kept as text); None when ``items`` is empty. ValueError ``<name>: …`` for an item without ``=``."""
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, text = str(item).partition("=")
        if not sep or not key.strip().isidentifier():
            raise ValueError(f"{name}: got {item!r}; expected K=V with K a device field name (spinsyn device info)")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        out[key.strip()] = value if isinstance(value, (int, float, str, bool)) else text
    return out or None
