"""``spinsyn export``: weights -> chip directory; ``export verify CHIP_DIR``; ``export simulate CHIP_DIR``;
``export nir RUN_DIR``.

argparse cannot mix a sub-command with a free positional path, so the first positional of ``export`` is read by
:class:`_SourceOrAction` (a sub-command action): the words ``verify``, ``simulate`` and ``nir`` select their own
parser (own options, own ``--help``); anything else is a run directory or a weight file to export, whose options
are ``export``'s own (write ``./verify`` to export a file literally named ``verify``).

An snn run brings its synapse and device (``spinsyn.hw_export.export_run``): ``--synapse`` is optional there, and
another synapse, ``--device`` or ``--device-param`` need ``--requantize``. Weight files need ``--synapse``.
Numeric options are checked with ``spinsyn.validation`` (finite, in range; the message names the option).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Any

from spinsyn.options import EXPORT_OPTIONS, WIDTH_NS, WritePulse
from spinsyn.validation import check_scalar

ACTIONS = ("verify", "simulate", "nir")

_EXPORT_USAGE = (
    "spinsyn export RUN_DIR --out CHIP_DIR   (the synapse and device come from the run)\n"
    "spinsyn export WEIGHTS.npy|.pt --synapse compound:8 --out CHIP_DIR   (write chip files)\n"
    "spinsyn export verify CHIP_DIR     (schema, ranges, shapes, checksums; see 'export verify --help')\n"
    "spinsyn export simulate CHIP_DIR   (program on the device model, evaluate accuracy; 'export simulate --help')\n"
    "spinsyn export nir RUN_DIR --out net.nir   (the trained network as a NIR graph; 'export nir --help')\n"
    "The first positional is an action word (verify/simulate/nir) or the source to export\n"
    "(write ./verify to export a file literally named 'verify'). The options below are the export's own."
)


class _SourceOrAction(argparse._SubParsersAction):  # type: ignore[type-arg]
    """The first positional of ``export``: an action word (``verify``/``simulate``/``nir``, each with its own parser
    and help) or the run directory / weight file to export, whose remaining arguments :attr:`source_parser` reads
    into the same namespace (so export options given before the source are kept)."""

    source_parser: argparse.ArgumentParser

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.words: dict[str, argparse.ArgumentParser] = {}
        self.choices = None  # type: ignore[assignment]  # any first positional: an action word, else the source

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        """An action word and its own parser."""
        self.words[name] = super().add_parser(name, **kwargs)
        return self.words[name]

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        if values[0] in self.words:
            super().__call__(parser, namespace, values, option_string)
            return
        namespace.source = values[0]
        _, extra = self.source_parser.parse_known_args(list(values[1:]), namespace)
        if extra:  # left for the top-level parser to report, as argparse does for a sub-command
            unrecognized = getattr(argparse, "_UNRECOGNIZED_ARGS_ATTR", "_unrecognized_args")
            vars(namespace).setdefault(unrecognized, []).extend(extra)


def register(subparsers: Any) -> None:
    """Add the ``export`` command to the ``spinsyn`` CLI: ``export SOURCE`` with its options, and the action words
    ``verify``, ``simulate`` and ``nir``, each a parser with only its own options."""
    p = subparsers.add_parser(
        "export",
        help="export weights to chip programming files; 'export verify DIR'; 'export simulate DIR'; 'export nir RUN'",
        description=_EXPORT_USAGE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    words = p.add_subparsers(action=_SourceOrAction, dest="source", required=True,
                             metavar="RUN_DIR|WEIGHTS|verify|simulate|nir",
                             help="snn run directory (--network dc or conv) or .npy/.pt weight matrix (inputs x "
                                  "outputs) to export, or an action word:")
    _add_export_options(p)
    source = argparse.ArgumentParser(prog=p.prog, add_help=False)
    source.add_argument("chip_dir", nargs="?", help=argparse.SUPPRESS)  # an error: export writes to --out
    _add_export_options(source)
    words.source_parser = source
    _register_verify(words)
    _register_simulate(words)
    _register_nir(words)
    p.set_defaults(func=handler)


def _add_export_options(p: argparse.ArgumentParser) -> None:
    """The options of ``export SOURCE`` (writing a chip folder)."""
    g = p.add_argument_group("export options")
    g.add_argument("--out", default=None, metavar="CHIP_DIR", help="output chip directory (required)")
    g.add_argument("--synapse", help="compound:N | dw:L | quantized:L: required for weight files; a run brings its "
                   "own (another one needs --requantize; ideal runs default to quantized:32)")
    g.add_argument("--requantize", action="store_true",
                   help="runs: quantise the trained weights onto --synapse / --device instead of programming the "
                        "trained device states")
    EXPORT_OPTIONS.add_arguments(g, ("tile",))
    EXPORT_OPTIONS.add_arguments(g, ("mapping",))
    g.add_argument("--tolerance", default="0.4",
                   help="verify band half-width: in level steps (e.g. 0.4, the default) or absolute with a "
                        "unit suffix S/mS/uS (e.g. 2uS)")
    g.add_argument("--device", default=None, help="device preset (spinsyn.devices.synapse_device; default: "
                   "the run's device, else compound for compound:N and dw-mtj otherwise); runs need --requantize")
    g.add_argument("--device-param", action="append", default=[], metavar="KEY=VALUE",
                   help="override a device model field (repeatable)")
    g.add_argument("--w-range", default=None, metavar="LO,HI",
                   help="weight range mapped onto [g_min, g_max] (default: [0,1] for runs, data range otherwise)")
    g.add_argument("--key", default=None, help="tensor name inside a .pt dict")
    EXPORT_OPTIONS.add_arguments(g, ("width_ns", "v_max", "v_step", "max_pulses", "write_pulse"))
    g.add_argument("--deployment", default="10y", metavar="DURATION",
                   help="how long the chip must hold its weights (units s, min, h, d, y; default 10y): a warning "
                        "when the device's retention is shorter")
    EXPORT_OPTIONS.add_arguments(g, ("half_select",))
    g.add_argument("--no-csv", action="store_true", help="skip the per-tile CSV views")
    g.add_argument("--overwrite", action="store_true",
                   help="replace an existing CHIP_DIR if it is a spinsyn chip folder (never anything else)")
    EXPORT_OPTIONS.add_arguments(g, ("seed",))
    _add_circuit_options(p, CIRCUIT_FLAGS)


#: the circuit options (spinsyn.options.EXPORT_OPTIONS) of export and of simulate (its programming is the chip's)
CIRCUIT_FLAGS = ("circuit", "tech_node", "access", "wire_ohm", "driver_ohm", "sense_ohm", "column_gain",
                 "compensate")


def _add_circuit_options(p: argparse.ArgumentParser, names: tuple[str, ...]) -> None:
    g = p.add_argument_group("circuit options (spinsyn.hw_export.circuit; the others apply with --circuit)")
    EXPORT_OPTIONS.add_arguments(g, names)


def circuit_of(args: argparse.Namespace) -> Any:
    """The :class:`~spinsyn.hw_export.circuit.config.CircuitConfig` of ``--circuit`` and its options (each checked
    by its entry in ``spinsyn.options.EXPORT_OPTIONS``), None without ``--circuit``; a circuit option without it
    fails."""
    o = EXPORT_OPTIONS
    given = {n: getattr(args, n) for n in CIRCUIT_FLAGS[1:] if hasattr(args, n)}
    if not args.circuit:
        for n, v in given.items():
            _fail_if(v != o[n].default, f"{o[n].cli}: applies with --circuit only")
        return None
    from .circuit.config import CircuitConfig  # lazy: startup

    vals = {n: o[n].check(v) for n, v in given.items()}
    return CircuitConfig(tech_node=vals["tech_node"], access=vals["access"], r_wire_ohm=vals["wire_ohm"],
                         r_driver_ohm=vals["driver_ohm"], r_sense_ohm=vals["sense_ohm"],
                         column_gain=vals["column_gain"], compensate=vals.get("compensate", True))


def _register_verify(words: Any) -> None:
    v = words.add_parser("verify", help="check a chip folder: schema, ranges, shapes, checksums",
                         description="spinsyn export verify CHIP_DIR: check a chip folder (schema, ranges, shapes, "
                                     "sha256 checksums of every file manifest.json lists). Exit 0 when it passes.")
    v.add_argument("chip_dir", nargs="?", metavar="CHIP_DIR", help="chip directory written by 'spinsyn export'")
    _add_allow_extra(v)
    v.set_defaults(func=handler, source="verify")


def _add_allow_extra(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-extra", action="store_true",
                   help="accept files in CHIP_DIR that manifest.json does not list (default: they fail)")


def _register_simulate(words: Any) -> None:
    s = words.add_parser("simulate", help="program a chip folder on the device model and evaluate MNIST accuracy",
                         description="spinsyn export simulate CHIP_DIR: verify the chip, program it on the device "
                                     "model (write-verify replay, half-select disturb, read noise) and evaluate "
                                     "MNIST accuracy with a table of loss terms; --after ages it.")
    s.add_argument("chip_dir", nargs="?", metavar="CHIP_DIR", help="chip directory written by 'spinsyn export'")
    s.add_argument("--n-test", type=int, default=None, help="MNIST test images (default: all available)")
    s.add_argument("--data-dir", default=None, help="MNIST folder (default: spinsyn lookup order)")
    s.add_argument("--run", default=None, help="snn run directory if it moved since export")
    s.add_argument("--eval-device", default="auto", help="torch device for evaluate (default auto)")
    s.add_argument("--no-disturb", action="store_true", help="do not sample half-select disturb")
    s.add_argument("--json", default=None, help="also write the simulate result to this JSON file")
    s.add_argument("--after", default=None, metavar="T1,T2,...",
                   help="age the programmed chip by zero-bias relaxation to each time (units ms, s, min, h, d, y; "
                        "e.g. 0,1s,1h,1d,10y) and report accuracy and level error at each")
    s.add_argument("--plot", default=None, metavar="DIR",
                   help="folder for accuracy_vs_time.png with --after (default: the folder of --json; never the "
                        "chip folder)")
    s.add_argument("--overwrite", action="store_true",
                   help="--json / the plot: replace an existing file that is not a spinsyn file of that kind (never "
                        "an input, nor a file inside a run, chip, study or pipeline folder)")
    _add_allow_extra(s)
    EXPORT_OPTIONS.add_arguments(s, ("seed",))
    _add_circuit_options(s, CIRCUIT_FLAGS[:-1])
    g = s.add_argument_group("column ADC options (the round trip's adc condition)")
    EXPORT_OPTIONS.add_arguments(g, ("adc_bits", "adc_offset_lsb", "adc_noise_lsb"))
    s.set_defaults(func=handler, source="simulate")


def _register_nir(words: Any) -> None:
    n = words.add_parser("nir", help="write a trained snn run as a NIR graph",
                         description="spinsyn export nir RUN_DIR --out net.nir: the trained network as a NIR graph "
                                     "(Neuromorphic Intermediate Representation; Norse, snnTorch, Sinabs, Rockpool, "
                                     "Lava-DL, ... read it).")
    n.add_argument("chip_dir", nargs="?", metavar="RUN_DIR",
                   help="run directory ('spinsyn train --out', --network dc or conv)")
    n.add_argument("--out", default=None, metavar="FILE", help="output .nir file (required)")
    n.add_argument("--overwrite", action="store_true",
                   help="replace an existing --out file that is not a spinsyn file of that kind (never an input, nor "
                        "a file inside a run, chip, study or pipeline folder)")
    n.set_defaults(func=handler, source="nir")


def _fail_if(cond: bool, msg: str) -> None:
    if cond:
        raise ValueError(msg)


def handler(args: argparse.Namespace) -> int:
    """Dispatch ``export`` / ``export verify`` / ``export simulate``."""
    if args.source in ACTIONS:
        what = "RUN_DIR" if args.source == "nir" else "CHIP_DIR"
        _fail_if(args.chip_dir is None, f"export {args.source}: missing {what}")
        if args.source == "nir":
            return _nir(args)
        return _verify(args) if args.source == "verify" else _simulate(args)
    _fail_if(args.chip_dir is not None, f"export: unexpected second positional {args.chip_dir!r} "
             "(use --out CHIP_DIR; actions are 'verify', 'simulate' and 'nir')")
    return _export(args)


def _parse_params(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for it in items:
        k, sep, v = it.partition("=")
        _fail_if(not sep or not k, f"--device-param: got {it!r}, expected KEY=VALUE")
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
        _check_param_value(k, out[k])
    return out


def _check_param_value(key: str, value: Any) -> None:
    """A field that is a number in the device presets takes a finite number (not text, NaN or inf)."""
    from spinsyn.devices import PRESETS, get_model  # lazy: startup

    numeric = {f.name for name in PRESETS for m in (get_model(name),) for f in dataclasses.fields(m)
               if isinstance(getattr(m, f.name), (int, float)) and not isinstance(getattr(m, f.name), bool)}
    if key in numeric and (isinstance(value, bool) or not isinstance(value, (int, float))
                           or not math.isfinite(value)):
        raise ValueError(f"--device-param: {key}={value!r}: expected a finite number")


def parse_tolerance(text: str) -> dict[str, float]:
    """``"0.4"`` -> tolerance_levels in (0, 10]; ``"2uS"``, ``"0.5mS"``, ``"1e-6S"`` -> tolerance_S > 0."""
    t = str(text).strip()
    unit = next(((suffix, f) for suffix, f in (("uS", 1e-6), ("mS", 1e-3), ("S", 1.0)) if t.endswith(suffix)), None)
    number = t[: -len(unit[0])] if unit else t
    try:
        v = float(number)
    except ValueError:
        raise ValueError(f"--tolerance: got {text!r}, expected level steps in (0, 10] (e.g. 0.4) or a conductance "
                         "with unit (e.g. 2uS)") from None
    if unit:
        return {"tolerance_S": check_scalar(v * unit[1], "--tolerance", float, min_val=0.0,
                                            include_boundaries="neither")}
    return {"tolerance_levels": EXPORT_OPTIONS["tolerance_levels"].check(v, "--tolerance")}


def parse_w_range(text: str | None) -> tuple[float, float] | None:
    """``"LO,HI"`` -> (lo, hi), two finite numbers with lo < hi."""
    if not text:
        return None
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError:
        raise ValueError(f"--w-range: got {text!r}, expected LO,HI") from None
    check_scalar(lo, "--w-range", float)
    check_scalar(hi, "--w-range", float, min_val=lo, include_boundaries="neither")
    return lo, hi


def write_pulse_of(args: argparse.Namespace) -> WritePulse:
    """``--write-pulse`` (``auto``, ``fixed`` or a width in ns) and ``--width-ns`` as one :class:`WritePulse`;
    ValueError when they contradict each other."""
    wp, width = args.write_pulse, args.width_ns
    if wp in (None, "auto"):
        _fail_if(wp == "auto" and width is not None, "--write-pulse: auto chooses the width; leave out --width-ns")
        return WritePulse(auto=width is None, width_ns=None if width is None else WIDTH_NS.check(width))
    _fail_if(width is not None, "--write-pulse: a width and --width-ns given; give one")
    return WritePulse.parse(wp)


def _write_verify(args: argparse.Namespace, pulse: WritePulse) -> Any:
    """The write-verify config from the options, each checked by its entry in ``spinsyn.options.EXPORT_OPTIONS``
    (finite, in range); ``pulse``'s fixed width, if any."""
    from .program import WriteVerifyConfig  # lazy: startup

    o = EXPORT_OPTIONS
    over: dict[str, Any] = parse_tolerance(args.tolerance)
    if pulse.width_ns is not None:
        over["width_ns"] = pulse.width_ns
    if args.v_max is not None:  # the lower end is the write-verify config's own v_min_V
        over["v_max_V"] = check_scalar(args.v_max, o["v_max"].cli, float, min_val=WriteVerifyConfig.v_min_V,
                                       max_val=o["v_max"].max, include_boundaries=o["v_max"].closed)
    if args.v_step is not None:
        over["v_step_V"] = o["v_step"].check(args.v_step)
    if args.max_pulses is not None:
        over["max_pulses"] = o["max_pulses"].check(args.max_pulses)
    return dataclasses.replace(WriteVerifyConfig(), half_select=args.half_select, **over)


