"""Figures over HTTP: headline figures, and any measure by any dimensions as JSON or CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel

from refuge_common.auth.principal import Principal
from refuge_common.db.pool import tenant_transaction
from refuge_reporting.adapters import figures as queries
from refuge_reporting.domain.measures import InvalidQuery, Measure, Period
from refuge_reporting.service_layer.figures import FiguresQuery, FigureTable, NotFound, figure_table, scope

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Figures(BaseModel):
    organisation_id: UUID
    office_id: UUID | None
    start: datetime
    end: datetime
    cases_opened: int
    cases_open: int
    deadlines_computed: int


def _period(start: datetime, end: datetime | None) -> Period:
    return Period(start, end or datetime.now(UTC))


def figures_router(current_principal: Callable[..., Awaitable[Principal]], threshold: int) -> APIRouter:
    router = APIRouter(tags=["figures"])

    @router.get("/figures", response_model=Figures, summary="Headline figures over a period")
    async def get_figures(
        request: Request,
        # A default, not Annotated: the annotation would be resolved in module scope,
        # where this closure's dependency does not exist.
        principal: Principal = Depends(current_principal),
        start: Annotated[datetime, Query(description="start of the period (inclusive)")] = _EPOCH,
        end: Annotated[
            datetime | None, Query(description="end of the period (exclusive), default now")
        ] = None,
        office_id: Annotated[UUID | None, Query(description="one office of the organisation")] = None,
    ) -> Figures:
        try:
            period = _period(start, end)
            organisation, office = scope(principal, office_id)
        except InvalidQuery as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
        except NotFound as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
        if organisation is None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "operators: use /figures/{measure}")
        async with tenant_transaction(request.app.state.runtime.pool, organisation) as c:
            values = await queries.headline(c, await queries.current_generation(c), period, office)
        return Figures(
            organisation_id=organisation, office_id=office, start=period.start, end=period.end, **values
        )

    @router.get("/figures/{measure}", summary="One measure over a period, grouped by dimensions")
    async def get_measure(
        request: Request,
        measure: Measure,
        principal: Principal = Depends(current_principal),
        start: Annotated[datetime, Query(description="start of the period (inclusive)")] = _EPOCH,
        end: Annotated[
            datetime | None, Query(description="end of the period (exclusive), default now")
        ] = None,
        group_by: Annotated[
            list[str] | None, Query(description="dimensions, repeatable: office, gender, month...")
        ] = None,
        office_id: Annotated[UUID | None, Query(description="one office of the organisation")] = None,
        compare: Annotated[bool, Query(description="add the same period a year before")] = False,
        publish: Annotated[bool, Query(description="suppress small cells, as for publication")] = False,
        format: Annotated[str, Query(pattern="^(json|csv)$", description="json or csv")] = "json",
    ) -> Any:
        try:
            query = FiguresQuery(
                measure, _period(start, end), tuple(group_by or ()), office_id, compare, publish
            )
            table = await figure_table(request.app.state.runtime.pool, principal, query, threshold=threshold)
        except InvalidQuery as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
        except NotFound as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
        if format == "csv":
            return Response(
                as_csv(table),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{measure.value}.csv"'},
            )
        return table.as_json()

    return router


ALL = "(all)"


def as_csv(table: FigureTable) -> str:
    """One line per cell, margin and total; suppressed figures left empty."""

    out = io.StringIO()
    writer = csv.writer(out)
    names = [*table.group_by, *(["office_name"] if "office" in table.group_by else [])]
    writer.writerow([*names, "value", "previous_year", "change", "suppressed"])
    for row in table.rows:
        dims = [ALL if row.dimensions[d] is None else row.dimensions[d] for d in table.group_by]
        if "office" in table.group_by:
            dims.append(table.labels.get(row.dimensions["office"] or "", ""))
        writer.writerow(
            [
                *dims,
                "" if row.value is None else row.value,
                "" if row.previous is None else row.previous,
                "" if row.change is None else f"{row.change:.4f}",
                "yes" if row.suppressed else "no",
            ]
        )
    return out.getvalue()
