"""Message envelope and payloads, version 1.

Every event a device or edge agent publishes is one JSON object::

    {"v": 1, "id": "...", "device": "dc-main", "boot": "...", "seq": 42,
     "ts": 1764403200123, "mono": 5123, "synced": true,
     "kind": "door.crossing", "body": {"in": 2, "out": 0, "space": "culture-1"}}

- ``id``: event id, unique forever; dedupe key end to end. The edge makes a time-ordered
  UUIDv7 (RFC 9562), which keeps the gateway's dedupe index append-mostly (cheap inserts).
- ``boot`` + ``seq``: the publisher's boot id and a per-boot sequence number starting at
  1 with no gaps, so a missing event shows as a gap.
- ``ts``: device wall-clock time, UTC, integer milliseconds since the Unix epoch.
- ``mono``: monotonic milliseconds since the publisher booted.
- ``synced``: whether the publisher's wall clock was synchronised (NTP) when ``ts`` was taken.
- ``sent``: optional monotonic milliseconds of the same boot at the moment of (re)sending;
  lets a receiver estimate the event's time from its own clock as
  ``received - (sent - mono)`` when ``synced`` is false.
- ``kind`` selects the model of ``body``.

Integers are integers: numbers as strings, floats for integer fields, NaN and unknown
keys are rejected (strict validation). Status and acknowledgement messages are described
by :class:`Status` and :class:`Ack`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from facility_contracts.ids import EventId, NodeId
from facility_contracts.vitals import PSEUDONYM_PATTERN, ReadingType

#: Largest integer that survives a round trip through a JSON double (2**53 - 1).
MAX_SAFE_INT = 2**53 - 1

BootId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Millis = Annotated[int, Field(ge=0, le=MAX_SAFE_INT)]


class _Model(BaseModel):
    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        allow_inf_nan=False,
        cache_strings="keys",  # ids are unique: see facility_contracts.codec.STRING_CACHE
    )


class EventHeader(_Model):
    """Fields common to every event (see the module docstring for units)."""

    v: Literal[1] = 1
    id: EventId
    device: NodeId
    boot: BootId
    seq: Annotated[int, Field(ge=1, le=MAX_SAFE_INT)]
    ts: Millis
    mono: Millis
    synced: bool
    sent: Millis | None = None


class DoorCrossingBody(_Model):
    """People who crossed a door counter's line since the previous event.

    ``in`` and ``out`` are people (counts >= 0, at most 100,000 in one event);
    ``space`` is the id of the space the counter counts for (in = entering it).
    """

    in_: Annotated[int, Field(alias="in", ge=0, le=100_000)]
    out: Annotated[int, Field(ge=0, le=100_000)]
    space: NodeId


class DoorCrossing(EventHeader):
    """Door counter crossings (kind ``door.crossing``)."""

    kind: Literal["door.crossing"] = "door.crossing"
    body: DoorCrossingBody


NoticeCode = Literal[
    "power_cycle",
    "wrap",
    "frame_gap",
    "clock_step",
    "reconnected",
    "reading_rejected",
    "outbox_recovered",
]


class DeviceNoticeBody(_Model):
    """Something the edge noticed about a device: a power cycle, a counter wrap-around,
    a gap in frame numbers, a wall-clock step, a reconnect after unplug, a kiosk reading
    the edge rejected (``detail``: the reason and field, never a card number or value),
    the agent's outbox found damaged and rebuilt (device = the agent; ``detail``: the
    file kept aside, events salvaged and lost)."""

    code: NoticeCode
    detail: Annotated[str, Field(max_length=200)] = ""


class DeviceNotice(EventHeader):
    """Device notice (kind ``device.notice``)."""

    kind: Literal["device.notice"] = "device.notice"
    body: DeviceNoticeBody


TaskKind = Literal["disinfection", "patrol", "maintenance", "activity", "opening", "closing"]
CheckInMethod = Literal["rfid", "qr"]
#: ``badge``: a card read by RFID; ``rotating_qr``: a staff QR code that changes every
#: 30 s (HMAC-signed, replay-proof); ``static_qr``: a printed checkpoint code (weaker proof).
CheckInProof = Literal["badge", "rotating_qr", "static_qr"]


class CheckInBody(_Model):
    """A staff member proved presence at a checkpoint to record a task.

    ``badge`` is the card UID in canonical form (uppercase hex, first byte first, see
    :mod:`facility_contracts.cards`); ``checkpoint`` and ``space`` are registry ids;
    the check-in's time is the envelope's ``ts`` (device time).
    """

    badge: Annotated[str, Field(pattern=r"^(?:[0-9A-F]{2}){4,10}$")]
    checkpoint: NodeId
    space: NodeId
    task: TaskKind
    method: CheckInMethod
    proof: CheckInProof


class CheckIn(EventHeader):
    """Check-in at a terminal (kind ``checkin``)."""

    kind: Literal["checkin"] = "checkin"
    body: CheckInBody


Rating = Literal["very_satisfied", "satisfied", "dissatisfied", "very_dissatisfied"]


class SatisfactionVoteBody(_Model):
    """One press of a satisfaction terminal's button at the exit of a service.

    ``space`` is the service's space id. The terminal sends one vote per press and ignores
    presses during its lock-out (a few seconds) so button mashing counts once.
    Source: 4+5+X standard, management rules (satisfaction below 80% must be fixed).
    """

    space: NodeId
    rating: Rating


class SatisfactionVote(EventHeader):
    """Satisfaction vote (kind ``satisfaction.vote``)."""

    kind: Literal["satisfaction.vote"] = "satisfaction.vote"
    body: SatisfactionVoteBody


class HealthReadingItem(_Model):
    """One vital-sign reading: ``type`` and ``unit`` as in
    :data:`facility_contracts.vitals.QUANTITIES` (mmHg, bpm, %, degC, kg, mmol/L) and the
    quantity's LOINC code. Ranges and unit/type agreement are checked by
    :func:`facility_contracts.codec.decode_event` (see :mod:`facility_contracts.vitals`)."""

    type: ReadingType
    value: Annotated[float, Field(allow_inf_nan=False)]
    unit: Annotated[str, Field(max_length=10)]
    loinc: Annotated[str, Field(pattern=r"^[0-9]{1,7}-[0-9]$")]


class HealthReadingBody(_Model):
    """One measuring session of a member at a health kiosk (blood pressure gives systolic,
    diastolic and heart rate together).

    ``member`` is the pseudonym the edge made from the member card
    (:func:`facility_contracts.vitals.pseudonymise`); the card number never leaves the
    complex. ``space`` is the kiosk's space id. The time is the envelope's ``ts``.
    Source: PIPL art. 28-29 (sensitive personal information, separate consent), art. 51
    (de-identification as a protection measure).
    """

    member: Annotated[str, Field(pattern=PSEUDONYM_PATTERN)]
    space: NodeId
    readings: Annotated[list[HealthReadingItem], Field(min_length=1, max_length=7)]


class HealthReading(EventHeader):
    """Kiosk measuring session, pseudonymised (kind ``health.reading``). Never written to
    the time-series store: the server keeps values only with the member's consent."""

    kind: Literal["health.reading"] = "health.reading"
    body: HealthReadingBody


