"""Sends flow on their own: one slow exchange with a provider holds its own send only, not
the messages claimed after it (the SMS, the other e-mails, another organisation's), and is
still sent once. A real SMTP server (aiosmtpd) that keeps one recipient's message waiting
for its reply, the real HTTP SMS sink, the real PostgreSQL."""

from __future__ import annotations

import asyncio
import collections
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from dispatch_support import (
    World,
    dispatcher,
    people,
    plan,
    running,
    sms_received,
    until_settled,
)
from stalls import smtp_server

from refuge_common.contract.vocabulary import NotificationChannel
from refuge_devstack.testing import eventually

pytestmark = pytest.mark.integration
# The slow reply is held until the test has seen the others arrive; this only bounds a
# failing run (below the dispatcher's SMTP timeout, so that the slow one is still sent).
STALL_AT_MOST_SECONDS = 20
SMTP_TIMEOUT_SECONDS = 30


class StallingServer:
    """Takes every message; the reply to the one for ``slow`` waits for ``release``.

    ``log`` is what happened, in order: ("received", key) as each message arrives, and
    ("answered", key) once the slow one's reply is given."""

    def __init__(self) -> None:
        self.slow: str | None = None
        self.stalled = threading.Event()
        self.release = threading.Event()
        self.log: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        key = envelope.content.split(b"Message-ID: <", 1)[1].split(b"@", 1)[0].decode()
        with self._lock:
            self.log.append(("received", key))
        if self.slow in envelope.rcpt_tos:
            self.stalled.set()
            await asyncio.to_thread(self.release.wait, STALL_AT_MOST_SECONDS)
            with self._lock:
                self.log.append(("answered", key))
        return "250 OK"

    def events(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self.log)


@pytest.fixture
def smtp() -> Iterator[tuple[StallingServer, int]]:
    server = StallingServer()
    with smtp_server(server) as port:
        yield server, port


async def test_a_stalled_smtp_reply_holds_back_no_other_message_and_is_sent_once(
    world: World, smtp: tuple[StallingServer, int]
) -> None:
    server, port = smtp
    persons = await people(world, 3)
    other_tenant = uuid.uuid4()
    [stranger] = await people(world, 1, tenant=other_tenant)
    server.slow = f"{persons[0]}@example.org"
    dispatching = dispatcher(world, smtp_port=port, smtp_timeout=SMTP_TIMEOUT_SECONDS)
    async with running(dispatching) as task:
        [slow] = await plan(world, [persons[0]], NotificationChannel.EMAIL)
        assert await asyncio.to_thread(server.stalled.wait, 30), "the slow e-mail never reached DATA"
        # Planned while the slow reply is awaited: claimed after it, by the same dispatcher.
        mails = await plan(world, persons[1:], NotificationChannel.EMAIL)
        mails += await plan(world, [stranger], NotificationChannel.EMAIL, tenant=other_tenant)
        texts = await plan(world, persons, NotificationChannel.SMS)
        texts += await plan(world, [stranger], NotificationChannel.SMS, tenant=other_tenant)

        async def the_others_arrived() -> bool:
            received = {key for what, key in server.events() if what == "received"}
            return set(mails) <= received and set(sms_received(world, texts)) == set(texts)

        await eventually(the_others_arrived, within=60)
        # An order, not a duration: each of the others arrived before the slow reply was given.
        events = server.events()
        assert ("answered", slow) not in events, "the others waited for the slow reply"
        server.release.set()
        found = await until_settled(world, [slow, *mails, *texts], task)

    assert {key: status for key, (status, _) in found.items()} == dict.fromkeys(found, "sent")
    received = collections.Counter(key for what, key in server.events() if what == "received")
    assert received == collections.Counter([slow, *mails])  # the slow one once, as each other
    assert sms_received(world, texts) == collections.Counter(texts)


async def test_a_message_queued_behind_a_stalled_send_past_its_lease_is_sent_once(
    world: World, smtp: tuple[StallingServer, int]
) -> None:
    # One send at a time to a provider account, a lease of a second: the second e-mail waits
    # for the SMTP server past its lease, and meanwhile the dispatcher's own next claim takes
    # its row again (a new claim token).
    server, port = smtp
    persons = await people(world, 2)
    server.slow = f"{persons[0]}@example.org"
    dispatching = dispatcher(
        world, smtp_port=port, smtp_timeout=SMTP_TIMEOUT_SECONDS, lease_seconds=1, concurrency=1
    )
    async with running(dispatching) as task:
        [slow] = await plan(world, [persons[0]], NotificationChannel.EMAIL)
        assert await asyncio.to_thread(server.stalled.wait, 30), "the slow e-mail never reached DATA"
        [mail] = await plan(world, [persons[1]], NotificationChannel.EMAIL)
        first_claim = await eventually(
            lambda: world.owner.fetchval(
                "SELECT claim_token FROM deliveries WHERE idempotency_key = $1 AND status = 'claimed'", mail
            )
        )
        await eventually(
            lambda: world.owner.fetchval(
                "SELECT claim_token <> $2 FROM deliveries WHERE idempotency_key = $1", mail, first_claim
            )
        )
        assert [key for what, key in server.events() if what == "received"] == [slow]  # still behind it
        server.release.set()
        found = await until_settled(world, [slow, mail], task)

    assert {key: status for key, (status, _) in found.items()} == {slow: "sent", mail: "sent"}
    assert [key for what, key in server.events() if what == "received"] == [slow, mail]  # each once
