"""Facts that change who holds a case and whether it goes on: consent, transfer, closing.

Closing an assisted voluntary return with outcome ``voluntary_return`` (the contract's
departure) needs the person's consent (purpose ``assisted_return``) given and not
withdrawn. A consent withdrawal is the one fact a closed case still takes.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, Field

from refuge_common.contract import cases as facts
from refuge_common.contract.vocabulary import CaseOutcome, ConsentPurpose
from refuge_intake.entrypoints.http_case_views import Body, Writing, fact_route, record_fact
from refuge_intake.entrypoints.http_lean_route import LeanWriteRoute
from refuge_intake.service_layer import case_status

router = APIRouter(tags=["case facts"], route_class=LeanWriteRoute)


class ConsentRecorded(Body):
    purpose: ConsentPurpose = Field(
        description="sms and email: reminders by that channel (a withdrawal stops them); "
        "assisted_return: informed consent to an assisted voluntary return"
    )
    given: bool = Field(description="true when given, false when withdrawn")
    recorded_at: AwareDatetime | None = Field(
        default=None, description="defaults to now; never before the last consent for this purpose"
    )


class Transferred(Body):
    office_id: UUID = Field(description="another open office of the same organisation")
    caseworker_id: UUID | None = Field(
        default=None, description="the new caseworker (staff_id); without one the case keeps its own"
    )


class Closed(Body):
    outcome: CaseOutcome
    closed_at: AwareDatetime | None = Field(default=None, description="defaults to now")


@fact_route(router, "consent_recorded", facts.CaseConsentRecorded, "Record a consent given or withdrawn")
async def consent_recorded(
    case_id: UUID, body: ConsentRecorded, request: Request, caller: Writing
) -> JSONResponse:
    return await record_fact(
        request,
        caller,
        lambda c, _k: case_status.record_consent(c, caller.principal, case_id, **body.model_dump()),
    )


@fact_route(
    router, "transferred", facts.CaseTransferred, "Move the case to another office of the organisation"
)
async def transferred(case_id: UUID, body: Transferred, request: Request, caller: Writing) -> JSONResponse:
    return await record_fact(
        request,
        caller,
        lambda c, _k: case_status.transfer(c, caller.principal, case_id, **body.model_dump()),
    )


@fact_route(router, "closed", facts.CaseClosed, "Close the case with its outcome")
async def closed(case_id: UUID, body: Closed, request: Request, caller: Writing) -> JSONResponse:
    return await record_fact(
        request,
        caller,
        lambda c, _k: case_status.close(c, caller.principal, case_id, **body.model_dump()),
    )
