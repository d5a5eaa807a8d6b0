"""The content-addressed stage cache: canonical keys, atomic entries, harmless concurrent computations."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

import pytest
from spinsyn.study.cache import STAGING_MARKER, clean_staging, compute_entry, entry_dir, entry_info, stage_key


def test_key_is_canonical_and_changes_with_any_input():
    a = stage_key("train", {"x": 1, "y": [1, 2], "upstream": "k"})
    assert a == stage_key("train", {"upstream": "k", "y": (1, 2), "x": 1})
    assert len({a, stage_key("train", {"x": 2, "y": [1, 2], "upstream": "k"}),
                stage_key("train", {"x": 1, "y": [1, 2], "upstream": "k2"}),
                stage_key("export", {"x": 1, "y": [1, 2], "upstream": "k"})}) == 4


def _slow_writer(root: str, value: str, delay: float) -> str:
    def action(folder: Path) -> None:
        time.sleep(delay)
        (folder / "out.txt").write_text(value)

    return str(compute_entry(Path(root), "sweep", "k" * 64, {"v": 1}, action))


def test_a_concurrent_second_computation_of_one_key_is_harmless(tmp_path):
    ctx = mp.get_context("fork")
    with ctx.Pool(2) as pool:
        paths = pool.starmap(_slow_writer, [(str(tmp_path), "first", 0.2), (str(tmp_path), "second", 1.0)])
    final = entry_dir(tmp_path, "sweep", "k" * 64)
    assert paths == [str(final)] * 2
    assert (final / "out.txt").read_text() == "first"  # the first rename wins, the second is dropped
    assert entry_info(final)["inputs"] == {"v": 1} and not (final / STAGING_MARKER).exists()
    assert sorted(p.name for p in final.parent.iterdir()) == [final.name]  # no staging folder left
    assert _slow_writer(str(tmp_path), "third", 0.0) == str(final)  # an existing entry is not recomputed
    assert (final / "out.txt").read_text() == "first"


def test_a_failed_computation_leaves_nothing_and_stale_staging_is_cleaned(tmp_path):
    def boom(folder: Path) -> None:
        (folder / "half.txt").write_text("x")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        compute_entry(tmp_path, "fit", "a" * 64, {}, boom)
    assert list((tmp_path / "cache" / "fit").iterdir()) == []
    stale = tmp_path / "cache" / "fit" / ".staging-aaaa-x"
    stale.mkdir()
    (stale / STAGING_MARKER).write_text(f"{os.getpid()}\n")
    foreign = tmp_path / "cache" / "fit" / ".staging-not-ours"
    foreign.mkdir()  # no marker: not ours, kept
    assert clean_staging(tmp_path) == 1
    assert not stale.exists() and foreign.exists()
