"""Bounded reading of untrusted files (issue #21): hostile BindsNET archives and pickles, ``--labels`` tensors,
weight ``.npy``/``.pt`` files and checkpoint ``.npz`` archives are refused with ONE stderr line naming the file,
exit 2, no traceback and no terminal control characters; memory and zip bombs are refused before allocating
(run as subprocesses under an address-space limit, their peak RSS measured).

Every hostile file is built here: pickles by a small writer that emits GLOBAL opcodes for any name (nothing is
imported or called while writing), torch-style zip archives by a raw zip writer that can also declare sizes the
data does not have (and deflate 2 GiB of zeros into 2 MB in a fraction of a second).
"""

from __future__ import annotations

import io
import os
import pickle
import resource
import struct
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from spinsyn.cli import main

from .conftest import spinsyn_cmd

N = 3  # neurons of the hand-built networks
RLIMIT_AS = 2 << 30  # address-space limit of the bomb subprocesses
MAX_RSS = 1 << 30  # their peak resident memory must stay below this


# ------------------------------------------------------------------------------------------------ pickle writer
class G:
    """A global written as a GLOBAL opcode ``module\\nname`` (never imported)."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *args: Any) -> Any:  # pickle's writer wants reduce functions callable
        raise AssertionError("never called")


class Call:
    """``func(*args)`` (REDUCE), then ``BUILD state`` when a state is given."""

    def __init__(self, func: G | Call, *args: Any, state: Any = None) -> None:
        self.func, self.args, self.state = func, args, state

    def __reduce__(self) -> tuple:
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)

    def __call__(self, *args: Any) -> Any:  # a Call may itself be called (REDUCE on its result)
        raise AssertionError("never called")


class Storage:
    """A torch storage reference (a persistent id ``('storage', torch.<type>, key, 'cpu', numel)``)."""

    def __init__(self, key: Any, numel: Any, type_name: str = "FloatStorage", typ: G | None = None) -> None:
        self.key, self.numel, self.typ = key, numel, typ or G("torch", type_name)


class Raw:
    """Bytes written verbatim into the pickle stream (they must push exactly one object)."""

    def __init__(self, data: bytes) -> None:
        self.data = data


class PersistentId:
    """An arbitrary persistent id."""

    def __init__(self, pid: Any) -> None:
        self.pid = pid


class _Writer(pickle._Pickler):
    dispatch = pickle._Pickler.dispatch.copy()

    def _save_global_ref(self, obj: G) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())

    def _save_raw(self, obj: Raw) -> None:
        self.write(obj.data)

    dispatch[G] = _save_global_ref
    dispatch[Raw] = _save_raw

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, Storage):
            return ("storage", obj.typ, obj.key, "cpu", obj.numel)
        if isinstance(obj, PersistentId):
            return obj.pid
        return None


def dumps(obj: Any) -> bytes:
    buf = io.BytesIO()
    _Writer(buf, protocol=2).dump(obj)
    return buf.getvalue()


def odict() -> Call:
    return Call(G("collections", "OrderedDict"))


def tensor(storage: Any, offset: Any, size: Any, stride: Any) -> Call:
    return Call(G("torch._utils", "_rebuild_tensor_v2"), storage, offset, size, stride, False, odict())


def record(path: str, **state: Any) -> Call:
    module, name = path.rsplit(".", 1)
    return Call(G(module, name), state=state)


# --------------------------------------------------------------------------------------------------- zip writer
def write_zip(path: Path, members: list[tuple]) -> Path:
    """A zip of ``(name, data)`` (stored) or ``(name, data, method, declared_size, crc)`` members, written raw so
    that declared sizes can differ from the data."""
    out, central = bytearray(), bytearray()
    for m in members:
        name, data = m[0], m[1]
        method, size, crc = m[2:] if len(m) > 2 else (0, len(data), zlib.crc32(data))
        nb = name.encode()
        off = len(out)
        out += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, method, 0, 33, crc, len(data), size, len(nb), 0)
        out += nb + data
        central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, method, 0, 33, crc, len(data), size,
                               len(nb), 0, 0, 0, 0, 0, off) + nb
    n = len(members)
    out += central + struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, n, n, len(central), len(out), 0)
    path.write_bytes(bytes(out))
    return path


def deflated_zeros(nbytes: int) -> bytes:
    """A raw deflate stream of ``nbytes`` zero bytes (a multiple of 16 MiB), built in ~0.2 s: full-flushed
    16 MiB blocks compress to identical bytes, so one is repeated."""
    c, block = zlib.compressobj(9, zlib.DEFLATED, -15), bytes(16 << 20)
    first = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    return first + again * (nbytes // len(block) - 1) + c.flush()


# ------------------------------------------------------------------------------------------ BindsNET networks
class Net:
    """The parts of a hand-built BindsNET DiehlAndCook2015 file (Connection.w form); cases mutate them."""

    def __init__(self, n: int = N) -> None:
        rng = np.random.default_rng(3)
        self.n = n
        self.w = rng.random((784, n), dtype=np.float32)
        self.theta = (rng.random(n) * 20).astype(np.float32)
        self.storages: dict[str, bytes] = {
            "0": self.w.tobytes(), "1": self.theta.tobytes(),
            "2": (22.5 * np.eye(n, dtype=np.float32)).tobytes(),
            "3": (-120.0 * (1 - np.eye(n, dtype=np.float32))).tobytes()}
        self.W = tensor(Storage("0", 784 * n), 0, (784, n), (n, 1))
        self.ae = {"n": n, "theta": tensor(Storage("1", n), 0, (n,), (1,)), "rest": -65.0, "reset": -60.0,
                   "thresh": -52.0, "refrac": 5, "tc_decay": 100.0, "theta_plus": 0.05, "tc_theta_decay": 1e7,
                   "one_spike": True}
        self.ai = {"n": n, "rest": -60.0, "reset": -45.0, "thresh": -40.0, "refrac": 2, "tc_decay": 10.0}
        self.rule = {"nu": (2e-4, 3e-2)}
        self.net: dict[str, Any] = {"dt": 1.0, "batch_size": 1}
        self.extra_members: list[tuple] = []
        self.byteorder = b"little"
        self.pkl: bytes | None = None  # a whole data.pkl instead of the network
        self.layers: Any = None
        self.connections: Any = None
        self.ai_state: Any = None  # a BUILD state for the Ai record other than its attribute dict

    def build(self) -> Any:
        n = self.n
        ei = tensor(Storage("2", n * n), 0, (n, n), (n, 1))
        ie = tensor(Storage("3", n * n), 0, (n, n), (n, 1))
        rule = record("bindsnet.learning.learning.PostPre", **self.rule)
        layers = self.layers if self.layers is not None else {
            "X": record("bindsnet.network.nodes.Input", n=784),
            "Ae": record("bindsnet.network.nodes.DiehlAndCookNodes", **self.ae),
            "Ai": record("bindsnet.network.nodes.LIFNodes", **self.ai) if self.ai_state is None
            else Call(G("bindsnet.network.nodes", "LIFNodes"), state=self.ai_state)}
        conns = self.connections if self.connections is not None else {
            ("X", "Ae"): record("bindsnet.network.topology.Connection", w=self.W, update_rule=rule, norm=78.4),
            ("Ae", "Ai"): record("bindsnet.network.topology.Connection", w=ei),
            ("Ai", "Ae"): record("bindsnet.network.topology.Connection", w=ie)}
        return record("bindsnet.models.models.DiehlAndCook2015", layers=layers, connections=conns, **self.net)

    def write(self, path: Path) -> Path:
        data = self.pkl if self.pkl is not None else dumps(self.build())
        members = [("archive/data.pkl", data), ("archive/byteorder", self.byteorder), ("archive/version", b"3\n")]
        members += [(f"archive/data/{k}", v) for k, v in self.storages.items()] + self.extra_members
        return write_zip(path, members)


def _set(attr: str, key: str, value: Any) -> Callable[[Net], None]:
    def f(net: Net) -> None:
        getattr(net, attr)[key] = value
    return f


def _weights(storage: Any = None, offset: Any = 0, size: Any = (784, N), stride: Any = (N, 1)) -> Callable:
    def f(net: Net) -> None:
        net.W = tensor(Storage("0", 784 * N) if storage is None else storage, offset, size, stride)
    return f


def _storage_bytes(key: str, data: bytes) -> Callable[[Net], None]:
    def f(net: Net) -> None:
        net.storages[key] = data
    return f


def _pkl(data: bytes) -> Callable[[Net], None]:
    def f(net: Net) -> None:
        net.pkl = data
    return f


def _zero_neurons(net: Net) -> None:
    net.n = 0
    net.storages = {k: b"" for k in "0123"}
    net.W = tensor(Storage("0", 0), 0, (784, 0), (0, 1))
    net.ae.update(n=0, theta=tensor(Storage("1", 0), 0, (0,), (1,)))
    net.ai["n"] = 0


def _theta_as_double(net: Net) -> None:  # storage "0" read as float32 (weights) and as float64 (theta)
    net.ae["theta"] = tensor(Storage("0", N, "DoubleStorage"), 0, (N,), (1,))


def _escape_layers(net: Net) -> None:
    net.layers = {"X": record("bindsnet.network.nodes.Input", n=784),
                  "\x1b[2J\x1b]0;pwned\x07X2": record("bindsnet.network.nodes.Input", n=784),
                  "Ae": record("bindsnet.network.nodes.DiehlAndCookNodes", **net.ae),
                  "Ai": record("bindsnet.network.nodes.LIFNodes", **net.ai)}


def _layer_key(key: Any) -> Callable[[Net], None]:
    def f(net: Net) -> None:
        net.layers = {"X": record("bindsnet.network.nodes.Input", n=784), key: record("bindsnet.network.nodes.Input"),
                      "Ae": record("bindsnet.network.nodes.DiehlAndCookNodes", **net.ae),
                      "Ai": record("bindsnet.network.nodes.LIFNodes", **net.ai)}
    return f


def _conn_int(net: Net) -> None:
    net.connections = {("X", "Ae"): 5, ("Ae", "Ai"): 5, ("Ai", "Ae"): 5}


def _deep(depth: int) -> Raw:
    """A list nested ``depth`` deep (pushed as one object)."""
    return Raw(pickle.EMPTY_LIST * depth + pickle.APPEND * (depth - 1))


_GETATTR = G("builtins", "getattr")
_HDR = b"\x80\x02"
# id, how the network is spoiled, words the one error line must hold (lower case)
NET_CASES = [
    ("torch-size-int", _weights(size=Call(G("torch", "Size"), 5)), "torch.size"),
    ("ordereddict-int", _set("ae", "hooks", Call(G("collections", "OrderedDict"), 5)), "ordereddict"),
    ("set-of-list", _set("ae", "hooks", Call(G("builtins", "set"), [[]])), "unhashable"),
    ("frozenset-int", _set("ae", "hooks", Call(G("builtins", "frozenset"), 5)), "frozenset"),
    ("getattr-called", _set("ae", "hooks", Call(Call(_GETATTR, "os", "system"), "touch pwned")), "calls attribute"),
    ("getattr-name-int", _set("ae", "hooks", Call(_GETATTR, "os", 5)), "getattr"),
    ("getattr-no-args", _set("ae", "hooks", Call(_GETATTR)), "typeerror"),
    ("device-list", _set("ae", "dev", Call(G("torch", "device"), [1, 2])), "torch.device"),
    ("device-deep", _set("ae", "dev", Call(G("torch", "device"), _deep(100_000))), "torch.device"),
    ("storage-type-called", _set("ae", "hooks", Call(G("torch", "FloatStorage"), 10**12)), "calls torch.floatstorage"),
    ("rebuild-from-str", _weights(storage="abc"), "not a storage"),
    ("rebuild-few-args", _set("ae", "theta", Call(G("torch._utils", "_rebuild_tensor_v2"), Storage("1", N))),
     "typeerror"),
    ("rebuild-parameter-str", _set("ae", "theta", Call(G("torch._utils", "_rebuild_parameter"), "x", False, odict())),
     "parameter wraps"),
    ("size-stride-mismatch", _weights(stride=(1,)), "bad tensor layout"),
    ("negative-stride", _weights(stride=(N, -1)), "bad tensor layout"),
    ("negative-size", _weights(size=(784, -N)), "bad tensor layout"),
    ("negative-offset", _weights(offset=-1), "bad tensor layout"),
    ("offset-str", _weights(offset="0"), "bad tensor layout"),
    ("offset-past-end", _weights(offset=10**6), "runs past its storage"),
    ("stride-past-end", _weights(stride=(N, 2)), "runs past its storage"),
    ("huge-shape-stride-1", _weights(size=(10**6, 10**6), stride=(10**6, 1)), "runs past its storage"),
    ("size-str", _weights(size=("784", N)), "tensor size"),
    ("size-float", _weights(size=(784.0, N)), "tensor size"),
    ("zero-dim-huge", _weights(size=(0, 2**62), stride=(1, 1)), "bad tensor layout"),
    ("short-storage-odd", _storage_bytes("0", b"\x00" * 6), "short storage"),
    ("short-storage-aligned", _storage_bytes("0", b"\x00" * 8), "short storage"),
    ("pid-type-not-storage", _weights(storage=Storage("0", 784 * N, typ=G("torch._C", "_VariableFunctionsClass"))),
     "not a torch storage type"),
    ("pid-numel-list", _weights(storage=Storage("0", [1])), "declares"),
    ("pid-numel-negative", _weights(storage=Storage("0", -1)), "declares -1 elements"),
    ("pid-key-nested", _weights(storage=Storage([[["0"]]], 784 * N)), "storage key"),
    ("storage-two-types", _theta_as_double, "is used as"),
    ("byteorder-bad", lambda net: setattr(net, "byteorder", b"middle"), "byteorder"),
    ("record-state-ints", lambda net: setattr(net, "ai_state", (5, 6)), "is given a state"),
    ("build-on-set", _set("ae", "hooks", Call(G("builtins", "set"), [], state={"a": 1})), "attributeerror"),
    ("int-opcode-bad", _pkl(b"I12x\n."), "malformed"),
    ("ext-code", _pkl(_HDR + b"\x82\x01."), "extension code"),
    ("inst-ordereddict-int", _pkl(b"(I5\nicollections\nOrderedDict\n."), "ordereddict"),
    ("global-escape-name", _pkl(_HDR + b"cos\x1b[31m\nsystem\n)R."), "refuses to load"),
    ("deep-nesting", _set("ae", "rest", _deep(200_000)), "is a list"),
    ("pickle-too-big", _pkl(_HDR + b"B" + struct.pack("<I", 5 << 20) + bytes(5 << 20) + b"."), "data.pkl"),
    ("zero-neurons", _zero_neurons, "0 neurons"),
    ("n-str", _set("ae", "n", "ten"), "neuron count"),
    ("n-none", _set("ae", "n", None), "neuron count"),
    ("layers-int", lambda net: setattr(net, "layers", 5), "layers are an int"),
    ("connection-int", _conn_int, "attributeerror"),
    ("rest-empty", _set("ae", "rest", []), "empty tensor"),
    ("dt-str", _set("net", "dt", "fast"), "dt is a str"),
    ("nu-empty", _set("rule", "nu", []), "nu is an empty tensor"),
    ("theta-record", _set("ae", "theta", record("bindsnet.network.nodes.Input")), "ae.theta is an input"),
    ("layer-name-tuple", _layer_key((1, 2)), "named by a tuple"),
    ("layer-name-escape", _escape_layers, "expected one input layer"),
]


def _make_net(case_fn: Callable[[Net], None]) -> Net:
    net = Net()
    case_fn(net)
    return net


# -------------------------------------------------------------------------------------------------- assertions
def one_line(err: str, path: Path, rc: int, *words: str) -> str:
    """The stderr of a refusal: exactly one line ``spinsyn: error: <path>: ...`` holding ``words`` (lower case),
    no traceback, no control characters."""
    assert rc == 2, err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("spinsyn: error: ") and str(path) in line, line
    assert "Traceback" not in err
    assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in line), repr(line)
    for w in words:
        assert w in line.lower(), line
    return line


def _cli(capsys, *args: str) -> tuple[int, str]:
    rc = main(list(args))
    return rc, capsys.readouterr().err


# ---------------------------------------------------------------------------------------- BindsNET: in-process
def test_hand_built_network_imports(tmp_path, capsys):
    """The positive control of the builder: the unspoiled network imports and keeps its weights exactly."""
    from spinsyn.snn import load_run

    net = Net()
    f = net.write(tmp_path / "net.pt")
    assert main(["import", "bindsnet", str(f), "--out", str(tmp_path / "run")]) == 0
    np.testing.assert_array_equal(load_run(tmp_path / "run").w, net.w.astype(np.float64))


def test_expanded_small_tensor_is_read(tmp_path, capsys):
    """A stride-0 view within bounds (θ repeating one storage element) is legitimate and read as torch would."""
    from spinsyn.snn import load_run

    net = Net()
    net.ae["theta"] = tensor(Storage("1", 1), 0, (N,), (0,))
    f = net.write(tmp_path / "net.pt")
    assert main(["import", "bindsnet", str(f), "--out", str(tmp_path / "run")]) == 0
    np.testing.assert_array_equal(load_run(tmp_path / "run").theta, np.full(N, net.theta[0], np.float64))


@pytest.mark.parametrize("cid, spoil, words", NET_CASES, ids=[c[0] for c in NET_CASES])
def test_hostile_bindsnet_file(tmp_path, capsys, cid, spoil, words):
    f = _make_net(spoil).write(tmp_path / "net.pt")
    run = tmp_path / "run"
    rc, err = _cli(capsys, "import", "bindsnet", str(f), "--out", str(run))
    one_line(err, f, rc, words)
    assert not run.exists() and not (tmp_path / "pwned").exists()


def test_read_limit_env_lowers_the_budget(tmp_path, capsys, monkeypatch):
    """SPINSYN_READ_LIMIT_MB lowers the read budget: the valid network (9 KB of weights) is refused at 4 KB."""
    f = Net().write(tmp_path / "net.pt")
    monkeypatch.setenv("SPINSYN_READ_LIMIT_MB", "0.004")
    rc, err = _cli(capsys, "import", "bindsnet", str(f), "--out", str(tmp_path / "run"))
    one_line(err, f, rc, "read budget", "spinsyn_read_limit_mb")


# ------------------------------------------------------------------------------------------ --labels in-process
def _labels_global(path: Path, module: str) -> Path:
    return write_zip(path, [("archive/data.pkl", _HDR + f"c{module}\nsystem\n)R.".encode()),
                            ("archive/byteorder", b"little"), ("archive/version", b"3\n")])


def _labels_torch(path: Path, what: str) -> Path:
    import torch

    if what == "dict":
        torch.save({"labels": torch.zeros(N, dtype=torch.long)}, path)
    elif what == "bfloat16":
        torch.save(torch.zeros(N + 1, dtype=torch.bfloat16), path)
    elif what == "legacy":
        torch.save(torch.zeros(N, dtype=torch.long), path, _use_new_zipfile_serialization=False)
    return path


LABEL_CASES = [
    ("network-file", lambda p: Net().write(p), ("pickled python objects", "diehlandcook2015")),
    ("global-osc-escape", lambda p: _labels_global(p, "os\x1b]0;pwned\x07"), ("pickled python objects",)),
    ("global-csi-escape", lambda p: _labels_global(p, "\x1b[1mos"), ("pickled python objects",)),
    ("random-bytes", lambda p: p.write_bytes(os.urandom(256)) and p, ("not a torch file",)),
    ("dict", lambda p: _labels_torch(p, "dict"), ("holds a dict",)),
    ("bfloat16-wrong-shape", lambda p: _labels_torch(p, "bfloat16"), ("expected 3 per-neuron",)),
    ("legacy-format", lambda p: _labels_torch(p, "legacy"), ("legacy",)),
]


@pytest.mark.parametrize("cid, make, words", LABEL_CASES, ids=[c[0] for c in LABEL_CASES])
def test_hostile_labels_file(tmp_path, capsys, cid, make, words):
    f = Net().write(tmp_path / "net.pt")
    lab = make(tmp_path / "labels.pt")
    run = tmp_path / "run"
    rc, err = _cli(capsys, "import", "bindsnet", str(f), "--labels", str(lab), "--out", str(run))
    line = one_line(err, lab, rc, *words)
    assert "weights_only=False" not in line and "pwned" not in line
    assert not run.exists()


# ---------------------------------------------------------------------------------------- .npy via export, npz
def npy_bytes(header: dict | str, data: bytes = b"", version: tuple[int, int] = (1, 0)) -> bytes:
    text = header if isinstance(header, str) else repr(header)
    pad = 16 - (10 + len(text) + 1) % 16 if version == (1, 0) else 16 - (12 + len(text) + 1) % 16
    body = (text + " " * pad + "\n").encode("latin1")
    size = struct.pack("<H", len(body)) if version == (1, 0) else struct.pack("<I", len(body))
    return b"\x93NUMPY" + bytes(version) + size + body + data


def _hdr(descr: str, shape: Any, fortran: bool = False) -> dict:
    return {"descr": descr, "fortran_order": fortran, "shape": shape}


NPY_CASES = [
    ("random-bytes", bytes(range(7, 200)) * 3, ("not a .npy file",)),
    ("pickle", pickle.dumps({"w": [1, 2]}, protocol=4), ("python pickle",)),
    ("zip", b"PK\x03\x04" + bytes(64), ("zip archive",)),
    ("empty", b"", ("empty file",)),
    ("object-dtype", npy_bytes(_hdr("|O", (2, 2)), bytes(32)), ("dtype object",)),
    ("header-1e12", npy_bytes(_hdr("<f8", (10**6, 10**6)), bytes(80)), ("truncated",)),
    ("truncated", npy_bytes(_hdr("<f8", (100, 10)), bytes(80)), ("truncated",)),
    ("fortran-truncated", npy_bytes(_hdr("<f8", (100, 10), True), bytes(80)), ("truncated",)),
    ("v2-truncated", npy_bytes(_hdr("<f4", (784, 100)), bytes(400), (2, 0)), ("truncated",)),
    ("negative-shape", npy_bytes(_hdr("<f8", (-1, 5)), bytes(80)), ("declares shape",)),
    ("huge-itemsize", npy_bytes(_hdr("|V1000000000", (1000,)), bytes(80)), ("truncated",)),
    ("header-garbage", npy_bytes("hello world"), ("malformed .npy header",)),
    ("header-unclosed", npy_bytes("{'descr': '<f8', 'shape': (3,"), ("malformed .npy header",)),
    ("version-9", b"\x93NUMPY\x09\x00" + bytes(32), ("format version",)),
]


@pytest.mark.parametrize("cid, data, words", NPY_CASES, ids=[c[0] for c in NPY_CASES])
def test_hostile_weight_npy(tmp_path, capsys, cid, data, words):
    f = tmp_path / "w.npy"
    f.write_bytes(data)
    rc, err = _cli(capsys, "export", str(f), "--synapse", "compound:4", "--no-csv", "--out", str(tmp_path / "chip"))
    line = one_line(err, f, rc, *words)
    assert cid == "pickle" or "pickle" not in line.lower()
    assert not (tmp_path / "chip").exists()


def test_fortran_order_npy_is_read_exactly(tmp_path):
    from spinsyn.hw_export.inputs import load_weights

    w = np.asfortranarray(np.random.default_rng(1).random((6, 4)))
    np.save(tmp_path / "w.npy", w)
    np.testing.assert_array_equal(load_weights(tmp_path / "w.npy").w, w)


def _npz(path: Path, members: dict[str, bytes]) -> Path:
    fmt = io.BytesIO()
    np.save(fmt, np.array("spinsyn-checkpoint"))
    return write_zip(path, [("format.npy", fmt.getvalue())] + list(members.items()))


NPZ_CASES = [
    ("member-1e12", {"w.npy": npy_bytes(_hdr("<f8", (10**6, 10**6)), bytes(80))}, ("member w.npy", "truncated")),
    ("member-object", {"w.npy": npy_bytes(_hdr("|O", (3,)), bytes(24))}, ("member w.npy", "python objects")),
    ("member-truncated", {"w.npy": npy_bytes(_hdr("<f8", (1000,)), bytes(8))}, ("member w.npy", "truncated")),
    ("member-random", {"w.npy": bytes(range(40, 120))}, ("member w.npy", "not a .npy file")),
    ("member-header-unclosed", {"w.npy": npy_bytes("{'descr': '<f8', 'shape': (3,")}, ("member w.npy", "malformed")),
    ("member-declares-2gib", {}, ("zip member w.npy", "zip bomb")),
    ("member-over-read-limit", {"w.npy": npy_bytes(_hdr("<f8", (1 << 18,)), bytes(2 << 20))},
     ("zip member w.npy", "declares 2 mib", "read budget")),
]


@pytest.mark.parametrize("cid, members, words", NPZ_CASES, ids=[c[0] for c in NPZ_CASES])
def test_hostile_checkpoint_npz(tmp_path, capsys, monkeypatch, cid, members, words):
    run = tmp_path / "run"
    run.mkdir()
    ck = run / "checkpoint.pt"
    if cid == "member-declares-2gib":  # declared 2 GiB, 80 bytes stored: refused on the declaration
        fmt = io.BytesIO()
        np.save(fmt, np.array("spinsyn-checkpoint"))
        write_zip(ck, [("format.npy", fmt.getvalue()), ("w.npy", bytes(80), 0, 2 << 30, 0)])
    else:
        _npz(ck, members)
    if cid == "member-over-read-limit":
        monkeypatch.setenv("SPINSYN_READ_LIMIT_MB", "1")
    rc, err = _cli(capsys, "eval", str(run), "--n-test", "10", "--device", "cpu")
    one_line(err, ck, rc, *words)


# ------------------------------------------------------------------------------------------------- safeload unit
@pytest.mark.parametrize("text, bad", [
    ("a\x1b[31mred\x1b[0m b", "\x1b"), ("title \x1b]0;pwned\x07 x", "\x07"), ("c1 \x9b31m x", "\x9b"),
    ("bidi \u202egnp.exe", "\u202e"), ("two\nlines\r\nhere", "\n"), ("del \x7f x", "\x7f")])
def test_clean_text_leaves_no_control_characters(text, bad):
    from spinsyn.safeload import clean_text

    out = clean_text(text)
    assert bad not in out and "\n" not in out and all(c.isprintable() for c in out)


def test_clean_text_cuts_at_a_word_boundary():
    from spinsyn.safeload import clean_text

    out = clean_text("alpha beta gamma delta epsilon " * 20, 50)
    assert out.endswith("…") and len(out) <= 51 and out[:-1].split(" ")[-1] in ("alpha", "beta", "gamma", "delta",
                                                                                 "epsilon")


# ------------------------------------------------------------------------------------ bombs: bounded subprocesses
def _limit_as() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (RLIMIT_AS, RLIMIT_AS))


def run_bounded(tmp: Path, *args: str, timeout: float = 120) -> tuple[int, str, int]:
    """``spinsyn ARGS`` under RLIMIT_AS; (exit code, stderr, peak RSS in bytes)."""
    env = {k: v for k, v in os.environ.items() if k != "SPINSYN_READ_LIMIT_MB"}
    with open(tmp / "stdout", "wb") as out, open(tmp / "stderr", "wb") as err:
        p = subprocess.Popen(spinsyn_cmd(*args), stdout=out, stderr=err, preexec_fn=_limit_as, env=env)
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
    rss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return p.returncode, (tmp / "stderr").read_text(errors="replace"), rss


@pytest.fixture(scope="module")
def bomb() -> tuple[bytes, int]:
    """2 GiB of zeros deflated (≈ 2 MB), and its declared size."""
    return deflated_zeros(2 << 30), 2 << 30


def _bomb_net(path: Path, bomb: tuple[bytes, int]) -> Path:
    net = Net()
    del net.storages["0"]
    net.extra_members = [("archive/data/0", bomb[0], 8, bomb[1], 0)]
    net.W = tensor(Storage("0", bomb[1] // 4), 0, (784, N), (N, 1))
    return net.write(path)


def _stride0_net(path: Path, bomb: Any) -> Path:
    net = Net()
    net.storages["0"] = np.full(4, 0.5, np.float32).tobytes()
    net.W = tensor(Storage("0", 4), 0, (784, 10**6), (0, 0))
    net.ae["n"] = 10**6
    return net.write(path)


def _nested_list_net(path: Path, bomb: Any) -> Path:
    """θ as a list nested 9 deep, 10 references per level (a few hundred pickle bytes): np.asarray of it would
    allocate 10⁹ float64 (8 GB)."""
    net = Net()
    nested: Any = [0.5] * 10
    for _ in range(8):
        nested = [nested] * 10
    net.ae["theta"] = nested
    return net.write(path)


def _many_bombs_net(path: Path, bomb: Any) -> Path:
    net = Net()
    net.extra_members = [(f"archive/data/b{i}", bomb[0], 8, bomb[1], 0) for i in range(24)]
    return net.write(path)


def _bomb_labels(path: Path, bomb: Any) -> Path:
    pkl = dumps(tensor(Storage("0", bomb[1] // 8, "LongStorage"), 0, (N,), (1,)))
    return write_zip(path, [("archive/data.pkl", pkl), ("archive/byteorder", b"little"),
                            ("archive/data/0", bomb[0], 8, bomb[1], 0), ("archive/version", b"3\n")])


def _expanded_pt(path: Path, bomb: Any) -> Path:
    import torch

    torch.save(torch.zeros(1, 1).expand(784, 10**6), path)
    return path


def _bomb_npz(path: Path, bomb: Any) -> Path:
    (path.parent / "run").mkdir()
    ck = path.parent / "run" / "checkpoint.pt"
    fmt = io.BytesIO()
    np.save(fmt, np.array("spinsyn-checkpoint"))
    hdr = npy_bytes(_hdr("<f8", (bomb[1] // 8,)))
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = c.compress(hdr) + c.flush(zlib.Z_FULL_FLUSH) + bomb[0]  # header, then the zero stream (a valid deflate)
    write_zip(ck, [("format.npy", fmt.getvalue()), ("w.npy", data, 8, bomb[1] + len(hdr), 0)])
    return ck


BOMB_CASES = [
    ("bindsnet-stride0", _stride0_net, lambda f, t: ("import", "bindsnet", str(f), "--out", str(t / "run")),
     ("repeats",)),
    ("bindsnet-zip-bomb", _bomb_net, lambda f, t: ("import", "bindsnet", str(f), "--out", str(t / "run")),
     ("zip bomb",)),
    ("bindsnet-nested-list", _nested_list_net, lambda f, t: ("import", "bindsnet", str(f), "--out", str(t / "run")),
     ("ae.theta is a list",)),
    ("bindsnet-24-bombs", _many_bombs_net, lambda f, t: ("import", "bindsnet", str(f), "--out", str(t / "run")),
     ("zip bomb",)),
    ("labels-zip-bomb", _bomb_labels, lambda f, t: ("import", "bindsnet", str(Net().write(t / "net.pt")), "--labels",
                                                    str(f), "--out", str(t / "run")), ("zip bomb",)),
    ("pt-zip-bomb", _bomb_labels, lambda f, t: ("export", str(f), "--synapse", "compound:4", "--no-csv", "--out",
                                                str(t / "chip")), ("zip bomb",)),
    ("pt-expanded", _expanded_pt, lambda f, t: ("export", str(f), "--synapse", "compound:4", "--no-csv", "--out",
                                                str(t / "chip")), ("repeats",)),
    ("npz-zip-bomb", _bomb_npz, lambda f, t: ("eval", str(f.parent), "--n-test", "10", "--device", "cpu"),
     ("zip bomb",)),
]


@pytest.mark.parametrize("cid, make, args, words", BOMB_CASES, ids=[c[0] for c in BOMB_CASES])
def test_memory_and_zip_bombs_are_refused_before_allocating(tmp_path, bomb, cid, make, args, words):
    f = make(tmp_path / "hostile.pt", bomb)
    rc, err, rss = run_bounded(tmp_path, *args(f, tmp_path))
    one_line(err, f, rc, *words)
    assert rss < MAX_RSS, f"peak RSS {rss / 2**20:.0f} MiB"
    assert not (tmp_path / "chip").exists() and (cid.startswith("npz") or not (tmp_path / "run").exists())
