"""Request bodies whose text PostgreSQL can store.

JSON may carry ``\\u0000`` and unpaired surrogates (``\\ud800``); Python accepts both in a
``str``, PostgreSQL refuses them (and UTF-8 cannot encode a surrogate), so without this
check such a body passes validation and fails in the database with a 500. Checked here,
per field, it is a 422 naming the field like any other bad value.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, field_validator


class StorableModel(BaseModel):
    """Base of request bodies: every text field is storable."""

    @field_validator("*", mode="before")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        _check(value)
        return value


def _check(value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text must not contain a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode (it has an unpaired surrogate)") from None
    elif isinstance(value, list | tuple):
        for item in value:
            _check(item)
    # Not into objects: a nested body is a StorableModel too, and names its own field.
