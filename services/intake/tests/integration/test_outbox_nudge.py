"""A case write nudges the relay of its own process once committed, instead of the outbox's
NOTIFY (migration 0007); other writers to the outbox still notify."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import asyncpg
import pytest

from refuge_common.db.pool import tenant_transaction
from refuge_common.messaging.outbox import OUTBOX_INSERT

if TYPE_CHECKING:
    from conftest import Intake

pytestmark = pytest.mark.integration
CHANNEL = "intake_outbox"
CASE = {"case_type": "removal_appeal", "channel": "phone"}


async def _first_notification_before_a_control(intake: Intake, write: object) -> str:
    """Listen, run ``write``, then NOTIFY 'control': notifications arrive in commit order,
    so the first payload is '' if the write notified and 'control' if it did not."""

    received: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(intake.settings.database_url)
    try:
        await listener.add_listener(CHANNEL, lambda *args: received.put_nowait(str(args[-1])))
        await write()  # type: ignore[operator]
        await intake.pool.execute(f"NOTIFY {CHANNEL}, 'control'")
        return await asyncio.wait_for(received.get(), timeout=30)  # a hang guard, not a timing
    finally:
        await listener.close()


async def test_a_case_write_nudges_its_relay_and_sends_no_notify(
    intake: Intake, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = intake.app.state.runtime.relay
    assert relay.listening, "the test app runs its relay"
    nudges: list[None] = []
    nudge = relay.nudge
    monkeypatch.setattr(relay, "nudge", lambda: (nudges.append(None), nudge())[1])

    async def write() -> None:
        headers = {"Authorization": f"Bearer {intake.a.caseworker_key}"}
        opened = await intake.client.post("/cases", json=CASE, headers=headers)
        assert opened.status_code == 201, opened.text

    assert await _first_notification_before_a_control(intake, write) == "control"
    assert len(nudges) == 1


async def test_other_writers_to_the_outbox_still_notify(intake: Intake) -> None:
    async def write() -> None:
        # The trigger is per statement: it fires on an insert of no rows, and nothing is published.
        async with tenant_transaction(intake.pool, intake.a.organisation_id) as connection:
            await connection.execute(
                f"{OUTBOX_INSERT} SELECT 't', ''::bytea, ''::bytea, '{{}}'::jsonb, 'e', 'x', NULL WHERE false"
            )

    assert await _first_notification_before_a_control(intake, write) == ""
