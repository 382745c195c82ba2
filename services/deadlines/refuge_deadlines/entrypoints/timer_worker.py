"""The timer worker: fires due reminders into the outbox, exactly once.

Claiming with ``FOR UPDATE SKIP LOCKED`` lets several workers share the timers;
writing ``reminder.due`` to the outbox and marking the timer fired in one
transaction means a worker killed mid-batch leaves its batch pending for another.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import ValidationError
from pydantic_core import to_jsonable_python

from refuge_common.contract.base import EventData
from refuge_common.contract.deadlines import DeadlineMissed, ReminderDue
from refuge_common.contract.envelope import Envelope, to_record
from refuge_common.db.pool import Connection, set_tenant
from refuge_common.db.wakeup import Wakeup
from refuge_common.observability.logging import get_logger
from refuge_deadlines.adapters import deadline_store, store, timer_metrics
from refuge_deadlines.schema import SCHEMA, SOURCE
from refuge_deadlines.service_layer.recompute import EXPIRY

log = get_logger(__name__)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _data_json_sql(model: type[EventData], payload: str) -> str:
    """SQL text of the event data as the CloudEvents SDK writes it, from a payload the model wrote.

    ``json.dumps(model.model_dump(mode="json"))``: the model's fields in declaration
    order, ``", "`` and ``": "`` between them. jsonb keeps each field's value as the
    model wrote it (a UUID, an instant, a string) and prints it back the same way; a
    missing field gets its default, a missing required field makes the whole text NULL
    (and the INSERT fail, as validating it would). ``_matches_sdk`` checks the result.
    """

    parts = []
    for index, (name, field) in enumerate(model.model_fields.items()):
        value = f"({payload} -> {_literal(name)})::text"
        if not field.is_required():
            default = json.dumps(to_jsonable_python(field.get_default(call_default_factory=True)))
            value = f"coalesce({value}, {_literal(default)})"
        parts.append(f"{_literal((', ' if index else '') + json.dumps(name) + ': ')} || {value}")
    return "'{' || " + " || ".join(parts) + " || '}'"


# Every event of a batch in one INSERT, in the order of the claim (``n``): the ids (the
# relay's order within a key) follow it. A reminder's ``reminder.due`` is built here from
# its payload ($1, $2: ctids and positions; $3: the headers every one of them shares);
# other events come built ($4-$11). The first reminder.due comes back for ``_matches_sdk``.
OUTBOX_BATCH = f"""
WITH due AS (
    SELECT s.n, r.tenant_id, gen_random_uuid()::text AS event_id,
           r.payload ->> {_literal(ReminderDue.SUBJECT_FIELD)} AS subject,
           {_data_json_sql(ReminderDue, "r.payload")} AS data
    FROM unnest($1::tid[], $2::int[]) AS s (ctid, n) JOIN reminders AS r ON r.ctid = s.ctid
), event AS (
    SELECT n, {_literal(ReminderDue.TOPIC)} AS topic, convert_to(subject, 'UTF8') AS key,
           convert_to(data, 'UTF8') AS value,
           $3::text::jsonb || jsonb_build_object('ce_id', event_id, 'ce_subject', subject,
                                                 'ce_tenantid', tenant_id::text) AS headers,
           event_id, {_literal(ReminderDue.TYPE)} AS event_type, tenant_id
    FROM due
    UNION ALL
    SELECT n, topic, key, value, headers::jsonb, event_id, event_type, tenant_id
    FROM unnest($4::int[], $5::text[], $6::bytea[], $7::bytea[], $8::text[], $9::text[], $10::text[],
                $11::uuid[]) AS built (n, topic, key, value, headers, event_id, event_type, tenant_id)
), inserted AS (
    INSERT INTO outbox (topic, key, value, headers, event_id, event_type, tenant_id)
    SELECT topic, key, value, headers, event_id, event_type, tenant_id FROM event ORDER BY n
    RETURNING topic, key, value, headers, event_id, event_type, tenant_id
)
SELECT topic, key, value, headers, event_id, tenant_id FROM inserted
WHERE event_type = {_literal(ReminderDue.TYPE)} LIMIT 1
"""


class _EncodingDiffers(Exception):
    """PostgreSQL's reminder.due records differ from the SDK's: the batch is rolled back."""


_sdk_only = False


async def fire_due_reminders(pool: asyncpg.Pool, batch_size: int) -> int:
    """Fire one batch of due timers; return how many fired.

    One transaction, three statements for the whole batch: the claim, one INSERT of
    every event into the outbox, one UPDATE marking the timers fired. PostgreSQL
    builds each ``reminder.due`` record from its timer's payload, so that firing a
    reminder costs this process nothing per timer; the first of each batch is checked
    against the CloudEvents SDK, and after one difference every record is built here,
    by the SDK, for good.
    """

    try:
        return await _fire(pool, batch_size, in_database=not _sdk_only)
    except _EncodingDiffers:
        return await _fire(pool, batch_size, in_database=False)


async def _fire(pool: asyncpg.Pool, batch_size: int, *, in_database: bool) -> int:
    async with pool.acquire() as connection, connection.transaction():
        rows = await store.claim_due_reminders(connection, batch_size, payloads=not in_database)
        if not rows:
            return 0
        now = datetime.now(UTC)  # the firing instant: ce_time of the batch's events
        fired: list[asyncpg.Record] = []
        due: list[tuple[int, Any]] = []  # (position, ctid): built by PostgreSQL
        built: list[tuple[int, Envelope]] = []  # (position, event): built here
        for row in rows:
            if row["kind"] == EXPIRY:
                try:
                    missed = await _expire(connection, row["tenant_id"], row["deadline_id"])
                except DeadlineBusy:
                    continue  # stays pending: the next round tries again
                if missed is not None:
                    built.append((len(fired), Envelope(SOURCE, missed, row["tenant_id"], time=now)))
            elif in_database:
                due.append((len(fired), row["ctid"]))
            else:
                reminder = ReminderDue.model_validate_json(row["payload"])
                built.append((len(fired), Envelope(SOURCE, reminder, row["tenant_id"], time=now)))
            fired.append(row)
        sample = await _add_to_outbox(connection, due, built, now)
        if due and sample is not None and not _matches_sdk(sample, now):
            raise _EncodingDiffers
        await store.mark_fired(connection, fired)
    timer_metrics.observe_fired(fired, datetime.now(UTC))
    return len(fired)


async def _add_to_outbox(
    connection: Connection, due: list[tuple[int, Any]], built: list[tuple[int, Envelope]], now: datetime
) -> asyncpg.Record | None:
    """What ``add_to_outbox`` would write for the batch's events, in one statement; the
    first ``reminder.due`` PostgreSQL built, for ``_matches_sdk``.

    ``add_to_outbox`` runs one INSERT per event, each firing the outbox's statement
    trigger, and one ``to_record`` per event; ``due`` is a list of (position, ctid)
    and ``built`` of (position, event), the position being the timer's in the claim.
    """

    if not due and not built:
        return None
    if not connection.is_in_transaction():
        raise RuntimeError("the outbox must be written inside the transaction of the state change")
    columns: tuple[list[Any], ...] = ([], [], [], [], [], [], [], [])
    positions, topics, keys, values, headers, ids, types, tenants = columns
    for position, envelope in built:
        record = to_record(envelope)
        positions.append(position)
        topics.append(record.topic)
        keys.append(record.key)
        values.append(record.value)
        headers.append(json.dumps({name: value.decode() for name, value in record.headers}))
        ids.append(envelope.id)
        types.append(envelope.type)
        tenants.append(envelope.tenant_id)
    shared = {  # the headers to_record writes, but for ce_id, ce_subject and ce_tenantid
        "ce_source": SOURCE,
        "ce_type": ReminderDue.TYPE,
        "ce_time": now.isoformat().replace("+00:00", "Z"),
        "content-type": "application/json",
        "ce_specversion": "1.0",
    }
    return await connection.fetchrow(
        OUTBOX_BATCH,
        [ctid for _, ctid in due],
        [position for position, _ in due],
        json.dumps(shared),
        *columns,
    )


def _matches_sdk(row: asyncpg.Record, now: datetime) -> bool:
    """True if the record PostgreSQL built is the one ``to_record`` builds for its event."""

    try:
        reminder = ReminderDue.model_validate_json(row["value"])
    except ValidationError:
        reminder = None
    if reminder is not None:
        sdk = to_record(Envelope(SOURCE, reminder, row["tenant_id"], row["event_id"], now))
        expected = (sdk.topic, sdk.key, sdk.value, {name: value.decode() for name, value in sdk.headers})
        headers = row["headers"]
        if isinstance(headers, str):  # a connection without the pool's jsonb codec
            headers = json.loads(headers)
        if (row["topic"], bytes(row["key"]), bytes(row["value"]), headers) == expected:
            return True
    global _sdk_only
    _sdk_only = True
    log.error("timer_outbox_encoding_differs", type=ReminderDue.TYPE, fallback="cloudevents SDK")
    return False


class DeadlineBusy(Exception):
    """A consumer holds the deadline's row right now."""


