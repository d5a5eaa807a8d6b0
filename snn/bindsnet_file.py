"""Read a network file written by BindsNET's ``Network.save()`` **without executing its pickle**.

``Network.save`` is ``torch.save(network)``: a zip archive holding ``<name>/data.pkl`` (a pickle of the whole
network object) and ``<name>/data/<key>`` (the raw bytes of every tensor storage). Loading it with
``torch.load`` or ``bindsnet.network.load`` runs whatever callables the pickle names. Here the pickle stream is
read with a :class:`pickle.Unpickler` whose ``find_class`` never imports anything:

* BindsNET classes on an allow-list (:data:`BINDSNET_CLASSES`) become inert :class:`Record` objects that only
  store the state the pickle hands them (``rec.class_path``, ``rec.state``);
* tensors are rebuilt as numpy arrays straight from the storage bytes (``persistent_load``), after their
  size, stride and offset are checked against the storage's element count and every byte allocated is counted
  against :func:`spinsyn.safeload.read_budget` (zip members, the pickle and storages are read bounded too);
* a few harmless builtins are allowed, each checking its arguments (``set``, ``OrderedDict``, ``torch.Size``,
  ``torch.device``; ``getattr`` returns an inert :class:`AttrRef`, never the attribute, and calling one is
  refused);
* every other global (``os.system``, ``builtins.eval``, any other module) raises :class:`UnsafePickleError`
  naming it, before anything is called.

Whatever else goes wrong inside the pickle (a malformed opcode, a bad argument to an allowed callable, a
truncated stream) is one :class:`~spinsyn.fileio.SpinsynFileError` line naming the file, never a traceback.

Nothing is imported from ``bindsnet``: the file is read the same whether BindsNET is installed or not. The
legacy (pre-zip, torch < 1.6) format is refused with a message.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from spinsyn.fileio import SpinsynFileError
from spinsyn.safeload import check_zip, clean_text, file_error, mib, open_zip, over_budget, read_budget, read_member

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
_STORAGE_DTYPES: dict[str, npt.DTypeLike] = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}
#: largest ``data.pkl`` read (bytes; a BindsNET network pickles to a few KB, its tensors live in storages)
PICKLE_LIMIT = 4 << 20
#: a tensor may reuse its storage's elements (stride 0, overlapping strides) only up to this many bytes
EXPAND_LIMIT = 64 << 20
#: most dimensions of a tensor, largest single dimension
MAX_NDIM, MAX_DIM = 32, 1 << 40


class UnsafePickleError(SpinsynFileError):
    """The pickle names a callable outside the allow-list (it was not called)."""


class _Malformed(SpinsynFileError):
    """A problem found inside the pickle, raised without the file name (:func:`read_bindsnet_file` adds it)."""


class _Budget:
    """Bytes the read of one file may still allocate (storages and rebuilt tensors)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0

    def take(self, nbytes: int, what: str) -> None:
        if self.used + nbytes > self.limit:
            raise _Malformed(f"{what} " + over_budget(self.used + nbytes, self.limit))
        self.used += nbytes


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
            parts = [p for p in state if p is not None]
            if not all(isinstance(p, dict) for p in parts):
                raise _Malformed(f"{self.class_path} is given a state of {[type(p).__name__ for p in parts]}")
            state = {k: v for p in parts for k, v in p.items()}
        self.state = dict(state) if isinstance(state, dict) else {"_state": state}

    def __repr__(self) -> str:
        return f"<record {self.class_path}>"

    def get(self, name: str, default: Any = None) -> Any:
        """An attribute as torch would restore it: instance dict, then parameters, buffers, modules."""
        if name in self.state:
            return self.state[name]
        for part in ("_parameters", "_buffers", "_modules"):
            d = self.state.get(part) or {}
            if isinstance(d, dict) and name in d:
                return d[name]
        return default


