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

from refuge_common.contract.deadlines import DeadlineMissed, ReminderDue
from refuge_common.contract.envelope import Envelope, new_event, to_record
from refuge_common.db.pool import Connection, set_tenant
from refuge_common.db.wakeup import Wakeup
from refuge_common.observability.logging import get_logger
from refuge_deadlines.adapters import deadline_store, store
from refuge_deadlines.schema import SCHEMA, SOURCE
from refuge_deadlines.service_layer.recompute import EXPIRY

log = get_logger(__name__)


async def fire_due_reminders(pool: asyncpg.Pool, batch_size: int) -> int:
    """Fire one batch of due timers; return how many fired.

    One transaction, three statements for the whole batch: the claim, one INSERT of
    every event into the outbox, one UPDATE marking the timers fired.
    """

    async with pool.acquire() as connection, connection.transaction():
        rows = await store.claim_due_reminders(connection, batch_size)
        if not rows:
            return 0
        events, fired = [], []
        for row in rows:
            if row["kind"] == EXPIRY:
                try:
                    missed = await _expire(connection, row["tenant_id"], row["deadline_id"])
                except DeadlineBusy:
                    continue  # stays pending: the next round tries again
                if missed is not None:
                    events.append(new_event(SOURCE, missed, row["tenant_id"]))
            else:
                reminder = ReminderDue.model_validate_json(row["payload"])
                events.append(new_event(SOURCE, reminder, row["tenant_id"]))
            fired.append(row)
        await _add_to_outbox(connection, events)
        await store.mark_fired(connection, fired)
    return len(fired)


# WITH ORDINALITY ... ORDER BY: ids (the relay's order within a key) follow the events' order.
OUTBOX_BATCH = """
INSERT INTO outbox (topic, key, value, headers, event_id, event_type, tenant_id)
SELECT topic, key, value, headers::jsonb, event_id, event_type, tenant_id
FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::text[], $5::text[], $6::text[], $7::uuid[])
     WITH ORDINALITY AS event (topic, key, value, headers, event_id, event_type, tenant_id, n)
ORDER BY n
"""


async def _add_to_outbox(connection: Connection, events: list[Envelope]) -> None:
    """``add_to_outbox``'s rows, in the same order, in one statement.

    ``add_to_outbox`` runs one INSERT per event (``executemany``), each firing the
    outbox's statement trigger, and one ``to_record`` per event; here a batch is one
    INSERT, and its records come from ``_record`` (see there).
    """

    if not events:
        return
    if not connection.is_in_transaction():
        raise RuntimeError("the outbox must be written inside the transaction of the state change")
    encode = _record if _matches_sdk(events[0]) else _sdk_record
    columns: tuple[list[Any], ...] = ([], [], [], [], [], [], [])
    topics, keys, values, headers, ids, types, tenants = columns
    for envelope in events:
        topic, key, value, header_map = encode(envelope)
        topics.append(topic)
        keys.append(key)
        values.append(value)
        headers.append(json.dumps(header_map))
        ids.append(envelope.id)
        types.append(envelope.type)
        tenants.append(envelope.tenant_id)
    await connection.execute(OUTBOX_BATCH, *columns)


Record = tuple[str, bytes, bytes, dict[str, str]]


def _sdk_record(envelope: Envelope) -> Record:
    """What ``add_to_outbox`` writes for ``envelope``: ``to_record``, through the CloudEvents SDK."""

    record = to_record(envelope)
    return record.topic, record.key, record.value, {name: value.decode() for name, value in record.headers}


def _record(envelope: Envelope) -> Record:
    """``_sdk_record`` without the SDK's per-event work (a third of the worker's CPU).

    The same binary-mode record: the ``ce_*`` headers of the attributes ``to_record``
    sets, ``content-type``, the data as the SDK's JSON format writes it (``json.dumps``
    of the model's JSON dump, default separators), the subject as key. Header order
    does not matter: the outbox keeps them as jsonb. ``_matches_sdk`` compares the two
    on the first event of every batch.
    """

    subject = envelope.subject
    time = envelope.time.isoformat()
    if time.endswith("+00:00"):
        time = time[:-6] + "Z"
    headers = {
        "ce_id": envelope.id,
        "ce_source": envelope.source,
        "ce_type": envelope.type,
        "ce_subject": subject,
        "ce_time": time,
        "content-type": "application/json",
        "ce_specversion": "1.0",
    }
    if envelope.tenant_id is not None:
        headers["ce_tenantid"] = str(envelope.tenant_id)
    value = json.dumps(envelope.data.model_dump(mode="json")).encode()
    return envelope.topic, subject.encode(), value, headers


_sdk_only = False


def _matches_sdk(envelope: Envelope) -> bool:
    """True while ``_record`` and the SDK agree; after one difference, the SDK for good."""

    global _sdk_only
    if _sdk_only:
        return False
    if _record(envelope) == _sdk_record(envelope):
        return True
    _sdk_only = True
    log.error("timer_outbox_encoding_differs", type=envelope.type, fallback="cloudevents SDK")
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

    Two lanes by default: while one lane's batch is in PostgreSQL (claim, insert,
    update, commit), the other builds its events, so that neither the process nor the
    database waits for the other. SKIP LOCKED keeps the lanes' batches apart, as it
    does those of several processes.
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
        async with Wakeup(pool, f"{SCHEMA.schema}_reminders") as wakeup, asyncio.TaskGroup() as lanes:
            for _ in range(self._lanes):
                lanes.create_task(self._lane(pool, wakeup))

    async def _lane(self, pool: asyncpg.Pool, wakeup: Wakeup) -> None:
        while True:
            fired = await fire_due_reminders(pool, self._batch_size)
            if fired:
                log.info("timers_fired", count=fired)
            if fired >= self._batch_size:
                continue
            await wakeup.wait(await self._until_next(pool))

    async def _until_next(self, pool: asyncpg.Pool) -> float:
        """Seconds to sleep: until the next timer, at most the polling interval."""

        async with pool.acquire() as connection:
            upcoming = await store.next_reminder_at(connection)
        if upcoming is None:
            return self._poll_interval
        return min(self._poll_interval, (upcoming - datetime.now(UTC)).total_seconds())