#: Any event; ``kind`` selects the model.
Event = Annotated[
    DoorCrossing | DeviceNotice | CheckIn | SatisfactionVote | HealthReading,
    Field(discriminator="kind"),
]
EVENT_KINDS: tuple[str, ...] = (
    "door.crossing",
    "device.notice",
    "checkin",
    "satisfaction.vote",
    "health.reading",
)


class Ack(_Model):
    """Gateway -> edge: confirmations; the edge deletes every listed id from its outbox.

    ``ids`` are stored. ``rejected`` maps ids the gateway will never store (a permanent
    rejection such as ``ts_in_future`` or ``device_mismatch``) to the reason; the edge
    sets them aside with the reason instead of sending them forever. At least one of the
    two is non-empty.
    """

    v: Literal[1] = 1
    ids: Annotated[list[EventId], Field(max_length=5000)] = []
    rejected: Annotated[
        dict[EventId, Annotated[str, Field(max_length=40)]], Field(max_length=5000)
    ] = {}

    @model_validator(mode="after")
    def _not_empty(self) -> Ack:
        if not self.ids and not self.rejected:
            raise ValueError("an ack confirms or rejects at least one id")
        return self


#: Reader states an edge agent reports per device in :attr:`Status.devices`.
#: ``reading``: the port is open and frames arrive or may arrive (healthy);
#: ``starting``: not opened yet; ``disconnected``: the port is gone (unplugged), retrying;
#: ``outbox_full`` / ``outbox_error``: frames are read but cannot be stored; ``ended``:
#: a file source reached its end.
DEVICE_READER_STATES: tuple[str, ...] = (
    "starting",
    "reading",
    "disconnected",
    "outbox_full",
    "outbox_error",
    "ended",
)
#: The reader states that mean the device works.
HEALTHY_READER_STATES: frozenset[str] = frozenset({"reading"})


class Status(_Model):
    """Retained status of an edge agent or MQTT device; its last will has ``state`` offline.

    Units: ``uptime_s`` seconds, ``outbox`` events waiting, ``disk_free_mb`` MiB,
    ``heartbeat_s`` seconds between status messages (a status older than about three
    heartbeats means the publisher is silent), ``ts`` UTC ms.
    """

    v: Literal[1] = 1
    device: NodeId
    state: Literal["online", "offline"]
    boot: BootId | None = None
    ts: Millis | None = None
    uptime_s: Annotated[float, Field(ge=0)] | None = None
    outbox: Annotated[int, Field(ge=0)] | None = None
    synced: bool | None = None
    disk_free_mb: Annotated[float, Field(ge=0)] | None = None
    heartbeat_s: Annotated[float, Field(gt=0)] | None = None
    software: Annotated[str, Field(max_length=40)] | None = None
    devices: dict[str, Annotated[str, Field(max_length=40)]] | None = None
