"""What an integrator may register and which events reach which endpoint: pure rules.

Offered event types: the v1 catalogue of ``refuge.directory.v1``, ``refuge.cases.v1``,
``refuge.deadlines.v1`` and ``refuge.notifications.v1``, and ``person.erased`` alone from
``refuge.persons.v1``. ``person.registered`` / ``person.updated`` are withheld: what they
carry is a beneficiary's sealed personal data, which no integrator can open, next to the
profile of one vulnerable person (gender, nationalities, age band, unaccompanied minor).
Sending it to a third party's URL would copy it out of the platform's control for no use
(and DESIGN.md wants personal data read, audited, in intake). ``person.erased`` carries
only the random ``person_id``: it tells an integrator to forget what it keyed by that id.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit
from uuid import UUID

from refuge_common.contract import topics
from refuge_common.contract.catalogue import all_event_types
from refuge_common.contract.persons import PersonErased
from refuge_notifications.domain.webhook_addresses import refusal

WEBHOOK_TOPICS = (topics.DIRECTORY, topics.CASES, topics.DEADLINES, topics.NOTIFICATIONS)
MAX_URL_LENGTH = 2048


def offered_event_types() -> dict[str, str]:
    """CloudEvents ``type`` -> topic of every type an endpoint may subscribe to."""

    offered = {
        name: model.TOPIC for name, model in all_event_types().items() if model.TOPIC in WEBHOOK_TOPICS
    }
    offered[PersonErased.TYPE] = PersonErased.TOPIC
    return dict(sorted(offered.items()))


class InvalidEndpoint(ValueError):
    """A refused registration; ``field`` names what is wrong (never its value)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_event_types(requested: Sequence[str]) -> list[str]:
    """The requested types, deduplicated in order; unknown or withheld ones are refused."""

    if not requested:
        raise InvalidEndpoint("event_types", "name at least one event type")
    offered = offered_event_types()
    for position, name in enumerate(requested):
        if name not in offered:
            raise InvalidEndpoint(
                f"event_types.{position}", "not an event type offered to webhooks (GET /webhooks/event-types)"
            )
    return list(dict.fromkeys(requested))


def check_url(url: str, *, allow_http_loopback: bool) -> str:
    """An https URL; http only to a loopback address, and only when allowed.

    Plain http would put the events (and the means to replay them within the signature's
    tolerance) on the wire in clear. Tests and a developer's machine have no certificate
    for a local receiver, hence the loopback exception behind a setting that production
    leaves off. IP literals of private, link-local or loopback ranges are refused: a first
    line against server-side request forgery. A host name is judged by what it resolves to
    at each connection (``adapters.webhook_egress``), and the deployment's egress proxy
    stays the main line (docs/webhooks.md).
    """

    if len(url) > MAX_URL_LENGTH:
        raise InvalidEndpoint("url", f"longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port  # raises on a port that is not a number
    except ValueError as error:
        raise InvalidEndpoint("url", "not a URL") from error
    if not host:
        raise InvalidEndpoint("url", "has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidEndpoint("url", "must not carry credentials: the signature authenticates")
    if parts.fragment:
        raise InvalidEndpoint("url", "must not have a fragment")
    loopback = _is_loopback(host)
    if parts.scheme == "http":
        if not (allow_http_loopback and loopback):
            raise InvalidEndpoint("url", "must be https")
        return url
    if parts.scheme != "https":
        raise InvalidEndpoint("url", "must be https")
    if loopback and not allow_http_loopback:
        raise InvalidEndpoint("url", "must not point at this machine")
    address = _ip(host)
    # The sender's own rules (what a resolved name is judged by at each connection), so that
    # a literal refused at every send is refused here already.
    if address is not None and not loopback and refusal(address, allow_loopback=False) is not None:
        raise InvalidEndpoint("url", "must not point at a private or reserved address")
    return url


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_loopback(host: str) -> bool:
    address = _ip(host)
    if address is not None:
        return address.is_loopback
    return host.lower() == "localhost" or host.lower().endswith(".localhost")


@dataclass(frozen=True)
class EndpointScope:
    """What an endpoint asked for: types, the whole organisation or one office, and since when."""

    endpoint_id: UUID
    tenant_id: UUID
    event_types: frozenset[str]
    office_id: UUID | None
    created_at: datetime


@dataclass(frozen=True)
class EventFacts:
    """What matching needs to know of one event."""

    tenant_id: UUID
    event_type: str
    time: datetime
    office_ids: frozenset[UUID]  # the offices the event concerns; empty: organisation-level


def matches(endpoint: EndpointScope, event: EventFacts) -> bool:
    """Whether ``event`` goes to ``endpoint``.

    Only the event's own organisation; only subscribed types; an office-scoped endpoint
    only what concerns its office (an event about no office in particular goes to
    organisation-wide endpoints only); and only what happened once the endpoint existed,
    so that a new endpoint (or a consumer catching up on history) replays no past.
    """

    if endpoint.tenant_id != event.tenant_id or event.event_type not in endpoint.event_types:
        return False
    if endpoint.office_id is not None and endpoint.office_id not in event.office_ids:
        return False
    return event.time >= endpoint.created_at


def matching(endpoints: Iterable[EndpointScope], event: EventFacts) -> list[EndpointScope]:
    return [endpoint for endpoint in endpoints if matches(endpoint, event)]
