"""The CalIt2 loader, retiming and crossing spreading."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from facility_sim import calit2
from facility_sim.calit2 import (
    CalIt2Error,
    Slot,
    crossings,
    parse_lines,
    retime,
    weeks_to_end_before,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from .helpers import SHANGHAI, SLOT_MS, csv_slots

GOOD = [
    "9,07/24/05,00:00:00,2\n",
    "7,07/24/05,00:00:00,1\n",
    "9,07/24/05,00:30:00,0\n",
    "7,07/24/05,00:30:00,3\n",
]


@pytest.fixture(scope="module")
def slots(calit2_path: Path) -> list[Slot]:
    """The whole file, loaded once."""
    return calit2.load(calit2_path)


def test_totals_match_csv_module_and_readme(slots: list[Slot], calit2_path: Path) -> None:
    """Loader totals equal csv-module sums and the README's 19,597 in / 18,837 out."""
    oracle = csv_slots(calit2_path)
    assert sum(s.people_in for s in slots) == sum(v[0] for v in oracle.values()) == 19_597
    assert sum(s.people_out for s in slots) == sum(v[1] for v in oracle.values()) == 18_837
    assert {s.start_ms: [s.people_in, s.people_out] for s in slots} == oracle


def test_slots_are_aware_ordered_and_half_hourly(slots: list[Slot]) -> None:
    """5,040 slots, tz-aware in Asia/Shanghai, 30 minutes apart, from 24 July to 5 November 2005."""
    assert len(slots) == 5040
    assert all(
        s.start.tzinfo == SHANGHAI and s.start.utcoffset() == timedelta(hours=8) for s in slots
    )
    assert {b.start_ms - a.start_ms for a, b in pairwise(slots)} == {SLOT_MS}
    assert slots[0].start == datetime(2005, 7, 24, tzinfo=SHANGHAI)
    assert slots[-1].end == datetime(2005, 11, 6, tzinfo=SHANGHAI)


def test_file_blank_lines_are_skipped(calit2_path: Path) -> None:
    """The distributed file's blank lines 7987 and 9490 are skipped, not parsed."""
    lines = calit2_path.read_text().splitlines(keepends=True)
    assert lines[7986].strip() == "" and lines[9489].strip() == ""
    without = [line for line in lines if line.strip()]
    assert parse_lines(lines) == parse_lines(without)


def test_blank_and_whitespace_lines_anywhere() -> None:
    """Blank, CRLF-only and whitespace-only lines between rows are ignored."""
    assert parse_lines(["\n", GOOD[0], "\r\n", "   \n", *GOOD[1:], "\n"]) == parse_lines(GOOD)


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("8,07/24/05,00:00:00,1", "flow_id"),
        ("in,07/24/05,00:00:00,1", "flow_id"),
        ("9,2005-07-24,00:00:00,1", "date"),
        ("9,02/30/05,00:00:00,1", "date"),
        ("9,07/24/05,0:00:00,1", "time"),
        ("9,07/24/05,00:15:00,1", "time"),
        ("9,07/24/05,24:00:00,1", "time"),
        ("9,07/24/05,00:30:01,1", "time"),
        ("9,07/24/05,00:00:00,-1", "count"),
        ("9,07/24/05,00:00:00,1.5", "count"),
        ("9,07/24/05,00:00:00,", "count"),
        ("9,07/24/05,00:00:00", "row"),
        ("9,07/24/05,00:00:00,1,2", "row"),
    ],
)
def test_malformed_row_names_line_and_field(row: str, field: str) -> None:
    """A malformed row raises CalIt2Error naming its line number, field and value."""
    with pytest.raises(CalIt2Error) as info:
        parse_lines([*GOOD, "\n", row + "\n"])
    assert info.value.line == 6
    assert info.value.field == field
    assert "line 6" in str(info.value) and field in str(info.value)


def test_repeated_row_names_both_lines() -> None:
    """A (flow, slot) given twice is an error naming the line of the first."""
    with pytest.raises(CalIt2Error, match=r"line 5.*already given on line 1"):
        parse_lines([*GOOD, GOOD[0]])


def test_utf8_bom_is_skipped_and_line_ends_kept(tmp_path: Path) -> None:
    """A file saved by a spreadsheet (UTF-8 BOM, CRLF) loads like the plain file."""
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "".join(GOOD).replace("\n", "\r\n").encode())
    assert calit2.load(path) == parse_lines(GOOD)


def test_non_ascii_byte_names_line_and_column(tmp_path: Path) -> None:
    """A byte that is not ASCII is a CalIt2Error naming its line and column."""
    path = tmp_path / "bad.csv"
    path.write_bytes("".join(GOOD[:3]).encode() + "7,07/24/05,00:30:00,３\n".encode())
    with pytest.raises(CalIt2Error) as err:
        calit2.load(path)
    assert err.value.line == 4 and err.value.field == "row"
    assert "byte 0xEF at column 21" in str(err.value)  # U+FF13 in UTF-8 is EF BC 93


