"""Content digests of a chip folder, independent of provenance (time, host, command line) and HDF5 byte layout.

Used by tests/hw_export/test_stream_identity.py: the streamed export must write the same chip as the whole-layer
export of commit f89bcc3 for the same weights and seed. ``python tests/hw_export/chip_digest.py --make`` rewrites
tests/data/chip_reference/digests.json from the cases below (run it only with a reference implementation).
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "chip_reference" / "digests.json"

#: (name, weights shape, weight seed, export config keywords)
CASES: list[tuple[str, tuple[int, int], int, dict[str, Any]]] = [
    ("compound8-unipolar", (200, 50), 0, {"synapse": "compound:8", "tile_rows": 64, "tile_cols": 64}),
    ("dw16-differential", (90, 40), 1, {"synapse": "dw:16", "mapping": "differential", "tile_rows": 32,
                                        "tile_cols": 32, "seed": 3}),
    ("compound4-v3-fixed", (70, 130), 2, {"synapse": "compound:4", "tile_rows": 48, "tile_cols": 64,
                                          "write_pulse": "10", "half_select": "V/3"}),
]


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()[:24]


def _strip(doc: Any) -> Any:
    """JSON without provenance records (time, host, command line)."""
    if isinstance(doc, dict):
        return {k: _strip(v) for k, v in doc.items() if k != "provenance"}
    if isinstance(doc, list):
        return [_strip(v) for v in doc]
    return doc


def chip_digests(chip_dir: Path) -> dict[str, str]:
    """{item: digest} of every HDF5 dataset (dtype, shape, bytes) and attribute, every CSV file and report.json
    (provenance removed)."""
    import h5py

    out: dict[str, str] = {}

    def visit(name: str, obj: Any) -> None:
        for k, v in obj.attrs.items():
            if k == "provenance":
                continue
            val = v.decode() if isinstance(v, bytes) else v
            if isinstance(val, str) and val[:1] in "{[":
                val = json.dumps(_strip(json.loads(val)), sort_keys=True)
            out[f"h5:{name}@{k}"] = _sha(repr(val).encode() if not isinstance(val, np.ndarray) else val.tobytes())
        if isinstance(obj, h5py.Dataset):
            a = obj[()]
            out[f"h5:{name}"] = _sha(f"{a.dtype.str}{a.shape}".encode() + np.ascontiguousarray(a).tobytes())

    with h5py.File(chip_dir / "chip.h5", "r") as f:
        visit("/", f)
        f.visititems(visit)
    for p in sorted(chip_dir.rglob("*.csv")):
        out[f"file:{p.relative_to(chip_dir)}"] = _sha(p.read_bytes())
    rep = json.loads((chip_dir / "report.json").read_text())
    out["file:report.json"] = _sha(json.dumps(_strip(rep), sort_keys=True).encode())
    return out


def export_case(name: str, shape: tuple[int, int], wseed: int, kw: dict[str, Any], out: Path) -> Path:
    from spinsyn.hw_export import ExportConfig, WriteVerifyConfig, export_chip

    kw = dict(kw)
    if "half_select" in kw:
        kw["write_verify"] = WriteVerifyConfig(half_select=kw.pop("half_select"))
    w = np.random.default_rng(wseed).random(shape)
    if kw.get("mapping") == "differential":
        w = 2 * w - 1
    export_chip(w, ExportConfig(**kw), out / name)
    return out / name


def main() -> int:
    if "--make" not in sys.argv:
        print(__doc__)
        return 2
    ref = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, shape, wseed, kw in CASES:
            ref[name] = chip_digests(export_case(name, shape, wseed, kw, Path(tmp)))
    REFERENCE.write_text(json.dumps(ref, indent=1, sort_keys=True) + "\n")
    print(f"wrote {REFERENCE} ({sum(len(v) for v in ref.values())} digests)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
