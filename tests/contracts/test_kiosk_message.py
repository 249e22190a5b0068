"""Kiosk messages on the local broker: decoding, normalised cards, and errors that never
show the card number."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from facility_contracts.errors import ContractError
from facility_contracts.kiosk import (
    MAX_KIOSK_BYTES,
    SESSION_FILTER,
    KioskReading,
    KioskSession,
    decode_session,
    encode_session,
    session_topic,
)
from hypothesis import given, settings
from hypothesis import strategies as st

CARD = "3301 0600 1234"
GOOD: dict[str, Any] = {
    "v": 1,
    "id": "0193a0b1-2c3d-7e4f-8a5b-6c7d8e9f0a1b",
    "kiosk": "kiosk-elder-1",
    "ts": 1_764_403_200_123,
    "synced": True,
    "card": CARD,
    "readings": [
        {"type": "systolic_bp", "value": 150, "unit": "mmHg"},
        {"type": "diastolic_bp", "value": 95, "unit": "mmHg"},
        {"type": "heart_rate", "value": 78, "unit": "bpm"},
    ],
}


def message(card: Any = CARD, **changes: Any) -> dict[str, Any]:
    """GOOD with another card (``...`` removes it) and fields changed or removed (``...``)."""
    msg = json.loads(json.dumps(GOOD))
    changes = {"card": card, **changes}
    for key, value in changes.items():
        if value is ...:
            del msg[key]
        else:
            msg[key] = value
    return msg


def shows_card(exc: ContractError, card: str) -> bool:
    """True when the error's text, field or value shows the card in any typed form."""
    forms = {card, card.replace(" ", ""), card.replace(" ", "").upper(), card.strip()}
    shown = f"{exc} {exc.field} {exc.value!r} {exc.message}"
    return any(f and f in shown for f in forms)


def test_good_session_decodes_with_normalised_card() -> None:
    """The module's example decodes; the card is normalised; values are floats."""
    session = decode_session(json.dumps(GOOD))
    assert session.card == "330106001234"
    assert [(r.type, r.value, r.unit) for r in session.readings] == [
        ("systolic_bp", 150.0, "mmHg"),
        ("diastolic_bp", 95.0, "mmHg"),
        ("heart_rate", 78.0, "bpm"),
    ]
    assert (session.kiosk, session.ts, session.synced) == ("kiosk-elder-1", 1_764_403_200_123, True)


def test_encode_round_trips_and_topics() -> None:
    """encode_session output decodes to the same session; topics follow kiosk/v1/{kiosk}."""
    session = KioskSession(
        id="0193a0b1-2c3d-7e4f-8a5b-000000000001",
        kiosk="k-1",
        ts=1_764_403_200_000,
        card="AB12CD34",
        readings=[KioskReading(type="spo2", value=97.0, unit="%")],
    )
    assert decode_session(encode_session(session)) == session
    assert session_topic("k-1") == "kiosk/v1/k-1/session"
    assert SESSION_FILTER == "kiosk/v1/+/session"


def enc(**changes: Any) -> bytes:
    """GOOD as bytes, changed as :func:`message`."""
    return json.dumps(message(**changes)).encode()


def reads(*readings: dict[str, Any]) -> bytes:
    """GOOD with other readings, as bytes."""
    return enc(readings=list(readings))


