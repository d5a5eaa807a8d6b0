"""The streamed export (tile batches written to disk as they are programmed) writes the same chips as the
whole-layer export of commit f89bcc3 (tests/data/chip_reference, made by chip_digest.py), and a chip of many
batches is consistent: verified, its summary equal to the figures recomputed from its own files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.hw_export.chip_digest import CASES, REFERENCE, chip_digests, export_case


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_streamed_chip_equals_whole_layer_reference(case, tmp_path: Path) -> None:
    name, shape, wseed, kw = case
    ref = json.loads(REFERENCE.read_text())[name]
    got = chip_digests(export_case(name, shape, wseed, kw, tmp_path))
    assert set(got) == set(ref), sorted(set(got) ^ set(ref))[:10]
    differ = sorted(k for k in ref if got[k] != ref[k])
    assert not differ, f"{len(differ)} items differ from the whole-layer export, e.g. {differ[:8]}"


def test_many_batches_summary_matches_files(tmp_path: Path, monkeypatch) -> None:
    """Batches of one 16x16 tile each (14 batches): the chip verifies, every tile's schedule and maps agree, and the
    summary's sums, maxima and histogram equal those recomputed from chip.h5."""
    from spinsyn.hw_export import ExportConfig, export_chip, load_chip
    from spinsyn.hw_export import export as ex

    monkeypatch.setattr(ex, "BATCH_CELLS", 256)
    w = np.random.default_rng(5).random((40, 70))
    monkeypatch.setattr(ex, "PROCESS_MIN_BATCHES", 10**9)  # the thread path (the forked one: below)
    res = export_chip(w, ExportConfig("compound:8", tile_rows=16, tile_cols=16, write_pulse="10"), tmp_path / "c")
    assert res.report["summary"]["tiles"] == 15 and len(ex.map_layer(w, ExportConfig("compound:8").synapse_device(),
                                                                      ExportConfig("compound:8", tile_rows=16,
                                                                                   tile_cols=16)).batches()) == 15
    chip = load_chip(tmp_path / "c")  # verify_chip first
    s = res.report["summary"]
    mask = [t.mask.astype(bool) for t in chip.tiles]
    npul = np.concatenate([t.n_pulses[m] for t, m in zip(chip.tiles, mask)]).astype(float)
    assert s["devices"] == npul.size == w.size
    assert s["pulses"] == int(npul.sum()) == sum(t.schedule.size for t in chip.tiles)
    assert s["pulses_per_device"]["mean"] == pytest.approx(npul.mean(), rel=1e-12)
    assert s["pulses_per_device"]["max"] == npul.max()
    assert s["failed"] == int(sum(t.failed[m].sum() for t, m in zip(chip.tiles, mask)))
    risk = np.concatenate([t.disturb_risk.ravel() for t in chip.tiles])
    assert s["disturb_risk"]["max"] == risk.max()
    assert s["disturb_risk"]["mean"] == pytest.approx(risk.sum() / w.size, rel=1e-12)
    step = (chip.meta_arrays["g_levels_S"][-1] - chip.meta_arrays["g_levels_S"][0]) / (
        chip.meta_arrays["g_levels_S"].size - 1)
    err = np.concatenate([(t.g_sim_S[m] - t.g_target_S[m]) / step for t, m in zip(chip.tiles, mask)])
    edges = [-np.inf, -1.5, -0.5, 0.5, 1.5, np.inf]
    assert s["error_levels_histogram"]["counts"] == np.histogram(err, edges)[0].tolist()
    assert [r["tile"] for r in res.report["tiles"]] == list(range(15))


_FORKED_SCRIPT = """
import json, sys
from pathlib import Path
import numpy as np
sys.path.insert(0, sys.argv[2])
import spinsyn.parallel
from chip_digest import chip_digests
from spinsyn.hw_export import ExportConfig, export_chip
from spinsyn.hw_export import export as ex
ex.BATCH_CELLS = 512
spinsyn.parallel.usable_cores = lambda: 2
w = np.random.default_rng(6).random((50, 90))
cfg = ExportConfig("compound:8", tile_rows=16, tile_cols=16)  # write pulse auto: the search
out = {}
for name, min_batches in (("thread", 10**9), ("forked", 2)):
    ex.PROCESS_MIN_BATCHES = min_batches
    res = export_chip(w, cfg, Path(sys.argv[1]) / name)
    out[name] = [res.report["summary"]["tiles"], "pack" in res.timings_s, chip_digests(Path(sys.argv[1]) / name)]
print(json.dumps(out))
"""


def test_forked_workers_write_the_same_chip_as_the_thread(tmp_path: Path) -> None:
    """A chip of many batches programmed by forked worker processes (the write-pulse search's widths too) equals
    the one programmed in a thread of the export (same random stream per batch and candidate), file by file. In a
    fresh interpreter: a process whose numba OpenMP layer has started (this test session's) programs in threads."""
    import json
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", _FORKED_SCRIPT, str(tmp_path), str(Path(__file__).parent)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["thread"][:2] == [24, False] and out["forked"][:2] == [24, True]  # the path taken
    assert out["thread"][2] == out["forked"][2]
