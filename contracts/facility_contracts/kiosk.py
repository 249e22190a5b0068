"""What a health kiosk publishes on the complex's own network, before pseudonymisation.

A kiosk is an MQTT device on the complex's LAN. It publishes each measuring session at
QoS 1 to the broker on the edge board (never to the central broker), on
``kiosk/v1/{kiosk}/session``::

    {"v": 1, "id": "0193...", "kiosk": "kiosk-elder-1", "ts": 1764403200123,
     "synced": true, "card": "3301 0600 1234",
     "readings": [{"type": "systolic_bp", "value": 150, "unit": "mmHg"},
                  {"type": "diastolic_bp", "value": 95, "unit": "mmHg"},
                  {"type": "heart_rate", "value": 78, "unit": "bpm"}]}

``id`` is the kiosk's session id (unique forever, a UUID), kept as the event id so a
session the kiosk sends twice is stored once. ``ts`` is UTC ms of the kiosk's clock.
``card`` is the member card number: the edge agent turns it into a pseudonym
(:func:`facility_contracts.vitals.pseudonymise`) and publishes a
:class:`facility_contracts.envelope.HealthReading`; the card number goes no further.

Decoding is pure and raises :class:`~facility_contracts.errors.ContractError` (reasons as
in :mod:`.codec`, plus those of :func:`facility_contracts.vitals.check_readings`); an
error never shows the card number or a reading value.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from facility_contracts.codec import _from_validation  # one mapping of pydantic errors
from facility_contracts.errors import ContractError
from facility_contracts.ids import EventId, NodeId
from facility_contracts.vitals import ReadingType, check_readings, normalise_card

#: Largest accepted kiosk message, bytes.
MAX_KIOSK_BYTES = 4096
TOPIC_PREFIX = "kiosk/v1"


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
    id: EventId
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
        ContractError: ``too_large``, ``not_json``, ``missing_field``, ``wrong_type``,
            ``unknown_field``, ``bad_value``, ``bad_unit``, ``impossible_value``,
            ``bp_inverted`` (field ``readings.{i}.*``). The field is named; the value is
            ``"<hidden>"`` (``too_large``: the size): it may be the card number (a
            misplaced or malformed card, the whole message) or a vital-sign value,
            neither of which may reach a log.
    """
    if len(data) > MAX_KIOSK_BYTES:
        raise ContractError("too_large", f"message over {MAX_KIOSK_BYTES} bytes", value=len(data))
    try:
        session = KioskSession.model_validate_json(data)
        check_readings([(r.type, r.value, r.unit) for r in session.readings])
        card = normalise_card(session.card)
    except ValidationError as exc:
        raise _hidden(_from_validation(exc)) from exc
    except ContractError as exc:
        raise _hidden(exc) from exc
    return session.model_copy(update={"card": card})


def _hidden(err: ContractError) -> ContractError:
    """``err`` with its value replaced by ``"<hidden>"`` (reason, message, field kept)."""
    return ContractError(err.reason, err.message, field=err.field, value="<hidden>")


def encode_session(session: KioskSession) -> bytes:
    """Encode a kiosk message (the simulator's side)."""
    return session.model_dump_json().encode()
