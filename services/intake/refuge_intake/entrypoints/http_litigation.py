"""A case's court proceedings over HTTP: court, docket, filing date, counsel, developments.

None of it is published: the v1 contract has no place for it, and a docket number or a
counsel's name could lead to a person (see refuge_intake.domain.litigation). What the
contract does carry (a hearing's or a filing's court) goes through the fact endpoints.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from pydantic import ConfigDict, Field, StringConstraints

from refuge_common.crypto.keyring import Keyring
from refuge_common.db.pool import Connection
from refuge_intake.domain.litigation import Counsel, CounselRole, Development, DevelopmentKind, Litigation
from refuge_intake.entrypoints.http_case_views import WRITE_DOCUMENTED, Writing, write_once
from refuge_intake.entrypoints.http_lean_route import LeanWriteRoute
from refuge_intake.entrypoints.http_refusals import WRITE
from refuge_intake.entrypoints.http_text import StorableModel
from refuge_intake.service_layer import litigation
from refuge_intake.service_layer.idempotency import Answer

router = APIRouter(tags=["litigation"], route_class=LeanWriteRoute)

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class CounselIn(StorableModel):
    model_config = ConfigDict(extra="forbid")

    name: Text
    role: CounselRole = CounselRole.LEAD
    organisation: Text | None = None


class LitigationIn(StorableModel):
    model_config = ConfigDict(extra="forbid")

    court: Text = Field(description="e.g. U.S. District Court for the District of Columbia")
    docket_number: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None
    ) = Field(default=None, description="e.g. 1:25-cv-00766")
    filed_on: date | None = Field(default=None, description="date the complaint or petition was filed")
    class_action: bool = False
    counsel: list[CounselIn] = Field(default_factory=list, max_length=30)

    def domain(self) -> Litigation:
        return Litigation(
            court=self.court,
            docket_number=self.docket_number,
            filed_on=self.filed_on,
            class_action=self.class_action,
            counsel=tuple(Counsel(c.name, c.role, c.organisation) for c in self.counsel),
        )


class DevelopmentIn(StorableModel):
    model_config = ConfigDict(extra="forbid")

    occurred_on: date
    kind: DevelopmentKind
    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)] = Field(
        description="what the court record says; kept in intake only"
    )
    docket_entry: int | None = Field(default=None, ge=1, description="ECF or docket entry number")

    def domain(self) -> Development:
        return Development(self.occurred_on, self.kind, self.summary, self.docket_entry)


class DevelopmentView(DevelopmentIn):
    development_id: int
    recorded_by: str
    recorded_at: datetime


class LitigationView(LitigationIn):
    @classmethod
    def of(cls, found: Litigation) -> LitigationView:
        return cls(
            court=found.court,
            docket_number=found.docket_number,
            filed_on=found.filed_on,
            class_action=found.class_action,
            counsel=[CounselIn(name=c.name, role=c.role, organisation=c.organisation) for c in found.counsel],
        )


class LitigationRecord(LitigationView):
    developments: list[DevelopmentView] = Field(description="by the date they occurred, then as recorded")

    @classmethod
    def of_record(cls, found: Litigation, developments: list[dict[str, Any]]) -> LitigationRecord:
        return cls(
            **LitigationView.of(found).model_dump(),
            developments=[DevelopmentView(**d) for d in developments],
        )


@router.put(
    "/cases/{case_id}/litigation",
    response_model=LitigationView,
    responses=WRITE,
    openapi_extra=WRITE_DOCUMENTED,
    summary="Record or replace a case's court, docket number, filing date and counsel",
)
async def put_litigation(
    case_id: UUID, body: LitigationIn, request: Request, caller: Writing
) -> JSONResponse:
    async def write(connection: Connection, _keyring: Keyring) -> Answer:
        stored = await litigation.set_litigation(connection, caller.principal, case_id, body.domain())
        return Answer(status.HTTP_200_OK, LitigationView.of(stored).model_dump(mode="json"))

    return await write_once(request, caller, write)


@router.post(
    "/cases/{case_id}/litigation/developments",
    status_code=status.HTTP_201_CREATED,
    response_model=DevelopmentView,
    responses=WRITE,
    openapi_extra=WRITE_DOCUMENTED,
    summary="Add a development (order, motion, judgment...) to a case's proceedings",
)
async def add_development(
    case_id: UUID, body: DevelopmentIn, request: Request, caller: Writing
) -> JSONResponse:
    async def write(connection: Connection, _keyring: Keyring) -> Answer:
        added = await litigation.add_development(connection, caller.principal, case_id, body.domain())
        return Answer(status.HTTP_201_CREATED, DevelopmentView(**added).model_dump(mode="json"))

    return await write_once(request, caller, write)