def _deployment(text: str) -> float:
    from .ageing import parse_duration  # lazy: startup

    d = parse_duration(text, "--deployment")
    _fail_if(d <= 0, f"--deployment: got {text!r}, expected a duration > 0")
    return d


def _export(args: argparse.Namespace) -> int:
    """Export under :func:`~spinsyn.hw_export.staging.interrupt_guard`: SIGINT exits 130 and SIGTERM 143 with no
    chip and no temporary folder, unless the chip was already complete (then the signal is ignored)."""
    from spinsyn.devices import SynapseSpec  # lazy: startup
    from spinsyn.locks import check_unlocked, folder_lock  # lazy: startup
    from spinsyn.validation import check_writable_dir  # lazy: startup

    from .staging import check_out_dir, interrupt_guard  # lazy: startup
    from .tiling import parse_tile  # lazy: startup

    _fail_if(args.out is None, "export: --out CHIP_DIR is required")
    # every option first (nothing created yet), then the output folder, then the work
    spec = SynapseSpec.parse(args.synapse) if args.synapse is not None else None
    tile = parse_tile(args.tile)
    seed = 0 if args.seed is None else EXPORT_OPTIONS["seed"].check(args.seed)
    pulse = write_pulse_of(args)
    opts = {"tile": tile, "mapping": args.mapping, "seed": seed,
            "overwrite": args.overwrite, "write_verify": _write_verify(args, pulse),
            "w_range": parse_w_range(args.w_range), "device": args.device,
            "device_params": _parse_params(args.device_param), "csv": not args.no_csv, "write_pulse": pulse.mode,
            "deployment_s": _deployment(args.deployment), "circuit": circuit_of(args)}
    check_writable_dir(args.out, "--out")  # a file, or a folder that cannot be written, fails here
    check_unlocked(args.out, "--out")
    check_out_dir(Path(args.out), overwrite=args.overwrite, sources=(Path(args.source),))
    with interrupt_guard(ignore_after=getattr(args, "console_script", False)), folder_lock(args.out, "--out"):
        return _export_guarded(args, spec, tile, opts)


