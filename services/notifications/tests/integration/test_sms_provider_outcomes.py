"""How the SMS providers read a real HTTP server's answers (the devstack SMS sink on
loopback): a reply is a decision, a connection never made is safe to retry, a request
that went out and got no answer leaves the outcome unknown."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from refuge_common.contract.vocabulary import FailureReason
from refuge_devstack.ports import free_port
from refuge_devstack.sms_sink import Fault, SmsSinkServer, SmsStore
from refuge_notifications.adapters.http_transport import KeepAliveTransport, LeanClient
from refuge_notifications.adapters.outcomes import (
    ClaimLost,
    OutcomeUnknown,
    PermanentFailure,
    TemporaryFailure,
)
from refuge_notifications.adapters.sms_providers import ProviderConfig, SmsMessage, provider_for

pytestmark = pytest.mark.integration
MESSAGE = SmsMessage(to="+33612345678", body="La Cimade : rappel. STOP", idempotency_key="key-1")


@pytest.fixture(scope="module")
def sink() -> Iterator[SmsSinkServer]:
    server = SmsSinkServer(SmsStore(None), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["httpx", "keep-alive", "lean"])
async def client(sink: SmsSinkServer, request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    """Every outcome holds with httpx's own transport, with the keep-alive one under httpx,
    and with the dispatcher's lean client (the same exchange without httpx's objects)."""

    sink.store.messages.clear()
    sink.store.refused.clear()
    sink.store.clear_faults()
    http: httpx.AsyncClient
    if request.param == "lean":
        http = LeanClient(KeepAliveTransport(4), timeout=httpx.Timeout(1.0))
    else:
        transport = KeepAliveTransport(4) if request.param == "keep-alive" else None
        http = httpx.AsyncClient(timeout=httpx.Timeout(1.0), transport=transport)
    async with http:
        yield http


def webhook(sink: SmsSinkServer, **secrets: str) -> ProviderConfig:
    return ProviderConfig(kind="webhook", url=f"{sink.url}/sms", secrets=secrets)


def twilio(sink: SmsSinkServer) -> ProviderConfig:
    return ProviderConfig(
        kind="twilio", url=sink.url, account_sid="AC123", sender="+33700000000", secrets={"auth_token": "tok"}
    )


async def test_the_webhook_gets_json_and_the_idempotency_key_twice(
    sink: SmsSinkServer, client: httpx.AsyncClient
) -> None:
    provider = provider_for(
        client, webhook(sink, token="bearer-secret"), "https://n.example/sms/o/webhook/status"
    )
    identifier = await provider.send(MESSAGE)
    [kept] = sink.store.messages
    assert identifier == kept["sid"]
    assert (kept["to"], kept["body"], kept["idempotency_key"]) == (MESSAGE.to, MESSAGE.body, "key-1")
    assert kept["status_callback"] == "https://n.example/sms/o/webhook/status"
    assert kept["auth"] == "Bearer"  # the token itself is never kept by the sink
    assert kept["user_agent"] == "Refuge-SMS/1"


async def test_twilio_gets_its_form_and_basic_auth(sink: SmsSinkServer, client: httpx.AsyncClient) -> None:
    provider = provider_for(client, twilio(sink), "https://n.example/sms/o/twilio/status")
    sid = await provider.send(MESSAGE)
    [kept] = sink.store.messages
    assert sid == kept["sid"] and kept["shape"] == "twilio" and kept["account"] == "AC123"
    assert (kept["to"], kept["from"], kept["body"]) == (MESSAGE.to, "+33700000000", MESSAGE.body)
    assert (
        kept["auth"] == "Basic AC123" and kept["status_callback"] == "https://n.example/sms/o/twilio/status"
    )
    assert kept["idempotency_key"] is None  # Twilio's API takes none
    assert kept["user_agent"] == "Refuge-SMS/1"


@pytest.mark.parametrize(
    ("status", "retry_after", "outcome"),
    [
        (503, 1, TemporaryFailure),
        (500, None, TemporaryFailure),
        (429, 2, TemporaryFailure),
        (400, None, PermanentFailure),
    ],
)
async def test_a_reply_is_the_providers_decision(
    sink: SmsSinkServer,
    client: httpx.AsyncClient,
    status: int,
    retry_after: int | None,
    outcome: type[Exception],
) -> None:
    for config in (webhook(sink), twilio(sink)):
        sink.store.add_fault(Fault(count=1, status=status, retry_after=retry_after))
        with pytest.raises(outcome) as raised:
            await provider_for(client, config).send(MESSAGE)
        if isinstance(raised.value, TemporaryFailure):
            assert raised.value.retry_after == retry_after
        if isinstance(raised.value, PermanentFailure):
            assert raised.value.reason is FailureReason.REJECTED_BY_PROVIDER
            assert raised.value.provider_code == str(status)
    assert sink.store.messages == []


async def test_a_provider_that_took_the_message_and_never_answered_leaves_it_unknown(
    sink: SmsSinkServer, client: httpx.AsyncClient
) -> None:
    sink.store.add_fault(Fault(count=1, hang_seconds=3))
    with pytest.raises(OutcomeUnknown):
        await provider_for(client, webhook(sink)).send(MESSAGE)
    assert len(sink.store.messages) == 1  # it was delivered: sending again would duplicate it


async def test_a_connection_never_made_carried_nothing(client: httpx.AsyncClient) -> None:
    calls: list[bool] = []

    async def before_send() -> bool:
        calls.append(True)
        return True

    config = ProviderConfig(kind="webhook", url=f"http://127.0.0.1:{free_port()}/sms")
    with pytest.raises(TemporaryFailure):
        await provider_for(client, config).send(MESSAGE, before_send)
    assert calls == [True]  # "sending" was recorded; the dispatcher puts it back to pending


async def test_a_sender_whose_claim_was_lost_sends_nothing(
    sink: SmsSinkServer, client: httpx.AsyncClient
) -> None:
    async def claim_lost() -> bool:
        return False

    with pytest.raises(ClaimLost):
        await provider_for(client, webhook(sink)).send(MESSAGE, claim_lost)
    assert sink.store.messages == []
