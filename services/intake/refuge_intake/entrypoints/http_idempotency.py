"""The Idempotency-Key header of intake's writes, and the answer a write (or its replay) gives."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse

from refuge_intake.domain.idempotency import HEADER, KEY_PATTERN, IdempotentRequest, fingerprint
from refuge_intake.service_layer.idempotency import Answer

REPLAYED_HEADER = "Idempotent-Replayed"


async def idempotent_request(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            pattern=KEY_PATTERN,
            description="A unique value per intended write (a UUID): a retry with the same key "
            "and the same body answers what the first request answered and changes nothing; "
            "the same key with another body is a 422. Answers replayed so carry "
            f"`{REPLAYED_HEADER}: true`.",
        ),
    ] = None,
) -> IdempotentRequest | None:
    if idempotency_key is None:
        return None
    # FastAPI has already read the body to validate it; this is that cached copy.
    body = await request.body()
    return IdempotentRequest(idempotency_key, fingerprint(request.method, request.url.path, body))


Once = Annotated[IdempotentRequest | None, Depends(idempotent_request)]


def answered(answer: Answer) -> JSONResponse:
    headers = {REPLAYED_HEADER: "true"} if answer.replayed else None
    return JSONResponse(answer.body, status_code=answer.status_code, headers=headers)


def services(request: Request) -> tuple[Any, Any]:
    """The pool and the keyring of the running app."""

    return request.app.state.pool(), request.app.state.keyring
