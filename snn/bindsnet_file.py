"""Read a network file written by BindsNET's ``Network.save()`` **without executing its pickle**.

``Network.save`` is ``torch.save(network)``: a zip archive holding ``<name>/data.pkl`` (a pickle of the whole
network object) and ``<name>/data/<key>`` (the raw bytes of every tensor storage). Loading it with
``torch.load`` or ``bindsnet.network.load`` runs whatever callables the pickle names. Here the pickle stream is
read with a :class:`pickle.Unpickler` whose ``find_class`` never imports anything:

* BindsNET classes on an allow-list (:data:`BINDSNET_CLASSES`) become inert :class:`Record` objects that only
  store the state the pickle hands them (``rec.class_path``, ``rec.state``);
* tensors are rebuilt as numpy arrays straight from the storage bytes (``persistent_load``; bounds checked);
* a few harmless builtins are allowed (``set``, ``OrderedDict``; ``getattr`` returns an inert
  :class:`AttrRef`, never the attribute);
* every other global (``os.system``, ``builtins.eval``, any other module) raises :class:`UnsafePickleError`
  naming it, before anything is called.

Nothing is imported from ``bindsnet``: the file is read the same whether BindsNET is installed or not. The
legacy (pre-zip, torch < 1.6) format is refused with a message.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.fileio import SpinsynFileError

#: BindsNET 0.3.x classes a ``DiehlAndCook2015`` (and its monitors and learning rules) pickles
BINDSNET_CLASSES = frozenset(
    [f"bindsnet.network.network.{n}" for n in ("Network",)]
    + [f"bindsnet.models.models.{n}" for n in ("DiehlAndCook2015", "DiehlAndCook2015v2", "IncreasingInhibitionNetwork")]
    + [f"bindsnet.network.nodes.{n}" for n in ("Input", "DiehlAndCookNodes", "LIFNodes", "AdaptiveLIFNodes",
                                                "IFNodes", "McCullochPitts", "RealInput")]
    + [f"bindsnet.network.topology.{n}" for n in ("Connection", "MulticompartmentConnection")]
    + [f"bindsnet.network.topology_features.{n}" for n in ("Weight", "Bias", "Intensity", "Mask")]
    + [f"bindsnet.network.monitors.{n}" for n in ("Monitor", "NetworkMonitor")]
    + [f"bindsnet.learning.learning.{n}" for n in ("NoOp", "PostPre", "WeightDependentPostPre", "Hebbian")]
    + [f"bindsnet.learning.MCC_learning.{n}" for n in ("NoOp", "PostPre", "DiehlAndCook", "MSTDP", "MSTDPET")]
)
#: torch storage class → numpy dtype of its elements
_STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
                   "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
                   "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
                   "BoolStorage": np.bool_}


class UnsafePickleError(SpinsynFileError):
    """The pickle names a callable outside the allow-list (it was not called)."""


class Record:
    """Inert stand-in for an allow-listed BindsNET object: ``class_path`` and the pickled ``state``."""

    class_path = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> Record:
        obj = object.__new__(cls)
        obj.state, obj.args = {}, args
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # REDUCE calls cls(*args): store, never act
        self.args = args

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slot state)
            state = {**(state[0] or {}), **(state[1] or {})}
        self.state = dict(state) if isinstance(state, dict) else {"_state": state}

    def __repr__(self) -> str:
        return f"<record {self.class_path}>"

    def get(self, name: str, default: Any = None) -> Any:
        """An attribute as torch would restore it: instance dict, then parameters, buffers, modules."""
        if name in self.state:
            return self.state[name]
        for part in ("_parameters", "_buffers", "_modules"):
            d = self.state.get(part) or {}
            if name in d:
                return d[name]
        return default


class AttrRef:
    """Inert result of ``getattr(obj, name)`` in a pickle (a bound method, a torch function): never resolved."""

    def __init__(self, owner: Any, name: str) -> None:
        self.owner, self.name = owner, name

    def __repr__(self) -> str:
        return f"<attribute {self.name!r} of {self.owner!r}>"


class _TorchName:
    """Inert marker for an allowed torch global that is only referenced, never called (a storage type)."""

    def __init__(self, path: str) -> None:
        self.path = path


def _record_class(path: str, cache: dict[str, type]) -> type:
    if path not in cache:
        cache[path] = type(path.rsplit(".", 1)[1], (Record,), {"class_path": path, "__module__": __name__})
    return cache[path]


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, read_storage, where: str) -> None:
        super().__init__(io.BytesIO(data))
        self.read_storage, self.where, self.classes = read_storage, where, {}

    def find_class(self, module: str, name: str) -> Any:
        path = f"{module}.{name}"
        if path in BINDSNET_CLASSES:
            return _record_class(path, self.classes)
        simple = {"builtins.set": set, "__builtin__.set": set, "builtins.frozenset": frozenset,
                  "collections.OrderedDict": OrderedDict, "builtins.getattr": AttrRef,
                  "__builtin__.getattr": AttrRef, "torch._utils._rebuild_tensor_v2": _rebuild_tensor,
                  "torch._utils._rebuild_parameter": _rebuild_parameter, "torch.device": str,
                  "torch.Size": tuple, "torch._C._VariableFunctionsClass": _TorchName(path)}
        if path in simple:
            return simple[path]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _TorchName(path)
        raise UnsafePickleError(f"{self.where}: refuses to load {path} (the pickle calls it; spinsyn reads BindsNET "
                                "network files without running code and allows only BindsNET's own classes and "
                                "torch tensors); nothing was executed")

    def persistent_load(self, pid: Any) -> np.ndarray:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _TorchName)):
            raise SpinsynFileError(f"{self.where}: unexpected persistent id {str(pid)[:80]} (not a torch storage)")
        return self.read_storage(str(pid[2]), pid[1].path.rsplit(".", 1)[1], int(pid[4]))


def _rebuild_tensor(storage: np.ndarray, offset: int, size: tuple, stride: tuple, *_: Any) -> np.ndarray:
    """A (copied) numpy array from a storage with torch's offset, size and stride (in elements), bounds checked."""
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride) or any(s < 0 for s in size + stride) or offset < 0:
        raise SpinsynFileError(f"bad tensor layout (size {size}, stride {stride}, offset {offset})")
    if 0 in size:
        return np.zeros(size, storage.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= storage.size:
        raise SpinsynFileError(f"tensor of size {size} runs past its storage of {storage.size} elements")
    view = np.lib.stride_tricks.as_strided(storage[offset:], size, tuple(s * storage.itemsize for s in stride),
                                           writeable=False)
    return np.array(view)


def _rebuild_parameter(data: np.ndarray, *_: Any) -> np.ndarray:
    return data


def _storage_reader(zf: zipfile.ZipFile, prefix: str, where: str):
    order = "little"
    if f"{prefix}byteorder" in zf.namelist():
        order = zf.read(f"{prefix}byteorder").decode("ascii", "replace").strip()
    cache: dict[str, np.ndarray] = {}

    def read(key: str, type_name: str, numel: int) -> np.ndarray:
        if key not in cache:
            name = f"{prefix}data/{key}"
            if name not in zf.namelist():
                raise SpinsynFileError(f"{where}: storage {key} missing from the archive")
            raw = zf.read(name)
            dt = _STORAGE_DTYPES[type_name]
            if dt == "bfloat16":  # numpy has none: the upper 16 bits of a float32
                a = (np.frombuffer(raw, "<u2" if order == "little" else ">u2").astype(np.uint32) << 16).view("<f4")
            else:
                a = np.frombuffer(raw, np.dtype(dt).newbyteorder("<" if order == "little" else ">"))
            if a.size < numel:
                raise SpinsynFileError(f"{where}: storage {key} holds {a.size} elements, {numel} expected")
            cache[key] = a.astype(a.dtype.newbyteorder("="))
        return cache[key]

    return read


def read_bindsnet_file(path: str | Path) -> Any:
    """The object pickled in a BindsNET ``Network.save()`` file as inert :class:`Record` objects (tensors as
    numpy arrays). Raises :class:`UnsafePickleError` for any callable outside the allow-list, and
    ``SpinsynFileError`` for a file that is not a torch zip archive; both name the file."""
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head != b"PK\x03\x04":
        if head[:1] == b"\x80" or head[:2] == b"\x8a\x0a":
            raise SpinsynFileError(f"{path}: legacy (pre-zip, torch < 1.6) torch file; spinsyn reads only the zip "
                                   "format that torch.save has written since torch 1.6: load and re-save it with a "
                                   "current torch where you trust it")
        raise SpinsynFileError(f"{path}: not a torch zip archive (BindsNET's Network.save() writes one)")
    try:
        with zipfile.ZipFile(path) as zf:
            pkl = [n for n in zf.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
            if len(pkl) != 1:
                raise SpinsynFileError(f"{path}: no data.pkl in the archive (not written by torch.save)")
            prefix = pkl[0][: -len("data.pkl")]
            return _Unpickler(zf.read(pkl[0]), _storage_reader(zf, prefix, str(path)), str(path)).load()
    except (zipfile.BadZipFile, pickle.UnpicklingError, EOFError) as exc:
        raise SpinsynFileError(f"{path}: unreadable torch archive ({exc})") from None
