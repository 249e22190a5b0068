"""Error responses: 422 naming field and value, 409 for conflicts, 413 for big bodies.

A 422 and a 409 have one shape: ``{"detail": [{"type", "loc", "field", "msg", "value"}]}``
(``type`` ``conflict`` for a 409; see :func:`facility_server.api.routes.helpers.invalid`
and :func:`~facility_server.api.routes.helpers.conflict`). 401, 403, 404 and 413 carry a
sentence.

No input may produce a 500: validation errors are made JSON-safe (NaN and infinities
become strings), database constraint violations become 409, and values the database
refuses become 422. An error never repeats a password, secret or token it was sent. On the
health-kiosk routes (:data:`PRIVATE_BODY_PATHS`) it repeats no value of the request body
either (a card number typed as a pseudonym, a name, a note about a person's health): the
entry names the field and says what is wrong, its ``value`` is ``***``; query and path
values (ids, dates, purposes) are still shown.
"""

from __future__ import annotations

import contextlib
import logging
import math
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)


#: Field names whose values an error response never repeats.
_SECRET_WORDS = ("password", "secret", "token")
HIDDEN = "***"
#: Path prefixes whose request bodies hold personal or health data (PIPL art. 28).
PRIVATE_BODY_PATHS = ("/api/v1/vitals/",)


def _secret(name: object) -> bool:
    return any(word in str(name).lower() for word in _SECRET_WORDS)


def _safe(value: Any, depth: int = 0) -> Any:
    """A JSON-safe, size-limited copy of an offending input value (secrets hidden)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value[:200] if isinstance(value, str) else value
    if isinstance(value, bytes):
        return value[:200].decode("utf-8", "replace")
    if isinstance(value, dict):
        if depth >= 2:
            return "{...}"
        return {
            str(k)[:50]: HIDDEN if _secret(k) else _safe(v, depth + 1)
            for k, v in list(value.items())[:20]
        }
    if isinstance(value, (list, tuple)):
        return [_safe(v, depth + 1) for v in list(value)[:20]] if depth < 2 else "[...]"
    return repr(value)[:200]


def _json_position(doc: Any, pos: int) -> str:
    """``line L column C (char N)`` of offset ``pos`` in the request body."""
    text = doc.decode("utf-8", "replace") if isinstance(doc, bytes) else str(doc or "")
    line = text.count("\n", 0, pos) + 1
    column = pos - text.rfind("\n", 0, pos)
    return f"line {line} column {column} (char {pos})"


def _entry(err: dict[str, Any], body: Any, private: bool = False) -> dict[str, Any]:
    """One 422 entry: the location without pydantic's ``[key]`` marker, the dotted field,
    the message and the value (hidden for body fields when ``private``); broken JSON is
    reported at field ``body``."""
    loc = [str(p) for p in err.get("loc", ()) if p != "[key]"]
    msg, value = str(err.get("msg")), err.get("input")
    if err.get("type") == "json_invalid":
        pos = int(loc[1]) if len(loc) > 1 and loc[1].isdigit() else 0
        reason = (err.get("ctx") or {}).get("error", "invalid JSON")
        loc, msg, value = ["body"], f"{msg}: {reason} at {_json_position(body, pos)}", None
    field = ".".join(loc[1:] if loc and loc[0] in {"body", "query", "path", "header"} else loc)
    hidden = any(_secret(p) for p in loc) or (private and bool(loc) and loc[0] == "body")
    return {
        "type": err.get("type"),
        "loc": loc,
        "field": field or (loc[0] if loc else ""),
        "msg": msg,
        "value": HIDDEN if hidden else _safe(value),
    }


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    private = request.url.path.startswith(PRIVATE_BODY_PATHS)
    detail = [_entry(err, exc.body, private) for err in exc.errors()]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def _body_entry(type_: str, msg: str) -> dict[str, Any]:
    """An entry about the request body as a whole (the database named no field to us)."""
    return {"type": type_, "loc": ["body"], "field": "body", "msg": msg, "value": None}


async def _integrity(_request: Request, exc: IntegrityError) -> JSONResponse:
    logger.info("constraint violation: %s", exc.orig)
    msg = "conflicts with an existing record (duplicate code or reference)"
    return JSONResponse(
        {"detail": [_body_entry("conflict", msg)]}, status_code=status.HTTP_409_CONFLICT
    )


async def _data(_request: Request, exc: DataError) -> JSONResponse:
    logger.info("value refused by the database: %s", exc.orig)
    msg = "a value is out of range for the database"
    return JSONResponse(
        {"detail": [_body_entry("value_error", msg)]},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


def install_handlers(app: FastAPI) -> None:
    """Register the error handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(IntegrityError, _integrity)  # type: ignore[arg-type]
    app.add_exception_handler(DataError, _data)  # type: ignore[arg-type]


class BodyLimit:
    """ASGI middleware: 413 for a request body over ``max_bytes`` (declared or streamed).

    A streamed (chunked) body is cut off where it passes the limit: the 413 is sent
    right there and whatever the application answers after it (FastAPI turns the failed
    read into a 400) is dropped.
    """

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
        seen, started, refused = 0, False, False

        async def limited() -> Message:
            nonlocal seen, refused
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                if not started and not refused:
                    refused = True
                    await _too_large(send)
                raise _TooLarge
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 is the answer
            started = True
            await send(message)

        with contextlib.suppress(_TooLarge):  # answered in limited(), or too late to answer
            await self.app(scope, limited, guarded)


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
