"""chipwriter: map chunks that do not deflate are stored as they are, marked by the chunk's filter mask, and read
back unchanged through the dataset's unchanged filter pipeline."""

from __future__ import annotations

import zlib

import h5py
import numpy as np
import pytest
from spinsyn.hw_export.chipwriter import RAW_RATIO, _LowLevel, _map_chunk, _shuffled


def test_map_chunk_deflates_compressible_and_keeps_incompressible_raw():
    rng = np.random.default_rng(1)
    levels = rng.choice([1e-5, 2e-5, 3e-5], size=(128, 128))  # a few distinct conductances: deflates ~8x
    data, mask = _map_chunk(levels.tobytes(), 1, 0)
    assert mask == 0 and len(data) < levels.nbytes / 4
    assert zlib.decompress(data) == levels.tobytes()
    noise = rng.random((128, 128))  # distinct probabilities: deflate saves ~5 %
    assert len(zlib.compress(noise.tobytes(), 1)) > RAW_RATIO * noise.nbytes
    data, mask = _map_chunk(noise.tobytes(), 1, 0)
    assert mask == 1 and data == noise.tobytes()
    assert _map_chunk(noise.tobytes(), 1, 1)[1] == 2  # deflate second in the pipeline (after shuffle)


@pytest.mark.parametrize("dtype", ["<f8", "<i2"])
def test_raw_chunk_reads_back_through_the_same_pipeline(tmp_path, dtype):
    rng = np.random.default_rng(2)
    arr = rng.random((64, 32)) if dtype == "<f8" else rng.integers(-2**15, 2**15, (64, 32)).astype(dtype)
    shuffle = arr.dtype.kind == "i"
    raw = _shuffled(arr) if shuffle else arr.tobytes()
    data, mask = _map_chunk(raw, 1, 1 if shuffle else 0)
    assert mask != 0  # random values: stored without deflate
    with h5py.File(tmp_path / "x.h5", "w") as f:
        d = _LowLevel(h5py).dataset(f.id, "m", (arr.shape, arr.dtype), arr.shape, 1, shuffle=shuffle)
        d.write_direct_chunk((0, 0), data, mask)
    with h5py.File(tmp_path / "x.h5") as f:
        ds = f["m"]
        assert ds.compression == "gzip" and ds.chunks == arr.shape and ds.shuffle == shuffle
        assert ds.id.get_chunk_info(0).filter_mask == mask
        np.testing.assert_array_equal(ds[()], arr)


def test_deflate_without_the_fast_extra_is_zlib(monkeypatch):
    from spinsyn.hw_export import chipwriter

    data = np.repeat(np.arange(4000, dtype="<i4"), 3).tobytes()
    monkeypatch.setattr(chipwriter, "FAST_DEFLATE", None)
    assert chipwriter.deflate(data, 1) == zlib.compress(data, 1)


class _OtherZlibStream:
    """A deflate whose streams differ from zlib.compress's (level 9, memLevel 9): what a faster library writes."""

    @staticmethod
    def compress(data: bytes, level: int) -> bytes:
        c = zlib.compressobj(9, zlib.DEFLATED, 15, 9)
        return c.compress(data) + c.flush()


@pytest.mark.parametrize("fast", ["isal", "other-stream"])
def test_fast_deflate_writes_the_same_chip_values(tmp_path, monkeypatch, fast):
    """chip.h5 written with another deflate (ISA-L when the [fast] extra is installed, or any other valid zlib
    stream) holds the same datasets, attributes and CSVs as with zlib; only its bytes differ."""
    from spinsyn.hw_export import ExportConfig, chipwriter, export_chip

    from tests.hw_export.chip_digest import chip_digests

    lib = pytest.importorskip("isal.isal_zlib") if fast == "isal" else _OtherZlibStream
    w = np.random.default_rng(4).random((70, 40))
    cfg = ExportConfig("compound:8", tile_rows=32, tile_cols=32, write_pulse="10")
    monkeypatch.setattr(chipwriter, "FAST_DEFLATE", None)
    export_chip(w, cfg, tmp_path / "zlib")
    monkeypatch.setattr(chipwriter, "FAST_DEFLATE", lib)
    export_chip(w, cfg, tmp_path / "fast")
    assert chip_digests(tmp_path / "fast") == chip_digests(tmp_path / "zlib")
    assert (tmp_path / "fast" / "chip.h5").read_bytes() != (tmp_path / "zlib" / "chip.h5").read_bytes()
