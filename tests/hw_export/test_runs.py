"""Exporting snn runs: the synapse and device come from the run's checkpoint."""

import json

import numpy as np
import pytest
from spinsyn.cli import main
from spinsyn.devices import SynapseDevice, SynapseSpec
from spinsyn.hw_export import export_run, load_chip, verify_chip
from spinsyn.hw_export.tiling import TileLayout, from_tiles


def _run_device(run) -> SynapseDevice:
    from spinsyn.snn.checkpoint import read_checkpoint

    return SynapseDevice.from_record(json.loads(read_checkpoint(run)["synapse_device_json"]))


def _levels(chip) -> np.ndarray:
    lay = TileLayout(chip.meta["layer"]["device_rows"], chip.meta["layer"]["device_cols"],
                     chip.meta["tiles"]["tile_rows"], chip.meta["tiles"]["tile_cols"])
    return from_tiles(np.stack([t.level for t in chip.tiles]), lay)


@pytest.mark.parametrize("syn", ["dw:16", "quantized:9", "compound:8"])
def test_levels_are_those_the_network_trained_with(tiny_run, tmp_path, syn):
    from spinsyn.snn import load_run

    run = tiny_run(syn)
    res = export_run(run, tmp_path / "chip", tile=(128, 64))  # no synapse: the run's
    c = load_chip(tmp_path / "chip")
    dev = _run_device(run)
    assert SynapseSpec.parse(c.meta["synapse"]) == dev.spec == SynapseSpec.parse(syn)
    assert SynapseDevice.from_record(c.meta["synapse_device"]) == dev
    np.testing.assert_allclose(c.meta_arrays["g_levels_S"], dev.level_conductances_S(), rtol=1e-12)
    assert c.meta["levels_from"] == res.report["levels_from"] == "trained device states"
    np.testing.assert_array_equal(_levels(c), load_run(run).state)


def test_other_synapse_needs_requantize(tiny_run, tmp_path, capsys):
    run = tiny_run("compound:8")
    with pytest.raises(ValueError, match="trained with compound:8, got compound:4; pass --requantize"):
        export_run(run, tmp_path / "a", synapse="compound:4")
    assert main(["export", str(run), "--synapse", "dw:16", "--out", str(tmp_path / "b")]) == 2
    assert "--requantize" in capsys.readouterr().err
    assert main(["export", str(run), "--device-param", "n_mtj=4", "--out", str(tmp_path / "b")]) == 2
    assert "the run fixes the device" in capsys.readouterr().err
    # the same spec spelled out is fine
    assert main(["export", str(run), "--synapse", "compound:8", "--out", str(tmp_path / "c")]) == 0
    res = export_run(run, tmp_path / "d", synapse="compound:4", requantize=True)
    c = load_chip(tmp_path / "d")
    assert c.meta["synapse"] == "compound:4" and c.meta["levels_from"] == "quantised weights"
    assert any("re-quantised" in n for n in res.report["notes"])
    dev = SynapseDevice.from_record(c.meta["synapse_device"])
    assert dev.model.n_mtj == 4 and dev.model.mtj == _run_device(run).model.mtj  # the run's MTJs, four of them
    verify_chip(tmp_path / "d")


def test_ideal_run_exports_as_quantized_32(tiny_run, tmp_path, capsys):
    run = tiny_run("ideal")
    assert main(["export", str(run), "--out", str(tmp_path / "a")]) == 0
    assert "ideal weights quantised to 32 levels; choose with --synapse quantized:L" in capsys.readouterr().out
    c = load_chip(tmp_path / "a")
    assert c.meta["synapse"] == "quantized:32" and c.meta["notes"] == [
        "ideal weights quantised to 32 levels; choose with --synapse quantized:L"]
    run_dev = _run_device(run)
    assert SynapseDevice.from_record(c.meta["synapse_device"]).model == run_dev.model  # the run's analog device
    assert export_run(run, tmp_path / "i", synapse="ideal").report["synapse"] == "quantized:32"
    res = export_run(run, tmp_path / "b", synapse="dw:8")  # any synapse, no --requantize needed
    assert res.report["synapse"] == "dw:8" and res.report["notes"] == []


def test_simulate_after_the_rule_file_is_deleted(train, tmp_path, capsys):
    from spinsyn.fitting import published_rule, save_rule

    rule = save_rule(tmp_path / "rule.json", published_rule())
    run = train(tmp_path / "run", "compound:8", "--rule", str(rule))
    rule.unlink()
    assert main(["export", str(run), "--out", str(tmp_path / "chip")]) == 0
    assert main(["export", "simulate", str(tmp_path / "chip"), "--n-test", "10"]) == 0
    assert "-> drop" in capsys.readouterr().out
