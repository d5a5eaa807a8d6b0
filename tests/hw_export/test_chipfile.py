import json
import shutil

import h5py
import numpy as np
import pytest
from spinsyn.devices import SynapseDevice, SynapseSpec
from spinsyn.fileio import SpinsynFileError
from spinsyn.hw_export import ExportConfig, chipfile, export_chip, load_chip, verify_chip
from spinsyn.hw_export.mapping import conductance_to_weights


@pytest.fixture(scope="module")
def chip(tmp_path_factory):
    w = np.random.default_rng(0).normal(size=(70, 45))
    cfg = ExportConfig(SynapseSpec.parse("compound:4"), mapping="differential", tile_rows=32, tile_cols=40)
    out = tmp_path_factory.mktemp("chips") / "chip"
    res = export_chip(w, cfg, out, source={"kind": "npy", "path": "w.npy"})
    return out, w, res


def _files(d):
    return sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())


def test_layout_and_verify(chip):
    out, _w, _res = chip
    files = _files(out)
    assert {"chip.h5", "manifest.json", "report.json", "layer_targets_uS.csv"} <= set(files)
    assert "aihwkit_fusion.csv" not in files  # differential pairs do not fit Fusion's one device per weight
    # 70 x 90 devices on 32 x 40 tiles -> 3 x 3 tiles, one targets and one schedule CSV each
    assert sum(f.startswith("csv/") for f in files) == 18
    s = verify_chip(out)
    assert s["n_tiles"] == 9 and s["n_devices"] == 70 * 90 and s["unlisted_files"] == []
    assert not any(p.name.endswith(".tmp") for p in out.parent.iterdir())


def test_chip_content_maps_back(chip):
    out, w, _res = chip
    c = load_chip(out)
    from spinsyn.hw_export.tiling import TileLayout, from_tiles

    lay = TileLayout(70, 90, 32, 40)
    g = from_tiles(np.stack([t.g_target_S for t in c.tiles]), lay)
    from spinsyn.hw_export.mapping import ScaleFactors

    sc = dict(c.meta["scale"])
    sc["g_levels_S"] = tuple(sc["g_levels_S"])
    back = conductance_to_weights(g, ScaleFactors(**sc))
    step = np.abs(w).max() / 4
    assert np.max(np.abs(back - w)) <= 0.5 * step + 1e-9
    aih = np.loadtxt(out / "layer_targets_uS.csv", delimiter=",")
    np.testing.assert_allclose(aih, g * 1e6, atol=1e-6)
    t0 = c.tiles[0]
    sched = t0.schedule
    assert sched.dtype.names == ("row", "col", "step", "v_V", "width_ns", "polarity", "verify_lo_S", "verify_hi_S")
    cells = sched["row"].astype(int) * 40 + sched["col"]
    assert np.all(np.diff(cells) >= 0)
    # padding cells never get a pulse; the last tile is 6 x 10 used cells
    last = c.tiles[-1]
    assert last.mask.sum() == 6 * 10 and not last.n_pulses[last.mask == 0].any()
    assert (last.row_index >= 0).sum() == 6 and (last.col_index >= 0).sum() == 10
    assert set(np.unique(last.col_sign[last.col_index >= 0])) == {-1, 1}
    with h5py.File(out / "chip.h5") as f:
        assert f.attrs["format"] == "spinsyn-chip" and f.attrs["format_version"] == 2
        ds = f["tiles/0/schedule"]
        assert ds.compression == "gzip" and ds.chunks is not None
        assert f["tiles/0/g_target_S"].attrs["units"] == "S"
    csv = (out / "csv/tile_0_targets.csv").read_text().splitlines()
    assert csv[0].startswith("row,col,layer_row,layer_col,sign,level")
    assert len(csv) - 1 == 32 * 40


def _flip(path, frac=0.5):
    data = bytearray(path.read_bytes())
    i = int(len(data) * frac)
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("rel", ["chip.h5", "manifest.json", "report.json", "layer_targets_uS.csv",
                                 "csv/tile_0_targets.csv", "csv/tile_8_schedule.csv"])
@pytest.mark.parametrize("frac", [0.0, 0.37, 0.999])
def test_one_flipped_byte_fails_verify(chip, tmp_path, rel, frac):
    out = tmp_path / "c"
    shutil.copytree(chip[0], out)
    _flip(out / rel, frac)
    with pytest.raises(SpinsynFileError) as e:
        verify_chip(out)
    assert rel.split("/")[-1] in str(e.value)


@pytest.mark.parametrize("rel", ["chip.h5", "report.json", "csv/tile_3_schedule.csv"])
def test_truncated_or_missing_file_fails_verify(chip, tmp_path, rel):
    out = tmp_path / "c"
    shutil.copytree(chip[0], out)
    p = out / rel
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with pytest.raises(SpinsynFileError, match="truncated"):
        verify_chip(out)
    p.unlink()
    with pytest.raises(SpinsynFileError, match="missing"):
        verify_chip(out)


def _rehash(out):
    man = json.loads((out / "manifest.json").read_text())
    doc = chipfile.manifest_doc(out, [e["path"] for e in man["files"]], None)
    (out / "manifest.json").write_text(chipfile.to_json(doc) + "\n")


