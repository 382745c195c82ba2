"""What the case endpoints share: their answers, fact bodies, and how a write runs (once per key)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from refuge_common.auth.principal import Principal
from refuge_common.contract.base import EventData
from refuge_common.contract.vocabulary import CaseOutcome, CaseType, ContactChannel
from refuge_common.crypto.keyring import Keyring
from refuge_common.db.pool import Connection
from refuge_common.messaging.relay import OutboxRelay
from refuge_intake.adapters.case_store import Case
from refuge_intake.adapters.case_writes import OwnTransaction
from refuge_intake.domain.cases import CaseStatus
from refuge_intake.domain.idempotency import IdempotentRequest
from refuge_intake.entrypoints.http_auth import Writer, bearer, key_refused, writer
from refuge_intake.entrypoints.http_idempotency import KEY_PARAMETER, answered, idempotent_request, services
from refuge_intake.entrypoints.http_refusals import REFUSALS, WRITE, refused
from refuge_intake.entrypoints.http_text import StorableModel
from refuge_intake.service_layer import idempotency
from refuge_intake.service_layer.cases import Recorded
from refuge_intake.service_layer.errors import NeedsTransaction
from refuge_intake.service_layer.idempotency import Answer


class CaseView(BaseModel):
    case_id: UUID
    office_id: UUID = Field(description="the office that holds the case (changed by a transfer)")
    case_type: CaseType
    jurisdiction: str
    channel: ContactChannel
    person_id: UUID | None
    caseworker_id: UUID | None
    status: CaseStatus
    opened_at: datetime
    closed_at: datetime | None
    outcome: CaseOutcome | None = Field(default=None, description="set when the case is closed")
    detained_since: datetime | None = Field(default=None, description="an ongoing detention's start")

    @classmethod
    def of(cls, case: Case) -> CaseView:
        return cls(**{name: getattr(case, name) for name in cls.model_fields})


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Endpoint = Callable[..., Any]
D = TypeVar("D", bound=EventData)


class Body(StorableModel):
    """A fact's request body: an unknown field is refused, not ignored (it is likely a typo)."""

    model_config = ConfigDict(extra="forbid")


class RecordedFact(BaseModel, Generic[D]):
    """The fact as it was published (``data``), and the case as it left it."""

    event_id: str = Field(description="the CloudEvent id (with source /refuge/intake)")
    event_type: str
    data: D
    case: CaseView

    @staticmethod
    def body(recorded: Recorded) -> dict[str, Any]:
        # Built by hand: a field typed by a base class would serialise the base's fields only.
        return {
            "event_id": recorded.event_id,
            "event_type": recorded.data.TYPE,
            "data": recorded.payload,
            "case": CaseView.of(recorded.case).model_dump(mode="json"),
        }


@dataclass(frozen=True)
class WriteCaller:
    """Who writes (:class:`http_auth.Writer`), and the request's Idempotency-Key if any."""

    writer: Writer
    once: IdempotentRequest | None

    @property
    def principal(self) -> Principal:
        return self.writer.principal


async def write_caller(request: Request) -> WriteCaller:
    """The one dependency of a write: its credentials (401 before the body is validated,
    as for every route), then its Idempotency-Key.

    One level instead of three (the writer, its bearer, the key's header): FastAPI's
    resolution of nested dependencies was about a sixth of a write's CPU. The security
    scheme and the header, read by hand here, are documented by :data:`WRITE_DOCUMENTED`."""

    caller = await writer(request, await bearer(request))
    return WriteCaller(caller, await idempotent_request(request))


Writing = Annotated[WriteCaller, Depends(write_caller)]
# What a route taking ``Writing`` adds to its operation in the OpenAPI document: what
# FastAPI would document for ``Security(bearer)`` and the Idempotency-Key ``Header``.
WRITE_DOCUMENTED: dict[str, Any] = {
    "security": [{bearer.scheme_name: []}],
    "parameters": [KEY_PARAMETER],
}

