"""spinsyn.options: one table entry gives the CLI argument, the check, make_config's keyword and the study range."""

from __future__ import annotations

import argparse
import json

import pytest
from spinsyn.options import EXPORT_OPTIONS, SWEEP_OPTIONS, TRAIN_OPTIONS, Option, OptionTable, WritePulse


def test_one_entry_gives_argument_check_and_help():
    table = OptionTable("demo", [Option("spikes_max", int, 5, "most spikes per image", min=1, max=50),
                                 Option("norm", bool, True, "no normalisation", flag="--no-norm")])
    p = argparse.ArgumentParser()
    table.add_arguments(p)
    args = p.parse_args(["--spikes-max", "7", "--no-norm"])
    assert (args.spikes_max, args.norm) == (7, False)
    assert p.parse_args([]).spikes_max == 5 and p.parse_args([]).norm is True
    assert "in [1, 50]" in table["spikes_max"].help_text(5) and "default 5" in table["spikes_max"].help_text(5)
    with pytest.raises(ValueError, match=r"--spikes-max: got 51, expected a value in \[1, 50\]"):
        table["spikes_max"].check(51)
    with pytest.raises(ValueError, match="--spikes-max: expected int"):
        table["spikes_max"].check(2.5)
    with pytest.raises(TypeError, match="unexpected keyword argument 'spike_max'"):
        table.resolve({"spike_max": 3}, "make_demo")


def test_train_table_drives_make_config_and_the_study(tmp_path):
    from spinsyn import snn
    from spinsyn.study.params import PARAMS, check_value

    # a new option's range is checked by make_config, the stored-config check and the study, from the one entry
    with pytest.raises(ValueError, match=r"--read-noise: got 3, expected a value in \[0, 1\]"):
        snn.make_config(synapse="compound:4", device="cpu", read_noise_sigma=3)
    cfg = snn.make_config(synapse="compound:4", device="cpu", read_noise=0.05)  # the old keyword still works
    assert cfg.synapse_options["read_noise"] == 0.05  # stored under its old key (file format unchanged)
    assert cfg.n_train == TRAIN_OPTIONS["n_train"].default
    with pytest.raises(ValueError, match="x: device.read_noise: got 2.0"):
        check_value("device.read_noise", 2.0, "x")
    assert (PARAMS["device.n_mtj"].lo, PARAMS["device.n_mtj"].hi) == (SWEEP_OPTIONS["n_mtj"].min,
                                                                     SWEEP_OPTIONS["n_mtj"].max)
    from spinsyn.snn.config import INPUT_PRESETS

    assert set(PARAMS["network.input"].choices) == set(INPUT_PRESETS) == set(TRAIN_OPTIONS["input_preset"].choices)


def test_n_mtj_range_is_declared_once():
    from spinsyn.pipeline import PipelineConfig, check

    n = SWEEP_OPTIONS["n_mtj"]
    assert (n.min, n.max) == (1, 256)
    with pytest.raises(ValueError, match=r"n_mtj: got 257, expected a value in \[1, 256\]"):
        check(PipelineConfig(n_mtj=257, out_dir="/nonexistent-never-created"))


@pytest.mark.parametrize("text,auto,width", [("auto", True, None), ("fixed", False, None), ("2.5", False, 2.5),
                                             (3, False, 3.0)])
def test_write_pulse_parses_once(text, auto, width):
    wp = WritePulse.parse(text)
    assert (wp.auto, wp.width_ns, wp.mode) == (auto, width, "auto" if auto else "fixed")


@pytest.mark.parametrize("bad,words", [("fast", "expected auto or a width in ns"), ("nan", "finite"),
                                       ("-1", "(0, 1e+06]"), (True, "expected auto")])
def test_write_pulse_refuses_naming_the_option(bad, words):
    with pytest.raises(ValueError, match="--write-pulse") as err:
        WritePulse.parse(bad)
    assert words in str(err.value)


def test_export_config_takes_a_write_pulse():
    from spinsyn.hw_export import ExportConfig

    cfg = ExportConfig(synapse="compound:4", write_pulse=WritePulse.parse("2.5"))
    assert cfg.write_pulse == "fixed" and cfg.write_verify.width_ns == 2.5
    assert ExportConfig(synapse="compound:4").write_pulse == "auto"
    with pytest.raises(ValueError, match="--write-pulse: got 'x'"):
        ExportConfig(synapse="compound:4", write_pulse="x")
    assert EXPORT_OPTIONS["half_select"].choices == ("V/2", "V/3")


