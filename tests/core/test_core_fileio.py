"""File conventions: atomic writes survive crashes; JSON/HDF5 carry format, version, provenance, units."""

import json
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest
from spinsyn import fileio


def test_atomic_write_replaces_whole_file(tmp_path):
    p = tmp_path / "a.txt"
    fileio.atomic_write_text(p, "old")
    fileio.atomic_write_text(p, "new content")
    assert p.read_text() == "new content"
    assert [f.name for f in tmp_path.iterdir()] == ["a.txt"]  # no temporary left behind


def test_exception_in_the_middle_keeps_old_file(tmp_path):
    p = tmp_path / "data.bin"
    fileio.atomic_write_bytes(p, b"old")
    with pytest.raises(RuntimeError):
        with fileio.atomic_path(p) as tmp:
            tmp.write_bytes(b"half-writ")
            raise RuntimeError("boom")
    assert p.read_bytes() == b"old"
    assert [f.name for f in tmp_path.iterdir()] == ["data.bin"]


def test_process_killed_mid_write_keeps_old_file(tmp_path):
    """A hard crash (os._exit, no cleanup) while writing leaves the previous file intact."""
    p = tmp_path / "weights.h5"
    fileio.atomic_write_bytes(p, b"previous version")
    code = textwrap.dedent(
        f"""
        import os
        from spinsyn import fileio
        with fileio.atomic_path({str(p)!r}) as tmp:
            with open(tmp, "wb") as fh:
                fh.write(b"x" * 100000)
                fh.flush()
                os._exit(9)
        """
    )
    rc = subprocess.run([sys.executable, "-c", code]).returncode
    assert rc == 9
    assert p.read_bytes() == b"previous version"


def test_written_files_have_normal_permissions(tmp_path):
    p = fileio.atomic_write_text(tmp_path / "x.json", "{}")
    assert p.stat().st_mode & 0o044  # group/other readable under the usual umask


def test_json_roundtrip_checks_format_and_version(tmp_path):
    p = tmp_path / "rule.json"
    fileio.write_json(p, {"value": np.float64(1.5), "arr": np.arange(3)}, fmt="spinsyn-test", version=2, seed=7)
    doc = fileio.read_json(p, fmt="spinsyn-test", versions=(2,))
    assert doc["value"] == 1.5 and doc["arr"] == [0, 1, 2]
    prov = doc["provenance"]
    assert prov["seed"] == 7 and prov["spinsyn_version"] and prov["utc_timestamp"].endswith("Z")
    with pytest.raises(fileio.SpinsynFileError, match="rule.json.*format is 'spinsyn-test'"):
        fileio.read_json(p, fmt="spinsyn-rule", versions=(1,))
    with pytest.raises(fileio.SpinsynFileError, match="format_version 2 is not supported"):
        fileio.read_json(p, fmt="spinsyn-test", versions=(1,))


def test_read_json_names_file_on_garbage(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text("{not json")
    with pytest.raises(fileio.SpinsynFileError, match="bad.json: not valid JSON"):
        fileio.read_json(p)
    with pytest.raises(fileio.SpinsynFileError, match="missing.json: file not found"):
        fileio.read_json(tmp_path / "missing.json")


def test_json_refuses_nan(tmp_path):
    with pytest.raises(ValueError):
        fileio.write_json(tmp_path / "n.json", {"x": float("nan")}, fmt="t", version=1)
    assert not (tmp_path / "n.json").exists()


def test_hdf5_meta_units_and_provenance(tmp_path):
    p = tmp_path / "s.h5"
    with fileio.atomic_path(p) as tmp:
        with h5py.File(tmp, "w") as f:
            fileio.h5_write_meta(f, fmt="spinsyn-sweep", version=1, seed=3, model={"name": "x", "n": 8})
            fileio.h5_dataset(f, "g_before_S", np.ones(3))
            fileio.h5_dataset(f, "dt_ms", np.arange(3.0))
            fileio.h5_dataset(f, "switched", np.zeros(3, int))
    with h5py.File(p) as f:
        meta = fileio.h5_read_meta(p, f, fmt="spinsyn-sweep", versions=(1,))
        assert meta["model"] == {"name": "x", "n": 8}
        assert json.loads(f.attrs["provenance"])["seed"] == 3
        assert f["g_before_S"].attrs["units"] == "S"
        assert f["dt_ms"].attrs["units"] == "ms"
        assert f["switched"].attrs["units"] == "1"
        with pytest.raises(fileio.SpinsynFileError, match="s.h5: format is 'spinsyn-sweep'"):
            fileio.h5_read_meta(p, f, fmt="spinsyn-chip", versions=(1,))


def test_sha256_file(tmp_path):
    p = fileio.atomic_write_bytes(tmp_path / "b", b"abc")
    assert fileio.sha256_file(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
