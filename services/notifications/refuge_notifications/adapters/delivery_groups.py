"""The delivery log's group writes: *sending* and *sent* for many rows, of any tenants, in one
statement each (``service_layer.sent_batches`` group-commits them), each row under its own
claim token, as ``delivery_log.begin_sending`` and ``delivery_log.settle`` write one."""

from __future__ import annotations

from uuid import UUID

from refuge_common.db.pool import Connection
from refuge_common.messaging.outbox import OUTBOX_INSERT, OutboxRow

# The statements that write a group of rows by id compare ``status`` to ``(SELECT 'claimed')``,
# not to ``'claimed'``: given the constant, PostgreSQL read the rows through the partial
# indexes on open statuses (it costs such an index as if it held only the rows asked for,
# when it holds every open row) and so scanned the whole backlog for each group: 3 ms a group
# with 6,000 due rows, and growing with them: the dispatcher sent 750 SMS/s through such a
# backlog instead of 970-1,020. A value it cannot know while planning leaves it the primary
# key, one lookup a row.
BEGIN_SENDING = """
UPDATE deliveries AS d SET status = 'sending', sending_at = now(),
       lease_until = now() + make_interval(secs => s.lease_seconds)
FROM unnest($1::uuid[], $2::uuid[], $3::float8[]) AS s(delivery_id, claim_token, lease_seconds)
WHERE d.delivery_id = s.delivery_id AND d.claim_token = s.claim_token
  AND d.status = (SELECT 'claimed'::text)
RETURNING d.delivery_id
"""


async def begin_sending_many(connection: Connection, rows: list[tuple[UUID, UUID, float]]) -> set[UUID]:
    """``begin_sending`` for each (delivery, claim token, lease seconds) of ``rows`` in one
    statement; the deliveries whose claim still held (only those may be sent)."""

    found = await connection.fetch(BEGIN_SENDING, *(list(column) for column in zip(*rows, strict=True)))
    return {row["delivery_id"] for row in found}


# One statement for a batch of sends the providers took, of any tenants: each row settled
# under its own claim (as ``delivery_log.settle``), and the event of each row that was, in the same
# statement (and so the same transaction, even outside an explicit one). Statuses as
# subqueries: see ``BEGIN_SENDING``.
SETTLE_SENT = f"""
WITH settled AS (
    UPDATE deliveries AS d SET status = 'sent', lease_until = NULL, sent_at = now(),
           provider = coalesce(s.provider, d.provider),
           provider_message_id = coalesce(s.provider_message_id, d.provider_message_id),
           language = coalesce(s.language, d.language)
    FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[])
         AS s(delivery_id, claim_token, provider, provider_message_id, language)
    WHERE d.delivery_id = s.delivery_id AND d.claim_token = s.claim_token
      AND d.status IN ((SELECT 'claimed'::text), (SELECT 'sending'::text))
    RETURNING d.delivery_id
), reported AS (
    {OUTBOX_INSERT}
    SELECT e.topic, e.key, e.value, e.headers, e.event_id, e.event_type, e.tenant_id
    FROM unnest($6::uuid[], $7::text[], $8::bytea[], $9::bytea[], $10::jsonb[], $11::text[],
                $12::text[], $13::uuid[])
         WITH ORDINALITY AS e(delivery_id, topic, key, value, headers, event_id, event_type, tenant_id, n)
    JOIN settled USING (delivery_id)
    ORDER BY e.n
)
SELECT delivery_id FROM settled
"""


async def settle_sent(
    connection: Connection,
    sent: list[tuple[UUID, UUID, str, str | None, str | None]],
    events: list[tuple[UUID, OutboxRow]],
) -> set[UUID]:
    """Record as sent each (delivery, claim token, provider, provider's id, language) of
    ``sent``, and queue the event of each that was (``events``: delivery and its outbox
    row); the deliveries whose claim still held (see ``settle``). One statement, atomic on
    its own: no transaction is needed around it."""

    columns = [list(column) for column in zip(*sent, strict=True)]
    event_columns = [list(column) for column in zip(*((d, *row) for d, row in events), strict=True)]
    rows = await connection.fetch(SETTLE_SENT, *columns, *event_columns)
    return {row["delivery_id"] for row in rows}
