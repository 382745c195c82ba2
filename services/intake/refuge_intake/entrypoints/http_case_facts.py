"""The facts of a case over HTTP: decisions, appeals, detention, permits, arrivals, contacts,
interviews. Hearings are in http_case_hearings, consent, transfer and closing in
http_case_status. Each endpoint is one tenant transaction: fact, state change, event."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, Field, StringConstraints

from refuge_common.contract import cases as facts
from refuge_common.contract.vocabulary import (
    ContactChannel,
    ContactOutcome,
    Decision,
    DetentionEndReason,
    DetentionKind,
    Jurisdiction,
    Regime,
    Timezone,
)
from refuge_intake.entrypoints.http_case_views import (
    Body,
    Name,
    Writing,
    fact_route,
    record_fact,
    record_fact_alone,
)
from refuge_intake.entrypoints.http_lean_route import LeanWriteRoute
from refuge_intake.service_layer import case_facts

router = APIRouter(tags=["case facts"], route_class=LeanWriteRoute)

Notes = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
NOTES = "free text, sealed under the key of the case's person (the case must name one)"


class DecisionNotified(Body):
    decision: Decision
    notified_at: AwareDatetime = Field(description="when the decision was notified, with its offset")
    regime: Regime | None = None
    timezone: Timezone | None = None
    jurisdiction: Jurisdiction | None = Field(default=None, description="defaults to the case's")
    decided_on: date | None = Field(
        default=None, description="date of the decision, if not notified that day"
    )


class AppealFiled(Body):
    filed_at: AwareDatetime
    decision: Decision | None = Field(default=None, description="the decision appealed against")
    deadline_id: UUID | None = Field(default=None, description="the deadline this filing meets")
    court: Name | None = Field(default=None, description="where it was filed")


class DetentionStarted(Body):
    started_at: AwareDatetime
    kind: DetentionKind | None = None
    facility: Name | None = Field(default=None, description="the facility's name (not personal)")


class DetentionEnded(Body):
    ended_at: AwareDatetime
    reason: DetentionEndReason | None = None


class PermitRecorded(Body):
    expires_on: date = Field(description="last day of validity")
    issued_on: date | None = None
    permit_kind: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        default=None, description="e.g. carte_de_sejour_temporaire"
    )
    jurisdiction: Jurisdiction | None = Field(default=None, description="defaults to the case's")
    document_number: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None
    ) = Field(default=None, description="sealed under the key of the case's person (the case must name one)")


class ArrivalRecorded(Body):
    arrived_on: date = Field(description="date of the last arrival in the country")
    jurisdiction: Jurisdiction | None = Field(default=None, description="defaults to the case's")


class ContactLogged(Body):
    channel: ContactChannel
    outcome: ContactOutcome
    contacted_at: AwareDatetime | None = Field(default=None, description="defaults to now")
    staff_id: UUID | None = Field(default=None, description="who handled it; defaults to the key's holder")
    duration_minutes: int | None = Field(default=None, ge=0, le=24 * 60)
    notes: Notes | None = Field(default=None, description=NOTES)


class InterviewHeld(Body):
    held_at: AwareDatetime
    authority: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        default=None, description="e.g. ofpra, uscis"
    )
    notes: Notes | None = Field(default=None, description=NOTES)


@fact_route(
    router, "decision_notified", facts.CaseDecisionNotified, "Record a notified decision (it starts delays)"
)
async def decision_notified(
    case_id: UUID, body: DecisionNotified, request: Request, caller: Writing
) -> JSONResponse:
    return await record_fact_alone(
        request,
        caller,
        lambda c, _k, o: case_facts.notify_decision(c, caller.principal, case_id, **body.model_dump(), own=o),
    )


@fact_route(router, "appeal_filed", facts.CaseAppealFiled, "Record an appeal, petition or motion filed")
async def appeal_filed(case_id: UUID, body: AppealFiled, request: Request, caller: Writing) -> JSONResponse:
    return await record_fact_alone(
        request,
        caller,
        lambda c, _k, o: case_facts.file_appeal(c, caller.principal, case_id, **body.model_dump(), own=o),
    )


@fact_route(
    router, "detention_started", facts.CaseDetentionStarted, "Record a placement in detention or prison"
)
async def detention_started(
    case_id: UUID, body: DetentionStarted, request: Request, caller: Writing
) -> JSONResponse:
    return await record_fact(
        request,
        caller,
        lambda c, _k: case_facts.start_detention(c, caller.principal, case_id, **body.model_dump()),
    )


@fact_route(router, "detention_ended", facts.CaseDetentionEnded, "Record the end of the ongoing detention")
async def detention_ended(
    case_id: UUID, body: DetentionEnded, request: Request, caller: Writing
) -> JSONResponse:
    return await record_fact(
        request,
        caller,
        lambda c, _k: case_facts.end_detention(c, caller.principal, case_id, **body.model_dump()),
    )


@fact_route(router, "permit_recorded", facts.CasePermitRecorded, "Record a residence permit and its expiry")
async def permit_recorded(
    case_id: UUID, body: PermitRecorded, request: Request, caller: Writing
) -> JSONResponse:
    return await record_fact(
        request,
        caller,
        lambda c, k: case_facts.record_permit(c, k, caller.principal, case_id, **body.model_dump()),
    )


@fact_route(
    router,
    "arrival_recorded",
    facts.CaseArrivalRecorded,
    "Record the date of the last arrival in the country",
)
async def arrival_recorded(
    case_id: UUID, body: ArrivalRecorded, request: Request, caller: Writing
) -> JSONResponse:
    return await record_fact_alone(
        request,
        caller,
        lambda c, _k, o: case_facts.record_arrival(c, caller.principal, case_id, **body.model_dump(), own=o),
    )


@fact_route(
    router, "contact_logged", facts.CaseContactLogged, "Log a contact with the person (call, visit, message)"
)
async def contact_logged(
    case_id: UUID, body: ContactLogged, request: Request, caller: Writing
) -> JSONResponse:
    return await record_fact(
        request,
        caller,
        lambda c, k: case_facts.log_contact(c, k, caller.principal, case_id, **body.model_dump()),
    )


@fact_route(
    router,
    "interview_held",
    facts.CaseInterviewHeld,
    "Record an interview with an authority (OFPRA, USCIS...)",
)
async def interview_held(
    case_id: UUID, body: InterviewHeld, request: Request, caller: Writing
) -> JSONResponse:
    return await record_fact_alone(
        request,
        caller,
        lambda c, k, o: case_facts.hold_interview(
            c, k, caller.principal, case_id, **body.model_dump(), own=o
        ),
    )
