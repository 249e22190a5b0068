"""Envelope -> point (pure): the time rules and the schema of :mod:`facility_contracts.schema`.

Time rules (docs/architecture.md, "Time"); all times are UTC epoch milliseconds and
``max_future_ms`` is 5 minutes:

======================================  =================================  ==============
event                                   point time                         ``clock`` tag
======================================  =================================  ==============
synced, min <= ts <= now + 5 min        ``ts``                             ``synced``
synced, ts < min plausible              rejected ``ts_too_old``
synced, ts > now + 5 min                rejected ``ts_in_future``
not synced, ``sent`` present            ``received - (sent - mono)``       ``estimated``
not synced, no ``sent``, ts plausible   ``ts``                             ``unsynced``
not synced, no ``sent``, implausible    ``received``                       ``estimated``
======================================  =================================  ==============

An estimate is never later than ``received`` (a ``sent`` below ``mono`` is bad data and
counts as zero age), and no point is ever more than 5 minutes ahead of ``now``. The
point time in ns is ``ms * 10**6 + seq % 10**6`` so two events of one device in the same
millisecond never overwrite each other. Status messages become ``device_status``
points at their ``ts`` when it is synced and plausible, else at ``received``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from facility_contracts.envelope import (
    CheckIn,
    DeviceNotice,
    DoorCrossing,
    Event,
    HealthReading,
    SatisfactionVote,
    Status,
)
from facility_contracts.errors import ContractError
from facility_contracts.schema import (
    CHECKIN,
    DEVICE_NOTICE,
    DEVICE_STATUS,
    DOOR_CROSSING,
    SATISFACTION_VOTE,
    MeasurementSpec,
)
from facility_contracts.topics import Topic

from facility_gateway.points import FieldValue, Point

#: Nothing is stored more than this far ahead of the gateway's clock (ms): 5 minutes.
MAX_FUTURE_MS = 5 * 60 * 1000
#: Default earliest plausible event time: 2000-01-01T00:00:00Z.
DEFAULT_MIN_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)

_CAST = {"int": int, "float": float, "bool": bool, "str": str}


@dataclass(frozen=True, slots=True)
class TimeRules:
    """Plausibility window for event times.

    Attributes:
        min_ms: earliest plausible event time, UTC epoch ms.
        max_future_ms: how far ahead of ``now`` a time may be, ms.
    """

    min_ms: int = int(DEFAULT_MIN_EVENT_TIME.timestamp() * 1000)
    max_future_ms: int = MAX_FUTURE_MS

    @classmethod
    def from_datetime(cls, earliest: datetime) -> TimeRules:
        """Rules with ``earliest`` (timezone-aware) as the minimum plausible time.

        Raises:
            ValueError: when ``earliest`` is naive.
        """
        if earliest.tzinfo is None:
            raise ValueError("min event time must be timezone-aware (UTC)")
        return cls(min_ms=int(earliest.timestamp() * 1000))

    def plausible(self, ts: int, now_ms: int) -> bool:
        """True when ``min_ms <= ts <= now_ms + max_future_ms``."""
        return self.min_ms <= ts <= now_ms + self.max_future_ms


#: The default rules: plausible from 2000-01-01 UTC to 5 minutes ahead of now.
DEFAULT_RULES = TimeRules()


_CONVERTERS: dict[str, dict[str, type]] = {}


def typed_fields(
    spec: MeasurementSpec, values: Iterable[tuple[str, object]]
) -> tuple[tuple[str, FieldValue], ...]:
    """Cast values to the schema's field types; ``None`` values are left out.

    Raises:
        KeyError: a field the measurement does not have (a programming error).
    """
    casts = _CONVERTERS.get(spec.name)
    if casts is None:
        casts = _CONVERTERS[spec.name] = {f.name: _CAST[f.type] for f in spec.fields}
    return tuple((name, casts[name](value)) for name, value in values if value is not None)


def event_time(
    event: Event, received_ms: int, now_ms: int, rules: TimeRules = DEFAULT_RULES
) -> tuple[int, str]:
    """The event's point time in ms and its ``clock`` tag (see the module table).

    Raises:
        ContractError: ``ts_too_old`` or ``ts_in_future`` for a synced, implausible ts.
    """
    ceiling = now_ms + rules.max_future_ms
    if event.synced:
        if event.ts < rules.min_ms:
            raise ContractError(
                "ts_too_old",
                "synced ts before the earliest plausible time",
                field="ts",
                value=event.ts,
            )
        if event.ts > ceiling:
            raise ContractError(
                "ts_in_future", "synced ts more than 5 minutes ahead", field="ts", value=event.ts
            )
        return event.ts, "synced"
    if event.sent is not None:
        age = max(0, event.sent - event.mono)
        return min(received_ms - age, ceiling), "estimated"
    if rules.plausible(event.ts, now_ms):
        return event.ts, "unsynced"
    return min(received_ms, ceiling), "estimated"


def _check_device(topic: Topic, device: str) -> None:
    if device != topic.device:
        raise ContractError(
            "device_mismatch",
            "envelope device differs from the topic's device",
            field="device",
            value=device,
        )


#: What :func:`event_point` writes, checked against the schema at import so the fast
#: path below cannot drift from :mod:`facility_contracts.schema`.
_EVENT_LAYOUT: dict[MeasurementSpec, tuple[tuple[str, ...], tuple[tuple[str, str], ...]]] = {
    DOOR_CROSSING: (
        ("clock", "device", "site", "space"),
        (("in", "int"), ("out", "int"), ("seq", "int")),
    ),
    DEVICE_NOTICE: (("code", "device", "site"), (("count", "int"), ("seq", "int"))),
    CHECKIN: (
        ("checkpoint", "clock", "device", "method", "site", "space", "task"),
        (("count", "int"), ("seq", "int")),
    ),
    SATISFACTION_VOTE: (
        ("clock", "device", "rating", "site", "space"),
        (("count", "int"), ("seq", "int")),
    ),
}


def _verify_layout() -> None:
    for spec, (tags, fields) in _EVENT_LAYOUT.items():
        if (
            tuple(sorted(spec.tags)) != tags
            or tuple((f.name, f.type) for f in spec.fields) != fields
        ):
            raise RuntimeError(f"facility_gateway.mapping is out of date with schema {spec.name}")


_verify_layout()


def event_point(
    topic: Topic, event: Event, received_ms: int, now_ms: int, rules: TimeRules = DEFAULT_RULES
) -> Point | None:
    """Map one decoded event to its point, or ``None`` for a kind that never goes to the
    time-series store: ``health.reading`` (member pseudonym and vital-sign values are
    sensitive personal information, PIPL art. 28; the server keeps them and writes only
    aggregates). Such an event is still checked (device, time), deduplicated and confirmed.

    Integer fields need no cast: the envelope's strict models admit only ints there
    (not floats, strings or booleans), and :data:`_EVENT_LAYOUT` is checked against
    the schema at import.

    Args:
        topic: the parsed topic it arrived on (site and device come from here).
        event: the decoded event.
        received_ms: gateway clock when the message arrived, UTC epoch ms.
        now_ms: gateway clock now, UTC epoch ms.
        rules: plausibility window.

    Raises:
        ContractError: ``device_mismatch``, ``ts_too_old`` or ``ts_in_future``.
    """
    if event.device != topic.device:
        _check_device(topic, event.device)
    ms, clock = event_time(event, received_ms, now_ms, rules)
    seq = event.seq
    time_ns = ms * 1_000_000 + seq % 1_000_000
    if type(event) is DoorCrossing:
        body = event.body
        tags = (
            ("clock", clock),
            ("device", topic.device),
            ("site", topic.site),
            ("space", body.space),
        )
        return Point(
            "door_crossing", tags, (("in", body.in_), ("out", body.out), ("seq", seq)), time_ns
        )
    if type(event) is DeviceNotice:
        notice_tags = (
            ("code", str(event.body.code)),
            ("device", topic.device),
            ("site", topic.site),
        )
        return Point("device_notice", notice_tags, (("count", 1), ("seq", seq)), time_ns)
    if type(event) is CheckIn:  # no badge: who checked in stays in the server
        c = event.body
        checkin_tags = (
            ("checkpoint", c.checkpoint),
            ("clock", clock),
            ("device", topic.device),
            ("method", c.method),
            ("site", topic.site),
            ("space", c.space),
            ("task", c.task),
        )
        return Point("checkin", checkin_tags, (("count", 1), ("seq", seq)), time_ns)
    if type(event) is SatisfactionVote:
        vote_tags = (
            ("clock", clock),
            ("device", topic.device),
            ("rating", event.body.rating),
            ("site", topic.site),
            ("space", event.body.space),
        )
        return Point("satisfaction_vote", vote_tags, (("count", 1), ("seq", seq)), time_ns)
    if type(event) is HealthReading:
        return None
    raise ContractError(
        "unknown_kind", "no mapping for this kind", field="kind", value=getattr(event, "kind", None)
    )


def status_point(
    topic: Topic, status: Status, received_ms: int, now_ms: int, rules: TimeRules = DEFAULT_RULES
) -> Point:
    """Map a status message (or last will) to a ``device_status`` point.

    Time: ``ts`` when the status says ``synced`` and ``ts`` is plausible, else
    ``received`` (never more than 5 minutes ahead of ``now``).

    Raises:
        ContractError: ``device_mismatch``.
    """
    _check_device(topic, status.device)
    if status.ts is not None and status.synced and rules.plausible(status.ts, now_ms):
        ms = status.ts
    else:
        ms = min(received_ms, now_ms + rules.max_future_ms)
    fields = typed_fields(
        DEVICE_STATUS,
        (
            ("online", 1 if status.state == "online" else 0),
            ("uptime_s", status.uptime_s),
            ("outbox", status.outbox),
            ("disk_free_mb", status.disk_free_mb),
            ("synced", None if status.synced is None else int(status.synced)),
        ),
    )
    tags = (("device", topic.device), ("site", topic.site))
    return Point(DEVICE_STATUS.name, tags, fields, ms * 1_000_000)
