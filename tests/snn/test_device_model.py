"""Issue 23: a device file travels through training (``--device-model``, ``--device-param``), export (from the
self-contained run, no ``--requantize``), ``device sweep --device``, the rule fitted from that sweep, the
pipeline's train configuration and a study (device files and a rule file as axis values)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from spinsyn.cli import main

TINY = ["--neurons", "5", "--n-train", "20", "--n-assign", "20", "--device", "cpu", "--quiet", "--no-plots"]


def _device_file(path: Path, r_p_ohm: float, **cell) -> Path:
    """An 8-cell compound of fitted-style cells (8/R_P = 160 µS at R_P 50 kΩ), written as a device file."""
    from spinsyn.devices import CompoundSynapse, MeasuredMTJ
    from spinsyn.devices.devicefile import device_document, write_device_file

    cell = {"tmr0": 0.68, "ic0_to_p_uA": 8.0, "ic0_to_ap_uA": 10.0, **cell}
    model = CompoundSynapse(8, MeasuredMTJ(r_p_ohm=r_p_ohm, **cell))
    doc = device_document(model, parameters={}, validity={}, fits={},
                          sources=[{"path": f"lab_{int(r_p_ohm)}.csv", "sha256": "ab" * 32, "kind": "switching",
                                    "rows": 12}], provenance={"command": "test"})
    write_device_file(path, doc)
    return path


@pytest.fixture(scope="module")
def devices_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("byod")
    _device_file(d / "dev_a.json", 50000.0)
    _device_file(d / "dev_b.json", 40000.0)
    return d


@pytest.fixture(scope="module")
def device_run(devices_dir, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("run") / "run"
    assert main(["train", "--synapse", "compound:8", "--device-model", str(devices_dir / "dev_a.json"),
                 "--n-test", "10", *TINY, "--out", str(run)]) == 0
    return run


def test_train_device_model_levels_in_metrics(device_run, devices_dir):
    from spinsyn.devices import read_device_file, synapse_device

    m = json.loads((device_run / "metrics.json").read_text())
    levels = np.array(m["device_model"]["levels_uS"])
    assert m["device_model"]["source"] == read_device_file(devices_dir / "dev_a.json").label
    assert m["config"]["extra"]["device_model"] == str((devices_dir / "dev_a.json").resolve())
    assert levels.size == 9 and 90 < levels[0] < 100 and 155 < levels[-1] < 165  # 8/R_AP .. 8/R_P at 0.1 V
    default = synapse_device("compound:8").level_conductances_S() * 1e6
    assert not np.allclose(levels, default, rtol=0.05)


def test_export_run_programs_the_device_without_requantize(device_run, devices_dir, tmp_path):
    from spinsyn.devices import read_device_file
    from spinsyn.hw_export import load_chip

    chip = tmp_path / "chip"
    assert main(["export", str(device_run), "--out", str(chip), "--tile", "784x5"]) == 0
    label = read_device_file(devices_dir / "dev_a.json").label
    manifest = json.loads((chip / "manifest.json").read_text())
    assert manifest["device"]["source"] == label
    cell = load_chip(chip).meta["synapse_device"]["model"]["fields"]["mtj"]
    assert cell["r_p_ohm"] == 50000.0 and cell["ic0_to_ap_uA"] == 10.0 and cell["source"] == label
    assert main(["export", "verify", str(chip)]) == 0


@pytest.mark.parametrize("args, flag", [
    (["--device-param", "bogus=1"], "--device-param"),
    (["--device-param", "tmr0"], "--device-param"),
    (["--device-model", "DEV", "--device-preset", "compound"], "--device-model"),
    (["--device-model", "/nonexistent/dev.json"], "--device-model"),
])
def test_bad_device_options_refused(args, flag, devices_dir, tmp_path, capsys):
    args = [str(devices_dir / "dev_a.json") if a == "DEV" else a for a in args]
    assert main(["train", "--synapse", "compound:8", *args, "--n-test", "0", *TINY, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"spinsyn: error: {flag}:"), err
    assert not (tmp_path / "r").exists()


def test_device_param_overrides_preset_levels():
    from spinsyn.snn import make_config
    from spinsyn.snn.config import validate_config

    base = validate_config(make_config(synapse="compound:8", device="cpu"))[1].device.level_conductances_S()
    cfg = make_config(synapse="compound:8", device="cpu", device_params={"tmr0": 0.5})
    lev = validate_config(cfg)[1].device.level_conductances_S()
    assert lev[-1] == pytest.approx(base[-1]) and lev[0] > base[0]  # R_P kept, a smaller TMR raises G_AP
    assert json.loads(cfg.to_json())["extra"]["device_params"] == {"tmr0": 0.5}


def test_sweep_device_then_rule_keeps_device(devices_dir, tmp_path, capsys):
    from spinsyn.devices import read_device_file, read_sweep, synapse_device
    from spinsyn.snn import make_config
    from spinsyn.snn.config import rule_device_note, validate_config

    h5 = tmp_path / "sweep.h5"
    # a low-resistance junction the published pulses switch (the rule needs a curve that is not flat)
    dev = _device_file(tmp_path / "dev_low.json", 3600.0, tmr0=1.2, ic0_to_p_uA=42.0, ic0_to_ap_uA=42.0,
                       delta_to_p=47.0, delta_to_ap=51.0, tau_d_ns=1.9, vh_V=0.45)
    assert main(["device", "sweep", "--device", str(dev), "--engine", "reference",
                 "--dt-ms", "0:60:6", "--trials", "4", "--out", str(h5)]) == 0
    label = read_device_file(dev).label
    assert read_sweep(h5).model["fields"]["mtj"]["source"] == label
    assert main(["device", "sweep", "--device", str(devices_dir / "dev_a.json"), "--device-param", "nope=1",
                 "--engine", "reference", "--dt-ms", "0,5", "--trials", "2", "--out", str(tmp_path / "x.h5")]) == 2
    assert capsys.readouterr().err.startswith("spinsyn: error: --device-param:")
    rule = tmp_path / "rule.json"
    assert main(["fit", str(h5), "--model", "sigmoid", "--out", str(rule)]) == 0
    assert json.loads(rule.read_text())["source"]["device"]["model"]["fields"]["mtj"]["source"] == label
    cfg = make_config(synapse="compound:8", device="cpu", rule=str(rule))
    syn = validate_config(cfg)[1]
    assert syn.device.preset == "rule:rule.json"
    np.testing.assert_allclose(syn.device.level_conductances_S(),
                               synapse_device("compound:8", str(dev)).level_conductances_S())
    other = make_config(synapse="compound:8", device="cpu", rule=str(rule), device_preset="compound")
    assert "fitted on another device" in rule_device_note(other)
    same = make_config(synapse="compound:8", device="cpu", rule=str(rule), device_model=str(dev))
    assert rule_device_note(same) is None


def test_pipeline_train_config_carries_device_file(devices_dir, tmp_path):
    from spinsyn.pipeline import PipelineConfig, train_config

    cfg = train_config(PipelineConfig(out_dir=str(tmp_path / "p"), device_model=str(devices_dir / "dev_b.json"),
                                      device="cpu"))
    assert cfg.device_model == str((devices_dir / "dev_b.json").resolve())


def test_study_two_device_files_and_a_rule_file(devices_dir, tmp_path):
    from spinsyn.devices import read_device_file
    from spinsyn.fitting import published_rule, save_rule
    from spinsyn.report import write_study_report
    from spinsyn.study import run_study

    from tests.study.conftest import quick_toml, read_rows

    rule = save_rule(tmp_path / "rule.json", published_rule())
    a, b = devices_dir / "dev_a.json", devices_dir / "dev_b.json"
    toml = quick_toml(tmp_path / "s", axes=f'device.preset = ["{a}", "{b}"]\nrule.source = ["{rule}"]')
    text = toml.read_text().replace("preset = \"compound\"\n", "")
    toml.write_text(text.replace("n_train = 100", "n_train = 20").replace("neurons = 10", "neurons = 5")
                    .replace("n_test = 100", "n_test = 20"))
    out = tmp_path / "out"
    r = run_study(toml, out, "none", progress=False)
    assert (r.ok, r.failed) == (2, 0), read_rows(out)
    html = write_study_report(out).read_text()
    for dev in (a, b):
        assert read_device_file(dev).label in html
    assert "lab_50000.csv" in html and "lab_40000.csv" in html
    # the cache key holds the device file's sha256: a changed file is a new entry, not a cache hit
    from spinsyn.study.spec import load_spec
    from spinsyn.study.trials import expand, plan

    before = {t.key for tr in expand(load_spec(toml)) for t in plan(tr.settings, None)}
    _device_file(b, 45000.0)
    after = {t.key for tr in expand(load_spec(toml)) for t in plan(tr.settings, None)}
    assert before != after


def test_a_conv_run_trains_on_the_device_file_and_its_chip_programs_it(devices_dir, tmp_path):
    """Issue 27: --network conv takes --device-model too; the run stores that device, export programs it."""
    from spinsyn.hw_export.convchip import run_device
    from spinsyn.snn.conv import load_conv

    run, chip = tmp_path / "conv", tmp_path / "chip"
    tiny = json.dumps({"f1": 4, "f2": 8, "f3": 10})
    assert main(["train", "--network", "conv", "--synapse", "compound:8", "--device-model",
                 str(devices_dir / "dev_b.json"), "--n-train", "20", "--n-test", "10", "--conv-epochs", "1,1,1",
                 "--conv-config", tiny, "--quiet", "--out", str(run)]) == 0
    net = load_conv(run / "conv.npz")
    from spinsyn.devices import synapse_device

    file_dev = synapse_device("compound:8", str(devices_dir / "dev_b.json"))
    assert net.synapse.g_bounds_S() == file_dev.g_bounds_S()  # the device file's conductances, not the preset's
    assert net.synapse.g_bounds_S() != synapse_device("compound:8").g_bounds_S()
    assert run_device(net).record() == net.synapse.device.record()
    assert main(["export", str(run), "--out", str(chip)]) == 0
    assert main(["export", "verify", str(chip)]) == 0