def _export_guarded(args: argparse.Namespace, spec: Any, tile: tuple[int, int], opts: dict[str, Any]) -> int:
    from .convchip import is_conv_run  # lazy: startup
    from .inputs import load_weights  # lazy: startup

    if is_conv_run(args.source):  # a conv run: one layer chip per conv layer and conv_chip.json
        return _export_conv(args, spec, tile, opts)
    src = load_weights(args.source, key=args.key)
    if src.kind == "run":
        from .runs import export_run  # lazy: startup

        assert src.run_dir is not None  # every run source carries its folder
        res = export_run(src.run_dir, Path(args.out), synapse=spec, requantize=args.requantize, **opts)
    else:
        res = _export_file(src, spec, args, opts)
    _print_export(res, tile, args.mapping)
    return 0


def _export_conv(args: argparse.Namespace, spec: Any, tile: tuple[int, int], opts: dict[str, Any]) -> int:
    """``export CONV_RUN --out CHIP``: :func:`spinsyn.hw_export.convchip.export_conv_run`, one summary per layer."""
    from .convchip import export_conv_run  # lazy: startup

    _fail_if(args.key is not None, "--key: applies to .pt weight files only")
    res = export_conv_run(args.source, Path(args.out), synapse=spec, requantize=args.requantize, **opts)
    for e, r in zip(res.manifest["layers"], res.layers):
        print(f"{e['name']}: kernels {tuple(e['kernel_shape'])} -> matrix {e['matrix_shape'][0]}x"
              f"{e['matrix_shape'][1]} (kernel-to-column); {e['positions']} output positions, "
              f"{e['reads_per_image']} crossbar reads per image")
        _print_export(r, tile, args.mapping)
    print(f"conv chip {res.out_dir}: {len(res.layers)} layer chips and conv_chip.json; "
          f"{res.manifest['reads_per_image']} crossbar reads per image in all")
    return 0


