"""The device file (``spinsyn-device`` v1, JSON): a device model fitted from measured data, accepted wherever a
preset name is (``get_model``, ``synapse_device``, ``spinsyn device info|sweep --device``, ``spinsyn train
--device-model``, pipeline, study axes).

Layout (docs/FORMATS.md)::

    {"format": "spinsyn-device", "version": 1,
     "family": "stt-mtj" | "compound" | "graded" | ...,      # the model's family (``models.model_name``)
     "model": {"name", "class", "fields"},                    # ``records.model_record``: rebuilds the device
     "parameters": {NAME: {"value": x, "unit": "uA", "ci95": [lo, hi] | null, "method": "..."}},
     "validity": {"width_ns": [lo, hi], "v_V": [lo, hi], ...},  # the data's range: outside it is extrapolation
     "fits": {"switching": {...}, "resistance": {...}, ...},  # goodness of fit, held-out errors, notes
     "sources": [{"path", "sha256", "kind", "rows", "dropped", "notes"}],
     "provenance": {"spinsyn": VERSION, "command": "...", "created": ISO-8601 UTC},
     "sha256": "..."}                                           # of the canonical JSON of everything else

The reader checks the format, version and the sha256 (a hand edit is refused: refit, or edit the data), and
rebuilds the model through ``records.model_from_record`` (its own field checks run).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spinsyn.fileio import atomic_path
from spinsyn.safeload import clean_text

from . import (  # noqa: F401
    graded,  # registers its preset, also when spinsyn.devices is not loaded whole (spinsyn.lazyimport)
    measured_mtj,  # a device file's record may name MeasuredMTJ
    sot,  # registers its preset, as graded
)
from .models import PRESETS, apply_overrides, model_name
from .models import get_model as get_preset
from .records import model_from_record, model_record

FORMAT, VERSION = "spinsyn-device", 1
MAX_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class DeviceFile:
    """A read device file: the rebuilt ``model`` and the file's sections (as stored)."""

    path: str
    family: str
    model: Any
    parameters: dict[str, Any]
    validity: dict[str, Any]
    fits: dict[str, Any]
    sources: list[dict[str, Any]]
    provenance: dict[str, Any]
    sha256: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``NAME (sha256 12 hex)``: how runs, chips and study reports name the device."""
        return f"{Path(self.path).name} (sha256 {self.sha256[:12]})"

    def source_line(self) -> str:
        """One line naming the measured files the device was fitted from."""
        return "; ".join(f"{Path(s.get('path', '?')).name} ({s.get('kind', '?')}, {s.get('rows', '?')} rows, "
                         f"sha256 {str(s.get('sha256', ''))[:12]})" for s in self.sources) or "no sources"


def is_device_file(name: str) -> bool:
    """True when ``name`` names a device file rather than a preset (``*.json`` and not a preset name)."""
    return isinstance(name, (str, Path)) and str(name) not in PRESETS and str(name).lower().endswith(".json")


def _digest(doc: dict[str, Any]) -> str:
    body = {k: v for k, v in doc.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _finite(x: Any) -> Any:
    """JSON-safe copy: non-finite floats become None (JSON has no NaN)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if hasattr(x, "item") and callable(x.item):  # numpy scalars
        return _finite(x.item())
    return x


def device_document(model: Any, *, parameters: dict[str, Any], validity: dict[str, Any], fits: dict[str, Any],
                    sources: list[dict[str, Any]], provenance: dict[str, Any]) -> dict[str, Any]:
    """The JSON document of a device file (``sha256`` included)."""
    doc = _finite({"format": FORMAT, "version": VERSION, "family": model_name(model), "model": model_record(model),
                   "parameters": parameters, "validity": validity, "fits": fits, "sources": sources,
                   "provenance": provenance})
    doc["sha256"] = _digest(doc)
    return doc


def write_device_file(path: str | Path, doc: dict[str, Any]) -> None:
    """Write a :func:`device_document` atomically."""
    with atomic_path(Path(path)) as tmp:
        Path(tmp).write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")


def read_device_file(path: str | Path) -> DeviceFile:
    """Read and check a device file. Raises ValueError starting with the path for anything wrong."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_BYTES:
            raise ValueError(f"{p}: {p.stat().st_size} bytes; a device file is at most {MAX_BYTES}")
        doc = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{p}: cannot read device file: {clean_text(str(exc))}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{p}: not a {FORMAT} file (no \"format\": \"{FORMAT}\")")
    if doc.get("version") != VERSION:
        raise ValueError(f"{p}: {FORMAT} version {clean_text(str(doc.get('version')))}; this spinsyn reads {VERSION}")
    if doc.get("sha256") != _digest(doc):
        raise ValueError(f"{p}: sha256 mismatch: the file was edited or damaged after it was written "
                         "(fit again with 'spinsyn device fit')")
    try:
        model = model_from_record(doc["model"])
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{p}: model: {clean_text(str(exc))}") from None
    sec = {k: _section(p, doc, k, list if k == "sources" else dict) for k in
           ("parameters", "validity", "fits", "sources", "provenance")}
    return DeviceFile(str(p), str(doc.get("family", model_name(model))), model, sec["parameters"], sec["validity"],
                      sec["fits"], sec["sources"], sec["provenance"], str(doc["sha256"]))


def _section(p: Path, doc: dict[str, Any], key: str, kind: type) -> Any:
    """A section of the document: absent -> empty; of the wrong JSON type -> ValueError naming it."""
    v = doc.get(key)
    if v is None:
        return kind()
    if not isinstance(v, kind) or (isinstance(v, list) and not all(isinstance(x, dict) for x in v)):
        raise ValueError(f"{p}: {key}: expected a JSON {'list of objects' if kind is list else 'object'}")
    return v


def _with_source(model: Any, label: str) -> Any:
    """The model with its cell's ``source`` field set (when the cell has one) so runs carry the file's name."""
    cell = getattr(model, "cell", model)
    if "source" not in {f.name for f in dataclasses.fields(cell)} or str(cell.source):
        return model
    new_cell = dataclasses.replace(cell, source=label)
    if cell is model:
        return new_cell
    part = next(f.name for f in dataclasses.fields(model) if getattr(model, f.name) is cell)
    return dataclasses.replace(model, **{part: new_cell})


def get_model(name: str | Path, **overrides: Any) -> Any:
    """A device by preset name (``PRESETS``) or device-file path, with dataclass field ``overrides`` (for a
    device made of a cell, cell fields go to the cell). Raises ValueError."""
    if not is_device_file(str(name)):
        return get_preset(str(name), **overrides)
    dev = read_device_file(name)
    model = _with_source(dev.model, dev.label)
    return apply_overrides(model, overrides, str(name)) if overrides else model
