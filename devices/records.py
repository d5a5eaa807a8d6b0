"""Device models as JSON records and back: the one reader and writer of ``{"class", "name", "fields"}``.

Sweep files, checkpoints and chip files all store device models this way; every stage rebuilds them here.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from .models import device_classes, model_name

#: Device classes a record may name (class name -> class): every ``models.Device`` subclass with a name.
DEVICE_CLASSES: dict[str, type] = device_classes()


def model_record(model: Any) -> dict[str, Any]:
    """JSON-able record of a device model: short name, class name and dataclass fields (nested as dicts)."""
    return {"name": model_name(model), "class": type(model).__name__, "fields": dataclasses.asdict(model)}


def model_from_record(rec: dict[str, Any]) -> Any:
    """The device model a :func:`model_record` describes. Raises ValueError for unknown classes or fields."""
    classes = device_classes()  # at call time: every device module imported so far (devices/__init__ imports all)
    try:
        cls = classes[rec["class"]]
        fields = rec["fields"]
    except (KeyError, TypeError):
        raise ValueError(f"device model record: expected 'class' (one of {sorted(classes)}) and "
                         f"'fields', got {str(rec)[:200]}") from None
    return _build(cls, fields)


def _build(cls: type, fields: dict[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - names)
    if unknown:
        raise ValueError(f"device model record: {cls.__name__} has no field(s) {unknown}")
    kw: dict[str, Any] = {}
    for name, v in fields.items():
        t = hints.get(name)
        if isinstance(v, dict) and isinstance(t, type) and dataclasses.is_dataclass(t):
            v = _build(t, v)
        elif isinstance(v, list):
            v = tuple(v)
        kw[name] = v
    return cls(**kw)
