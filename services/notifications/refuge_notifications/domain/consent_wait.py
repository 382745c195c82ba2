"""How long a beneficiary message waits for the person's consent on its channel. Pure.

A consent is a fact of a case (``refuge.cases.v1``); the reminder it governs comes from
deadlines (``refuge.deadlines.v1``), a topic read by another consumer. When a caseworker
records the consents and then the decision in one sitting, the reminder can be read here
before the consents are (a consumer catching up after a restart lags by minutes): deciding
"no consent" at that moment would silently drop the one message that person asked for. So a
message without a consent on its channel waits, boundedly, and is suppressed as
``no_consent`` only when the wait is over.
"""

from __future__ import annotations

from datetime import datetime, timedelta

SHORTEST_PAUSE = timedelta(seconds=1)
LONGEST_PAUSE = timedelta(seconds=30)


def look_again_for_consent(planned_at: datetime, now: datetime, wait: timedelta) -> datetime | None:
    """When to look again for the consent of a message planned at ``planned_at``, or None
    once it has waited ``wait``: after as long as it has waited so far (between one and 30
    seconds), so a consent a moment late is seen within a moment and a person who never gave
    any costs fifteen looks over five minutes, never past the end of the wait."""

    waited = now - planned_at
    if waited >= wait:
        return None
    pause = min(max(waited, SHORTEST_PAUSE), LONGEST_PAUSE)
    return min(now + pause, planned_at + wait)
