"""Error responses: 422 naming field and value, 409 for conflicts, 413 for big bodies.

No input may produce a 500: validation errors are made JSON-safe (NaN and infinities
become strings), database constraint violations become 409, and values the database
refuses become 422.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)


def _safe(value: Any, depth: int = 0) -> Any:
    """A JSON-safe, size-limited copy of an offending input value."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value[:200] if isinstance(value, str) else value
    if isinstance(value, bytes):
        return value[:200].decode("utf-8", "replace")
    if depth < 2 and isinstance(value, dict):
        return {str(k)[:50]: _safe(v, depth + 1) for k, v in list(value.items())[:20]}
    if depth < 2 and isinstance(value, (list, tuple)):
        return [_safe(v, depth + 1) for v in list(value)[:20]]
    return repr(value)[:200]


async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
    detail = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        field = ".".join(loc[1:] if loc and loc[0] in {"body", "query", "path", "header"} else loc)
        detail.append(
            {
                "type": err.get("type"),
                "loc": loc,
                "field": field,
                "msg": str(err.get("msg")),
                "value": _safe(err.get("input")),
            }
        )
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _integrity(_request: Request, exc: IntegrityError) -> JSONResponse:
    logger.info("constraint violation: %s", exc.orig)
    return JSONResponse(
        {"detail": "conflicts with an existing record (duplicate code or reference)"},
        status_code=status.HTTP_409_CONFLICT,
    )


async def _data(_request: Request, exc: DataError) -> JSONResponse:
    logger.info("value refused by the database: %s", exc.orig)
    return JSONResponse(
        {"detail": "a value is out of range for the database"},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


def install_handlers(app: FastAPI) -> None:
    """Register the error handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(IntegrityError, _integrity)  # type: ignore[arg-type]
    app.add_exception_handler(DataError, _data)  # type: ignore[arg-type]


class BodyLimit:
    """ASGI middleware: 413 for a request body over ``max_bytes`` (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _too_large(send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(send)


class _TooLarge(Exception):
    pass


async def _too_large(send: Send) -> None:
    body = b'{"detail":"request body too large"}'
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
