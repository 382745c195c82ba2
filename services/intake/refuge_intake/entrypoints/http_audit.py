"""The audit log of personal data over HTTP, for an organisation admin."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field

from refuge_common.auth.principal import Role
from refuge_intake.adapters.audit_log import Access, AuditQuery, AuditRow
from refuge_intake.entrypoints.http_auth import CurrentPrincipal
from refuge_intake.service_layer import audit
from refuge_intake.service_layer.errors import Forbidden

router = APIRouter(tags=["audit"])
RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "only an organisation admin reads the audit log"},
    422: {"description": "invalid filter (the message names it)"},
}
# A cursor is the id of the last row of the previous page; 18 digits keep it inside bigint.
CURSOR_PATTERN = r"^[1-9][0-9]{0,17}$"
_DATE_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}")


def _date_time_text(value: object) -> object:
    # pydantic also reads a number as a Unix time ("to=-42819"); the document says date-time.
    if isinstance(value, str) and not _DATE_TIME.match(value):
        raise ValueError("an RFC 3339 date-time with its offset, e.g. 2026-03-06T00:00:00+01:00")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_date_time_text)]


class AuditEntry(BaseModel):
    """One access to a person's data: ids, a role and a time; never the data itself."""

    audit_id: int
    person_id: UUID
    action: Access
    key_id: str = Field(description="the API key used (directly or through a token)")
    staff_id: UUID | None = Field(description="the staff member the key was issued to, if any")
    role: Role
    at: datetime

    @classmethod
    def of(cls, row: AuditRow) -> AuditEntry:
        return cls(**{name: getattr(row, name) for name in cls.model_fields})


class AuditPage(BaseModel):
    items: list[AuditEntry] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as cursor for the next (older) page; null at the end")


@router.get(
    "/audit",
    response_model=AuditPage,
    responses=RESPONSES,
    summary="Who read or changed which person's data, and when (organisation admin)",
)
async def search_audit(
    request: Request,
    principal: CurrentPrincipal,
    person_id: UUID | None = None,
    staff_id: UUID | None = None,
    action: Access | None = None,
    since: Annotated[Instant | None, Query(alias="from", description="from this instant (inclusive)")] = None,
    until: Annotated[Instant | None, Query(alias="to", description="until this instant (exclusive)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN, description="next_cursor of a page")] = None,
) -> AuditPage:
    if since is not None and until is not None and until <= since:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "to: must be later than from")
    query = AuditQuery(
        person_id=person_id,
        staff_id=staff_id,
        action=action,
        since=since,
        until=until,
        before_id=int(cursor) if cursor else None,
        # One more than asked: whether it comes back says if there is a next page.
        limit=limit + 1,
    )
    try:
        rows = await audit.search(request.app.state.pool(), principal, query)
    except Forbidden as error:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(error)) from error
    page = rows[:limit]
    more = len(rows) > limit
    return AuditPage(
        items=[AuditEntry.of(row) for row in page], next_cursor=str(page[-1].audit_id) if more else None
    )