def _export_file(src: Any, spec: Any, args: argparse.Namespace, opts: dict[str, Any]) -> Any:
    from .export import ExportConfig, export_chip  # lazy: startup

    _fail_if(spec is None, f"export: --synapse is required for a weight file ({src.path.name}): compound:N, dw:L "
             "or quantized:L; snn runs bring their own")
    _fail_if(args.requantize, "--requantize: applies to snn runs only (a weight file is always quantised)")
    tile = opts["tile"]
    cfg = ExportConfig(synapse=spec, mapping=opts["mapping"], tile_rows=tile[0], tile_cols=tile[1],
                       device=opts["device"], device_params=opts["device_params"], w_range=opts["w_range"],
                       write_verify=opts["write_verify"], seed=opts["seed"], csv=opts["csv"],
                       write_pulse=opts["write_pulse"], deployment_s=opts["deployment_s"], circuit=opts["circuit"])
    return export_chip(src.w, cfg, Path(args.out), source=src.record(), overwrite=opts["overwrite"])


def _print_export(res: Any, tile: tuple[int, int], mapping: str) -> None:
    s, rep = res.report["summary"], res.report
    print(f"exported {s['synapses']} synapses ({s['devices']} devices, {rep['synapse']}, {mapping}) onto "
          f"{s['tiles']} tiles of {tile[0]}x{tile[1]} -> {res.out_dir}")
    print(f"  levels from {rep['levels_from']}")
    for note in rep.get("notes", []):
        print(f"  note: {note}")
    print(f"  pulses/device mean {s['pulses_per_device']['mean']:.2f} max {s['pulses_per_device']['max']:.0f}; "
          f"failed {s['failed']} ({100 * s['failed_fraction']:.3f}%); inside band {s['inside_band']}")
    print(f"  programming time {s['time_parallel_tiles_s'] * 1e3:.3f} ms (tiles in parallel), "
          f"energy {s['energy_total_J'] * 1e6:.3f} uJ; half-select ({s['disturb_risk']['scheme']}) risk "
          f"mean {s['disturb_risk']['mean']:.3g} max {s['disturb_risk']['max']:.3g} {s['disturb_risk']['unit']}, "
          f"cells over 1e-3: {s['disturb_risk']['cells_over_1e-3']}")
    _print_per_exposure(s["disturb_risk"])
    wp = rep["write_pulse"]
    print(f"  write pulse ({wp['mode']}): {wp['width_ns']:g} ns, amplitudes <= {wp['v_max_V']:g} V; per synapse "
          f"{s['energy_per_synapse_J'] * 1e12:.1f} pJ and {s['time_per_synapse_serial_s'] * 1e9:.1f} ns (serial)")
    _print_retention(rep["retention"])
    if "circuit" in s:
        _print_export_circuit(s["circuit"])
    print(f"  took {res.timings_s['total']:.2f} s")
    for w in rep["warnings"]:
        print(f"spinsyn: warning: {w}", file=sys.stderr)


