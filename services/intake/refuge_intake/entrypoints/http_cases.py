"""Cases over HTTP: open, read with their timeline, list and search."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from refuge_common.contract.vocabulary import CaseType, ContactChannel, Jurisdiction
from refuge_common.crypto.keyring import Keyring
from refuge_common.db.pool import Connection
from refuge_intake.adapters.case_writes import OwnTransaction
from refuge_intake.domain.case_search import DEFAULT_LIMIT, MAX_LIMIT, CaseFilters
from refuge_intake.domain.cases import CaseStatus
from refuge_intake.domain.normalise import InvalidField
from refuge_intake.entrypoints.http_auth import CurrentPrincipal
from refuge_intake.entrypoints.http_case_views import WRITE_DOCUMENTED, CaseView, Writing, write_alone
from refuge_intake.entrypoints.http_lean_route import LeanWriteRoute
from refuge_intake.entrypoints.http_litigation import LitigationRecord
from refuge_intake.entrypoints.http_refusals import COLLECTION, READ, REFUSALS, refused
from refuge_intake.entrypoints.http_text import StorableModel
from refuge_intake.service_layer import case_opening, cases
from refuge_intake.service_layer.idempotency import Answer

router = APIRouter(tags=["cases"], route_class=LeanWriteRoute)


class OpenCase(StorableModel):
    case_type: CaseType
    channel: ContactChannel = Field(description="how the person first reached the office")
    office_id: UUID | None = Field(default=None, description="defaults to the caller's office")
    jurisdiction: Jurisdiction | None = Field(default=None, description="defaults to the office's")
    person_id: UUID | None = None
    caseworker_id: UUID | None = Field(default=None, description="staff_id of the caseworker")


class TimelineEntry(BaseModel):
    event_id: str
    event_type: str
    data: dict[str, Any]
    recorded_by: str = Field(description="the API key id that recorded it")
    recorded_at: datetime


class CaseWithTimeline(CaseView):
    timeline: list[TimelineEntry] = Field(description="the case's facts in the order they were recorded")
    litigation: LitigationRecord | None = Field(
        default=None, description="court proceedings, when recorded (kept in intake, never published)"
    )


class CasePage(BaseModel):
    items: list[CaseView] = Field(description="newest first (opened_at, then case_id)")
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last")
    next: str | None = Field(description="the next page's path and query; null on the last")


@router.post(
    "/cases",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseView,
    summary="Open a case",
    responses=COLLECTION,
    openapi_extra=WRITE_DOCUMENTED,
)
async def open_case(body: OpenCase, request: Request, caller: Writing) -> JSONResponse:
    async def write(connection: Connection, _keyring: Keyring, own: OwnTransaction | None) -> Answer:
        case = await case_opening.open_case(connection, caller.principal, **body.model_dump(), own=own)
        return Answer(status.HTTP_201_CREATED, CaseView.of(case).model_dump(mode="json"))

    return await write_alone(request, caller, write)


@router.get(
    "/cases",
    response_model=CasePage,
    responses=COLLECTION,
    summary="List the cases the caller may see (a caseworker's office, a coordinator's organisation)",
)
async def list_cases(
    request: Request,
    principal: CurrentPrincipal,
    office_id: UUID | None = None,
    case_type: CaseType | None = None,
    case_status: Annotated[CaseStatus | None, Query(alias="status")] = None,
    caseworker_id: UUID | None = None,
    opened_from: Annotated[date | None, Query(description="first local date of opening")] = None,
    opened_to: Annotated[date | None, Query(description="last local date of opening (inclusive)")] = None,
    cursor: Annotated[
        str | None, Query(max_length=200, description="next_cursor of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> CasePage:
    try:
        filters = CaseFilters(office_id, case_type, case_status, caseworker_id, opened_from, opened_to)
        page, following = await cases.list_cases(
            request.app.state.pool(), principal, filters, cursor=cursor, limit=limit
        )
    except InvalidField as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    except REFUSALS as error:
        raise refused(error) from error
    next_cursor = following.encode() if following else None
    next_url = None
    if next_cursor is not None:
        url = request.url.include_query_params(cursor=next_cursor)
        next_url = f"{url.path}?{url.query}"
    return CasePage(items=[CaseView.of(case) for case in page], next_cursor=next_cursor, next=next_url)


@router.get(
    "/cases/{case_id}",
    response_model=CaseWithTimeline,
    responses=READ,
    summary="A case, its facts in the order they were recorded, and its court proceedings",
)
async def get_case(case_id: UUID, request: Request, principal: CurrentPrincipal) -> CaseWithTimeline:
    try:
        found = await cases.case_record(request.app.state.pool(), principal, case_id)
    except REFUSALS as error:
        raise refused(error) from error
    return CaseWithTimeline(
        **CaseView.of(found.case).model_dump(),
        timeline=[TimelineEntry(**fact) for fact in found.timeline],
        litigation=LitigationRecord.of_record(found.litigation, found.developments)
        if found.litigation
        else None,
    )
