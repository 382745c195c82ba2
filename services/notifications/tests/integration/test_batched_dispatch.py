"""The dispatcher's batches on the real PostgreSQL and sinks: what a batch's messages depend
on is read when it is claimed, per message (an erased person or a withdrawn consent stops
that message and no other), and the grouped writes keep each row's own fence."""

from __future__ import annotations

import asyncio
import collections
import uuid

import pytest
from dispatch_support import (
    World,
    dispatch_until_settled,
    dispatcher,
    mail_received,
    people,
    plan,
    sms_received,
)

from refuge_common.contract.vocabulary import NotificationChannel
from refuge_notifications.adapters import delivery_log
from refuge_notifications.service_layer.outgoing import Outgoing
from refuge_notifications.service_layer.sent_batches import SendWrites

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("channel", [NotificationChannel.SMS, NotificationChannel.EMAIL])
async def test_one_batch_reaches_everyone_but_the_erased_person_and_the_one_who_withdrew(
    world: World, channel: NotificationChannel
) -> None:
    persons = await people(world, 5)
    keys = await plan(world, persons, channel)
    # Between planning and the claim: one person's key is destroyed (erasure), another
    # withdraws consent. Written straight to the tables, before the events that would also
    # suppress their rows are applied: only the claim-time read can stop these two.
    async with world.owner.acquire() as connection:
        await connection.execute("DELETE FROM keyring.subject_keys WHERE subject_id = $1", persons[1])
        await connection.execute(
            "UPDATE consents SET given = false, recorded_at = now() WHERE person_id = $1 AND channel = $2",
            persons[3],
            channel.value,
        )

    statuses = await dispatch_until_settled(world, keys, dispatcher(world))

    assert statuses[keys[1]] == ("suppressed", "erased")
    assert statuses[keys[3]] == ("suppressed", "opted_out")
    sent = [keys[0], keys[2], keys[4]]
    assert all(statuses[key][0] == "sent" for key in sent)
    received = sms_received(world, keys) if channel is NotificationChannel.SMS else mail_received(world, keys)
    assert received == collections.Counter(sent)  # each once, and nothing to the two others
    events = await world.owner.fetch(
        "SELECT event_type, count(*) AS n FROM outbox WHERE tenant_id = $1 GROUP BY event_type", world.tenant
    )
    counts = {row["event_type"].split(".")[-2]: row["n"] for row in events}
    assert counts["sent"] >= 3 and counts["suppressed"] >= 2
    # The grouped events are outbox rows like any other: headers an object, one row each.
    shapes = await world.owner.fetch(
        "SELECT DISTINCT jsonb_typeof(headers) AS shape, count(*) OVER (PARTITION BY event_id) AS copies "
        "FROM outbox WHERE tenant_id = $1",
        world.tenant,
    )
    assert {(row["shape"], row["copies"]) for row in shapes} == {("object", 1)}


async def test_a_withdrawal_after_the_claim_is_refused_at_sending_and_only_that_row(world: World) -> None:
    persons = await people(world, 2)
    await plan(world, persons, NotificationChannel.SMS)
    claimed = await delivery_log.claim_deliveries(world.pool, 10, 30)
    assert len(claimed) == 2
    async with world.owner.acquire() as connection:  # what a consent withdrawal does meanwhile
        await delivery_log.suppress_open_deliveries(connection, world.tenant, persons[1], "sms", "opted_out")
    by_person = {row["recipient_id"]: row for row in claimed}

    writes = SendWrites(world.pool)
    began = await asyncio.gather(
        writes.begin_sending(by_person[persons[0]], 30), writes.begin_sending(by_person[persons[1]], 30)
    )

    assert list(began) == [True, False]  # one group, each row fenced by its own claim
    rows = await world.owner.fetch(
        "SELECT recipient_id, status FROM deliveries WHERE recipient_id = ANY($1::uuid[])", persons
    )
    statuses = {row["recipient_id"]: row["status"] for row in rows}
    assert statuses == {persons[0]: "sending", persons[1]: "suppressed"}


async def test_a_dispatcher_that_died_after_committing_sending_is_never_sent_again(world: World) -> None:
    [person] = await people(world, 1)
    keys = await plan(world, [person], NotificationChannel.SMS)
    [row] = await delivery_log.claim_deliveries(world.pool, 10, 30)
    # The dead dispatcher: *sending* committed (lease of a second), then gone before the call.
    assert await SendWrites(world.pool).begin_sending(row, 1)

    statuses = await dispatch_until_settled(world, keys, dispatcher(world, lease_seconds=1))

    assert statuses[keys[0]] == ("unknown", "dispatcher stopped during the provider call")
    assert sms_received(world, keys) == collections.Counter()  # not sent again by the next one


async def test_a_group_of_sends_of_two_tenants_settles_each_row_under_its_claim_with_its_event(
    world: World,
) -> None:
    # Settled in one statement without a transaction around it: each row still needs its own
    # claim, and gets its own event, of its own tenant, only if it was settled.
    other = uuid.uuid4()
    await plan(world, [uuid.uuid4(), uuid.uuid4()], NotificationChannel.SMS)
    await plan(world, [uuid.uuid4()], NotificationChannel.SMS, tenant=other)
    claimed = await delivery_log.claim_deliveries(world.pool, 10, 30)
    assert len(claimed) == 3
    writes = SendWrites(world.pool)
    assert all(await asyncio.gather(*(writes.begin_sending(row, 30) for row in claimed)))
    lapsed = next(row for row in claimed if row["tenant_id"] == world.tenant)
    async with world.owner.acquire() as connection:  # its lease lapsed and another took it
        await connection.execute(
            "UPDATE deliveries SET claim_token = gen_random_uuid() WHERE delivery_id = $1",
            lapsed["delivery_id"],
        )

    async def no_call(_before: object) -> str | None:
        raise AssertionError("nothing is sent here")

    outgoing = Outgoing(send=no_call, timeout=1.0, provider="sms-webhook", language="fr")
    await asyncio.gather(*(writes.finish_sent(row, outgoing, f"SM{row['delivery_id']}") for row in claimed))

    ids = [row["delivery_id"] for row in claimed]
    rows = await world.owner.fetch(
        "SELECT delivery_id, status, provider_message_id FROM deliveries WHERE delivery_id = ANY($1::uuid[])",
        ids,
    )
    expected = {
        row["delivery_id"]: ("sending", None) if row is lapsed else ("sent", f"SM{row['delivery_id']}")
        for row in claimed
    }
    assert {row["delivery_id"]: (row["status"], row["provider_message_id"]) for row in rows} == expected
    events = await world.owner.fetch(
        "SELECT tenant_id, event_type, value FROM outbox WHERE event_type LIKE '%.sent%'"
    )
    reported = {
        row["delivery_id"]: [
            (e["tenant_id"], e["event_type"])
            for e in events
            if str(row["delivery_id"]).encode() in e["value"]
        ]
        for row in claimed
    }
    assert reported[lapsed["delivery_id"]] == []
    for row in claimed:
        if row is not lapsed:
            [(tenant, event_type)] = reported[row["delivery_id"]]
            assert tenant == row["tenant_id"] and event_type.endswith(".sent.v1")
