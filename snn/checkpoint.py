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

Every checkpoint is range-checked on read (:func:`_check_values`, v3 before its weights are derived, v2 as
loaded): its JSON texts parse, its config passes the train options' own checks, its synapse spec matches the
device record stored with it (compound: the record's MTJ count), and every array has the dtype, the shape (784 ×
N, N from the config) and the range it can have (finite; levels within the device's levels; conductances ≥ 0;
assignments −1..9; …). A tampered or corrupted checkpoint is refused naming the file and the array, so ``eval``,
``train --resume``, ``export`` and ``export nir`` never compute with it.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from spinsyn.devices import KIND_COMPOUND, SynapseSpec
from spinsyn.devices.synapse import KIND_GRADED
from spinsyn.fileio import SpinsynFileError, atomic_path
from spinsyn.safeload import check_npz, check_zip_file
from spinsyn.validation import check_scalar

from .config import NU_MAX, TrainConfig, check_stored_config, check_synapse
from .engine import NetState
from .kinds import RULE_POSTPRE, RULE_TRACE, SYN_COMPOUND, SYN_FLOAT_KINDS
from .params import N_INPUT, NetworkParams
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


def _level_w(syn: Synapse, state: np.ndarray, gp: Any, gap: Any, w_source: Any) -> np.ndarray:
    """Weights (784, N) float64 of a leveled network, computed as the engines do (bit-identical). ``gp``/``gap``
    (S, compound only) and ``w_source`` are arrays, or None where the kind or file has none."""
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
    if syn.kind in SYN_FLOAT_KINDS:
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
    names = _zip_names(path)
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
    if version == 2:
        _check_values(path, ck)  # v3 files are checked by _read_v3, before their weights are derived
    return ck


def _zip_names(path: Path) -> list[str]:
    """Member names of the checkpoint zip ``path`` (v2 and v3 are zip archives: anything else is refused before
    loading)."""
    if not path.is_file():
        raise SpinsynFileError(f"{path}: no checkpoint (expected a run directory written by 'spinsyn train')")
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head != b"PK\x03\x04":
        what = "empty file (0 bytes)" if not head else "not a zip archive"
        raise SpinsynFileError(f"{path}: {what}; not a spinsyn-checkpoint file")
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise SpinsynFileError(f"{path}: not a readable spinsyn-checkpoint file ({_one_line(str(exc))})") from None


def _read_torch(path: Path) -> Any:
    """A v2 (``torch.save``) checkpoint as torch loads it."""
    import torch  # lazy: startup

    check_zip_file(path)  # declared member sizes within the read budget before torch inflates them
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - any unreadable file: one message naming it
        raise SpinsynFileError(f"{path}: {_load_problem(exc)}") from None