def _print_export_circuit(c: dict[str, Any]) -> None:
    cfg, r, p = c["config"], c["config"]["resolved"], c["programming"]
    print(f"  circuit {cfg['tech_node']} {cfg['access']}: wire {r['r_wire_ohm']:.3g} ohm/synapse, driver "
          f"{r['r_driver_ohm']:.3g} ohm, sense {r['r_sense_ohm']:.3g} ohm; write share eta mean {c['eta']['mean']:.3f} "
          f"min {c['eta']['min']:.3f} at {c['v_write_nominal_V']:.3g} V; "
          f"{'compensated up to ' + format(cfg['v_driver_max_V'], 'g') + ' V' if c['compensated'] else 'uncompensated'}"
          f", {c['unreachable']} devices unreachable; programming {p['energy_J']['total'] * 1e6:.3f} uJ, "
          f"{p['latency_s']['total'] * 1e3:.3f} ms, tile area {p['area_um2']['total'] * 1e-6:.4f} mm^2 in all")


def _print_per_exposure(d: dict[str, Any]) -> None:
    pe = d.get("per_exposure") or {}
    if "to_P_at_max" not in pe:
        return
    cells = d.get("expected_disturbed_cells")
    print(f"  half-select per exposure (per MTJ, at {pe['v_half_select_max_V']:g} V): to P {pe['to_P_at_max']:.2g}, "
          f"to AP {pe['to_AP_at_max']:.2g}; exposures per cell mean {pe['exposures_per_cell']['mean']:.0f} max "
          f"{pe['exposures_per_cell']['max']:.0f}; expected disturbed cells "
          f"{'n/a' if cells is None else f'{cells:.3g}'}")