def test_slot_missing_one_flow_is_an_error() -> None:
    """A slot with an IN row but no OUT row is an error naming the line."""
    with pytest.raises(CalIt2Error, match="no flow 7 row") as info:
        parse_lines(GOOD[:1])
    assert info.value.line == 1


def test_site_zone_decides_the_instant() -> None:
    """The same file rows mean different instants in different zones, always tz-aware."""
    shanghai = parse_lines(GOOD)
    utc = parse_lines(GOOD, ZoneInfo("UTC"))
    assert shanghai[0].start.isoformat() == "2005-07-24T00:00:00+08:00"
    assert utc[0].start_ms - shanghai[0].start_ms == 8 * 3600 * 1000
    assert (shanghai[0].people_in, shanghai[0].people_out) == (2, 1)


def test_nonexistent_local_time_is_an_error() -> None:
    """A wall time skipped by a daylight-saving change raises an error naming the time field."""
    rows = ["9,04/03/05,02:00:00,1\n", "7,04/03/05,02:00:00,1\n"]
    with pytest.raises(CalIt2Error, match="does not exist") as info:
        parse_lines(rows, ZoneInfo("America/Los_Angeles"))
    assert info.value.field == "time"


def test_retime_keeps_weekday_and_time_of_day(slots: list[Slot]) -> None:
    """Shifting by whole weeks keeps weekday, local time of day and counts."""
    shifted = retime(slots, 1040)
    assert shifted[0].start == datetime(2025, 6, 29, tzinfo=SHANGHAI)  # a Sunday, as 2005-07-24
    for old, new in zip(slots[::97], shifted[::97], strict=True):
        assert new.start.weekday() == old.start.weekday()
        assert new.start.time() == old.start.time()
        assert (new.people_in, new.people_out) == (old.people_in, old.people_out)


@settings(max_examples=50, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
        max_value=datetime(2100, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    )
)
def test_weeks_to_end_before(instant: datetime) -> None:
    """After the shift the replay ends at or before the instant, and one more week would pass it."""
    slots = parse_lines(GOOD)
    weeks = weeks_to_end_before(slots, instant)
    assert retime(slots, weeks)[-1].end <= instant
    assert retime(slots, weeks + 1)[-1].end > instant


def test_weeks_to_end_before_rejects_naive() -> None:
    """A naive instant is refused."""
    with pytest.raises(ValueError, match="tz-aware"):
        weeks_to_end_before(parse_lines(GOOD), datetime(2025, 1, 1))  # noqa: DTZ001 - the point


def test_select_one_week(slots: list[Slot]) -> None:
    """--start/--limit style selection keeps exactly one week of half-hour slots."""
    week = calit2.select(slots, datetime(2005, 8, 1, tzinfo=SHANGHAI), timedelta(weeks=1))
    assert len(week) == 7 * 48
    assert week[0].start == datetime(2005, 8, 1, tzinfo=SHANGHAI)
    assert week[-1].end == datetime(2005, 8, 8, tzinfo=SHANGHAI)


def test_crossing_times_exact() -> None:
    """Three people in a slot cross at 5, 15 and 25 minutes; one at 15 minutes."""
    start = datetime(2005, 7, 24, 8, tzinfo=SHANGHAI)
    got = list(crossings([Slot(start, 3, 1)]))
    base = int(start.timestamp() * 1000)
    minute = 60_000
    assert got == [
        (base + 5 * minute, "in"),
        (base + 15 * minute, "in"),
        (base + 15 * minute, "out"),
        (base + 25 * minute, "in"),
    ]


counts = st.integers(min_value=0, max_value=400)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(counts, counts, st.integers(0, 3)), min_size=1, max_size=12))
def test_crossings_preserve_counts_in_slot_and_order(spec: list[tuple[int, int, int]]) -> None:
    """Every slot's counts come out as crossings strictly inside the slot, in time order."""
    slots, t = [], datetime(2005, 7, 24, tzinfo=SHANGHAI)
    for n_in, n_out, gap in spec:
        t += timedelta(minutes=30 * (gap + 1))
        slots.append(Slot(t, n_in, n_out))
    got = list(crossings(slots))
    assert [c.utc_ms for c in got] == sorted(c.utc_ms for c in got)
    per_slot: Counter[tuple[int, str]] = Counter()
    for utc_ms, direction in got:
        start = utc_ms - (utc_ms - slots[0].start_ms) % SLOT_MS
        assert start < utc_ms < start + SLOT_MS
        per_slot[(start, direction)] += 1
    for slot in slots:
        start = int(slot.start.timestamp() * 1000)
        assert per_slot[(start, "in")] == slot.people_in
        assert per_slot[(start, "out")] == slot.people_out


def test_whole_file_crossings(slots: list[Slot], calit2_path: Path) -> None:
    """Spreading the whole file gives 19,597 in and 18,837 out, each inside its CSV slot."""
    oracle = csv_slots(calit2_path)
    seen: dict[int, list[int]] = {k: [0, 0] for k in oracle}
    for utc_ms, direction in crossings(slots):
        seen[utc_ms - utc_ms % SLOT_MS][0 if direction == "in" else 1] += 1
    assert seen == oracle
