"""How a provider call ended, for every channel (SMTP, SMS over HTTP)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from refuge_common.contract.vocabulary import FailureReason


class TemporaryFailure(Exception):
    """The provider may accept the message later (connection refused, SMTP 4xx, HTTP 5xx/429).
    Nothing was delivered."""

    def __init__(self, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class PermanentFailure(Exception):
    """The provider will never accept this message (SMTP 5xx, HTTP 4xx, bad address)."""

    def __init__(
        self,
        detail: str,
        *,
        reason: FailureReason = FailureReason.REJECTED_BY_PROVIDER,
        provider_code: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.reason = reason
        self.provider_code = provider_code


class OutcomeUnknown(Exception):
    """The connection broke after the message was handed over and before the provider's
    reply: it may or may not have been accepted. Sending again could deliver it twice."""


class ClaimLost(Exception):
    """``before_send`` said no: this sender may no longer send the message. Nothing was sent."""


# Called at the last instant before anything can be delivered; False calls the send off.
BeforeSend = Callable[[], Awaitable[bool]]
