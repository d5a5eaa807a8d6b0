"""Convolutional runs on crossbars: kernel-to-column mapping, the conv chip folder, its manifest and its checks.

A conv run (``spinsyn train --network conv``: ``RUN/conv.npz``, :func:`spinsyn.snn.conv.load_conv`) has three
layers of kernels ``w`` (F, C, K, K) in [0, 1]. Each is unrolled to one weight matrix (kernel-to-column)::

    W = w.reshape(F, C*K*K).T        # (C·K·K rows, F columns): row (c*K + dy)*K + dx, column f

(:func:`unroll_kernels`, the layout of :func:`spinsyn.snn.conv.layers.kernels_by_input`): one crossbar column
per feature map, one row per (channel, dy, dx) element of a patch. The trained device state (levels, MTJs in P)
is unrolled the same way, so a quantized/dw/compound run programs the states it trained (as a Diehl & Cook run
does, :mod:`spinsyn.hw_export.runs`). Each matrix is exported by the single-layer exporter
(:func:`spinsyn.hw_export.export_chip`, same options) into its own chip folder.

Input reuse: the programmed crossbar of a layer is shared by all output positions. At inference it is driven
once per output position (i, j) and per time step with that position's im2col patch (the inputs of the
receptive field at (i, j) that spike at that step), so a layer needs ``Ho·Wo·steps`` crossbar reads per image
(``steps`` = T for conv 1-2, which integrate the latency code step by step; 1 for the decision layer, read once
with the binary "fired at all" map). :func:`conv_geometry` gives these numbers; the manifest stores them.

The conv chip folder ``CHIP/``::

    CHIP/conv_chip.json       format spinsyn-conv-chip v1: ConvConfig, source, per layer shapes, geometry, hashes
    CHIP/conv1/ conv2/ conv3/ ordinary spinsyn chip folders (manifest.json, chip.h5, report.json, csv/)

It is written into a marked temporary folder and renamed onto ``CHIP`` (:class:`spinsyn.hw_export.staging
.Staging`): an error or a signal leaves nothing. :func:`conv_chip_problems` checks it (each layer with
:func:`spinsyn.hw_export.verify_chip`, then the manifest: format, hashes, shapes, geometry).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.devices import SynapseDevice, SynapseSpec, synapse_device
from spinsyn.fileio import SpinsynFileError, read_json, sha256_file, write_json

from .ageing import DEFAULT_DEPLOYMENT_S
from .chipfile import (  # noqa: F401  (conv_chip_dir_problem re-exported: the conv chip's public home)
    CONV_CHIP_FORMAT,
    CONV_CHIP_VERSION,
    CONV_MANIFEST_NAME,
    LAYER_DIRS,
    MANIFEST_NAME,
    conv_chip_dir_problem,
    verify_chip,
)
from .csvlayout import H5_NAME
from .export import ExportConfig, ExportResult, export_chip
from .inputs import WeightSource
from .mapping import MappingKind
from .program import WriteVerifyConfig

#: MNIST images are 28 x 28 px (the input the conv network is defined on)
IMAGE_PX = 28
MAPPING_RECORD = {
    "kind": "kernel-to-column",
    "formula": "W = w.reshape(F, C*K*K).T",
    "rows": "patch element (c, dy, dx): row = (c*K + dy)*K + dx",
    "columns": "feature map f (one crossbar column per kernel)",
    "input_reuse": "one programmed crossbar per layer, driven once per output position and time step with that "
                   "position's im2col patch (conductances shared by all positions)",
}


class ConvChipError(SpinsynFileError):
    """A conv chip folder failed its checks: ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# ----------------------------------------------------------------------------- mapping
def unroll_kernels(w: np.ndarray) -> np.ndarray:
    """Kernels (F, C, K, K) -> the crossbar matrix (C·K·K, F): column f = kernel f, row (c*K + dy)*K + dx.
    Works for any per-synapse array of that shape (weights, device states, per-MTJ conductances)."""
    a = np.asarray(w)
    if a.ndim != 4 or a.shape[2] != a.shape[3] or min(a.shape) < 1:
        raise ValueError(f"kernels: expected shape (F, C, K, K), got {a.shape}")
    return np.ascontiguousarray(a.reshape(a.shape[0], -1).T)


