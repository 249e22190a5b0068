"""The pure engine: days and windows in the site's zone, closed days and holidays,
patrol rounds, quotas, unknown while a terminal is offline; properties by Hypothesis."""

from __future__ import annotations

import os
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from facility_server.compliance.engine import evaluate, horizon
from facility_server.compliance.rules import parse_rule
from facility_server.compliance.views import CheckInView, SpaceContext, Terminal
from facility_server.opening import Schedule, parse_weekly
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import local, ms

TZ = ZoneInfo("Asia/Shanghai")
EVERY_DAY = {d: ["09:00-17:30"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
ONLINE = (Terminal("ci", True, ms(local(2020, 1, 1))),)


def schedule(hours: dict[str, list[str]] | None = None, **kw: object) -> Schedule:
    """A schedule in Asia/Shanghai (default: open 09:00-17:30 every day)."""
    return Schedule(tz=TZ, weekly=parse_weekly(hours or EVERY_DAY), **kw)  # type: ignore[arg-type]


def ci(
    i: int, at: int, cp: str = "cp1", task: str = "disinfection", rec: int | None = None
) -> CheckInView:
    """A check-in with id ``i`` at ``at`` (UTC ms), received at ``rec`` (default at once)."""
    return CheckInView(i, at, at if rec is None else rec, cp, task)


DAILY_ALL_DAY = parse_rule({"kind": "daily", "start": "00:00", "deadline": "24:00"})
DISINFECT = parse_rule({"kind": "daily", "start": "06:00", "deadline": "opening", "grace_min": 15})
PATROL = parse_rule(
    {"kind": "patrol", "every_min": 60, "window_min": 20, "grace_min": 10,
     "checkpoints": ["gate", "slide", "sandpit", "toys"]}
)  # fmt: skip


@pytest.mark.parametrize(
    ("last", "first"),
    [(date(2025, 12, 31), date(2026, 1, 1)), (date(2026, 1, 31), date(2026, 2, 1))],
    ids=["year-end", "month-end"],
)
def test_last_and_first_second_of_a_day_go_to_their_own_days(
    process_tz: str, last: date, first: date
) -> None:
    """23:59:59 and 00:00:00 local (server in any zone) count for their own local days."""
    assert os.environ["TZ"] == process_tz
    sch = schedule(public_holidays="regular")
    late = ms(local(last.year, last.month, last.day, 23, 59, 59))
    early = ms(local(first.year, first.month, first.day, 0, 0, 0))
    # 2025-12-31T23:59:59+08:00 = 1767196799 s; 2026-01-01T00:00:00+08:00 = 1767196800 s
    if last.year == 2025:
        assert (late, early) == (1_767_196_799_000, 1_767_196_800_000)
    ctx = SpaceContext(sch, [ci(1, late), ci(2, early)], ONLINE)
    occs = evaluate(DAILY_ALL_DAY, ctx, [last, first], early + 3_600_000 * 30)
    assert [(o.key, o.state, o.satisfied_by) for o in occs] == [
        (last.isoformat(), "on_time", (1,)),
        (first.isoformat(), "on_time", (2,)),
    ]


def test_window_crossing_midnight_belongs_to_its_start_day() -> None:
    """A 22:00-02:00 window of Dec 31 takes a 01:30 Jan 1 check-in; Jan 1's does not."""
    rule = parse_rule({"kind": "daily", "start": "22:00", "deadline": "02:00", "grace_min": 0})
    night = schedule({d: ["18:00-24:00"] for d in EVERY_DAY}, public_holidays="regular")
    ctx = SpaceContext(night, [ci(7, ms(local(2026, 1, 1, 1, 30)))], ONLINE)
    occs = evaluate(rule, ctx, [date(2025, 12, 31), date(2026, 1, 1)], ms(local(2026, 1, 2, 3)))
    assert [(o.key, o.state) for o in occs] == [("2025-12-31", "on_time"), ("2026-01-01", "missed")]
    first = occs[0].window
    assert (first.start_ms, first.deadline_ms) == (
        ms(local(2025, 12, 31, 22)),
        ms(local(2026, 1, 1, 2)),
    )


def test_daily_states_over_the_morning() -> None:
    """Pending before 06:00, due until 09:15, then missed; late at 10:00, on time at 08:55."""
    day = date(2026, 6, 2)
    states = []
    for hh, mm in [(5, 59), (6, 0), (9, 14), (9, 15), (12, 0)]:
        ctx = SpaceContext(schedule(), [], ONLINE)
        states.append(evaluate(DISINFECT, ctx, [day], ms(local(2026, 6, 2, hh, mm)))[0].state)
    assert states == ["pending", "due", "due", "missed", "missed"]
    late = SpaceContext(schedule(), [ci(1, ms(local(2026, 6, 2, 10)))], ONLINE)
    on_time = SpaceContext(schedule(), [ci(2, ms(local(2026, 6, 2, 8, 55)))], ONLINE)
    now = ms(local(2026, 6, 2, 12))
    assert evaluate(DISINFECT, late, [day], now)[0].state == "late"
    assert evaluate(DISINFECT, on_time, [day], now)[0].state == "on_time"


def test_late_data_is_on_time_and_reported_late() -> None:
    """Done 08:55, delivered 11:00: on time, reported late (after the 09:15 alert time)."""
    done, delivered = ms(local(2026, 6, 2, 8, 55)), ms(local(2026, 6, 2, 11))
    ctx = SpaceContext(schedule(), [ci(1, done, rec=delivered)], ONLINE)
    occ = evaluate(DISINFECT, ctx, [date(2026, 6, 2)], delivered)[0]
    assert (occ.state, occ.done_ms, occ.reported_ms, occ.reported_late) == (
        "on_time", done, delivered, True,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("day", "policy", "expected"),
    [
        (date(2025, 10, 1), "closed", ("excused", "public_holiday")),  # National Day
        (date(2025, 10, 8), "closed", ("excused", "public_holiday")),  # last day of the break
        (date(2025, 9, 28), "closed", ("missed", "")),  # Sunday, make-up working day
        (date(2025, 10, 12), "closed", ("excused", "closed_day")),  # an ordinary Sunday
        (date(2025, 10, 1), "regular", ("missed", "")),  # holidays ignored by policy
    ],
)
def test_holidays_and_makeup_days(day: date, policy: str, expected: tuple[str, str]) -> None:
    """Mon-Fri space, make-up days on Monday's hours: holidays excused, make-up Sunday checked."""
    weekdays = {d: ["09:00-17:30"] for d in ("mon", "tue", "wed", "thu", "fri")}
    sch = schedule(weekdays, public_holidays=policy, makeup_workdays="mon")
    occ = evaluate(DISINFECT, SpaceContext(sch, [], ONLINE), [day], ms(local(2025, 10, 20)))[0]
    assert (occ.state, occ.reason) == expected


def test_closed_by_exception_is_excused() -> None:
    """A complex-wide dated closure excuses the day's disinfection."""
    sch = schedule(complex_exceptions={date(2026, 3, 18): ()})
    occ = evaluate(
        DISINFECT, SpaceContext(sch, [], ONLINE), [date(2026, 3, 18)], ms(local(2026, 3, 19))
    )
    assert (occ[0].state, occ[0].reason) == ("excused", "complex_exception")


def test_patrol_round_missing_one_checkpoint_names_it() -> None:
    """The 10:00 round visits three of four checkpoints: missed at 10:30, naming the sandpit."""
    visits = [ci(i, ms(local(2026, 6, 2, 10, i)), cp, "patrol") for i, cp in
              enumerate(["gate", "slide", "toys"], start=1)]  # fmt: skip
    ctx = SpaceContext(schedule(), visits, ONLINE)
    rounds = {
        o.key: o for o in evaluate(PATROL, ctx, [date(2026, 6, 2)], ms(local(2026, 6, 2, 10, 30)))
    }
    occ = rounds["2026-06-02T10:00"]
    assert (occ.state, occ.missing, occ.done_count, occ.needed_count) == (
        "missed",
        ("sandpit",),
        3,
        4,
    )
    assert rounds["2026-06-02T09:00"].state == "missed"
    assert rounds["2026-06-02T11:00"].state == "pending"
    assert sorted(rounds) == [f"2026-06-02T{h:02d}:00" for h in range(9, 18)]


def test_patrol_round_completed_after_window_is_late() -> None:
    """The sandpit visited at 10:40 (window 10:00-10:20, next round 11:00): late."""
    cps = ["gate", "slide", "toys", "sandpit"]
    times = [(10, 1), (10, 2), (10, 3), (10, 40)]
    visits = [
        ci(i, ms(local(2026, 6, 2, h, m)), cp, "patrol")
        for i, (cp, (h, m)) in enumerate(zip(cps, times, strict=True))
    ]
    ctx = SpaceContext(schedule(), visits, ONLINE)
    occs = evaluate(PATROL, ctx, [date(2026, 6, 2)], ms(local(2026, 6, 2, 12)))
    occ = next(o for o in occs if o.key.endswith("10:00"))
    assert (occ.state, occ.missing, occ.done_ms) == ("late", (), ms(local(2026, 6, 2, 10, 40)))


def test_patrol_rounds_follow_split_hours_and_cross_midnight() -> None:
    """Rounds follow split hours; the 23:00 round runs to 00:30 and takes a 00:10 visit."""
    rule = parse_rule({"kind": "patrol", "every_min": 120, "window_min": 90, "grace_min": 0,
                       "checkpoints": ["gate"]})  # fmt: skip
    sch = schedule({d: ["09:00-11:30", "23:00-24:00"] for d in EVERY_DAY})
    ctx = SpaceContext(sch, [ci(1, ms(local(2026, 6, 3, 0, 10)), "gate", "patrol")], ONLINE)
    occs = evaluate(rule, ctx, [date(2026, 6, 2)], ms(local(2026, 6, 3, 8)))
    assert [o.key for o in occs] == ["2026-06-02T09:00", "2026-06-02T11:00", "2026-06-02T23:00"]
    last = occs[-1]
    assert (last.state, last.window.deadline_ms) == ("on_time", ms(local(2026, 6, 3, 0, 30)))


def test_quota_month_and_year() -> None:
    """One lecture in June is on time for June; two sports events in 2025 miss a yearly four."""
    lecture = parse_rule({"kind": "quota", "task": "activity", "period": "month", "count": 1})
    sports = parse_rule(
        {"kind": "quota", "task": "activity", "period": "year", "count": 4, "grace_min": 0}
    )
    events = [
        ci(1, ms(local(2025, 3, 1, 10)), task="activity"),
        ci(2, ms(local(2025, 9, 9, 10)), task="activity"),
    ]
    june = SpaceContext(schedule(), [ci(3, ms(local(2026, 6, 20, 15)), task="activity")], ONLINE)
    occ = evaluate(lecture, june, [date(2026, 6, 21)], ms(local(2026, 6, 21)))[0]
    assert (occ.key, occ.state, occ.window.day) == ("2026-06", "on_time", date(2026, 6, 30))
    year = evaluate(
        sports,
        SpaceContext(schedule(), events, ONLINE),
        [date(2025, 5, 5)],
        ms(local(2026, 1, 1, 0, 0, 1)),
    )[0]
    assert (year.key, year.state, year.done_count, year.needed_count) == ("2025", "missed", 2, 4)


def test_weekly_maintenance_excused_when_closed_all_week() -> None:
    """A space closed the whole ISO week (2025-W40, National Day) owes no weekly maintenance."""
    rule = parse_rule({"kind": "quota", "task": "maintenance", "period": "week", "count": 1})
    sch = schedule({d: ["09:00-17:00"] for d in ("wed", "thu", "fri")})
    occ = evaluate(
        rule, SpaceContext(sch, [], ONLINE), [date(2025, 10, 1)], ms(local(2025, 10, 20))
    )[0]
    assert (occ.key, occ.state, occ.reason) == ("2025-W40", "excused", "closed_all_period")


def test_offline_terminal_makes_it_unknown_not_missed() -> None:
    """An offline terminal gives unknown, not missed, until it is back and settled."""
    day, noon = date(2026, 6, 2), ms(local(2026, 6, 2, 12))
    offline = SpaceContext(schedule(), [], (Terminal("ci-kids", False, ms(local(2026, 6, 2, 7))),))
    occ = evaluate(DISINFECT, offline, [day], noon)[0]
    assert (occ.state, occ.reason) == ("unknown", "terminal ci-kids offline")
    back = SpaceContext(schedule(), [], (Terminal("ci-kids", True, noon),), settle_ms=180_000)
    assert evaluate(DISINFECT, back, [day], noon + 60_000)[0].state == "unknown"
    assert evaluate(DISINFECT, back, [day], noon + 180_000)[0].state == "missed"
    never = SpaceContext(schedule(), [], (Terminal("ci-kids", False, None),))
    assert evaluate(DISINFECT, never, [day], noon)[0].reason == "terminal ci-kids never reported"


def test_offline_after_the_alert_time_keeps_missed() -> None:
    """A terminal that went silent at 10:00, after the 09:15 alert time, does not undo "missed"."""
    ctx = SpaceContext(schedule(), [], (Terminal("ci", False, ms(local(2026, 6, 2, 10))),))
    assert (
        evaluate(DISINFECT, ctx, [date(2026, 6, 2)], ms(local(2026, 6, 2, 12)))[0].state == "missed"
    )


def test_horizon_carries_yesterday_in_the_morning_only() -> None:
    """The tick evaluates yesterday until noon; a month quota's previous month during its grace."""
    lecture = parse_rule({"kind": "quota", "task": "activity", "period": "month", "grace_min": 60})
    assert horizon(DISINFECT, date(2026, 6, 2), 11 * 60) == [date(2026, 6, 2), date(2026, 6, 1)]
    assert horizon(DISINFECT, date(2026, 6, 2), 12 * 60) == [date(2026, 6, 2)]
    assert date(2026, 5, 31) in horizon(lecture, date(2026, 6, 1), 60)
    assert date(2026, 5, 31) not in horizon(lecture, date(2026, 6, 2), 13 * 60)


# -- properties ------------------------------------------------------------------------

DAY0 = ms(local(2026, 6, 2))
checkins = st.lists(
    st.builds(
        lambda i, off, cp, task, delay: CheckInView(i, DAY0 + off, DAY0 + off + delay, cp, task),
        st.integers(1, 10_000),
        st.integers(-86_400_000, 2 * 86_400_000),
        st.sampled_from(["gate", "slide", "sandpit", "toys", "cp1"]),
        st.sampled_from(["patrol", "disinfection"]),
        st.integers(0, 6 * 3_600_000),
    ),
    max_size=40,
    unique_by=lambda c: c.id,
)
NIGHT = parse_rule({"kind": "daily", "start": "22:00", "deadline": "02:00"})
rules = st.sampled_from([DISINFECT, DAILY_ALL_DAY, PATROL, NIGHT])
DAYS = [date(2026, 6, 1), date(2026, 6, 2), date(2026, 6, 3)]


@settings(max_examples=150, deadline=None)
@given(rule=rules, items=checkins, data=st.data(), now_off=st.integers(0, 3 * 86_400_000))
def test_state_never_depends_on_arrival_order(rule, items, data, now_off) -> None:  # type: ignore[no-untyped-def]
    """Any permutation of the same check-ins gives the same occurrences."""
    shuffled = data.draw(st.permutations(items))
    now = DAY0 - 86_400_000 + now_off
    a = evaluate(rule, SpaceContext(schedule(), items, ONLINE), DAYS, now)
    b = evaluate(rule, SpaceContext(schedule(), shuffled, ONLINE), DAYS, now)
    assert a == b


@settings(max_examples=150, deadline=None)
@given(rule=rules, items=checkins)
def test_a_checkin_counts_for_at_most_one_occurrence(rule, items) -> None:  # type: ignore[no-untyped-def]
    """No check-in satisfies two occurrences (days or rounds) of one rule."""
    occs = evaluate(rule, SpaceContext(schedule(), items, ONLINE), DAYS, DAY0 + 5 * 86_400_000)
    used = [i for o in occs for i in o.satisfied_by]
    assert len(used) == len(set(used))


@settings(max_examples=100, deadline=None)
@given(rule=rules, items=checkins, extra=checkins)
def test_more_checkins_never_lower_progress(rule, items, extra) -> None:  # type: ignore[no-untyped-def]
    """Adding check-ins never lowers an occurrence's done count (the store relies on it)."""
    now = DAY0 + 2 * 86_400_000
    ids = {c.id for c in items}
    more = items + [c for c in extra if c.id not in ids]
    before = {
        o.key: o.done_count
        for o in evaluate(rule, SpaceContext(schedule(), items, ONLINE), DAYS, now)
    }
    after = {
        o.key: o.done_count
        for o in evaluate(rule, SpaceContext(schedule(), more, ONLINE), DAYS, now)
    }
    assert all(after[k] >= v for k, v in before.items())


@settings(max_examples=100, deadline=None)
@given(rule=rules, a=st.integers(0, 3 * 86_400_000), b=st.integers(0, 3 * 86_400_000))
def test_without_checkins_states_only_move_forward(rule, a, b) -> None:  # type: ignore[no-untyped-def]
    """With no check-ins, later instants never move an occurrence back (pending < due < missed)."""
    order = {"pending": 0, "due": 1, "missed": 2, "excused": 3}
    early, late = sorted((a, b))
    ctx = SpaceContext(schedule(), [], ONLINE)
    first = evaluate(rule, ctx, DAYS, DAY0 - 86_400_000 + early)
    second = evaluate(rule, ctx, DAYS, DAY0 - 86_400_000 + late)
    assert all(order[x.state] <= order[y.state] for x, y in zip(first, second, strict=True))


def test_patrol_without_a_round_in_a_short_opening_has_no_occurrence() -> None:
    """A 09:00-09:20 exception day with offset_min 30: no round (and no error); the
    next day's 09:30 round is unaffected."""
    rule = parse_rule({"kind": "patrol", "every_min": 60, "window_min": 20, "grace_min": 10,
                       "offset_min": 30, "checkpoints": ["gate"]})  # fmt: skip
    sch = schedule(space_exceptions={date(2026, 6, 2): ((540, 560),)})
    ctx = SpaceContext(sch, (), ONLINE)
    now = ms(local(2026, 6, 3, 12))
    assert evaluate(rule, ctx, [date(2026, 6, 2)], now) == []
    nxt = evaluate(rule, ctx, [date(2026, 6, 3)], now)
    assert nxt[0].key == "2026-06-03T09:30"


def test_excused_day_window_spans_the_local_day() -> None:
    """A closed Monday: the daily and the patrol occurrence are excused with a window from
    local midnight to the next (2026-06-01T00:00+08:00 .. 2026-06-02T00:00+08:00)."""
    sch = schedule({"tue": ["09:00-17:30"]})
    ctx = SpaceContext(sch, (), ONLINE)
    now = ms(local(2026, 6, 2, 12))
    day, nxt = ms(local(2026, 6, 1)), ms(local(2026, 6, 2))
    for rule in (DISINFECT, PATROL):
        [occ] = evaluate(rule, ctx, [date(2026, 6, 1)], now)
        w = occ.window
        assert (occ.state, occ.reason) == ("excused", "closed_day")
        assert (w.start_ms, w.deadline_ms, w.alert_ms, w.until_ms) == (day, nxt, nxt, nxt)
