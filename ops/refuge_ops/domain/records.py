"""Kafka records as an operator may see them: CloudEvents attributes and the shape of the data.

Nothing here does I/O: a :class:`RawRecord` comes in (the broker adapter builds it), an
:class:`EventView` or a line of text goes out. A header value is shown only when it has
the shape the contract gives it (a UUID, an event type, an instant...); anything else,
which in a malformed record could be personal data, is shown by its length alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from refuge_common.contract import catalogue
from refuge_common.contract.base import TYPE_PATTERN
from refuge_common.contract.envelope import MalformedEvent, UnknownEventType, from_record
from refuge_ops.domain.shape import shape_of

KNOWN_TYPES = frozenset(catalogue.all_event_types())
"""Importing the catalogue registers every v1 event type with the envelope's decoder."""
MALFORMED = "malformed: "
REPLAYED_FROM = "refuge_replayed_from"
"""Header of a replayed dead letter: ``<dead-letter topic>:<partition>:<offset>``."""


@dataclass(frozen=True)
class RawRecord:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()

    @property
    def position(self) -> str:
        return f"{self.partition}:{self.offset}"

    def header(self, name: str) -> bytes | None:
        for header_name, value in self.headers:
            if header_name == name:
                return value
        return None

    @property
    def size(self) -> int:
        return len(self.value or b"")

    @property
    def timestamp(self) -> datetime | None:
        if self.timestamp_ms is None or self.timestamp_ms < 0:
            return None
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)


def is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return len(text) in (32, 36)


def is_instant(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _matches(pattern: str) -> Callable[[str], bool]:
    compiled = re.compile(pattern)
    return lambda text: compiled.fullmatch(text) is not None


_REPLAY_MARK = _matches(r"[a-z0-9._-]+:\d+:\d+")
_SAFE_SHAPES: dict[str, Callable[[str], bool]] = {
    "ce_id": is_uuid,
    "ce_subject": is_uuid,
    "ce_tenantid": is_uuid,
    "ce_type": lambda text: TYPE_PATTERN.match(text) is not None,
    "ce_source": _matches(r"/refuge/[a-z0-9_./-]{1,100}"),
    "ce_time": is_instant,
    "ce_specversion": _matches(r"1\.0"),
    "ce_datacontenttype": _matches(r"[a-z]+/[a-z0-9.+-]+"),
    "content-type": _matches(r"[a-z]+/[a-z0-9.+-]+"),
    REPLAYED_FROM: _REPLAY_MARK,
}


def safe_text(name: str, raw: bytes | None) -> str | None:
    """The value of header ``name`` if it has the shape the contract gives it, else None."""

    check = _SAFE_SHAPES.get(name)
    if raw is None or check is None:
        return None
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        return None
    return text if check(text) else None


def byte_count(size: int) -> str:
    return f"{size} byte{'' if size == 1 else 's'}"


def hidden(raw: bytes | None) -> str:
    return f"<{byte_count(len(raw or b''))} not shown>"


def show_header(name: str, raw: bytes) -> str:
    """One header for display: its value when it is safe to show, else its length."""

    text = safe_text(name, raw)
    return text if text is not None else hidden(raw)


@dataclass(frozen=True)
class EventView:
    """What ``refuge tail`` shows of one record."""

    topic: str
    partition: int
    offset: int
    time: datetime | None
    type: str | None
    subject: str | None
    tenant: str | None
    shape: str | None
    problem: str | None = None
    size: int = 0

    @property
    def decoded(self) -> bool:
        return self.problem is None


def decode(record: RawRecord) -> EventView:
    """Decode a record through the contract; a bad one becomes a view saying what is wrong."""

    def header(name: str) -> str | None:
        return safe_text(name, record.header(name))

    type_ = header("ce_type")
    raw_type = record.header("ce_type")
    try:
        if raw_type is not None and type_ is None:
            raise MalformedEvent("event type is not org.refuge.<aggregate>.<event>.v<N>")
        envelope = from_record(record.headers, record.key, record.value)
    except UnknownEventType:
        return EventView(
            record.topic,
            record.partition,
            record.offset,
            time=_instant(header("ce_time")) or record.timestamp,
            type=type_,
            subject=header("ce_subject"),
            tenant=header("ce_tenantid"),
            shape=None,
            problem="unknown event type",
            size=record.size,
        )
    except MalformedEvent as error:
        return EventView(
            record.topic,
            record.partition,
            record.offset,
            time=record.timestamp,
            type=type_,
            subject=None,
            tenant=None,
            shape=None,
            problem=f"{MALFORMED}{error}",
            size=record.size,
        )
    return EventView(
        record.topic,
        record.partition,
        record.offset,
        time=envelope.time,
        type=envelope.type,
        subject=envelope.subject if is_uuid(envelope.subject) else None,
        tenant=str(envelope.tenant_id) if envelope.tenant_id else None,
        shape=shape_of(json.loads(record.value or b"null")),
        size=record.size,
    )


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def type_matches(wanted: str, type_: str | None) -> bool:
    """``wanted`` is a full type or a short one: ``case.opened`` matches ``org.refuge.case.opened.v1``."""

    if type_ is None:
        return False
    full = wanted if wanted.startswith("org.refuge.") else f"org.refuge.{wanted}"
    if re.search(r"\.v[0-9]+$", full):
        return type_ == full
    return re.fullmatch(re.escape(full) + r"\.v[0-9]+", type_) is not None


@dataclass(frozen=True)
class EventFilter:
    type: str | None = None
    tenant: UUID | None = None

    @property
    def active(self) -> bool:
        return self.type is not None or self.tenant is not None

    def __call__(self, view: EventView) -> bool:
        if self.type is not None and not type_matches(self.type, view.type):
            return False
        return self.tenant is None or view.tenant == str(self.tenant)


def iso(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_line(view: EventView) -> str:
    """One line of ``refuge tail``: time, type, subject, tenant, partition/offset, data shape."""

    where = f"p{view.partition}@{view.offset}"
    not_shown = f"({byte_count(view.size)} not shown)"
    if view.problem is not None and view.problem.startswith(MALFORMED):
        return f"{iso(view.time)}  MALFORMED  {where}  {view.problem.removeprefix(MALFORMED)} {not_shown}"
    attributes = f"{view.type}  subject={view.subject or '-'}  tenant={view.tenant or '-'}  {where}"
    if view.problem is not None:
        return f"{iso(view.time)}  {attributes}  UNKNOWN TYPE (a newer contract?) {not_shown}"
    return f"{iso(view.time)}  {attributes}  data={view.shape}"