def roll_kernels(m: np.ndarray, shape: tuple[int, int, int, int]) -> np.ndarray:
    """The inverse of :func:`unroll_kernels`: a matrix (C·K·K, F) -> kernels ``shape`` = (F, C, K, K)."""
    F, C, K, K2 = (int(s) for s in shape)
    a = np.asarray(m)
    if a.shape != (C * K * K2, F):
        raise ValueError(f"matrix: expected shape {(C * K * K2, F)} for kernels {tuple(shape)}, got {a.shape}")
    return np.ascontiguousarray(a.T.reshape(F, C, K, K2))


@dataclass(frozen=True)
class LayerGeometry:
    """im2col geometry of one conv layer on a 28 x 28 image: padded input (C, H, W) (px), kernel K (px), output
    positions Ho x Wo (stride 1, valid), time steps per read pass and crossbar reads per image (Ho·Wo·steps)."""

    in_channels: int
    in_h_px: int
    in_w_px: int
    pad_px: int
    kernel_px: int
    out_h: int
    out_w: int
    steps: int

    @property
    def positions(self) -> int:
        return self.out_h * self.out_w

    @property
    def reads_per_image(self) -> int:
        return self.positions * self.steps

    def record(self) -> dict[str, Any]:
        return {"input_chw_padded": [self.in_channels, self.in_h_px, self.in_w_px], "pad_px": self.pad_px,
                "kernel_px": self.kernel_px, "output_hw": [self.out_h, self.out_w], "positions": self.positions,
                "steps": self.steps, "reads_per_image": self.reads_per_image}


def conv_geometry(config: Any, image_px: int = IMAGE_PX) -> list[LayerGeometry]:
    """The :class:`LayerGeometry` of the three layers of a :class:`~spinsyn.snn.conv.ConvConfig` (the forward
    pass of :mod:`spinsyn.snn.conv.network`: pad, valid conv, pool (window = stride, remainder dropped), pad, ...).
    conv 1-2 integrate the latency code over ``config.T`` steps; the decision layer reads its binary map once."""
    c = config
    h = image_px
    out = []
    specs = ((c.n_dog, c.pad1, c.k1_px, c.pool1_px, c.T), (c.f1, c.pad2, c.k2_px, c.pool2_px, c.T),
             (c.f2, c.pad3, c.k3_px, 1, 1))
    for ch, pad, k, pool, steps in specs:
        hp = h + 2 * pad
        ho = hp - k + 1
        if ho < 1:
            raise ValueError(f"config: a {k}x{k} kernel does not fit the {hp}x{hp} padded input")
        out.append(LayerGeometry(int(ch), hp, hp, int(pad), int(k), ho, ho, int(steps)))
        h = ho // pool
    return out


# ----------------------------------------------------------------------------- reading the run
@dataclass
class ConvSource:
    """A conv run read for export: the network, its file, and one :class:`WeightSource` per layer (unrolled
    weights, unrolled trained states, the device the run trained on)."""

    net: Any
    run_dir: Path
    path: Path
    sha256: str
    layers: list[WeightSource]

    def record(self) -> dict[str, Any]:
        return {"kind": "conv-run", "run_dir": str(self.run_dir.resolve()), "path": str(self.path.resolve()),
                "sha256": self.sha256, "run_synapse": str(self.layers[0].run_spec)}


def run_device(net: Any) -> SynapseDevice:
    """The device a conv run trained on; an ideal run (no synapse) gets the ideal spec's analog device
    (``spinsyn.devices.synapse_device("ideal")``, as a Diehl & Cook ideal run)."""
    if net.synapse is not None:
        return net.synapse.device  # type: ignore[no-any-return]
    return synapse_device(SynapseSpec.parse("ideal"))


