"""Checkpoint values are range-checked on read (issue #21, "v3 checkpoint values are not range-checked").

Three tiny real runs (compound:8, dw:16 and ideal, 5 neurons) are made once; each case writes a tampered copy of a
run's ``checkpoint.pt`` (the v3 ``.npz`` with one array or JSON text changed, the rest of the run folder copied)
and checks that the one reader, :func:`spinsyn.snn.read_checkpoint`, refuses it with one line naming the file and
the array. Every consuming command (``eval``, ``export nir``, ``train --resume``, ``export``, ``export simulate
--run``) is then run on a set of tampered runs, in-process and as subprocesses: exit 2, one stderr line naming
``checkpoint.pt`` and the array, nothing written. The untampered runs still pass all of them. Before the checks
every case here but the untampered ones was accepted (exit 0 with 5-30 % accuracy, or a traceback).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from spinsyn.cli import main
from spinsyn.fileio import SpinsynFileError
from spinsyn.snn import read_checkpoint

Arrays = dict[str, np.ndarray]
TRAIN = ["--neurons", "5", "--n-train", "20", "--n-test", "10", "--n-assign", "20", "--device", "cpu", "--quiet"]
KINDS = {"compound": "compound:8", "dw": "dw:16", "ideal": "ideal"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """One small real run per synapse kind (in-process ``spinsyn train``) and a chip exported from the compound
    run (``export simulate --run`` reads a run after loading a chip)."""
    root = tmp_path_factory.mktemp("ckvalues")
    out = {}
    for name, spec in KINDS.items():
        out[name] = root / name
        assert main(["train", "--synapse", spec, *TRAIN, "--out", str(out[name])]) == 0
    out["chip"] = root / "chip"
    assert main(["export", str(out["compound"]), "--tile", "64x64", "--no-csv", "--write-pulse", "1",
                 "--out", str(out["chip"])]) == 0
    return out


# ---------------------------------------------------------------------------------------------- tampering
def _load(ck: Path) -> Arrays:
    with np.load(ck, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def tampered(src: Path, dst: Path, change: Callable[[Arrays], None]) -> Path:
    """A copy of the run folder ``src`` in ``dst`` whose checkpoint has ``change`` applied to its arrays."""
    shutil.copytree(src, dst)
    arrays = _load(src / "checkpoint.pt")
    change(arrays)
    with open(dst / "checkpoint.pt", "wb") as fh:
        np.savez(fh, **arrays)
    return dst


def _set(key: str, fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[Arrays], None]:
    def change(a: Arrays) -> None:
        a[key] = fn(a[key].copy())
    return change


def _put(key: str, index: tuple | int, value) -> Callable[[Arrays], None]:
    """Set one element (a float array is kept float; an integer array becomes int64 to hold any value)."""
    def fn(x: np.ndarray) -> np.ndarray:
        x = x if x.dtype.kind == "f" or np.can_cast(np.min_scalar_type(value), x.dtype) else x.astype(np.int64)
        x[index] = value
        return x
    return _set(key, fn)


def _json(key: str, edit: Callable[[object], object]) -> Callable[[Arrays], None]:
    """Edit a JSON text entry (``edit`` returns the new document)."""
    def change(a: Arrays) -> None:
        a[key] = np.array(json.dumps(edit(json.loads(str(a[key])))))
    return change


def _text(key: str, text: str) -> Callable[[Arrays], None]:
    def change(a: Arrays) -> None:
        a[key] = np.array(text)
    return change


def _drop(key: str) -> Callable[[Arrays], None]:
    def change(a: Arrays) -> None:
        del a[key]
    return change


def _nested(path: tuple[str, ...], value) -> Callable[[object], object]:
    def edit(doc):
        node = doc
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
        return doc
    return edit


def _neurons_20(a: Arrays) -> None:
    """The tester's case: the config says 5 neurons, every per-neuron array has 20."""
    for key in ("theta", "assignments", "w_source"):
        if key in a:
            a[key] = np.tile(a[key], 4)
    for key in ("state", "gp_S", "gap_S", "w", "recent_counts"):
        if key in a:
            a[key] = np.tile(a[key], (1, 4))
    a["proportions"] = np.tile(a["proportions"], (4, 1))


