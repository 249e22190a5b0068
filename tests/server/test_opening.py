"""Opening hours: pure functions over weekly hours, exceptions, China's holidays, zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from facility_server.opening import (
    Schedule,
    china_day_kind,
    is_open,
    opening_intervals,
    parse_interval,
    parse_weekly,
    weekly_open_days,
    weekly_open_hours,
)
from hypothesis import given
from hypothesis import strategies as st

SH = ZoneInfo("Asia/Shanghai")
KIDS = parse_weekly({d: ["09:00-17:30"] for d in ("tue", "wed", "thu", "fri", "sat", "sun")})


def kids(**kw) -> Schedule:  # type: ignore[no-untyped-def]
    """The example's kids_play schedule (Tue-Sun 09:00-17:30)."""
    return Schedule(weekly=KIDS, **kw)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2026, 6, 2, 9, 0, tzinfo=SH), True),  # Tuesday, opening minute
        (datetime(2026, 6, 2, 8, 59, 59, tzinfo=SH), False),
        (datetime(2026, 6, 2, 17, 29, 59, tzinfo=SH), True),
        (datetime(2026, 6, 2, 17, 30, tzinfo=SH), False),  # closing instant is excluded
        (datetime(2026, 6, 1, 12, 0, tzinfo=SH), False),  # Monday: closed
        (datetime(2026, 6, 2, 1, 0, tzinfo=UTC), True),  # 09:00 in Shanghai, given in UTC
        (datetime(2026, 6, 2, 0, 59, tzinfo=UTC), False),
    ],
)
def test_is_open_on_a_normal_week(local: datetime, expected: bool) -> None:
    """Open exactly within [09:00, 17:30) local on open weekdays, whatever zone the instant has."""
    assert is_open(kids(), local) is expected


def test_naive_instant_is_refused() -> None:
    """A naive datetime raises ValueError: an instant needs a zone."""
    with pytest.raises(ValueError, match="tz-aware"):
        is_open(kids(), datetime(2026, 6, 2, 10, 0))  # noqa: DTZ001 - the point of the test


def test_intervals_are_tz_aware_in_the_site_zone() -> None:
    """Opening intervals of a local date come back as aware datetimes in the site's zone."""
    got = opening_intervals(kids(), date(2026, 6, 2))
    assert got == [(datetime(2026, 6, 2, 9, 0, tzinfo=SH), datetime(2026, 6, 2, 17, 30, tzinfo=SH))]
    assert got[0][0].utcoffset() == timedelta(hours=8)


def test_national_day_closes_unless_policy_is_regular() -> None:
    """2026-10-01 (a Thursday) is a statutory holiday: closed by default, open with 'regular'."""
    assert opening_intervals(kids(), date(2026, 10, 1)) == []
    assert len(opening_intervals(kids(public_holidays="regular"), date(2026, 10, 1))) == 1


def test_makeup_workday_follows_chosen_weekday() -> None:
    """2026-10-10 (Saturday) is a make-up working day: own Saturday hours, or Monday's if set."""
    assert china_day_kind(date(2026, 10, 10)) == "makeup_workday"
    assert len(opening_intervals(kids(), date(2026, 10, 10))) == 1
    assert opening_intervals(kids(makeup_workdays="mon"), date(2026, 10, 10)) == []


def test_exception_precedence() -> None:
    """Space exception beats complex exception beats the holiday calendar."""
    day = date(2026, 10, 1)
    special = ((600, 720),)  # 10:00-12:00
    s = kids(complex_exceptions={day: special})
    assert opening_intervals(s, day) == [
        (datetime(2026, 10, 1, 10, tzinfo=SH), datetime(2026, 10, 1, 12, tzinfo=SH))
    ]
    s = kids(complex_exceptions={day: special}, space_exceptions={day: ()})
    assert opening_intervals(s, day) == []
    tuesday = date(2026, 6, 2)
    assert opening_intervals(kids(complex_exceptions={tuesday: ()}), tuesday) == []


def test_injected_calendar() -> None:
    """The holiday calendar is injectable (per-site override or tests)."""
    s = kids(day_kind=lambda d: "holiday")
    assert opening_intervals(s, date(2026, 6, 2)) == []


def test_dst_zone() -> None:
    """In Europe/Berlin on the spring-forward day, 09:00-17:00 local is 07:00-15:00 UTC."""
    berlin = ZoneInfo("Europe/Berlin")
    s = Schedule(
        tz=berlin, weekly=parse_weekly({"sun": ["09:00-17:00"]}), day_kind=lambda d: "normal"
    )
    ((start, end),) = opening_intervals(s, date(2026, 3, 29))
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (
        datetime(2026, 3, 29, 7, tzinfo=UTC),
        datetime(2026, 3, 29, 15, tzinfo=UTC),
    )


def test_24_00_close_and_bad_intervals() -> None:
    """24:00 closes at next midnight; reversed, overlapping or malformed intervals raise."""
    s = Schedule(weekly=parse_weekly({"tue": ["20:00-24:00"]}), day_kind=lambda d: "normal")
    assert opening_intervals(s, date(2026, 6, 2))[0][1] == datetime(2026, 6, 3, 0, 0, tzinfo=SH)
    for bad in (
        {"tue": ["10:00-09:00"]},
        {"tue": ["09:00-12:00", "11:00-13:00"]},
        {"tue": ["9-12"]},
        {"tue": ["25:00-26:00"]},
        {"tues": ["09:00-10:00"]},
    ):
        with pytest.raises(ValueError):
            parse_weekly(bad)


def test_standard_numbers_of_the_example() -> None:
    """Culture: 6 days x (3 h + 7 h) = 60 h >= 28 h; health open 6 days >= 5 (the standard)."""
    culture = parse_weekly(
        {d: ["09:00-12:00", "13:30-20:30"] for d in ("tue", "wed", "thu", "fri", "sat", "sun")}
    )
    assert weekly_open_hours(culture) == 60.0
    health = parse_weekly(
        {
            **{d: ["08:00-11:30", "13:30-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
            "sat": ["08:00-11:30"],
        }
    )
    assert weekly_open_days(health) == 6


@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)),  # noqa: DTZ001 - naive bounds
    st.integers(min_value=-12 * 60, max_value=14 * 60),
)
def test_is_open_matches_intervals(moment: datetime, offset_min: int) -> None:
    """is_open(at) is True exactly when some interval of at's local date contains at."""
    at = moment.replace(tzinfo=timezone(timedelta(minutes=offset_min)))
    day = at.astimezone(SH).date()
    inside = any(a <= at < b for a, b in opening_intervals(kids(), day))
    assert is_open(kids(), at) is inside


def test_parse_interval() -> None:
    """'09:00-17:30' is minutes 540..1050."""
    assert parse_interval("09:00-17:30") == (540, 1050)
