"""Conv runs on crossbars (issue 27): kernel-to-column mapping, the conv chip folder, its checks and round trip.

Tiny conv runs (4/8/10 feature maps, one pass per layer on 30 embedded MNIST images: < 1 s each) exported with a
fixed write pulse (no pulse search) onto 64x64 tiles."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from spinsyn.cli import main
from spinsyn.hw_export.convchip import (
    CONV_MANIFEST_NAME,
    LAYER_DIRS,
    conv_chip_problems,
    conv_geometry,
    export_conv_run,
    roll_kernels,
    unroll_kernels,
)

TINY = {"f1": 4, "f2": 8, "f3": 10}
FAST = ["--write-pulse", "10", "--no-csv", "--tile", "64x64"]


def _train(out, synapse):
    from spinsyn.snn.conv.run import conv_config, train_conv_run

    train_conv_run(out, config=conv_config((1, 1, 1), TINY), synapse=synapse, n_train=30, n_test=0, seed=0)
    return out


@pytest.fixture(scope="module")
def compound_run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("convrun") / "run", "compound:8")


@pytest.fixture(scope="module")
def compound_chip(compound_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("convchip") / "chip"
    assert main(["export", str(compound_run), "--out", str(out), *FAST]) == 0
    return out


def _level_matrix(layer_dir):
    from spinsyn.hw_export import load_chip
    from spinsyn.hw_export.tiling import TileLayout, from_tiles

    chip = load_chip(layer_dir, check=False)
    lay, tl = chip.meta["layer"], chip.meta["tiles"]
    layout = TileLayout(lay["device_rows"], lay["device_cols"], tl["tile_rows"], tl["tile_cols"])
    return chip, from_tiles(np.stack([t.level for t in chip.tiles]), layout)


def test_kernel_to_column_mapping_round_trips():
    from spinsyn.snn.conv.layers import kernels_by_input

    rng = np.random.default_rng(0)
    w = rng.random((5, 3, 4, 4))
    W = unroll_kernels(w)
    assert W.shape == (3 * 4 * 4, 5)
    f, c, dy, dx = 3, 2, 1, 3
    assert W[(c * 4 + dy) * 4 + dx, f] == w[f, c, dy, dx]  # row (c, dy, dx), column f
    assert np.array_equal(W, kernels_by_input(w))  # the layout the conv kernels compute with
    assert np.array_equal(roll_kernels(W, w.shape), w)
    state = rng.integers(0, 9, w.shape).astype(np.int32)
    assert np.array_equal(roll_kernels(unroll_kernels(state), w.shape), state)
    with pytest.raises(ValueError, match="kernels"):
        unroll_kernels(w[0])
    with pytest.raises(ValueError, match="matrix"):
        roll_kernels(W[:-1], w.shape)


def test_export_writes_three_verifiable_layer_chips_with_the_trained_states(compound_run, compound_chip, capsys):
    from spinsyn.hw_export import verify_chip
    from spinsyn.snn.conv import load_conv

    assert sorted(p.name for p in compound_chip.iterdir()) == sorted([CONV_MANIFEST_NAME, *LAYER_DIRS])
    man = json.loads((compound_chip / CONV_MANIFEST_NAME).read_text())
    assert man["format"] == "spinsyn-conv-chip" and man["format_version"] == 1
    assert man["config"]["f2"] == 8 and man["synapse"] == "compound:8"
    net = load_conv(compound_run / "conv.npz")
    geo = conv_geometry(net.config)
    for name, e, lw, g in zip(LAYER_DIRS, man["layers"], net.layers, geo):
        F, C, K, _ = lw.w.shape
        assert e["kernel_shape"] == list(lw.w.shape) and e["matrix_shape"] == [C * K * K, F]
        assert e["reads_per_image"] == e["positions"] * e["steps"] == g.reads_per_image
        s = verify_chip(compound_chip / name)
        assert tuple(s["device_shape"]) == (C * K * K, F)
        chip, level = _level_matrix(compound_chip / name)
        assert chip.meta["levels_from"] == "trained device states"
        assert np.array_equal(level, unroll_kernels(lw.state))  # the trained MTJ counts, kernel-to-column
    c = net.config
    assert man["layers"][0]["input_chw_padded"] == [c.n_dog, 28 + 2 * c.pad1, 28 + 2 * c.pad1]
    assert man["layers"][0]["output_hw"] == [28 + 2 * c.pad1 - c.k1_px + 1] * 2
    assert man["layers"][2]["steps"] == 1 and man["layers"][0]["steps"] == c.T
    capsys.readouterr()
    assert main(["export", "verify", str(compound_chip)]) == 0
    assert "OK (conv chip" in capsys.readouterr().out


def test_verify_reports_each_problem_of_a_tampered_conv_chip(compound_chip, tmp_path, capsys):
    bad = tmp_path / "bad"
    shutil.copytree(compound_chip, bad)
    assert conv_chip_problems(bad) == []
    man = json.loads((bad / CONV_MANIFEST_NAME).read_text())
    man["layers"][1]["matrix_shape"] = [1, 1]
    (bad / CONV_MANIFEST_NAME).write_text(json.dumps(man))
    shutil.rmtree(bad / "conv3")
    shutil.copytree(compound_chip / "conv1", bad / "conv3")  # a valid chip folder, but not conv3's
    problems = conv_chip_problems(bad)
    assert any("conv2 matrix_shape" in p for p in problems)
    assert any("conv3" in p and "sha256 does not match" in p for p in problems)
    assert any("device matrix" in p and "conv3" in p for p in problems)
    capsys.readouterr()
    assert main(["export", "verify", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == len(problems) and all(line.startswith("spinsyn: error: ") for line in err)
    (bad / "stray.txt").write_text("x")
    assert any("stray.txt" in p for p in conv_chip_problems(bad))
    assert not any("stray.txt" in p for p in conv_chip_problems(bad, allow_extra=True))


def test_simulate_reports_accuracy_and_loss_terms(compound_run, compound_chip, tmp_path, capsys):
    from spinsyn.mnist import load_mnist
    from spinsyn.snn.conv import evaluate_conv, load_conv

    out = tmp_path / "sim.json"
    assert main(["export", "simulate", str(compound_chip), "--n-test", "12", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["network"] == "conv" and r["n_test"] == 12 and r["run_matches_export"] is True
    assert set(r["accuracy"]) == {"trained", "targets", "programmed", "disturbed"} and r["final"] == "disturbed"
    X, y = load_mnist("test", None, n=12)
    ref = evaluate_conv(load_conv(compound_run / "conv.npz"), X, y)
    assert r["accuracy"]["trained"]["accuracy"] == pytest.approx(ref["accuracy"])  # the run as trained
    terms = {t["term"]: t for t in r["loss_terms"]}
    assert set(terms) == {"quantisation", "programming_error", "half_select_disturb"}
    assert terms["quantisation"]["discordant"] == [0, 0]  # its own MTJ counts on its own synapses
    acc = {c: v["accuracy"] for c, v in r["accuracy"].items()}
    assert terms["programming_error"]["points"] == pytest.approx(100 * (acc["targets"] - acc["programmed"]))
    lo, hi = r["drop_ci95_points"]
    assert r["drop_points"] == pytest.approx(100 * (acc["trained"] - acc["disturbed"]))
    assert lo <= r["drop_points"] <= hi
    assert r["programming"]["devices"] == sum(L["programming"]["devices"] for L in r["layers"]) == 600 + 288 + 2000
    assert "loss terms" in capsys.readouterr().out
    assert main(["export", "simulate", str(compound_chip), "--n-test", "5", "--adc-bits", "4"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("spinsyn: error: --adc-bits: not modelled for conv chips")


def test_a_failed_export_leaves_nothing_and_overwrite_replaces_a_conv_chip(compound_run, compound_chip, tmp_path,
                                                                        monkeypatch, capsys):
    from spinsyn.hw_export import convchip

    real, calls = convchip.export_chip, []

    def third_fails(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(*a, **k)

    monkeypatch.setattr(convchip, "export_chip", third_fails)
    with pytest.raises(OSError):
        export_conv_run(compound_run, tmp_path / "chip", write_pulse="fixed", csv=False, tile=(64, 64))
    assert list(tmp_path.iterdir()) == []  # no chip, no staging folder, no lock file
    monkeypatch.undo()
    again = tmp_path / "again"
    shutil.copytree(compound_chip, again)
    capsys.readouterr()
    assert main(["export", str(compound_run), "--out", str(again), *FAST]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["export", str(compound_run), "--out", str(again), *FAST, "--seed", "3", "--overwrite"]) == 0
    assert json.loads((again / CONV_MANIFEST_NAME).read_text())["provenance"]["seed"] == 3
    assert conv_chip_problems(again) == []
    assert main(["export", str(compound_run), "--out", str(tmp_path / "x"), "--synapse", "quantized:8"]) == 2
    assert "--requantize" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_a_sigterm_after_the_first_layer_still_interrupts_the_conv_export(compound_run, tmp_path, monkeypatch):
    """A layer's commit (into the conv chip's staging folder) must not leave the export in its commit phase, where
    signals are only recorded: a SIGTERM during conv 2 ends the export with 143 and leaves nothing."""
    import os
    import signal

    from spinsyn.hw_export import convchip, interrupts

    real, phases = convchip.export_chip, []

    def signalled_in_second(*a, **k):
        phases.append(interrupts._GUARD.committing)
        if len(phases) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(*a, **k)

    monkeypatch.setattr(convchip, "export_chip", signalled_in_second)
    with pytest.raises(SystemExit) as exc:
        export_conv_run(compound_run, tmp_path / "chip", write_pulse="fixed", csv=False, tile=(64, 64))
    assert exc.value.code == 143 and phases == [False, False]
    assert list(tmp_path.iterdir()) == []


def test_forked_workers_step_aside_once_numba_openmp_has_started():
    """A child forked after numba's GNU OpenMP layer started dies in its first parallel kernel and the export would
    wait for it forever (seen: an ideal conv run's domain-wall chip hung in the pulse search)."""
    import subprocess
    import sys

    code = ("import numpy as np, numba\n"
            "from spinsyn.hw_export.forked import can_fork, omp_started\n"
            "before = can_fork()\n"
            "@numba.njit(parallel=True)\n"
            "def f(a):\n"
            "    s = 0.0\n"
            "    for i in numba.prange(a.size):\n"
            "        s += a[i]\n"
            "    return s\n"
            "f(np.ones(8))\n"
            "print(before, omp_started() == (numba.threading_layer() == 'omp'), can_fork() != omp_started())\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.split() == ["True", "True", "True"], r.stderr


def test_an_ideal_conv_run_is_quantised_onto_32_levels(tmp_path):
    run = _train(tmp_path / "ideal", "ideal")
    res = export_conv_run(run, tmp_path / "chip", write_pulse="fixed", csv=False, tile=(64, 64))
    assert [r.report["synapse"] for r in res.layers] == ["quantized:32"] * 3
    assert all(r.report["levels_from"] == "quantised weights" for r in res.layers)
    assert conv_chip_problems(tmp_path / "chip") == []


@pytest.mark.slow
def test_simulate_reads_a_conv_chip_through_a_circuit(compound_chip):
    from spinsyn.hw_export import CircuitConfig
    from spinsyn.hw_export.convsim import simulate_conv_chip

    r = simulate_conv_chip(compound_chip, n_test=5, circuit=CircuitConfig())
    assert r["final"] == "circuit" and "circuit" in r["accuracy"]
    assert [t["term"] for t in r["loss_terms"]][-1] == "circuit"


def test_the_round_trip_reads_each_layer_as_the_network_does(compound_run):
    """export simulate's read of a layer's own trained conductances gives the network's weights back, including
    the decision layer whose device range reads as [w3_lo, w3_hi] (ConvConfig.decision_full_range)."""
    from spinsyn.hw_export.convsim import _read_weights, layer_view
    from spinsyn.snn.conv import load_conv

    net = load_conv(compound_run / "conv.npz")
    assert net.config.decision_full_range and (net.layers[2].lo, net.layers[2].hi) == (0.2, 0.8)
    for k, lw in enumerate(net.layers):
        v = layer_view(net, k)
        g = v.synapse.g_S(None, v.state, v.gp_S, v.gap_S)
        back = roll_kernels(lw.lo + (lw.hi - lw.lo) * _read_weights(v, g, net.config.signed_read), lw.w.shape)
        np.testing.assert_allclose(back, lw.w, rtol=0, atol=1e-12)
