"""Loader and crossing generator for the CalIt2 door-count file.

File format (``../shared/data/README.md``): one row per (flow, half hour), no header::

    flow_id,date,time,count        e.g.  7,07/24/05,00:30:00,1

``flow_id`` 7 = people going OUT, 9 = people coming IN; ``date`` is MM/DD/YY; ``time`` is
HH:MM:SS, the start of a half-hour slot in the site's local time; ``count`` is people
(integer >= 0). Blank lines are skipped. Everything here is pure: no clock, no I/O except
:func:`load` reading the file it is given.

Local times are interpreted in a zoneinfo zone (default ``Asia/Shanghai``, UTC+8 without
daylight saving). In a zone with daylight saving, an ambiguous wall time takes the first
occurrence (``fold=0``) and a wall time that does not exist raises :class:`CalIt2Error`.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

from facility_sim.errors import CalIt2Error

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
SLOT = timedelta(minutes=30)
SLOT_MS = 1_800_000
FLOW_OUT = 7
FLOW_IN = 9
WEEK = timedelta(weeks=1)

_DATE = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{2})")
_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})")
_COUNT = re.compile(r"[0-9]{1,9}")

Direction = Literal["in", "out"]


@dataclass(frozen=True, slots=True)
class Slot:
    """People counted in one half-hour slot.

    Attributes:
        start: start of the slot, tz-aware, in the site's zone.
        people_in: people coming in during the slot (people).
        people_out: people going out during the slot (people).
    """

    start: datetime
    people_in: int
    people_out: int

    @property
    def start_ms(self) -> int:
        """Start of the slot, UTC milliseconds since the epoch."""
        return _utc_ms(self.start)

    @property
    def end_ms(self) -> int:
        """End of the slot (exclusive), UTC milliseconds since the epoch."""
        return self.start_ms + SLOT_MS

    @property
    def end(self) -> datetime:
        """End of the slot (exclusive), tz-aware, in the site's zone (30 min of real time)."""
        return (self.start.astimezone(UTC) + SLOT).astimezone(self.start.tzinfo)


class Crossing(NamedTuple):
    """One person passing the door: (UTC ms since the epoch, ``"in"`` or ``"out"``)."""

    utc_ms: int
    direction: Direction


