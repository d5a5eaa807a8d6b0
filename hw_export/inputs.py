"""Reading the weights to export: an snn run directory, a ``.npy`` matrix or a ``.pt`` tensor.

Tensors are loaded with ``torch.load(weights_only=True)`` and ``.npy`` files with
``allow_pickle=False``: files holding pickled Python objects are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.fileio import SpinsynFileError, sha256_file

CHECKPOINT_NAME = "checkpoint.pt"


@dataclass(frozen=True)
class WeightSource:
    """Weights read from disk: ``w`` (inputs, outputs) float64, where from, and the natural weight range.

    ``kind``: ``"run"`` (snn run directory), ``"npy"`` or ``"pt"``. ``w_range``: (0, 1) for snn runs
    (their weights live in [0, 1]), None otherwise. ``run_dir`` is set for runs.
    """

    w: np.ndarray
    kind: str
    path: Path
    sha256: str
    w_range: tuple[float, float] | None
    run_dir: Path | None
    state: np.ndarray | None = None
    run_synapse: str | None = None

    def levels_for(self, synapse: str, mapping: str) -> np.ndarray | None:
        """The run's trained device levels (784, N) when they fit ``synapse`` (same spec) and a unipolar
        mapping, else None (weights are then quantised from ``w``)."""
        if self.state is None or mapping != "unipolar" or self.run_synapse != synapse:
            return None
        return self.state

    def record(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": str(self.path.resolve()), "sha256": self.sha256,
                "run_dir": str(self.run_dir.resolve()) if self.run_dir else None,
                "shape": list(self.w.shape), "run_synapse": self.run_synapse}


def _torch_load(path: Path) -> Any:
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise SpinsynFileError(
            f"{path}: refused: the file holds pickled Python objects that weights_only loading does not "
            f"allow ({str(exc).splitlines()[0][:160]}); save a plain tensor with torch.save(tensor, path)"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise SpinsynFileError(f"{path}: not a readable torch file ({exc})") from None


def _as_matrix(path: Path, arr: Any, what: str) -> np.ndarray:
    a = arr.detach().cpu().double().numpy() if hasattr(arr, "detach") else np.asarray(arr)
    if a.dtype.kind not in "fiub":
        raise SpinsynFileError(f"{path}: {what} has dtype {a.dtype}, expected a numeric matrix")
    if a.ndim != 2 or min(a.shape) < 1:
        raise SpinsynFileError(f"{path}: {what} has shape {a.shape}, expected a 2-D matrix (inputs x outputs)")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise SpinsynFileError(f"{path}: {what} contains NaN or infinite values")
    return a


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load an snn ``checkpoint.pt`` (format ``spinsyn-checkpoint``, version 1) as a dict."""
    from spinsyn.fileio import check_format

    doc = _torch_load(path)
    if not isinstance(doc, dict):
        raise SpinsynFileError(f"{path}: expected a spinsyn-checkpoint dict, got {type(doc).__name__}")
    check_format(path, doc.get("format"), doc.get("format_version"), "spinsyn-checkpoint", (1,))
    if "w" not in doc:
        raise SpinsynFileError(f"{path}: checkpoint lacks the input weight tensor 'w'")
    return doc


def load_weights(src: str | Path, key: str | None = None) -> WeightSource:
    """Read weights from an snn run directory, a checkpoint, a ``.npy`` or a ``.pt`` file.

    ``key`` picks a tensor from a ``.pt`` dict holding several.
    """
    path = Path(src)
    if path.is_dir():
        ck = path / CHECKPOINT_NAME
        if not ck.is_file():
            raise SpinsynFileError(f"{path}: not an snn run directory (no {CHECKPOINT_NAME})")
        return _run_source(ck, path)
    if not path.is_file():
        raise SpinsynFileError(f"{path}: file not found (expected a run directory, .npy or .pt)")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except ValueError as exc:
            if "pickle" in str(exc).lower():
                raise SpinsynFileError(
                    f"{path}: refused: the .npy holds pickled Python objects; save a numeric array"
                ) from None
            raise SpinsynFileError(f"{path}: not a readable .npy file ({exc})") from None
        except (OSError, EOFError) as exc:
            raise SpinsynFileError(f"{path}: not a readable .npy file ({exc})") from None
        return WeightSource(_as_matrix(path, arr, "the array"), "npy", path, sha256_file(path), None, None)
    if suffix in (".pt", ".pth"):
        obj = _torch_load(path)
        if isinstance(obj, dict):
            if obj.get("format") == "spinsyn-checkpoint":
                return _run_source(path, path.parent)
            import torch

            tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor) and v.ndim == 2}
            if key is not None:
                if key not in obj:
                    raise SpinsynFileError(f"{path}: --key {key!r} not found; keys: {sorted(map(str, obj))}")
                return WeightSource(_as_matrix(path, obj[key], f"tensor {key!r}"), "pt", path,
                                    sha256_file(path), None, None)
            if len(tensors) != 1:
                raise SpinsynFileError(
                    f"{path}: holds {len(tensors)} 2-D tensors {sorted(map(str, tensors))}; pick one with --key"
                )
            (k, t), = tensors.items()
            return WeightSource(_as_matrix(path, t, f"tensor {k!r}"), "pt", path, sha256_file(path), None, None)
        return WeightSource(_as_matrix(path, obj, "the tensor"), "pt", path, sha256_file(path), None, None)
    raise SpinsynFileError(f"{path}: unsupported input {suffix or '(no suffix)'}; expected a run directory, "
                           ".npy or .pt")


def _run_source(ck: Path, run_dir: Path) -> WeightSource:
    import json

    doc = load_checkpoint(ck)
    w = _as_matrix(ck, doc["w"], "'w'")
    synapse = None
    try:
        synapse = str(json.loads(doc.get("config_json", "{}")).get("synapse"))
    except (json.JSONDecodeError, AttributeError):
        pass
    state = None
    if "state" in doc and tuple(doc["state"].shape) == w.shape:
        state = doc["state"].cpu().numpy().astype(np.int64)
    return WeightSource(w, "run", ck, sha256_file(ck), (0.0, 1.0), run_dir, state, synapse)
