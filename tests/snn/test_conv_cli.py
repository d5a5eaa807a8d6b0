"""``spinsyn train --network conv``, ``eval`` and ``export`` of a conv run (issue 27), on the embedded MNIST subset."""

from __future__ import annotations

import json

import pytest
from spinsyn.cli import main

#: a small network and fast schedule (as tests/snn/test_conv.py TINY): a+ doubles every 50 images, the R-STDP rates
#: adapt every 100, so 200 images learn something; measured 45 % on 100 test images (chance 10 %)
TINY_JSON = json.dumps({"f1": 8, "f2": 32, "f3": 40, "kwta2": 4, "lr_double_every": 50, "adapt_every": 100})
TINY = ["--network", "conv", "--n-train", "200", "--n-test", "100", "--conv-epochs", "2,2,20",
        "--conv-config", TINY_JSON, "--quiet"]


@pytest.fixture(scope="module")
def conv_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("conv") / "run"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    return out


def test_train_conv_writes_a_run_folder_above_chance(conv_run):
    assert sorted(p.name for p in conv_run.iterdir()) == ["conv.npz", "metrics.json"]
    m = json.loads((conv_run / "metrics.json").read_text())
    assert m["format"] == "spinsyn-metrics" and m["network"] == "conv"
    assert m["n_train"] == 200 and m["n_test"] == 100 and m["synapse"] == "ideal"
    assert m["accuracy"] > 0.25  # chance 0.10; measured 0.45
    assert m["wall_time_s"] >= m["train_time_s"] > 0
    from spinsyn.snn.conv import load_conv

    stdp = load_conv(conv_run / "conv.npz").history["stdp_state"]  # both conv layers trained their 2 passes
    assert (stdp["layer"], stdp["passes_done"], stdp["seen"]) == (1, 2, 400)
    cfg = m["config"]
    assert (cfg["epochs1"], cfg["epochs2"], cfg["epochs3"]) == (2, 2, 20) and cfg["f2"] == 32
    assert len(m["train_accuracy"]) == 20


