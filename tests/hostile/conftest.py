"""Shared inputs of the hostile suite, made once per session through the real CLI (tiny: ~20 s in all).

``hostile_env`` is a dict of placeholders the case table (``cases.py``) uses: ``{sweep}`` (reference-engine
sweep HDF5), ``{rule}`` (its bi-sigmoid fit), ``{run}`` (a compound:4 run of 5 neurons), ``{chip}`` (its
export), ``{w}`` (a weight .npy), ``{file}`` (a regular file, where folders are expected), ``{ro}`` (a folder
nobody may write: /sys for root, a 0555 folder otherwise), ``{bad}`` (a folder of malformed inputs).
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def spinsyn_cmd(*args: str) -> list[str]:
    """The console script as a subprocess (``python -m spinsyn.cli`` with this interpreter)."""
    return [sys.executable, "-m", "spinsyn.cli", *args]


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300) -> None:
    r = subprocess.run(spinsyn_cmd(*args), capture_output=True, text=True, cwd=cwd, timeout=timeout,
                       env={**os.environ, **(env or {})})
    assert r.returncode == 0, f"{args}: rc {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"


def _rule_variant(rule: Path, out: Path, **params: dict) -> Path:
    doc = json.loads(rule.read_text())
    for name, rec in params.items():
        doc["params"][name].update(rec)
    out.write_text(json.dumps(doc))
    return out


def _bad_inputs(bad: Path, rule: Path) -> None:
    """Malformed inputs, one per hostile case that reads a file."""
    bad.mkdir()
    (bad / "empty.h5").write_bytes(b"")
    (bad / "empty.csv").write_bytes(b"")
    (bad / "garbage.h5").write_bytes(b"not an hdf5 file at all\n" * 10)
    (bad / "notutf8.csv").write_bytes(b"\xff\xfe\x00dt_ms,dw\n")
    (bad / "nounit.csv").write_text("dt,dw\n0,1\n10,0\n20,-1\n30,-1\n")
    rows = "\n".join(f"{t},{np.tanh((30 - t) / 8):.6f}" for t in range(0, 60, 2))
    (bad / "huge.csv").write_text("dt_ms,dw\n" + "\n".join(
        f"{t},{1e300 * np.tanh((30 - t) / 8):.6g}" for t in range(0, 60, 2)) + "\n")
    (bad / "nan.csv").write_text("dt_ms,dw\n0,1\n10,nan\n20,-1\n30,-1\n")
    (bad / "good.csv").write_text("dt_ms,dw\n" + rows + "\n")
    (bad / "ragged.csv").write_text("dt_ms,dw\n0,1\n10\n20,-1\n")
    (bad / "text.csv").write_text("dt_ms,dw\n0,1\n10,abc\n20,-1\n")
    (bad / "garbage.npy").write_bytes(b"\x93NUMPY garbage garbage")
    np.save(bad / "nan.npy", np.full((8, 4), np.nan))
    np.save(bad / "w3d.npy", np.zeros((2, 3, 4)))
    (bad / "garbage.json").write_text("{not json")
    (bad / "other.json").write_text(json.dumps({"format": "something-else", "format_version": 1}))
    _rule_variant(rule, bad / "rule_k0_1s.json", k0={"unit": "1/s"})
    _rule_variant(rule, bad / "rule_k0_furlong.json", k0={"unit": "furlong/fortnight"})
    _rule_variant(rule, bad / "rule_k0_neg.json", k0={"value": -1e6})
    _rule_variant(rule, bad / "rule_t0_huge.json", t0={"value": 1e30})
    _rule_variant(rule, bad / "rule_t0_str.json", t0={"value": "twenty"})
    run_bad = bad / "notarun"
    run_bad.mkdir()
    (run_bad / "checkpoint.pt").write_bytes(b"garbage checkpoint bytes")
    pickled = bad / "pickled"
    pickled.mkdir()
    import torch

    torch.save({"format": "spinsyn-checkpoint", "obj": _Pickled()}, pickled / "checkpoint.pt")
    with open(bad / "pickled.pt", "wb") as fh:
        pickle.dump({"w": _Pickled()}, fh)
    nonempty = bad / "nonempty"
    nonempty.mkdir()
    (nonempty / "notes.txt").write_text("somebody's notes\n")
    (bad / "nolib.so").write_bytes(b"")


class _Pickled:
    """An arbitrary Python object: what a safe loader must refuse."""


def _readonly_dir(tmp: Path) -> Path:
    if os.geteuid() == 0:
        return Path("/sys")  # root passes permission bits; sysfs refuses new files even to root
    ro = tmp / "readonly"
    ro.mkdir()
    ro.chmod(0o555)
    return ro


@pytest.fixture(scope="session")
def hostile_env(tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("hostile")
    sweep, rule, run, chip = tmp / "sweep.h5", tmp / "rule.json", tmp / "run", tmp / "chip"
    run_cli("device", "sweep", "--model", "stt-mtj", "--dt-ms", "0:60:5", "--trials", "3", "--engine", "reference",
            "--jobs", "1", "--out", str(sweep))
    run_cli("fit", str(sweep), "--model", "bisigmoid", "--out", str(rule))
    run_cli("train", "--synapse", "compound:4", "--neurons", "5", "--n-train", "20", "--n-test", "10",
            "--n-assign", "20", "--device", "cpu", "--rule", str(rule), "--quiet", "--out", str(run))
    run_cli("export", str(run), "--tile", "64x64", "--no-csv", "--out", str(chip))
    w = tmp / "w.npy"
    np.save(w, np.random.default_rng(0).random((16, 8)))
    (tmp / "a_file").write_text("a file, not a folder\n")
    _bad_inputs(tmp / "bad", rule)
    return {"sweep": str(sweep), "rule": str(rule), "run": str(run), "chip": str(chip), "w": str(w),
            "file": str(tmp / "a_file"), "ro": str(_readonly_dir(tmp)), "bad": str(tmp / "bad"),
            "root": str(tmp)}
