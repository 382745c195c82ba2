"""Answers every operation may give that come from the app around it, in the OpenAPI document.

FastAPI documents what a handler declares. Intake also answers 401 on every route that
takes credentials (the ``current_principal`` dependency), and on every route with a body
400 (bytes that do not decode: FastAPI's own answer) and 413 (the ``BodySizeLimit``
middleware). A client generated from the document, or a contract test, must know them.
They are added once, when the document is first built, so routes included later count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

_ERROR_BODY = {
    "application/json": {
        "schema": {
            "type": "object",
            "properties": {"detail": {"type": "string"}},
            "required": ["detail"],
        }
    }
}
UNAUTHORIZED = {
    "description": "missing or invalid credentials, or an API key that is expired or revoked",
    "content": _ERROR_BODY,
}
TOO_LARGE = {"description": "request body larger than INTAKE_MAX_BODY_BYTES", "content": _ERROR_BODY}
UNREADABLE = {"description": "the body cannot be decoded as the declared media type", "content": _ERROR_BODY}


def document_app_answers(app: FastAPI) -> None:
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()  # FastAPI keeps it in app.openapi_schema: amended there once
        for methods in document.get("paths", {}).values():
            for operation in methods.values():
                responses = operation.setdefault("responses", {})
                if operation.get("security"):
                    responses.setdefault("401", UNAUTHORIZED)
                if "requestBody" in operation:
                    responses.setdefault("400", UNREADABLE)
                    responses.setdefault("413", TOO_LARGE)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
