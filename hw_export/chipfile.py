"""The ``spinsyn-chip`` directory: writer, reader and validator.

Layout of CHIP_DIR (see docs/hw_export.md for every field)::

    chip.h5                      programming file (format "spinsyn-chip", format_version 2; 1 is still read)
    report.json                  programming report ("spinsyn-chip-report")
    csv/tile_<i>_targets.csv     per-tile target table (used cells only)
    csv/tile_<i>_schedule.csv    per-tile pulse schedule
    layer_targets_uS.csv         whole-layer target conductance matrix in uS (device rows x device columns)
    aihwkit_fusion.csv           unipolar only: targets in uS in the layout of aihwkit's fusion_export CSV
    manifest.json                sha256 and size of every file above + its own content hash

Format 2 adds ``/meta/synapse_device`` (the ``spinsyn.devices.SynapseDevice`` record the chip was exported
for: spec, preset, read voltage and device model) next to ``device_model`` (that record's model) and ``synapse``
(``str(spec)``). The directory is written into a marked temporary sibling folder and renamed at the end, so
CHIP_DIR is either complete or absent (``staging``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from spinsyn.fileio import SpinsynFileError, check_format, read_json, to_json
from spinsyn.lazyimport import import_uninterrupted

from .csvcheck import verify_csv_contents
from .csvlayout import (  # noqa: F401  (chipfile stays the public home of these names)
    FUSION_LAYER,
    FUSION_NAME,
    H5_NAME,
    MATRIX_NAME,
    SCHEDULE_CSV_HEADER,
    TARGET_CSV_HEADER,
    _fusion_csv,
    _fusion_header,
    schedule_columns,
    target_columns,
)

CHIP_FORMAT = "spinsyn-chip"
CHIP_VERSION = 2
#: versions ``verify_chip``/``load_chip`` read (1: no ``synapse_device`` in /meta)
CHIP_VERSIONS_READ = (1, 2)
MANIFEST_FORMAT = "spinsyn-chip-manifest"
REPORT_FORMAT = "spinsyn-chip-report"
MANIFEST_NAME = "manifest.json"
#: the manifest of a conv chip folder (layer chip folders conv1..conv3 beside it; :mod:`spinsyn.hw_export.convchip`)
CONV_MANIFEST_NAME = "conv_chip.json"
CONV_CHIP_FORMAT, CONV_CHIP_VERSION = "spinsyn-conv-chip", 1
#: the layer chip folders of a conv chip, in network order
LAYER_DIRS = ("conv1", "conv2", "conv3")
REPORT_NAME = "report.json"

SCHEDULE_DTYPE = np.dtype([
    ("row", "<u2"), ("col", "<u2"), ("step", "<u2"), ("v_V", "<f4"), ("width_ns", "<f4"),
    ("polarity", "i1"), ("verify_lo_S", "<f8"), ("verify_hi_S", "<f8"),
])

#: Per-tile datasets: name -> (kind, shape key) with shape key "RC", "R", "C" or "P" (schedule rows).
TILE_DATASETS = {
    "g_target_S": ("f", "RC"), "state": ("fi", "RC"), "level": ("i", "RC"), "mask": ("u", "RC"),
    "verify_lo_S": ("f", "RC"), "verify_hi_S": ("f", "RC"), "row_index": ("i", "R"),
    "col_index": ("i", "C"), "col_sign": ("i", "C"), "g_sim_S": ("f", "RC"), "n_pulses": ("u", "RC"),
    "failed": ("u", "RC"), "disturb_risk": ("f", "RC"), "schedule": ("V", "P"),
}
#: required /meta attributes per chip format version
META_ATTRS = {
    1: ("device_model", "synapse", "mapping", "scale", "write_verify", "layer", "tiles", "source"),
    2: ("synapse_device", "device_model", "synapse", "mapping", "scale", "write_verify", "layer", "tiles", "source"),
}
META_DATASETS = ("g_levels_S", "level_state", "tile_map", "calibration_v_V", "calibration_r_set",
                 "calibration_r_reset")


@dataclass
class TileData:
    """Everything stored for one tile (R x C cells; P schedule rows)."""

    g_target_S: np.ndarray
    state: np.ndarray
    level: np.ndarray
    mask: np.ndarray
    verify_lo_S: np.ndarray
    verify_hi_S: np.ndarray
    row_index: np.ndarray
    col_index: np.ndarray
    col_sign: np.ndarray
    g_sim_S: np.ndarray
    n_pulses: np.ndarray
    failed: np.ndarray
    disturb_risk: np.ndarray
    schedule: np.ndarray
    attrs: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- writing (chipwriter.py writes)


def manifest_doc(root: Path, files: list[str], seed: int | None,
                 digests: dict[str, str] | None = None, device: dict[str, str] | None = None) -> dict[str, Any]:
    """Manifest payload: sha256/bytes of each file plus ``content_sha256`` of the manifest itself; ``device``:
    the synapse device's ``preset`` and ``source`` (:func:`device_source`), when known."""
    from spinsyn.fileio import provenance  # lazy: startup

    entries = []
    for rel in sorted(files):
        p = root / rel
        digest = digests[rel] if digests and rel in digests else _sha256(p)
        entries.append({"path": rel, "bytes": p.stat().st_size, "sha256": digest})
    doc = {"format": MANIFEST_FORMAT, "format_version": 1, "chip_format": CHIP_FORMAT,
           "chip_format_version": CHIP_VERSION, "provenance": provenance(seed), "files": entries}
    if device:
        doc["device"] = device
    doc["content_sha256"] = _content_hash(doc)
    return doc