class AttrRef:
    """Inert result of ``getattr(obj, name)`` in a pickle (a bound method, a torch function): never resolved, and
    calling it is refused."""

    def __init__(self, owner: Any, name: str, *default: Any) -> None:
        if not isinstance(name, str):
            raise _Malformed(f"getattr() with {_a(name)} for the attribute name")
        self.owner, self.name = owner, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise _Malformed(f"the pickle calls attribute {clean_text(self.name, 60)!r} of {_a(self.owner)}; refused "
                         "(spinsyn never calls what a file names); nothing was executed")

    def __repr__(self) -> str:
        return f"<attribute {self.name!r} of {type(self.owner).__name__}>"


class _TorchName:
    """Inert marker for an allowed torch global that is only referenced, never called (a storage type)."""

    def __init__(self, path: str) -> None:
        self.path, self.name = path, path.rsplit(".", 1)[1]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise _Malformed(f"the pickle calls {self.path}; refused (only referenced as a storage type by torch)")


def _record_class(path: str, cache: dict[str, type]) -> type:
    if path not in cache:
        cache[path] = type(path.rsplit(".", 1)[1], (Record,), {"class_path": path, "__module__": __name__})
    return cache[path]


def _a(x: Any) -> str:
    """"a list", "an int": the type of a value from the pickle, for a message."""
    name = type(x).__name__
    return f"{'an' if name[:1] in 'aeiouAEIOU' else 'a'} {name}"


def _items(x: Any, what: str) -> Any:
    if not isinstance(x, (list, tuple, set, frozenset, dict)):
        raise _Malformed(f"{what}() is given {_a(x)}, not a collection")
    return x


def _set(items: Any = ()) -> set:
    return set(_items(items, "set"))


def _frozenset(items: Any = ()) -> frozenset:
    return frozenset(_items(items, "frozenset"))


def _ordered_dict(items: Any = ()) -> OrderedDict:
    return OrderedDict(_items(items, "OrderedDict"))


def _int_tuple(x: Any, what: str) -> tuple[int, ...]:
    if not isinstance(x, (tuple, list)) or len(x) > MAX_NDIM or not all(type(v) is int for v in x):
        raise _Malformed(f"{what} is {_a(x)}{f' of {len(x)}' if isinstance(x, (tuple, list)) else ''}, "
                         f"not up to {MAX_NDIM} integers")
    return tuple(x)


def _size(dims: Any = ()) -> tuple[int, ...]:
    return _int_tuple(dims, "torch.Size")


def _device(kind: Any, index: Any = None) -> str:
    if not isinstance(kind, str) or len(kind) > 64 or not (index is None or type(index) is int):
        raise _Malformed(f"torch.device() is given {_a(kind)} (expects a device name)")
    return kind if index is None else f"{kind}:{index}"


_SIMPLE = {"builtins.set": _set, "__builtin__.set": _set, "builtins.frozenset": _frozenset,
           "__builtin__.frozenset": _frozenset, "collections.OrderedDict": _ordered_dict,
           "builtins.getattr": AttrRef, "__builtin__.getattr": AttrRef, "torch.device": _device, "torch.Size": _size}


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, read_storage, where: str, budget: _Budget) -> None:
        super().__init__(io.BytesIO(data))
        self.classes: dict[str, type] = {}
        self.read_storage, self.where, self.budget = read_storage, where, budget

    def find_class(self, module: str, name: str) -> Any:
        path = f"{module}.{name}"
        if path in BINDSNET_CLASSES:
            return _record_class(path, self.classes)
        if path in _SIMPLE:
            return _SIMPLE[path]
        if path == "torch._utils._rebuild_tensor_v2":
            return lambda *a, **k: _rebuild_tensor(*a, **k, budget=self.budget)
        if path == "torch._utils._rebuild_parameter":
            return _rebuild_parameter
        if path == "torch._C._VariableFunctionsClass" or (module == "torch" and name in _STORAGE_DTYPES):
            return _TorchName(path)
        raise UnsafePickleError(f"{clean_text(self.where, None)}: refuses to load {clean_text(path, 120)} (the pickle "
                                "calls it; spinsyn reads BindsNET network files without running code and allows only "
                                "BindsNET's own classes and torch tensors); nothing was executed")

    def persistent_load(self, pid: Any) -> np.ndarray:
        if not (isinstance(pid, tuple) and len(pid) == 5 and isinstance(pid[0], str) and pid[0] == "storage"):
            raise _Malformed(f"unexpected persistent id ({_a(pid)}, not a torch storage)")
        typ, key, numel = pid[1], pid[2], pid[4]
        if not isinstance(typ, _TorchName) or typ.name not in _STORAGE_DTYPES:
            raise _Malformed(f"a storage of type {getattr(typ, 'path', type(typ).__name__)} (not a torch storage "
                             "type)")
        if type(key) not in (str, int) or len(str(key)) > 64:
            raise _Malformed(f"a storage key that is {_a(key)}, not a short name")
        if type(numel) is not int or numel < 0:
            raise _Malformed(f"storage {clean_text(key, 64)} declares {clean_text(numel, 40)} elements")
        return self.read_storage(str(key), typ.name, numel)


