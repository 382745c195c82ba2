"""One webhook POST: the event as a structured-mode CloudEvent, signed, bounded in time.

The body is the ``cloudevents`` SDK's HTTP binding (``to_structured``, JSON format,
``application/cloudevents+json``): the same attributes as on the topic (``id``, ``source``,
``type``, ``subject``, ``time``, ``tenantid``) with the data inside. The headers are
Standard Webhooks' (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``).
Redirects are not followed (a 3xx is an answer, see ``domain.webhook_attempts``), and the
whole exchange is bounded by one deadline that the delivery's lease outlives. The client's
transport connects only to addresses it has judged (``adapters.webhook_egress``); a refused
one makes the attempt a refusal, which is not retried.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from refuge_common.contract.envelope import TENANT_EXTENSION, Envelope
from refuge_common.observability.logging import get_logger
from refuge_notifications.adapters.webhook_egress import RefusedAddress
from refuge_notifications.domain.webhook_signatures import sign

log = get_logger(__name__)

_FORMAT = JSONFormat()
USER_AGENT = "Refuge-Webhooks/1"
MAX_ERROR_LENGTH = 200


def stored_event(envelope: Envelope) -> dict[str, Any]:
    """The event as a delivery row keeps it: CloudEvents attributes and JSON data."""

    attributes: dict[str, Any] = {
        "id": envelope.id,
        "source": envelope.source,
        "type": envelope.type,
        "subject": envelope.subject,
        "time": envelope.time.isoformat(),
        "datacontenttype": "application/json",
    }
    if envelope.tenant_id is not None:
        attributes[TENANT_EXTENSION] = str(envelope.tenant_id)
    return {"attributes": attributes, "data": envelope.data.model_dump(mode="json")}


def structured_body(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    attributes = {**event["attributes"], "specversion": "1.0"}
    attributes["time"] = datetime.fromisoformat(attributes["time"])
    message = ce_http.to_structured(CloudEvent(attributes, event["data"]), _FORMAT)
    return dict(message.headers), message.body


@dataclass(frozen=True)
class PostResult:
    status_code: int | None  # None: no answer (timeout, connection refused or reset)
    retry_after: str | None
    error: str | None  # why, in a few words: never the response body, never a header value
    refused: bool = False  # the host resolved to an address a webhook must not reach


async def post(
    http: httpx.AsyncClient,
    url: str,
    event: dict[str, Any],
    *,
    webhook_id: str,
    secrets: list[str],
    at: datetime,
    within: float,
) -> PostResult:
    content_headers, body = structured_body(event)
    signed = sign(secrets, webhook_id, at, body)
    headers = {**content_headers, **signed.as_dict(), "user-agent": USER_AGENT}
    try:
        async with asyncio.timeout(within):
            response = await http.post(url, content=body, headers=headers, follow_redirects=False)
    except RefusedAddress as refused:
        # The address goes to the operators' log only: in the delivery, which the
        # organisation reads, it would tell what internal names resolve to. No path, no
        # query in either: they may carry what the organisation put there.
        log.warning(
            "webhook_address_refused", host=refused.host, address=str(refused.address), reason=refused.reason
        )
        return PostResult(None, None, f"refused: {refused}", refused=True)
    except TimeoutError:
        return PostResult(None, None, f"no answer within {within:g} s")
    except httpx.TimeoutException as error:
        return PostResult(None, None, f"timeout ({type(error).__name__})")
    except httpx.HTTPError as error:
        # The class names what failed (ConnectError, RemoteProtocolError...); the message
        # may quote the URL, which is the organisation's to see but not the log's.
        return PostResult(None, None, f"no answer ({type(error).__name__})")
    why = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    return PostResult(response.status_code, response.headers.get("retry-after"), why)