def device_source(record: Any) -> dict[str, str] | None:
    """``{"preset", "source"}`` of a synapse device record (``SynapseDevice.record()``): the preset name or
    device-file path, and the label of the device file the cell was fitted in (its ``source`` field), else the
    preset; None when ``record`` is no such record."""
    if not isinstance(record, dict) or not isinstance(record.get("model"), dict):
        return None
    fields = record["model"].get("fields") or {}
    cells = [fields] + [v for v in fields.values() if isinstance(v, dict)]
    source = next((c["source"] for c in cells if isinstance(c.get("source"), str) and c["source"]), None)
    return {"preset": str(record.get("preset")), "source": source or str(record.get("preset"))}


def _content_hash(doc: dict[str, Any]) -> str:
    body = {k: v for k, v in doc.items() if k != "content_sha256"}
    return hashlib.sha256(to_json(body).encode("utf-8")).hexdigest()


def _sha256(path: Path) -> str:
    from spinsyn.fileio import sha256_file  # lazy: startup

    return sha256_file(path)


def conv_chip_dir_problem(path: Path) -> str | None:
    """Why ``path`` is not a conv chip folder ``--overwrite`` may replace (None: it is: a readable conv manifest,
    each layer a chip folder :func:`chip_dir_problem` accepts, nothing else)."""
    try:
        read_json(Path(path) / CONV_MANIFEST_NAME, fmt=CONV_CHIP_FORMAT, versions=(CONV_CHIP_VERSION,))
    except SpinsynFileError:
        return f"is not a spinsyn chip folder (no readable {CONV_MANIFEST_NAME})"
    for p in Path(path).iterdir():
        if p.name == CONV_MANIFEST_NAME:
            continue
        if p.name not in LAYER_DIRS or p.is_symlink():
            return f"holds {p.name!r}, which is not a layer of its {CONV_MANIFEST_NAME}"
        bad = chip_dir_problem(p)
        if bad:
            return f"has a layer folder {p.name} that {bad}"
    return None