async def _expire(connection: Connection, tenant_id: UUID, deadline_id: UUID) -> DeadlineMissed | None:
    """deadline.missed if the deadline is still open; None if it was met or cancelled.

    Raises DeadlineBusy if a consumer is changing it right now: the worker tries again
    next round rather than wait, so that the two never deadlock.
    """

    # Deadlines are tenant rows: the worker serves every tenant, one row at a time.
    await set_tenant(connection, tenant_id)
    status = await deadline_store.lock_without_waiting(connection, deadline_id)
    if status is None:
        raise DeadlineBusy
    if status != "open":
        return None
    missed = await deadline_store.mark_missed(connection, deadline_id)
    assert missed is not None
    return DeadlineMissed(
        deadline_id=deadline_id, case_id=missed["case_id"], due=missed["due"], purpose=missed["purpose"]
    )


class TimerWorker:
    """Fires due timers until cancelled, in ``lanes`` concurrent transactions.

    Two lanes by default: while PostgreSQL works on one lane's batch, the other's is
    between statements (a round trip, its commit's flush to disk), so that PostgreSQL
    does not wait for either. SKIP LOCKED keeps the lanes' batches apart, as it does
    those of several processes.
    """

    def __init__(
        self,
        pool_provider: Callable[[], asyncpg.Pool],
        *,
        batch_size: int,
        poll_interval: float,
        lanes: int = 2,
    ) -> None:
        self._pool_provider = pool_provider
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._lanes = lanes

    async def run(self) -> None:
        pool = self._pool_provider()
        async with Wakeup(pool, f"{SCHEMA.schema}_reminders") as wakeup, asyncio.TaskGroup() as tasks:
            for _ in range(self._lanes):
                tasks.create_task(self._lane(pool, wakeup))
            tasks.create_task(self._sample_due(pool))

    async def _lane(self, pool: asyncpg.Pool, wakeup: Wakeup) -> None:
        while True:
            fired = await fire_due_reminders(pool, self._batch_size)
            if fired:
                log.info("timers_fired", count=fired)
            if fired >= self._batch_size:
                continue
            await wakeup.wait(await self._until_next(pool))

    async def _sample_due(self, pool: asyncpg.Pool) -> None:
        # A count over the pending index: every 15 s is plenty for a gauge that is scraped.
        while True:
            async with pool.acquire() as connection:
                await timer_metrics.sample_due(connection)
            await asyncio.sleep(15)

    async def _until_next(self, pool: asyncpg.Pool) -> float:
        """Seconds to sleep: until the next timer, at most the polling interval."""

        async with pool.acquire() as connection:
            upcoming = await store.next_reminder_at(connection)
        if upcoming is None:
            return self._poll_interval
        return min(self._poll_interval, (upcoming - datetime.now(UTC)).total_seconds())
