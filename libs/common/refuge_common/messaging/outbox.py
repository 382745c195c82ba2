"""Transactional outbox: write events in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable

from refuge_common.contract.envelope import Envelope, to_record
from refuge_common.db.pool import Connection


async def add_to_outbox(connection: Connection, events: Iterable[Envelope]) -> None:
    """Queue events for publication; they leave only if the transaction commits."""

    rows = []
    for envelope in events:
        record = to_record(envelope)
        rows.append(
            (
                record.topic,
                record.key,
                record.value,
                {name: value.decode() for name, value in record.headers},
                envelope.id,
                envelope.type,
                envelope.tenant_id,
            )
        )
    if not rows:
        return
    if not connection.is_in_transaction():
        raise RuntimeError("add_to_outbox must run inside the transaction of the state change")
    await connection.executemany(
        """INSERT INTO outbox (topic, key, value, headers, event_id, event_type, tenant_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        rows,
    )