def chip_dir_problem(path: Path) -> str | None:
    """Why ``path`` is not a folder ``--overwrite`` may replace (None: a spinsyn chip folder holding only the
    files its manifest lists, or a conv chip folder, :func:`conv_chip_dir_problem`).
    The manifest must be a JSON object of format ``spinsyn-chip-manifest``."""
    path = Path(path)
    if path.is_symlink() or not path.is_dir():
        return "is not a directory"
    if not (path / MANIFEST_NAME).exists() and (path / CONV_MANIFEST_NAME).is_file():  # a conv chip folder
        return conv_chip_dir_problem(path)
    if (path / MANIFEST_NAME).is_symlink():
        return f"has a {MANIFEST_NAME} that is a symbolic link"
    try:
        man = _read_json_strict(path / MANIFEST_NAME)
    except SpinsynFileError:
        man = {}
    if man.get("format") != MANIFEST_FORMAT or not isinstance(man.get("files"), list):
        return f"is not a spinsyn chip folder (no {MANIFEST_NAME} of format {MANIFEST_FORMAT!r})"
    for e in man["files"]:
        rel = e.get("path") if isinstance(e, dict) else e
        bad = entry_problem(path, rel) if isinstance(e, dict) else "is not a file record"
        if bad:
            return f"has a {MANIFEST_NAME} entry {rel!r} that {bad}"
    listed = {e["path"] for e in man["files"]}
    extra = unlisted_files(path, listed)
    if extra:
        return f"holds files its manifest does not list ({', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''})"
    return None


# ----------------------------------------------------------------------------- reading


@dataclass
class Chip:
    """A loaded chip directory: /meta attributes and arrays, and per-tile data."""

    path: Path
    meta: dict[str, Any]
    meta_arrays: dict[str, np.ndarray]
    tiles: list[TileData]


def load_chip(chip_dir: Path, *, check: bool = True, allow_extra: bool = False) -> Chip:
    """Read CHIP_DIR (after :func:`verify_chip` unless ``check`` is False)."""
    h5py = import_uninterrupted("h5py")  # lazy (startup); never half-imported by a signal

    chip_dir = Path(chip_dir)
    if check:
        verify_chip(chip_dir, allow_extra=allow_extra)
    path = chip_dir / H5_NAME
    with h5py.File(path, "r") as f:
        meta = {k: json.loads(v) for k, v in f["meta"].attrs.items()}
        arrays = {k: f["meta"][k][()] for k in META_DATASETS}
        tiles = []
        for i in range(int(meta["tiles"]["n_tiles"])):
            g = f["tiles"][str(i)]
            kw = {name: g[name][()] for name in TILE_DATASETS}
            tiles.append(TileData(**kw, attrs={k: json.loads(v) for k, v in g.attrs.items()}))
    return Chip(chip_dir, meta, arrays, tiles)


# ----------------------------------------------------------------------------- verification


def _fail(path: Path, msg: str) -> SpinsynFileError:
    return SpinsynFileError(f"{path}: {msg}")


def _verify_manifest(chip_dir: Path) -> set[str]:
    """Manifest format and self-hash; every listed file present with its size and sha256. Returns the paths."""
    man_path = chip_dir / MANIFEST_NAME
    if man_path.is_symlink():
        raise _fail(man_path, "is a symbolic link; refused (a chip folder holds only plain files inside it)")
    man = _read_json_strict(man_path)
    check_format(man_path, man.get("format"), man.get("format_version"), MANIFEST_FORMAT, (1,))
    raw = man_path.read_bytes()
    if man.get("content_sha256") != _content_hash(man) or raw != (to_json(man) + "\n").encode("utf-8"):
        raise _fail(man_path, "manifest content does not match its content_sha256 (edited or corrupted)")
    files = man.get("files")
    if not isinstance(files, list) or not files:
        raise _fail(man_path, "'files' must be a non-empty list")
    listed: set[str] = set()
    for e in files:
        rel = e.get("path") if isinstance(e, dict) else e
        bad = entry_problem(chip_dir, rel) if isinstance(e, dict) else "is not a file record"
        if bad:
            raise _fail(man_path, f"entry {rel!r} {bad}; refused (a chip folder holds only plain files inside it)")
        assert isinstance(rel, str) and isinstance(e, dict)  # entry_problem refused anything else
        listed.add(rel)
        _verify_listed_file(chip_dir / rel, e)
    for req in (H5_NAME, REPORT_NAME):
        if req not in listed:
            raise _fail(man_path, f"does not list required file {req}")
    return listed


