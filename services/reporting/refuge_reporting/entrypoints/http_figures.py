"""Figures over HTTP, for the caller's organisation or office."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel

from refuge_common.auth.principal import Principal, Role
from refuge_common.db.pool import tenant_transaction
from refuge_reporting.adapters import figures


class Figures(BaseModel):
    organisation_id: UUID
    office_id: UUID | None
    start: datetime
    end: datetime
    cases_opened: int
    cases_open: int
    deadlines_computed: int


def figures_router(current_principal: Callable[..., Awaitable[Principal]]) -> APIRouter:
    router = APIRouter(tags=["figures"])

    @router.get("/figures", response_model=Figures, summary="Headline figures over a period")
    async def get_figures(
        request: Request,
        # A default, not Annotated: the annotation would be resolved in module scope,
        # where this closure's dependency does not exist.
        principal: Principal = Depends(current_principal),
        start: Annotated[datetime, Query(description="start of the period (inclusive)")] = datetime(
            1970, 1, 1, tzinfo=UTC
        ),
        end: Annotated[
            datetime | None, Query(description="end of the period (exclusive), default now")
        ] = None,
        office_id: Annotated[UUID | None, Query(description="one office of the organisation")] = None,
    ) -> Figures:
        end = end or datetime.now(UTC)
        if start.tzinfo is None or end.tzinfo is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "start, end: give a UTC offset")
        if principal.role is Role.CASEWORKER and principal.office_id is not None:
            if office_id not in (None, principal.office_id):
                raise HTTPException(status.HTTP_404_NOT_FOUND, "office_id: no such office")
            office_id = principal.office_id
        async with tenant_transaction(request.app.state.runtime.pool, principal.organisation_id) as c:
            values = await figures.headline(c, start=start, end=end, office_id=office_id)
        return Figures(
            organisation_id=principal.organisation_id, office_id=office_id, start=start, end=end, **values
        )

    return router
