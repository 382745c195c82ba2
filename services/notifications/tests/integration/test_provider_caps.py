"""A provider that stalls entirely holds only its own share of the dispatcher's sends: the
SMTP server answering no e-mail at all, or one organisation's SMS provider answering no
request, while the other providers' messages (other organisations', other channels') keep
arriving; once it answers again, each of its messages is sent once. More of the stalled
provider's messages are due than the dispatcher claims at once, ahead of the others, so the
claimer must also keep claiming past them. The real PostgreSQL, a real SMTP server
(aiosmtpd), the real HTTP SMS sink, a real HTTP server for the stalled SMS provider."""

from __future__ import annotations

import asyncio
import collections
import uuid
from collections.abc import AsyncIterator, Collection, Iterator
from typing import Any

import pytest
from dispatch_support import (
    World,
    dispatcher,
    mail_received,
    people,
    plan,
    running,
    sms_received,
    until_settled,
)
from stalls import StallEverySms, StallEverySmtp, smtp_server

from refuge_common.contract.vocabulary import NotificationChannel
from refuge_common.db.pool import tenant_transaction
from refuge_devstack.testing import eventually
from refuge_notifications.adapters import delivery_log
from refuge_notifications.adapters.org_secrets import OrganisationSecrets
from refuge_notifications.service_layer.sms_routing import SmsRouting

pytestmark = pytest.mark.integration
CONCURRENCY = 8
BATCH = 50  # what ``dispatcher`` claims at once (its batch size; more than 4 x CONCURRENCY)
STALLED = BATCH + 10  # more than a claim's worth, due before the others
LEASE_SECONDS = 40  # the others must arrive before any claim lapses: no lapse frees them
TIMEOUT_SECONDS = 30  # above the stall's bound: a stalled message is answered, not timed out


async def _true(value: bool) -> bool:
    return value


async def _sms_through(world: World, tenant: uuid.UUID, url: str) -> None:
    """``tenant``'s SMS go to the webhook provider at ``url``."""

    routing = SmsRouting(OrganisationSecrets(world.wrapper), public_url="http://notifications.test")
    async with tenant_transaction(world.pool, tenant) as connection:
        await routing.configure(connection, tenant, kind="webhook", url=url, secrets={})


@pytest.fixture
def smtp() -> Iterator[tuple[StallEverySmtp, int]]:
    server = StallEverySmtp()
    with smtp_server(server) as port:
        yield server, port


@pytest.fixture
async def stalled_sms() -> AsyncIterator[tuple[StallEverySms, str]]:
    server = StallEverySms()
    url = await server.start()
    try:
        yield server, url
    finally:
        await server.stop()


