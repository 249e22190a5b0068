"""Expected answers of the kiosk-usage panels and of the hour-slot means (the utilisation
typical week, the kiosk hour of day), computed from the world's records in plain Python.

Registers into :data:`dashboard_expected.EXPECT` on import, like that module.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from dashboard_expected import EXPECT, UT, Ctx, Expected, by, day, expect, one, pick, total
from dashboard_world import TZ, Rec
from facility_contracts.vitals import QUANTITIES

KI = "facility-kiosk"
SPACE = ["complex", "space"]
SESSIONS = "kiosk_sessions_hourly"
READINGS = "kiosk_readings_hourly"


def hour_means(rows: list[Rec], ctx: Ctx, field: str, *, week: bool) -> Expected:
    """Per local hour of the day (or of the week): the field's total over the records at
    that hour, divided by how many times that hour began within the panel's range. One row
    per weekday (week) or a single row, at the weekday's first midnight in the range."""

    def slot(t: datetime) -> tuple[int, int]:
        local = t.astimezone(TZ)
        return (local.weekday() if week else 0, local.hour)

    began: Counter[tuple[int, int]] = Counter()
    t = ctx.start
    while t <= ctx.end:
        began[slot(t)] += 1
        t += timedelta(hours=1)
    sums: dict[tuple[int, int], float] = defaultdict(float)
    for r in rows:
        sums[slot(r.t)] += r.fields[field]
    out: Expected = {}
    for (weekday, hour), n in began.items():
        row_ms = int((ctx.start + timedelta(days=weekday)).timestamp() * 1000)
        out.setdefault(((), row_ms), {})[f"{hour:02d}"] = sums[(weekday, hour)] / n
    return out


def _typical_week(weekday: int) -> Callable[[list[Rec], Ctx], Expected]:
    def fn(rs: list[Rec], ctx: Ctx) -> Expected:
        assert ctx.start.weekday() == 0 and ctx.start.hour == 0, "the range starts on Monday"
        means = hour_means(pick(rs, "utilisation_hourly", ctx, "agg"), ctx, "visits", week=True)
        row_ms = int((ctx.start + timedelta(days=weekday)).timestamp() * 1000)
        return {k: v for k, v in means.items() if k[1] == row_ms}

    return fn


for _d in range(7):
    EXPECT[(UT, "Typical week: mean visits per hour of week", chr(65 + _d))] = _typical_week(_d)


# --- Kiosk usage ---------------------------------------------------------------------------


def _share(rows: list[Rec], part: str, whole: str) -> float:
    return total(rows, part) / total(rows, whole) * 100


def _with_reference(r: Rec) -> bool:
    return QUANTITIES[r.tags["reading_type"]].reference is not None


def _evaluated(rs: list[Rec], ctx: Ctx) -> list[Rec]:
    """Readings of types with a reference range, in hours that publish evaluated counts
    (at least KIOSK_MIN_EVALUATED; smaller hours carry ``readings`` only)."""
    rows = pick(rs, READINGS, ctx, "agg", evaluated=lambda r: r.fields.get("evaluated", 0) > 0)
    return [r for r in rows if _with_reference(r)]


def _with_consent_count(rs: list[Rec], ctx: Ctx) -> list[Rec]:
    """Sessions points of hours that publish consent and crisis counts (at least
    KIOSK_MIN_SESSIONS sessions; smaller hours carry ``sessions`` and ``members`` only)."""
    return pick(rs, SESSIONS, ctx, "agg", consented=lambda r: "consented" in r.fields)


def _sum(rows: list[Rec], field: str) -> float | None:
    """``sum(field)`` as InfluxQL gives it: None when no point of the group has the field."""
    present = [r for r in rows if field in r.fields]
    return total(present, field) if present else None


@expect(KI, "Sessions in the range")
def _ki_totals(rs: list[Rec], ctx: Ctx) -> Expected:
    rows = pick(rs, SESSIONS, ctx, "agg")
    if not rows:
        return {}
    names = {"sessions": "sessions", "member_hours": "members", "consented": "consented"}
    names["crisis"] = "crisis"
    return {((), None): {alias: _sum(rows, f) for alias, f in names.items()}}


@expect(KI, "Sessions with consent")
def _ki_consent(rs: list[Rec], ctx: Ctx) -> Expected:
    rows = _with_consent_count(rs, ctx)
    return {((), None): one(_share(rows, "consented", "sessions"))} if rows else {}


def _per_space_day(field: str) -> Callable[[list[Rec], Ctx], Expected]:
    def fn(rs: list[Rec], ctx: Ctx) -> Expected:
        groups = by(pick(rs, SESSIONS, ctx, "agg"), SPACE, lambda r: day(r.t))
        return {k: one(_sum(v, field)) for k, v in groups.items()}

    return fn


EXPECT[(KI, "Sessions per day", "A")] = _per_space_day("sessions")
EXPECT[(KI, "Member-hours per day", "A")] = _per_space_day("members")
EXPECT[(KI, "Crisis sessions per day", "A")] = _per_space_day("crisis")


@expect(KI, "Sessions by local hour of day, last 30 days")
def _ki_hour_of_day(rs: list[Rec], ctx: Ctx) -> Expected:
    assert ctx.start.hour == 0, "the range starts at a local midnight"
    rows = pick(rs, SESSIONS, ctx, "agg")
    return hour_means(rows, ctx, "sessions", week=False) if rows else {}


@expect(KI, "Sessions with consent per day")
def _ki_consent_daily(rs: list[Rec], ctx: Ctx) -> Expected:
    groups = by(_with_consent_count(rs, ctx), ["complex"], lambda r: day(r.t))
    return {k: one(_share(v, "consented", "sessions")) for k, v in groups.items()}


@expect(KI, "Readings by type", "A")
def _ki_types(rs: list[Rec], ctx: Ctx) -> Expected:
    groups = by(pick(rs, READINGS, ctx, "agg"), ["reading_type"])
    fields = ("readings", "evaluated", "outside_reference")
    return {k: {f: _sum(v, f) for f in fields} for k, v in groups.items()}


@expect(KI, "Readings by type", "B")
def _ki_types_share(rs: list[Rec], ctx: Ctx) -> Expected:
    groups = by(_evaluated(rs, ctx), ["reading_type"])
    return {
        k: {"outside_reference_pct": _share(v, "outside_reference", "evaluated")}
        for k, v in groups.items()
    }


@expect(KI, "Readings per day by type")
def _ki_types_daily(rs: list[Rec], ctx: Ctx) -> Expected:
    groups = by(pick(rs, READINGS, ctx, "agg"), ["reading_type"], lambda r: day(r.t))
    return {k: one(total(v, "readings")) for k, v in groups.items()}


@expect(KI, "Readings outside the reference range per day")
def _ki_outside_daily(rs: list[Rec], ctx: Ctx) -> Expected:
    groups = by(_evaluated(rs, ctx), ["reading_type"], lambda r: day(r.t))
    return {k: one(_share(v, "outside_reference", "evaluated")) for k, v in groups.items()}