@pytest.mark.parametrize("edit,msg", [
    (lambda f: f["tiles/1/g_target_S"].__setitem__((0, 0), 1.0), "g_target_S outside"),
    (lambda f: f["tiles/2/level"].__setitem__((0, 0), 99), "level outside"),
    (lambda f: f["tiles/0"].__delitem__("schedule"), "schedule missing"),
    (lambda f: f["meta"].attrs.__setitem__("layer", "{not json"), "not valid JSON"),
    (lambda f: f.attrs.__setitem__("format_version", 7), "format_version 7"),
])
def test_schema_checks_catch_consistent_checksums(chip, tmp_path, edit, msg):
    out = tmp_path / "c"
    shutil.copytree(chip[0], out)
    with h5py.File(out / "chip.h5", "r+") as f:
        edit(f)
    _rehash(out)  # checksums now agree: only the schema/range checks can catch it
    with pytest.raises(SpinsynFileError, match=msg):
        verify_chip(out)


def test_schedule_pulse_to_padding_is_rejected(chip, tmp_path):
    out = tmp_path / "c"
    shutil.copytree(chip[0], out)
    with h5py.File(out / "chip.h5", "r+") as f:
        s = f["tiles/8/schedule"][()]
        s["row"][-1] = 31
        s["col"][-1] = 39
        del f["tiles/8/schedule"]
        f["tiles/8"].create_dataset("schedule", data=s)
    _rehash(out)
    with pytest.raises(SpinsynFileError, match="padding cell"):
        verify_chip(out)


def test_out_dir_is_not_overwritten(chip):
    out, w, _ = chip
    cfg = ExportConfig(SynapseSpec.parse("compound:4"))
    with pytest.raises(ValueError, match="already exists"):
        export_chip(w, cfg, out)


def test_failed_export_leaves_nothing(tmp_path):
    cfg = ExportConfig(SynapseSpec.parse("compound:4"))
    with pytest.raises(ValueError):
        export_chip(np.full((4, 4), np.nan), cfg, tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


def test_simulated_programming_in_file_is_inside_band_or_failed(chip):
    c = load_chip(chip[0])
    for t in c.tiles:
        m = t.mask == 1
        inside = (t.g_sim_S >= t.verify_lo_S) & (t.g_sim_S <= t.verify_hi_S)
        assert np.all((inside ^ (t.failed == 1))[m])
        assert np.all(t.n_pulses[t.failed == 1] == c.meta["write_verify"]["max_pulses"])


def test_fusion_csv_for_unipolar(tmp_path):
    w = np.random.default_rng(2).random((30, 7))
    out = tmp_path / "u"
    export_chip(w, ExportConfig(SynapseSpec.parse("compound:8")), out)
    lines = (out / "aihwkit_fusion.csv").read_text().splitlines()
    assert lines[:6] == ["1", "AnalogLinear", "210", "7", "30", "input_to_excitatory"]
    vals = np.array(lines[6].split(","), float).reshape(7, 30)  # aihwkit order: (out_size, in_size)
    c = load_chip(out)
    g = np.asarray(c.meta_arrays["g_levels_S"])
    assert np.all(np.isin(np.round(vals, 6), np.round(g * 1e6, 6)))
    np.testing.assert_allclose(vals.T, np.loadtxt(out / "layer_targets_uS.csv", delimiter=","))
    verify_chip(out)
    _flip(out / "aihwkit_fusion.csv", 0.5)
    with pytest.raises(SpinsynFileError, match="aihwkit_fusion.csv"):
        verify_chip(out)


def test_replay_on_a_deterministic_device_reproduces_the_export(tmp_path):
    from spinsyn.hw_export import program_chip

    w = np.random.default_rng(4).random((50, 33))
    cfg = ExportConfig(SynapseSpec.parse("dw:16"), tile_rows=16, tile_cols=16, device_params={"sigma_depin_pct": 0.0})
    export_chip(w, cfg, tmp_path / "d")
    c = load_chip(tmp_path / "d")
    out = program_chip(c, seed=9, disturb=False)
    from spinsyn.hw_export.tiling import TileLayout, from_tiles

    g_sim = from_tiles(np.stack([t.g_sim_S for t in c.tiles]), TileLayout(50, 33, 16, 16))
    np.testing.assert_allclose(out["g_S"], g_sim, rtol=1e-12)
    assert out["stats"]["extra_pulses"] == 0
    assert out["stats"]["pulses_replayed"] == sum(int(t.schedule.size) for t in c.tiles)


def test_meta_records_the_synapse_device(chip):
    c = load_chip(chip[0])
    dev = SynapseDevice.from_record(c.meta["synapse_device"])
    assert dev.spec == SynapseSpec("compound", 4) and c.meta["synapse"] == "compound:4"
    assert c.meta["device_model"] == c.meta["synapse_device"]["model"]
    np.testing.assert_allclose(c.meta_arrays["g_levels_S"], dev.level_conductances_S(), rtol=1e-12)


def test_format_1_chips_are_still_read(chip, tmp_path):
    from spinsyn.hw_export import simulate_chip

    out = tmp_path / "c"
    shutil.copytree(chip[0], out)
    with h5py.File(out / "chip.h5", "r+") as f:
        f.attrs["format_version"] = 1
        del f["meta"].attrs["synapse_device"]
    _rehash(out)
    assert verify_chip(out)["format_version"] == 1
    assert simulate_chip(out, disturb=False)["programming"]["devices"] == 70 * 90
