"""How the case endpoints refuse: the service layer's errors as HTTP statuses, documented."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, status
from pydantic import BaseModel, Field

from refuge_intake.service_layer.errors import Conflict, Forbidden, Gone, NotFound, Rejected


class Refusal(BaseModel):
    detail: str | list[dict[str, Any]] = Field(
        description="what was refused, naming the field (a list of fields for malformed input); "
        "never the value sent"
    )


def _documented(code: int, description: str) -> dict[int | str, dict[str, Any]]:
    return {code: {"description": description, "model": Refusal}}


UNAUTHORIZED = _documented(401, "missing, unknown, expired or revoked credentials")
FORBIDDEN = _documented(403, "the caller's role may not do this")
NOT_FOUND = _documented(404, "no such case visible to the caller (another organisation's or office's)")
CONFLICT = _documented(409, "the case's state refuses it: closed case, hearing already held, no consent...")
INVALID = _documented(
    422, "invalid field, or an Idempotency-Key reused for another request (the message names it)"
)
READ = {**UNAUTHORIZED, **NOT_FOUND}
COLLECTION = {**UNAUTHORIZED, **FORBIDDEN, **INVALID}
WRITE = {**UNAUTHORIZED, **FORBIDDEN, **NOT_FOUND, **CONFLICT, **INVALID}

REFUSALS = (Forbidden, NotFound, Gone, Rejected)


def refused(error: Exception) -> HTTPException:
    match error:
        case Forbidden():
            return HTTPException(status.HTTP_403_FORBIDDEN, str(error))
        case NotFound():
            return HTTPException(status.HTTP_404_NOT_FOUND, str(error))
        case Gone():
            return HTTPException(status.HTTP_410_GONE, str(error))
        case Conflict():
            return HTTPException(status.HTTP_409_CONFLICT, str(error))
        case _:
            return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error))
