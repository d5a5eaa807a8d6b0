"""The run checkpoint ``RUN_DIR/checkpoint.pt`` (format ``spinsyn-checkpoint`` v3): snn writes it and owns its
one reader, :func:`read_checkpoint` (hw_export and ``spinsyn eval`` use it).

A checkpoint is self-contained: besides the weights and the training position it carries the synapse spec and
device record (``synapse_spec``, ``synapse_device_json``) and the compiled learning rule (``rule_json`` +
``rule_f_tab``), so loading, evaluating and resuming a run never open the rule or sweep file again.

v3 (written now) is a zip of ``.npy`` arrays (``numpy.savez_compressed``, read with ``np.load(allow_pickle=False)``,
so writing a checkpoint needs no torch import). It stores what cannot be derived: leveled synapses (quantized,
dw, compound) keep their level / P-MTJ counts as uint8/uint16 (``state``) and not ``w`` and ``g_S``, which the
reader derives exactly (:func:`_derive_weights`); ideal synapses keep ``w`` as float64, or float32/float16 in the
final checkpoint of a finished run with ``checkpoint_weights`` (lossy: relative error 2^-24 / 2^-11). v2 (a
``torch.save`` zip, read with ``torch.load(weights_only=True)``) is still read; version 1 is refused.
:func:`read_checkpoint` returns the same dict for both versions (numbers as torch tensors, ``w`` and ``g_S``
float64, strings as ``str``).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.fileio import SpinsynFileError, atomic_path

from .engine import NetState
from .kinds import SYN_COMPOUND, SYN_CONTINUOUS
from .rules import CompiledRule
from .synapses import Synapse, synapse_from_record

CHECKPOINT_FORMAT, CHECKPOINT_VERSION = "spinsyn-checkpoint", 3
CHECKPOINT_NAME = "checkpoint.pt"
#: keys every checkpoint returned by :func:`read_checkpoint` holds (v2 and v3)
REQUIRED_KEYS = ("config_json", "synapse_spec", "synapse_device_json", "rule_json", "rule_f_tab", "w", "g_S",
                 "theta", "position", "history_json", "recent_counts", "recent_labels")
#: string entries of a v3 file (0-d unicode arrays)
_TEXT_KEYS = ("format", "config_json", "synapse_spec", "synapse_device_json", "rule_json", "rng_json",
              "history_json")
#: ``checkpoint_weights`` choices: dtype of an ideal network's ``w`` in the final checkpoint of a finished run
WEIGHT_DTYPES = {"float64": np.float64, "float32": np.float32, "float16": np.float16}
#: ``w_source`` per neuron of a leveled network: w = level/(L−1) (written by the update) or the level's
#: conductance mapped to [0, 1] (the initial state, never updated)
W_FROM_LEVEL, W_FROM_G = 0, 1


def _uint(a: np.ndarray, top: int | None = None) -> np.ndarray:
    """``a`` (integers in [0, ``top``], default its maximum) as the smallest of uint8/uint16/uint32 that holds it."""
    top = (int(a.max()) if a.size else 0) if top is None else top
    for dt in (np.uint8, np.uint16, np.uint32):
        if top <= np.iinfo(dt).max:
            return a.astype(dt)
    return a.astype(np.int64)


def _level_w(syn: Synapse, state: np.ndarray, gp: np.ndarray, gap: np.ndarray, w_source: np.ndarray) -> np.ndarray:
    """Weights (784, N) float64 of a leveled network, computed as the engines do (bit-identical)."""
    gmin, gmax = syn.g_bounds_S()
    if syn.kind == SYN_COMPOUND:
        n = syn.n_states
        return np.clip((state * gp + (n - state) * gap - gmin) / (gmax - gmin), 0.0, 1.0)
    lev = state.astype(np.int64)
    w = lev / (syn.n_states - 1)
    from_g = w_source == W_FROM_G
    if from_g.any():
        g = syn.g_S(None, lev[:, from_g], gp, gap)
        w[:, from_g] = np.clip((g - gmin) / (gmax - gmin), 0.0, 1.0)
    return w


def _weight_arrays(syn: Synapse, ns: NetState, weights: str) -> dict[str, np.ndarray]:
    """What a v3 file stores of the weights: ``state`` (+ ``w_source``, ``gp_S``/``gap_S``) for leveled synapses
    when ``w`` is derived exactly from them, else ``w`` (float64, or ``weights`` for ideal synapses)."""
    if syn.kind == SYN_CONTINUOUS:
        return {"w": np.asarray(ns.w, WEIGHT_DTYPES[weights])}
    top = syn.n_states if syn.kind == SYN_COMPOUND else syn.n_states - 1  # P-MTJ count 0..N, level 0..L-1
    out: dict[str, np.ndarray] = {"state": _uint(np.asarray(ns.state), top)}
    if syn.kind == SYN_COMPOUND:
        out.update(gp_S=np.array(ns.gp_S, np.float64), gap_S=np.array(ns.gap_S, np.float64))
    else:
        L1 = syn.n_states - 1
        on_level = np.all(ns.w == ns.state / L1, axis=0)
        out["w_source"] = np.where(on_level, W_FROM_LEVEL, W_FROM_G).astype(np.uint8)
    if not np.array_equal(_level_w(syn, ns.state, ns.gp_S, ns.gap_S, out.get("w_source")), ns.w):
        out["w"] = np.array(ns.w, np.float64)  # not derivable (never expected): keep it exactly
    return out


def save_checkpoint(path: Path, cfg_json: str, syn: Synapse, rule: CompiledRule, ns: NetState, pos: tuple[int, int],
                    history: list, recent_counts: np.ndarray, recent_labels: np.ndarray, seed: int,
                    extra: dict[str, np.ndarray] | None = None, weights: str = "float64") -> None:
    """Write ``path`` atomically as v3 (``extra``: more arrays, e.g. ``assignments`` and ``proportions``;
    ``weights``: dtype of an ideal network's ``w``, float64 unless this is the final checkpoint)."""
    ck: dict[str, Any] = {
        "format": np.array(CHECKPOINT_FORMAT),
        "format_version": np.array(CHECKPOINT_VERSION, np.int64),
        "config_json": np.array(cfg_json),
        "synapse_spec": np.array(str(syn.spec)),
        "synapse_device_json": np.array(json.dumps(syn.device.record(), sort_keys=True)),
        "rule_json": np.array(json.dumps(rule.record(), sort_keys=True)),
        "rule_f_tab": np.asarray(rule.f_tab, np.float64),
        "theta": np.array(ns.theta, np.float64),
        "position": np.array(pos, np.int64),  # (epoch, images done in it)
        "rng_json": np.array(json.dumps({"scheme": "splitmix64(seed, epoch, position)", "seed": seed})),
        "history_json": np.array(json.dumps(history)),
        "recent_counts": _uint(np.asarray(recent_counts)),
        "recent_labels": _uint(np.asarray(recent_labels)),
        **_weight_arrays(syn, ns, weights),
    }
    for k, v in (extra or {}).items():
        ck[k] = np.array(v)
    with atomic_path(path) as tmp:
        _write_npz(tmp, ck)


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An ``.npz`` archive (what ``np.load`` reads) with float arrays stored as they are (float64 weights barely
    compress, and deflating them is most of the write time) and integer / text arrays deflated."""
    with zipfile.ZipFile(path, "w", allowZip64=True) as zf:
        for key, val in arrays.items():
            a = np.asanyarray(val)
            info = zipfile.ZipInfo(f"{key}.npy")
            info.compress_type = zipfile.ZIP_STORED if a.dtype.kind == "f" else zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, a, allow_pickle=False)


def checkpoint_path(run_dir: str | Path) -> Path:
    """Where the checkpoint of run directory ``run_dir`` lives."""
    return Path(run_dir) / CHECKPOINT_NAME


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a ``spinsyn-checkpoint`` v3 (``np.load(allow_pickle=False)``) or v2 (``torch.load(weights_only=True)``)
    file, or a run directory holding ``checkpoint.pt``. Numbers come back as torch tensors (``w`` and ``g_S``
    (784, N) float64, derived from the levels for leveled v3 synapses), strings as ``str``. Raises
    SpinsynFileError naming the file."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise SpinsynFileError(f"{path}: no checkpoint (expected a run directory written by 'spinsyn train')")
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head != b"PK\x03\x04":  # v2 and v3 are zip archives; anything else is refused before loading
        what = "empty file (0 bytes)" if not head else "not a zip archive"
        raise SpinsynFileError(f"{path}: {what}; not a spinsyn-checkpoint file")
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise SpinsynFileError(f"{path}: not a readable spinsyn-checkpoint file ({exc})") from None
    ck = _read_v3(path) if "format.npy" in names else _read_torch(path)
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise SpinsynFileError(f"{path}: not a {CHECKPOINT_FORMAT!r} file")
    version = ck.get("format_version")
    if version == 1:
        raise SpinsynFileError(f"{path}: format_version 1 (written before checkpoints carried the synapse device "
                               f"and the compiled rule) is no longer read; train the run again")
    if version not in (2, CHECKPOINT_VERSION):
        raise SpinsynFileError(f"{path}: format_version {version!r}; expected 2 or {CHECKPOINT_VERSION}")
    missing = [k for k in REQUIRED_KEYS if k not in ck]
    if missing:
        raise SpinsynFileError(f"{path}: checkpoint lacks {missing}")
    return ck


def _read_torch(path: Path) -> Any:
    """A v2 (``torch.save``) checkpoint as torch loads it."""
    import torch

    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - any unreadable file: one message naming it
        raise SpinsynFileError(f"{path}: {_load_problem(exc)}") from None


def _read_v3(path: Path) -> dict[str, Any]:
    """A v3 (``.npz``) checkpoint as the same dict a v2 one gives (torch tensors, ``w``/``g_S`` derived)."""
    import torch

    try:
        with np.load(path, allow_pickle=False) as z:
            raw = {k: z[k] for k in z.files}
        version = int(raw["format_version"])
        out: dict[str, Any] = {k: str(raw.pop(k)) for k in _TEXT_KEYS if k in raw}
        out["format_version"] = version
        raw.pop("format_version")
        if version == CHECKPOINT_VERSION and out.get("format") == CHECKPOINT_FORMAT:
            raw.update(_v3_weights(out, raw))
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as exc:
        raise SpinsynFileError(f"{path}: not a readable spinsyn-checkpoint file ({str(exc)[:120]})") from None
    for k, v in raw.items():
        out[k] = torch.from_numpy(np.ascontiguousarray(v))
    return out


def _v3_weights(text: dict[str, str], raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``w``, ``g_S`` (float64) and int32 ``state`` of a v3 file, in the dtypes v2 stored them."""
    syn = synapse_from_record(json.loads(text["synapse_device_json"]))
    out: dict[str, np.ndarray] = {}
    if syn.kind == SYN_CONTINUOUS:
        w = raw["w"].astype(np.float64)
        state = gp = gap = None
    else:
        state = raw["state"].astype(np.int32)
        gp, gap = raw.get("gp_S"), raw.get("gap_S")
        w = raw["w"] if "w" in raw else _level_w(syn, state, gp, gap, raw.get("w_source"))
        out["state"] = state
    out["w"] = np.ascontiguousarray(w, np.float64)
    out["g_S"] = np.asarray(syn.g_S(out["w"], state, gp, gap), np.float64)
    out["recent_counts"] = raw["recent_counts"].astype(np.int32)
    out["recent_labels"] = raw["recent_labels"].astype(np.int64)
    return out


def _load_problem(exc: Exception) -> str:
    """One line for a checkpoint torch cannot load safely (torch's own text runs over several lines and suggests
    ``weights_only=False``, which spinsyn never does)."""
    import re

    text = str(exc)
    m = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if m:
        return (f"holds pickled Python objects ({m.group(1)}), which spinsyn never loads (checkpoints are read with "
                "torch.load(weights_only=True)); not a spinsyn-checkpoint file")
    m = re.search(r"WeightsUnpickler error:\s*(.+)", text)
    first = m.group(1).strip() if m else (text.strip().splitlines() or [type(exc).__name__])[0]
    return f"not a readable spinsyn-checkpoint file ({first[:120]})"


def compiled_rule(ck: dict[str, Any]) -> CompiledRule:
    """The compiled learning rule stored in a checkpoint read by :func:`read_checkpoint`."""
    return CompiledRule.from_record(json.loads(ck["rule_json"]), ck["rule_f_tab"].numpy())


def net_state(ck: dict[str, Any]) -> NetState:
    """The learned state stored in a checkpoint (copies; placeholders of shape (1, 1) for ideal synapses)."""
    def arr(k, default):
        return ck[k].numpy().copy() if k in ck else default

    return NetState(arr("w", None), arr("state", np.zeros((1, 1), np.int32)), arr("gp_S", np.ones((1, 1))),
                    arr("gap_S", np.ones((1, 1))), arr("theta", None))
