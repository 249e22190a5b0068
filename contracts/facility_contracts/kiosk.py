"""What a health kiosk publishes on the complex's own network, before pseudonymisation.

A kiosk is an MQTT device on the complex's LAN. It publishes each measuring session at
QoS 1 to the broker on the edge board (never to the central broker), on
``kiosk/v1/{kiosk}/session``::

    {"v": 1, "id": "0193...", "kiosk": "kiosk-elder-1", "ts": 1764403200123,
     "synced": true, "card": "3301 0600 1234",
     "readings": [{"type": "systolic_bp", "value": 150, "unit": "mmHg"},
                  {"type": "diastolic_bp", "value": 95, "unit": "mmHg"},
                  {"type": "heart_rate", "value": 78, "unit": "bpm"}]}

``id`` is the kiosk's session id, unique forever: a UUID (RFC 9562, formerly RFC 4122:
any version 1-8, the RFC variant) in its canonical text form of 8-4-4-4-12 hex digits,
either case on input, lower-cased when decoded. It is kept as the event id, so a session
the kiosk sends twice is stored once. ``ts`` is UTC ms of the kiosk's clock.
``card`` is the member card number: the edge agent turns it into a pseudonym
(:func:`facility_contracts.vitals.pseudonymise`) and publishes a
:class:`facility_contracts.envelope.HealthReading`; the card number goes no further.

Decoding is pure and raises :class:`~facility_contracts.errors.ContractError` (reasons as
in :mod:`.codec`, plus those of :func:`facility_contracts.vitals.check_readings`); an
error never shows the card number or a reading value. A key given twice in one JSON
object (``"card"`` twice) is refused: JSON parsers disagree on which one wins (RFC 8259,
section 4: names "SHOULD be unique").
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from facility_contracts.codec import _from_validation  # one mapping of pydantic errors
from facility_contracts.errors import ContractError
from facility_contracts.ids import NodeId
from facility_contracts.vitals import ReadingType, check_readings, normalise_card

#: Largest accepted kiosk message, bytes.
MAX_KIOSK_BYTES = 4096
TOPIC_PREFIX = "kiosk/v1"
#: A UUID in canonical text: version 1-8 (third group's first digit), RFC variant
#: (fourth group's first digit 8, 9, a or b); RFC 9562 section 4.
_UUID_TEXT = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", re.IGNORECASE
)


def _session_id(text: str) -> str:
    """``text`` lower-cased when it is a UUID in canonical text form (see ``_UUID_TEXT``).

    Raises:
        ValueError: any other text (pydantic reports it as ``bad_value``, field ``id``).
    """
    if not _UUID_TEXT.fullmatch(text):
        raise ValueError(
            "session id must be a UUID in canonical text: 8-4-4-4-12 hex digits, "
            "version 1-8, RFC 9562 variant (e.g. 0193a0b1-2c3d-7e4f-8a5b-6c7d8e9f0a1b)"
        )
    return text.lower()


#: The session id: a UUID (RFC 9562), canonical text, lower-cased.
SessionId = Annotated[str, AfterValidator(_session_id)]


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


class KioskReading(_Model):
    """One reading as the kiosk prints it (type, value, unit)."""

    type: ReadingType
    value: float
    unit: Annotated[str, Field(max_length=10)]


class KioskSession(_Model):
    """One measuring session of one member (see the module docstring)."""

    v: Literal[1] = 1
    id: SessionId
    kiosk: NodeId
    ts: Annotated[int, Field(ge=0, le=2**53 - 1)]
    synced: bool = True
    card: Annotated[str, Field(max_length=64)]
    readings: Annotated[list[KioskReading], Field(min_length=1, max_length=7)]


def session_topic(kiosk: str) -> str:
    """``kiosk/v1/{kiosk}/session``: where kiosk ``kiosk`` publishes its sessions."""
    return f"{TOPIC_PREFIX}/{kiosk}/session"


#: Subscription for every kiosk on the local broker.
SESSION_FILTER = f"{TOPIC_PREFIX}/+/session"


def decode_session(data: bytes | str) -> KioskSession:
    """Decode and check one kiosk message; the card number is normalised.

    Raises:
        ContractError: ``too_large`` (value: the size, bytes), ``not_json``,
            ``missing_field``, ``wrong_type``, ``unknown_field``, ``bad_value`` (a bad
            card number or session id, ``v`` not 1, an unknown reading type, a type
            twice, a key given twice in one object), ``out_of_range`` (no reading or more
            than 7, ``ts`` negative or over 2**53 - 1), ``not_finite`` (a NaN or infinite
            value), ``bad_unit``, ``impossible_value``, ``bp_inverted`` (field
            ``readings.{i}.*``). The field is named; the value is ``"<hidden>"``
            (``too_large``: the size): it may be the card number (a misplaced or
            malformed card, the whole message) or a vital-sign value, neither of which
            may reach a log.
    """
    if len(data) > MAX_KIOSK_BYTES:
        raise ContractError("too_large", f"message over {MAX_KIOSK_BYTES} bytes", value=len(data))
    _refuse_duplicate_keys(data)
    try:
        session = KioskSession.model_validate_json(data)
        check_readings([(r.type, r.value, r.unit) for r in session.readings])
        card = normalise_card(session.card)
    except ValidationError as exc:
        raise _hidden(_from_validation(exc)) from exc
    except ContractError as exc:
        raise _hidden(exc) from exc
    return session.model_copy(update={"card": card})


class _Repeated(dict[str, Any]):
    """A JSON object in which the key ``repeated`` was given more than once."""

    repeated: str


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``'s ``object_pairs_hook``: the object, marked when a key repeats."""
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    marked = _Repeated(obj)
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            marked.repeated = key
            break
        seen.add(key)
    return marked


def _repeated_key(doc: Any) -> str | None:
    """The dotted path (``readings.0.type``) of the first key given twice in ``doc``."""
    todo: list[tuple[Any, str]] = [(doc, "")]
    while todo:  # a loop, not recursion: the document may be nested deeply
        node, path = todo.pop()
        if isinstance(node, _Repeated):
            return f"{path}{node.repeated}"
        if isinstance(node, dict):
            todo.extend((v, f"{path}{k}.") for k, v in reversed(node.items()))
        elif isinstance(node, list):
            todo.extend((v, f"{path}{i}.") for i, v in reversed(list(enumerate(node))))
    return None


def _refuse_duplicate_keys(data: bytes | str) -> None:
    """Refuse JSON that Python's parser cannot read, or with a key twice in an object.

    Raises:
        ContractError: ``not_json`` (value hidden), or ``bad_value`` with the repeated
            key's path as field (value hidden).
    """
    try:
        doc = json.loads(data, object_pairs_hook=_object)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, deep nesting
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise ContractError("not_json", f"invalid JSON: {msg}", value="<hidden>") from exc
    field = _repeated_key(doc)
    if field is not None:
        raise ContractError(
            "bad_value", "key given twice in one JSON object", field=field, value="<hidden>"
        )


def _hidden(err: ContractError) -> ContractError:
    """``err`` with its value replaced by ``"<hidden>"`` (reason, message, field kept)."""
    return ContractError(err.reason, err.message, field=err.field, value="<hidden>")


def encode_session(session: KioskSession) -> bytes:
    """Encode a kiosk message (the simulator's side)."""
    return session.model_dump_json().encode()
