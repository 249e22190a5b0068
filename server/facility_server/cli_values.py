"""Command-line values parsed as the API parses them, with errors naming option and value."""

from __future__ import annotations

from datetime import datetime

import typer

#: What an instant looks like, for error messages.
INSTANT_EXAMPLE = "2026-06-02T10:00+08:00"
#: pydantic's error types, in a sentence (others: pydantic's own message).
_REASONS = {
    "timezone_aware": "has no UTC offset",
    "datetime_from_date_parsing": "is not an instant",
}


def instant_option(text: str, option: str) -> datetime:
    """``text`` as the API's ``at`` takes it (:data:`facility_server.domain.Instant`): an
    ISO 8601 instant with a UTC offset between 2000-01-01 and 2100-01-01, returned in UTC.

    Raises:
        typer.BadParameter: naming ``option`` and ``text`` and why (exit code 2, no
            traceback): not an instant, no UTC offset, or outside the years.
    """
    from pydantic import TypeAdapter, ValidationError

    from facility_server.domain import Instant

    try:
        return TypeAdapter(Instant).validate_python(text)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        reason = _REASONS.get(error["type"], error["msg"].removeprefix("Value error, "))
        raise typer.BadParameter(
            f"{option} {text!r}: {reason}; give an ISO 8601 instant with a zone, "
            f"e.g. {INSTANT_EXAMPLE}"
        ) from None
