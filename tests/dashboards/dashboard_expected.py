"""Each panel query's expected answer, computed from the world's records in plain Python.

One function per (dashboard uid, panel title, refId); it gets the records and a
:class:`Ctx` (the panel's range, the interval, the variable selection) and returns
``{(tags, bucket_ms or None): {column: value}}``. ``"_"`` names the only value column of
an unaliased query. None as the bucket means "not grouped by time".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dashboard_world import TZ, Rec

Key = tuple[tuple[tuple[str, str], ...], int | None]
Expected = dict[Key, dict[str, float | None]]


@dataclass(frozen=True)
class Ctx:
    """A panel query's context: range (inclusive), interval (s), selected variable values."""

    start: datetime
    end: datetime
    interval_s: int
    sel: Mapping[str, Sequence[str]]


EXPECT: dict[tuple[str, str, str], Callable[[list[Rec], Ctx], Expected]] = {}


def expect(
    uid: str, title: str, ref: str = "A"
) -> Callable[[Callable[..., Expected]], Callable[..., Expected]]:
    """Register the expected answer of one target."""

    def register(fn: Callable[..., Expected]) -> Callable[..., Expected]:
        EXPECT[(uid, title, ref)] = fn
        return fn

    return register


# --- selection and buckets -----------------------------------------------------------------


def pick(records: Iterable[Rec], m: str, ctx: Ctx, family: str, **where: Any) -> list[Rec]:
    """Records of ``m`` in the range, under the variable selection of a filter family."""
    tag_var = {
        "agg": {"district": "district", "street": "street", "complex": "complex", "space": "space"},
        "compliance": {
            "district": "district",
            "street": "street",
            "site": "complex",
            "space": "space",
        },
        "raw_space": {"site": "complex", "space": "space"},
        "raw_site": {"site": "complex"},
    }[family]
    out = []
    for r in records:
        if r.m != m or not ctx.start <= r.t <= ctx.end:
            continue
        if all(r.tags.get(tag) in ctx.sel[var] for tag, var in tag_var.items()) and all(
            (r.tags.get(k) if k in r.tags else r.fields.get(k)) == v if not callable(v) else v(r)
            for k, v in where.items()
        ):
            out.append(r)
    return out


def day(t: datetime) -> int:
    local = t.astimezone(TZ)
    return int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)


