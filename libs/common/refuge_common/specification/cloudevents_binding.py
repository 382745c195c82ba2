"""How one event travels on Kafka, in AsyncAPI terms: CloudEvents 1.0 binary mode.

FastStream's message model knows a payload and a title only, so the headers (the
``ce_*`` attributes, ``content-type`` and the ``tenantid`` extension) and the Kafka
key are described here and added to each message of the generated document.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from refuge_common.contract.envelope import TENANT_EXTENSION

# The version of the AsyncAPI Kafka bindings FastStream writes for channels.
KAFKA_BINDING_VERSION = "0.4.0"
SOURCE_PATTERN = "^/refuge/[a-z_]+$"

ENVELOPE_DESCRIPTION = f"""\
Every record is a CloudEvents 1.0 event in the Kafka **binary content mode**: the event's
attributes are record headers (`ce_id`, `ce_source`, `ce_type`, `ce_subject`, `ce_time`,
`ce_specversion`, `content-type`, and the extension `ce_{TENANT_EXTENSION}`), the record
value is the JSON of the event's `data`, and the record key is the aggregate id (the same
value as `ce_subject`), so that the events of one case, person or office are on one
partition, in order.

- `ce_type` (`org.refuge.<aggregate>.<event>.v<N>`) selects the schema of the value; a
  breaking change is a new `.v<N+1>` type, published side by side with the old one for a
  while. Ignore types you do not know.
- `ce_source` + `ce_id` identify an event. Delivery is at least once: deduplicate on that
  pair.
- `ce_{TENANT_EXTENSION}` is the organisation (tenant) the event belongs to.
- No personal data travels in clear: names, contact details, exact birth dates, document
  numbers and notes are *sealed* objects (`alg`, `key_id`, `nonce`, `ciphertext`,
  AES-256-GCM under the key of the person or staff member named by `key_id`).
- The JSON Schema of each type is embedded under `components/schemas` (its published copy,
  draft 2020-12, is in `libs/common/schemas/<type>.json` and under its `x-refuge-schema-id`).
"""


def headers_schema(types: Sequence[str], source: str | None) -> dict[str, Any]:
    """The JSON Schema of the record headers of a message carrying ``types``.

    ``source`` is the producing service's ``ce_source`` when it is known (a
    publication); a subscriber may read events of any service, hence a pattern.
    """

    source_schema: dict[str, Any] = {"type": "string", "description": "the producing service"}
    if source is None:
        source_schema["pattern"] = SOURCE_PATTERN
    else:
        source_schema["const"] = source
    return {
        "type": "object",
        "description": "CloudEvents 1.0 attributes, Kafka protocol binding, binary content mode",
        "properties": {
            "ce_specversion": {"type": "string", "const": "1.0"},
            "ce_id": {
                "type": "string",
                "description": "unique for its source; deduplicate on (ce_source, ce_id)",
            },
            "ce_source": source_schema,
            "ce_type": {
                "type": "string",
                "enum": list(types),
                "description": "the event type: selects the schema of the record value",
            },
            "ce_subject": {
                "type": "string",
                "description": "the aggregate id (case, person, office...): also the record key",
            },
            "ce_time": {"type": "string", "format": "date-time", "description": "when it happened"},
            f"ce_{TENANT_EXTENSION}": {
                "type": "string",
                "format": "uuid",
                "description": "CloudEvents extension `tenantid`: the organisation the event belongs to",
            },
            "content-type": {
                "type": "string",
                "const": "application/json",
                "description": "CloudEvents `datacontenttype` of the record value",
            },
        },
        "required": [
            "ce_specversion",
            "ce_id",
            "ce_source",
            "ce_type",
            "ce_subject",
            "ce_time",
            "content-type",
        ],
    }


def kafka_message_binding() -> dict[str, Any]:
    """The record key: the aggregate id, which orders the events of one aggregate."""

    return {
        "kafka": {
            "key": {
                "type": "string",
                "description": "the aggregate id, equal to the ce_subject header: per-aggregate order",
            },
            "bindingVersion": KAFKA_BINDING_VERSION,
        }
    }
