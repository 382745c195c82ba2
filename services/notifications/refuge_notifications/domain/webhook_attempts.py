"""What one POST's result means for the delivery and the endpoint: pure rules.

- 2xx: delivered.
- 408, 429, 5xx, a timeout, a connection refused or reset: the receiver may take it later;
  retried with exponential backoff and jitter (``Retry-After`` honoured, within limits).
- 410 Gone: the receiver says it wants no more (Standard Webhooks): the endpoint is
  disabled at once and the delivery failed.
- The host resolved to an address a webhook must not reach (``domain.webhook_addresses``):
  refused, no request sent. Not retried: the same name will most likely resolve the same
  way within the backoff, and retrying would let a rebinding name try its luck again.
- Any other answer (3xx: redirects are not followed, the URL should be updated instead;
  400, 401, 403, 404, 413, 422...): the same request will get the same answer, so the
  delivery fails without retrying. It still counts as a failure of the endpoint, which
  an organisation can fix and then redeliver.

An endpoint is disabled after ``disable_after_failures`` deliveries failed in a row (each
one given up for good), or when it has been failing without a success for longer than
``disable_after``: a receiver down for days should stop costing attempts, and its owner
learns of it from the endpoint's state, the log and the metric.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from refuge_common.messaging.retry import RetryPolicy

RETRYABLE_STATUS = frozenset({408, 429})
GONE = 410
MAX_RETRY_AFTER_SECONDS = 6 * 3600.0


class Verdict(enum.StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"
    GONE = "gone"


class DisableReason(enum.StrEnum):
    CONSECUTIVE_FAILURES = "consecutive_failures"
    FAILING_TOO_LONG = "failing_too_long"
    GONE = "gone"  # the receiver answered 410


def judge(status_code: int | None, *, refused: bool = False) -> Verdict:
    """``status_code`` None: no answer (timeout, connection error) or, ``refused``, not asked."""

    if refused:
        return Verdict.FAILED
    if status_code is None:
        return Verdict.RETRY
    if 200 <= status_code < 300:
        return Verdict.DELIVERED
    if status_code == GONE:
        return Verdict.GONE
    if status_code in RETRYABLE_STATUS or status_code >= 500:
        return Verdict.RETRY
    return Verdict.FAILED


def retry_after_seconds(header: str | None) -> float | None:
    """Delta-seconds of a ``Retry-After`` header, capped; an HTTP date is not trusted here."""

    if header is None or not header.strip().isdigit():
        return None
    return min(float(header.strip()), MAX_RETRY_AFTER_SECONDS)


@dataclass(frozen=True)
class AttemptPolicy:
    max_attempts: int
    backoff: RetryPolicy  # exponential, full jitter (the consumers' own policy)
    disable_after_failures: int
    disable_after: timedelta

    def next_delay(self, attempts: int, retry_after: float | None) -> float | None:
        """Seconds before the next attempt after ``attempts`` failed ones; None: give up."""

        if attempts >= self.max_attempts:
            return None
        delay = self.backoff.delay(attempts)
        return max(delay, retry_after) if retry_after is not None else delay

    def should_disable(
        self, consecutive_failures: int, failing_since: datetime | None, now: datetime
    ) -> DisableReason | None:
        """Why the endpoint is to be disabled now, or None."""

        if consecutive_failures >= self.disable_after_failures:
            return DisableReason.CONSECUTIVE_FAILURES
        if failing_since is not None and now - failing_since >= self.disable_after:
            return DisableReason.FAILING_TOO_LONG
        return None
