"""Reading the weights to export: an snn run directory, a ``.npy`` matrix or a ``.pt`` tensor.

Runs are read through ``spinsyn.snn.load_run`` (the one checkpoint reader): they bring their weights, the
trained device states and the ``SynapseDevice`` they trained on. Tensors are loaded with
``torch.load(weights_only=True)`` and ``.npy`` files with ``allow_pickle=False``: files holding pickled
Python objects are refused. Both are bounded first (:mod:`spinsyn.safeload`): a ``.npy`` header's shape must fit
the file's bytes and the read budget, a ``.pt`` archive's members are checked before ``torch.load`` and a tensor
is checked before it is converted to float64.
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.devices import SynapseDevice, SynapseSpec
from spinsyn.fileio import SpinsynFileError, sha256_file
from spinsyn.safeload import check_torch_file, file_error, load_npy, mib, over_budget, read_budget, torch_problem

#: a tensor may repeat its storage's elements (stride 0, ``expand``) only up to this many float64 bytes
EXPAND_LIMIT = 64 << 20


@dataclass(frozen=True)
class WeightSource:
    """Weights read from disk: ``w`` (inputs, outputs) float64, where from, and the natural weight range.

    ``kind``: ``"run"`` (snn run directory), ``"npy"`` or ``"pt"``. ``w_range``: (0, 1) for snn runs
    (their weights live in [0, 1]), None otherwise. Runs also carry ``run_dir``, the trained device
    ``state`` (level index per synapse, None for ideal runs) and the ``device`` they trained on.
    """

    w: np.ndarray
    kind: str
    path: Path
    sha256: str
    w_range: tuple[float, float] | None
    run_dir: Path | None
    state: np.ndarray | None = None
    device: SynapseDevice | None = None

    @property
    def run_spec(self) -> SynapseSpec | None:
        """The synapse spec the run trained with (None for weight files)."""
        return self.device.spec if self.device is not None else None

    def record(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": str(self.path.resolve()), "sha256": self.sha256,
                "run_dir": str(self.run_dir.resolve()) if self.run_dir else None,
                "shape": list(self.w.shape), "run_synapse": str(self.run_spec) if self.run_spec else None}


def _torch_load(path: Path) -> Any:
    import torch  # lazy: startup

    check_torch_file(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        problem = torch_problem(exc)
        if problem.startswith("holds"):
            raise file_error(path, f"refused: the file {problem}; save a plain tensor with torch.save(tensor, path)"
                             ) from None
        raise file_error(path, f"not a readable torch file: {problem}") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file (torch raises many kinds): one line naming it
        raise file_error(path, f"not a readable torch file: {torch_problem(exc)}") from None


def _tensor_bounds(path: Path, t: Any, what: str) -> None:
    """Refuse a tensor whose float64 copy would exceed the read budget, or that repeats the elements of a smaller
    storage (stride 0) to more than :data:`EXPAND_LIMIT` bytes, before it is materialised."""
    nbytes = t.numel() * 8
    stored = t.untyped_storage().nbytes() // max(t.element_size(), 1)
    if t.numel() > stored and nbytes > EXPAND_LIMIT:
        raise file_error(path, f"{what} of shape {tuple(t.shape)} repeats the {stored} elements of its storage to "
                         f"{mib(nbytes)} as float64 (more than {mib(EXPAND_LIMIT)}); refused")
    budget = read_budget()
    if nbytes > budget:
        raise file_error(path, f"{what} of shape {tuple(t.shape)} as float64 " + over_budget(nbytes, budget))


def _as_matrix(path: Path, arr: Any, what: str) -> np.ndarray:
    if hasattr(arr, "detach"):
        if arr.ndim != 2 or min(arr.shape) < 1:
            raise SpinsynFileError(f"{path}: {what} has shape {tuple(arr.shape)}, expected a 2-D matrix "
                                   "(inputs x outputs)")
        if arr.is_complex():
            raise SpinsynFileError(f"{path}: {what} has dtype {arr.dtype}, expected a numeric matrix")
        _tensor_bounds(path, arr, what)
    a = arr.detach().cpu().double().numpy() if hasattr(arr, "detach") else np.asarray(arr)
    if a.dtype.kind not in "fiub":
        raise SpinsynFileError(f"{path}: {what} has dtype {a.dtype}, expected a numeric matrix")
    if a.ndim != 2 or min(a.shape) < 1:
        raise SpinsynFileError(f"{path}: {what} has shape {a.shape}, expected a 2-D matrix (inputs x outputs)")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise SpinsynFileError(f"{path}: {what} contains NaN or infinite values")
    return a


def _npy_source(path: Path) -> WeightSource:
    arr = load_npy(path)  # header checked first: magic, dtype not object, shape within the bytes and the budget
    if arr.dtype.kind in "fiub" and arr.size * 8 > read_budget():
        raise file_error(path, f"the array of shape {arr.shape} as float64 " + over_budget(arr.size * 8,
                                                                                         read_budget()))
    return WeightSource(_as_matrix(path, arr, "the array"), "npy", path, sha256_file(path), None, None)


def _is_npz_checkpoint(path: Path) -> bool:
    """A v3 run checkpoint (an ``.npz`` zip with a ``format.npy`` member), whatever its name."""
    try:
        with zipfile.ZipFile(path) as zf:
            return "format.npy" in zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False


def _pt_source(path: Path, key: str | None) -> WeightSource:
    if _is_npz_checkpoint(path):  # RUN/checkpoint.pt given as a file: snn's own reader, as for the run folder
        return _run_source(path.parent)
    obj = _torch_load(path)
    if not isinstance(obj, dict):
        return WeightSource(_as_matrix(path, obj, "the tensor"), "pt", path, sha256_file(path), None, None)
    from spinsyn.snn import CHECKPOINT_FORMAT  # lazy: startup

    if obj.get("format") == CHECKPOINT_FORMAT:  # a run checkpoint: read again by snn's own reader
        return _run_source(path.parent)
    if key is not None:
        if key not in obj:
            raise SpinsynFileError(f"{path}: --key {key!r} not found; keys: {sorted(map(str, obj))}")
        return WeightSource(_as_matrix(path, obj[key], f"tensor {key!r}"), "pt", path, sha256_file(path), None, None)
    import torch  # lazy: startup

    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor) and v.ndim == 2}
    if len(tensors) != 1:
        raise SpinsynFileError(
            f"{path}: holds {len(tensors)} 2-D tensors {sorted(map(str, tensors))}; pick one with --key")
    (k, t), = tensors.items()
    return WeightSource(_as_matrix(path, t, f"tensor {k!r}"), "pt", path, sha256_file(path), None, None)


def load_weights(src: str | Path, key: str | None = None) -> WeightSource:
    """Read weights from an snn run directory, a checkpoint, a ``.npy`` or a ``.pt`` file.

    ``key`` picks a tensor from a ``.pt`` dict holding several.
    """
    path = Path(src)
    if path.is_dir():
        from spinsyn.snn import checkpoint_path  # lazy: startup

        if not checkpoint_path(path).is_file():
            from spinsyn.snn.conv.run import CONV_NET_NAME  # lazy: startup

            if (path / CONV_NET_NAME).is_file():  # a conv run: three layers, not one matrix (hw_export.convchip)
                raise SpinsynFileError(f"{path}: a conv run holds three layers, not one weight matrix; export it "
                                       "with spinsyn.hw_export.convchip.export_conv_run (spinsyn export RUN --out "
                                       "CHIP writes a conv chip)")
            raise SpinsynFileError(f"{path}: not an snn run directory (no {checkpoint_path(path).name})")
        return _run_source(path)
    if not path.is_file():
        raise SpinsynFileError(f"{path}: file not found (expected a run directory, .npy or .pt)")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _npy_source(path)
    if suffix in (".pt", ".pth"):
        return _pt_source(path, key)
    raise SpinsynFileError(f"{path}: unsupported input {suffix or '(no suffix)'}; expected a run directory, "
                           ".npy or .pt")


def _run_source(run_dir: Path) -> WeightSource:
    """A run through ``spinsyn.snn.load_run``: weights, trained states and the device it trained on."""
    from spinsyn.snn import load_run  # lazy: startup

    net = load_run(run_dir)
    from spinsyn.snn import checkpoint_path  # lazy: startup

    ck = checkpoint_path(run_dir)
    w = _as_matrix(ck, net.w, "'w'")
    state = None
    if net.state is not None and tuple(net.state.shape) == w.shape:
        state = np.asarray(net.state).astype(np.int64)
    return WeightSource(w, "run", ck, sha256_file(ck), (0.0, 1.0), run_dir, state, net.synapse_device)
