"""The dispatcher: sends planned deliveries, at most once each (DESIGN.md).

pending -> claimed -> sending -> sent | failed | unknown (| suppressed), each step committed:

- *claimed* (under a lease) while the message is composed. A dispatcher that dies
  here never called the provider: the lease lapses and the delivery is claimed again.
- *sending* is committed at the last instant before anything can be delivered: for
  SMTP once the server has accepted sender and recipient, just before DATA; for an SMS
  provider just before the HTTP request. A dispatcher that dies after it leaves a row
  nobody can settle for sure: the provider may have taken the message. When its lease
  lapses it is settled as *unknown* and reported as ``notification.failed``
  (``outcome_unknown``), never sent again: a second copy of a message to a person at risk
  is a harm too. The same holds when the connection breaks after the message went out
  (SMTP during DATA; HTTP after the connection was made: timeout, disconnect).
- A claim token fences a dispatcher whose lease lapsed: its late writes change nothing.
  A consent withdrawal or an erasure settles pending and claimed rows as *suppressed*;
  a dispatcher that had claimed one then finds its ``begin_sending`` refused and sends
  nothing.

Composing (``service_layer.composing``) checks a beneficiary message again at the last
moment (erased, consent, contact, quiet hours, expiry); settling
(``service_layer.settling``) writes each outcome under the claim, with its event.

For throughput, the work around the sends is batched without merging any row's fate
with another's: a batch is claimed in one statement and what its messages depend on is
read in one transaction per tenant; *sending* and *sent* are group-committed
(``service_layer.sent_batches``), each row under its own claim token, each send waiting
for its own row's commit. The sends themselves are not batched (``service_layer.in_flight``):
each runs on its own, at most ``concurrency`` to one provider account (SMTP: its pool) and
twice that in all, and more rows are claimed as the claimed ones take slots, not once a
batch is done, so a slow SMTP server or SMS provider holds only its own sends back, not
every other tenant's and channel's; one that stalls entirely holds at most half the slots,
and those for 5 s only (then its own account's places alone), and no more of its rows are
claimed while a batch of them waits for it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import httpx

from refuge_common.contract.vocabulary import FailureReason
from refuge_common.crypto.keyring import Keyring
from refuge_common.db.wakeup import Wakeup
from refuge_common.messaging.consumer import describe_failure
from refuge_common.observability.logging import get_logger
from refuge_notifications import metrics
from refuge_notifications.adapters import delivery_log
from refuge_notifications.adapters.email_sender import SmtpSender
from refuge_notifications.adapters.http_transport import keep_alive_client
from refuge_notifications.adapters.outcomes import (
    ClaimLost,
    OutcomeUnknown,
    PermanentFailure,
    TemporaryFailure,
)
from refuge_notifications.adapters.rate_limits import ProviderRateLimits
from refuge_notifications.schema import SCHEMA
from refuge_notifications.service_layer import settling
from refuge_notifications.service_layer.composing import Composer
from refuge_notifications.service_layer.in_flight import InFlight
from refuge_notifications.service_layer.outgoing import BeneficiaryChannels, Clock, Outgoing, utc_now
from refuge_notifications.service_layer.sent_batches import SendWrites

# The composition root builds the dispatcher from these.
__all__ = ["BeneficiaryChannels", "Clock", "Dispatcher", "utc_now"]

log = get_logger(__name__)
RATE_RETRY_SECONDS = 1.0
GAUGE_SAMPLE_SECONDS = 5.0
STOPPED_DURING_CALL = "dispatcher stopped during the provider call"
# Connections to SMS providers, in send slots: the slots' own, and room for six providers
# stalled at once (each holds at most half the slots' worth: ``_account_cap``).
STALLED_CONNECTIONS_FACTOR = 4


_Batch = tuple[list[asyncpg.Record], list[Outgoing | Exception]]


@dataclass(frozen=True)
class _Taken:
    provider_id: str | None  # the provider's id for the message, if it gave one


class Dispatcher:
    def __init__(
        self,
        pool_provider: Callable[[], asyncpg.Pool],
        keyring: Keyring,
        email: SmtpSender,
        *,
        max_attempts: int,
        lease_seconds: int,
        batch_size: int = 50,
        poll_interval: float = 1.0,
        beneficiaries: BeneficiaryChannels | None = None,
        clock: Clock = utc_now,
        smtp_rate_per_second: int = 0,
        sms_rate_per_second: int = 0,
        concurrency: int = 1,
    ) -> None:
        self._pool_provider = pool_provider
        self._writes: SendWrites | None = None
        self._composer = Composer(keyring, email, beneficiaries, clock)
        self._max_attempts = max_attempts
        self._lease_seconds = lease_seconds
        self._concurrency = max(1, concurrency)  # in flight to one provider account, at most
        # In flight in all: twice what one account may hold, so that a stalled provider leaves
        # the others at least as many slots as it holds, and a healthy provider alone still
        # gets ``concurrency`` (half of it cost a single SMS account 40% of its throughput).
        self._slots = 2 * self._concurrency
        # Enough claimed rows to keep every slot busy, few enough that none waits out its lease.
        self._batch_size = max(batch_size, 4 * self._concurrency)
        self._email = email
        self._poll_interval = poll_interval
        self._sms_timeout = beneficiaries.sms_timeout if beneficiaries else 15.0
        self._clock = clock
        self._rates = ProviderRateLimits()
        self._sampled_at = float("-inf")
        self._abandoned_checked_at = float("-inf")
        self._default_rates = {"smtp": smtp_rate_per_second, "sms": sms_rate_per_second}

    async def run(self) -> None:
        pool = self._pool_provider()
        self._writes = SendWrites(pool)
        timeout = self._sms_timeout
        # One client for every SMS provider: keep-alive connections, more than sends in flight
        # (so that none waits for a pooled connection, which would read as a provider outage):
        # stalled sends give their slot back and keep their connection (``in_flight``).
        connections = STALLED_CONNECTIONS_FACTOR * self._slots
        async with (
            keep_alive_client(connections, httpx.Timeout(timeout, connect=min(5.0, timeout))) as http,
            Wakeup(pool, f"{SCHEMA.schema}_deliveries") as wakeup,
            contextlib.aclosing(self._email),
            # Last, so ended first: no send outlives its client. An account full with a claim's
            # worth queued wakes the claimer when it drains, as a new row would.
            InFlight(self._slots, full_at=self._batch_size, unblocked=wakeup.nudge) as sends,
        ):
            while True:
                await self._sample_gauge(pool)
                await self._settle_abandoned(pool)
                # A batch queued for slots is enough to keep every slot busy while the next is
                # claimed; more would only wait, and behind slow sends wait out its lease.
                if not await sends.room(below=self._batch_size, seconds=self._poll_interval):
                    continue
                lease_ends = time.monotonic() + self._lease_seconds  # no later than the claim's
                leave = sends.full_scopes()
                claimed, composed = await self._claim_batch(pool, http, leave)
                for row, message in zip(claimed, composed, strict=True):
                    job = self._guarded(pool, row, message, lease_ends, sends)
                    if isinstance(message, Exception):
                        sends.add(job, needs_slot=False)
                    else:
                        sends.add(
                            job,
                            account=message.rate_key,
                            cap=self._account_cap(message),
                            scope=(row["channel"], row["tenant_id"]),
                            deadline=lease_ends,
                        )
                # Short of a batch: nothing more is due, but maybe full accounts' rows, overdue
                # (a stalled provider's backlog), which the next due row's time would have us
                # read past again at once, 20 times a second. A new row, an account draining or
                # another organisation's deferred row coming due (a poll interval late) wake it.
                if len(claimed) < self._batch_size:
                    await wakeup.wait(self._poll_interval if leave else await self._until_next(pool))

    def _account_cap(self, outgoing: Outgoing) -> int:
        """Sends one provider account may have in slots: a stalled one holds no more. SMTP:
        its connections, at most (more would wait for one inside a slot)."""

        if outgoing.provider == "smtp":
            return min(self._email.pool_size, self._concurrency)
        return self._concurrency

    async def _claim_batch(
        self, pool: asyncpg.Pool, http: httpx.AsyncClient, leave: Collection[Any]
    ) -> _Batch:
        """Claim due deliveries (none of the (channel, tenant) pairs in ``leave``: their
        provider has a claim's worth queued) and compose them: what the messages depend on
        is read for the whole batch at once (one transaction per tenant)."""

        claimed = await delivery_log.claim_deliveries(
            pool, self._batch_size, self._lease_seconds, self._clock(), leave=leave
        )
        return claimed, await self._composer.compose_batch(pool, claimed, http)

    async def _guarded(
        self,
        pool: asyncpg.Pool,
        row: asyncpg.Record,
        composed: Outgoing | Exception,
        lease_ends: float,
        sends: InFlight,
    ) -> None:
        try:
            await self._deliver(pool, row, composed, lease_ends, sends)
        except Exception as error:  # one delivery must not stop the others
            # Its claim lapses and it is tried again (or, if it was sending, settled
            # unknown); the rest of the batch and every other tenant go on.
            log.error("delivery_crashed", delivery_id=str(row["delivery_id"]), error=describe_failure(error))

    async def _settle_abandoned(self, pool: asyncpg.Pool) -> None:
        # Once a poll interval, not once a batch: the query reads every open row of the log
        # (a backlog's worth), and a send is abandoned only once a lease of a minute or more
        # has lapsed, so a second later changes nothing about how it is settled.
        now = time.monotonic()
        if now - self._abandoned_checked_at < self._poll_interval:
            return
        self._abandoned_checked_at = now
        for row in await delivery_log.abandoned_sends(pool, self._batch_size):
            await settling.finish_unsettled(pool, row, STOPPED_DURING_CALL)

    async def _sample_gauge(self, pool: asyncpg.Pool) -> None:
        # A count over every open row (a backlog's worth): every few seconds, not every loop.
        now = time.monotonic()
        if now - self._sampled_at < GAUGE_SAMPLE_SECONDS:
            return
        self._sampled_at = now
        metrics.sample_rows(await delivery_log.open_rows_by_state(pool))

    async def _until_next(self, pool: asyncpg.Pool) -> float:
        upcoming = await delivery_log.next_attempt_at(pool)
        if upcoming is None:
            return self._poll_interval
        return max(0.05, min(self._poll_interval, (upcoming - self._clock()).total_seconds()))

    async def _deliver(
        self,
        pool: asyncpg.Pool,
        row: asyncpg.Record,
        composed: Outgoing | Exception,
        lease_ends: float,
        sends: InFlight,
    ) -> None:
        attempts = row["attempts"] + 1
        if isinstance(composed, Exception):
            await settling.not_composed(pool, row, attempts, composed, max_attempts=self._max_attempts)
            return
        async with sends.slot() as taken:
            if not taken or time.monotonic() >= lease_ends:
                # Queued behind slow sends (or its stalled provider) until its claim lapsed:
                # another claim may hold the row now, and what composing checked (consent,
                # quiet hours) is stale. Nothing was sent; it is claimed and composed again
                # like any lapsed claim.
                log.warning("delivery_claim_lapsed_before_send", delivery_id=str(row["delivery_id"]))
                return
            outcome = await self._send(pool, row, composed)
        if outcome is not None:
            assert self._writes is not None  # made by ``run``
            # Outside the slot: the next send need not wait for this one's commit, and
            # the settles of sends that finish together share one transaction.
            await self._writes.finish_sent(row, composed, outcome.provider_id)

    async def _send(self, pool: asyncpg.Pool, row: asyncpg.Record, outgoing: Outgoing) -> _Taken | None:
        """Hand the message over; what the provider said if it took it, else None (the
        other outcomes are settled here)."""

        attempts = row["attempts"] + 1
        if not await self._rate_slot(outgoing):
            # The provider's limit is reached for longer than a claim should wait: back to
            # pending, untried, for a moment (the claim's lease keeps running meanwhile).
            await settling.release(pool, row, self._clock() + timedelta(seconds=RATE_RETRY_SECONDS))
            return None

        # The send's lease outlives the provider exchange, so that no other dispatcher
        # declares the send abandoned while this one still waits for the provider's reply.
        send_lease = self._lease_seconds + outgoing.timeout

        writes = self._writes
        assert writes is not None  # made by ``run``

        async def begin_sending() -> bool:
            return await writes.begin_sending(row, int(send_lease) + 1)

        try:
            provider_id = await outgoing.send(begin_sending)
        except ClaimLost:
            log.warning("delivery_claim_lost", delivery_id=str(row["delivery_id"]))
            return None
        except PermanentFailure as error:
            await settling.finish_failed(pool, row, error.reason, str(error), error.provider_code)
        except OutcomeUnknown as error:
            await settling.finish_unsettled(pool, row, str(error))
        except TemporaryFailure as error:
            reason = FailureReason.PROVIDER_UNAVAILABLE
            await settling.retry_or_fail(
                pool, row, attempts, str(error), reason, error.retry_after, max_attempts=self._max_attempts
            )
        else:
            return _Taken(provider_id)
        return None

    async def _rate_slot(self, outgoing: Outgoing) -> bool:
        channel = "smtp" if outgoing.provider == "smtp" else "sms"
        per_second = outgoing.rate_per_second or self._default_rates[channel]
        return await self._rates.acquire(outgoing.rate_key, per_second, wait_seconds=self._lease_seconds / 2)
