"""The time-series schema: every measurement, tag and field the gateway writes.

One table fixes each field's type, so a field never flips between integer and float
(InfluxDB rejects a write whose field type differs from the shard's), and the dashboards
may reference only what is listed here (a test checks every panel query against it).

Timestamps are nanoseconds UTC. A device event's point time is its event time in ms
times 10**6 plus ``seq % 10**6`` ns, so two events of one device in the same
millisecond never overwrite each other (InfluxDB keeps one point per series and time).
Source: InfluxDB line protocol reference (data types, duplicate points).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldType = Literal["int", "float", "bool", "str"]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field: name, line-protocol type, unit and meaning."""

    name: str
    type: FieldType
    unit: str
    description: str


@dataclass(frozen=True, slots=True)
class MeasurementSpec:
    """One measurement: its tags (all strings) and fields."""

    name: str
    tags: tuple[str, ...]
    fields: tuple[FieldSpec, ...]
    description: str

    def field(self, name: str) -> FieldSpec:
        """The spec of field ``name``; KeyError when the measurement has none."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")


DOOR_CROSSING = MeasurementSpec(
    name="door_crossing",
    tags=("site", "device", "space", "clock"),
    fields=(
        FieldSpec("in", "int", "people", "people who entered the space since the previous point"),
        FieldSpec("out", "int", "people", "people who left the space since the previous point"),
        FieldSpec("seq", "int", "", "the event's per-boot sequence number"),
    ),
    description="Door counter crossings, one point per event. clock: synced | unsynced | "
    "estimated (device clock wrong, time estimated by the gateway from monotonic time).",
)

DEVICE_NOTICE = MeasurementSpec(
    name="device_notice",
    tags=("site", "device", "code"),
    fields=(
        FieldSpec("count", "int", "", "always 1: one notice"),
        FieldSpec("seq", "int", "", "the event's per-boot sequence number"),
    ),
    description="Something the edge noticed about a device (power_cycle, wrap, frame_gap, "
    "clock_step, reconnected, reading_rejected, outbox_recovered: the agent's damaged outbox "
    "was rebuilt).",
)

DEVICE_STATUS = MeasurementSpec(
    name="device_status",
    tags=("site", "device"),
    fields=(
        FieldSpec("online", "int", "", "1 online, 0 offline (last will)"),
        FieldSpec("uptime_s", "float", "s", "seconds since the agent started"),
        FieldSpec("outbox", "int", "events", "events waiting in the edge outbox"),
        FieldSpec("disk_free_mb", "float", "MiB", "free disk space on the board"),
        FieldSpec("synced", "int", "", "1 when the board's clock is NTP-synchronised"),
    ),
    description="Status and heartbeats of edge agents and MQTT devices.",
)

MEASUREMENTS: dict[str, MeasurementSpec] = {
    m.name: m for m in (DOOR_CROSSING, DEVICE_NOTICE, DEVICE_STATUS)
}

CHECKIN = MeasurementSpec(
    name="checkin",
    tags=("site", "device", "space", "checkpoint", "task", "method", "clock"),
    fields=(
        FieldSpec("count", "int", "", "always 1: one check-in"),
        FieldSpec("seq", "int", "", "the event's per-boot sequence number"),
    ),
    description="Staff check-ins at terminals (no badge: who checked in stays in the server).",
)
MEASUREMENTS[CHECKIN.name] = CHECKIN

SATISFACTION_VOTE = MeasurementSpec(
    name="satisfaction_vote",
    tags=("site", "device", "space", "rating", "clock"),
    fields=(
        FieldSpec("count", "int", "", "always 1: one vote"),
        FieldSpec("seq", "int", "", "the event's per-boot sequence number"),
    ),
    description="Presses of satisfaction terminals (rating: very_satisfied, satisfied, "
    "dissatisfied, very_dissatisfied).",
)
MEASUREMENTS[SATISFACTION_VOTE.name] = SATISFACTION_VOTE

COMPLIANCE_DAILY = MeasurementSpec(
    name="compliance_daily",
    tags=("site", "space", "space_type", "street", "district"),
    fields=(
        FieldSpec("due", "int", "occurrences", "task occurrences that fell due (not excused)"),
        FieldSpec("on_time", "int", "occurrences", "done before the deadline"),
        FieldSpec("late", "int", "occurrences", "done after the deadline"),
        FieldSpec("missed", "int", "occurrences", "not done (alerted)"),
        FieldSpec("unknown", "int", "occurrences", "undecided: a check-in terminal was offline"),
        FieldSpec("excused", "int", "occurrences", "not due: closed day or public holiday"),
        FieldSpec("rate_pct", "float", "%", "on_time / (on_time + late + missed) * 100"),
    ),
    description="Safety-task compliance per space and local day, written by the server "
    "(issue 5). site = the complex's site id; street and district are region paths "
    "(xihu/beishan, xihu). Point time: local midnight of the day. rate_pct is absent when "
    "nothing was decided that day.",
)
MEASUREMENTS[COMPLIANCE_DAILY.name] = COMPLIANCE_DAILY

_UTILISATION_TAGS = ("district", "street", "complex", "space", "space_type")
_UTILISATION_FIELDS = (
    FieldSpec("visits", "int", "people", "people who entered the space"),
    FieldSpec("exits", "int", "people", "people who left the space"),
    FieldSpec("peak_occupancy", "int", "people", "highest occupancy at any moment"),
    FieldSpec("clamped", "int", "people", "people removed because occupancy went negative"),
    FieldSpec("open_min", "float", "min", "minutes open by the published hours"),
    FieldSpec("occupied_min", "float", "min", "minutes open with at least one person inside"),
    FieldSpec("person_min", "float", "person-min", "occupancy integrated over the open minutes"),
    FieldSpec("utilisation_pct", "float", "%", "occupied_min / open_min * 100 (absent if closed)"),
    FieldSpec(
        "occupancy_pct",
        "float",
        "%",
        "mean occupancy while open / capacity * 100 (absent if closed)",
    ),
)

UTILISATION_HOURLY = MeasurementSpec(
    name="utilisation_hourly",
    tags=_UTILISATION_TAGS,
    fields=_UTILISATION_FIELDS,
    description="Utilisation of a space per local clock hour, written by the server (issue 6, "
    "docs/metrics.md). complex = the complex's site id; street and district are region paths "
    "(xihu/beishan, xihu). Point time: the hour's start.",
)
MEASUREMENTS[UTILISATION_HOURLY.name] = UTILISATION_HOURLY

UTILISATION_DAILY = MeasurementSpec(
    name="utilisation_daily",
    tags=_UTILISATION_TAGS,
    fields=(
        *_UTILISATION_FIELDS,
        FieldSpec("drift", "int", "people", "people still counted inside at closing (reset)"),
        FieldSpec("actual_open_min", "float", "min", "minutes actually open (check-ins or doors)"),
    ),
    description="Utilisation of a space per local day, written by the server (issue 6, "
    "docs/metrics.md); tags as utilisation_hourly. Point time: local midnight of the day.",
)
MEASUREMENTS[UTILISATION_DAILY.name] = UTILISATION_DAILY

_KIOSK_TAGS = ("district", "street", "complex", "space", "space_type")

#: Fewest sessions of a space and hour for which ``kiosk_sessions_hourly`` carries
#: ``consented`` and ``crisis``: with one or two, "1 of 1 in a crisis range" (or without
#: consent) would tell about the one person at the kiosk then. Every crisis is alerted and
#: listed in the server whatever the hour's size (docs/vitals.md).
KIOSK_MIN_SESSIONS = 3

KIOSK_SESSIONS_HOURLY = MeasurementSpec(
    name="kiosk_sessions_hourly",
    tags=_KIOSK_TAGS,
    fields=(
        FieldSpec("sessions", "int", "sessions", "measuring sessions at the space's kiosks"),
        FieldSpec(
            "members",
            "int",
            "people",
            "distinct members who measured in the hour (summed over hours: member-hours)",
        ),
        FieldSpec(
            "consented",
            "int",
            "sessions",
            "sessions whose values were kept (consent); absent when fewer than "
            f"{KIOSK_MIN_SESSIONS} sessions (small counts are not published)",
        ),
        FieldSpec(
            "crisis",
            "int",
            "sessions",
            "sessions with a reading in a crisis range; absent with consented",
        ),
    ),
    description="Health kiosk usage per space and local clock hour, written by the server "
    "(issue 7). Aggregates only: no member reference and no reading value ever reaches the "
    "time-series store (Grafana viewers can query anything in it). An hour with fewer than "
    "KIOSK_MIN_SESSIONS (3) sessions carries sessions and members only, so no point says "
    "whether one or two people consented or had a crisis reading: the consent share is "
    "sum(consented) / sum(sessions) over the hours that carry consented. complex = site id; "
    "street and district are region paths. Point time: the hour's start.",
)
MEASUREMENTS[KIOSK_SESSIONS_HOURLY.name] = KIOSK_SESSIONS_HOURLY

#: Fewest evaluated readings of a type, space and hour for which ``kiosk_readings_hourly``
#: carries ``evaluated``, ``outside_reference`` and ``outside_reference_pct``: with one or
#: two, "1 of 1 outside the range" would tell about the one person who measured then.
KIOSK_MIN_EVALUATED = 3

KIOSK_READINGS_HOURLY = MeasurementSpec(
    name="kiosk_readings_hourly",
    tags=(*_KIOSK_TAGS, "reading_type"),
    fields=(
        FieldSpec("readings", "int", "readings", "readings of this type (with or without consent)"),
        FieldSpec(
            "evaluated",
            "int",
            "readings",
            "readings whose values were kept (consent); absent when fewer than "
            f"{KIOSK_MIN_EVALUATED} (small counts are not published)",
        ),
        FieldSpec(
            "outside_reference",
            "int",
            "readings",
            "evaluated readings outside the reference range (facility_contracts.vitals); "
            "absent with evaluated",
        ),
        FieldSpec(
            "outside_reference_pct",
            "float",
            "%",
            "outside_reference / evaluated * 100 (absent with evaluated)",
        ),
    ),
    description="Health kiosk readings per space, reading type (systolic_bp, spo2 ...) and "
    "local clock hour, written by the server (issue 7); aggregates only, as "
    "kiosk_sessions_hourly. An hour with fewer than KIOSK_MIN_EVALUATED (3) evaluated "
    "readings of the type carries readings only, so no point says how one or two people's "
    "readings were; sum(outside_reference) / sum(evaluated) is the share over the hours "
    "that carry both. Point time: the hour's start.",
)
MEASUREMENTS[KIOSK_READINGS_HOURLY.name] = KIOSK_READINGS_HOURLY
