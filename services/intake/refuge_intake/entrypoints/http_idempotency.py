"""The Idempotency-Key header of intake's writes, and the answer a write (or its replay) gives."""

from __future__ import annotations

from typing import Annotated, Any

import pydantic_core
from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import StringConstraints, TypeAdapter, ValidationError

from refuge_intake.domain.idempotency import HEADER, KEY_PATTERN, IdempotentRequest, fingerprint
from refuge_intake.service_layer.idempotency import Answer

REPLAYED_HEADER = "Idempotent-Replayed"


KEY_DESCRIPTION = (
    "A unique value per intended write (a UUID): a retry with the same key and the same body "
    "answers what the first request answered and changes nothing; the same key with another "
    f"body is a 422. Answers replayed so carry `{REPLAYED_HEADER}: true`."
)
# The header as FastAPI would document a ``Header(alias=HEADER, pattern=KEY_PATTERN)``
# parameter: read by hand (:func:`idempotent_request`), it is documented by hand.
KEY_PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": KEY_DESCRIPTION,
    "schema": {
        "anyOf": [{"type": "string", "pattern": KEY_PATTERN}, {"type": "null"}],
        "title": HEADER,
        "description": KEY_DESCRIPTION,
    },
}
_KEY = TypeAdapter(Annotated[str, StringConstraints(pattern=KEY_PATTERN)])


async def idempotent_request(request: Request) -> IdempotentRequest | None:
    """The request's Idempotency-Key, if it has one; refused as FastAPI refuses a header
    parameter that does not match its pattern (422, ``loc`` ["header", HEADER]).

    Read here rather than declared as a ``Header`` parameter: a declared one is parsed and
    validated on every write, present or not, in a dependency level of its own."""

    key = request.headers.get(HEADER)
    if key is None:
        return None
    try:
        _KEY.validate_python(key)
    except ValidationError as error:
        raise RequestValidationError(
            [{**problem, "loc": ("header", HEADER)} for problem in error.errors(include_url=False)]
        ) from error
    # FastAPI has already read the body to validate it; this is that cached copy.
    body = await request.body()
    return IdempotentRequest(key, fingerprint(request.method, request.url.path, body))


async def declared_idempotent_request(
    request: Request,
    idempotency_key: Annotated[
        str | None, Header(alias=HEADER, pattern=KEY_PATTERN, description=KEY_DESCRIPTION)
    ] = None,
) -> IdempotentRequest | None:
    """:func:`idempotent_request` with the header declared, for the writes off the case
    path (persons): FastAPI validates and documents it."""

    return await idempotent_request(request)


Once = Annotated[IdempotentRequest | None, Depends(declared_idempotent_request)]


class _AnswerResponse(JSONResponse):
    """JSON written by pydantic-core (Rust) instead of ``json.dumps``: the same compact
    UTF-8 text for the JSON-ready bodies of writes, in about a third of the time."""

    def render(self, content: Any) -> bytes:
        return pydantic_core.to_json(content)


def answered(answer: Answer) -> JSONResponse:
    headers = {REPLAYED_HEADER: "true"} if answer.replayed else None
    return _AnswerResponse(answer.body, status_code=answer.status_code, headers=headers)


def services(request: Request) -> tuple[Any, Any]:
    """The pool and the keyring of the running app."""

    return request.app.state.pool(), request.app.state.keyring