def _rebuild_tensor(storage: np.ndarray, offset: int, size: tuple, stride: tuple, *_: Any,
                    budget: _Budget | None = None) -> np.ndarray:
    """A (copied) numpy array from a storage with torch's offset, size and stride (in elements). Before anything
    is allocated: sizes, strides and offset must be non-negative integers, the last element reached
    (offset + Σ (size_i − 1)·stride_i) must lie inside the storage, a tensor reusing its storage's elements (stride
    0) may not exceed :data:`EXPAND_LIMIT` bytes, and its bytes are taken from ``budget``."""
    if not isinstance(storage, np.ndarray):
        raise _Malformed(f"a tensor is rebuilt from {_a(storage)}, not a storage")
    size, stride = _int_tuple(size, "tensor size"), _int_tuple(stride, "tensor stride")
    if (len(size) != len(stride) or any(s < 0 for s in size + stride) or type(offset) is not int or offset < 0
            or any(s > MAX_DIM for s in size)):
        raise _Malformed(f"bad tensor layout (size {size}, stride {stride}, offset {clean_text(repr(offset), 40)})")
    numel = int(np.prod(size, dtype=object)) if size else 1
    if numel == 0:
        return np.zeros(size, storage.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= storage.size:
        raise _Malformed(f"tensor of size {size} (stride {stride}, offset {offset}) runs past its storage of "
                         f"{storage.size} elements")
    nbytes = numel * storage.itemsize
    if numel > storage.size and nbytes > EXPAND_LIMIT:
        raise _Malformed(f"tensor of size {size} (stride {stride}) repeats the {storage.size} elements of its storage "
                         f"to {mib(nbytes)} (more than {mib(EXPAND_LIMIT)}); refused")
    (budget or _Budget(read_budget())).take(nbytes, f"tensor of size {size}")
    view = np.lib.stride_tricks.as_strided(storage[offset:], size, tuple(s * storage.itemsize for s in stride),
                                           writeable=False)
    return np.array(view)


def _rebuild_parameter(data: Any, *_: Any) -> np.ndarray:
    if not isinstance(data, np.ndarray):
        raise _Malformed(f"a parameter wraps {_a(data)}, not a tensor")
    return data


class _Storages:
    """``read(key, type_name, numel)``: the storage ``<prefix>data/<key>`` as a 1-D numpy array, its bytes checked
    against the elements the pickle declares and taken from the budget (each key read once)."""

    def __init__(self, path: Path, zf: zipfile.ZipFile, members: dict, prefix: str, budget: _Budget) -> None:
        self.path, self.zf, self.members, self.prefix, self.budget = path, zf, members, prefix, budget
        self.cache: dict[str, tuple[str, np.ndarray]] = {}
        self.order = "little"
        info = members.get(f"{prefix}byteorder")
        if info is not None:
            self.order = read_member(path, zf, info, 16).decode("ascii", "replace").strip()
            if self.order not in ("little", "big"):
                raise _Malformed(f"byteorder {clean_text(self.order, 20)!r} (expected 'little' or 'big')")

    def __call__(self, key: str, type_name: str, numel: int) -> np.ndarray:
        if key in self.cache:
            cached_type, a = self.cache[key]
            if cached_type != type_name or a.size < numel:
                raise _Malformed(f"storage {key} is used as {numel} {type_name} elements and as {a.size} "
                                 f"{cached_type} elements")
            return a
        info = self.members.get(f"{self.prefix}data/{key}")
        if info is None:
            raise _Malformed(f"storage {key} missing from the archive")
        dt = _STORAGE_DTYPES[type_name]
        itemsize = 2 if dt == "bfloat16" else np.dtype(dt).itemsize
        nbytes = numel * itemsize
        self.budget.take(nbytes * (3 if dt == "bfloat16" else 1), f"storage {key} ({numel} {type_name} elements)")
        raw = read_member(self.path, self.zf, info, nbytes, declared_limit=False)
        if len(raw) < nbytes:
            raise _Malformed(f"storage {key} holds {len(raw)} bytes but its tensor declares {numel} {type_name} "
                             f"elements ({nbytes} bytes): short storage, the file is truncated or forged")
        bo: Literal["<", ">"] = "<" if self.order == "little" else ">"
        if dt == "bfloat16":  # numpy has none: the upper 16 bits of a float32
            a = (np.frombuffer(raw, bo + "u2").astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, np.dtype(dt).newbyteorder(bo))
            a = a.astype(a.dtype.newbyteorder("="), copy=False)
        self.cache[key] = (type_name, a)
        return a


def _load(path: Path, zf: zipfile.ZipFile, budget: _Budget) -> Any:
    members = check_zip(path, zf, budget.limit)
    pkl = [n for n in members if n.endswith("data.pkl") and n.count("/") == 1]
    if len(pkl) != 1:
        raise SpinsynFileError(f"{clean_text(path, None)}: no data.pkl in the archive (not written by torch.save)")
    prefix = pkl[0][: -len("data.pkl")]
    limit = min(PICKLE_LIMIT, max(budget.limit // 128, 1 << 16))
    info = members[pkl[0]]
    if info.file_size > limit:
        raise file_error(path, f"data.pkl declares {mib(info.file_size)}; a network pickle is at most {mib(limit)} "
                         "(its tensors live in separate storages)")
    data = read_member(path, zf, info, limit)
    return _Unpickler(data, _Storages(path, zf, members, prefix, budget), str(path), budget).load()


def read_bindsnet_file(path: str | Path) -> Any:
    """The object pickled in a BindsNET ``Network.save()`` file as inert :class:`Record` objects (tensors as
    numpy arrays). Raises :class:`UnsafePickleError` for any callable outside the allow-list, and
    ``SpinsynFileError`` for anything else wrong (not a torch zip archive, a layout past its storage, a size over
    the read budget, a malformed pickle); every message is one line naming the file."""
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head != b"PK\x03\x04":
        if head[:1] == b"\x80" or head[:2] == b"\x8a\x0a":
            raise file_error(path, "legacy (pre-zip, torch < 1.6) torch file; spinsyn reads only the zip format that "
                             "torch.save has written since torch 1.6: load and re-save it with a current torch where "
                             "you trust it")
        raise file_error(path, "not a torch zip archive (BindsNET's Network.save() writes one)")
    budget = _Budget(read_budget())
    with open_zip(path) as zf:
        try:
            return _load(path, zf, budget)
        except _Malformed as exc:
            raise file_error(path, exc) from None
        except SpinsynFileError:  # already names the file (UnsafePickleError, safeload's refusals)
            raise
        except Exception as exc:  # noqa: BLE001 - anything a hostile pickle or archive raises: one line naming it
            raise file_error(path, f"malformed torch archive or pickle ({type(exc).__name__}: {_exc_text(exc)})"
                             ) from None


def _exc_text(exc: BaseException) -> str:
    """``str(exc)`` cut short (and a placeholder where even that fails)."""
    try:
        return clean_text(str(exc)[:400], 200)
    except Exception:  # noqa: BLE001 - a hostile object's __str__
        return type(exc).__name__