def entry_problem(chip_dir: Path, rel: Any) -> str | None:
    """Why manifest path ``rel`` is not a plain file inside ``chip_dir`` (None: it is, or it is absent): not a
    relative path, an absolute one, one with ``..`` parts, one crossing a symbolic link (the file itself or a
    folder on the way), or one resolving outside the folder. Readers and ``--overwrite`` never follow it."""
    if not isinstance(rel, str) or not rel.strip() or "\0" in rel or "\\" in rel:
        return "is not a relative file path"
    parts = PurePosixPath(rel).parts
    if rel.startswith("/") or PurePosixPath(rel).is_absolute() or ".." in parts:
        return "is outside the chip folder (an absolute path or '..')"
    if not parts:
        return "is not a relative file path"
    for k in range(1, len(parts) + 1):
        if Path(chip_dir, *parts[:k]).is_symlink():
            return "is a symbolic link" if k == len(parts) else \
                f"passes through a symbolic link ({'/'.join(parts[:k])})"
    root = Path(chip_dir).resolve()
    target = Path(chip_dir, *parts).resolve()
    if target != root and root not in target.parents:
        return f"resolves outside the chip folder ({target})"
    return None


def _verify_listed_file(p: Path, entry: dict[str, Any]) -> None:
    if not p.is_file():
        raise _fail(p, "listed in manifest.json but missing")
    size = p.stat().st_size
    if size != entry.get("bytes"):
        raise _fail(p, f"size is {size} bytes, manifest.json says {entry.get('bytes')} (truncated or modified)")
    if _sha256(p) != entry.get("sha256"):
        raise _fail(p, "sha256 does not match manifest.json (file modified or corrupted)")


def _verify_report(rep_path: Path, summary: dict[str, Any]) -> None:
    rep = _read_json_strict(rep_path)
    check_format(rep_path, rep.get("format"), rep.get("format_version"), REPORT_FORMAT, (1,))
    tiles_rep, rs = rep.get("tiles"), rep.get("summary")
    _need(rep_path, isinstance(rs, dict) and isinstance(tiles_rep, list) and len(tiles_rep) == summary["n_tiles"],
          f"expected a 'summary' object and {summary['n_tiles']} 'tiles' entries")
    assert isinstance(rs, dict)  # _need refused anything else
    _need(rep_path, rs.get("devices") == summary["n_devices"] and rs.get("pulses") == summary["n_schedule_rows"],
          "summary devices/pulses do not match chip.h5")


def _verify_csv_views(chip_dir: Path, listed: set[str], summary: dict[str, Any]) -> None:
    for i in range(summary["n_tiles"]):
        for kind, header in (("targets", TARGET_CSV_HEADER), ("schedule", SCHEDULE_CSV_HEADER)):
            rel = f"csv/tile_{i}_{kind}.csv"
            if rel in listed:
                _verify_csv(chip_dir / rel, header, summary["rows_per_csv"][rel])
    if MATRIX_NAME in listed:
        _verify_matrix_csv(chip_dir / MATRIX_NAME, summary["device_shape"])
    if FUSION_NAME in listed:
        _verify_fusion_csv(chip_dir / FUSION_NAME, summary["device_shape"])


