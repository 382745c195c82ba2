"""Per-provider rate limits: an organisation's SMS provider is never sent more messages a
second than it accepts, and every message still goes out once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from refuge_common.crypto.keyring import MasterKeyWrapper
from refuge_common.db.pool import tenant_transaction
from refuge_notifications.adapters.rate_limits import ProviderRateLimits
from refuge_notifications.bootstrap import sms_routing

if TYPE_CHECKING:
    from conftest import Notifications

pytestmark = pytest.mark.integration
RATE = 2


async def test_a_provider_limited_to_two_a_second_gets_no_more_and_misses_none(
    notifications: Notifications,
) -> None:
    n = notifications
    tenant, office = await n.new_organisation()
    master = n.settings.master_key
    assert master is not None
    routing = sms_routing(n.settings, MasterKeyWrapper(master.get_secret_value()))
    async with tenant_transaction(n.app.state.runtime.pool, tenant) as connection:
        await routing.configure(
            connection,
            tenant,
            kind="webhook",
            url=f"{n.sms.url}/sms",
            rate_per_second=RATE,
            secrets={"inbound_secret": "s"},
        )
    persons = [await n.new_person(tenant, office, email=None) for _ in range(7)]
    triggers = [await n.remind(person) for person in persons]
    for trigger in triggers:
        await n.settled(trigger, 2, {"sent", "suppressed"})

    phones = {person.phone for person in persons}
    received = sorted(
        datetime.fromisoformat(m["received_at"]) for m in n.sms.store.messages if m["to"] in phones
    )
    assert len(received) == len(persons)  # each once
    # The limiter lets RATE through per sliding second; the sink sees them with some jitter
    # (connection set-up, scheduling), hence a shorter window than the limiter's.
    for index, start in enumerate(received):
        within = [t for t in received[index:] if t - start < timedelta(seconds=0.75)]
        assert len(within) <= RATE, received


async def test_a_slot_not_given_in_time_is_refused_and_other_accounts_are_not_held_up() -> None:
    limits = ProviderRateLimits()
    assert [await limits.acquire("sms:a", 2, wait_seconds=0.01) for _ in range(3)] == [True, True, False]
    assert await limits.acquire("sms:b", 2, wait_seconds=0.01)  # another account, its own limit
    assert all([await limits.acquire("smtp", 0, wait_seconds=0) for _ in range(100)])  # 0: no limit
