"""What the service layer refuses, in terms the entrypoints map to HTTP statuses."""

from __future__ import annotations


class NotFound(LookupError):
    """Nothing the caller may see has this id (another tenant's or office's is the same)."""


class Rejected(ValueError):
    """A request that is well-formed but not allowed by the rules; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class Forbidden(PermissionError):
    """The caller's role may never do this, whatever the record."""


class Gone(LookupError):
    """The record existed and was erased: nothing of it can be returned."""


class Conflict(Rejected):
    """Well-formed, but the record's current state refuses it (a closed case...); names the field."""


class NeedsTransaction(Exception):
    """A write asked to be one statement of its own transaction has to read first: it
    wrote nothing, and runs again in a tenant transaction."""