def r(type_: str, value: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {"type": type_, "value": value, "unit": unit, **extra}


BAD: list[tuple[str, bytes, str, str]] = [
    ("not JSON", b'{"card": "3301 0600 1234", ', "not_json", ""),
    ("a list", json.dumps([CARD]).encode(), "wrong_type", ""),
    ("a string", json.dumps(CARD).encode(), "wrong_type", ""),
    ("card missing", enc(card=...), "missing_field", "card"),
    ("card a number", enc(card=330106001234), "wrong_type", "card"),
    ("card too short", enc(card="12"), "bad_value", "card"),
    ("card bad chars", enc(card="3301@0600#1234"), "bad_value", "card"),
    ("card too long", enc(card="3" * 65), "bad_value", "card"),
    ("card in unknown key", enc(member_card=CARD), "unknown_field", "member_card"),
    ("card in a reading", reads(r("spo2", 97, "%", card=CARD)), "unknown_field", "readings.0.card"),
    ("card as a unit", reads(r("spo2", 97, CARD)), "bad_value", "readings.0.unit"),
    ("readings a string", enc(readings=CARD), "wrong_type", "readings"),
    ("no readings", reads(), "out_of_range", "readings"),
    ("eight readings", reads(*[r("spo2", 97, "%")] * 8), "out_of_range", "readings"),
    ("SpO2 over 100", reads(r("spo2", 104, "%")), "impossible_value", "readings.0.value"),
    ("degF", reads(r("body_temperature", 98.4, "degF")), "bad_unit", "readings.0.unit"),
    (
        "inverted",
        reads(r("systolic_bp", 80, "mmHg"), r("diastolic_bp", 95, "mmHg")),
        "bp_inverted",
        "readings",
    ),
    ("unknown type", reads(r("ldl", 3, "mmol/L")), "bad_value", "readings.0.type"),
    ("kiosk not an id", enc(kiosk="Kiosk 1"), "bad_value", "kiosk"),
    ("too large", enc(pad="x" * MAX_KIOSK_BYTES), "too_large", ""),
    ("id not a UUID", enc(id="not-a-uuid"), "bad_value", "id"),
    ("id without dashes", enc(id="0193a0b12c3d7e4f8a5b6c7d8e9f0a1b"), "bad_value", "id"),
    ("id in braces", enc(id="{0193a0b1-2c3d-7e4f-8a5b-6c7d8e9f0a1b}"), "bad_value", "id"),
    ("id as a URN", enc(id="urn:uuid:0193a0b1-2c3d-7e4f-8a5b-6c7d8e9f0a1b"), "bad_value", "id"),
    ("nil UUID", enc(id="00000000-0000-0000-0000-000000000000"), "bad_value", "id"),
    ("id version 9", enc(id="0193a0b1-2c3d-9e4f-8a5b-6c7d8e9f0a1b"), "bad_value", "id"),
    ("id Microsoft variant", enc(id="0193a0b1-2c3d-4e4f-ca5b-6c7d8e9f0a1b"), "bad_value", "id"),
    ("card as the id", enc(id=CARD), "bad_value", "id"),
    (
        "card twice",
        enc().replace(b'"card": ', b'"card": "3301 0600 9999", "card": ', 1),
        "bad_value",
        "card",
    ),
    (
        "type twice in a reading",
        enc().replace(b'"type": "diastolic_bp"', b'"type": "spo2", "type": "diastolic_bp"'),
        "bad_value",
        "readings.1.type",
    ),
    ("nested too deeply", b"[" * 2000 + b"]" * 2000, "not_json", ""),
    (
        "NaN value",
        reads(r("spo2", 97, "%")).replace(b"97", b"NaN"),
        "not_finite",
        "readings.0.value",
    ),
    ("ts negative", enc(ts=-1), "out_of_range", "ts"),
]


@pytest.mark.parametrize(("what", "data", "reason", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_messages_are_named_without_the_card(
    what: str, data: bytes, reason: str, field: str
) -> None:
    """Each bad message gives its reason and field, its value hidden; the card appears
    nowhere in the error."""
    with pytest.raises(ContractError) as err:
        decode_session(data)
    shown = len(data) if reason == "too_large" else "<hidden>"  # only a size is shown
    assert (err.value.reason, err.value.field, err.value.value) == (reason, field, shown)
    assert not shows_card(err.value, CARD)


def test_reading_values_are_not_shown_either() -> None:
    """An impossible value is named by reason and field, its value hidden (health data)."""
    with pytest.raises(ContractError) as err:
        decode_session(
            json.dumps(message(readings=[{"type": "spo2", "value": 104.5, "unit": "%"}]))
        )
    assert (err.value.reason, err.value.field, err.value.value) == (
        "impossible_value",
        "readings.0.value",
        "<hidden>",
    )
    assert "104.5" not in str(err.value)


CARDS = st.from_regex(r"3301[ -]?[0-9]{4}[ -]?[0-9]{4}", fullmatch=True)
BREAKS = st.sampled_from(
    [
        lambda c: json.dumps(message(card=c))[:-3],  # cut short: not JSON
        lambda c: json.dumps(message(card=c, extra=c)),
        lambda c: json.dumps(message(card=c + "@")),
        lambda c: json.dumps(
            message(card=c, readings=[{"type": "spo2", "value": 40, "unit": "%"}])
        ),
        lambda c: json.dumps(message(card=c, readings=[{"type": "spo2", "value": 96, "unit": c}])),
        lambda c: json.dumps([message(card=c)]),
    ]
)


@settings(max_examples=200, deadline=None)
@given(card=CARDS, breaking=BREAKS)
def test_no_error_ever_shows_the_card(card: str, breaking: Any) -> None:
    """Whatever breaks a message holding a card, the error shows no form of the card."""
    with pytest.raises(ContractError) as err:
        decode_session(breaking(card))
    assert not shows_card(err.value, card)


@pytest.mark.parametrize(
    "session_id",
    [
        str(uuid.uuid1()),
        str(uuid.uuid3(uuid.NAMESPACE_URL, "kiosk")),
        str(uuid.uuid4()),
        str(uuid.uuid5(uuid.NAMESPACE_URL, "kiosk")),
        "1f0c9a5e-3b2d-6a10-9c4e-0242ac120002",  # version 6 (RFC 9562 section 5.6)
        "0193a0b1-2c3d-7e4f-8a5b-6c7d8e9f0a1b",  # version 7
        "0193a0b1-2c3d-8e4f-bfff-6c7d8e9f0a1b",  # version 8, variant digit b
    ],
)
def test_session_id_is_any_rfc_9562_uuid(session_id: str) -> None:
    """A UUID of any version 1-8 in canonical text is a session id."""
    assert decode_session(enc(id=session_id)).id == session_id


def test_upper_case_session_id_is_lower_cased() -> None:
    """Hex digits are case-insensitive on input (RFC 9562 section 4): stored lower-cased,
    so the same session in either case is one event id."""
    upper = "0193A0B1-2C3D-7E4F-8A5B-6C7D8E9F0A1B"
    assert decode_session(enc(id=upper)).id == upper.lower() == GOOD["id"]


def test_bad_session_id_error_says_what_a_session_id_is() -> None:
    """The error for a session id that is not a UUID names the field and the form wanted."""
    with pytest.raises(ContractError) as err:
        decode_session(enc(id="not-a-uuid"))
    assert err.value.field == "id" and "UUID in canonical text" in err.value.message


def test_a_repeated_key_is_refused_whichever_copy_is_valid() -> None:
    """A card given twice is refused even when both copies are valid cards: which one a
    parser keeps is not defined (RFC 8259 section 4)."""
    twice = enc().replace(b'"card": ', b'"card": "3301 0600 5678", "card": ', 1)
    assert json.loads(twice)["card"] == CARD  # Python's parser keeps the last copy
    with pytest.raises(ContractError) as err:
        decode_session(twice)
    assert (err.value.reason, err.value.field) == ("bad_value", "card")
    assert "3301" not in str(err.value)