def _print_retention(r: dict[str, Any]) -> None:
    from .ageing import format_duration  # lazy: startup

    if r["retention_s"] is None:
        print(f"  retention: {r['model']}")
        return
    print(f"  retention {format_duration(r['retention_s'])} (zero-bias relaxation of one MTJ): "
          f"{100 * r['flip_probability_at_deployment']:.3g} % of the MTJs flip within the deployment "
          f"({format_duration(r['deployment_s'])}); refresh every {format_duration(r['refresh_interval_s'])}")


def _nir(args: argparse.Namespace) -> int:
    """``export nir RUN_DIR --out FILE``: the trained network as a NIR graph (``spinsyn.snn.export_nir``)."""
    from spinsyn.snn import export_nir  # lazy: startup

    _fail_if(args.out is None, "export nir: --out FILE is required")
    r = export_nir(args.chip_dir, args.out, overwrite=args.overwrite)  # output policy checked first
    print(f"wrote {r['out']}: NIR graph of {r['neurons']} neurons ({', '.join(r['nodes'])}; {r['edges']} edges)")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from .chipfile import verify_chip  # lazy: startup
    from .convchip import is_conv_chip  # lazy: startup

    if is_conv_chip(args.chip_dir):
        return _verify_conv(args)
    s = verify_chip(Path(args.chip_dir), allow_extra=args.allow_extra)
    print(f"{args.chip_dir}: OK ({s['files_checked']} files, {s['n_tiles']} tiles of {s['tile_shape'][0]}x"
          f"{s['tile_shape'][1]}, {s['n_devices']} devices, {s['n_schedule_rows']} schedule rows, {s['synapse']})")
    if s["unlisted_files"]:
        print(f"  note: files not in manifest.json (accepted with --allow-extra): {', '.join(s['unlisted_files'])}")
    return 0


def _verify_conv(args: argparse.Namespace) -> int:
    """``export verify CONV_CHIP``: every problem on a line of its own (``spinsyn: error: ...``, exit 2)."""
    from .convchip import ConvChipError, verify_conv_chip  # lazy: startup

    try:
        s = verify_conv_chip(Path(args.chip_dir), allow_extra=args.allow_extra)
    except ConvChipError as exc:
        for p in exc.problems[:-1]:
            print(f"spinsyn: error: {p}", file=sys.stderr)
        raise ConvChipError(exc.problems[-1:]) from None
    layers = ", ".join(f"{e['name']} {e['matrix_shape'][0]}x{e['matrix_shape'][1]}" for e in s["layers"])
    print(f"{args.chip_dir}: OK (conv chip, {s['synapse']}: {layers}; {s['reads_per_image']} crossbar reads per "
          "image)")
    return 0


#: ``export simulate`` options a conv chip refuses (option, attribute, its default)
CONV_REFUSED = (("--after", "after", None), ("--plot", "plot", None), ("--adc-bits", "adc_bits", None),
                ("--adc-offset-lsb", "adc_offset_lsb", 0.0), ("--adc-noise-lsb", "adc_noise_lsb", 0.0),
                ("--eval-device", "eval_device", "auto"))