def test_every_train_option_reaches_the_cli_and_the_config():
    import dataclasses

    from spinsyn.snn import TrainConfig
    from spinsyn.snn.cli import register
    from spinsyn.snn.config import PLAIN_OPTIONS

    p = argparse.ArgumentParser()
    register(p.add_subparsers())
    train = p._subparsers._group_actions[0].choices["train"]
    flags = {a.dest: a.option_strings[0] for a in train._actions if a.option_strings}
    assert all(flags[n] == TRAIN_OPTIONS[n].cli for n in TRAIN_OPTIONS.cli_names())
    fields = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    # stored as given, default from the table (an option declared only in the table is stored in ``extra``)
    assert all(fields[n] == TRAIN_OPTIONS[n].default for n in PLAIN_OPTIONS if n in fields)


def test_n_mtj_range_reaches_devices():
    from spinsyn.devices import SynapseSpec
    from spinsyn.devices.synapse import N_RANGE

    n = SWEEP_OPTIONS["n_mtj"]
    assert N_RANGE["compound"] == (n.min, n.max)
    with pytest.raises(ValueError, match=f"1..{n.max}"):
        SynapseSpec.parse(f"compound:{n.max + 1}")


def test_a_new_training_option_is_one_table_entry(monkeypatch, tmp_path, capsys):
    """Adding an Option to TRAIN_OPTIONS alone gives the flag, make_config's keyword, the check (CLI, make_config
    and a stored config) and the value on the config, stored in the run's config JSON and read back."""
    from spinsyn.cli import main
    from spinsyn.snn import TrainConfig
    from spinsyn.snn.config import check_stored_config, make_config

    new = Option("max_spikes_probe", int, 0, "probe option: cap on spikes counted (0 = none)", min=0, metavar="K")
    monkeypatch.setitem(TRAIN_OPTIONS._opts, new.name, new)
    cfg = make_config(synapse="compound:4", neurons=5, n_train=20, n_test=10, n_assign=20, device="cpu",
                      max_spikes_probe=7)
    assert cfg.max_spikes_probe == 7
    back = TrainConfig.from_json(cfg.to_json())
    assert back.max_spikes_probe == 7 and back == cfg
    assert make_config(synapse="compound:4", neurons=5, device="cpu").max_spikes_probe == 0
    with pytest.raises(ValueError, match="--max-spikes-probe"):
        make_config(synapse="compound:4", neurons=5, device="cpu", max_spikes_probe=-1)
    bad = TrainConfig.from_json(cfg.to_json().replace('"max_spikes_probe": 7', '"max_spikes_probe": -3'))
    with pytest.raises(ValueError, match="--max-spikes-probe"):
        check_stored_config(bad)
    assert main(["train", "--synapse", "compound:4", "--neurons", "5", "--device", "cpu", "--max-spikes-probe",
                 "-2", "--out", str(tmp_path / "run")]) == 2
    assert "--max-spikes-probe" in capsys.readouterr().err and not (tmp_path / "run").exists()
    assert "--max-spikes-probe K" in _train_help()


def _train_help() -> str:
    from spinsyn.snn.cli import register

    p = argparse.ArgumentParser()
    register(p.add_subparsers())
    return p._subparsers._group_actions[0].choices["train"].format_help()


def test_config_json_of_existing_options_is_unchanged():
    """Runs without table-only options store the same config JSON keys as before the extra field existed."""
    from spinsyn.snn.config import make_config

    keys = set(json.loads(make_config(synapse="compound:4", neurons=5, device="cpu").to_json()))
    assert "extra" not in keys and {"synapse", "rule", "network", "n_train", "plots", "threads"} <= keys


def test_tile_side_range_is_declared_once():
    """Export --tile, the pipeline's tile and the study's export.tile take their side range from one entry (before,
    1..65535, >= 1 and 1..65536)."""
    from spinsyn.hw_export import parse_tile
    from spinsyn.study.params import PARAMS

    side = EXPORT_OPTIONS["tile_side"]
    assert (PARAMS["export.tile"].lo, PARAMS["export.tile"].hi) == (side.min, side.max)
    assert parse_tile(f"{int(side.max)}x1") == (int(side.max), 1)
    with pytest.raises(ValueError, match="--tile"):
        parse_tile(f"{int(side.max) + 1}x1")
    from spinsyn.pipeline import PipelineConfig, check

    with pytest.raises(ValueError, match=r"tile\[0\]"):
        check(PipelineConfig(tile=(int(side.max) + 1, 128)))
