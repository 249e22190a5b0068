"""Pure JSON encode/decode of the envelope; every failure is a :class:`ContractError`.

Decoding checks, in order: size (``too_large``), JSON syntax (``not_json``), then the
models of :mod:`.envelope` (``missing_field``, ``wrong_type``, ``unknown_field``,
``unknown_kind``, ``out_of_range``, ``bad_value``), and finally the timestamp rules that
need no clock: a synchronised ``ts`` below 10**11 is rejected as ``ts_in_seconds``
(epoch seconds where milliseconds are expected), and for ``health.reading`` the vital-sign
rules of :mod:`.vitals` (``bad_unit``, ``impossible_value``, ``bp_inverted``); an error
about a health reading never carries the offending value (``"<hidden>"``). Rules that need
the receiver's clock (too old, in the future) belong to the receiver, see
:func:`facility_gateway.mapping`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, TypeAdapter, ValidationError

from facility_contracts.envelope import EVENT_KINDS, Ack, Event, HealthReading, Status
from facility_contracts.errors import ContractError
from facility_contracts.vitals import check_reading, check_readings

#: Largest accepted event or status message, bytes.
MAX_MESSAGE_BYTES = 8192
#: Largest accepted acknowledgement (up to 5,000 ids), bytes.
MAX_ACK_BYTES = 400_000
#: A synchronised ``ts`` below this (ms) is epoch seconds sent by mistake (1973-03-03 in ms).
SECONDS_SUSPECT_BELOW_MS = 10**11

#: JSON strings are cached by key only (pydantic's default also caches values up to 64
#: characters, 16,384 of them): every event id is new, so cached values were garbage that
#: stayed resident (about 1 MB on a board, measured with ``facility bench edge``).
STRING_CACHE: Literal["keys"] = "keys"

_EVENT = TypeAdapter(Event, config=ConfigDict(cache_strings=STRING_CACHE))

_REASONS = {
    "missing": "missing_field",
    "extra_forbidden": "unknown_field",
    "union_tag_invalid": "unknown_kind",
    "union_tag_not_found": "missing_field",
    "literal_error": "bad_value",
    "string_pattern_mismatch": "bad_value",
    "json_invalid": "not_json",
    "json_type": "not_json",
    "model_type": "wrong_type",
    "model_attributes_type": "wrong_type",
    "finite_number": "not_finite",
}


def _reason(err_type: str) -> str:
    if err_type in _REASONS:
        return _REASONS[err_type]
    if err_type.endswith("_type") or err_type.endswith("_parsing"):
        return "wrong_type"
    if err_type.startswith(("greater_than", "less_than", "too_long", "too_short")):
        return "out_of_range"
    return "bad_value"


def _from_validation(exc: ValidationError) -> ContractError:
    first = exc.errors(include_url=False)[0]
    loc = [str(p) for p in first["loc"]]
    if loc and loc[0] in EVENT_KINDS:
        loc = loc[1:]  # the discriminated union puts the kind first
    field = "kind" if first["type"] == "union_tag_invalid" else ".".join(loc)
    value = first.get("input")
    if first["type"] == "missing":
        value = None
    elif first["type"] == "union_tag_invalid":
        value = first.get("ctx", {}).get("tag")
    return ContractError(_reason(first["type"]), first["msg"], field=field, value=value)


def _check_size(data: bytes | str, limit: int = MAX_MESSAGE_BYTES) -> None:
    if len(data) > limit:
        raise ContractError("too_large", f"message over {limit} bytes", value=len(data))


def decode_event(data: bytes | str) -> Event:
    """Decode one event message.

    Args:
        data: the MQTT payload (UTF-8 JSON).

    Returns:
        A :class:`~.envelope.DoorCrossing`, :class:`~.envelope.DeviceNotice` ... by ``kind``.

    Raises:
        ContractError: with ``reason`` naming what is wrong and ``field``/``value``.
    """
    _check_size(data)
    try:
        event = _EVENT.validate_json(data)
    except ValidationError as exc:
        raise _private(_from_validation(exc), data) from exc
    if event.synced and event.ts < SECONDS_SUSPECT_BELOW_MS:
        raise ContractError(
            "ts_in_seconds",
            "synchronised ts must be epoch milliseconds",
            field="ts",
            value=event.ts,
        )
    if isinstance(event, HealthReading):
        try:
            check_health_reading(event)
        except ContractError as exc:
            raise _private(exc, data) from exc
    return event


def _private(err: ContractError, data: bytes | str) -> ContractError:
    """``err`` without its value when the message is a health reading: an error is logged
    and counted, and a member pseudonym or vital-sign value must not reach a log."""
    marker = b'"health.reading"' if isinstance(data, bytes) else '"health.reading"'
    if marker not in data or err.value is None:  # type: ignore[operator]
        return err
    return ContractError(err.reason, err.message, field=err.field, value="<hidden>")


def check_health_reading(event: HealthReading) -> None:
    """Check a decoded health reading's values against their types (units, possible
    ranges, LOINC codes; :func:`facility_contracts.vitals.check_reading`) and against each
    other (:func:`~facility_contracts.vitals.check_readings`); :func:`decode_event` runs it,
    and a receiver of events that did not come through the decoder runs it again.

    Raises:
        ContractError: the first problem; ``field`` is its path in the event
            (``body.readings.1.value``), ``value`` the offending value (callers that log
            must hide it: a reading is health data).
    """
    items = event.body.readings
    for i, item in enumerate(items):
        try:
            check_reading(item.type, item.value, item.unit, item.loinc)
        except ContractError as exc:
            raise ContractError(
                exc.reason, exc.message, field=f"body.readings.{i}.{exc.field}", value=exc.value
            ) from exc
    try:
        check_readings([(r.type, r.value, r.unit) for r in items])
    except ContractError as exc:
        raise ContractError(
            exc.reason, exc.message, field=f"body.{exc.field}", value=exc.value
        ) from exc


def encode_event(event: Event, *, sent: int | None = None) -> bytes:
    """Encode an event as compact UTF-8 JSON; ``sent`` (monotonic ms) overrides the field."""
    if sent is not None:
        event = event.model_copy(update={"sent": sent})
    return event.model_dump_json(by_alias=True, exclude_none=True).encode()


def encode_ack(ids: list[str], rejected: dict[str, str] | None = None) -> bytes:
    """Encode a confirmation of stored ``ids`` and of permanently ``rejected`` ids
    (id -> reason)."""
    ack = Ack(ids=ids, rejected=rejected or {})
    empty = {name for name in ("ids", "rejected") if not getattr(ack, name)}
    return ack.model_dump_json(exclude=empty).encode()


def decode_ack(data: bytes | str) -> Ack:
    """Decode a confirmation. Raises :class:`ContractError`."""
    _check_size(data, MAX_ACK_BYTES)
    try:
        return Ack.model_validate_json(data)
    except ValidationError as exc:
        raise _from_validation(exc) from exc


def encode_status(status: Status) -> bytes:
    """Encode a status message (retained, and the last will with ``state`` offline)."""
    return status.model_dump_json(exclude_none=True).encode()


def decode_status(data: bytes | str) -> Status:
    """Decode a status message. Raises :class:`ContractError`."""
    _check_size(data)
    try:
        return Status.model_validate_json(data)
    except ValidationError as exc:
        raise _from_validation(exc) from exc


def as_dict(event: Event) -> dict[str, Any]:
    """The event as the JSON object it is on the wire."""
    return event.model_dump(by_alias=True, exclude_none=True)