def load_conv_source(run_dir: str | Path) -> ConvSource:
    """Read the conv run in ``run_dir`` (``conv.npz``) and unroll its layers (kernel-to-column)."""
    from spinsyn.snn.conv import load_conv  # lazy: startup
    from spinsyn.snn.conv.run import CONV_NET_NAME  # lazy: startup

    run_dir = Path(run_dir)
    path = run_dir / CONV_NET_NAME
    if not path.is_file():
        raise SpinsynFileError(f"{run_dir}: not a conv run directory (no {CONV_NET_NAME})")
    if not (Path(run_dir) / "metrics.json").is_file():
        raise SpinsynFileError(f"{run_dir}: an unfinished conv run (a checkpoint, no metrics.json); finish it with "
                               f"'spinsyn train --resume {run_dir}'")
    try:
        net = load_conv(path)
    except (KeyError, OSError, EOFError) as exc:  # a damaged npz: one line naming it
        raise SpinsynFileError(f"{path}: not a readable conv network ({exc})") from None
    sha = sha256_file(path)
    dev = run_device(net)
    layers = []
    for lw in net.layers:
        w = unroll_kernels(lw.fraction(lw.w)).astype(np.float64)  # the device-range fraction is what is programmed
        state = None if lw.state is None or lw.state.shape != lw.w.shape else unroll_kernels(lw.state).astype(
            np.int64)
        signed = state is not None and lw.signed  # ConvConfig.signed_read: the device state is what is programmed
        if not np.all(np.isfinite(w)) or (not signed and (w.min() < 0.0 or w.max() > 1.0)):
            raise SpinsynFileError(f"{path}: weights outside [0, 1]")
        if signed:
            assert state is not None and lw.synapse is not None
            if state.min() < 0 or state.max() > lw.synapse.spec.n:
                raise SpinsynFileError(f"{path}: device states outside 0..{lw.synapse.spec.n}")
            w = np.clip(w, 0.0, 1.0)  # the signed read's device spread around 0 and 1; the targets come from state
        layers.append(WeightSource(w, "run", path, sha, (0.0, 1.0), run_dir, state, dev))
    return ConvSource(net, run_dir, path, sha, layers)


def is_conv_run(path: str | Path) -> bool:
    """True when ``path`` is a conv run folder (holds ``conv.npz``) without a Diehl & Cook checkpoint."""
    from spinsyn.snn import checkpoint_path  # lazy: startup
    from spinsyn.snn.conv.run import is_conv_run as has_conv  # lazy: startup

    p = Path(path)
    return p.is_dir() and has_conv(p) and not checkpoint_path(p).is_file()


def is_conv_chip(path: str | Path) -> bool:
    """True when ``path`` is a folder holding a conv chip manifest (``conv_chip.json``) and no ``manifest.json``."""
    p = Path(path)
    return p.is_dir() and (p / CONV_MANIFEST_NAME).is_file() and not (p / MANIFEST_NAME).exists()


# ----------------------------------------------------------------------------- export
@dataclass
class ConvExportResult:
    """One conv export: the folder, the manifest written and each layer's :class:`ExportResult`."""

    out_dir: Path
    manifest: dict[str, Any]
    layers: list[ExportResult]


