"""One noise model for the round trip: trained, targets, programmed and disturbed differ only by conductances."""

import json

import numpy as np
import pytest
from spinsyn.cli import main
from spinsyn.hw_export import export_run, load_chip, program_chip, simulate_chip
from spinsyn.hw_export.roundtrip import LOSS_TERMS, accuracy_ci, network_conductances, paired_difference


@pytest.fixture(scope="module")
def c8(tiny_run, tmp_path_factory):
    run = tiny_run("compound:8")
    out = tmp_path_factory.mktemp("rt") / "chip"
    export_run(run, out, tile=(128, 64))
    return run, out


def test_targets_equal_trained_bit_for_bit(c8):
    from spinsyn.mnist import load_mnist
    from spinsyn.snn import evaluate, load_run

    run, out = c8
    net = load_run(run)
    chip = load_chip(out)
    prog = program_chip(chip, seed=3)
    rc = network_conductances(net, chip, prog)
    assert np.array_equal(rc.g["targets"], rc.g["trained"])  # the run's own synapses, states and G_P/G_AP spread
    assert "per-synapse" in rc.device_to_device
    # the trained conductances are those evaluate() has always used for the network as trained
    images, labels = load_mnist("test", None, n=40)
    old = evaluate(net, images, labels, device="cpu")
    new = evaluate(net, images, labels, device="cpu", g_S=rc.g["trained"], read_noise=True, per_image=True)
    assert old["confusion"] == new["confusion"] and new["correct_all_activity"].shape == (40,)
    quiet = evaluate(net, images, labels, device="cpu", g_S=rc.g["trained"], read_noise=False)
    assert quiet["n_test"] == 40


def test_simulate_reports_each_loss_term(c8, tmp_path, capsys):
    _run, out = c8
    r = simulate_chip(out, n_test=60, seed=2)
    acc, key = r["accuracy"], r["accuracy_key"]
    assert set(acc) == {"trained", "trained_no_read_noise", "targets", "programmed", "disturbed"}
    assert acc["targets"] == acc["trained"]
    terms = {t["term"]: t for t in r["loss_terms"]}
    assert list(terms) == [t for t, _, _ in LOSS_TERMS if t not in ("retention", "circuit", "adc")]  # --after etc.
    q = terms["quantisation"]
    assert q["points"] == 0.0 and q["discordant"] == [0, 0] and q["ci95_points"] == [0.0, 0.0]
    assert r["weights"]["targets_vs_trained_mean_levels"] == 0.0
    # the chain telescopes: trained - disturbed = quantisation + programming error + disturb
    chain = sum(terms[t]["points"] for t in ("quantisation", "programming_error", "half_select_disturb"))
    total = 100 * (acc["trained"][key] - acc["disturbed"][key])
    assert r["drop_points"] == pytest.approx(chain) == pytest.approx(total)
    assert r["final"] == "disturbed" and r["noise_model"]["read_noise_sigma"] > 0
    # --no-disturb: no disturbed condition, no disturb term
    assert main(["export", "simulate", str(out), "--n-test", "30", "--no-disturb", "--json",
                 str(tmp_path / "s.json")]) == 0
    text = capsys.readouterr().out
    assert "quantisation" in text and "programming error" in text and "half-select disturb" not in text
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["format_version"] == 2 and s["final"] == "programmed" and "disturbed" not in s["accuracy"]


def test_paired_difference_and_accuracy_ci():
    a = np.array([1, 1, 1, 0, 0, 1, 0, 1], bool)
    b = np.array([1, 0, 1, 1, 0, 0, 0, 1], bool)
    d = paired_difference(a, b)
    n10, n01, n = 2, 1, 8
    se = np.sqrt(n10 + n01 - (n10 - n01) ** 2 / n) / n
    assert d["discordant"] == [n10, n01] and d["points"] == pytest.approx(100 * (n10 - n01) / n)
    assert d["ci95_points"] == pytest.approx([100 * ((n10 - n01) / n - 1.96 * se), 100 * ((n10 - n01) / n + 1.96 * se)],
                                             abs=1e-2)
    assert paired_difference(a, a)["ci95_points"] == [0.0, 0.0]
    lo, hi = accuracy_ci(0.5, 100)  # Wilson: 0.5 ± 0.0962 (Wald would give ± 0.098)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)
    lo, hi = accuracy_ci(0.02, 20)  # Wald would go below 0 (0.02 − 0.061); Wilson: [0.0017, 0.1929]
    assert 0.0 < lo < 0.02 < hi < 1.0
    assert lo == pytest.approx(0.00174, abs=1e-4) and hi == pytest.approx(0.19294, abs=1e-4)
    assert accuracy_ci(1.0, 10)[1] == pytest.approx(1.0) and accuracy_ci(0.0, 10)[0] == pytest.approx(0.0)


@pytest.mark.parametrize("syn", ["dw:16"])
def test_levels_runs_targets_equal_trained(tiny_run, tmp_path, syn):
    from spinsyn.snn import load_run

    run = tiny_run(syn)
    export_run(run, tmp_path / "chip")
    chip = load_chip(tmp_path / "chip")
    rc = network_conductances(load_run(run), chip, program_chip(chip, disturb=False))
    assert np.array_equal(rc.g["targets"], rc.g["trained"])


def test_default_export_of_a_trained_run_loses_little(train, tmp_path):
    """The trained-to-chip drop of the default export, bounded: 20 neurons, compound:8, 300 embedded images, seed
    0 (measured 2026-12-06: trained 49.33 %, quantisation 0, programming error 0, half-select disturb 2.00
    [-0.25, 4.25] points with the Delta 22.7 device's unavoidable V/2 disturb, drop 2.00 points)."""
    run = train(tmp_path / "run", "compound:8", "--neurons", "20", "--n-train", "300", "--n-test", "300",
                "--n-assign", "300", "--seed", "0", "--no-plots")
    export_run(run, tmp_path / "chip")
    r = simulate_chip(tmp_path / "chip", n_test=300, seed=1)
    terms = {t["term"]: t for t in r["loss_terms"]}
    assert r["accuracy"]["trained"][r["accuracy_key"]] > 0.40  # it learned (chance 0.10)
    assert terms["quantisation"]["points"] == 0.0  # the chip programs the trained MTJ counts
    assert abs(terms["programming_error"]["points"]) <= 1.0 and terms["programming_error"]["ci95_points"][1] <= 2.0
    assert terms["half_select_disturb"]["points"] <= 5.0
    assert r["drop_points"] <= 5.0 and r["drop_ci95_points"][1] <= 7.0, r["drop_points"]
