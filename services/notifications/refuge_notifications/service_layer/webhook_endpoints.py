"""Registering and managing an organisation's webhook endpoints.

The signing secret is generated here, returned once (at registration or rotation) and
kept only sealed under the organisation's data key (``OrganisationSecrets``, the same
sealing as SMS provider credentials): a database dump without the master key reveals no
secret. It is never logged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from refuge_common.contract.sealed import Sealed
from refuge_common.db.pool import Connection, tenant_transaction
from refuge_common.observability.logging import get_logger
from refuge_notifications.adapters import webhook_store
from refuge_notifications.adapters.org_secrets import OrganisationSecrets
from refuge_notifications.domain.webhook_endpoints import InvalidEndpoint, check_event_types, check_url
from refuge_notifications.domain.webhook_signatures import new_secret

log = get_logger(__name__)
MAX_PREVIOUS_SECRET_SECONDS = 7 * 24 * 3600


class NotFound(LookupError):
    pass


class Conflict(Exception):
    pass


@dataclass(frozen=True)
class EndpointChanges:
    url: str | None = None
    event_types: list[str] | None = None
    office_id: UUID | None = None
    organisation_wide: bool = False  # office_id None means "unchanged" unless this is set
    description: str | None = None


class WebhookEndpoints:
    def __init__(
        self, pool: Callable[[], asyncpg.Pool], sealer: OrganisationSecrets, *, allow_http_loopback: bool
    ) -> None:
        self._pool_provider = pool
        self._sealer = sealer
        self._allow_http_loopback = allow_http_loopback

    async def register(
        self,
        tenant_id: UUID,
        *,
        url: str,
        event_types: list[str],
        office_id: UUID | None,
        description: str | None,
    ) -> tuple[asyncpg.Record, str]:
        """The new endpoint and its secret (the only time the secret is shown)."""

        url = check_url(url, allow_http_loopback=self._allow_http_loopback)
        types = check_event_types(event_types)
        secret = new_secret()
        async with tenant_transaction(self._pool(), tenant_id) as connection:
            await self._check_office(connection, office_id)
            row = await webhook_store.add_endpoint(
                connection,
                endpoint_id=uuid.uuid4(),
                tenant_id=tenant_id,
                url=url,
                description=description,
                event_types=types,
                office_id=office_id,
                secret=await self._seal(connection, tenant_id, secret, None),
            )
        log.info("webhook_endpoint_registered", endpoint_id=str(row["endpoint_id"]), types=len(types))
        return row, secret

    async def all(self, tenant_id: UUID) -> list[asyncpg.Record]:
        async with tenant_transaction(self._pool(), tenant_id) as connection:
            return await webhook_store.endpoints(connection)

    async def get(self, tenant_id: UUID, endpoint_id: UUID) -> asyncpg.Record:
        async with tenant_transaction(self._pool(), tenant_id) as connection:
            row = await webhook_store.endpoint(connection, endpoint_id)
        if row is None:
            raise NotFound(endpoint_id)
        return row

    async def update(self, tenant_id: UUID, endpoint_id: UUID, changes: EndpointChanges) -> asyncpg.Record:
        values: dict[str, Any] = {}
        if changes.url is not None:
            values["url"] = check_url(changes.url, allow_http_loopback=self._allow_http_loopback)
        if changes.event_types is not None:
            values["event_types"] = check_event_types(changes.event_types)
        if changes.description is not None:
            values["description"] = changes.description
        if changes.organisation_wide or changes.office_id is not None:
            values["office_id"] = changes.office_id
        async with tenant_transaction(self._pool(), tenant_id) as connection:
            await self._check_office(connection, changes.office_id)
            row = await webhook_store.update_endpoint(connection, endpoint_id, values)
        if row is None:
            raise NotFound(endpoint_id)
        log.info("webhook_endpoint_updated", endpoint_id=str(endpoint_id), fields=sorted(values))
        return row

    async def rotate_secret(self, tenant_id: UUID, endpoint_id: UUID, previous_valid_seconds: int) -> str:
        """A new secret; the old one also signs for ``previous_valid_seconds`` (0: stops now)."""

        if not 0 <= previous_valid_seconds <= MAX_PREVIOUS_SECRET_SECONDS:
            raise InvalidEndpoint("previous_valid_seconds", f"between 0 and {MAX_PREVIOUS_SECRET_SECONDS}")
        secret = new_secret()
        async with tenant_transaction(self._pool(), tenant_id) as connection:
            stored = await webhook_store.endpoint_secret(connection, endpoint_id)
            if stored is None:
                raise NotFound(endpoint_id)
            current = (await self.secrets_of(connection, tenant_id, stored["secret"]))["current"]
            previous = current if previous_valid_seconds > 0 else None
            sealed = await self._seal(connection, tenant_id, secret, previous)
            await webhook_store.replace_secret(connection, endpoint_id, sealed, previous_valid_seconds)
        log.info("webhook_secret_rotated", endpoint_id=str(endpoint_id), overlap_s=previous_valid_seconds)
        return secret

    async def disable(
        self, tenant_id: UUID, endpoint_id: UUID, reason: str = "disabled by an org admin"
    ) -> None:
        async with tenant_transaction(self._pool(), tenant_id) as connection:
            if await webhook_store.endpoint(connection, endpoint_id) is None:
                raise NotFound(endpoint_id)
            await webhook_store.disable_endpoint(connection, endpoint_id, reason)
        log.info("webhook_endpoint_disabled", endpoint_id=str(endpoint_id), by="org_admin")

    async def enable(self, tenant_id: UUID, endpoint_id: UUID) -> None:
        async with tenant_transaction(self._pool(), tenant_id) as connection:
            if await webhook_store.endpoint(connection, endpoint_id) is None:
                raise NotFound(endpoint_id)
            await webhook_store.enable_endpoint(connection, endpoint_id)
        log.info("webhook_endpoint_enabled", endpoint_id=str(endpoint_id))

    async def delete(self, tenant_id: UUID, endpoint_id: UUID) -> None:
        async with tenant_transaction(self._pool(), tenant_id) as connection:
            if not await webhook_store.delete_endpoint(connection, endpoint_id):
                raise NotFound(endpoint_id)
        log.info("webhook_endpoint_deleted", endpoint_id=str(endpoint_id))

    async def deliveries(
        self, tenant_id: UUID, endpoint_id: UUID, status: str | None, limit: int
    ) -> list[asyncpg.Record]:
        async with tenant_transaction(self._pool(), tenant_id) as connection:
            if await webhook_store.endpoint(connection, endpoint_id) is None:
                raise NotFound(endpoint_id)
            return await webhook_store.deliveries(connection, endpoint_id, status, limit)

    async def delivery(self, tenant_id: UUID, endpoint_id: UUID, delivery_id: UUID) -> asyncpg.Record:
        async with tenant_transaction(self._pool(), tenant_id) as connection:
            row = await webhook_store.delivery(connection, endpoint_id, delivery_id)
        if row is None:
            raise NotFound(delivery_id)
        return row

    async def redeliver(self, tenant_id: UUID, endpoint_id: UUID, delivery_id: UUID) -> asyncpg.Record:
        async with tenant_transaction(self._pool(), tenant_id) as connection:
            found = await webhook_store.endpoint(connection, endpoint_id)
            if found is None or await webhook_store.delivery(connection, endpoint_id, delivery_id) is None:
                raise NotFound(delivery_id)
            if not found["enabled"]:
                raise Conflict("the endpoint is disabled: enable it first")
            await webhook_store.redeliver(connection, delivery_id)
            row = await webhook_store.delivery(connection, endpoint_id, delivery_id)
        assert row is not None
        log.info("webhook_redelivery_requested", delivery_id=str(delivery_id))
        return row

    def _pool(self) -> asyncpg.Pool:
        return self._pool_provider()

    async def secrets_of(
        self, connection: Connection, tenant_id: UUID, sealed: dict[str, Any]
    ) -> dict[str, Any]:
        return await self._sealer.open(connection, tenant_id, Sealed.model_validate(sealed))

    async def _seal(
        self, connection: Connection, tenant_id: UUID, current: str, previous: str | None
    ) -> dict[str, Any]:
        sealed = await self._sealer.seal(connection, tenant_id, {"current": current, "previous": previous})
        return sealed.model_dump(mode="json")

    @staticmethod
    async def _check_office(connection: Connection, office_id: UUID | None) -> None:
        if office_id is not None and not await webhook_store.office_exists(connection, office_id):
            raise InvalidEndpoint("office_id", "not an office of your organisation")


def signing_secrets(
    opened: dict[str, Any], previous_valid_until: datetime | None, now: datetime
) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during its overlap."""

    found = [str(opened["current"])]
    previous = opened.get("previous")
    if previous and previous_valid_until is not None and now.astimezone(UTC) < previous_valid_until:
        found.append(str(previous))
    return found
