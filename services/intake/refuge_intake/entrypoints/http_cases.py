"""Cases and their facts over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import AwareDatetime, BaseModel, Field, field_validator

from refuge_common.contract.vocabulary import (
    CaseType,
    ContactChannel,
    Decision,
    Jurisdiction,
    Regime,
    Timezone,
)
from refuge_intake.adapters.case_store import Case
from refuge_intake.entrypoints.http_auth import CurrentPrincipal
from refuge_intake.service_layer import cases
from refuge_intake.service_layer.errors import NotFound, Rejected

router = APIRouter(tags=["cases"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such case visible to the caller"}}


class OpenCase(BaseModel):
    case_type: CaseType
    channel: ContactChannel = Field(description="how the person first reached the office")
    office_id: UUID | None = Field(default=None, description="defaults to the caller's office")
    jurisdiction: Jurisdiction | None = Field(default=None, description="defaults to the office's")
    person_id: UUID | None = None
    caseworker_id: UUID | None = Field(default=None, description="staff_id of the caseworker")


class CaseView(BaseModel):
    case_id: UUID
    office_id: UUID
    case_type: str
    jurisdiction: str
    channel: str
    person_id: UUID | None
    caseworker_id: UUID | None
    status: str
    opened_at: datetime
    closed_at: datetime | None

    @classmethod
    def of(cls, case: Case) -> CaseView:
        return cls(**{name: getattr(case, name) for name in cls.model_fields})


class Fact(BaseModel):
    event_id: str
    event_type: str
    data: dict[str, Any]
    recorded_by: str
    recorded_at: datetime


class CaseWithTimeline(CaseView):
    timeline: list[Fact]


class DecisionNotified(BaseModel):
    decision: Decision
    notified_at: AwareDatetime = Field(description="when the decision was notified, with its offset")
    regime: Regime | None = None
    timezone: Timezone | None = None
    jurisdiction: Jurisdiction | None = Field(default=None, description="defaults to the case's")

    @field_validator("notified_at")
    @classmethod
    def not_in_future(cls, value: datetime) -> datetime:
        if value > datetime.now(UTC):
            raise ValueError("a decision cannot be notified in the future")
        return value


class RecordedFact(BaseModel):
    event_id: str


def _pool(request: Request) -> Any:
    return request.app.state.pool()


@router.post(
    "/cases",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseView,
    summary="Open a case",
    responses={422: {"description": "invalid field"}},
)
async def open_case(body: OpenCase, request: Request, principal: CurrentPrincipal) -> CaseView:
    try:
        case = await cases.open_case(
            _pool(request),
            principal,
            office_id=body.office_id,
            case_type=body.case_type,
            channel=body.channel,
            jurisdiction=body.jurisdiction,
            person_id=body.person_id,
            caseworker_id=body.caseworker_id,
        )
    except Rejected as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    return CaseView.of(case)


@router.get(
    "/cases/{case_id}",
    response_model=CaseWithTimeline,
    responses=NOT_FOUND,
    summary="A case and its facts in the order they were recorded",
)
async def get_case(case_id: UUID, request: Request, principal: CurrentPrincipal) -> CaseWithTimeline:
    try:
        case, facts = await cases.case_with_timeline(_pool(request), principal, case_id)
    except NotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
    return CaseWithTimeline(**CaseView.of(case).model_dump(), timeline=[Fact(**f) for f in facts])


@router.post(
    "/cases/{case_id}/facts/decision_notified",
    status_code=status.HTTP_201_CREATED,
    response_model=RecordedFact,
    responses=NOT_FOUND,
    summary="Record a notified decision",
)
async def record_decision(
    case_id: UUID, body: DecisionNotified, request: Request, principal: CurrentPrincipal
) -> RecordedFact:
    try:
        event_id = await cases.record_decision(
            _pool(request),
            principal,
            case_id,
            decision=body.decision,
            regime=body.regime,
            notified_at=body.notified_at,
            timezone=body.timezone,
            jurisdiction=body.jurisdiction,
        )
    except NotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
    except Rejected as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    return RecordedFact(event_id=event_id)