def _simulate_conv(args: argparse.Namespace, seed: int) -> int:
    """``export simulate CONV_CHIP``: :func:`spinsyn.hw_export.convsim.simulate_conv_chip`."""
    from spinsyn.fileio import write_json  # lazy: startup

    from .convsim import simulate_conv_chip  # lazy: startup

    for opt, attr, default in CONV_REFUSED:
        _fail_if(getattr(args, attr, default) != default, f"{opt}: not modelled for conv chips (issue 27); "
                 "leave it out")
    r = simulate_conv_chip(Path(args.chip_dir), seed=seed, n_test=args.n_test, data_dir=args.data_dir,
                           run_dir=args.run, disturb=not args.no_disturb, allow_extra=args.allow_extra,
                           circuit=circuit_of(args))
    for lay in r["layers"]:
        p = lay["programming"]
        print(f"{lay['name']}: programmed {p['devices']} devices (seed {lay['seed']}): {p['pulses_replayed']} "
              f"scheduled pulses replayed, {p['extra_pulses']} extra, {p['failed']} failed; inside band "
              f"{100 * p['inside_band_after_disturb']:.3f}% after {p['half_select']} disturb; |error| mean "
              f"{p['abs_error_levels_mean']:.4f} levels")
    _print_round_trip(r)
    if args.json:
        from .roundtrip import SIMULATION_FORMAT, SIMULATION_VERSION  # lazy: startup

        write_json(args.json, r, fmt=SIMULATION_FORMAT, version=SIMULATION_VERSION, seed=seed)
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from spinsyn.fileio import write_json  # lazy: startup

    from .ageing import parse_ages  # lazy: startup
    from .simulate import simulate_chip  # lazy: startup

    if args.n_test is not None:
        check_scalar(args.n_test, "--n-test", int, min_val=1)
    if args.json:
        from spinsyn.validation import check_output_file  # lazy: startup

        from .roundtrip import SIMULATION_FORMAT  # lazy: startup

        _outside_chip(args.chip_dir, Path(args.json), "--json")
        check_output_file(args.json, "--json", writes=SIMULATION_FORMAT, inputs=(args.chip_dir, args.run),
                          overwrite=args.overwrite)
    seed = 1 if args.seed is None else EXPORT_OPTIONS["seed"].check(args.seed)
    from .convchip import is_conv_chip  # lazy: startup

    if is_conv_chip(args.chip_dir):
        return _simulate_conv(args, seed)
    circuit = circuit_of(args)
    after = parse_ages(args.after) if args.after is not None else None
    _fail_if(args.plot is not None and after is None, "--plot: applies with --after only")
    plot_dir = _plot_dir(args) if after else None
    r = simulate_chip(Path(args.chip_dir), seed=seed, n_test=args.n_test, data_dir=args.data_dir,
                      run_dir=args.run, eval_device=args.eval_device, disturb=not args.no_disturb,
                      allow_extra=args.allow_extra, after=after, circuit=circuit, adc_bits=args.adc_bits,
                      adc_offset_lsb=args.adc_offset_lsb, adc_noise_lsb=args.adc_noise_lsb)
    p = r["programming"]
    print(f"programmed {p['devices']} devices (seed {seed}): {p['pulses_replayed']} scheduled pulses replayed, "
          f"{p['extra_pulses']} extra on {p['devices_needing_extra_pulses']} devices, {p['failed']} failed")
    print(f"  inside band: {100 * p['inside_band_after_programming']:.3f}% after programming, "
          f"{100 * p['inside_band_after_disturb']:.3f}% after {p['half_select']} disturb "
          f"({p['disturbed_devices']} devices disturbed); |error| mean {p['abs_error_levels_mean']:.4f} levels")
    if "circuit" in r:
        _print_circuit(r["circuit"])
    if r.get("accuracy"):
        _print_round_trip(r)
    else:
        print(f"  {r.get('note')}")
    if after:
        _print_ageing(r)
    if plot_dir is not None:
        from .simulate import plot_ageing  # lazy: startup

        print(f"  wrote {plot_ageing(r, plot_dir / AGEING_PLOT)}")
    if args.json:
        from .roundtrip import SIMULATION_FORMAT, SIMULATION_VERSION  # lazy: startup

        write_json(args.json, r, fmt=SIMULATION_FORMAT, version=SIMULATION_VERSION, seed=seed)
    return 0


#: the ageing figure ``export simulate --after`` writes into ``--plot DIR`` (else the folder of ``--json``)
AGEING_PLOT = "accuracy_vs_time.png"


def _plot_dir(args: argparse.Namespace) -> Any:
    """Folder of accuracy_vs_time.png: ``--plot``, else the folder of ``--json``, else None (no plot). Never inside
    the chip folder (strict verify would then reject the chip for an unlisted file)."""
    if args.plot is None and args.json is None:
        return None
    from spinsyn.validation import FIGURE_FORMAT, check_output_file, check_writable_dir  # lazy: startup

    opt, d = ("--plot", Path(args.plot)) if args.plot is not None else ("--json", Path(args.json).resolve().parent)
    _outside_chip(args.chip_dir, d, opt)
    check_writable_dir(d, opt)
    check_output_file(d / AGEING_PLOT, opt, writes=FIGURE_FORMAT, inputs=(args.chip_dir, args.run),
                      also={"--json": args.json}, overwrite=args.overwrite)
    d.mkdir(parents=True, exist_ok=True)
    return d


