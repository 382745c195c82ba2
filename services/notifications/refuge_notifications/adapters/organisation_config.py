"""Per-organisation configuration: policy overrides, data keys, SMS providers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from refuge_common.contract.sealed import Sealed
from refuge_common.db.pool import Connection


async def policy_overrides(connection: Connection) -> list[asyncpg.Record]:
    """The current tenant's overrides (row-level security selects the tenant)."""

    return list(
        await connection.fetch(
            "SELECT trigger_name, recipient_kind, channel, enabled FROM notification_policies"
        )
    )


async def set_policy(
    connection: Connection,
    tenant_id: UUID,
    trigger: str,
    recipient_kind: str,
    channel: str,
    enabled: bool | None,
) -> None:
    """Override one rule of the default policy; ``None`` returns it to the default."""

    if enabled is None:
        await connection.execute(
            """DELETE FROM notification_policies
               WHERE tenant_id = $1 AND trigger_name = $2 AND recipient_kind = $3 AND channel = $4""",
            tenant_id,
            trigger,
            recipient_kind,
            channel,
        )
        return
    await connection.execute(
        """INSERT INTO notification_policies (tenant_id, trigger_name, recipient_kind, channel, enabled)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (tenant_id, trigger_name, recipient_kind, channel)
           DO UPDATE SET enabled = $5, updated_at = now()""",
        tenant_id,
        trigger,
        recipient_kind,
        channel,
        enabled,
    )


async def organisation_wrapped_key(connection: Connection, tenant_id: UUID) -> bytes | None:
    wrapped = await connection.fetchval(
        "SELECT wrapped_key FROM organisation_keys WHERE tenant_id = $1", tenant_id
    )
    return bytes(wrapped) if wrapped is not None else None


async def add_organisation_key(connection: Connection, tenant_id: UUID, wrapped_key: bytes) -> None:
    await connection.execute(
        "INSERT INTO organisation_keys (tenant_id, wrapped_key) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        tenant_id,
        wrapped_key,
    )


@dataclass(frozen=True)
class SmsProviderRow:
    kind: str
    settings: dict[str, str]
    credentials: Sealed


async def put_sms_provider(
    connection: Connection, tenant_id: UUID, kind: str, settings: dict[str, str], credentials: Sealed
) -> None:
    await connection.execute(
        """INSERT INTO sms_providers (tenant_id, kind, settings, credentials) VALUES ($1, $2, $3, $4)
           ON CONFLICT (tenant_id) DO UPDATE SET kind = $2, settings = $3, credentials = $4,
               updated_at = now()""",
        tenant_id,
        kind,
        settings,
        json.loads(credentials.model_dump_json()),
    )


async def get_sms_provider(connection: Connection, tenant_id: UUID) -> SmsProviderRow | None:
    row = await connection.fetchrow(
        "SELECT kind, settings, credentials FROM sms_providers WHERE tenant_id = $1", tenant_id
    )
    if row is None:
        return None
    return SmsProviderRow(row["kind"], dict(row["settings"]), Sealed.model_validate(row["credentials"]))


async def delete_sms_provider(connection: Connection, tenant_id: UUID) -> bool:
    status = await connection.execute("DELETE FROM sms_providers WHERE tenant_id = $1", tenant_id)
    return bool(status.endswith(" 1"))