def _spec_4_on_8(a: Arrays) -> None:
    """The tester's case: spec compound:4 everywhere, but the device record's model has 8 MTJs."""
    a["synapse_spec"] = np.array("compound:4")
    _json("synapse_device_json", _nested(("spec",), "compound:4"))(a)
    _json("config_json", _nested(("synapse",), "compound:4"))(a)


def _state_float(a: Arrays) -> None:
    a["state"] = a["state"].astype(np.float64) + 0.5


def _recent_rows(a: Arrays) -> None:
    a["recent_labels"] = a["recent_labels"][:-3]


NAN, INF = float("nan"), float("inf")

#: (id, run, change, words the one error line must hold besides the checkpoint path)
CASES = [
    # theta, proportions, assignments (every kind stores them)
    ("theta-nan", "compound", _put("theta", 0, NAN), ("theta", "non-finite")),
    ("theta-inf", "compound", _put("theta", 1, INF), ("theta", "non-finite")),
    ("theta-minus-inf", "dw", _put("theta", 2, -INF), ("theta", "non-finite")),
    ("theta-2d", "ideal", _set("theta", lambda x: x[None, :]), ("theta", "shape")),
    ("theta-string", "compound", _set("theta", lambda x: x.astype(str)), ("theta", "dtype")),
    ("proportions-nan", "compound", _put("proportions", (0, 0), NAN), ("proportions", "non-finite")),
    ("proportions-2", "dw", _put("proportions", (1, 3), 2.0), ("proportions", "[0, 1]")),
    ("proportions-negative", "ideal", _put("proportions", (1, 3), -0.5), ("proportions",)),
    ("proportions-9-classes", "compound", _set("proportions", lambda x: x[:, :9]), ("proportions", "shape")),
    ("assignments-99", "compound", _put("assignments", 0, 99), ("assignments", "-1..9")),
    ("assignments-minus-2", "dw", _put("assignments", 0, -2), ("assignments", "-1..9")),
    ("assignments-float", "ideal", _set("assignments", lambda x: x + 0.5), ("assignments", "dtype")),
    ("assignments-4", "compound", _set("assignments", lambda x: x[:4]), ("assignments", "shape")),
    # levels within the device's levels
    ("state-200-compound8", "compound", _put("state", (0, 0), 200), ("state", "0..8", "compound:8")),
    ("state-9-compound8", "compound", _put("state", (5, 1), 9), ("state", "0..8")),
    ("state-negative", "compound", _put("state", (5, 1), -1), ("state", "0..8")),
    ("state-float", "compound", _state_float, ("state", "dtype")),
    ("state-16-dw16", "dw", _put("state", (3, 3), 16), ("state", "0..15", "dw:16")),
    ("state-255-dw16", "dw", _put("state", (3, 3), 255), ("state", "0..15")),
    ("state-shape", "dw", _set("state", lambda x: x[:783]), ("state", "shape", "(784, 5)")),
    ("w-source-2", "dw", _put("w_source", 0, 2), ("w_source",)),
    ("w-source-missing", "dw", _drop("w_source"), ("w_source", "lacks")),
    ("state-missing", "compound", _drop("state"), ("state", "lacks")),
    # conductances
    ("gp-negative", "compound", _put("gp_S", (0, 0), -1e-5), ("gp_S", ">= 0")),
    ("gp-inf", "compound", _put("gp_S", (10, 2), INF), ("gp_S", "non-finite")),
    ("gap-nan", "compound", _put("gap_S", (10, 2), NAN), ("gap_S", "non-finite")),
    ("gap-negative", "compound", _put("gap_S", (10, 2), -1.0), ("gap_S",)),
    ("gap-missing", "compound", _drop("gap_S"), ("gap_S", "lacks")),
    ("gp-shape", "compound", _set("gp_S", lambda x: x[:, :4]), ("gp_S", "shape")),
    # ideal weights
    ("w-nan", "ideal", _put("w", (0, 0), NAN), (": w ", "non-finite")),
    ("w-above-1", "ideal", _put("w", (0, 0), 1.5), (": w ", "[0, 1]")),
    ("w-negative", "ideal", _put("w", (0, 0), -0.1), (": w ", "[0, 1]")),
    ("w-float16-inf", "ideal", _set("w", lambda x: x.astype(np.float16) * np.float16(np.inf)), (": w ",)),
    ("w-missing", "ideal", _drop("w"), ("'w'", "lacks")),
    # the compiled rule
    ("rule-table-nan", "compound", _put("rule_f_tab", 3, NAN), ("rule_f_tab", "non-finite")),
    ("rule-table-inf", "dw", _put("rule_f_tab", 3, -INF), ("rule_f_tab", "non-finite")),
    ("rule-table-2", "ideal", _put("rule_f_tab", 3, 2.0), ("rule_f_tab", "max |f| = 1")),
    ("rule-nu-huge", "compound", _json("rule_json", _nested(("nu_post",), 1e308)), ("rule_json", "nu_post")),
    ("rule-nu-nan", "compound", _text("rule_json", '{"kind": 0, "nu_pre": 0, "nu_post": NaN, "trace_decay": 1, '
                                                    '"spread": 0, "offset": 0, "soft_bound": false}'),
     ("rule_json", "nu_post")),
    ("rule-kind-7", "dw", _json("rule_json", _nested(("kind",), 7)), ("rule_json", "kind")),
    ("rule-not-json", "ideal", _text("rule_json", "{nope"), ("rule_json", "not valid JSON")),
    # spec against the device record
    ("spec-4-record-8", "compound", _spec_4_on_8, ("synapse_device_json", "compound:4", "8")),
    ("spec-entry-4", "compound", _text("synapse_spec", "compound:4"), ("synapse_spec", "compound:8")),
    ("spec-entry-dw8", "dw", _text("synapse_spec", "dw:8"), ("synapse_spec", "dw:16")),
    ("record-model-4", "compound", _json("synapse_device_json", _nested(("model", "fields", "n_mtj"), 4)),
     ("synapse_device_json", "compound:8")),
    ("record-not-json", "dw", _text("synapse_device_json", "garbage"), ("synapse_device_json", "not valid JSON")),
    ("config-synapse-4", "compound", _json("config_json", _nested(("synapse",), "compound:4")),
     ("config_json", "compound:4")),
    # shapes against the config, and the config's own numbers
    ("neurons-5-arrays-20", "compound", _neurons_20, ("shape", "5 neurons")),
    ("neurons-5-arrays-20-dw", "dw", _neurons_20, ("shape", "5 neurons")),
    ("config-neurons-20", "ideal", _json("config_json", _nested(("network", "n_neurons"), 20)),
     ("shape", "20 neurons")),
    ("config-neurons-0", "compound", _json("config_json", _nested(("network", "n_neurons"), 0)),
     ("config_json", "--neurons")),
    ("config-nu-1e308", "compound", _json("config_json", _nested(("rule", "nu_post"), 1e308)),
     ("config_json", "--nu")),
    ("config-dt-nan", "dw", _json("config_json", _nested(("network", "dt_ms"), NAN)), ("config_json", "dt_ms")),
    ("config-gain-negative", "compound", _json("config_json", _nested(("synapse_options", "gain"), -1.0)),
     ("config_json", "--compound-gain")),
    ("config-not-json", "compound", _text("config_json", "not json at all"), ("config_json", "not valid JSON")),
    ("config-list", "ideal", _text("config_json", "[1, 2]"), ("config_json", "object")),
    ("config-network-list", "ideal", _json("config_json", _nested(("network",), [1])), ("config_json", "network")),
    # training position and running state
    ("position-beyond", "compound", _set("position", lambda x: x + 5), ("position",)),
    ("position-negative", "dw", _put("position", 1, -3), ("position",)),
    ("recent-labels-10", "compound", _put("recent_labels", 0, 10), ("recent_labels", "0..9")),
    ("recent-counts-negative", "ideal", _put("recent_counts", (0, 0), -1), ("recent_counts",)),
    ("recent-rows", "compound", _recent_rows, ("recent_counts", "recent_labels")),
    ("history-nan", "dw", _text("history_json", '[{"samples": 10, "running_accuracy": NaN}]'), ("history_json",)),
    ("history-not-json", "compound", _text("history_json", "[[[["), ("history_json", "not valid JSON")),
]


