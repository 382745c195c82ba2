"""What composing a delivery can end in: a message ready to hand over, or why not."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from refuge_common.contract.vocabulary import FailureReason, SuppressionReason
from refuge_notifications.adapters.outcomes import BeforeSend
from refuge_notifications.domain.quiet_hours import QuietHours, UrgentOverride
from refuge_notifications.domain.signatures import UnsubscribeTokens
from refuge_notifications.service_layer.sms_routing import SmsRouting

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Undeliverable(Exception):
    def __init__(self, reason: FailureReason, detail: str | None = None) -> None:
        super().__init__(detail or reason.value)
        self.reason = reason
        self.detail = detail or reason.value


class Suppressed(Exception):
    def __init__(self, reason: SuppressionReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


class Deferred(Exception):
    def __init__(self, until: datetime) -> None:
        super().__init__(until.isoformat())
        self.until = until


class NotYet(Exception):
    """What the message needs has not arrived yet (the person's contact details): try later."""


class AwaitingConsent(Exception):
    """The person's consent on the message's channel has not arrived (yet): look again at
    ``until`` (not an attempt, nothing to report; bounded by ``BeneficiaryChannels.consent_wait``)."""

    def __init__(self, until: datetime) -> None:
        super().__init__(until.isoformat())
        self.until = until


@dataclass(frozen=True)
class Outgoing:
    """A composed message and how to hand it over; ``send`` returns the provider's id."""

    send: Callable[[BeforeSend], Awaitable[str | None]]
    timeout: float  # longest the provider exchange may take: the send's lease outlives it
    provider: str
    language: str | None
    rate_key: str = "smtp"  # the provider account whose rate limit this send counts against
    rate_per_second: int | None = None  # that account's own limit; None: the service's default


@dataclass(frozen=True)
class BeneficiaryChannels:
    """What beneficiary messages need beyond the caseworker e-mail."""

    sms: SmsRouting
    unsubscribe: UnsubscribeTokens
    sms_timeout: float = 15.0
    quiet_hours: QuietHours = field(default_factory=QuietHours)
    urgent_override: UrgentOverride = UrgentOverride.BEFORE_DUE
    consent_wait: timedelta = timedelta(minutes=5)
