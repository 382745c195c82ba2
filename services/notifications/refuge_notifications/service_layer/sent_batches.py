"""The two writes of every send, group-committed (``group_commit``): *sending* before the
provider call, *sent* with its event after it.

One by one, these two transactions were most of the dispatcher's database work for a
message. Grouped, each row is still written under its own claim token (a row whose claim
lapsed, or that a withdrawal or an erasure suppressed, is refused alone) and each caller
still waits for its own row's commit: no provider is called before its row is *sending*.
If a group's write fails, its rows stay as they were: *claimed* rows are claimed again
when their lease lapses (nothing was sent), *sending* ones are settled unknown (never
sent twice).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from refuge_common.contract.envelope import new_event
from refuge_common.contract.notifications import NotificationSent
from refuge_common.messaging.outbox import outbox_row
from refuge_common.observability.logging import get_logger
from refuge_notifications import metrics
from refuge_notifications.adapters import delivery_groups
from refuge_notifications.schema import SOURCE
from refuge_notifications.service_layer import events
from refuge_notifications.service_layer.group_commit import GroupCommit
from refuge_notifications.service_layer.outgoing import Outgoing

log = get_logger(__name__)


@dataclass(frozen=True)
class _Sent:
    row: asyncpg.Record
    outgoing: Outgoing
    provider_id: str | None


class SendWrites:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._sending: GroupCommit[tuple[UUID, UUID, float], bool] = GroupCommit(self._write_sending)
        self._sent: GroupCommit[_Sent, None] = GroupCommit(self._write_sent)

    async def begin_sending(self, row: asyncpg.Record, lease_seconds: float) -> bool:
        """Commit ``row`` as *sending*, for ``lease_seconds``; False if its claim no longer
        holds it (the provider must then not be called)."""

        return await self._sending.submit((row["delivery_id"], row["claim_token"], lease_seconds))

    async def finish_sent(self, row: asyncpg.Record, outgoing: Outgoing, provider_id: str | None) -> None:
        """Record that the provider took ``row``'s message, with its event; once committed."""

        await self._sent.submit(_Sent(row, outgoing, provider_id))

    async def _write_sending(self, group: list[tuple[UUID, UUID, float]]) -> list[bool]:
        async with self._pool.acquire() as connection:
            began = await delivery_groups.begin_sending_many(connection, group)
        return [delivery_id in began for delivery_id, _, _ in group]

    async def _write_sent(self, group: list[_Sent]) -> list[None]:
        # The whole group, every tenant's rows, in one statement: neither the log nor the
        # outbox is tenant-scoped (no row-level security), and one statement is its own
        # transaction, so each row and its event still commit together or not at all.
        events = [
            (s.row["delivery_id"], outbox_row(new_event(SOURCE, _event(s), s.row["tenant_id"])))
            for s in group
        ]
        sent = [
            (
                s.row["delivery_id"],
                s.row["claim_token"],
                s.outgoing.provider,
                s.provider_id,
                s.outgoing.language,
            )
            for s in group
        ]
        async with self._pool.acquire() as connection:
            settled = await delivery_groups.settle_sent(connection, sent, events)
        late = []
        by_channel: collections.Counter[str] = collections.Counter()
        for s in group:
            if s.row["delivery_id"] in settled:
                by_channel[s.row["channel"]] += 1
            else:  # another dispatcher settled it as unknown meanwhile: the provider did take it
                late.append(str(s.row["delivery_id"]))
        for channel, count in by_channel.items():
            metrics.count_final(channel, "sent", count)
        if settled:  # one line for the group: a JSON line per message cost about 12 µs of CPU
            log.info("notifications_sent", delivery_ids=sorted(map(str, settled)), count=len(settled))
        for delivery_id in late:
            log.warning("notification_sent_after_settled", delivery_id=delivery_id)
        return [None] * len(group)


def _event(sent: _Sent) -> NotificationSent:
    return NotificationSent(
        provider=sent.outgoing.provider, **events.common(sent.row, sent.outgoing.language)
    )
