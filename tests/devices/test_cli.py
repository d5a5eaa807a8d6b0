"""device CLI through its own argparse parser (reference engine: fast)."""

import argparse

import numpy as np
import pytest
from spinsyn import devices as D
from spinsyn.devices import cli


def run(argv):
    p = argparse.ArgumentParser()
    cli.register(p.add_subparsers(dest="command"))
    a = p.parse_args(["device", *argv])
    return a.func(a)


def test_sweep_plot_info(tmp_path, capsys):
    out = tmp_path / "s.h5"
    assert run(["sweep", "--model", "compound", "--n-mtj", "4", "--dt-ms", "0:60:10", "--trials", "20",
                "--engine", "reference", "--out", str(out)]) == 0
    r = D.read_sweep(out)
    assert r.n_mtj == 4 and r.g_after_S.shape == (6, 20) and r.engine == "reference"
    assert r.dg_norm.mean(1)[0] > 0 > r.dg_norm.mean(1)[-1]
    assert run(["plot", str(out), "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 1000
    assert run(["info", "stt-mtj"]) == 0
    assert "R_P = 6217.0" in capsys.readouterr().out


@pytest.mark.parametrize("argv,msg", [
    (["--dt-ms", "5:1:1"], "--dt-ms"),
    (["--dt-ms", "0:10:1", "--n-mtj", "0"], "--n-mtj"),
    (["--dt-ms", "0:10:1", "--jobs", "0"], "--jobs"),
])
def test_bad_options(tmp_path, argv, msg):
    with pytest.raises(ValueError, match=msg):
        run(["sweep", "--model", "compound", "--trials", "2", "--engine", "reference",
             "--out", str(tmp_path / "x.h5"), *argv])
    assert not (tmp_path / "x.h5").exists()


def test_read_sweep_rejects_other_files(tmp_path):
    from spinsyn.fileio import SpinsynFileError

    bad = tmp_path / "x.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(SpinsynFileError, match="x.h5"):
        D.read_sweep(bad)
    with pytest.raises(ValueError, match="dt_ms"):
        D.sweep(D.get_model("stt-mtj"), D.PulseTestbench(), np.array([-1.0]), 2)


@pytest.mark.parametrize("edit,msg", [
    (lambda f: f["dt_ms"].attrs.__setitem__("units", "us"), "units 'us', expected 'ms'"),
    (lambda f: f["g_after_S"].attrs.__setitem__("units", "uS"), "units 'uS', expected 'S'"),
    (lambda f: f.attrs.__setitem__("g_max_S", "0.0"), "need g_max_S > g_min_S"),
    (lambda f: (f.__delitem__("g_after_S"), f.create_dataset("g_after_S", data=np.zeros((3, 5)))),
     "expected (3, T) like g_before_S"),
    (lambda f: f.__delitem__("switched_up"), "missing dataset"),
])
def test_read_sweep_validates_units_shapes_and_bounds(tmp_path, edit, msg):
    """The one sweep reader (also used by fitting) names the file and what it expected."""
    import h5py
    from spinsyn.fileio import SpinsynFileError

    path = tmp_path / "s.h5"
    D.write_sweep(path, D.sweep(D.get_model("compound"), D.PulseTestbench(), np.array([0.0, 20.0, 55.0]), 4))
    D.read_sweep(path)
    with h5py.File(path, "r+") as f:
        edit(f)
    with pytest.raises(SpinsynFileError, match="s.h5") as ei:
        D.read_sweep(path)
    assert msg in str(ei.value)


def test_model_choices_are_the_device_families():
    """``device sweep --model`` lists its choices without importing the models (a fast --help); they are the
    families the models define."""
    import subprocess
    import sys

    # a fresh interpreter: other tests register extra models (e.g. 'toy') in this one
    code = "from spinsyn.devices import SynapseSpec; from spinsyn.devices.models import model_names; " \
           "print(','.join(model_names()))"
    names = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ",".join(cli.MODEL_NAMES) == names.stdout.strip()