def _assert_one_line(msg: str, *words: str) -> None:
    assert "\n" not in msg and "\x1b" not in msg, msg
    for w in words:
        assert w in msg, (w, msg)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_read_checkpoint_refuses_tampered_values(runs, tmp_path, case):
    """Each tampered variant is refused by the one reader, naming the file and the array (the old reader
    returned every one of them, or failed with a message naming neither)."""
    name, run, change, words = case
    bad = tampered(runs[run], tmp_path / name, change)
    with pytest.raises(SpinsynFileError) as exc:
        read_checkpoint(bad)
    _assert_one_line(str(exc.value), str(bad / "checkpoint.pt"), *words)


@pytest.mark.parametrize("run", sorted(KINDS))
def test_untampered_and_rewritten_checkpoints_read(runs, tmp_path, run):
    """The checks pass what spinsyn writes (v3, and as v2), also v3 rewritten by numpy with its floats
    big-endian (the old reader failed on those with a traceback from torch.from_numpy)."""
    ck = read_checkpoint(runs[run])
    assert ck["w"].shape == (784, 5)
    v2 = read_checkpoint(_v2(runs[run], tmp_path / "v2", lambda ck: None))
    assert v2["format_version"] == 2 and np.array_equal(v2["w"].numpy(), ck["w"].numpy())

    def swap(a: Arrays) -> None:
        for k, v in list(a.items()):
            if v.dtype.kind == "f":
                a[k] = v.astype(v.dtype.newbyteorder(">"))
    back = read_checkpoint(tampered(runs[run], tmp_path / "swapped", swap))
    assert np.array_equal(back["w"].numpy(), ck["w"].numpy())