def _read_v3(path: Path) -> dict[str, Any]:
    """A v3 (``.npz``) checkpoint as the same dict a v2 one gives (torch tensors, ``w``/``g_S`` derived)."""
    import torch  # lazy: startup

    check_npz(path)  # members' declared sizes and .npy headers checked against the read budget before np.load
    try:
        with np.load(path, allow_pickle=False) as z:
            raw = {k: z[k] for k in z.files}
        version = int(raw["format_version"])
        out: dict[str, Any] = {k: str(raw.pop(k)) for k in _TEXT_KEYS if k in raw}
        out["format_version"] = version
        raw.pop("format_version")
    except (KeyError, TypeError, ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise SpinsynFileError(f"{path}: not a readable spinsyn-checkpoint file ({_one_line(str(exc))})") from None
    if version == CHECKPOINT_VERSION and out.get("format") == CHECKPOINT_FORMAT:
        syn = _check_values(path, {**out, **raw})  # before anything is derived from the arrays
        raw.update(_v3_weights(syn, raw))
    for k, v in raw.items():
        if v.dtype.kind not in "biuf":
            raise SpinsynFileError(f"{path}: {k} has dtype {v.dtype}; a checkpoint holds numbers and text only")
        out[k] = torch.from_numpy(np.ascontiguousarray(v, v.dtype.newbyteorder("=")))
    return out


def _v3_weights(syn: Synapse, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``w``, ``g_S`` (float64) and int32 ``state`` of a v3 file (checked by :func:`_check_values`; ``syn``: its
    synapse), in the dtypes v2 stored them."""
    out: dict[str, np.ndarray] = {}
    if syn.kind in SYN_FLOAT_KINDS:
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


#: lines of torch's "weights only" text that say nothing about the file (and suggest weights_only=False)
_TORCH_BOILERPLATE = ("Weights only load failed", "Check the documentation", "Please file an issue")


def _one_line(text: str, limit: int = 160) -> str:
    """``text`` as one printable line: whitespace runs as one space, other control characters (terminal escape
    codes included) shown as ``\\xNN``, cut at a word boundary (marked ``...``) beyond ``limit`` characters."""
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}"
                   for c in " ".join(text.split()))
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,;:(") + " ..."


def _load_problem(exc: Exception) -> str:
    """One line for a checkpoint torch cannot load safely (torch's own text runs over several lines and suggests
    ``weights_only=False``, which spinsyn never does)."""
    text = str(exc)
    m = re.search(r"[Uu]nsupported (?:global: )?GLOBAL (\S+)", text)
    if m:
        return (f"holds pickled Python objects ({_one_line(m.group(1), 80)}), which spinsyn never loads (checkpoints "
                "are read with torch.load(weights_only=True)); not a spinsyn-checkpoint file")
    m = re.search(r"WeightsUnpickler error:\s*(.+)", text)
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.strip().startswith(_TORCH_BOILERPLATE)]
    first = m.group(1) if m else (lines or [type(exc).__name__])[0]
    return f"not a readable spinsyn-checkpoint file ({_one_line(first, 120)})"


def compiled_rule(ck: dict[str, Any]) -> CompiledRule:
    """The compiled learning rule stored in a checkpoint read by :func:`read_checkpoint`."""
    return CompiledRule.from_record(json.loads(ck["rule_json"]), ck["rule_f_tab"].numpy())


def net_state(ck: dict[str, Any]) -> NetState:
    """The learned state stored in a checkpoint (copies; placeholders of shape (1, 1) for ideal synapses)."""
    def arr(k, default):
        return ck[k].numpy().copy() if k in ck else default

    return NetState(arr("w", None), arr("state", np.zeros((1, 1), np.int32)), arr("gp_S", np.ones((1, 1))),
                    arr("gap_S", np.ones((1, 1))), arr("theta", None))


# ---------------------------------------------------------------------------------------------- value checks
class _Want(NamedTuple):
    """What one checkpoint array must be: ``shape`` (None: any length), integers or numbers, the closed range
    [``lo``, ``hi``] (None: unbounded), whether it must be there, and what the range means."""

    shape: tuple[int | None, ...]
    ints: bool
    lo: float | None
    hi: float | None
    required: bool = True
    meaning: str = ""


def _check_values(path: Path, ck: dict[str, Any]) -> Synapse:
    """Range-check a checkpoint: raw v3 arrays (before ``w``/``g_S`` are derived from them) or a loaded v2 dict.
    Its JSON texts, the config (the train options' checks), the synapse spec against the device record, then
    every array's dtype, shape (784 × N with N = the config's ``network.n_neurons``) and range, and the training
    position. Vectorised: one or two passes over each array. Returns the synapse (on the record's device, with
    the config's options). SpinsynFileError "<path>: <array> <problem>" on the first problem found."""
    text = {key: _json_text(path, ck, key, kind) for key, kind in
            (("config_json", dict), ("synapse_device_json", dict), ("rule_json", dict), ("history_json", list))}
    cfg, params = _stored_config(path, text["config_json"])
    syn = _stored_synapse(path, ck.get("synapse_spec"), text["synapse_device_json"], cfg)
    n = params.n_neurons
    arrays: dict[str, np.ndarray] = {}
    for key, want in _wanted(syn, n, ck).items():
        if key in ck:
            arrays[key] = _check_array(path, key, _as_array(path, key, ck[key]), want, n)
        elif want.required:
            raise SpinsynFileError(f"{path}: checkpoint lacks {key!r} (stored for {syn.spec} synapses)")
    _check_rule_record(path, text["rule_json"], arrays["rule_f_tab"])
    _check_progress(path, arrays, cfg, text["history_json"])
    return syn


def _json_text(path: Path, ck: dict[str, Any], key: str, kind: type) -> Any:
    """The JSON text ``ck[key]`` decoded, a ``kind`` (dict or list)."""
    val = ck.get(key)
    if not isinstance(val, str):
        raise SpinsynFileError(f"{path}: {key} is {'missing' if val is None else 'not text'}; a checkpoint "
                               "stores it as JSON text")
    try:
        doc = json.loads(val)
    except (ValueError, RecursionError) as exc:
        raise SpinsynFileError(f"{path}: {key} is not valid JSON ({_one_line(str(exc), 100)})") from None
    if not isinstance(doc, kind):
        what = "an object" if kind is dict else "a list"
        raise SpinsynFileError(f"{path}: {key} is JSON {type(doc).__name__}; expected {what}")
    return doc


def _stored_config(path: Path, doc: dict) -> tuple[TrainConfig, NetworkParams]:
    """The run's config and network, through the checks the train options get (``check_stored_config``)."""
    try:
        cfg = TrainConfig.from_dict(doc)
        params, _ = check_stored_config(cfg)
    except (ValueError, RecursionError) as exc:
        raise SpinsynFileError(f"{path}: config_json: {_one_line(str(exc))}") from None
    return cfg, params


def _stored_synapse(path: Path, spec_text: Any, record: dict, cfg: TrainConfig) -> Synapse:
    """The synapse on the stored device record; its spec must be the ``synapse_spec`` entry and the config's
    ``synapse``, a compound record's model must have that many MTJs, its conductance bounds 0 ≤ g_min < g_max."""
    try:
        syn = synapse_from_record(record)
        spec_n = getattr(syn.device.model, "n_mtj", syn.spec.n) if syn.spec.kind == KIND_COMPOUND else syn.spec.n
        gmin, gmax = syn.g_bounds_S()
    except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
        raise SpinsynFileError(f"{path}: synapse_device_json: {_one_line(str(exc))}") from None
    if spec_n != syn.spec.n:
        raise SpinsynFileError(f"{path}: synapse_device_json: spec {syn.spec} but its device model has {spec_n!r} "
                               "MTJs per synapse")
    if not (np.isfinite(gmin) and np.isfinite(gmax) and 0.0 <= gmin < gmax):
        raise SpinsynFileError(f"{path}: synapse_device_json: conductance bounds {gmin:g}..{gmax:g} S; expected "
                               "finite 0 <= g_min < g_max")
    for key, text in (("synapse_spec", spec_text), ("config_json synapse", cfg.synapse)):
        try:
            spec = SynapseSpec.parse(text) if isinstance(text, str) else None
        except ValueError:
            spec = None
        if spec is not None and spec.kind == syn.spec.kind == KIND_GRADED and spec.n == 0:
            spec = syn.spec  # ``graded`` = graded:P of the device
        if spec != syn.spec:
            raise SpinsynFileError(f"{path}: {key} {_one_line(str(text), 40)!r} does not match the device record's "
                                   f"{syn.spec} (synapse_device_json)")
    try:
        return check_synapse(synapse_from_record(record, **cfg.synapse_options))
    except (ValueError, TypeError) as exc:
        raise SpinsynFileError(f"{path}: config_json: {_one_line(str(exc))}") from None


def _wanted(syn: Synapse, n: int, ck: dict[str, Any]) -> dict[str, _Want]:
    """The arrays a checkpoint of ``syn`` with ``n`` neurons holds and what each must be (v2 files also hold
    ``w`` and ``g_S``; v3 files of leveled synapses their levels instead)."""
    v2, grid = "g_S" in ck, (N_INPUT, n)
    want = {"theta": _Want((n,), False, None, None),
            "rule_f_tab": _Want((None,), False, -1.0, 1.0, meaning="the rule's f normalised to max |f| = 1"),
            "position": _Want((2,), True, 0, None, meaning="epoch, images done in it"),
            "recent_counts": _Want((None, n), True, 0, None, meaning="spike counts"),
            "recent_labels": _Want((None,), True, 0, 9, meaning="MNIST classes"),
            "assignments": _Want((n,), True, -1, 9, False, "-1 = unassigned, else a class"),
            "proportions": _Want((n, 10), False, 0.0, 1.0, False, "fractions"),
            "w": _Want(grid, False, 0.0, 1.0, v2 or syn.kind in SYN_FLOAT_KINDS, "weights"),
            "g_S": _Want(grid, False, 0.0, None, v2, "conductances in S")}
    if syn.kind == SYN_COMPOUND:
        want["state"] = _Want(grid, True, 0, syn.n_states, meaning=f"P-MTJs per synapse of {syn.spec}")
        want["gp_S"] = _Want(grid, False, 0.0, None, meaning="conductances in S")
        want["gap_S"] = _Want(grid, False, 0.0, None, meaning="conductances in S")
    elif syn.kind not in SYN_FLOAT_KINDS:
        want["state"] = _Want(grid, True, 0, syn.n_states - 1, meaning=f"the level indices of {syn.spec}")
        want["w_source"] = _Want((n,), True, 0, 1, not v2 and "w" not in ck, "0 = level, 1 = conductance")
    return want


def _as_array(path: Path, key: str, val: Any) -> np.ndarray:
    """``val`` (a numpy array, or a v2 torch tensor) as a numpy array."""
    if isinstance(val, np.ndarray):
        return val
    import torch  # lazy: startup

    if not isinstance(val, torch.Tensor):
        raise SpinsynFileError(f"{path}: {key} is a {type(val).__name__}; expected an array")
    try:
        return val.numpy()
    except (TypeError, RuntimeError):
        raise SpinsynFileError(f"{path}: {key} has dtype {val.dtype}, which spinsyn does not read") from None


def _check_array(path: Path, key: str, a: np.ndarray, want: _Want, n: int) -> np.ndarray:
    """``a`` when it has ``want``'s dtype, shape and range (NaN and ±inf never); two passes (min, max)."""
    if a.dtype.kind not in ("iu" if want.ints else "fiu"):
        raise SpinsynFileError(f"{path}: {key} has dtype {a.dtype}; expected {'integers' if want.ints else 'numbers'}")
    if a.ndim != len(want.shape) or any(w is not None and s != w for s, w in zip(a.shape, want.shape)):
        shape = "(" + ", ".join("k" if w is None else str(w) for w in want.shape) + ("," if len(want.shape) == 1
                                                                                   else "") + ")"
        per = ", ".join(([f"{N_INPUT} inputs"] if N_INPUT in want.shape else [])
                        + ([f"{n} neurons from config_json"] if n in want.shape else []))
        per = f" ({per})" if per else ""
        raise SpinsynFileError(f"{path}: {key} has shape {tuple(a.shape)}; expected {shape}{per}")
    if a.size == 0:
        return a
    lo, hi = a.min(), a.max()  # NaN propagates through both
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise SpinsynFileError(f"{path}: {key} holds non-finite values (NaN or inf)")
    if (want.lo is not None and lo < want.lo) or (want.hi is not None and hi > want.hi):
        rng = (f"{want.lo:g}..{want.hi:g}" if want.hi is not None else f">= {want.lo:g}") if want.ints else \
            (f"[{want.lo:g}, {want.hi:g}]" if want.hi is not None else f">= {want.lo:g}")
        raise SpinsynFileError(f"{path}: {key} holds values {lo:g}..{hi:g}; expected {rng}"
                               + (f" ({want.meaning})" if want.meaning else ""))
    return a


def _check_rule_record(path: Path, rec: dict, f_tab: np.ndarray) -> None:
    """The compiled rule (``rule_json`` + ``rule_f_tab``): a known kind, learning rates within the ``--nu`` bounds,
    trace decay in [0, 1], spread ≥ 0 and offset in [−1, 1], all finite."""
    try:
        rule = CompiledRule.from_record(rec, f_tab)
        check_scalar(rule.kind, "kind", int, min_val=RULE_TRACE, max_val=RULE_POSTPRE)
        for name in ("nu_pre", "nu_post"):
            check_scalar(getattr(rule, name), name, float, min_val=0.0, max_val=NU_MAX)
        check_scalar(rule.trace_decay, "trace_decay", float, min_val=0.0, max_val=1.0)
        check_scalar(rule.spread, "spread", float, min_val=0.0)
        check_scalar(rule.offset, "offset", float, min_val=-1.0, max_val=1.0)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise SpinsynFileError(f"{path}: rule_json: {_one_line(str(exc))}") from None


def _check_progress(path: Path, arrays: dict[str, np.ndarray], cfg: TrainConfig, history: list) -> None:
    """The training position inside the run's epochs and images, one label per recent response, and the
    running-accuracy history as points {samples ≥ 0, running_accuracy in [0, 1]}."""
    epoch, done = (int(x) for x in arrays["position"])
    if epoch > cfg.epochs or done >= cfg.n_train or (epoch == cfg.epochs and done > 0):
        raise SpinsynFileError(f"{path}: position ({epoch}, {done}) lies outside the run ({cfg.epochs} epochs of "
                               f"{cfg.n_train} images in config_json)")
    rows, labels = len(arrays["recent_counts"]), len(arrays["recent_labels"])
    if rows != labels:
        raise SpinsynFileError(f"{path}: recent_counts has {rows} rows but recent_labels {labels} labels")
    for i, pt in enumerate(history):
        ok = isinstance(pt, dict) and all(isinstance(pt.get(k), (int, float)) and not isinstance(pt.get(k), bool)
                                          for k in ("samples", "running_accuracy"))
        if not (ok and pt["samples"] >= 0 and 0.0 <= pt["running_accuracy"] <= 1.0):
            raise SpinsynFileError(f"{path}: history_json point {i} is {_one_line(str(pt), 80)}; expected "
                                   "{samples >= 0, running_accuracy in [0, 1]}")
