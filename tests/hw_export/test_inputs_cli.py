import json
import shutil

import numpy as np
import pytest
import torch
from spinsyn.cli import main
from spinsyn.fileio import SpinsynFileError
from spinsyn.hw_export import load_weights


def test_npy_and_pt_inputs(tmp_path):
    w = np.random.default_rng(0).random((20, 5))
    np.save(tmp_path / "w.npy", w)
    torch.save(torch.from_numpy(w), tmp_path / "w.pt")
    torch.save({"a": torch.from_numpy(w), "b": torch.zeros(3)}, tmp_path / "d.pt")
    for name in ("w.npy", "w.pt", "d.pt"):
        src = load_weights(tmp_path / name)
        np.testing.assert_allclose(src.w, w)
        assert src.w_range is None and src.run_dir is None and len(src.sha256) == 64


class Evil:
    pass


def test_pickled_objects_are_refused(tmp_path):
    torch.save({"w": torch.zeros(3, 3), "obj": Evil()}, tmp_path / "p.pt")
    with pytest.raises(SpinsynFileError, match="refused: the file holds pickled Python objects"):
        load_weights(tmp_path / "p.pt")
    np.save(tmp_path / "o.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(SpinsynFileError, match="refused"):
        load_weights(tmp_path / "o.npy")


@pytest.mark.parametrize("arr,msg", [(np.zeros(5), "2-D"), (np.array([[1.0, np.nan]]), "NaN"),
                                     (np.zeros((2, 2), dtype="U3"), "dtype")])
def test_bad_matrices(tmp_path, arr, msg):
    np.save(tmp_path / "x.npy", arr)
    with pytest.raises(SpinsynFileError, match=msg):
        load_weights(tmp_path / "x.npy")


def test_missing_and_unknown_inputs(tmp_path):
    with pytest.raises(SpinsynFileError, match="not found"):
        load_weights(tmp_path / "nope.npy")
    (tmp_path / "w.txt").write_text("1")
    with pytest.raises(SpinsynFileError, match="unsupported"):
        load_weights(tmp_path / "w.txt")
    with pytest.raises(SpinsynFileError, match="no checkpoint.pt"):
        load_weights(tmp_path)
    torch.save({"a": torch.zeros(2, 2), "b": torch.ones(2, 2)}, tmp_path / "two.pt")
    with pytest.raises(SpinsynFileError, match="--key"):
        load_weights(tmp_path / "two.pt")
    assert load_weights(tmp_path / "two.pt", key="b").w.sum() == 4


def test_cli_export_verify_simulate_on_weights(tmp_path, capsys):
    np.save(tmp_path / "w.npy", np.random.default_rng(1).normal(size=(150, 30)))
    out = tmp_path / "chip"
    rc = main(["export", str(tmp_path / "w.npy"), "--synapse", "dw:16", "--tile", "64x64", "--mapping",
               "differential", "--half-select", "V/3", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "exported 4500 synapses (9000 devices, dw:16, differential) onto 3 tiles" in text
    assert main(["export", "verify", str(out)]) == 0
    assert ": OK (" in capsys.readouterr().out
    rc = main(["export", "simulate", str(out), "--json", str(tmp_path / "sim.json")])
    assert rc == 0
    sim = json.loads((tmp_path / "sim.json").read_text())
    assert sim["format"] == "spinsyn-chip-simulation" and sim["accuracy"] is None
    assert sim["programming"]["inside_band_after_programming"] > 0.99


@pytest.mark.parametrize("argv,msg", [
    (["export", "verify"], "missing CHIP_DIR"),
    (["export", "W", "--out", "x"], "file not found"),
    (["export", "W", "--synapse", "compound:8"], "--out CHIP_DIR is required"),
    (["export", "W", "--synapse", "compound:0", "--out", "x"], "--synapse"),
    (["export", "W", "--synapse", "compound:8", "--tile", "12", "--out", "x"], "--tile"),
    (["export", "W", "--synapse", "compound:8", "--out", "x", "--device-param", "oops"], "KEY=VALUE"),
    (["export", "verify", "/nonexistent/chip"], "not a directory"),
    (["export", "W", "--synapse", "compound:8", "--out", "x", "--tolerance", "big"], "--tolerance"),
    (["export", "W", "--synapse", "compound:8", "--out", "x", "--tolerance=-2uS"], "--tolerance"),
])
def test_cli_errors_exit_2(argv, msg, capsys):
    assert main(argv) == 2
    assert msg in capsys.readouterr().err


def test_cli_verify_reports_tampering(tmp_path, capsys):
    np.save(tmp_path / "w.npy", np.random.default_rng(1).random((20, 10)))
    out = tmp_path / "chip"
    assert main(["export", str(tmp_path / "w.npy"), "--synapse", "compound:4", "--out", str(out)]) == 0
    p = out / "csv" / "tile_0_schedule.csv"
    b = bytearray(p.read_bytes())
    b[len(b) // 2] ^= 0x10
    p.write_bytes(bytes(b))
    capsys.readouterr()
    assert main(["export", "verify", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spinsyn: error: ") and "tile_0_schedule.csv" in err and "sha256" in err


def test_run_dir_round_trip(tiny_run, tmp_path, capsys):
    small_run = tiny_run("compound:8")
    src = load_weights(small_run)
    assert src.kind == "run" and str(src.run_spec) == "compound:8" and src.state is not None
    out = tmp_path / "chip"
    assert main(["export", str(small_run), "--out", str(out)]) == 0
    assert "levels from trained device states" in capsys.readouterr().out
    from spinsyn.hw_export import load_chip

    c = load_chip(out)
    lv = np.concatenate([t.level[t.mask == 1] for t in c.tiles])
    assert lv.size == 784 * 6
    assert c.meta["source"]["run_dir"] and c.meta["levels_from"] == "trained device states"
    rc = main(["export", "simulate", str(out), "--n-test", "20", "--json", str(tmp_path / "s.json")])
    assert rc == 0
    assert "-> drop" in capsys.readouterr().out
    s = json.loads((tmp_path / "s.json").read_text())
    acc = s["accuracy"]
    assert set(acc) == {"trained", "trained_no_read_noise", "targets", "programmed", "disturbed"}
    assert s["n_test"] == 20 and s["format_version"] == 2
    assert 0 <= acc["programmed"]["accuracy_all_activity"] <= 1
    # the run moved: simulate needs --run
    moved = tmp_path / "moved"
    shutil.copytree(small_run, moved)
    assert main(["export", "simulate", str(out), "--n-test", "10", "--run", str(moved)]) == 0


def test_checkpoint_file_given_as_source_is_the_run(tiny_run):
    """``export RUN/checkpoint.pt`` (a v3 .npz under a .pt name) reads the run, not torch's loader."""
    small_run = tiny_run("compound:8")
    src = load_weights(small_run / "checkpoint.pt")
    assert src.kind == "run" and str(src.run_spec) == "compound:8"
    np.testing.assert_array_equal(src.w, load_weights(small_run).w)


def test_absolute_tolerance(tmp_path):
    from spinsyn.hw_export import load_chip
    from spinsyn.hw_export.cli import parse_tolerance

    assert parse_tolerance("2uS") == {"tolerance_S": 2e-6} and parse_tolerance("0.25") == {"tolerance_levels": 0.25}
    np.save(tmp_path / "w.npy", np.random.default_rng(1).random((20, 10)))
    out = tmp_path / "chip"
    assert main(["export", str(tmp_path / "w.npy"), "--synapse", "dw:8", "--tolerance", "1uS", "--out", str(out)]) == 0
    c = load_chip(out)
    t = c.tiles[0]
    np.testing.assert_allclose((t.verify_hi_S - t.verify_lo_S)[t.mask == 1], 2e-6)


def test_weight_file_needs_a_synapse(tmp_path, capsys):
    np.save(tmp_path / "w.npy", np.random.default_rng(1).random((20, 10)))
    assert main(["export", str(tmp_path / "w.npy"), "--out", str(tmp_path / "c")]) == 2
    assert "--synapse is required for a weight file" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "w.npy"), "--synapse", "dw:8", "--requantize",
                 "--out", str(tmp_path / "c")]) == 2
    assert "--requantize: applies to snn runs only" in capsys.readouterr().err
