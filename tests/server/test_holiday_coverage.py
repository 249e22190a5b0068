"""China's holiday calendar (``chinese-calendar``) covers a fixed range of years; a day of
a later year is a normal day, but never silently: a WARNING once per year and the opening
API says the calendar is not available for that year."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from facility_server import opening
from facility_server.opening import HOLIDAY_YEARS, china_day_kind, holiday_calendar_status
from fastapi.testclient import TestClient

UNCOVERED = HOLIDAY_YEARS[1] + 1


def test_uncovered_year_warns_once_and_is_normal(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """National Day of a year after the library's data is "normal"; two days of that
    year log one WARNING naming the year; a covered year's National Day is a holiday."""
    monkeypatch.setattr(opening, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="facility_server.opening"):
        assert china_day_kind(date(UNCOVERED, 10, 1)) == "normal"
        assert china_day_kind(date(UNCOVERED, 10, 2)) == "normal"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"holiday calendar not available for {UNCOVERED}")
    assert china_day_kind(date(2026, 10, 1)) == "holiday"
    assert holiday_calendar_status(date(UNCOVERED, 1, 1)) == f"not available for {UNCOVERED}"
    assert holiday_calendar_status(date(2026, 12, 31)) == "available"


def test_opening_api_says_when_the_calendar_is_missing(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """GET /spaces/{id}/opening: 2026-10-01 (National Day, policy closed) has no
    intervals and a known calendar; the same day of an uncovered year says so."""
    url = f"/api/v1/spaces/{world.spaces['a']}/opening"
    known = client.get(url, params={"date": "2026-10-01"}, headers=world.auth("admin")).json()
    assert (known["intervals"], known["holiday_calendar"]) == ([], "available")
    later = client.get(
        url, params={"date": f"{UNCOVERED}-10-01"}, headers=world.auth("admin")
    ).json()
    assert later["holiday_calendar"] == f"not available for {UNCOVERED}"
