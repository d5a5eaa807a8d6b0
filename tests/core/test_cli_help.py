"""Issue 24, CLI: every option of every command is described; ``export``, ``export verify``, ``export simulate`` and
``export nir`` each have their own parser and help while every command line parses as before; ``doctor --data-dir``
and the MNIST counts; the line ``train`` prints with the rule and device it uses."""

from __future__ import annotations

import argparse
import gzip
import hashlib

import numpy as np
import pytest
from spinsyn.cli import build_parser, main

EXPORT_ONLY = ("--tile", "--write-pulse", "--synapse", "--requantize", "--mapping", "--tolerance", "--deployment")
SIMULATE_ONLY = ("--n-test", "--after", "--plot", "--no-disturb", "--eval-device", "--json")


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ("spinsyn",)):
    """(command path, parser) of ``parser`` and every sub-command below it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action._name_parser_map.items():
                yield from _parsers(sub, (*path, name))


def _help(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


def test_every_option_and_positional_of_every_command_has_help():
    commands = dict(_parsers(build_parser()))
    assert {("spinsyn", "export", w) for w in ("verify", "simulate", "nir")} <= set(commands)
    missing = [(" ".join(path), a.option_strings or a.dest) for path, p in commands.items() for a in p._actions
               if not isinstance(a, argparse._SubParsersAction) and a.help != argparse.SUPPRESS
               and not (a.help or "").strip()]
    assert missing == []


def test_export_actions_have_their_own_help(capsys):
    export = _help(["export"], capsys)
    verify = _help(["export", "verify"], capsys)
    simulate = _help(["export", "simulate"], capsys)
    nir = _help(["export", "nir"], capsys)
    assert len({export, verify, simulate, nir}) == 4
    assert verify.startswith("usage: spinsyn export verify") and "--allow-extra" in verify
    for opt in EXPORT_ONLY + SIMULATE_ONLY + ("--out", "--seed"):
        assert opt not in verify, opt
    for opt in EXPORT_ONLY:
        assert opt not in simulate and opt not in nir, opt
        assert opt in export, opt
    for opt in SIMULATE_ONLY + ("--allow-extra",):
        assert opt in simulate and opt not in export, opt
    assert "--out" in nir and "--seed" not in nir
    assert "nir" in export.split("positional arguments:")[1] and "verify" in export


@pytest.mark.parametrize("argv,expect", [
    (["export", "run", "--out", "c"], {"source": "run", "out": "c", "chip_dir": None, "tile": "128x128"}),
    (["export", "--synapse", "compound:8", "w.npy", "--tile", "8x8", "--out", "c"],
     {"source": "w.npy", "synapse": "compound:8", "tile": "8x8", "out": "c"}),
    (["export", "--device-param", "a=1", "w.npy", "--device-param", "b=2"],
     {"source": "w.npy", "device_param": ["a=1", "b=2"]}),
    (["export", "./verify", "--out", "c"], {"source": "./verify", "out": "c"}),
    (["export", "w.npy", "extra"], {"source": "w.npy", "chip_dir": "extra"}),
    (["export", "verify", "chip"], {"source": "verify", "chip_dir": "chip", "allow_extra": False}),
    (["export", "verify", "chip", "--allow-extra"], {"source": "verify", "allow_extra": True}),
    (["export", "verify"], {"source": "verify", "chip_dir": None}),
    (["export", "simulate", "chip", "--n-test", "10", "--after", "0,1s", "--seed", "3", "--overwrite"],
     {"source": "simulate", "chip_dir": "chip", "n_test": 10, "after": "0,1s", "seed": 3, "overwrite": True}),
    (["export", "nir", "run", "--out", "g.nir"], {"source": "nir", "chip_dir": "run", "out": "g.nir"}),
])
def test_export_command_lines_parse_as_before(argv, expect):
    ns = vars(build_parser().parse_args(argv))
    assert {k: ns.get(k, "<missing>") for k in expect} == expect


@pytest.mark.parametrize("argv,bad", [
    (["export", "verify", "chip", "--tile", "8x8"], "--tile"),
    (["export", "nir", "run", "--out", "g.nir", "--n-test", "3"], "--n-test"),
    (["export", "w.npy", "--after", "1s"], "--after"),
])
def test_export_options_of_another_action_are_refused(argv, bad, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and bad in capsys.readouterr().err


def test_device_plot_help_describes_its_arguments(capsys):
    text = _help(["device", "plot"], capsys)
    assert "SWEEP_H5" in text and "device sweep --out" in text and "suffix" in text


def _idx(path, magic: int, shape: tuple[int, ...]) -> None:
    head = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in shape)
    with gzip.open(path, "wb") as fh:
        fh.write(head + np.zeros(shape, np.uint8).tobytes())


def test_doctor_data_dir_counts_images(tmp_path, capsys):
    for stem, n in (("train", 7), ("t10k", 3)):
        _idx(tmp_path / f"{stem}-images-idx3-ubyte.gz", 0x0803, (n, 28, 28))
        _idx(tmp_path / f"{stem}-labels-idx1-ubyte.gz", 0x0801, (n,))
    main(["doctor", "--data-dir", str(tmp_path)])
    line = next(x for x in capsys.readouterr().out.splitlines() if " mnist " in x)
    assert line.startswith("ok ") and "--data-dir folder: 7 train / 3 test images" in line
    assert "not the full set" in line and "--download" in line and str(tmp_path) in line
    assert main(["doctor", "--data-dir", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.startswith("spinsyn: error: --data-dir:")


def test_doctor_names_the_default_source_and_its_size():
    from spinsyn.doctor import mnist_rows
    from spinsyn.mnist import load_mnist, resolve_mnist_dir

    src = resolve_mnist_dir(None, "train")
    n_train, n_test = len(load_mnist("train")[0]), len(load_mnist("test")[0])
    (name, value, ok), = mnist_rows()
    assert name == "mnist" and ok and f"{n_train:,} train / {n_test:,} test images" in value
    assert str(src.folder) in value and (("not the full set" in value) == (n_train < 60_000 or n_test < 10_000))


def test_train_start_line_names_rule_and_device(tmp_path):
    from spinsyn.fitting import published_rule, save_rule
    from spinsyn.snn.cli import start_line
    from spinsyn.snn.config import make_config

    line = start_line(make_config(synapse="compound:4", neurons=5, device="cpu"))
    assert "rule: published bi-sigmoid" in line and "device: preset compound [source: published" in line
    assert "4 MTJs per synapse" in line and line.count("\n") == 0
    rule = save_rule(tmp_path / "r.json", published_rule())
    sha = hashlib.sha256(rule.read_bytes()).hexdigest()[:12]
    line = start_line(make_config(synapse="dw:16", neurons=5, device="cpu", rule=str(rule),
                                  device_params={"length_nm": 300}))
    assert f"rule: rule file r.json (sha256 {sha})" in line
    assert "device: preset dw-mtj [source: " in line and "--device-param length_nm=300" in line


def test_train_prints_the_start_line_with_quiet(tmp_path, monkeypatch, capsys):
    import spinsyn.snn.trainer as trainer

    fake = {"accuracy_all_activity": None, "train_samples_per_s": 1.0, "test_samples_per_s": 1.0, "device": "cpu",
            "engine": "numba"}
    monkeypatch.setattr(trainer, "train", lambda *a, **k: fake)
    assert main(["train", "--synapse", "compound:4", "--neurons", "5", "--n-train", "1", "--n-test", "0",
                 "--device", "cpu", "--quiet", "--out", str(tmp_path / "run")]) == 0
    first, *rest = capsys.readouterr().out.splitlines()
    assert first.startswith("train: synapse compound:4; rule: published bi-sigmoid") and "device: preset" in first
    assert rest and rest[-1].startswith("test accuracy:")