def test_eval_conv_run_repeats_the_train_accuracy(conv_run, capsys):
    capsys.readouterr()
    assert main(["eval", str(conv_run), "--n-test", "100", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    m = json.loads((conv_run / "metrics.json").read_text())
    assert res["network"] == "conv" and res["n_test"] == 100
    assert res["accuracy"] == pytest.approx(m["accuracy"])  # inference is deterministic
    assert main(["eval", str(conv_run), "--n-test", "10", "--assign", "20"]) == 2
    assert "--assign: applies to Diehl & Cook runs only" in capsys.readouterr().err


def test_export_of_a_conv_run_writes_a_verifiable_conv_chip(conv_run, tmp_path, capsys):
    chip = tmp_path / "chip"  # one chip folder per layer and conv_chip.json (tests/hw_export/test_conv_chip.py)
    assert main(["export", str(conv_run), "--out", str(chip), "--write-pulse", "10", "--no-csv"]) == 0
    assert sorted(p.name for p in chip.iterdir()) == ["conv1", "conv2", "conv3", "conv_chip.json"]
    capsys.readouterr()
    assert main(["export", "verify", str(chip)]) == 0
    assert "OK (conv chip, quantized:32" in capsys.readouterr().out  # an ideal run: 32 levels, as Diehl & Cook


def test_a_quantized_conv_run_keeps_its_device_states(tmp_path):
    from spinsyn.snn.conv import load_conv

    out = tmp_path / "q"
    assert main(["train", "--network", "conv", "--synapse", "quantized:16", "--n-train", "30", "--n-test", "10",
                 "--conv-epochs", "1,1,1", "--conv-config", TINY_JSON, "--seed", "2", "--quiet", "--out",
                 str(out)]) == 0
    net = load_conv(out / "conv.npz")
    assert str(net.synapse.spec) == "quantized:16" and net.layers[0].state is not None
    m = json.loads((out / "metrics.json").read_text())
    assert m["seed"] == 2 and m["device"] == "cpu"


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


@pytest.mark.parametrize("argv, message", [
    (["--network", "conv", "--neurons", "10"], "--neurons: applies to --network dc only"),
    (["--network", "conv", "--epochs", "2"], "--epochs: applies to --network dc only"),
    (["--network", "conv", "--device-param", "tmr0=0.7"], "--device-param: applies to --network dc only"),
    (["--network", "conv", "--no-plots"], "--no-plots: applies to --network dc only"),
    pytest.param(["--network", "conv", "--device", "cuda"], "--device: 'cuda' requested but CUDA is not available",
                 marks=pytest.mark.skipif(_cuda(), reason="a GPU is present: --device cuda is accepted")),
    (["--network", "conv", "--device", "gpu"], "--device: expected auto, cpu or cuda[:i]"),
    (["--network", "conv", "--synapse", "graded"], "--synapse: graded is not supported by --network conv"),
    (["--network", "conv", "--synapse", "compound:0"], "--synapse:"),
    (["--network", "conv", "--conv-epochs", "1,2"], "--conv-epochs: got '1,2'"),
    (["--network", "conv", "--conv-config", '{"epochs3": 5}'], "--conv-config: epochs3: give the passes"),
    (["--network", "conv", "--conv-config", '{"f3": 25}'], "--conv-config: f3 (25) must be a multiple"),
    (["--network", "conv", "--conv-config", "[1]"], "--conv-config:"),
    (["--network", "conv", "--n-train", "0"], "--n-train:"),
    (["--network", "conv", "--rule", "/nonexistent/rule.json"], "--rule:"),
    (["--network", "conv", "--rule-spread", "0.1"], "--rule-spread: applies to --network dc only"),
    (["--network", "dc", "--conv-epochs", "1,1,1"], "--conv-epochs: applies to --network conv only"),
    (["--conv-config", "{}", "--conv-epochs", "1,1,2"], "--conv-epochs: applies to --network conv only"),
])
def test_bad_combinations_exit_2_with_one_line_and_write_nothing(argv, message, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *argv, "--n-test", "10", "--out", str(out), "--quiet"]) == 2
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spinsyn: error: ") and message in lines[0]
    assert cap.out == "" and not out.exists()


def test_a_fitted_rule_shapes_conv_stdp_and_is_recorded(tmp_path):
    from spinsyn.fitting import published_rule, save_rule
    from spinsyn.snn.conv import load_conv

    rule = save_rule(tmp_path / "rule.json", published_rule())
    runs = {}
    for name, extra in (("plain", []), ("ruled", ["--rule", str(rule)])):
        out = tmp_path / name
        assert main(["train", "--network", "conv", "--n-train", "30", "--n-test", "10", "--conv-epochs", "1,1,1",
                     "--conv-config", TINY_JSON, "--seed", "4", "--quiet", "--out", str(out), *extra]) == 0
        runs[name] = out
    m = json.loads((runs["ruled"] / "metrics.json").read_text())
    assert m["rule"]["dt_ms"] == 4.0 and m["rule"]["source_file"]["path"] == str(rule.resolve())
    assert json.loads((runs["plain"] / "metrics.json").read_text())["rule"] is None
    w_plain, w_rule = (load_conv(r / "conv.npz").layers[0].w for r in runs.values())
    assert not (w_plain == w_rule).all()


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """The conv_run training (same options) interrupted after its checkpoint at R-STDP pass 7."""
    from spinsyn.snn.conv import run as conv_run_module

    out = tmp_path_factory.mktemp("conv") / "cut"
    mp = pytest.MonkeyPatch()
    mp.setattr(conv_run_module, "CHECKPOINT_EVERY_S", 0.0)  # a checkpoint after every pass
    real = conv_run_module._Checkpoint.__call__

    def cut(self, done, net, acc):
        real(self, done, net, acc)
        if done == 7:
            raise KeyboardInterrupt  # as SIGINT after the checkpoint of pass 7

    mp.setattr(conv_run_module._Checkpoint, "__call__", cut)
    try:
        assert main(["train", *TINY, "--out", str(out)]) == 130
    finally:
        mp.undo()
    return out


def test_an_interrupted_conv_run_resumes_to_the_uninterrupted_result(conv_run, interrupted, tmp_path, capsys):
    import shutil

    import numpy as np
    from spinsyn.snn.conv import load_conv

    assert sorted(p.name for p in interrupted.iterdir()) == ["conv.npz"]  # a checkpoint, no metrics: unfinished
    assert load_conv(interrupted / "conv.npz").history["rstdp_state"]["passes_done"] == 7
    assert main(["export", str(interrupted), "--out", str(tmp_path / "chip")]) == 2
    assert "an unfinished conv run" in capsys.readouterr().err
    assert not (tmp_path / "chip").exists()
    run = tmp_path / "run"
    shutil.copytree(interrupted, run)
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert "resuming conv run" in capsys.readouterr().out
    m, ref = (json.loads((r / "metrics.json").read_text()) for r in (run, conv_run))
    assert m["train_accuracy"] == ref["train_accuracy"] and m["accuracy"] == ref["accuracy"]
    for a, b in zip(load_conv(run / "conv.npz").w, load_conv(conv_run / "conv.npz").w):
        np.testing.assert_array_equal(a, b)
    assert m["resumed"][0]["from_pass"] == 7 and m["resumed"][0]["to_pass"] == 20


def test_a_finished_conv_run_continues_with_more_passes(conv_run, tmp_path):
    import shutil

    import numpy as np
    from spinsyn.snn.conv import load_conv

    more = tmp_path / "more"
    shutil.copytree(conv_run, more)
    assert main(["train", "--network", "conv", "--resume", str(more), "--conv-epochs", "2,2,23", "--quiet"]) == 0
    fresh = tmp_path / "fresh"
    argv = [a if a != "2,2,20" else "2,2,23" for a in TINY]
    assert main(["train", *argv, "--out", str(fresh)]) == 0
    for a, b in zip(load_conv(more / "conv.npz").w, load_conv(fresh / "conv.npz").w):
        np.testing.assert_array_equal(a, b)
    assert len(json.loads((more / "metrics.json").read_text())["train_accuracy"]) == 23


@pytest.mark.parametrize("cut_after, where", [(1, "conv 1 pass 1 of 2"), (3, "conv 2 pass 1 of 2")])
def test_a_conv_run_interrupted_in_conv_1_2_resumes_to_the_uninterrupted_result(conv_run, cut_after, where,
                                                                                 tmp_path, capsys):
    import numpy as np
    from spinsyn.snn.conv import load_conv
    from spinsyn.snn.conv import run as conv_run_module

    run = tmp_path / "cut"
    calls = []
    real = conv_run_module._Checkpoint.stdp_pass

    def cut(self, net):
        real(self, net)
        calls.append(1)
        if len(calls) == cut_after:
            raise KeyboardInterrupt  # as SIGINT after the checkpoint of that conv 1-2 pass

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(conv_run_module, "CHECKPOINT_EVERY_S", 0.0)
        mp.setattr(conv_run_module._Checkpoint, "stdp_pass", cut)
        assert main(["train", *TINY, "--out", str(run)]) == 130
    saved = load_conv(run / "conv.npz").history
    assert "rstdp_state" not in saved and saved["stdp_state"]["passes_done"] == 1
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert f"at {where} (R-STDP to pass 20)" in capsys.readouterr().out
    m, ref = (json.loads((r / "metrics.json").read_text()) for r in (run, conv_run))
    assert m["train_accuracy"] == ref["train_accuracy"] and m["accuracy"] == ref["accuracy"]
    for a, b in zip(load_conv(run / "conv.npz").w, load_conv(conv_run / "conv.npz").w):
        np.testing.assert_array_equal(a, b)
    assert m["resumed"][0]["from"] == where and m["resumed"][0]["from_pass"] == 0


@pytest.mark.parametrize("extra, message", [
    (["--synapse", "compound:8"], "--synapse cannot be combined with --resume of a conv run"),
    (["--conv-epochs", "1,2,30"], "--conv-epochs: the run trained conv 1-2 for 2,2 passes"),
    (["--conv-epochs", "2,2,5"], "--conv-epochs: E3 = 5 is below the 7 R-STDP passes"),
    (["--network", "lc"], "--network: "),
])
def test_conv_resume_refusals_exit_2_with_one_line(interrupted, extra, message, capsys):
    before = (interrupted / "conv.npz").read_bytes()
    assert main(["train", "--resume", str(interrupted), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("spinsyn: error: ") and message in err
    assert (interrupted / "conv.npz").read_bytes() == before


def test_a_finished_conv_run_needs_more_passes_to_resume(conv_run, capsys):
    assert main(["train", "--resume", str(conv_run)]) == 2
    assert "a finished conv run (20 of 20 R-STDP passes)" in capsys.readouterr().err


def test_network_dc_is_the_default_and_trains_as_before(tmp_path):
    """``--network dc`` given or not: the same Diehl & Cook run (same weights and metrics, no conv files)."""
    import numpy as np
    from spinsyn.snn import read_checkpoint

    args = ["train", "--synapse", "dw:16", "--neurons", "6", "--n-train", "20", "--n-test", "10", "--n-assign",
            "20", "--device", "cpu", "--no-plots", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--network", "dc", "--out", str(tmp_path / "b")]) == 0
    ma, mb = (json.loads((tmp_path / r / "metrics.json").read_text()) for r in "ab")
    assert "network" not in ma and "extra" not in ma["config"] and ma["config"] == mb["config"]
    assert ma["accuracy_all_activity"] == mb["accuracy_all_activity"]
    wa, wb = (np.asarray(read_checkpoint(tmp_path / r)["w"]) for r in "ab")
    np.testing.assert_array_equal(wa, wb)
    assert not (tmp_path / "a" / "conv.npz").exists()


def test_make_config_refuses_the_conv_network():
    """make_config builds a Diehl & Cook TrainConfig: asked for the conv network it says where that lives instead of
    silently building dc."""
    import pytest
    from spinsyn.snn import make_config

    with pytest.raises(ValueError, match="network_kind='conv'.*train_conv"):
        make_config(network_kind="conv")
    assert make_config(network_kind="dc").synapse == make_config().synapse
