"""How the SMTP sender reads a real server's answers (aiosmtpd on loopback): a reply is a
decision, a connection that breaks after the message went out leaves the outcome unknown."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from refuge_devstack.ports import free_port
from refuge_notifications.adapters.email_sender import (
    ClaimLost,
    OutcomeUnknown,
    PermanentFailure,
    SmtpSender,
    TemporaryFailure,
)
from refuge_notifications.domain.rendering import RenderedEmail

pytestmark = pytest.mark.integration


class Server:
    """Answers DATA as told: a reply line, or a dropped connection."""

    def __init__(self) -> None:
        self.answer = "250 OK"
        self.recipient_answer = "250 OK"
        self.received: list[bytes] = []
        self.sessions: set[tuple[str, int]] = set()  # client addresses: one per connection
        self.drop_on_mail = False  # close the connection as a server does an idle one

    async def handle_MAIL(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.sessions.add(tuple(session.peer))
        if self.drop_on_mail:
            self.drop_on_mail = False
            server.transport.close()
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        envelope.rcpt_tos.append(address)
        return self.recipient_answer

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received.append(bytes(envelope.content))
        if self.answer == "drop":
            server.transport.close()
        return self.answer


@pytest.fixture
def smtp() -> Iterator[tuple[Server, SmtpSender]]:
    server = Server()
    port = free_port()
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield server, SmtpSender(host="127.0.0.1", port=port, sender="no-reply@refuge.test", timeout=5)
    finally:
        controller.stop()


def _message(sender: SmtpSender) -> Any:
    rendered = RenderedEmail(subject="Délai", text="Bonjour", html="<p>Bonjour</p>", language="fr")
    return sender.build("caseworker@ngo.test", rendered, "key123")


async def test_an_accepted_message_arrives_once_with_its_message_id(smtp: tuple[Server, SmtpSender]) -> None:
    server, sender = smtp
    await sender.send(_message(sender))
    assert len(server.received) == 1 and b"Message-ID: <key123@refuge.notifications>" in server.received[0]


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [("550 No such user", PermanentFailure), ("451 Try later", TemporaryFailure), ("drop", OutcomeUnknown)],
)
async def test_the_servers_answer_to_the_message_decides_the_outcome(
    smtp: tuple[Server, SmtpSender], answer: str, outcome: type[Exception]
) -> None:
    server, sender = smtp
    server.answer = answer
    with pytest.raises(outcome):
        await sender.send(_message(sender))
    assert len(server.received) == 1


async def test_a_server_that_cannot_be_reached_never_had_the_message() -> None:
    sender = SmtpSender(host="127.0.0.1", port=free_port(), sender="no-reply@refuge.test", timeout=2)
    with pytest.raises(TemporaryFailure):
        await sender.send(_message(sender))


async def test_sending_is_recorded_only_once_the_server_took_sender_and_recipient(
    smtp: tuple[Server, SmtpSender],
) -> None:
    server, sender = smtp
    calls: list[int] = []

    async def before_data() -> bool:
        calls.append(len(server.received))
        return True

    await sender.send(_message(sender), before_data=before_data)
    assert calls == [0] and len(server.received) == 1

    server.recipient_answer = "550 No such user"
    with pytest.raises(PermanentFailure):
        await sender.send(_message(sender), before_data=before_data)
    assert calls == [0]  # refused before DATA: nothing was about to be delivered


async def test_a_sender_whose_claim_was_lost_sends_nothing(smtp: tuple[Server, SmtpSender]) -> None:
    server, sender = smtp

    async def claim_lost() -> bool:
        return False

    with pytest.raises(ClaimLost):
        await sender.send(_message(sender), before_data=claim_lost)
    assert server.received == []


async def test_one_connection_carries_several_messages_and_a_dropped_one_is_replaced(
    smtp: tuple[Server, SmtpSender],
) -> None:
    server, sender = smtp
    calls: list[str] = []

    async def before_data() -> bool:
        calls.append("sending")
        return True

    for _ in range(3):
        await sender.send(_message(sender), before_data)
    assert len(server.received) == 3 and len(server.sessions) == 1  # reused, not reconnected

    # The server closed the idle connection: found out at MAIL, before anything was handed
    # over, so the message goes once over a new connection, neither failed nor doubled.
    server.drop_on_mail = True
    await sender.send(_message(sender), before_data)
    assert len(server.received) == 4 and len(server.sessions) == 2
    assert calls == ["sending"] * 4
    await sender.aclose()