def export_conv_run(run_dir: str | Path, out_dir: str | Path, *, synapse: str | SynapseSpec | None = None,
                    requantize: bool = False, tile: tuple[int, int] = (128, 128), mapping: MappingKind = "unipolar",
                    seed: int = 0, overwrite: bool = False, write_verify: WriteVerifyConfig | None = None,
                    device: str | None = None, device_params: dict[str, Any] | None = None,
                    w_range: tuple[float, float] | None = None, csv: bool = True, write_pulse: str = "auto",
                    deployment_s: float = DEFAULT_DEPLOYMENT_S, circuit: Any = None) -> ConvExportResult:
    """Export the conv run in ``run_dir`` to the conv chip folder ``out_dir`` (module docstring).

    The options are :func:`spinsyn.hw_export.export_run`'s and apply to every layer: each layer chip is what
    ``export_chip`` writes for its unrolled matrix with the run's device and trained states (or quantised onto
    another synapse with ``requantize``), with the same ``seed``. ``w_range`` defaults to [0, 1]."""
    from .interrupts import interrupt_guard  # lazy: startup
    from .runs import run_target  # lazy: startup
    from .staging import Staging  # lazy: startup

    out_dir = Path(out_dir)
    src = load_conv_source(run_dir)
    targets = [run_target(ls, synapse, requantize=requantize, mapping=mapping, preset=device, params=device_params)
               for ls in src.layers]  # every option checked before anything is written
    geo = conv_geometry(src.net.config)
    wv = write_verify or WriteVerifyConfig()
    results: list[ExportResult] = []
    with interrupt_guard(), Staging(out_dir, overwrite, (src.run_dir, src.path)) as st:
        entries = []
        for k, (name, ls, tg, g, lw) in enumerate(zip(LAYER_DIRS, src.layers, targets, geo, src.net.layers)):
            dev = tg.device
            cfg = ExportConfig(dev.spec, mapping=mapping, tile_rows=int(tile[0]), tile_cols=int(tile[1]),
                               device=dev.preset, w_range=w_range if w_range is not None else ls.w_range,
                               write_verify=wv, seed=seed, csv=csv, write_pulse=write_pulse,
                               deployment_s=deployment_s, circuit=circuit)
            record = {**ls.record(), "kind": "conv-run", "layer": name, "layer_index": k,
                      "kernel_shape": list(lw.w.shape), "mapping": MAPPING_RECORD["formula"]}
            res = export_chip(ls.w, cfg, st.payload / name, source=record, device=dev, levels=tg.levels,
                              notes=[*tg.notes, f"{name} of a conv run: kernels {tuple(lw.w.shape)} unrolled "
                                                "kernel-to-column (W = w.reshape(F, -1).T)"])
            _interruptible_again()
            results.append(res)
            entries.append(_layer_entry(st.payload, name, k, lw.w.shape, ls.w.shape, g, res))
        man = {"config": src.net.config.to_dict(), "source": src.record(), "mapping": MAPPING_RECORD,
               "image_px": IMAGE_PX, "synapse": results[0].report["synapse"], "layers": entries,
               "reads_per_image": int(sum(g.reads_per_image for g in geo))}
        write_json(st.payload / CONV_MANIFEST_NAME, man, fmt=CONV_CHIP_FORMAT, version=CONV_CHIP_VERSION, seed=seed)
        st.commit()
    return ConvExportResult(out_dir, read_json(out_dir / CONV_MANIFEST_NAME), [
        dataclasses.replace(r, out_dir=out_dir / n) for r, n in zip(results, LAYER_DIRS)])


def _interruptible_again() -> None:
    """After a layer's chip folder is committed into the conv chip's staging folder: that commit is not the conv
    chip's, so SIGINT/SIGTERM interrupt the remaining layers again (the layer's commit left the guard in its
    commit phase, where signals are only recorded), and a signal recorded during it is raised now."""
    from . import interrupts  # lazy: startup

    g = interrupts._GUARD
    if g is not None:
        g.committing = False
    interrupts.check_interrupted()


def _layer_entry(root: Path, name: str, k: int, kshape: tuple[int, ...], mshape: tuple[int, ...],
                 g: LayerGeometry, res: ExportResult) -> dict[str, Any]:
    return {"name": name, "index": k, "subfolder": name, "kernel_shape": [int(s) for s in kshape],
            "matrix_shape": [int(s) for s in mshape], "chip_file": H5_NAME,
            "chip_sha256": sha256_file(root / name / H5_NAME),
            "manifest_sha256": sha256_file(root / name / MANIFEST_NAME),
            "synapse": res.report["synapse"], "levels_from": res.report["levels_from"], **g.record()}


# ----------------------------------------------------------------------------- checks
def read_conv_manifest(chip_dir: str | Path) -> dict[str, Any]:
    """``conv_chip.json`` of ``chip_dir`` (format and version checked; SpinsynFileError naming it otherwise)."""
    return read_json(Path(chip_dir) / CONV_MANIFEST_NAME, fmt=CONV_CHIP_FORMAT, versions=(CONV_CHIP_VERSION,))