def _utc_ms(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return delta // timedelta(milliseconds=1)


def _local(line: int, date_text: str, time_text: str, tz: ZoneInfo) -> datetime:
    d = _DATE.fullmatch(date_text)
    if d is None:
        raise CalIt2Error(line, "date", date_text, "expected MM/DD/YY")
    t = _TIME.fullmatch(time_text)
    if t is None:
        raise CalIt2Error(line, "time", time_text, "expected HH:MM:SS")
    month, day, yy = (int(g) for g in d.groups())
    hour, minute, second = (int(g) for g in t.groups())
    year = 2000 + yy if yy < 69 else 1900 + yy  # POSIX %y convention
    try:
        day_start = datetime(year, month, day, tzinfo=tz)
    except ValueError as exc:
        raise CalIt2Error(line, "date", date_text, f"not a calendar date ({exc})") from exc
    if hour > 23 or minute not in (0, 30) or second != 0:
        raise CalIt2Error(line, "time", time_text, "not the start of a half-hour slot")
    local = day_start.replace(hour=hour, minute=minute)
    if local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise CalIt2Error(line, "time", f"{date_text} {time_text}", f"does not exist in {tz.key}")
    return local


def _parse_row(line: int, text: str, tz: ZoneInfo) -> tuple[int, datetime, int]:
    fields = text.split(",")
    if len(fields) != 4:
        raise CalIt2Error(
            line, "row", text, f"expected 4 comma-separated fields, got {len(fields)}"
        )
    flow_text, date_text, time_text, count_text = fields
    if flow_text not in (str(FLOW_OUT), str(FLOW_IN)):
        raise CalIt2Error(line, "flow_id", flow_text, "expected 7 (out) or 9 (in)")
    if _COUNT.fullmatch(count_text) is None:
        raise CalIt2Error(line, "count", count_text, "expected an integer >= 0")
    return int(flow_text), _local(line, date_text, time_text, tz), int(count_text)


def parse_lines(lines: Iterable[str], tz: ZoneInfo = DEFAULT_TZ) -> list[Slot]:
    """Parse CalIt2 rows into slots sorted by time.

    Args:
        lines: the file's lines (line ends allowed); blank lines are skipped.
        tz: the site's zone; file times are local wall times in it.

    Returns:
        One :class:`Slot` per half hour present, in time order, with tz-aware starts.

    Raises:
        CalIt2Error: a malformed row, a repeated (flow, slot), a slot with only one flow,
            or two slots less than 30 minutes apart in real time; names line and field.
    """
    seen: dict[tuple[int, datetime], int] = {}
    counts: dict[datetime, dict[int, tuple[int, int]]] = {}
    for number, raw in enumerate(lines, start=1):
        text = raw.rstrip("\r\n")
        if not text.strip():
            continue
        flow, start, count = _parse_row(number, text, tz)
        earlier = seen.setdefault((flow, start), number)
        if earlier != number:
            raise CalIt2Error(
                number, "time", text, f"flow {flow} slot already given on line {earlier}"
            )
        counts.setdefault(start, {})[flow] = (count, number)
    slots: list[Slot] = []
    for start in sorted(counts, key=_utc_ms):
        flows = counts[start]
        for flow, other in ((FLOW_IN, FLOW_OUT), (FLOW_OUT, FLOW_IN)):
            if flow not in flows:
                line = flows[other][1]
                raise CalIt2Error(
                    line, "flow_id", other, f"slot {start.isoformat()} has no flow {flow} row"
                )
        slot = Slot(start, flows[FLOW_IN][0], flows[FLOW_OUT][0])
        if slots and slot.start_ms - slots[-1].start_ms < SLOT_MS:
            line = flows[FLOW_IN][1]
            raise CalIt2Error(
                line, "time", start.isoformat(), "overlaps the previous slot in real time"
            )
        slots.append(slot)
    return slots


def ascii_lines(data: bytes) -> Iterator[str]:
    """The lines of a CalIt2 file's bytes as text (ASCII; a UTF-8 byte order mark, as
    spreadsheet programs write, is skipped).

    Raises:
        CalIt2Error: a byte that is not ASCII, naming its line and column.
    """
    data = data.removeprefix(b"\xef\xbb\xbf")
    for number, raw in enumerate(data.splitlines(keepends=True), start=1):
        try:
            yield raw.decode("ascii")
        except UnicodeDecodeError as exc:
            near = raw[max(0, exc.start - 12) : exc.start + 4].rstrip(b"\r\n")
            raise CalIt2Error(
                number,
                "row",
                near.decode("ascii", errors="replace"),
                f"not ASCII text (byte 0x{raw[exc.start]:02X} at column {exc.start + 1}); "
                "the file must be plain ASCII CSV",
            ) from exc


def load(path: str | Path, tz: ZoneInfo = DEFAULT_TZ) -> list[Slot]:
    """Load a CalIt2 file (see :func:`parse_lines`); reads it as ASCII text.

    Raises:
        CalIt2Error: see :func:`parse_lines` and :func:`ascii_lines`.
        OSError: the file cannot be read.
    """
    return parse_lines(ascii_lines(Path(path).read_bytes()), tz)


def retime(slots: Sequence[Slot], weeks_shift: int) -> list[Slot]:
    """Shift every slot by a whole number of weeks of local wall time.

    Weekday and local time of day are kept. In a zone with daylight saving the real-time
    shift may differ by the change of offset.

    Raises:
        CalIt2Error: a shifted wall time does not exist in the zone.
    """
    shift = timedelta(weeks=weeks_shift)
    out = []
    for slot in slots:
        start = slot.start + shift  # aware + timedelta is wall-time arithmetic
        if start.astimezone(UTC).astimezone(start.tzinfo) != start:
            raise CalIt2Error(0, "start", start.isoformat(), "does not exist after the shift")
        out.append(Slot(start, slot.people_in, slot.people_out))
    return out


def weeks_to_end_before(slots: Sequence[Slot], instant: datetime) -> int:
    """The largest week shift after which the last slot ends at or before ``instant``.

    Args:
        slots: slots in time order (non-empty).
        instant: a tz-aware instant (e.g. now in UTC).

    Raises:
        ValueError: ``instant`` is naive or ``slots`` is empty.
    """
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"instant must be tz-aware, got {instant!r}")
    if not slots:
        raise ValueError("slots is empty: nothing to shift")
    weeks = (instant - slots[-1].end) // WEEK
    while retime(slots[-1:], weeks)[0].end > instant:
        weeks -= 1
    return weeks


def select(
    slots: Sequence[Slot], start: datetime | None = None, limit: timedelta | None = None
) -> list[Slot]:
    """Slots starting in ``[start, start + limit)``.

    Args:
        slots: slots in time order.
        start: tz-aware first instant kept; ``None`` = the first slot's start.
        limit: length of the range kept (> 0); ``None`` = to the end.

    Raises:
        ValueError: ``start`` is naive or ``limit`` is not positive.
    """
    if start is not None and (start.tzinfo is None or start.utcoffset() is None):
        raise ValueError(f"start must be tz-aware, got {start!r}")
    if limit is not None and limit <= timedelta(0):
        raise ValueError(f"limit must be positive, got {limit}")
    if not slots:
        return []
    first = _utc_ms(start) if start is not None else slots[0].start_ms
    stop = None if limit is None else first + limit // timedelta(milliseconds=1)
    return [s for s in slots if s.start_ms >= first and (stop is None or s.start_ms < stop)]


def _spread(slot: Slot, count: int, direction: Direction) -> Iterator[Crossing]:
    base = slot.start_ms
    for i in range(count):
        # crossing i of n at start + (i + 0.5) * 30 min / n, floored to the millisecond
        yield Crossing(base + (2 * i + 1) * (SLOT_MS // 2) // count, direction)


def crossings(slots: Iterable[Slot]) -> Iterator[Crossing]:
    """Spread each slot's counts evenly over its 30 minutes.

    Crossing ``i`` of ``n`` in a direction lies at ``start + (i + 0.5) * 30 min / n``
    (floored to the ms), so every crossing is strictly inside its slot.

    Args:
        slots: slots in time order, not overlapping (as :func:`parse_lines` returns).

    Yields:
        :class:`Crossing` (UTC ms, direction) in time order; at equal times ``"in"`` first.
    """
    for slot in slots:
        yield from heapq.merge(
            _spread(slot, slot.people_in, "in"), _spread(slot, slot.people_out, "out")
        )
