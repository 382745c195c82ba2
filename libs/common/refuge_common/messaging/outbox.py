"""Transactional outbox: write events in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from refuge_common.contract.envelope import Envelope, to_record
from refuge_common.db.pool import Connection

# Shared with writers that put their own row and its event in one statement (a
# data-modifying CTE): one round trip fewer per write.
OUTBOX_INSERT = "INSERT INTO outbox (topic, key, value, headers, event_id, event_type, tenant_id)"

OutboxRow = tuple[str, bytes | None, bytes, dict[str, str], str, str, UUID | None]


def outbox_row(envelope: Envelope, data: dict[str, Any] | None = None) -> OutboxRow:
    """The outbox columns of one event, in the order of :data:`OUTBOX_INSERT` (``data``: see
    :func:`to_record`)."""

    record = to_record(envelope, data)
    headers = {name: value.decode() for name, value in record.headers}
    return (record.topic, record.key, record.value, headers, envelope.id, envelope.type, envelope.tenant_id)


def require_transaction(connection: Connection) -> None:
    if not connection.is_in_transaction():
        raise RuntimeError("outbox rows must be written inside the transaction of the state change")


async def add_to_outbox(connection: Connection, events: Iterable[Envelope]) -> None:
    """Queue events for publication; they leave only if the transaction commits."""

    rows = [outbox_row(envelope) for envelope in events]
    if not rows:
        return
    require_transaction(connection)
    await connection.executemany(f"{OUTBOX_INSERT} VALUES ($1, $2, $3, $4, $5, $6, $7)", rows)
