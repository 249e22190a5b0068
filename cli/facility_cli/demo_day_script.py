"""The script of the play area's simulated day (issue 5, item 8), and its timeline.

On one open day of the children's play area nobody taps the morning disinfection, and
the patroller leaves one checkpoint out of the afternoon round (the first round at or
after 15:00). The patroller acknowledges her round's alert within ten minutes; nobody at
the complex acknowledges the disinfection alert, so it escalates to the street, whose duty
officer acknowledges it a quarter of an hour later.

The day is the latest one before today (local, the complex's zone) on which the play area
was open after a closed day, and that starts no week, month or year: the server also
evaluates the previous day until noon (and a quota's previous period during its grace),
and those must hold nothing the story does not contain. Source: 4+5+X standard, 儿童憩戏
(disinfected every day; a dedicated person on safety patrol).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

#: The space, its check-in terminal and the afternoon round the patroller cuts short.
KIDS_SPACE = "kids-play"
CHECKIN_TERMINAL = "ci-kids-play"
AFTERNOON = time(15, 0)
#: Minutes between steps of the clock; seconds between the terminal's heartbeats; seconds
#: from a tap to its arrival at the server.
STEP_MIN = 5
HEARTBEAT_S = 60
DELIVERY_S = 2
#: Who acknowledges what, when: the patroller her round's alert this many minutes after it
#: opened; the street's duty officer the escalated alert this many minutes after it arrived.
PATROL_ACK_MIN = 10
STREET_ACK_MIN = 15
#: The street's duty contact (code), who acknowledges the escalated alert.
STREET_DUTY = "street-duty"
#: Days back the day is looked for (the compliance tick's own look-back).
LOOKBACK_DAYS = 14


class DayError(RuntimeError):
    """The simulated day could not be set up or a phase of the server failed."""


@dataclass(frozen=True)
class Ack:
    """A scripted acknowledgement: of the alert of ``occurrence`` (key) of ``rule``, by
    ``by``, ``delay_min`` minutes after it was ``opened`` or ``escalated``."""

    rule: str
    occurrence: str
    after: str
    delay_min: int
    by: str


@dataclass(frozen=True)
class DayScript:
    """What happens on the simulated day. Instants are tz-aware (the complex's zone).

    Attributes:
        day: the local date; opens / closes: the play area's opening interval.
        start / end: the first and last step of the clock.
        walk: (checkpoint, how it is read) of a patrol round, in walking order.
        taps: the check-ins the terminal reports (``facility_sim.checkin_day.Tap``).
        rules: rule code -> stored params, of the play area's disinfection and patrol.
        disinfection_key / skipped_round: occurrence keys the story makes ``missed``.
        skipped_checkpoint: the checkpoint left out of the skipped round.
        acks: the acknowledgements people give.
    """

    day: date
    opens: datetime
    closes: datetime
    start: datetime
    end: datetime
    walk: list[tuple[str, str]]
    taps: list[Any]
    rules: dict[str, dict[str, Any]]
    disinfection_key: str
    skipped_round: str
    skipped_checkpoint: str
    acks: tuple[Ack, ...]


def space_schedule(session: Any, cx_id: int, space_code: str) -> Any:
    """The opening schedule of a space of the complex (its hours and the complex's
    calendar exceptions), for :func:`facility_server.opening.opening_intervals`.

    Raises:
        DayError: the setup has no such space.
    """
    from facility_server.models.registry import CalendarException, Complex, Space
    from facility_server.schedules import schedule_for
    from sqlalchemy import select

    cx = session.get(Complex, cx_id)
    space = session.scalar(select(Space).where(Space.complex_id == cx_id, Space.code == space_code))
    if space is None:
        raise DayError(f"the setup has no space {space_code!r}")
    excs = session.scalars(select(CalendarException).where(CalendarException.complex_id == cx_id))
    return schedule_for(cx, space, list(excs))


def choose_day(session: Any, cx_id: int, today: date) -> date:
    """The latest local day before ``today`` (up to :data:`LOOKBACK_DAYS` back) on which
    the play area was open after a closed day and that starts no week, month or year.

    Raises:
        DayError: no such day (the play area opens every day, or is closed throughout).
    """
    from facility_server.opening import opening_intervals

    schedule = space_schedule(session, cx_id, KIDS_SPACE)
    for back in range(1, LOOKBACK_DAYS + 1):
        day = today - timedelta(days=back)
        if day.day == 1 or day.weekday() == 0:
            continue
        if opening_intervals(schedule, day) and not opening_intervals(
            schedule, day - timedelta(days=1)
        ):
            return day
    raise DayError(
        f"{KIDS_SPACE} had no open day after a closed day in the {LOOKBACK_DAYS} days "
        f"before {today}"
    )


def _rules_and_walk(
    session: Any, cx_id: int
) -> tuple[dict[str, Any], list[tuple[str, str]], str, str]:
    """The play area's disinfection and patrol rules (by task), a round's walk, and the
    canonical badges of the cleaner and the patroller (their rules' responsible staff)."""
    from facility_server.models.compliance import TaskRule
    from facility_server.models.devices import Badge, Checkpoint, Staff
    from sqlalchemy import select

    rules = {
        r.task: r
        for r in session.scalars(select(TaskRule).where(TaskRule.complex_id == cx_id))
        if r.task in {"disinfection", "patrol"}
    }
    if set(rules) != {"disinfection", "patrol"}:
        raise DayError("the setup needs a disinfection and a patrol rule in the play area")
    cps = {
        c.code: c for c in session.scalars(select(Checkpoint).where(Checkpoint.complex_id == cx_id))
    }
    walk = [
        (code, "qr" if cps[code].tag_kind == "qr" else "rfid")
        for code in rules["patrol"].params["checkpoints"]
    ]
    query = select(Badge.uid).join(Staff, Staff.id == Badge.staff_id)

    def badge_of(rule: Any) -> str:
        code = rule.params.get("responsible")
        uid = session.scalar(query.where(Badge.complex_id == cx_id, Staff.code == code))
        if uid is None:
            raise DayError(f"rule {rule.code}: responsible {code!r} has no badge")
        return str(uid)

    return rules, walk, badge_of(rules["disinfection"]), badge_of(rules["patrol"])


def _afternoon_round(opens: datetime, closes: datetime, every_min: int) -> int:
    """Index of the first patrol round at or after :data:`AFTERNOON` (else the last)."""
    step = timedelta(minutes=every_min)
    rounds = max(1, math.ceil((closes - opens) / step))
    afternoon = datetime.combine(opens.date(), AFTERNOON, tzinfo=opens.tzinfo)
    return min(rounds - 1, max(0, math.ceil((afternoon - opens) / step)))


def _clock_range(
    day: date, opens: datetime, closes: datetime, params: list[dict[str, Any]], start_hhmm: str
) -> tuple[datetime, datetime]:
    """First and last step: half an hour before the disinfection window (or the opening),
    and closing + the longest grace + the longest escalation time, on the step grid."""
    from facility_server.opening import parse_hhmm

    midnight = datetime.combine(day, time(0), tzinfo=opens.tzinfo)
    start = midnight + timedelta(minutes=parse_hhmm(start_hhmm) - 30)
    start = min(start, opens - timedelta(minutes=30))
    slack = max(int(p.get("grace_min", 0)) for p in params)
    slack += max(int(p.get("escalate_after_min") or 0) for p in params) + STEP_MIN
    return start, closes + timedelta(minutes=STEP_MIN * math.ceil(slack / STEP_MIN))


def script_day(session: Any, cx_id: int, day: date) -> DayScript:
    """The taps, clock range, missed occurrences and acknowledgements of ``day``.

    Raises:
        DayError: the play area is closed that day, or the setup lacks a rule or badge.
    """
    from facility_server.opening import opening_intervals
    from facility_sim.checkin_day import day_plan

    intervals = opening_intervals(space_schedule(session, cx_id, KIDS_SPACE), day)
    if not intervals:
        raise DayError(f"{KIDS_SPACE} is closed on {day}")
    opens, closes = intervals[0][0], intervals[-1][1]
    rules, walk, cleaner, patroller = _rules_and_walk(session, cx_id)
    dis, patrol = rules["disinfection"], rules["patrol"]
    every = int(patrol.params["every_min"])
    index = _afternoon_round(opens, closes, every)
    skipped_cp = walk[min(2, len(walk) - 1)][0]
    taps = day_plan(
        opens,
        closes,
        checkpoints=walk,  # type: ignore[arg-type]
        cleaner=cleaner,
        patroller=patroller,
        every_min=every,
        skip=(index, skipped_cp),
    )
    round_key = (opens + timedelta(minutes=every * index)).strftime("%Y-%m-%dT%H:%M")
    start, end = _clock_range(
        day, opens, closes, [dis.params, patrol.params], dis.params.get("start", "00:00")
    )
    return DayScript(
        day=day,
        opens=opens,
        closes=closes,
        start=start,
        end=end,
        walk=walk,
        taps=[t for t in taps if t.task != "disinfection"],  # nobody disinfects today
        rules={r.code: dict(r.params) for r in (dis, patrol)},
        disinfection_key=day.isoformat(),
        skipped_round=round_key,
        skipped_checkpoint=skipped_cp,
        acks=(
            Ack(patrol.code, round_key, "opened", PATROL_ACK_MIN, patrol.params["responsible"]),
            Ack(dis.code, day.isoformat(), "escalated", STREET_ACK_MIN, STREET_DUTY),
        ),
    )


def _heartbeats(script: DayScript, site: str, boot: str) -> list[tuple[datetime, int, str, Any]]:
    """The terminal's ``online`` status every :data:`HEARTBEAT_S` s, start to end."""
    from facility_contracts import codec, topics
    from facility_contracts.envelope import Status

    topic = topics.status_topic(site, CHECKIN_TERMINAL)
    out: list[tuple[datetime, int, str, Any]] = []
    beat = script.start
    while beat <= script.end:
        status = Status(
            device=CHECKIN_TERMINAL,
            state="online",
            boot=boot,
            ts=int(beat.timestamp() * 1000),
            uptime_s=(beat - script.start).total_seconds(),
            heartbeat_s=HEARTBEAT_S,
            software="facility-sim-checkin/1.0",
            synced=True,
        )
        out.append((beat, 0, "status", (topic, codec.encode_status(status))))
        beat += timedelta(seconds=HEARTBEAT_S)
    return out


def timeline(
    script: DayScript, site: str, *, step_min: int = STEP_MIN
) -> list[tuple[datetime, int, str, Any]]:
    """Everything that happens, in time order: ``(at, order, kind, item)`` with kind
    ``status`` or ``evt`` (item: (topic, MQTT payload)) or ``step`` (item None).

    Pure: heartbeats every :data:`HEARTBEAT_S` s and steps every ``step_min`` minutes from
    ``script.start`` to ``script.end``; each tap :data:`DELIVERY_S` s after it was made.
    """
    from facility_contracts import codec, topics
    from facility_sim.checkin_day import checkin_events

    events = checkin_events(script.taps, device=CHECKIN_TERMINAL, space=KIDS_SPACE)
    out = _heartbeats(script, site, events[0].boot if events else uuid.uuid4().hex[:12])
    evt_topic = topics.event_topic(site, CHECKIN_TERMINAL)
    for tap, event in zip(script.taps, events, strict=True):
        payload = codec.encode_event(event, sent=event.mono + DELIVERY_S * 1000)
        out.append((tap.at + timedelta(seconds=DELIVERY_S), 1, "evt", (evt_topic, payload)))
    at = script.start
    while at <= script.end:
        out.append((at, 2, "step", None))
        at += timedelta(minutes=step_min)
    out.sort(key=lambda e: (e[0], e[1]))
    return out
