"""Writing a chip folder's files tile by tile (:class:`ChipWriter`), so an export's memory does not grow with the
chip: chip.h5 is written to disk as tiles arrive, each tile's datasets compressed in worker threads into whole-tile
chunks (``write_direct_chunk``; zlib releases the GIL), its CSV views formatted, hashed, written and fsynced in the
workers while the next tile batch is programmed; the layer-wide CSVs are formatted in row blocks. The folder layout
and every file's content are those of ``chipfile`` (see its docstring); ``staging`` wraps this in a marked
temporary folder renamed onto the chip folder when complete.

Compression (measured on 16 tiles of 128 x 128 compound:8 cells, docs/hw_export.md): per-tile maps ``(R, C)`` in one
chunk each with deflate level :data:`MAP_LEVEL` (byte shuffle first for integer maps only: it makes the float maps
of a few distinct conductances 3x larger and 3x slower to compress); schedules in chunks of :data:`SCHEDULE_CHUNK`
rows with deflate level 1 (shuffling their 31-byte rows doubles the size). A map whose sample deflates to more than
:data:`RAW_RATIO` of its size (a disturb-risk map of distinct probabilities: ratio 0.95) is stored as it is, with the
chunk's filter mask marking deflate as skipped: the dataset keeps its chunking and filter pipeline and every reader
gets the same values, without the time spent compressing a map that does not compress (:func:`_map_chunk`).

Deflate (:func:`deflate`): ISA-L's (``isal.isal_zlib``, the optional ``[fast]`` extra) when it is installed, else
zlib's. Both write zlib streams that HDF5's deflate filter (and every reader) inflates to the same bytes; at level 1
ISA-L compresses 16 tiles' schedules 4.5x faster (43 ms instead of 206 ms for 32 MB) and 10 % smaller, their maps
3x faster (measured, isal 1.9.1): the stored bytes differ, the values do not.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from spinsyn.fileio import named_os_error, to_json, units_from_name
from spinsyn.lazyimport import import_uninterrupted

from .chipfile import (
    CHIP_FORMAT,
    CHIP_VERSION,
    FUSION_NAME,
    H5_NAME,
    MANIFEST_NAME,
    MATRIX_NAME,
    REPORT_FORMAT,
    REPORT_NAME,
    SCHEDULE_CSV_HEADER,
    TARGET_CSV_HEADER,
    TILE_DATASETS,
    TileData,
    _fusion_header,
    device_source,
    manifest_doc,
    schedule_columns,
    target_columns,
)
from .interrupts import check_interrupted

#: schedule rows per HDF5 chunk (2 MB), deflate level 1
SCHEDULE_CHUNK = 1 << 16
#: deflate level of the per-tile (R, C) maps (after byte shuffle)
MAP_LEVEL = 1
#: values per block of the layer-wide CSVs
MATRIX_BLOCK = 1 << 20
#: a map is stored without deflate when its sample (:data:`RAW_SAMPLE` spread blocks, 1/8 of it) deflates to more than
#: this fraction of the sample's size (measured: disturb-risk maps 0.945 on sample and whole map; float maps 0.12,
#: integer maps 0.20-0.30)
RAW_RATIO = 0.9
RAW_SAMPLE = 8

#: ISA-L's zlib interface when installed (the ``[fast]`` extra, pip install 'spinsyn[fast]'), else None:
#: :func:`deflate` then uses zlib
FAST_DEFLATE: Any = (importlib.import_module("isal.isal_zlib") if importlib.util.find_spec("isal") is not None
                     else None)
#: highest level ISA-L's zlib interface accepts (0-3); higher levels use zlib
_ISAL_MAX_LEVEL = 3


def deflate(data: bytes, level: int) -> bytes:
    """``data`` as one zlib stream (deflate at ``level``): with :data:`FAST_DEFLATE` (ISA-L) when installed and
    ``level`` <= 3, else with zlib; HDF5's deflate filter inflates either to ``data``."""
    if FAST_DEFLATE is not None and level <= _ISAL_MAX_LEVEL:
        return FAST_DEFLATE.compress(data, level)  # type: ignore[no-any-return]
    return zlib.compress(data, level)


_SCHEDULE_UNITS = to_json({"row": "1", "col": "1", "step": "1", "v_V": "V", "width_ns": "ns", "polarity": "1",
                           "verify_lo_S": "S", "verify_hi_S": "S"})


