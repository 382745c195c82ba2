"""Org admins manage their organisation's webhook endpoints and see their deliveries.

Everything is scoped to the caller's organisation (the token's ``org``): another
organisation's endpoint or delivery answers 404, exactly like one that does not exist.
The signing secret appears in two answers only, registration and rotation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from refuge_common.auth.principal import Principal
from refuge_notifications.domain.webhook_endpoints import InvalidEndpoint, offered_event_types
from refuge_notifications.service_layer.webhook_endpoints import (
    Conflict,
    EndpointChanges,
    NotFound,
    WebhookEndpoints,
)

T = TypeVar("T")
DeliveryStatus = Literal["pending", "succeeded", "failed", "paused"]


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2048, description="https URL (http only to loopback, when allowed)")
    event_types: list[str] = Field(
        max_length=100, description="CloudEvents types (GET /webhooks/event-types)"
    )
    office_id: UUID | None = Field(
        default=None, description="only this office's events; none: the organisation's"
    )
    description: str | None = Field(default=None, max_length=500)


class EndpointPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, max_length=2048)
    event_types: list[str] | None = Field(default=None, max_length=100)
    office_id: UUID | None = Field(default=None, description="null: the whole organisation")
    description: str | None = Field(default=None, max_length=500)


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    previous_valid_seconds: int = Field(
        default=86_400, description="How long the replaced secret also signs (0: stop at once)."
    )


class EndpointOut(BaseModel):
    endpoint_id: UUID
    url: str
    description: str | None
    event_types: list[str]
    office_id: UUID | None
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    consecutive_failures: int
    failing_since: datetime | None
    previous_secret_valid_until: datetime | None
    created_at: datetime
    updated_at: datetime


class RegisteredOut(EndpointOut):
    secret: str = Field(description="Standard Webhooks signing secret (whsec_...): shown this once")


class SecretOut(BaseModel):
    endpoint_id: UUID
    secret: str
    previous_secret_valid_until: datetime | None


class DeliveryOut(BaseModel):
    delivery_id: UUID = Field(description="also the webhook-id header of every attempt")
    endpoint_id: UUID
    event_source: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    redeliveries: int
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    succeeded_at: datetime | None
    next_attempt_at: datetime | None
    created_at: datetime


def _endpoint(row: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    fields = {name: row[name] for name in EndpointOut.model_fields if name != "previous_secret_valid_until"}
    return {**fields, "previous_secret_valid_until": row["previous_valid_until"]}


def _delivery(row: asyncpg.Record) -> DeliveryOut:
    return DeliveryOut(**{name: row[name] for name in DeliveryOut.model_fields})


def _invalid(error: InvalidEndpoint) -> HTTPException:
    location = ["body", *[int(part) if part.isdigit() else part for part in error.field.split(".")]]
    return HTTPException(
        422,
        [{"loc": location, "msg": error.message, "type": "value_error"}],
    )


def webhooks_router(endpoints: WebhookEndpoints, admins: Callable[..., Awaitable[Principal]]) -> APIRouter:
    router = APIRouter(prefix="/webhooks", tags=["webhooks"])

    @router.get("/event-types", summary="Event types an endpoint may subscribe to")
    async def event_types(_: Principal = Depends(admins)) -> dict[str, list[dict[str, str]]]:
        return {"event_types": [{"type": t, "topic": topic} for t, topic in offered_event_types().items()]}

    @router.post("/endpoints", status_code=201, summary="Register an endpoint (the secret is shown once)")
    async def register(body: EndpointIn, admin: Principal = Depends(admins)) -> RegisteredOut:
        try:
            row, secret = await endpoints.register(
                admin.organisation_id,
                url=body.url,
                event_types=body.event_types,
                office_id=body.office_id,
                description=body.description,
            )
        except InvalidEndpoint as error:
            raise _invalid(error) from error
        return RegisteredOut(**_endpoint(row), secret=secret)

    @router.get("/endpoints", summary="The organisation's endpoints")
    async def list_endpoints(admin: Principal = Depends(admins)) -> list[EndpointOut]:
        return [EndpointOut(**_endpoint(row)) for row in await endpoints.all(admin.organisation_id)]

    @router.get("/endpoints/{endpoint_id}", summary="One endpoint")
    async def get_endpoint(endpoint_id: UUID, admin: Principal = Depends(admins)) -> EndpointOut:
        return EndpointOut(**_endpoint(await _found(endpoints.get(admin.organisation_id, endpoint_id))))

    @router.patch("/endpoints/{endpoint_id}", summary="Change URL, event types, scope or description")
    async def update_endpoint(
        endpoint_id: UUID, body: EndpointPatch, admin: Principal = Depends(admins)
    ) -> EndpointOut:
        changes = EndpointChanges(
            url=body.url,
            event_types=body.event_types,
            office_id=body.office_id,
            organisation_wide="office_id" in body.model_fields_set and body.office_id is None,
            description=body.description,
        )
        try:
            row = await _found(endpoints.update(admin.organisation_id, endpoint_id, changes))
        except InvalidEndpoint as error:
            raise _invalid(error) from error
        return EndpointOut(**_endpoint(row))

    @router.post("/endpoints/{endpoint_id}/rotate-secret", summary="A new secret (shown once)")
    async def rotate_secret(
        endpoint_id: UUID, admin: Principal = Depends(admins), body: RotateIn | None = None
    ) -> SecretOut:
        overlap = (body or RotateIn()).previous_valid_seconds
        try:
            secret = await _found(endpoints.rotate_secret(admin.organisation_id, endpoint_id, overlap))
        except InvalidEndpoint as error:
            raise _invalid(error) from error
        row = await endpoints.get(admin.organisation_id, endpoint_id)
        return SecretOut(
            endpoint_id=endpoint_id, secret=secret, previous_secret_valid_until=row["previous_valid_until"]
        )

    @router.post("/endpoints/{endpoint_id}/disable", summary="Stop deliveries (pending ones pause)")
    async def disable(endpoint_id: UUID, admin: Principal = Depends(admins)) -> EndpointOut:
        await _found(endpoints.disable(admin.organisation_id, endpoint_id))
        return EndpointOut(**_endpoint(await endpoints.get(admin.organisation_id, endpoint_id)))

    @router.post("/endpoints/{endpoint_id}/enable", summary="Resume deliveries (paused ones too)")
    async def enable(endpoint_id: UUID, admin: Principal = Depends(admins)) -> EndpointOut:
        await _found(endpoints.enable(admin.organisation_id, endpoint_id))
        return EndpointOut(**_endpoint(await endpoints.get(admin.organisation_id, endpoint_id)))

    @router.delete("/endpoints/{endpoint_id}", status_code=204, summary="Delete it and its deliveries")
    async def delete(endpoint_id: UUID, admin: Principal = Depends(admins)) -> Response:
        await _found(endpoints.delete(admin.organisation_id, endpoint_id))
        return Response(status_code=204)

    @router.get("/endpoints/{endpoint_id}/deliveries", summary="Deliveries, newest first")
    async def deliveries(
        endpoint_id: UUID,
        admin: Principal = Depends(admins),
        status_filter: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[DeliveryOut]:
        rows = await _found(endpoints.deliveries(admin.organisation_id, endpoint_id, status_filter, limit))
        return [_delivery(row) for row in rows]

    @router.get("/endpoints/{endpoint_id}/deliveries/{delivery_id}", summary="One delivery")
    async def delivery(
        endpoint_id: UUID, delivery_id: UUID, admin: Principal = Depends(admins)
    ) -> DeliveryOut:
        return _delivery(await _found(endpoints.delivery(admin.organisation_id, endpoint_id, delivery_id)))

    @router.post(
        "/endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver",
        status_code=202,
        summary="Deliver again (same webhook-id), a new round of attempts",
    )
    async def redeliver(
        endpoint_id: UUID, delivery_id: UUID, admin: Principal = Depends(admins)
    ) -> DeliveryOut:
        try:
            row = await _found(endpoints.redeliver(admin.organisation_id, endpoint_id, delivery_id))
        except Conflict as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
        return _delivery(row)

    return router


async def _found(pending: Awaitable[T]) -> T:
    try:
        return await pending
    except NotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found") from error