Write = Callable[[Connection, Keyring], Awaitable[Answer]]
OwnWrite = Callable[[Connection, Keyring, OwnTransaction | None], Awaitable[Answer]]
OUTBOX_NUDGED = "SELECT set_config('refuge.outbox_nudged', 'on', true)"
Fact = Callable[[Connection, Keyring], Awaitable[Recorded]]
OwnFact = Callable[[Connection, Keyring, OwnTransaction | None], Awaitable[Recorded]]


async def write_once(request: Request, caller: WriteCaller, write: Write) -> JSONResponse:
    """Run a write in one tenant transaction, once per Idempotency-Key, and answer it.

    The transaction begins by confirming the caller's key is still usable when the
    dependency took it from the keys already verified (:class:`http_auth.VerifiedKeys`).
    When this process runs a relay, the write nudges it after committing instead of a
    NOTIFY from the outbox (migration 0007 says why)."""

    pool, keyring = services(request)
    relay: OutboxRelay = request.app.state.runtime.relay
    nudge = relay.listening
    first = [sql for sql in (caller.writer.key_check, OUTBOX_NUDGED if nudge else None) if sql]

    async def in_transaction(connection: Connection) -> Answer:
        return await write(connection, keyring)

    with _refusing(request, caller):
        answer = await idempotency.run_once(
            pool, keyring, caller.principal, caller.once, in_transaction, then="; ".join(first)
        )
    if nudge:
        relay.nudge()
    return answered(answer)


async def write_alone(request: Request, caller: WriteCaller, write: OwnWrite) -> JSONResponse:
    """:func:`write_once` for a write that can be one statement of its own transaction
    (``case_writes.OwnTransaction``): one round trip instead of three. Not with an
    Idempotency-Key (its record shares the write's transaction), nor when the write has to
    read first (it says so, :class:`NeedsTransaction`, having written nothing): then in a
    tenant transaction, as any write. The statement begins as that transaction would (the
    tenant, the kept key's check, the relay's nudge)."""

    if caller.once is None:
        pool, keyring = services(request)
        relay: OutboxRelay = request.app.state.runtime.relay
        principal = caller.principal
        check_key = principal.key_id if caller.writer.key_check else None
        own = OwnTransaction(principal.organisation_id, check_key, relay.listening)
        answer = None
        with _refusing(request, caller), contextlib.suppress(NeedsTransaction):
            async with pool.acquire() as connection:
                answer = await write(connection, keyring, own)
        if answer is not None:
            if own.nudged:
                relay.nudge()
            return answered(answer)
    return await write_once(request, caller, lambda connection, keyring: write(connection, keyring, None))


@contextlib.contextmanager
def _refusing(request: Request, caller: WriteCaller) -> Iterator[None]:
    """The service layer's refusals as HTTP errors; a key refused in the write is forgotten."""

    try:
        yield
    except asyncpg.InvalidAuthorizationSpecificationError as error:
        request.app.state.verified_keys.forget(caller.principal.key_id)
        raise key_refused() from error
    except REFUSALS as error:
        raise refused(error) from error


async def record_fact(request: Request, caller: WriteCaller, fact: Fact) -> JSONResponse:
    """A fact endpoint's write: 201 with the fact and the case as it left it."""

    async def write(connection: Connection, keyring: Keyring) -> Answer:
        return Answer(201, RecordedFact.body(await fact(connection, keyring)))

    return await write_once(request, caller, write)


async def record_fact_alone(request: Request, caller: WriteCaller, fact: OwnFact) -> JSONResponse:
    """:func:`record_fact` through :func:`write_alone`, for a fact that can be recorded in
    one statement of its own transaction."""

    async def write(connection: Connection, keyring: Keyring, own: OwnTransaction | None) -> Answer:
        return Answer(201, RecordedFact.body(await fact(connection, keyring, own)))

    return await write_alone(request, caller, write)


def fact_route(
    router: APIRouter, fact: str, data: type[EventData], summary: str
) -> Callable[[Endpoint], Endpoint]:
    """POST /cases/{case_id}/facts/<fact>, documented with the event it publishes."""

    return router.post(
        f"/cases/{{case_id}}/facts/{fact}",
        status_code=status.HTTP_201_CREATED,
        response_model=RecordedFact[data],  # type: ignore[valid-type]
        responses=WRITE,
        summary=summary,
        openapi_extra=WRITE_DOCUMENTED,
    )
