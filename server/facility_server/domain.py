"""Vocabulary shared by the API, the setup file and the database: enums and checked types.

Space types are the 4+5+X list of the Hangzhou standard (see ../shared/DOMAIN.md):
4 basic services, 5 featured services, and ``extension`` for X.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated
from zoneinfo import available_timezones

from facility_contracts.ids import ID_PATTERN
from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

from facility_server.opening import WEEKDAYS, parse_intervals


class SpaceType(StrEnum):
    """A 4+5+X service type (4 basic, 5 featured, X extension)."""

    elderly_care = "elderly_care"
    elderly_meal = "elderly_meal"
    infant_care = "infant_care"
    child_care = "child_care"
    aid = "aid"
    disability_care = "disability_care"
    housekeeping = "housekeeping"
    health = "health"
    fitness = "fitness"
    culture = "culture"
    kids_play = "kids_play"
    extension = "extension"


class DeviceKind(StrEnum):
    """What a device is."""

    door_counter = "door_counter"
    checkin_terminal = "checkin_terminal"
    health_kiosk = "health_kiosk"
    satisfaction_terminal = "satisfaction_terminal"
    camera = "camera"
    edge_agent = "edge_agent"


class Transport(StrEnum):
    """How a device reaches the system.

    ``serial``: a serial line read by an edge agent (``via``). ``mqtt``: the device talks
    to the central broker with its own credentials. ``local_mqtt``: the device talks only
    to the broker on its edge agent's board (a health kiosk: member card numbers must not
    leave the complex); the agent (``via``) publishes its events, pseudonymised.
    """

    serial = "serial"
    mqtt = "mqtt"
    local_mqtt = "local_mqtt"


#: Transports whose events an edge agent publishes (the device has no central credentials).
VIA_AGENT = frozenset({Transport.serial, Transport.local_mqtt})


def check_transport(
    kind: DeviceKind, transport: Transport, has_via: bool, via_field: str = "via"
) -> None:
    """How a device may reach the system; one rule for the setup file and the API.

    Raises:
        ValueError: a serial or local_mqtt device without the edge agent that forwards
            it, or an edge agent that is not on MQTT.
    """
    if kind is DeviceKind.edge_agent and transport is not Transport.mqtt:
        raise ValueError("an edge agent talks MQTT")
    if transport in VIA_AGENT and not has_via:
        raise ValueError(f"a {transport} device needs {via_field!r} (its edge agent)")


class RegionKind(StrEnum):
    """Levels above a complex."""

    district = "district"
    street = "street"
    community = "community"


class TagKind(StrEnum):
    """A checkpoint is an NFC/RFID tag (canonical UID) or a printed QR id."""

    nfc = "nfc"
    qr = "qr"


class HolidayPolicy(StrEnum):
    """What a statutory public holiday does to a complex's hours."""

    closed = "closed"
    regular = "regular"


#: A site, space, device, staff or checkpoint code: one MQTT topic level (contracts.ids).
Code = Annotated[str, StringConstraints(pattern=ID_PATTERN)]

#: Printable text without control characters or lone surrogates (PostgreSQL refuses NUL).
_TEXT = r"^[^\x00-\x1f\x7f]*$"


def text(max_length: int = 200, min_length: int = 0) -> object:
    """A ``str`` type of printable text up to ``max_length`` characters."""
    return StringConstraints(pattern=_TEXT, max_length=max_length, min_length=min_length)


Name = Annotated[str, text(200, 1)]
ShortText = Annotated[str, text(200)]

_ZONES = frozenset(available_timezones())


def _check_zone(value: str) -> str:
    if value not in _ZONES:
        raise ValueError(f"unknown IANA time zone {value!r}")
    return value


TimeZone = Annotated[str, Field(max_length=64), AfterValidator(_check_zone)]


def _check_weekday(value: str) -> str:
    if value not in WEEKDAYS:
        raise ValueError(f"unknown weekday {value[:40]!r}; use one of {', '.join(WEEKDAYS)}")
    return value


def _check_weekly(value: dict[str, list[str]]) -> dict[str, list[str]]:
    for intervals in value.values():
        parse_intervals(intervals)
    return {d: list(value[d]) for d in WEEKDAYS if d in value}


#: Weekly hours: ``{"mon": ["09:00-12:00", "13:00-17:30"], ...}``; missing days closed.
#: An unknown key is refused as ``unknown weekday 'wednesday'; use one of mon, ...``.
WeeklyHours = Annotated[
    dict[
        Annotated[str, AfterValidator(_check_weekday)],
        Annotated[list[Annotated[str, Field(max_length=11)]], Field(max_length=8)],
    ],
    AfterValidator(_check_weekly),
]


def _check_intervals(value: list[str]) -> list[str]:
    parse_intervals(value)
    return value


DayHours = Annotated[
    list[Annotated[str, Field(max_length=11)]],
    Field(max_length=8),
    AfterValidator(_check_intervals),
]

#: Earliest and latest instants the system accepts (keeps arithmetic and databases safe).
MIN_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
MAX_INSTANT = datetime(2100, 1, 1, tzinfo=UTC)


def _to_utc(value: datetime) -> datetime:
    try:
        inside = MIN_INSTANT <= value <= MAX_INSTANT
    except OverflowError:
        inside = False
    if not inside:
        raise ValueError("instant outside 2000-01-01..2100-01-01 UTC")
    return value.astimezone(UTC)


#: A tz-aware instant (naive datetimes are refused with 422), converted to UTC.
Instant = Annotated[AwareDatetime, AfterValidator(_to_utc)]


def _check_day(value: date) -> date:
    if not date(2000, 1, 1) <= value <= date(2099, 12, 31):
        raise ValueError("date outside 2000..2099")
    return value


Day = Annotated[date, AfterValidator(_check_day)]
