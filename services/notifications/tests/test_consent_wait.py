"""How long a message waits for a person's first consents, which may be read after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from refuge_notifications.domain.consent_wait import look_again_for_consent

PLANNED = datetime(2026, 4, 7, 10, 0, tzinfo=UTC)
WAIT = timedelta(minutes=5)


@pytest.mark.parametrize(
    ("waited", "look_again_after"),
    [
        (timedelta(0), timedelta(seconds=1)),  # at once: a consent a moment late is seen soon
        (timedelta(seconds=-2), timedelta(seconds=1)),  # clocks a little apart
        (timedelta(seconds=4), timedelta(seconds=4)),  # as long again as it has waited
        (timedelta(seconds=50), timedelta(seconds=30)),  # never more than 30 s between looks
        (timedelta(seconds=290), timedelta(seconds=10)),  # never past the end of the wait
    ],
)
def test_a_message_looks_again_sooner_the_sooner_it_was_planned(
    waited: timedelta, look_again_after: timedelta
) -> None:
    now = PLANNED + waited
    assert look_again_for_consent(PLANNED, now, WAIT) == now + look_again_after


def test_once_the_wait_is_over_the_message_no_longer_waits() -> None:
    assert look_again_for_consent(PLANNED, PLANNED + WAIT, WAIT) is None
    assert look_again_for_consent(PLANNED, PLANNED + timedelta(days=1), WAIT) is None
    assert look_again_for_consent(PLANNED, PLANNED, timedelta(0)) is None  # waiting turned off


def test_a_person_who_never_gave_consent_costs_a_bounded_number_of_looks() -> None:
    now, looks = PLANNED, 0
    while (later := look_again_for_consent(PLANNED, now, WAIT)) is not None:
        now, looks = later, looks + 1
    assert (
        now == PLANNED + WAIT and looks == 15
    )  # after 1, 1, 2, 4, 8, 16 s, then every 30 s, the last one shorter
