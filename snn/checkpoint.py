"""The run checkpoint ``RUN_DIR/checkpoint.pt`` (format ``spinsyn-checkpoint`` v2): snn writes it and owns its
one reader, :func:`read_checkpoint` (hw_export and ``spinsyn eval`` use it).

A v2 checkpoint is self-contained: besides the weights and the training position it carries the synapse spec
and device record (``synapse_spec``, ``synapse_device_json``) and the compiled learning rule (``rule_json`` +
``rule_f_tab``), so loading, evaluating and resuming a run never open the rule or sweep file again. Version 1
checkpoints (no device, no compiled rule) are refused with a message saying so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.fileio import SpinsynFileError, atomic_path

from .engine import NetState
from .kinds import SYN_CONTINUOUS
from .rules import CompiledRule
from .synapses import Synapse

CHECKPOINT_FORMAT, CHECKPOINT_VERSION = "spinsyn-checkpoint", 2
CHECKPOINT_NAME = "checkpoint.pt"
#: keys every v2 checkpoint holds
REQUIRED_KEYS = ("config_json", "synapse_spec", "synapse_device_json", "rule_json", "rule_f_tab", "w", "g_S",
                 "theta", "position", "history_json", "recent_counts", "recent_labels")


def save_checkpoint(path: Path, cfg_json: str, syn: Synapse, rule: CompiledRule, ns: NetState, pos: tuple[int, int],
                    history: list, recent_counts: np.ndarray, recent_labels: np.ndarray, seed: int,
                    extra: dict[str, np.ndarray] | None = None) -> None:
    """Write ``path`` atomically (``extra``: more arrays, e.g. ``assignments`` and ``proportions``)."""
    import torch

    def t(a):  # a copy: the engine keeps mutating its arrays
        return torch.from_numpy(np.array(a))

    ck: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "config_json": cfg_json,
        "synapse_spec": str(syn.spec),
        "synapse_device_json": json.dumps(syn.device.record(), sort_keys=True),
        "rule_json": json.dumps(rule.record(), sort_keys=True),
        "rule_f_tab": t(np.asarray(rule.f_tab, np.float64)),
        "w": t(ns.w),
        "g_S": t(np.asarray(syn.g_S(ns.w, ns.state, ns.gp_S, ns.gap_S), np.float64)),
        "theta": t(ns.theta),
        "position": torch.tensor(pos, dtype=torch.int64),  # (epoch, images done in it)
        "rng_json": json.dumps({"scheme": "splitmix64(seed, epoch, position)", "seed": seed}),
        "history_json": json.dumps(history),
        "recent_counts": t(recent_counts.astype(np.int32)),
        "recent_labels": t(recent_labels.astype(np.int64)),
    }
    if syn.kind != SYN_CONTINUOUS:
        ck.update(state=t(ns.state), gp_S=t(ns.gp_S), gap_S=t(ns.gap_S))
    for k, v in (extra or {}).items():
        ck[k] = t(v)
    with atomic_path(path) as tmp:
        torch.save(ck, tmp)


def checkpoint_path(run_dir: str | Path) -> Path:
    """Where the checkpoint of run directory ``run_dir`` lives."""
    return Path(run_dir) / CHECKPOINT_NAME


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a ``spinsyn-checkpoint`` v2 (a file, or a run directory holding ``checkpoint.pt``) safely
    (``torch.load(weights_only=True)``); tensors stay torch tensors. Raises SpinsynFileError naming the file."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise SpinsynFileError(f"{path}: no checkpoint (expected a run directory written by 'spinsyn train')")
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head != b"PK\x03\x04":  # torch.save writes a zip archive; anything else is refused before importing torch
        what = "empty file (0 bytes)" if not head else "not a torch zip archive"
        raise SpinsynFileError(f"{path}: {what}; not a spinsyn-checkpoint file")
    import torch
    try:
        ck = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - any unreadable file: one message naming it
        raise SpinsynFileError(f"{path}: {_load_problem(exc)}") from None
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise SpinsynFileError(f"{path}: not a {CHECKPOINT_FORMAT!r} file")
    version = ck.get("format_version")
    if version == 1:
        raise SpinsynFileError(f"{path}: format_version 1 (written before checkpoints carried the synapse device "
                               f"and the compiled rule) is no longer read; train the run again")
    if version != CHECKPOINT_VERSION:
        raise SpinsynFileError(f"{path}: format_version {version!r}; expected {CHECKPOINT_VERSION}")
    missing = [k for k in REQUIRED_KEYS if k not in ck]
    if missing:
        raise SpinsynFileError(f"{path}: checkpoint lacks {missing}")
    return ck


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