def conv_chip_problems(chip_dir: str | Path, *, allow_extra: bool = False) -> list[str]:
    """Every problem of the conv chip folder ``chip_dir``, one line each (empty: it passes): the manifest's format,
    its config and geometry, and per layer: the folder (:func:`verify_chip`), the sha256 of its chip file and
    manifest, its device matrix against the kernel shape. Files beside the layers fail unless ``allow_extra``."""
    from spinsyn.snn.conv import ConvConfig  # lazy: startup

    root = Path(chip_dir)
    man_path = root / CONV_MANIFEST_NAME
    try:
        man = read_conv_manifest(root)
    except SpinsynFileError as exc:
        return [str(exc)]
    try:
        geo = [g.record() for g in conv_geometry(ConvConfig.from_dict(dict(man["config"])), int(man["image_px"]))]
        layers = list(man["layers"])
        if len(layers) != len(LAYER_DIRS) or not all(isinstance(e, dict) for e in layers):
            raise ValueError(f"expected {len(LAYER_DIRS)} layer entries")
    except (KeyError, TypeError, ValueError) as exc:
        return [f"{man_path}: invalid manifest ({exc})"]
    problems: list[str] = []
    for name, e, g in zip(LAYER_DIRS, layers, geo):
        problems += _layer_problems(root, man_path, name, e, g, allow_extra)
    extra = sorted(p.name for p in root.iterdir() if p.name not in {CONV_MANIFEST_NAME, *LAYER_DIRS})
    if extra and not allow_extra:
        problems.append(f"{root}: files not in {CONV_MANIFEST_NAME}: {', '.join(extra[:5])} (a conv chip folder "
                        "holds only its manifest and layer folders; pass --allow-extra to accept them)")
    return problems


def _layer_problems(root: Path, man_path: Path, name: str, e: dict[str, Any], g: dict[str, Any],
                    allow_extra: bool) -> list[str]:
    sub = root / name
    if e.get("subfolder") != name or e.get("name") != name:
        return [f"{man_path}: layer entry {e.get('name')!r} expected subfolder {name!r}"]
    if sub.is_symlink() or not sub.is_dir():
        return [f"{sub}: layer folder missing (or a symbolic link)"]
    try:
        s = verify_chip(sub, allow_extra=allow_extra)
    except SpinsynFileError as exc:
        return [str(exc)]
    out = []
    for key, fname in (("chip_sha256", H5_NAME), ("manifest_sha256", MANIFEST_NAME)):
        if e.get(key) != sha256_file(sub / fname):
            out.append(f"{sub / fname}: sha256 does not match {CONV_MANIFEST_NAME} (layer replaced or modified)")
    F, C, K, K2 = (int(x) for x in e.get("kernel_shape", (0, 0, 0, 0)))
    want_k = (g["kernel_px"], g["input_chw_padded"][0])
    if (K, C) != want_k or K != K2:
        out.append(f"{man_path}: {name} kernel_shape {e.get('kernel_shape')} does not match the config "
                   f"(C={want_k[1]}, K={want_k[0]})")
    if list(e.get("matrix_shape", [])) != [C * K * K2, F]:
        out.append(f"{man_path}: {name} matrix_shape {e.get('matrix_shape')} is not [C*K*K, F] = "
                   f"[{C * K * K2}, {F}]")
    cols = F * (2 if s["mapping"].get("kind") == "differential" else 1)
    if tuple(s["device_shape"]) != (C * K * K2, cols):
        out.append(f"{sub / H5_NAME}: device matrix {tuple(s['device_shape'])} does not match {name}'s kernels "
                   f"{(F, C, K, K2)} (expected {(C * K * K2, cols)})")
    for key, v in g.items():
        if e.get(key) != v:
            out.append(f"{man_path}: {name} {key} is {e.get(key)!r}, the config gives {v!r}")
    return out


def verify_conv_chip(chip_dir: str | Path, *, allow_extra: bool = False) -> dict[str, Any]:
    """Check a conv chip folder (:func:`conv_chip_problems`); raises :class:`ConvChipError` (its ``problems``, one
    line each) or returns a summary: layers (name, devices, tiles, synapse), reads per image."""
    problems = conv_chip_problems(chip_dir, allow_extra=allow_extra)
    if problems:
        raise ConvChipError(problems)
    man = read_conv_manifest(chip_dir)
    return {"layers": [{k: e[k] for k in ("name", "kernel_shape", "matrix_shape", "synapse", "positions",
                                          "reads_per_image")} for e in man["layers"]],
            "synapse": man["synapse"], "reads_per_image": man["reads_per_image"]}