async def test_an_smtp_server_that_answers_nothing_holds_back_no_sms_and_each_email_is_sent_once(
    world: World, smtp: tuple[StallEverySmtp, int]
) -> None:
    server, port = smtp
    other_tenant = uuid.uuid4()
    persons = await people(world, STALLED // 2)
    strangers = await people(world, STALLED - STALLED // 2, tenant=other_tenant)
    dispatching = dispatcher(
        world,
        smtp_port=port,
        smtp_timeout=TIMEOUT_SECONDS,
        smtp_pool_size=2,
        lease_seconds=LEASE_SECONDS,
        concurrency=CONCURRENCY,
    )
    mails = await plan(world, persons, NotificationChannel.EMAIL)
    mails += await plan(world, strangers, NotificationChannel.EMAIL, tenant=other_tenant)
    async with running(dispatching) as task:
        await eventually(lambda: _true(len(server.keys("received")) == 2))  # both connections stalled
        texts = await plan(world, persons[:5], NotificationChannel.SMS)
        texts += await plan(world, strangers[:5], NotificationChannel.SMS, tenant=other_tenant)

        async def the_texts_arrived() -> bool:
            return set(sms_received(world, texts)) == set(texts)

        await eventually(the_texts_arrived, within=60)
        # An order, not a duration: every text arrived while no e-mail had been answered.
        assert server.keys("answered") == [], "the texts waited for the SMTP server"
        assert len(server.keys("received")) == 2  # no e-mail beyond the two connections went out
        server.release.set()
        found = await until_settled(world, [*mails, *texts], task)

    assert {key: status for key, (status, _) in found.items()} == dict.fromkeys(found, "sent")
    assert collections.Counter(server.keys("received")) == collections.Counter(mails)  # each once
    assert sms_received(world, texts) == collections.Counter(texts)


async def test_one_organisations_stalled_sms_provider_holds_back_no_other_message_and_each_is_sent_once(
    world: World, stalled_sms: tuple[StallEverySms, str]
) -> None:
    provider, url = stalled_sms
    stalled_tenant = uuid.uuid4()
    stalled_persons = await people(world, STALLED, tenant=stalled_tenant)
    await _sms_through(world, stalled_tenant, url)
    persons = await people(world, 5)
    dispatching = dispatcher(
        world, sms_timeout=TIMEOUT_SECONDS, lease_seconds=LEASE_SECONDS, concurrency=CONCURRENCY
    )
    stalled = await plan(world, stalled_persons, NotificationChannel.SMS, tenant=stalled_tenant)
    async with running(dispatching) as task:
        await eventually(lambda: _true(len(provider.keys("received")) > 0))
        texts = await plan(world, persons, NotificationChannel.SMS)
        mails = await plan(world, persons, NotificationChannel.EMAIL)

        async def the_others_arrived() -> bool:
            return set(sms_received(world, texts)) == set(texts) and set(mail_received(world, mails)) == set(
                mails
            )

        await eventually(the_others_arrived, within=60)
        # An order, not a duration: the others arrived while the stalled provider answered none.
        assert provider.keys("answered") == [], "the others waited for the stalled provider"
        assert len(provider.keys("received")) == CONCURRENCY  # its share of the sends, no more
        provider.release.set()
        found = await until_settled(world, [*stalled, *texts, *mails], task)

    assert {key: status for key, (status, _) in found.items()} == dict.fromkeys(found, "sent")
    assert collections.Counter(provider.keys("received")) == collections.Counter(stalled)  # each once
    assert sms_received(world, texts) == collections.Counter(texts)
    assert mail_received(world, mails) == collections.Counter(mails)


async def test_a_claim_leaves_out_the_full_providers_rows_pending_or_lapsed(world: World) -> None:
    """The rows of a (channel, organisation) left out are not claimed, whether pending or
    claimed with a lapsed lease; every other due row is."""

    other = uuid.uuid4()
    sms = await plan(world, await people(world, 2), NotificationChannel.SMS)
    email = await plan(world, await people(world, 2), NotificationChannel.EMAIL)
    others = await plan(world, await people(world, 2, other), NotificationChannel.SMS, other)
    lapsed = await delivery_log.claim_deliveries(world.pool, 100, 0)  # every row, lease 0 s
    assert len(lapsed) == 6
    await asyncio.sleep(0.05)  # the leases lapse
    sms += await plan(world, await people(world, 2), NotificationChannel.SMS)  # pending
    email += await plan(world, await people(world, 2), NotificationChannel.EMAIL)
    leave = [("sms", world.tenant)]
    claimed = await delivery_log.claim_deliveries(world.pool, 100, 60, leave=leave)
    keys = {row["idempotency_key"] for row in claimed}
    assert keys == {*email, *others} and not keys & set(sms)


async def test_two_stalled_sms_providers_together_hold_back_no_other_organisations_sms(
    world: World, stalled_sms: tuple[StallEverySms, str]
) -> None:
    """Each of two organisations' providers holds its cap, and the two caps make every send
    slot: their sends give the slots back once stalled, and a third organisation's SMS go."""

    concurrency = 2  # four send slots in all; each stalled provider takes its two
    first, first_url = stalled_sms
    second = StallEverySms()
    second_url = await second.start()
    try:
        stalled = []
        for url in (first_url, second_url):
            tenant = uuid.uuid4()
            await _sms_through(world, tenant, url)
            stalled += await plan(
                world, await people(world, 4, tenant=tenant), NotificationChannel.SMS, tenant
            )
        persons = await people(world, 3)
        dispatching = dispatcher(
            world, sms_timeout=TIMEOUT_SECONDS, lease_seconds=LEASE_SECONDS, concurrency=concurrency
        )
        async with running(dispatching) as task:
            await eventually(
                lambda: _true(len(first.keys("received")) == len(second.keys("received")) == concurrency)
            )
            texts = await plan(world, persons, NotificationChannel.SMS)

            async def the_texts_arrived() -> bool:
                return set(sms_received(world, texts)) == set(texts)

            await eventually(the_texts_arrived, within=60)
            # An order, not a duration: the texts arrived while neither provider answered.
            assert first.keys("answered") == second.keys("answered") == [], "the texts waited"
            assert len(first.keys("received")) == len(second.keys("received")) == concurrency
            first.release.set()
            second.release.set()
            found = await until_settled(world, [*stalled, *texts], task)
    finally:
        await second.stop()

    assert {key: status for key, (status, _) in found.items()} == dict.fromkeys(found, "sent")
    received = collections.Counter(first.keys("received") + second.keys("received"))
    assert received == collections.Counter(stalled)  # each once
    assert sms_received(world, texts) == collections.Counter(texts)


async def test_a_stalled_providers_backlog_is_not_walked_again_and_again(
    world: World, stalled_sms: tuple[StallEverySms, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """More of a stalled provider's messages are due than the dispatcher queues: with its
    account full, every claim leaves them out and so reads past all of them. The claimer
    waits for a reason to claim again (a new row, the account draining, a poll interval),
    instead of claiming again as soon as it finds the oldest due row overdue."""

    provider, url = stalled_sms
    stalled_tenant = uuid.uuid4()
    await _sms_through(world, stalled_tenant, url)
    backlog = await plan(
        world, await people(world, 4 * BATCH, tenant=stalled_tenant), NotificationChannel.SMS, stalled_tenant
    )
    claims: list[Collection[object]] = []
    claim = delivery_log.claim_deliveries

    async def counted(*args: Any, leave: Collection[object] = (), **options: Any) -> Any:
        claims.append(leave)
        return await claim(*args, leave=leave, **options)

    monkeypatch.setattr(delivery_log, "claim_deliveries", counted)
    dispatching = dispatcher(
        world, sms_timeout=TIMEOUT_SECONDS, lease_seconds=LEASE_SECONDS, concurrency=CONCURRENCY
    )
    async with running(dispatching) as task:
        await eventually(lambda: _true(any(claims) and len(provider.keys("received")) == CONCURRENCY))
        before = len(claims)
        await asyncio.sleep(3)  # the dispatcher's poll interval is 1 s
        # Claimed again as soon as the oldest due row was overdue, it claimed 20 times a second.
        assert len(claims) - before <= 6
        provider.release.set()
        found = await until_settled(world, backlog, task)

    assert {key: status for key, (status, _) in found.items()} == dict.fromkeys(found, "sent")
    assert collections.Counter(provider.keys("received")) == collections.Counter(backlog)  # each once
