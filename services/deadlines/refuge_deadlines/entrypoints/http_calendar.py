"""The office calendar: upcoming deadlines as JSON, and as an iCalendar feed to subscribe to.

Calendar applications cannot send a bearer token, so a feed is reached by an
unguessable signed URL that an authenticated caller asks for; rotating
``DEADLINES_FEED_SECRET`` revokes every feed URL at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import BaseModel

from refuge_common.auth.principal import Principal, Role
from refuge_common.db.pool import tenant_transaction
from refuge_common.presentation import case_reference
from refuge_deadlines.adapters import calendar_queries, ical


class CalendarEntry(BaseModel):
    deadline_id: UUID
    case_id: UUID
    case_reference: str
    office_id: UUID | None
    purpose: str
    rule: str
    due: datetime
    timezone: str


class Feed(BaseModel):
    url: str


def _scope(principal: Principal, office_id: UUID | None) -> UUID | None:
    """The office a caller may look at: a caseworker's own; any of the organisation's otherwise."""

    if principal.role is Role.CASEWORKER and principal.office_id is not None:
        if office_id not in (None, principal.office_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "office_id: no such office")
        return principal.office_id
    return office_id


async def _upcoming(
    request: Request, organisation_id: UUID, office_id: UUID | None, limit: int
) -> list[calendar_queries.UpcomingDeadline]:
    async with tenant_transaction(request.app.state.runtime.pool, organisation_id) as connection:
        return await calendar_queries.upcoming(
            connection, after=datetime.now(UTC), office_id=office_id, limit=limit
        )


def calendar_router(
    current_principal: Callable[..., Awaitable[Principal]], feed_secret: str | None
) -> APIRouter:
    router = APIRouter(tags=["calendar"])
    signer = URLSafeSerializer(feed_secret, salt="refuge.calendar-feed") if feed_secret else None

    @router.get(
        "/calendar",
        response_model=list[CalendarEntry],
        summary="Upcoming deadlines and hearings, earliest first",
    )
    async def calendar(
        request: Request,
        principal: Principal = Depends(current_principal),
        office_id: Annotated[UUID | None, Query(description="one office of the organisation")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[CalendarEntry]:
        rows = await _upcoming(request, principal.organisation_id, _scope(principal, office_id), limit)
        return [CalendarEntry(case_reference=case_reference(r.case_id), **vars(r)) for r in rows]

    @router.post(
        "/calendar/feeds",
        response_model=Feed,
        status_code=status.HTTP_201_CREATED,
        summary="A private iCalendar URL for calendar applications",
        responses={503: {"description": "feeds are not configured"}},
    )
    async def create_feed(
        request: Request,
        principal: Principal = Depends(current_principal),
        office_id: Annotated[UUID | None, Query(description="one office of the organisation")] = None,
    ) -> Feed:
        if signer is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "DEADLINES_FEED_SECRET is not set")
        scope = _scope(principal, office_id)
        token = signer.dumps({"org": str(principal.organisation_id), "office": str(scope) if scope else None})
        return Feed(url=str(request.url_for("calendar_feed").include_query_params(token=token)))

    @router.get(
        "/calendar/feed.ics",
        name="calendar_feed",
        response_class=Response,
        summary="iCalendar feed (from a URL given by POST /calendar/feeds)",
        responses={404: {"description": "unknown or revoked feed"}},
    )
    async def calendar_feed(request: Request, token: Annotated[str, Query()]) -> Response:
        try:
            scope: dict[str, Any] = signer.loads(token) if signer else {}
            organisation_id = UUID(scope["org"])
        except (BadSignature, KeyError, ValueError, TypeError) as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "token: unknown or revoked feed") from error
        office_id = UUID(scope["office"]) if scope.get("office") else None
        rows = await _upcoming(request, organisation_id, office_id, 1000)
        body = ical.feed("Refuge deadlines", rows)
        return Response(body, media_type="text/calendar; charset=utf-8")

    return router