def _shuffled(arr: np.ndarray) -> bytes:
    """HDF5's byte-shuffle filter applied to ``arr`` (byte j of every element, then byte j + 1, ...)."""
    a = np.ascontiguousarray(arr)
    return a.view(np.uint8).reshape(a.size, a.dtype.itemsize).T.tobytes()


def _shuffle(arr: np.ndarray) -> bool:
    """Byte shuffle before deflate for integer maps only: float maps of a few distinct conductances compress 3x
    smaller and 3x faster without it (measured, docs/hw_export.md)."""
    return arr.dtype.kind in "iu" and arr.dtype.itemsize > 1


def _schedule_chunks(arr: np.ndarray, level: int) -> list[bytes]:
    """Deflated (:func:`deflate`) fixed-size chunks of ``arr`` (last chunk zero-padded), as HDF5's deflate filter
    stores them."""
    c = min(arr.size, SCHEDULE_CHUNK)
    out = []
    for a in range(0, arr.size, c):
        part = arr[a:a + c]
        if part.size < c:
            pad = np.zeros(c, dtype=arr.dtype)
            pad[: part.size] = part
            part = pad
        out.append(deflate(part.tobytes(), level))
    return out


def _map_chunk(data: bytes, level: int, deflate_bit: int) -> tuple[bytes, int]:
    """(chunk bytes, HDF5 filter mask) of one map's chunk (``data``: after the shuffle filter where the dataset has
    it): deflated at ``level`` (mask 0), or, when a sample of :data:`RAW_SAMPLE` blocks spread over ``data`` deflates
    to more than :data:`RAW_RATIO` of its size, ``data`` itself with the filter mask's bit ``deflate_bit`` (the
    deflate filter's position in the pipeline) set: HDF5 then skips inflate for that chunk on reading."""
    n, k = len(data), RAW_SAMPLE
    block = n // (8 * k)
    if block >= 64:
        sample = b"".join(data[j * n // k: j * n // k + block] for j in range(k))
        if len(deflate(sample, level)) > RAW_RATIO * len(sample):
            return data, 1 << deflate_bit
    return deflate(data, level), 0


@dataclass
class PackedTile:
    """One tile ready for chip.h5: its attributes, the small 1-D datasets (and an empty schedule) as arrays, the
    (shape, dtype) and compressed chunks of the others (``chunks``: (bytes, HDF5 filter mask) per (R, C) map
    (:func:`_map_chunk`), a list of deflated chunk bytes for the schedule), and the sha256 of its CSV views already
    written (relative path -> digest)."""

    attrs: dict[str, Any]
    arrays: dict[str, np.ndarray]
    layout: dict[str, tuple[tuple[int, ...], np.dtype]]
    chunks: dict[str, Any]
    csv: dict[str, str]


def pack_tile(td: TileData, i: int, tmp: Path, *, csv: bool, discrete: bool, level: int = MAP_LEVEL) -> PackedTile:
    """Compress tile ``i``'s datasets and (``csv``) write its CSV views into ``tmp`` (a worker thread or process)."""
    arrays: dict[str, np.ndarray] = {}
    layout: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    chunks: dict[str, Any] = {}
    for name in TILE_DATASETS:
        arr = getattr(td, name)
        if name == "schedule" and arr.size:
            chunks[name] = _schedule_chunks(arr, 1)
        elif arr.ndim == 2:
            shuffle = _shuffle(arr)
            chunks[name] = _map_chunk(_shuffled(arr) if shuffle else arr.tobytes(), level, 1 if shuffle else 0)
        else:
            arrays[name] = arr
            continue
        layout[name] = (arr.shape, arr.dtype)
    return PackedTile(dict(td.attrs), arrays, layout, chunks, _tile_csvs(tmp, i, td, discrete) if csv else {})


def h5_os_error(exc: BaseException, path: Path) -> OSError:
    """An HDF5 write failure as one OSError naming ``path``: the system's error (EFBIG, ENOSPC) when HDF5's message
    carries its number, else EIO with HDF5's first line."""
    m = re.search(r"errno = (\d+)", str(exc))
    if m:
        code = int(m.group(1))
        return OSError(code, os.strerror(code), str(path))
    first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
    return OSError(5, f"HDF5 write failed ({first})", str(path))


class _Hashed:
    """A new file written in pieces, hashed (sha256) as it is written; an OSError names ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sha = hashlib.sha256()
        try:
            self.fh = open(path, "wb")
        except OSError as exc:
            raise named_os_error(exc, path) from None

    def write(self, data: bytes) -> None:
        try:
            self.fh.write(data)
        except OSError as exc:
            raise named_os_error(exc, self.path) from None
        self.sha.update(data)

    def close(self) -> str:
        try:
            self.fh.close()
        except OSError as exc:
            raise named_os_error(exc, self.path) from None
        return self.sha.hexdigest()


def write_file(path: Path, data: bytes) -> str:
    """Write ``data`` to a new file; returns its sha256."""
    f = _Hashed(path)
    try:
        f.write(data)
    finally:
        digest = f.close()
    return digest


def fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _tile_csvs(tmp: Path, i: int, td: TileData, discrete: bool) -> dict[str, str]:
    """Format, write and hash the two CSV views of tile ``i``; returns {relative path: sha256}."""
    from .csvfast import format_csv  # lazy: startup

    cols, dec = target_columns(td)
    if discrete != (dec[6] == 0):
        dec[6] = 0 if discrete else 6
    out = {}
    for rel, body in ((f"csv/tile_{i}_targets.csv", lambda: format_csv(TARGET_CSV_HEADER, cols, dec)),
                      (f"csv/tile_{i}_schedule.csv",
                       lambda: format_csv(SCHEDULE_CSV_HEADER, *schedule_columns(td.schedule)))):
        out[rel] = write_file(tmp / rel, body())
    return out


class _LowLevel:
    """HDF5's low-level calls for the many small objects of a chip (h5py's high-level ``attrs[...] =`` and
    ``create_dataset`` cost ~0.5 ms each; a tile has 14 datasets and 20 attributes): the same attribute types
    (variable-length UTF-8 strings, scalar) and dataset layouts (chunked, filters shuffle + deflate)."""

    def __init__(self, h5py: Any) -> None:
        self.h5py = h5py
        self.str_dtype = h5py.string_dtype("utf-8")
        self.str_type = h5py.h5t.py_create(self.str_dtype, logical=True)
        self.scalar = h5py.h5s.create(h5py.h5s.SCALAR)
        self.dcpl: dict[tuple[Any, ...], Any] = {}

    def attr(self, oid: Any, name: str, value: str) -> None:
        a = self.h5py.h5a.create(oid, name.encode(), self.str_type, self.scalar)
        a.write(np.array(value, dtype=self.str_dtype))

    def dataset(self, gid: Any, name: str, arr: Any, chunks: tuple[int, ...] | None = None, level: int = 0,
                shuffle: bool = False) -> Any:
        """A new dataset: chunked with deflate ``level``, shaped and typed by ``arr`` = (shape, dtype) (written by
        the caller with ``write_direct_chunk``), or contiguous with the array ``arr`` written (``chunks`` None)."""
        h5 = self.h5py
        shape, dtype = (arr.shape, arr.dtype) if isinstance(arr, np.ndarray) else arr
        space = h5.h5s.create_simple(shape)
        tid = h5.h5t.py_create(dtype)
        if chunks is None:
            d = h5.h5d.create(gid, name.encode(), tid, space)
            d.write(h5.h5s.ALL, h5.h5s.ALL, np.ascontiguousarray(arr))
            return d
        key = (chunks, level, shuffle)
        if key not in self.dcpl:
            dcpl = h5.h5p.create(h5.h5p.DATASET_CREATE)
            dcpl.set_chunk(chunks)
            if shuffle:
                dcpl.set_shuffle()
            dcpl.set_deflate(level)
            self.dcpl[key] = dcpl
        return h5.h5d.create(gid, name.encode(), tid, space, dcpl=self.dcpl[key])


class ChipWriter:
    """The files of a chip folder written into ``tmp`` tile by tile: :meth:`start_matrices` (the layer CSVs), then
    :meth:`add_packed` for the tiles in order (packed by :meth:`pack` in the writer's threads, or by
    :func:`pack_tile` in worker processes), then :meth:`finish` with /meta and the report; :meth:`close` always (it
    stops the workers and closes chip.h5). ``jobs`` worker threads compress and write the CSVs; one more fsyncs."""

    def __init__(self, tmp: Path, *, discrete: bool, seed: int | None, csv: bool, fusion: bool, jobs: int = 2,
                 map_level: int = MAP_LEVEL) -> None:
        from spinsyn.fileio import h5_write_meta  # lazy: startup

        h5py = import_uninterrupted("h5py")  # lazy (startup); never half-imported by a signal
        self.tmp, self.discrete, self.seed, self.csv, self.fusion = tmp, discrete, seed, csv, fusion
        self.map_level = map_level
        self.pool = ThreadPoolExecutor(max(1, jobs))
        self.syncer = ThreadPoolExecutor(1)
        self.synced: list[Future[None]] = []
        self.digests: dict[str, str] = {}
        self.files = [H5_NAME, REPORT_NAME]
        self.h5_path = tmp / H5_NAME
        self.n_tiles = 0
        self.matrices: list[Future[dict[str, str]]] = []
        self.ll = _LowLevel(h5py)
        try:
            self.h5 = h5py.File(self.h5_path, "w")
            h5_write_meta(self.h5, fmt=CHIP_FORMAT, version=CHIP_VERSION, seed=seed)
            self.tiles_group = self.h5.create_group("tiles")
        except Exception as exc:
            raise h5_os_error(exc, self.h5_path) from None
        if csv:
            (tmp / "csv").mkdir()

    def pack(self, tiles: list[TileData], first: int | None = None) -> Iterator[PackedTile]:
        """The tiles packed by the worker threads (numbered from ``first``, default: after those stored), in order
        as each is ready."""
        i0 = self.n_tiles if first is None else first
        jobs = [self.pool.submit(pack_tile, td, i0 + k, self.tmp, csv=self.csv, discrete=self.discrete,
                                 level=self.map_level) for k, td in enumerate(tiles)]
        return (job.result() for job in jobs)

    def add_packed(self, packed: Iterable[PackedTile]) -> None:
        """Store the next packed tiles in chip.h5 and list their CSV views (fsynced by the syncer thread)."""
        for pt in packed:
            self._h5_tile(str(self.n_tiles), pt)
            for rel, digest in pt.csv.items():
                self.files.append(rel)
                self.digests[rel] = digest
                self.synced.append(self.syncer.submit(fsync_file, self.tmp / rel))
            self.n_tiles += 1
            check_interrupted()  # a signal swallowed by a finaliser stops the export here (safe points)
        try:
            self.h5.flush()
        except Exception as exc:
            raise h5_os_error(exc, self.h5_path) from None
        self.synced.append(self.syncer.submit(fsync_file, self.h5_path))

    def _h5_tile(self, name: str, pt: PackedTile) -> None:
        try:
            grp = self.tiles_group.create_group(name)
            for k, v in pt.attrs.items():
                self.ll.attr(grp.id, k, to_json(v))
            for ds_name in TILE_DATASETS:
                self._h5_dataset(grp, ds_name, pt)
        except OSError as exc:
            raise h5_os_error(exc, self.h5_path) from None

    def _h5_dataset(self, grp: Any, name: str, pt: PackedTile) -> None:
        ll = self.ll
        if name in pt.arrays:  # 1-D index vectors (small, contiguous) or an empty schedule
            d = ll.dataset(grp.id, name, pt.arrays[name])
        else:
            shape, dtype = pt.layout[name]
            chunk = pt.chunks[name]
            if name == "schedule":
                d = ll.dataset(grp.id, name, (shape, dtype), (min(shape[0], SCHEDULE_CHUNK),), 1, shuffle=False)
                for j, data in enumerate(chunk):
                    d.write_direct_chunk((j * SCHEDULE_CHUNK,), data)
            else:
                d = ll.dataset(grp.id, name, (shape, dtype), shape, self.map_level,
                               shuffle=dtype.kind in "iu" and dtype.itemsize > 1)
                data, mask = chunk
                d.write_direct_chunk((0,) * len(shape), data, mask)
        if name == "schedule":
            ll.attr(d, "units", "see columns")
            ll.attr(d, "column_units", _SCHEDULE_UNITS)
        else:
            ll.attr(d, "units", "1" if name == "state" else units_from_name(name))

    def start_matrices(self, lv: np.ndarray, g_levels_S: np.ndarray) -> None:
        """Start writing the layer CSVs (level per device ``lv`` (I, M), level conductances (L,) S) in the workers
        (:meth:`finish` waits for them)."""
        self.files.append(MATRIX_NAME)
        self.matrices = [self.pool.submit(self._matrix_csv, lv, g_levels_S)]
        if self.fusion:
            self.files.append(FUSION_NAME)
            self.matrices.append(self.pool.submit(self._fusion_csv, lv, g_levels_S))

    def finish(self, meta: dict[str, Any], meta_arrays: dict[str, np.ndarray], report: dict[str, Any]) -> None:
        """/meta, the layer CSVs (waited for, when :meth:`start_matrices` started them), report.json, fsync of
        everything, and the manifest last."""
        from spinsyn.fileio import h5_dataset, provenance  # lazy: startup

        try:
            g = self.h5.create_group("meta")
            for k, v in meta.items():
                g.attrs[k] = to_json(v)
            for k, arr in meta_arrays.items():
                h5_dataset(g, k, arr)
            self.h5.close()
        except Exception as exc:
            raise h5_os_error(exc, self.h5_path) from None
        h5_digest = self.pool.submit(_sha256_file, self.h5_path)
        for job in self.matrices:
            self.digests.update(job.result())
        rep = {"format": REPORT_FORMAT, "format_version": 1, "provenance": provenance(self.seed), **report}
        self.digests[REPORT_NAME] = write_file(self.tmp / REPORT_NAME, (to_json(rep) + "\n").encode("utf-8"))
        self.digests[H5_NAME] = h5_digest.result()
        for rel in (H5_NAME, REPORT_NAME, *(f for f in (MATRIX_NAME, FUSION_NAME) if f in self.files)):
            self.synced.append(self.syncer.submit(fsync_file, self.tmp / rel))
        for synced in self.synced:
            synced.result()
        check_interrupted()
        man = manifest_doc(self.tmp, self.files, self.seed, self.digests, device_source(meta.get("synapse_device")))
        write_file(self.tmp / MANIFEST_NAME, (to_json(man) + "\n").encode("utf-8"))
        fsync_file(self.tmp / MANIFEST_NAME)
        if self.csv:
            fsync_dir(self.tmp / "csv")
        fsync_dir(self.tmp)
        os.chmod(self.tmp, 0o755)

    def _matrix_csv(self, lv: np.ndarray, g_levels_S: np.ndarray) -> dict[str, str]:
        """layer_targets_uS.csv: device rows x columns in uS, no header, in blocks of :data:`MATRIX_BLOCK` values."""
        from .csvfast import format_rows  # lazy: startup

        n_in, n_out = lv.shape
        f = _Hashed(self.tmp / MATRIX_NAME)
        step = max(1, MATRIX_BLOCK // n_out)
        for a in range(0, n_in, step):
            m = g_levels_S[lv[a:a + step]] * 1e6
            f.write(format_rows(list(m.T), [6] * n_out))
        return {MATRIX_NAME: f.close()}

    def _fusion_csv(self, lv: np.ndarray, g_levels_S: np.ndarray) -> dict[str, str]:
        """aihwkit_fusion.csv: the header lines, then one line of the conductances in uS, outputs-major."""
        from .csvfast import format_rows  # lazy: startup

        n_in, n_out = lv.shape
        f = _Hashed(self.tmp / FUSION_NAME)
        f.write(_fusion_header(n_in, n_out))
        step = max(1, MATRIX_BLOCK // n_in)
        for a in range(0, n_out, step):
            flat = np.ascontiguousarray(g_levels_S[lv[:, a:a + step]].T).ravel() * 1e6
            body = format_rows([flat], [6]).replace(b"\n", b",")
            f.write(body if a + step < n_out else body[:-1] + b"\n")
        return {FUSION_NAME: f.close()}

    def close(self) -> None:
        """Stop the workers (queued work cancelled) and close chip.h5 if still open; errors here are ignored (the
        staging folder is removed after a failure)."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.syncer.shutdown(wait=True, cancel_futures=True)
        try:
            if self.h5.id.valid:
                self.h5.close()
        except Exception:  # noqa: BLE001 - a failed HDF5 file is being discarded
            pass


def _sha256_file(path: Path) -> str:
    from spinsyn.fileio import sha256_file  # lazy: startup

    return sha256_file(path)
