"""The shape of an event's data: field names and JSON types, never a value.

``{case_id: string, nationalities: array[string], personal_data: sealed}`` is all an
operator sees of a payload. A sealed object (the AES-GCM envelope of personal data)
is one word, ``sealed``. Field names come from the producer's model; a name that does
not look like one (a malformed record can carry anything, even a name as a key) is not
shown, only counted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from refuge_common.contract.sealed import Sealed

SEALED = "sealed"
MAX_DEPTH = 4
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_SEALED_FIELDS = frozenset(Sealed.model_fields)


def is_sealed(value: Any) -> bool:
    """True for the JSON form of :class:`~refuge_common.contract.sealed.Sealed`."""

    return isinstance(value, Mapping) and frozenset(value) == _SEALED_FIELDS


def json_type(value: Any) -> str:
    """The JSON type of a decoded JSON value (``integer`` apart from ``number``)."""

    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return "unknown"


def shape_of(value: Any, depth: int = 0) -> str:
    """The shape of any JSON value: its type, recursively for objects and arrays."""

    if is_sealed(value):
        return SEALED
    if isinstance(value, Mapping):
        return _object_shape(value, depth)
    if isinstance(value, list | tuple):
        if depth >= MAX_DEPTH:
            return "array[…]"
        items = sorted({shape_of(item, depth + 1) for item in value})
        return f"array[{'|'.join(items)}]"
    return json_type(value)


def _object_shape(value: Mapping[Any, Any], depth: int) -> str:
    if depth >= MAX_DEPTH:
        return "{…}"
    shown = [
        f"{name}: {shape_of(item, depth + 1)}"
        for name, item in value.items()
        if isinstance(name, str) and _FIELD_NAME.match(name)
    ]
    hidden = len(value) - len(shown)
    if hidden:
        shown.append(f"+{hidden} field{'s' if hidden > 1 else ''} with unusual names")
    return "{" + ", ".join(shown) + "}"
