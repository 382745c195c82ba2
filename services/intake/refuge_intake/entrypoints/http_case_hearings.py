"""A case's hearings over HTTP: scheduled, rescheduled, cancelled, held.

A hearing gets its ``hearing_id`` when scheduled (in the answer's ``data``); the other
three name it. A hearing is scheduled for a future instant only.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, Field

from refuge_common.contract import cases as facts
from refuge_common.contract.vocabulary import Timezone
from refuge_intake.entrypoints.http_case_views import Body, Name, Writing, fact_route, record_fact
from refuge_intake.entrypoints.http_lean_route import LeanWriteRoute
from refuge_intake.service_layer import case_hearings

router = APIRouter(tags=["case facts"], route_class=LeanWriteRoute)
ZONE = "IANA zone of the hearing, when it differs from the office's"


class HearingScheduled(Body):
    scheduled_at: AwareDatetime = Field(description="a future instant, with its offset")
    timezone: Timezone | None = Field(default=None, description=ZONE)
    court: Name | None = Field(default=None, description="the court or tribunal (not personal)")


class HearingRescheduled(Body):
    hearing_id: UUID
    scheduled_at: AwareDatetime = Field(description="the new, future instant")
    timezone: Timezone | None = Field(default=None, description=ZONE)


class HearingCancelled(Body):
    hearing_id: UUID


class HearingHeld(Body):
    hearing_id: UUID
    held_at: AwareDatetime | None = None


@fact_route(router, "hearing_scheduled", facts.CaseHearingScheduled, "Record a hearing set for the case")
async def hearing_scheduled(
    case_id: UUID, body: HearingScheduled, request: Request, caller: Writing
) -> JSONResponse:
    return await record_fact(
        request,
        caller,
        lambda c, _k: case_hearings.schedule_hearing(c, caller.principal, case_id, **body.model_dump()),
    )


@fact_route(router, "hearing_rescheduled", facts.CaseHearingRescheduled, "Move a hearing to another instant")
async def hearing_rescheduled(
    case_id: UUID, body: HearingRescheduled, request: Request, caller: Writing
) -> JSONResponse:
    return await record_fact(
        request,
        caller,
        lambda c, _k: case_hearings.reschedule_hearing(c, caller.principal, case_id, **body.model_dump()),
    )


@fact_route(router, "hearing_cancelled", facts.CaseHearingCancelled, "Cancel a hearing without a new date")
async def hearing_cancelled(
    case_id: UUID, body: HearingCancelled, request: Request, caller: Writing
) -> JSONResponse:
    return await record_fact(
        request,
        caller,
        lambda c, _k: case_hearings.cancel_hearing(c, caller.principal, case_id, **body.model_dump()),
    )


@fact_route(router, "hearing_held", facts.CaseHearingHeld, "Record that a hearing took place")
async def hearing_held(case_id: UUID, body: HearingHeld, request: Request, caller: Writing) -> JSONResponse:
    return await record_fact(
        request,
        caller,
        lambda c, _k: case_hearings.hold_hearing(c, caller.principal, case_id, **body.model_dump()),
    )
