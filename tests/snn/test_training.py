"""End to end on the embedded MNIST subset: files, resume equals uninterrupted, eval, CLI errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from spinsyn.snn import TrainConfig, evaluate, load_run, read_checkpoint, train
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
    ck = read_checkpoint(tmp_path / "part" / "checkpoint.pt")
    assert ck["position"].tolist() == [1, 30]
    res = train(cfg, tmp_path / "part", resume=True, progress=False)
    a = read_checkpoint(tmp_path / "full" / "checkpoint.pt")
    b = read_checkpoint(tmp_path / "part" / "checkpoint.pt")
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
    ck = read_checkpoint(tmp_path / "checkpoint.pt")
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
    from spinsyn.snn.rules import make_rule
    from spinsyn.snn.trainer import scheduled_rule

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
    (["--synapse", "quantized:1"], "--synapse"),
    (["--synapse", "flash:3"], "--synapse"),
    (["--neurons", "0"], "--neurons"),
    (["--nu", "-1"], "--nu"),
    (["--nu", "nan"], "--nu"),
    (["--nu-final", "nan"], "--nu-final"),
    (["--rule-spread", "-0.1"], "--rule-spread"),
    (["--rule-offset", "inf"], "--rule-offset"),
    (["--synapse", "compound:8", "--g-spread", "-1"], "--g-spread"),
    (["--synapse", "compound:8", "--read-noise", "inf"], "--read-noise"),
    (["--synapse", "compound:8", "--compound-gain", "nan"], "--compound-gain"),
    (["--g-spread", "0.1"], "compound synapses only"),
    (["--intensity", "nan"], "--intensity"),
    (["--time-ms", "inf"], "--time-ms"),
    (["--w-inh", "nan"], "--w-inh"),
    (["--learning-rule", "postpre", "--nu-pre", "-1"], "--nu-pre"),
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


@pytest.mark.parametrize("spec", ["dw:16", "quantized:9"])
def test_trained_conductances_are_the_dw_mtj_levels(tmp_path, spec):
    from spinsyn.devices import synapse_device
    from spinsyn.snn import read_checkpoint

    train(_cfg(synapse=spec, epochs=1, n_train=20, n_test=10, n_assign=10), tmp_path, progress=False)
    ck = read_checkpoint(tmp_path)
    dev = synapse_device(spec)
    state, g = ck["state"].numpy(), ck["g_S"].numpy()
    np.testing.assert_array_equal(g, dev.level_conductances_S()[state])
    assert g.min() >= 125e-6 * (1 - 1e-12) and g.max() <= 250e-6 * (1 + 1e-12)
    assert json.loads(ck["synapse_device_json"]) == dev.record() and ck["synapse_spec"] == spec
    net = load_run(tmp_path)
    assert str(net.spec) == spec and net.synapse_device.record() == dev.record()
    assert net.state.shape == net.w.shape == (784, 12)


def test_checkpoint_is_self_contained(tmp_path, capsys):
    """The compiled rule and the device are in the checkpoint: eval, load_run and resume work without the rule."""
    from spinsyn.cli import main
    from spinsyn.fitting import published_rule, save_rule
    from spinsyn.snn import make_config, read_checkpoint

    rule = save_rule(tmp_path / "rule.json", published_rule())
    cfg = make_config(synapse="compound:4", neurons=12, n_train=60, n_test=20, n_assign=20, epochs=1,
                      device="cpu", seed=2, rule=rule)
    cfg.checkpoint_every, cfg.batch = 20, 2
    full = train(cfg, tmp_path / "full", progress=False)
    assert train(cfg, tmp_path / "part", progress=False, stop_after=30) == {"stopped": True}
    ck = read_checkpoint(tmp_path / "full" / "checkpoint.pt")
    assert ck["format_version"] == 3
    rec = json.loads(ck["rule_json"])
    assert rec["kind"] == 0 and rec["nu_post"] == 0.005 and rec["info"]["source"] == str(rule.resolve())
    assert len(rec["info"]["source_file"]["sha256"]) == 64 and rec["info"]["function_params"]["t0"] > 0
    assert ck["rule_f_tab"].shape == (61,) and float(ck["rule_f_tab"].abs().max()) == 1.0
    rule.unlink()
    net = load_run(tmp_path / "full")
    np.testing.assert_array_equal(net.compiled.f_tab, ck["rule_f_tab"].numpy())
    assert main(["eval", str(tmp_path / "full"), "--n-test", "20", "--device", "cpu", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy_all_activity"] == full["accuracy_all_activity"]
    assert main(["train", "--resume", str(tmp_path / "part"), "--quiet"]) == 0
    b = read_checkpoint(tmp_path / "part")
    for key in ("w", "state", "theta", "assignments"):
        assert torch.equal(ck[key], b[key]), key


def test_checkpoint_reader_errors(tmp_path):
    from spinsyn.fileio import SpinsynFileError
    from spinsyn.snn import read_checkpoint

    with pytest.raises(SpinsynFileError, match="no checkpoint"):
        read_checkpoint(tmp_path)
    old = tmp_path / "checkpoint.pt"
    torch.save({"format": "spinsyn-checkpoint", "format_version": 1, "w": torch.zeros(2)}, old)
    with pytest.raises(SpinsynFileError, match="format_version 1") as exc:
        read_checkpoint(old)
    assert str(old) in str(exc.value)


@pytest.mark.parametrize("opts,msg", [
    ({"nu": -1.0}, "--nu"), ({"nu": float("nan")}, "--nu"), ({"rule_spread": float("inf")}, "--rule-spread"),
    ({"synapse": "compound:8", "g_spread": -1.0}, "--g-spread"), ({"synapse": "compound:8", "read_noise": float("inf")},
                                                                  "--read-noise"),
    ({"neurons": 0}, "--neurons"), ({"n_train": -5}, "--n-train"), ({"intensity": float("nan")}, "--intensity"),
    ({"time_ms": -1.0}, "--time-ms"), ({"w_inh": float("nan")}, "--w-inh"), ({"epochs": 1.5}, "--epochs"),
    ({"device_preset": "compound"}, "--device"), ({"rule": "/nonexistent/rule.json"}, "--rule"),
])
def test_make_config_rejects_bad_options(opts, msg):
    from spinsyn.snn import make_config

    with pytest.raises(ValueError, match=msg):
        make_config(**opts)


def test_validate_config_checks_the_python_api_too():
    from spinsyn.snn import validate_config

    with pytest.raises(ValueError, match="--nu"):
        validate_config(_cfg(rule={"name": "trace", "nu_post": float("nan")}))
    with pytest.raises(ValueError, match="--read-noise"):
        validate_config(_cfg(synapse_options={"read_noise": -0.1}))


def test_no_test_images_gives_no_accuracy(tmp_path, capsys):
    """``--n-test 0`` trains and assigns labels; the accuracy is null (not a measured 0 %) and said so."""
    from spinsyn.cli import main

    run = tmp_path / "r"
    assert main(["train", "--out", str(run), "--n-train", "20", "--n-assign", "10", "--n-test", "0",
                 "--neurons", "10", "--quiet", "--no-plots"]) == 0
    assert "not measured (--n-test 0)" in capsys.readouterr().out
    m = json.loads((run / "metrics.json").read_text())
    assert m["accuracy_all_activity"] is None and m["accuracy_proportion"] is None and m["n_test"] == 0
