"""End to end on the embedded MNIST subset: files, resume equals uninterrupted, eval, CLI errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from spinsyn.snn.network import TrainConfig, evaluate, load_run, train
from spinsyn.snn.params import NetworkParams


def _cfg(**kw):
    base = dict(synapse="compound:4", network=NetworkParams(n_neurons=12).to_dict(), n_train=120, n_test=60,
                n_assign=60, epochs=2, batch=2, seed=5, checkpoint_every=40, engine="numba", device="cpu")
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("extra", [{}, {"nu_final_frac": 0.2}])
def test_resume_equals_uninterrupted(tmp_path, extra):
    cfg = _cfg(**extra)
    full = train(cfg, tmp_path / "full", progress=False)
    part = train(cfg, tmp_path / "part", progress=False, stop_after=150)  # stops inside epoch 2
    assert part == {"stopped": True}
    ck = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=True)
    assert ck["position"].tolist() == [1, 30]
    res = train(cfg, tmp_path / "part", resume=True, progress=False)
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=True)
    for key in ("w", "g_S", "state", "theta", "assignments", "proportions"):
        assert torch.equal(a[key], b[key]), key
    assert res["accuracy_all_activity"] == full["accuracy_all_activity"]


def test_run_files_and_eval(tmp_path):
    m = train(_cfg(synapse="ideal", epochs=1, n_train=100, batch=1), tmp_path, progress=False)
    doc = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("accuracy_all_activity", "accuracy_proportion", "n_train", "n_test", "train_samples_per_s",
                "test_samples_per_s", "device", "config", "history", "confusion", "format", "format_version"):
        assert key in doc, key
    assert doc["format"] == "spinsyn-metrics" and np.asarray(doc["confusion"]).shape == (10, 10)
    assert sum(map(sum, doc["confusion"])) == 60
    for png in ("receptive_fields.png", "accuracy.png", "confusion.png"):
        assert (tmp_path / png).stat().st_size > 1000
    ck = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert ck["format"] == "spinsyn-checkpoint" and ck["w"].shape == (784, 12)
    assert float(ck["w"].min()) >= 0 and float(ck["w"].max()) <= 1
    net = load_run(tmp_path)
    from spinsyn.mnist import load_mnist

    X, y = load_mnist("test", None, n=60)
    r = evaluate(net, X, y, device="cpu")
    assert r["accuracy_all_activity"] == pytest.approx(m["accuracy_all_activity"])  # same seeds
    r0 = evaluate(net, X, y, device="cpu", w=np.zeros((784, 12)))  # no input: no spikes
    assert r0["accuracy_all_activity"] <= 0.2
    with pytest.raises(ValueError, match="shape"):
        evaluate(net, X, y, w=np.zeros((10, 12)))


def test_input_presets_reach_the_config():
    import argparse

    from spinsyn.snn import cli

    p = argparse.ArgumentParser()
    cli.register(p.add_subparsers())
    cfg = cli.config_from_args(p.parse_args(["train", "--input", "diehl-cook", "--w-inh", "60", "--out", "x"]))
    assert (cfg.network["intensity_Hz"], cfg.network["time_ms"], cfg.network["w_inh_exc_mV"]) == (63.75, 350.0, 60.0)
    cfg = cli.config_from_args(p.parse_args(["train", "--out", "x"]))
    assert (cfg.network["intensity_Hz"], cfg.network["time_ms"]) == (128.0, 250.0)


def test_nu_schedule_is_linear_in_progress():
    from spinsyn.snn.network import scheduled_rule
    from spinsyn.snn.rules import make_rule

    r = make_rule("trace", nu_post=0.01).compile(1.0)
    assert scheduled_rule(r, 0.1, 0.0).nu_post == pytest.approx(0.01)
    assert scheduled_rule(r, 0.1, 0.5).nu_post == pytest.approx(0.0055)
    assert scheduled_rule(r, 0.1, 1.0).nu_post == pytest.approx(0.001)
    assert scheduled_rule(r, 0.1, 1.0).f_tab is r.f_tab


@pytest.mark.parametrize("argv,msg", [
    (["--nu-final", "1.5"], "--nu-final"),
    (["--intensity", "0"], "--intensity"),
    (["--input", "diehl-cook", "--time-ms", "0.5"], "--time-ms"),
    (["--w-inh", "-3"], "--w-inh"),
    (["--train-min-spikes", "5", "--engine", "torch"], "numba CPU engine only"),
    (["--train-min-spikes", "-1"], "--train-min-spikes"),
    (["--synapse", "quantized:1"], "levels must be >= 2"),
    (["--synapse", "flash:3"], "unknown synapse"),
    (["--neurons", "0"], "--neurons"),
])
def test_cli_bad_input(tmp_path, capsys, argv, msg):
    from spinsyn.cli import main

    rc = main(["train", "--out", str(tmp_path / "r"), "--n-train", "10", "--n-test", "10", *argv])
    assert rc == 2
    assert msg in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_cli_rule_of_another_schema_and_missing_data(tmp_path, capsys):
    from spinsyn.cli import main
    from spinsyn.fileio import write_json

    bad = tmp_path / "rule.json"
    write_json(bad, {"a": 1}, fmt="spinsyn-metrics", version=1)
    assert main(["train", "--rule", str(bad), "--out", str(tmp_path / "r1")]) == 2
    assert "rule.json" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["train", "--data-dir", str(empty), "--out", str(tmp_path / "r2")]) == 2
    assert str(empty) in capsys.readouterr().err
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists()
