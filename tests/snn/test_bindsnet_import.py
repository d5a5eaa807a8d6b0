"""``spinsyn import bindsnet``: a BindsNET-looking network file (written in a subprocess by the stand-in package in
tests/snn/bindsnet_standin, which reproduces BindsNET 0.3.4's class paths) is read without running its pickle,
mapped to a run that evaluates and exports; a pickle that calls os.system is refused and never runs."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from spinsyn.cli import main

STANDIN = Path(__file__).parent / "bindsnet_standin"

BUILD = textwrap.dedent("""
    import os, sys, numpy as np, torch
    from bindsnet.models import DiehlAndCook2015
    out, n, evil = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    g = torch.Generator().manual_seed(7)
    w = torch.rand(784, n, generator=g)
    theta = torch.rand(n, generator=g) * 20
    net = DiehlAndCook2015(w, theta, nu=(2e-4, 3e-2))
    if evil:
        class Payload:
            def __reduce__(self):
                return (os.system, (f"touch {evil}",))
        net.payload = Payload()
    net.save(os.path.join(out, "net.pt"))
    labels = torch.arange(n) % 10
    labels[0] = -1  # BindsNET: a neuron that never fired
    torch.save(labels, os.path.join(out, "labels.pt"))
    np.savez(os.path.join(out, "expected.npz"), w=w.numpy(), theta=theta.numpy(), labels=labels.numpy())
""")


def _build(folder: Path, n: int = 10, evil: str = "") -> Path:
    env = {**os.environ, "PYTHONPATH": str(STANDIN)}
    subprocess.run([sys.executable, "-c", BUILD, str(folder), str(n), evil], check=True, env=env, timeout=120)
    return folder


@pytest.fixture(scope="module")
def bn_file(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("bindsnet"))


def test_standin_is_not_importable_here():
    assert importlib.util.find_spec("bindsnet") is None  # the import side works without any bindsnet module
    assert "bindsnet" not in sys.modules


def test_import_maps_weights_theta_params_labels(bn_file, tmp_path, capsys):
    from spinsyn.snn import load_run, read_checkpoint

    run = tmp_path / "run"
    assert main(["import", "bindsnet", str(bn_file / "net.pt"), "--labels", str(bn_file / "labels.pt"),
                 "--out", str(run)]) == 0
    assert "bindsnet" not in sys.modules
    exp = np.load(bn_file / "expected.npz")
    net = load_run(run)
    np.testing.assert_array_equal(net.w, exp["w"].astype(np.float64))
    np.testing.assert_array_equal(net.theta, exp["theta"].astype(np.float64))
    np.testing.assert_array_equal(net.assignments, exp["labels"])
    p = net.params
    assert (p.n_neurons, p.w_exc_inh_mV, p.w_inh_exc_mV, p.norm, p.dt_ms) == (10, 22.5, 120.0, 78.4, 1.0)
    assert (p.exc.v_rest_mV, p.exc.v_reset_mV, p.exc.v_thresh_mV, p.exc.refrac_ms, p.exc.tau_ms) == (
        -65.0, -60.0, -52.0, 5.0, 100.0)
    assert (p.exc.theta_plus_mV, p.exc.tau_theta_ms) == (0.05, 1e7)
    assert (p.inh.v_rest_mV, p.inh.v_reset_mV, p.inh.v_thresh_mV, p.inh.refrac_ms, p.inh.tau_ms) == (
        -60.0, -45.0, -40.0, 2.0, 10.0)
    assert net.config.rule == {"name": "postpre", "nu_pre": 2e-4, "nu_post": 3e-2}
    origin = json.loads(read_checkpoint(run)["config_json"])["origin"]
    assert origin["kind"] == "bindsnet" and origin["class"] == "bindsnet.models.models.DiehlAndCook2015"
    assert len(origin["sha256"]) == 64 and origin["labels_file"].endswith("labels.pt")


def test_imported_run_evaluates_and_exports_a_chip_that_verifies(bn_file, tmp_path, capsys):
    run, chip = tmp_path / "run", tmp_path / "chip"
    assert main(["import", "bindsnet", str(bn_file / "net.pt"), "--labels", str(bn_file / "labels.pt"),
                 "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "--n-test", "20", "--device", "cpu", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["n_test"] == 20 and 0.0 <= res["accuracy_all_activity"] <= 1.0
    assert main(["export", str(run), "--out", str(chip), "--no-csv", "--write-pulse", "20"]) == 0
    assert main(["export", "verify", str(chip)]) == 0
    assert "OK" in capsys.readouterr().out


def test_without_labels_eval_needs_assign(bn_file, tmp_path, capsys):
    from spinsyn.snn import read_checkpoint

    run = tmp_path / "run"
    assert main(["import", "bindsnet", str(bn_file / "net.pt"), "--out", str(run)]) == 0
    assert "assignments" not in read_checkpoint(run)
    assert main(["eval", str(run), "--n-test", "10", "--device", "cpu"]) == 2
    assert "--assign" in capsys.readouterr().err
    assert main(["eval", str(run), "--n-test", "10", "--device", "cpu", "--assign", "50"]) == 0
    asg = read_checkpoint(run)["assignments"].numpy()
    assert asg.shape == (10,) and asg.min() >= 0 and asg.max() <= 9


def test_pickle_calling_os_system_is_refused_and_never_runs(tmp_path, capsys):
    marker = tmp_path / "PWNED"
    (tmp_path / "evil").mkdir()
    folder = _build(tmp_path / "evil", evil=str(marker))
    run = tmp_path / "run"
    assert main(["import", "bindsnet", str(folder / "net.pt"), "--out", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("spinsyn: error: ")
    assert "posix.system" in err[0] or "os.system" in err[0]
    assert not marker.exists()
    assert not run.exists()


@pytest.mark.parametrize("content, words", [(b"\x80\x02}q\x00.", "legacy"), (b"hello", "not a torch zip"),
                                            (b"", "not a torch zip")])
def test_non_zip_files_are_refused(tmp_path, capsys, content, words):
    f = tmp_path / "net.pt"
    f.write_bytes(content)
    assert main(["import", "bindsnet", str(f), "--out", str(tmp_path / "run")]) == 2
    assert words in capsys.readouterr().err


def test_bad_labels_and_missing_files_are_refused(bn_file, tmp_path, capsys):
    import torch

    bad = tmp_path / "labels.pt"
    torch.save(torch.zeros(3, dtype=torch.long), bad)
    assert main(["import", "bindsnet", str(bn_file / "net.pt"), "--labels", str(bad), "--out",
                 str(tmp_path / "run")]) == 2
    assert "expected 10 per-neuron class indices" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    assert main(["import", "bindsnet", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "run")]) == 2
    assert "NET.pt" in capsys.readouterr().err


def test_tensor_layout_past_its_storage_is_refused():
    from spinsyn.fileio import SpinsynFileError
    from spinsyn.snn.bindsnet_file import _rebuild_tensor

    store = np.arange(6, dtype=np.float32)
    np.testing.assert_array_equal(_rebuild_tensor(store, 0, (2, 3), (3, 1)), store.reshape(2, 3))
    np.testing.assert_array_equal(_rebuild_tensor(store, 1, (2,), (2,)), [1, 3])
    with pytest.raises(SpinsynFileError, match="runs past its storage"):
        _rebuild_tensor(store, 0, (3, 3), (3, 1))