def _outside_chip(chip_dir: str, path: Any, opt: str) -> None:
    """Refuse an output path inside the chip folder: strict verify would then reject the chip (a file not in
    manifest.json)."""
    from .staging import is_or_holds  # lazy: startup

    _fail_if(is_or_holds(chip_dir, path), f"{opt}: {path} is inside the chip folder {chip_dir}; verify would "
             "then reject the chip (files not in manifest.json); write it elsewhere")


def _print_ageing(r: dict[str, Any]) -> None:
    from .ageing import format_duration  # lazy: startup

    ag = r["ageing"]
    print(f"  ageing (zero-bias relaxation, retention {format_duration(ag['retention_s'])}; {ag['model']}):")
    for a in ag["ages"]:
        acc = (f"accuracy {100 * a['accuracy']:6.2f}% (95% CI {100 * a['accuracy_ci95'][0]:.2f} .. "
               f"{100 * a['accuracy_ci95'][1]:.2f}), retention loss {a['retention_points']:.2f} points; "
               if "accuracy" in a else "")
        print(f"    t = {a['label']:<8} {acc}flipped MTJs {100 * a['flipped_fraction']:.3g}% (formula "
              f"{100 * a['flip_probability']:.3g}%), |error| {a['abs_error_levels_mean']:.3f} levels")
    one = ag.get("one_point")
    if one:
        when = format_duration(one["time_s"]) if one["time_s"] is not None else "not reached"
        print(f"  1 point lost after: {when}" + (f" (flipped MTJs {100 * one['flip_probability']:.3g}%)"
                                                if one["flip_probability"] is not None else ""))


TERM_NAMES = {"quantisation": "quantisation", "programming_error": "programming error",
              "half_select_disturb": "half-select disturb", "circuit": "circuit (IR drop)", "adc": "column ADC",
              "read_noise": "read noise"}


def _print_circuit(c: dict[str, Any]) -> None:
    cfg, a = c["config"], c["attenuation"]
    r = cfg["resolved"]
    print(f"  circuit: {cfg['tech_node']} {cfg['access']}, wire {r['r_wire_ohm']:.3g} ohm/synapse, driver "
          f"{r['r_driver_ohm']:.3g} ohm, sense {r['r_sense_ohm']:.3g} ohm; read at {c['v_read_V']:g} V: sensed/ideal "
          f"current mean {a['mean']:.3f}, 1st percentile {a['p01']:.3f}, min {a['min']:.3f}"
          + (f"; after the column gains 1st percentile {c['after_column_gain']['p01']:.3f}" if c["column_gain"] else
             "; no column gain"))
    inf = c.get("inference")
    if inf:
        print(f"  inference ({inf['adc_bits']}-bit column ADCs, {inf['active_rows_fraction']:.3g} of the rows driven "
              f"per step): {inf['per_image']['energy_J'] * 1e9:.3g} nJ and {inf['per_image']['latency_s'] * 1e6:.3g} "
              f"us per image ({inf['per_image']['steps']} steps), area {inf['area_um2']['total'] * 1e-6:.4g} mm^2 "
              f"(ADCs {100 * inf['area_um2']['adcs'] / inf['area_um2']['total']:.0f} %)")


def _print_round_trip(r: dict[str, Any]) -> None:
    """The accuracy of every condition and the table of loss terms (points, paired 95 % CI)."""
    key, a, nm = r["accuracy_key"], r["accuracy"], r["noise_model"]
    print(f"  accuracy ({key}, {r['n_test']} MNIST test images; read noise sigma {nm['read_noise_sigma']:g} on "
          f"every condition but trained_no_read_noise; device-to-device: {nm['device_to_device']}):")
    for c, v in a.items():
        lo, hi = r["accuracy_ci95"][c]
        print(f"    {c:<22} {100 * v[key]:6.2f}%  (95% CI {100 * lo:.2f} .. {100 * hi:.2f})")
    print("  loss terms (percentage points lost, paired 95% CI on the same images):")
    print(f"    {'term':<20} {'from -> to':<40} {'points':>7}  95% CI")
    for t in r["loss_terms"]:
        lo, hi = t["ci95_points"]
        name = TERM_NAMES.get(t["term"], t["term"])
        print(f"    {name:<20} {t['from'] + ' -> ' + t['to']:<40} {t['points']:7.2f}  [{lo:.2f}, {hi:.2f}]")
    lo, hi = r["drop_ci95_points"]
    print(f"  -> drop {r['drop_points']:.2f} points (trained -> {r['final']}, 95% CI [{lo:.2f}, {hi:.2f}])")