def week(t: datetime) -> int:
    local = t.astimezone(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    return int((local - timedelta(days=local.weekday())).timestamp() * 1000)


def tags(r: Rec, *names: str) -> tuple[tuple[str, str], ...]:
    return tuple((n, r.tags[n]) for n in sorted(names))


def group(rs: Iterable[Rec], key: Callable[[Rec], Key]) -> dict[Key, list[Rec]]:
    out: dict[Key, list[Rec]] = defaultdict(list)
    for r in rs:
        out[key(r)].append(r)
    return out


def total(rs: Iterable[Rec], f: str) -> float:
    return sum(r.fields.get(f, 0) for r in rs)


def rate(rs: list[Rec]) -> float | None:
    decided = [r for r in rs if r.fields["on_time"] + r.fields["late"] + r.fields["missed"] > 0]
    if not decided:
        return None
    on = total(decided, "on_time")
    return on / (on + total(decided, "late") + total(decided, "missed")) * 100


def by(
    rs: Iterable[Rec], names: Sequence[str], bucket: Callable[[Rec], int | None] = lambda r: None
) -> dict[Key, list[Rec]]:
    return group(rs, lambda r: (tags(r, *names), bucket(r)))


def one(value: float | None) -> dict[str, float | None]:
    return {"_": value}


# --- Overview ------------------------------------------------------------------------------

OV = "facility-overview"


@expect(OV, "Task compliance yesterday (last complete day) by complex")
def _ov_rate_complex(rs: list[Rec], ctx: Ctx) -> Expected:
    groups = by(pick(rs, "compliance_daily", ctx, "compliance"), ["site"])
    return {k: one(rate(v)) for k, v in groups.items()}


@expect(OV, "Task compliance by district, last 7 days")
def _ov_rate_district(rs: list[Rec], ctx: Ctx) -> Expected:
    groups = by(pick(rs, "compliance_daily", ctx, "compliance"), ["district"])
    return {k: one(rate(v)) for k, v in groups.items()}


@expect(OV, "Missed tasks, last 7 days, by complex")
def _ov_missed(rs: list[Rec], ctx: Ctx) -> Expected:
    groups = by(pick(rs, "compliance_daily", ctx, "compliance"), ["site"])
    return {k: one(total(v, "missed")) for k, v in groups.items()}


@expect(OV, "Occupancy now by complex")
def _ov_occupancy(rs: list[Rec], ctx: Ctx) -> Expected:
    groups = by(pick(rs, "door_crossing", ctx, "raw_space"), ["site"])
    return {k: one(total(v, "in") - total(v, "out")) for k, v in groups.items()}


@expect(OV, "Visits today by complex")
def _ov_visits(rs: list[Rec], ctx: Ctx) -> Expected:
    groups = by(pick(rs, "door_crossing", ctx, "raw_space"), ["site"])
    return {k: one(total(v, "in")) for k, v in groups.items()}


@expect(OV, "Devices online by complex (last hour)")
def _ov_devices(rs: list[Rec], ctx: Ctx) -> Expected:
    latest: dict[tuple[str, str], Rec] = {}
    for r in sorted(pick(rs, "device_status", ctx, "raw_site"), key=lambda r: r.t):
        latest[(r.tags["site"], r.tags["device"])] = r
    out: Expected = {}
    for (site, _), r in latest.items():
        row = out.setdefault(((("site", site),), None), {"online": 0, "reporting": 0})
        row["online"] += r.fields["online"]  # type: ignore[operator]
        row["reporting"] += 1  # type: ignore[operator]
    return out


@expect(OV, "Visits per day by district")
def _ov_visits_district(rs: list[Rec], ctx: Ctx) -> Expected:
    groups = by(pick(rs, "utilisation_daily", ctx, "agg"), ["district"], lambda r: day(r.t))
    return {k: one(total(v, "visits")) for k, v in groups.items()}


# --- Utilisation ---------------------------------------------------------------------------

UT = "facility-utilisation"
SPACE = ["complex", "space"]


@expect(UT, "Visits per space")
def _ut_visits(rs: list[Rec], ctx: Ctx) -> Expected:
    step = ctx.interval_s * 1000
    groups = by(
        pick(rs, "door_crossing", ctx, "raw_space"),
        ["site", "space"],
        lambda r: r.ms // step * step,
    )
    return {k: one(total(v, "in")) for k, v in groups.items()}


@expect(UT, "Peak occupancy per space")
def _ut_peak(rs: list[Rec], ctx: Ctx) -> Expected:
    step = ctx.interval_s * 1000
    groups = by(pick(rs, "utilisation_hourly", ctx, "agg"), SPACE, lambda r: r.ms // step * step)
    return {k: one(max(r.fields["peak_occupancy"] for r in v)) for k, v in groups.items()}


@expect(UT, "Visits per day per space")
def _ut_daily(rs: list[Rec], ctx: Ctx) -> Expected:
    groups = by(pick(rs, "utilisation_daily", ctx, "agg"), SPACE, lambda r: day(r.t))
    return {k: one(total(v, "visits")) for k, v in groups.items()}


@expect(UT, "Utilisation per space", "A")
def _ut_table_a(rs: list[Rec], ctx: Ctx) -> Expected:
    groups = by(pick(rs, "utilisation_daily", ctx, "agg"), SPACE)
    return {
        k: {
            "visits": total(v, "visits"),
            "peak_occupancy": max(r.fields["peak_occupancy"] for r in v),
            "open_h": total(v, "open_min") / 60,
            "occupied_h": total(v, "occupied_min") / 60,
        }
        for k, v in groups.items()
    }


@expect(UT, "Utilisation per space", "B")
def _ut_table_b(rs: list[Rec], ctx: Ctx) -> Expected:
    rows = pick(rs, "utilisation_daily", ctx, "agg", open_min=lambda r: r.fields["open_min"] > 0)
    return {
        k: {"utilisation_pct": total(v, "occupied_min") / total(v, "open_min") * 100}
        for k, v in by(rows, SPACE).items()
    }


@expect(UT, "Utilisation per space", "C")
def _ut_table_c(rs: list[Rec], ctx: Ctx) -> Expected:
    rows = pick(rs, "utilisation_daily", ctx, "agg", open_min=lambda r: r.fields["open_min"] > 0)
    rows = [r for r in rows if "occupancy_pct" in r.fields]
    return {
        k: {
            "occupancy_pct": sum(r.fields["occupancy_pct"] * r.fields["open_min"] for r in v)
            / total(v, "open_min")
        }
        for k, v in by(rows, SPACE).items()
    }


def _hour_of_day(hour: int) -> Callable[[list[Rec], Ctx], Expected]:
    def fn(rs: list[Rec], ctx: Ctx) -> Expected:
        rows = [
            r for r in pick(rs, "utilisation_hourly", ctx, "agg") if r.t.astimezone(TZ).hour == hour
        ]
        return {k: one(total(v, "visits")) for k, v in by(rows, [], lambda r: day(r.t)).items()}

    return fn


for _h in range(24):
    EXPECT[(UT, "Visits by local hour, day by day", chr(65 + _h))] = _hour_of_day(_h)


# --- Safety tasks --------------------------------------------------------------------------

SF = "facility-safety"


@expect(SF, "Task compliance per day")
def _sf_rate(rs: list[Rec], ctx: Ctx) -> Expected:
    groups = by(
        pick(rs, "compliance_daily", ctx, "compliance"), ["site", "space"], lambda r: day(r.t)
    )
    return {k: one(rate(v)) for k, v in groups.items()}


@expect(SF, "Task occurrences per day by outcome")
def _sf_outcomes(rs: list[Rec], ctx: Ctx) -> Expected:
    groups = by(pick(rs, "compliance_daily", ctx, "compliance"), [], lambda r: day(r.t))
    return {
        k: {f: total(v, f) for f in ("on_time", "late", "missed", "unknown")}
        for k, v in groups.items()
    }


def _checkins_per_day(task: str) -> Callable[[list[Rec], Ctx], Expected]:
    def fn(rs: list[Rec], ctx: Ctx) -> Expected:
        rows = pick(rs, "checkin", ctx, "raw_space", task=task)
        return {k: one(len(v)) for k, v in by(rows, ["site", "space"], lambda r: day(r.t)).items()}

    return fn


EXPECT[(SF, "Disinfection check-ins per day", "A")] = _checkins_per_day("disinfection")
EXPECT[(SF, "Patrol check-ins per day", "A")] = _checkins_per_day("patrol")


@expect(SF, "Days with missed or late tasks")
def _sf_misses(rs: list[Rec], ctx: Ctx) -> Expected:
    rows = pick(rs, "compliance_daily", ctx, "compliance")
    return {
        (tags(r, "site", "space"), r.ms): {
            f: r.fields.get(f) for f in ("missed", "late", "due", "rate_pct")
        }
        for r in rows
        if r.fields["missed"] > 0 or r.fields["late"] > 0
    }


# --- Scorecard -----------------------------------------------------------------------------

SC = "facility-scorecard"


@expect(SC, "Culture: open hours per week (≥ 28 h)")
def _sc_culture(rs: list[Rec], ctx: Ctx) -> Expected:
    rows = pick(rs, "utilisation_daily", ctx, "agg", space_type="culture")
    return {
        k: one(total(v, "actual_open_min") / 60)
        for k, v in by(rows, SPACE, lambda r: week(r.t)).items()
    }


@expect(SC, "Health station: open days per week (≥ 5)")
def _sc_health(rs: list[Rec], ctx: Ctx) -> Expected:
    rows = pick(rs, "utilisation_daily", ctx, "agg", space_type="health")
    rows = [r for r in rows if r.fields["actual_open_min"] > 0]
    return {k: one(len(v)) for k, v in by(rows, SPACE, lambda r: week(r.t)).items()}


def _votes(rs: list[Rec], ctx: Ctx, positive: bool) -> dict[Key, list[Rec]]:
    rows = pick(rs, "satisfaction_vote", ctx, "raw_space")
    if positive:
        rows = [r for r in rows if r.tags["rating"] in ("very_satisfied", "satisfied")]
    return by(rows, ["site", "space"])


@expect(SC, "Satisfaction per service (≥ 80 %)", "A")
def _sc_sat_a(rs: list[Rec], ctx: Ctx) -> Expected:
    return {k: one(len(v)) for k, v in _votes(rs, ctx, True).items()}


@expect(SC, "Satisfaction per service (≥ 80 %)", "B")
def _sc_sat_b(rs: list[Rec], ctx: Ctx) -> Expected:
    return {k: one(len(v)) for k, v in _votes(rs, ctx, False).items()}


def satisfaction_rate(rs: list[Rec], ctx: Ctx) -> dict[tuple[tuple[str, str], ...], float]:
    """(very satisfied + satisfied) / all votes * 100 per (site, space): the math target C."""
    pos = _votes(rs, ctx, True)
    return {k[0]: len(pos.get(k, [])) / len(v) * 100 for k, v in _votes(rs, ctx, False).items()}


@expect(SC, "Votes by rating per service")
def _sc_votes(rs: list[Rec], ctx: Ctx) -> Expected:
    rows = pick(rs, "satisfaction_vote", ctx, "raw_space")
    return {k: {"votes": len(v)} for k, v in by(rows, ["site", "space", "rating"]).items()}


@expect(SC, "Kids' play area: task compliance")
def _sc_kids(rs: list[Rec], ctx: Ctx) -> Expected:
    rows = pick(rs, "compliance_daily", ctx, "compliance", space_type="kids_play")
    return {k: one(rate(v)) for k, v in by(rows, ["site", "space"]).items()}


def _task_count(task: str) -> Callable[[list[Rec], Ctx], Expected]:
    def fn(rs: list[Rec], ctx: Ctx) -> Expected:
        rows = pick(rs, "checkin", ctx, "raw_space", task=task)
        return {k: one(len(v)) for k, v in by(rows, ["site", "space"]).items()}

    return fn


EXPECT[(SC, "Activities (lectures, clinics, events)", "A")] = _task_count("activity")
EXPECT[(SC, "Equipment maintenance", "A")] = _task_count("maintenance")


@expect(SC, "Utilisation per complex")
def _sc_util(rs: list[Rec], ctx: Ctx) -> Expected:
    rows = pick(rs, "utilisation_daily", ctx, "agg", open_min=lambda r: r.fields["open_min"] > 0)
    return {
        k: one(total(v, "occupied_min") / total(v, "open_min") * 100)
        for k, v in by(rows, ["complex"]).items()
    }


# --- Device health -------------------------------------------------------------------------

DV = "facility-devices"
DEVICE = ["site", "device"]


def _latest(rows: list[Rec], names: Sequence[str]) -> dict[Key, Rec]:
    out: dict[Key, Rec] = {}
    for r in sorted(rows, key=lambda r: r.ns):
        out[(tags(r, *names), None)] = r
    return out


@expect(DV, "Devices: last status")
def _dv_status(rs: list[Rec], ctx: Ctx) -> Expected:
    latest = _latest(pick(rs, "device_status", ctx, "raw_site"), DEVICE)
    return {(k[0], r.ms): {"online": r.fields["online"]} for k, r in latest.items()}


@expect(DV, "Edge boards: outbox, disk, clock")
def _dv_boards(rs: list[Rec], ctx: Ctx) -> Expected:
    latest = _latest(pick(rs, "device_status", ctx, "raw_site"), DEVICE)
    return {
        k: {f: r.fields[f] for f in ("outbox", "disk_free_mb", "synced", "uptime_s")}
        for k, r in latest.items()
    }


def _per_interval(
    field: str, agg: Callable[[Iterable[float]], float]
) -> Callable[[list[Rec], Ctx], Expected]:
    def fn(rs: list[Rec], ctx: Ctx) -> Expected:
        step = ctx.interval_s * 1000
        groups = by(
            pick(rs, "device_status", ctx, "raw_site"), DEVICE, lambda r: r.ms // step * step
        )
        return {k: one(agg(r.fields[field] for r in v)) for k, v in groups.items()}

    return fn


EXPECT[(DV, "Outbox backlog", "A")] = _per_interval("outbox", max)
EXPECT[(DV, "Free disk", "A")] = _per_interval("disk_free_mb", min)


@expect(DV, "Door counters: last event")
def _dv_last_event(rs: list[Rec], ctx: Ctx) -> Expected:
    latest = _latest(pick(rs, "door_crossing", ctx, "raw_site"), DEVICE)
    return {(k[0], r.ns // 1_000_000): {"seq": r.fields["seq"]} for k, r in latest.items()}


@expect(DV, "Events with estimated time")
def _dv_estimated(rs: list[Rec], ctx: Ctx) -> Expected:
    rows = pick(rs, "door_crossing", ctx, "raw_site", clock="estimated")
    return {k: {"estimated": len(v)} for k, v in by(rows, DEVICE).items()}


@expect(DV, "Device notices")
def _dv_notices(rs: list[Rec], ctx: Ctx) -> Expected:
    rows = pick(rs, "device_notice", ctx, "raw_site")
    return {k: {"notices": len(v)} for k, v in by(rows, [*DEVICE, "code"]).items()}