def unlisted_files(chip_dir: Path, listed: set[str]) -> list[str]:
    """Files (and links) under ``chip_dir`` that neither the manifest lists nor are the manifest itself."""
    return sorted(str(p.relative_to(chip_dir)) for p in chip_dir.rglob("*")
                  if (p.is_file() or p.is_symlink()) and str(p.relative_to(chip_dir)) not in listed | {MANIFEST_NAME})


def verify_chip(chip_dir: Path, *, allow_extra: bool = False) -> dict[str, Any]:
    """Check a chip directory: manifest integrity, checksums and sizes, no file outside the manifest (unless
    ``allow_extra``), HDF5 schema, shapes and ranges, report, CSV structure and CSV contents against chip.h5
    (to the printed precision). Raises :class:`SpinsynFileError` naming the file and the problem; returns a
    summary dict on success (``unlisted_files``: the extra files accepted with ``allow_extra``).
    """
    chip_dir = Path(chip_dir)
    if not chip_dir.is_dir():
        raise SpinsynFileError(f"{chip_dir}: not a directory (expected a chip directory from 'spinsyn export')")
    listed = _verify_manifest(chip_dir)
    extra = unlisted_files(chip_dir, listed)
    if extra and not allow_extra:
        shown = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        raise SpinsynFileError(f"{chip_dir}: files not in manifest.json: {shown} (a chip folder holds only its "
                               "listed files; remove them, or pass --allow-extra to accept them)")
    summary = _verify_h5(chip_dir / H5_NAME)
    _verify_report(chip_dir / REPORT_NAME, summary)
    _verify_csv_views(chip_dir, listed, summary)
    verify_csv_contents(chip_dir, listed, summary)
    summary["unlisted_files"] = extra
    summary["files_checked"] = len(listed) + 1
    return summary


