"""Learning-rule shape read directly from a device sweep (p_switch(Δt)), through the file the devices stage
writes: a real reference-engine sweep of the published compound synapse."""

from __future__ import annotations

import json

import numpy as np
import pytest
from spinsyn import devices as D
from spinsyn.devices.models import get_testbench
from spinsyn.snn.rules import SweepTrace, rule_from_dict
from spinsyn.snn.sweep_table import switching_probabilities


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sw") / "sweep.h5"
    r = D.sweep(D.get_model("compound"), get_testbench("published"), np.arange(0, 60, 2.0), 60, seed=4)
    D.write_sweep(path, r)
    return path


def test_probabilities_from_raw_datasets(sweep_file):
    r = D.read_sweep(sweep_file)
    grid, up, dn = switching_probabilities(sweep_file, 1.0)
    assert grid[0] == 0 and grid[-1] == 58 and np.allclose(np.diff(grid), 1.0)
    for i in (0, 5, 14, 29):  # at the sweep's own delays the table is the pooled ratio
        k = r.state_before[i]
        assert up[int(r.dt_ms[i])] == pytest.approx(r.switched_up[i].sum() / (r.n_mtj - k).sum())
        assert dn[int(r.dt_ms[i])] == pytest.approx(r.switched_down[i].sum() / k.sum())
    # interpolation between two delays
    assert up[1] == pytest.approx(0.5 * (up[0] + up[2]))
    # the published device: potentiation for short delays, depression near the end of the window
    assert up[:8].mean() > 0.5 and dn[:8].mean() < 0.05
    assert dn[56:].mean() > 0.5 and up[56:].mean() < 0.05
    assert up[30:40].max() < 0.05 and dn[30:40].max() < 0.05


def test_rule_compiles_and_round_trips(sweep_file):
    rule = SweepTrace(sweep_path=str(sweep_file), nu_post=0.002)
    c = rule.compile(1.0)
    assert np.max(np.abs(c.f_tab)) == pytest.approx(1.0)
    assert c.f_tab[0] > 0.5 and c.f_tab[-1] < -0.5 and c.nu_post == 0.002
    again = rule_from_dict(json.loads(json.dumps(rule.to_dict())))
    np.testing.assert_array_equal(again.compile(1.0).f_tab, c.f_tab)
    d = c.describe()
    assert d["source"] == str(sweep_file) and len(d["p_up"]) == len(c.f_tab)
    assert d["source_file"]["path"] == str(sweep_file) and len(d["source_file"]["sha256"]) == 64


def test_cli_trains_from_a_sweep(tmp_path, sweep_file):
    from spinsyn.cli import main

    out = tmp_path / "run"
    rc = main(["train", "--rule", str(sweep_file), "--synapse", "compound:8", "--neurons", "10", "--n-train", "30",
               "--n-test", "20", "--n-assign", "20", "--engine", "numba", "--device", "cpu", "--quiet",
               "--out", str(out)])
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["config"]["rule"]["name"] == "sweep"
    assert m["rule_function"]["source"] == str(sweep_file.resolve())


