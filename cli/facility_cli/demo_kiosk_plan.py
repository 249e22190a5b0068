"""The health kiosk's morning in the demo (issue 7, item 8): who, when, and what must follow.

The kiosk ``hk-elderly-care`` stands in the elderly-care day centre. On the most recent
morning the centre was open and that has ended (:func:`choose_morning`: opening to noon,
local time of the complex, Asia/Shanghai), :data:`MEMBERS` members measure in
:data:`SESSIONS` sessions (:func:`facility_sim.kiosk_day.day_plan`, seed :data:`SEED`):
exactly one session in a crisis range, one physiologically impossible reading and one in
the wrong unit (the edge rejects both as ``reading_rejected`` notices).

The enrolment desk (:func:`roster`) enrols the first :data:`CONSENTED` members with their
separate consent to health monitoring (PIPL art. 29) a week before the morning, the next
:data:`ENROLLED_ONLY` without consent; the rest never enrolled. Sessions of members
without consent are counted, their values are not kept.

:func:`expected_usage` is what the server's counters must show after the morning, worked
out from the plan alone; :func:`differences` compares the two. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from facility_contracts.vitals import pseudonymise

#: The kiosk (its registry code, also its edge reader id) and the space it stands in.
KIOSK = "hk-elderly-care"
SPACE = "elderly-care"
#: Members on the cards, sessions of the morning, the plan's seed.
MEMBERS = 12
SESSIONS = 36
SEED = 7
#: Injected sessions (:data:`facility_sim.kiosk_day.Fault`): one crisis, two bad readings.
FAULTS: dict[str, int] = {"crisis": 1, "impossible_value": 1, "bad_unit": 1}
#: Faults the edge rejects; the notice's reason is the fault's name (facility_contracts.vitals).
REJECTED_FAULTS = ("impossible_value", "bad_unit", "bp_inverted")
#: Members enrolled with consent, then enrolled without it (the rest: not enrolled).
CONSENTED = 7
ENROLLED_ONLY = 2
#: Names the health station knows the enrolled members by (illustrative).
NAMES = ("张桂英", "李秀兰", "王建国", "刘淑珍", "陈志明", "杨玉梅", "赵德福", "黄秀英", "周文华")
#: The desk enrolled members and recorded consents this long before the morning.
DESK_BEFORE = timedelta(days=7)
#: A morning ends at noon (or when the space closes, if earlier); days looked back.
NOON = time(12, 0)
LOOKBACK_DAYS = 14


class MorningError(ValueError):
    """No morning of the space in the look-back has both opened and ended."""


@dataclass(frozen=True, slots=True)
class Enrolee:
    """A member at the enrolment desk: card (as printed, stays in the complex), pseudonym,
    the name the health station uses (None: never enrolled) and whether they consented."""

    card: str
    pseudonym: str
    name: str | None
    consent: bool


def choose_morning(
    intervals_of: Callable[[date], list[tuple[datetime, datetime]]],
    now: datetime,
    tz: ZoneInfo,
) -> tuple[datetime, datetime]:
    """The latest morning, up to :data:`LOOKBACK_DAYS` back, that is open and has ended.

    A morning runs from the first opening of the local day to :data:`NOON` or that
    interval's closing, whichever is first; a day whose first opening is at or after noon
    has none.

    Args:
        intervals_of: opening intervals (tz-aware) of a local date, e.g.
            :func:`facility_server.opening.opening_intervals` of the space's schedule.
        now: the current instant (tz-aware).
        tz: the complex's zone.

    Raises:
        MorningError: no such morning.
    """
    today = now.astimezone(tz).date()
    for back in range(LOOKBACK_DAYS + 1):
        day = today - timedelta(days=back)
        intervals = intervals_of(day)
        if not intervals:
            continue
        opens, first_close = intervals[0]
        noon = datetime.combine(day, NOON, tzinfo=tz)
        ends = min(first_close, noon)
        if opens < ends <= now:
            return opens, ends
    raise MorningError(f"no open morning of {SPACE} ended in the {LOOKBACK_DAYS} days to {today}")


def roster(cards: list[str], key: bytes) -> list[Enrolee]:
    """The members of ``cards`` as the desk sees them: pseudonyms under the complex's
    ``key`` (:func:`facility_contracts.vitals.pseudonymise`), the first :data:`CONSENTED`
    enrolled with consent, the next :data:`ENROLLED_ONLY` enrolled without.

    Raises:
        ValueError: fewer cards than enrolled members, or more enrolled than names.
    """
    enrolled = CONSENTED + ENROLLED_ONLY
    if len(cards) < enrolled or enrolled > len(NAMES):
        raise ValueError(f"need >= {enrolled} cards and names, got {len(cards)} cards")
    return [
        Enrolee(
            card=card,
            pseudonym=pseudonymise(card, key),
            name=NAMES[i] if i < enrolled else None,
            consent=i < CONSENTED,
        )
        for i, card in enumerate(cards)
    ]


def expected_usage(
    plan: Iterable[Any], consented_cards: Iterable[str], tz: ZoneInfo
) -> dict[str, Any]:
    """What the server must count after ``plan`` (``PlannedSession`` s).

    Returns:
        ``{"sessions", "members", "consented", "crisis", "readings": {type: {"readings",
        "evaluated"}}, "rejected": {reason: n}}``: sessions the edge accepted; members
        = distinct cards per local clock hour (``tz``), summed over hours (the server's
        own rule); consented = sessions of ``consented_cards``; readings per type of the
        accepted sessions, ``evaluated`` those with consent; rejected sessions by reason.
    """
    consenting = set(consented_cards)
    hours: dict[datetime, set[str]] = defaultdict(set)
    readings: dict[str, Counter[str]] = defaultdict(Counter)
    rejected: Counter[str] = Counter()
    sessions = consented = crisis = 0
    for p in plan:
        if p.fault in REJECTED_FAULTS:
            rejected[p.fault] += 1
            continue
        sessions += 1
        crisis += p.fault == "crisis"
        with_consent = p.card in consenting
        consented += with_consent
        hours[p.at.astimezone(tz).replace(minute=0, second=0, microsecond=0)].add(p.card)
        for reading_type, _value, _unit in p.readings:
            readings[reading_type]["readings"] += 1
            readings[reading_type]["evaluated"] += with_consent
    return {
        "sessions": sessions,
        "members": sum(len(cards) for cards in hours.values()),
        "consented": consented,
        "crisis": crisis,
        "readings": {
            t: {"readings": c["readings"], "evaluated": c["evaluated"]}
            for t, c in sorted(readings.items())
        },
        "rejected": dict(sorted(rejected.items())),
    }


def differences(expected: Mapping[str, Any], usage: Mapping[str, Any]) -> list[str]:
    """Where the server's counts (``usage``: the space's ``sessions``, ``members``,
    ``consented``, ``crisis``, plus ``readings`` and ``rejected`` as in
    :func:`expected_usage`) differ from ``expected``; one line each, empty when none."""
    out = [
        f"{name}: {usage.get(name)} counted, {expected[name]} planned"
        for name in ("sessions", "members", "consented", "crisis")
        if usage.get(name) != expected[name]
    ]
    got = usage.get("readings", {})
    for t in sorted(set(expected["readings"]) | set(got)):
        want = expected["readings"].get(t, {"readings": 0, "evaluated": 0})
        have = {k: got.get(t, {}).get(k, 0) for k in ("readings", "evaluated")}
        if have != want:
            out.append(f"{t} readings (kept): {have} counted, {want} planned")
    if dict(usage.get("rejected", {})) != expected["rejected"]:
        out.append(f"rejected: {usage.get('rejected')} counted, {expected['rejected']} planned")
    return out