def _read_json_strict(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SpinsynFileError(f"{path}: file not found")
    try:
        doc = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SpinsynFileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise SpinsynFileError(f"{path}: expected a JSON object at the top level")
    return doc


def _verify_h5(path: Path) -> dict[str, Any]:
    h5py = import_uninterrupted("h5py")  # lazy (startup); never half-imported by a signal
    from spinsyn.fileio import h5_read_meta  # lazy: startup

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise _fail(path, f"not a readable HDF5 file ({exc})") from None
    with f:
        try:
            version = h5_read_meta(path, f, fmt=CHIP_FORMAT, versions=CHIP_VERSIONS_READ)["format_version"]
            return _verify_h5_body(path, f, int(version))
        except SpinsynFileError:
            raise
        except (KeyError, OSError, ValueError, TypeError) as exc:
            raise _fail(path, f"unreadable or malformed content ({type(exc).__name__}: {exc})") from None


def _need(path: Path, cond: bool, msg: str) -> None:
    if not cond:
        raise _fail(path, msg)


def _read_meta(path: Path, m: Any, version: int) -> dict[str, Any]:
    """The required /meta attributes (JSON-decoded) of a chip of ``version``; checks the datasets exist."""
    meta = {}
    for key in META_ATTRS[version]:
        _need(path, key in m.attrs, f"/meta lacks attribute {key!r}")
        try:
            meta[key] = json.loads(m.attrs[key])
        except (TypeError, json.JSONDecodeError):
            raise _fail(path, f"/meta attribute {key!r} is not valid JSON") from None
    for key in OPTIONAL_META_ATTRS:
        if key in m.attrs:
            try:
                meta[key] = json.loads(m.attrs[key])
            except (TypeError, json.JSONDecodeError):
                raise _fail(path, f"/meta attribute {key!r} is not valid JSON") from None
    for key in META_DATASETS:
        _need(path, key in m, f"/meta lacks dataset {key!r}")
    return meta


#: /meta attributes only some chips have (checked when present): ``circuit``, the circuit the schedules were
#: computed for (``export --circuit``; ``spinsyn.hw_export.CircuitConfig.record``)
OPTIONAL_META_ATTRS = ("circuit",)


@dataclass
class _Ctx:
    """What every tile is checked against."""

    path: Path
    R: int
    C: int
    n_rows: int
    n_cols: int
    g_levels: np.ndarray
    g_min: float
    g_max: float
    tol: float
    v_max: float
    max_pulses: int


def _context(path: Path, f: Any, meta: dict[str, Any]) -> tuple[_Ctx, int]:
    """Layer-level checks (levels vs scale, tile count, tile map); returns the tile context and n_tiles."""
    m = f["meta"]
    scale, layer, tl, wv = meta["scale"], meta["layer"], meta["tiles"], meta["write_verify"]
    g_levels = m["g_levels_S"][()]
    L = g_levels.size
    _need(path, L >= 2 and bool(np.all(np.diff(g_levels) > 0)), "/meta/g_levels_S must be strictly increasing")
    g_min, g_max = float(scale["g_min_S"]), float(scale["g_max_S"])
    _need(path, np.isclose(g_levels[0], g_min) and np.isclose(g_levels[-1], g_max),
          "/meta/g_levels_S does not match scale g_min_S/g_max_S")
    R, C, T = int(tl["tile_rows"]), int(tl["tile_cols"]), int(tl["n_tiles"])
    n_rows, n_cols = int(layer["device_rows"]), int(layer["device_cols"])
    _need(path, T == -(-n_rows // R) * -(-n_cols // C),
          f"n_tiles {T} inconsistent with device matrix {n_rows}x{n_cols} on {R}x{C} tiles")
    tmap = m["tile_map"][()]
    _need(path, tmap.shape == (T,), f"/meta/tile_map has shape {tmap.shape}, expected ({T},)")
    _need(path, len(f["tiles"]) == T, f"/tiles has {len(f['tiles'])} groups, expected {T}")
    tol = float(wv["tolerance_levels"]) * (g_max - g_min) / (L - 1)
    v_max = float(wv["v_max_V"])
    if "circuit" in meta:  # the circuit the schedules were computed for
        from .circuit.config import CircuitConfig  # lazy: startup

        try:
            circ = CircuitConfig.from_record(meta["circuit"])
        except (ValueError, TypeError, AttributeError) as exc:
            raise _fail(path, f"/meta/circuit: {exc}") from None
        if circ.compensate:  # compensation drives up to the driver's maximum
            v_max = max(v_max, circ.v_driver_max_V)
    return _Ctx(path, R, C, n_rows, n_cols, g_levels, g_min, g_max, tol, v_max, int(wv["max_pulses"])), T


def _verify_h5_body(path: Path, f: Any, version: int = CHIP_VERSION) -> dict[str, Any]:
    _need(path, "meta" in f and "tiles" in f, "missing /meta or /tiles group")
    meta = _read_meta(path, f["meta"], version)
    ctx, T = _context(path, f, meta)
    tmap = f["meta"]["tile_map"][()]
    rows_per_csv: dict[str, int] = {}
    n_cells = n_rows_sched = 0
    for i in range(T):
        _need(path, str(i) in f["tiles"], f"/tiles/{i} missing")
        origin = (int(tmap["layer_row0"][i]), int(tmap["layer_col0"][i]))
        cells, rows = _verify_tile(ctx, f["tiles"][str(i)], f"/tiles/{i}", origin)
        rows_per_csv[f"csv/tile_{i}_targets.csv"] = cells
        rows_per_csv[f"csv/tile_{i}_schedule.csv"] = rows
        n_cells += cells
        n_rows_sched += rows
    return {"n_tiles": T, "tile_shape": (ctx.R, ctx.C), "device_shape": (ctx.n_rows, ctx.n_cols),
            "n_devices": n_cells, "n_schedule_rows": n_rows_sched, "rows_per_csv": rows_per_csv,
            "synapse": meta["synapse"], "mapping": meta["mapping"], "format_version": version}


def _verify_tile_schema(ctx: _Ctx, g: Any, where: str) -> None:
    for name, (kind, shp) in TILE_DATASETS.items():
        _need(ctx.path, name in g, f"{where}/{name} missing")
        ds = g[name]
        want = {"RC": (ctx.R, ctx.C), "R": (ctx.R,), "C": (ctx.C,)}.get(shp)
        if want is not None:
            _need(ctx.path, ds.shape == want, f"{where}/{name} has shape {ds.shape}, expected {want}")
        _need(ctx.path, ds.dtype.kind in kind or (kind == "V" and ds.dtype == SCHEDULE_DTYPE),
              f"{where}/{name} has dtype {ds.dtype}")


def _verify_tile(ctx: _Ctx, g: Any, where: str, origin: tuple[int, int]) -> tuple[int, int]:
    """Schema, mask, targets, bands, maps and schedule of one tile; returns (used cells, schedule rows)."""
    path, R, C = ctx.path, ctx.R, ctx.C
    _verify_tile_schema(ctx, g, where)
    mask = g["mask"][()].astype(bool)
    want_mask = np.zeros((R, C), bool)
    want_mask[:min(R, ctx.n_rows - origin[0]), :min(C, ctx.n_cols - origin[1])] = True
    _need(path, bool(np.array_equal(mask, want_mask)), f"{where}/mask does not match the tile map")
    _verify_targets(ctx, g, where, mask)
    n_pulses = g["n_pulses"][()]
    _need(path, not bool(np.any(n_pulses[~mask])), f"{where}/n_pulses non-zero on padding")
    _need(path, int(n_pulses.max(initial=0)) <= ctx.max_pulses, f"{where}/n_pulses exceeds max_pulses {ctx.max_pulses}")
    ridx, cidx = g["row_index"][()], g["col_index"][()]
    _need(path, bool(np.array_equal(ridx >= 0, mask.any(axis=1))) and bool(np.all(ridx < ctx.n_rows)),
          f"{where}/row_index inconsistent with mask")
    _need(path, bool(np.array_equal(cidx >= 0, mask.any(axis=0))), f"{where}/col_index inconsistent with mask")
    s = g["schedule"][()]
    _verify_schedule(ctx, s, where, mask, g["verify_lo_S"][()], g["verify_hi_S"][()], n_pulses)
    return int(mask.sum()), int(s.size)


def _verify_targets(ctx: _Ctx, g: Any, where: str, mask: np.ndarray) -> None:
    path, L = ctx.path, ctx.g_levels.size
    gt, lo, hi, level = g["g_target_S"][()], g["verify_lo_S"][()], g["verify_hi_S"][()], g["level"][()]
    slack = 1e-9 * ctx.g_max
    _need(path, bool(np.all(np.isfinite(gt))) and bool(np.all((gt >= ctx.g_min - slack) & (gt <= ctx.g_max + slack))),
          f"{where}/g_target_S outside [{ctx.g_min:.6g}, {ctx.g_max:.6g}] S")
    _need(path, bool(np.all((level >= 0) & (level < L))), f"{where}/level outside 0..{L - 1}")
    _need(path, bool(np.allclose(gt[mask], ctx.g_levels[level[mask]], rtol=1e-9, atol=0)),
          f"{where}/g_target_S does not equal the conductance of its level")
    _need(path, bool(np.all(lo[mask] <= gt[mask])) and bool(np.all(hi[mask] >= gt[mask]))
          and bool(np.allclose(hi[mask] - lo[mask], 2 * ctx.tol, rtol=1e-6)),
          f"{where}/verify band inconsistent with g_target_S and tolerance")
    gs = g["g_sim_S"][()]
    _need(path, bool(np.all(np.isfinite(gs) & (gs > 0))), f"{where}/g_sim_S must be finite and > 0")
    _need(path, bool(np.all(g["failed"][()] <= 1)) and bool(np.all(g["mask"][()] <= 1)),
          f"{where}/failed and mask must be 0 or 1")
    dr = g["disturb_risk"][()]
    _need(path, bool(np.all(np.isfinite(dr) & (dr >= 0))), f"{where}/disturb_risk must be finite and >= 0")


def _verify_schedule(ctx: _Ctx, s: np.ndarray, where: str, mask: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                     n_pulses: np.ndarray) -> None:
    path, R, C = ctx.path, ctx.R, ctx.C
    if not s.size:
        _need(path, not n_pulses.any(), f"{where}/n_pulses does not match the empty schedule")
        return
    _need(path, bool(np.all((s["row"] < R) & (s["col"] < C))), f"{where}/schedule row/col outside the tile")
    _need(path, bool(np.all(mask[s["row"], s["col"]])), f"{where}/schedule addresses a padding cell")
    _need(path, bool(np.all(np.isfinite(s["v_V"]) & (s["v_V"] > 0) & (s["v_V"] <= ctx.v_max * (1 + 1e-6)))),
          f"{where}/schedule v_V outside (0, {ctx.v_max}] V")
    _need(path, bool(np.all(s["width_ns"] > 0)), f"{where}/schedule width_ns must be > 0")
    _need(path, bool(np.all(np.abs(s["polarity"]) == 1)), f"{where}/schedule polarity must be +1 or -1")
    _need(path, bool(np.all(s["verify_lo_S"] == lo[s["row"], s["col"]]))
          and bool(np.all(s["verify_hi_S"] == hi[s["row"], s["col"]])),
          f"{where}/schedule verify band differs from verify_lo_S/verify_hi_S")
    key_order = (s["row"].astype(np.int64) * C + s["col"]) * 65536 + s["step"]
    _need(path, bool(np.all(np.diff(key_order) > 0)), f"{where}/schedule not in (row, col, step) order")
    cell = s["row"].astype(np.int64) * C + s["col"]
    counts = np.bincount(cell, minlength=R * C).reshape(R, C)
    _need(path, bool(np.array_equal(counts, n_pulses)), f"{where}/n_pulses does not match schedule")


def _verify_csv(path: Path, header: list[str], n_rows: int) -> None:
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\n")
    want = ",".join(header)
    _need(path, head == want.encode("ascii"), f"header is {head[:80]!r}, expected {want!r}")
    _need(path, raw.endswith(b"\n"), "truncated (no final newline)")
    lines = body.count(b"\n")
    _need(path, lines == n_rows, f"has {lines} data rows, expected {n_rows}")
    _need(path, body.count(b",") == n_rows * (len(header) - 1), f"expected {len(header)} fields on every row")
    _need(path, not body.translate(None, b"0123456789.-,\n"), "contains a non-numeric field")


def _verify_matrix_csv(path: Path, shape: tuple[int, int]) -> None:
    raw = path.read_bytes()
    rows, cols = shape
    _need(path, raw.endswith(b"\n") and raw.count(b"\n") == rows, f"expected {rows} lines (truncated?)")
    _need(path, raw.count(b",") == rows * (cols - 1), f"expected {cols} values on every line")
    _need(path, not raw.translate(None, b"0123456789.-,\n"), "contains a non-numeric field")


def _verify_fusion_csv(path: Path, shape: tuple[int, int]) -> None:
    raw = path.read_bytes()
    n_in, n_out = shape
    head = _fusion_header(n_in, n_out)
    _need(path, raw.startswith(head), "header lines do not match aihwkit's Fusion layout for this layer")
    body = raw[len(head):]
    _need(path, body.endswith(b"\n") and body.count(b"\n") == 1, "expected one line of conductances (truncated?)")
    _need(path, body.count(b",") == n_in * n_out - 1, f"expected {n_in * n_out} conductance values")
    _need(path, not body.translate(None, b"0123456789.-,\n"), "contains a non-numeric field")