# ---------------------------------------------------------------------------------------------- v2 files
def _v2(run: Path, dst: Path, edit: Callable[[dict], None]) -> Path:
    import torch

    shutil.copytree(run, dst)
    ck = read_checkpoint(run)
    ck["format_version"] = 2
    edit(ck)
    torch.save(ck, dst / "checkpoint.pt")
    return dst


def _tensor_put(key: str, index, value) -> Callable[[dict], None]:
    def edit(ck: dict) -> None:
        ck[key] = ck[key].clone()
        ck[key][index] = value
    return edit


V2_CASES = [
    ("v2-theta-nan", _tensor_put("theta", 0, NAN), ("theta", "non-finite")),
    ("v2-state-200", _tensor_put("state", (0, 0), 200), ("state", "0..8")),
    ("v2-g-negative", _tensor_put("g_S", (0, 0), -1.0), ("g_S", ">= 0")),
    ("v2-w-2", _tensor_put("w", (0, 0), 2.0), (": w ", "[0, 1]")),
    ("v2-theta-list", lambda ck: ck.__setitem__("theta", [0.0] * 5), ("theta", "list")),
    ("v2-config-int", lambda ck: ck.__setitem__("config_json", 5), ("config_json", "not text")),
]


@pytest.mark.parametrize("case", V2_CASES, ids=[c[0] for c in V2_CASES])
def test_v2_checkpoints_are_checked_too(runs, tmp_path, case):
    name, edit, words = case
    bad = _v2(runs["compound"], tmp_path / name, edit)
    with pytest.raises(SpinsynFileError) as exc:
        read_checkpoint(bad)
    _assert_one_line(str(exc.value), str(bad / "checkpoint.pt"), *words)


# ---------------------------------------------------------------------------------------------- every command
def _commands(run: Path, chip: Path, out: Path) -> dict[str, list[str]]:
    """The commands that consume a run, each with the output it would write under ``out``."""
    return {
        "eval": ["eval", str(run), "--n-test", "10", "--device", "cpu"],
        "export-nir": ["export", "nir", str(run), "--out", str(out / "net.nir")],
        "train-resume": ["train", "--resume", str(run), "--quiet"],
        "export": ["export", str(run), "--tile", "64x64", "--no-csv", "--write-pulse", "1",
                   "--out", str(out / "chip")],
        "export-simulate": ["export", "simulate", str(chip), "--run", str(run), "--n-test", "10",
                            "--eval-device", "cpu", "--json", str(out / "sim.json")],
    }


#: the tester's variants (case ids of CASES), each run through every command
CLI_CASES = ["theta-nan", "theta-inf", "proportions-nan", "state-200-compound8", "assignments-99", "gp-negative",
             "gap-nan", "rule-table-nan", "spec-4-record-8", "neurons-5-arrays-20", "config-not-json"]