def test_bad_sweep_inputs(tmp_path, capsys):
    from spinsyn.cli import main

    dw = tmp_path / "dw.h5"
    D.write_sweep(dw, D.sweep(D.get_model("dw-mtj"), get_testbench("published"), np.array([0.0, 10.0]), 3))
    with pytest.raises(ValueError, match="no MTJ counts"):
        switching_probabilities(dw)
    one = tmp_path / "one.h5"
    D.write_sweep(one, D.sweep(D.get_model("compound"), get_testbench("published"), np.array([4.0]), 3))
    with pytest.raises(ValueError, match="at least 2 delays"):
        switching_probabilities(one)
    rc = main(["train", "--rule", str(dw), "--synapse", "compound:8", "--n-train", "10", "--n-test", "10",
               "--out", str(tmp_path / "r")])
    assert rc == 2 and "no MTJ counts" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_sweep_file_checks(tmp_path, sweep_file, capsys):
    import dataclasses

    import h5py
    from spinsyn.cli import main
    from spinsyn.fileio import SpinsynFileError

    # a JSON that is not a sweep: not HDF5, so --rule reads it as a rule JSON and rejects it before any work
    bogus = tmp_path / "bogus.json"
    bogus.write_text(json.dumps({"format": "something-else", "format_version": 1}))
    with pytest.raises(SpinsynFileError, match="not an HDF5 file"):
        switching_probabilities(bogus)
    rc = main(["train", "--rule", str(bogus), "--n-train", "10", "--n-test", "10", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2 and "spinsyn: error:" in err and str(bogus) in err
    assert not (tmp_path / "r").exists()
    # no per-MTJ states: refused, naming the file and how to write it
    r = D.read_sweep(sweep_file)
    nostate = tmp_path / "nostate.h5"
    D.write_sweep(nostate, dataclasses.replace(r, state_before=None, state_after=None))
    with pytest.raises(SpinsynFileError, match="state_before") as exc:
        switching_probabilities(nostate)
    assert str(nostate) in str(exc.value)
    # delays stored in descending order give the same table; a negative delay is refused
    rev = tmp_path / "rev.h5"
    D.write_sweep(rev, dataclasses.replace(r, **{k: getattr(r, k)[::-1] for k in (
        "dt_ms", "g_before_S", "g_after_S", "switched_up", "switched_down", "state_before", "state_after")}))
    for a, b in zip(switching_probabilities(rev), switching_probabilities(sweep_file)):
        np.testing.assert_allclose(a, b)
    neg = tmp_path / "neg.h5"
    D.write_sweep(neg, r)
    with h5py.File(neg, "r+") as f:
        f["dt_ms"][0] = -2.0
    with pytest.raises(SpinsynFileError, match=">= 0"):
        switching_probabilities(neg)
    # a sweep where nothing switched cannot be normalised
    flat = tmp_path / "flat.h5"
    D.write_sweep(flat, dataclasses.replace(r, switched_up=0 * r.switched_up, switched_down=0 * r.switched_down))
    with pytest.raises(ValueError, match="no MTJ switched"):
        SweepTrace(sweep_path=str(flat)).compile(1.0)


def test_resume_with_a_sweep_rule(tmp_path, sweep_file):
    """The rule is stored in the checkpoint's config (to_dict/rule_from_dict): resume continues the same run."""
    import torch
    from spinsyn.cli import main
    from spinsyn.snn import TrainConfig, train
    from spinsyn.snn.params import NetworkParams

    cfg = TrainConfig(synapse="compound:8", rule={"name": "sweep", "sweep_path": str(sweep_file), "nu_post": 0.005},
                      network=NetworkParams(n_neurons=10).to_dict(), n_train=30, n_test=20, n_assign=20, seed=3,
                      checkpoint_every=10, engine="numba", device="cpu")
    full = train(cfg, tmp_path / "full", progress=False)
    moved = tmp_path / "moved.h5"
    moved.write_bytes(sweep_file.read_bytes())
    cfg = TrainConfig.from_json(cfg.to_json().replace(str(sweep_file), str(moved)))
    assert train(cfg, tmp_path / "part", progress=False, stop_after=20) == {"stopped": True}
    moved.unlink()  # resume and eval use the compiled rule stored in the checkpoint
    assert main(["train", "--resume", str(tmp_path / "part"), "--quiet"]) == 0
    from spinsyn.snn import read_checkpoint

    a = read_checkpoint(tmp_path / "full" / "checkpoint.pt")
    b = read_checkpoint(tmp_path / "part" / "checkpoint.pt")
    assert torch.equal(a["state"], b["state"]) and torch.equal(a["w"], b["w"])
    assert main(["eval", str(tmp_path / "part"), "--n-test", "20", "--device", "cpu"]) == 0
    m = json.loads((tmp_path / "part" / "metrics.json").read_text())
    assert m["rule_function"]["source"] == str(moved) and m["accuracy_all_activity"] == full["accuracy_all_activity"]