COMMANDS = ["eval", "export-nir", "train-resume", "export", "export-simulate"]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case_id", CLI_CASES)
def test_every_command_refuses_tampered_checkpoint(runs, tmp_path, capsys, case_id, command):
    """In-process CLI: exit 2, one stderr line naming checkpoint.pt and the array, nothing written (the old code
    exited 0 on these: eval reported 5-30 %, export wrote a chip that verified)."""
    _, run, change, words = next(c for c in CASES if c[0] == case_id)
    bad = tampered(runs[run], tmp_path / "run", change)
    out = tmp_path / "out"
    out.mkdir()
    before = sorted(p.name for p in bad.iterdir())
    capsys.readouterr()
    rc = main(_commands(bad, runs["chip"], out)[command])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("spinsyn: error: "), err
    _assert_one_line(err, "checkpoint.pt", *words)
    assert list(out.iterdir()) == [] and sorted(p.name for p in bad.iterdir()) == before


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_refuses_as_a_subprocess(runs, tmp_path, command):
    """The console script: exit 2, exactly one stderr line naming the file and the array, no traceback."""
    bad = tampered(runs["compound"], tmp_path / "run", _put("state", (0, 0), 200))
    out = tmp_path / "out"
    out.mkdir()
    r = subprocess.run([sys.executable, "-m", "spinsyn.cli", *_commands(bad, runs["chip"], out)[command]],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spinsyn: error: "), r.stderr
    _assert_one_line(lines[0], str(bad / "checkpoint.pt"), "state", "0..8")
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("command", COMMANDS[:4])
def test_untampered_run_passes_every_command(runs, tmp_path, capsys, command):
    """The same commands on an untouched copy of the run succeed (the checks refuse nothing spinsyn wrote)."""
    run = tampered(runs["compound"], tmp_path / "run", lambda a: None)
    out = tmp_path / "out"
    out.mkdir()
    assert main(_commands(run, runs["chip"], out)[command]) == 0, capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- messages, options
def test_nu_has_an_upper_bound(tmp_path, capsys):
    """--nu 1e308 was accepted (a learning rate a weight in [0, 1] cannot use)."""
    rc = main(["train", "--synapse", "compound:8", *TRAIN, "--nu", "1e308", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2 and "--nu" in err and "1000" in err, err
    assert not (tmp_path / "r").exists()


def test_resume_with_non_json_config_names_file(runs, tmp_path, capsys):
    """"Expecting value: line 1 column 1" named neither the file nor the config."""
    bad = tampered(runs["dw"], tmp_path / "run", _text("config_json", ""))
    assert main(["train", "--resume", str(bad), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    _assert_one_line(err, str(bad / "checkpoint.pt"), "config_json is not valid JSON (Expecting value")


def _zip_with_pickle(dst: Path, pickle_bytes: bytes) -> Path:
    """A torch.save zip whose data.pkl is replaced by ``pickle_bytes``."""
    import zipfile

    import torch

    buf = io.BytesIO()
    torch.save({"format": "spinsyn-checkpoint"}, buf)
    dst.mkdir()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zin, zipfile.ZipFile(dst / "checkpoint.pt", "w") as zout:
        for n in zin.namelist():
            zout.writestr(n, pickle_bytes if n.endswith("data.pkl") else zin.read(n))
    return dst


@pytest.mark.parametrize("case", [
    ("reduce-os-system", b"\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.",
     "pickled Python objects (posix.system)"),
    ("escape-in-global", b"\x80\x02c\x1b[31mevil\nfu\x1b[0mnc\nq\x00)Rq\x03.", "pickled Python objects"),
], ids=lambda c: c[0])
def test_malicious_pickle_messages_are_whole_printable_lines(tmp_path, case):
    """torch's text was cut mid-word ("… in `torch.load` fr)") and a class name could carry terminal escape codes
    onto the user's terminal."""
    name, data, words = case
    bad = _zip_with_pickle(tmp_path / name, data)
    with pytest.raises(SpinsynFileError) as exc:
        read_checkpoint(bad)
    msg = str(exc.value)
    _assert_one_line(msg, str(bad / "checkpoint.pt"), words)
    assert "weights_only` argument" not in msg and all(c.isprintable() for c in msg), msg
    assert "fr)" not in msg and (msg.endswith(")") or msg.endswith("file")), msg
