"""A small, deterministic world of time-series records for the dashboard queries.

Two districts, three complexes, six spaces (two with health kiosks), two weeks (Mon
2026-06-01 .. Sun 2026-06-14, Asia/Shanghai). Records are plain Python (measurement,
tags, fields, aware time) so the tests compute expected figures from them directly;
:func:`line_protocol` turns them into the gateway's own points (``make_point`` +
``to_body``) for InfluxDB, as the gateway and the server write them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from facility_contracts.schema import KIOSK_MIN_EVALUATED, KIOSK_MIN_SESSIONS, MEASUREMENTS
from facility_contracts.vitals import QUANTITIES
from facility_gateway.points import make_point, to_body

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 6, 1, tzinfo=TZ)  # a Monday, local midnight
DAYS = 14
END = START + timedelta(days=DAYS) - timedelta(milliseconds=1)
#: "now" for panels with a relative time of their own (now/d, now-1h ...).
NOW = datetime(2026, 6, 14, 15, 0, tzinfo=TZ)
OPEN_HOURS = range(8, 20)  # local hours a space is open (every day but closed days)


@dataclass(frozen=True)
class Space:
    district: str
    street: str
    complex: str
    code: str
    type: str


SPACES = (
    Space("xihu", "xihu/beishan", "xh-a", "culture", "culture"),
    Space("xihu", "xihu/beishan", "xh-a", "kids", "kids_play"),
    Space("xihu", "xihu/beishan", "xh-b", "health", "health"),
    Space("xihu", "xihu/beishan", "xh-b", "culture", "culture"),
    Space("gongshu", "gongshu/mishixiang", "gs-c", "kids", "kids_play"),
    Space("gongshu", "gongshu/mishixiang", "gs-c", "meal", "elderly_meal"),
)
COMPLEXES = sorted({s.complex for s in SPACES})


@dataclass(frozen=True)
class Rec:
    """One point: measurement, tags, fields (schema types) and its aware time."""

    m: str
    tags: dict[str, str]
    fields: dict[str, int | float]
    t: datetime

    @property
    def ms(self) -> int:
        return int(self.t.timestamp() * 1000)

    @property
    def ns(self) -> int:
        """Point time as the gateway sets it: event ms * 10**6 + seq % 10**6."""
        return self.ms * 1_000_000 + int(self.fields.get("seq", 0)) % 1_000_000


def _typed(m: str, fields: dict[str, float]) -> dict[str, int | float]:
    spec = MEASUREMENTS[m]
    return {k: (int(v) if spec.field(k).type == "int" else float(v)) for k, v in fields.items()}


def _closed(space: Space, day: int) -> bool:
    return space.type == "health" and day % 7 in (2, 6)  # health: shut Wed and Sun


def _door(rng: random.Random, out: list[Rec]) -> None:
    seq: dict[str, int] = {}
    for s in SPACES:
        device = f"dc-{s.code}"
        for day in range(DAYS):
            for _ in range(rng.randint(5, 12)):
                t = START + timedelta(
                    days=day, hours=rng.choice(OPEN_HOURS), seconds=rng.randint(0, 3599)
                )
                if t > NOW:
                    continue
                seq[s.complex + device] = n = seq.get(s.complex + device, 0) + 1
                clock = "estimated" if rng.random() < 0.1 else "synced"
                tags = {"site": s.complex, "device": device, "space": s.code, "clock": clock}
                fields = {"in": rng.randint(0, 4), "out": rng.randint(0, 3), "seq": n}
                out.append(Rec("door_crossing", tags, _typed("door_crossing", fields), t))


def _aggregates(rng: random.Random, out: list[Rec]) -> None:
    for n, s in enumerate(SPACES):
        tags = {"district": s.district, "street": s.street, "complex": s.complex}
        tags |= {"space": s.code, "space_type": s.type}
        before = {"visits": 5, "exits": 5, "peak_occupancy": 3, "clamped": 0, "open_min": 0.0}
        before |= {"occupied_min": 0.0, "person_min": 0.0}  # the evening before the range
        out.append(
            Rec(
                "utilisation_hourly",
                tags,
                _typed("utilisation_hourly", before),
                START - timedelta(hours=n + 1),
            )
        )
        for day in range(DAYS):
            midnight = START + timedelta(days=day)
            hours = []
            extra = (day * 5 + n * 3) % 24  # an evening or early event outside the hours
            if extra not in OPEN_HOURS:
                f = {"visits": rng.randint(1, 3), "exits": 1, "peak_occupancy": 2, "clamped": 0}
                f |= {"open_min": 0.0, "occupied_min": 0.0, "person_min": 0.0}
                hours.append(f)
                out.append(
                    Rec(
                        "utilisation_hourly",
                        tags,
                        _typed("utilisation_hourly", f),
                        midnight + timedelta(hours=extra),
                    )
                )
            for h in OPEN_HOURS:
                if _closed(s, day) or rng.random() < 0.15:
                    continue
                occupied = rng.choice([0.0, 15.5, 30.0, 60.0])
                f = {
                    "visits": rng.randint(0, 9),
                    "exits": rng.randint(0, 9),
                    "peak_occupancy": rng.randint(0, 6),
                }
                f |= {"clamped": 0, "open_min": 60.0, "occupied_min": occupied}
                f |= {"person_min": occupied * 2, "utilisation_pct": occupied / 60 * 100}
                f["occupancy_pct"] = round(rng.uniform(0, 80), 3)
                hours.append(f)
                out.append(
                    Rec(
                        "utilisation_hourly",
                        tags,
                        _typed("utilisation_hourly", f),
                        midnight + timedelta(hours=h),
                    )
                )
            open_min = sum(f["open_min"] for f in hours)
            d = {
                k: sum(f[k] for f in hours)
                for k in ("visits", "exits", "occupied_min", "person_min")
            }
            d |= {
                "peak_occupancy": max((f["peak_occupancy"] for f in hours), default=0),
                "clamped": 0,
            }
            d |= {"open_min": open_min, "drift": rng.randint(0, 2)}
            d["actual_open_min"] = 0.0 if _closed(s, day) else open_min - rng.choice([0, 30])
            if open_min:
                d["utilisation_pct"] = d["occupied_min"] / open_min * 100
                if s.type != "elderly_meal":  # no capacity: occupancy absent
                    d["occupancy_pct"] = round(rng.uniform(0, 80), 3)
            out.append(Rec("utilisation_daily", tags, _typed("utilisation_daily", d), midnight))


def _compliance(rng: random.Random, out: list[Rec]) -> None:
    for s in SPACES:
        if s.type != "kids_play":
            continue
        tags = {"site": s.complex, "space": s.code, "space_type": s.type}
        tags |= {"street": s.street, "district": s.district}
        for day in range(DAYS - 1):  # today is not written until it is over
            c = {k: rng.choice([0, 0, 1, 2]) for k in ("late", "missed", "unknown", "excused")}
            c["on_time"] = rng.choice([0, 3, 4]) if day % 5 else 0
            if day == DAYS - 2:  # yesterday (NOW's): something decided in every space
                c["on_time"] += 2
            c["due"] = c["on_time"] + c["late"] + c["missed"] + c["unknown"]
            decided = c["on_time"] + c["late"] + c["missed"]
            if decided:
                c["rate_pct"] = round(100 * c["on_time"] / decided, 2)
            out.append(
                Rec(
                    "compliance_daily",
                    tags,
                    _typed("compliance_daily", c),
                    START + timedelta(days=day),
                )
            )


def _terminals(rng: random.Random, out: list[Rec]) -> None:
    ratings = ("very_satisfied", "satisfied", "dissatisfied", "very_dissatisfied")
    for s in SPACES:
        for day in range(DAYS):
            base = START + timedelta(days=day)
            if s.type == "kids_play":
                plan = [("disinfection", 8, "cp-gate")] + [
                    ("patrol", h, cp) for h in (10, 14) for cp in ("cp-1", "cp-2")
                ]
                plan += [("activity", 16, "cp-gate")] if day % 4 == 0 else []
            else:
                plan = [("maintenance", 9, "cp-room")] if day % 6 == 0 else []
                plan += [("activity", 15, "cp-room")] if day % 3 == 0 else []
            for n, (task, hour, cp) in enumerate(plan):
                t = base + timedelta(hours=hour, minutes=rng.randint(0, 50), seconds=n)
                tags = {
                    "site": s.complex,
                    "device": f"ci-{s.code}",
                    "space": s.code,
                    "checkpoint": cp,
                }
                tags |= {"task": task, "method": rng.choice(["rfid", "qr"]), "clock": "synced"}
                out.append(Rec("checkin", tags, {"count": 1, "seq": day * 10 + n}, t))
            for n in range(rng.randint(0, 6)):
                t = base + timedelta(hours=rng.choice(OPEN_HOURS), minutes=n)
                tags = {"site": s.complex, "device": f"sat-{s.code}", "space": s.code}
                tags |= {"rating": rng.choice(ratings), "clock": "synced"}
                out.append(Rec("satisfaction_vote", tags, {"count": 1, "seq": day * 10 + n}, t))


def _devices(rng: random.Random, out: list[Rec]) -> None:
    first = NOW - timedelta(hours=30)
    for c in COMPLEXES:
        for device in ("edge-1", "ci-kids"):
            if device == "ci-kids" and c == "xh-b":
                continue
            silent_after = (
                NOW - timedelta(minutes=90) if c == "gs-c" and device == "ci-kids" else NOW
            )
            t = first + timedelta(seconds=rng.randint(0, 300))
            while t <= silent_after:
                online = 0 if (c == "xh-b" and t > NOW - timedelta(minutes=25)) else 1
                f = {
                    "online": online,
                    "uptime_s": (t - first).total_seconds(),
                    "outbox": rng.randint(0, 40),
                }
                f |= {
                    "disk_free_mb": round(rng.uniform(100, 3000), 1),
                    "synced": rng.choice([0, 1, 1]),
                }
                out.append(
                    Rec(
                        "device_status",
                        {"site": c, "device": device},
                        _typed("device_status", f),
                        t,
                    )
                )
                t += timedelta(minutes=10)
        for n in range(rng.randint(1, 4)):
            code = rng.choice(["power_cycle", "wrap", "frame_gap", "clock_step", "reconnected"])
            t = NOW - timedelta(hours=rng.randint(1, 20), minutes=n)
            out.append(
                Rec(
                    "device_notice",
                    {"site": c, "device": "dc-kids", "code": code},
                    {"count": 1, "seq": n},
                    t,
                )
            )


#: Spaces with a health kiosk: the health station and the elderly canteen.
KIOSK_SPACES = (SPACES[2], SPACES[5])
#: What one measurement at a kiosk takes (a cuff gives three readings).
MEASURES = (
    ("systolic_bp", "diastolic_bp", "heart_rate"),
    ("spo2", "heart_rate"),
    ("body_temperature",),
    ("body_weight",),
    ("blood_glucose",),
)


def _kiosk_hour(rng: random.Random) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """One hour's sessions at a space, counted as the server counts them: distinct members,
    consented and crisis sessions; per reading type readings, evaluated (consent) and
    outside the reference range (evaluated only; never for types without a range). As the
    server writes them (small counts are not published): an hour with fewer than
    KIOSK_MIN_SESSIONS sessions carries ``sessions`` and ``members`` only, a type with fewer
    than KIOSK_MIN_EVALUATED evaluated readings in the hour ``readings`` only."""
    members, session = set(), {"sessions": 0, "consented": 0, "crisis": 0}
    readings: dict[str, dict[str, float]] = {}
    for _ in range(rng.randint(1, 6)):
        members.add(rng.randint(1, 8))
        consent = rng.random() < 0.75
        session["sessions"] += 1
        session["consented"] += consent
        session["crisis"] += rng.random() < 0.08
        for kind in rng.sample(MEASURES, rng.randint(1, 3)):
            for t in kind:
                r = readings.setdefault(t, {"readings": 0, "evaluated": 0, "outside_reference": 0})
                r["readings"] += 1
                r["evaluated"] += consent
                r["outside_reference"] += (
                    consent and QUANTITIES[t].reference is not None and rng.random() < 0.3
                )
    for r in readings.values():
        if r["evaluated"] < KIOSK_MIN_EVALUATED:
            del r["evaluated"], r["outside_reference"]
        else:
            r["outside_reference_pct"] = round(100 * r["outside_reference"] / r["evaluated"], 3)
    if session["sessions"] < KIOSK_MIN_SESSIONS:
        del session["consented"], session["crisis"]
    return session | {"members": len(members)}, readings


def _kiosks(rng: random.Random, out: list[Rec]) -> None:
    """The server's hourly kiosk aggregates: a point per space and local hour with
    sessions (time: the hour's start), one per reading type taken in that hour."""
    for s in KIOSK_SPACES:
        tags = {"district": s.district, "street": s.street, "complex": s.complex}
        tags |= {"space": s.code, "space_type": s.type}
        for day in range(DAYS):
            for h in range(7, 20):
                t = START + timedelta(days=day, hours=h)
                if t > NOW or _closed(s, day) or rng.random() < 0.3:
                    continue
                session, readings = _kiosk_hour(rng)
                out.append(
                    Rec("kiosk_sessions_hourly", tags, _typed("kiosk_sessions_hourly", session), t)
                )
                for kind, fields in sorted(readings.items()):
                    out.append(
                        Rec(
                            "kiosk_readings_hourly",
                            tags | {"reading_type": kind},
                            _typed("kiosk_readings_hourly", fields),
                            t,
                        )
                    )


def build(seed: int = 8) -> list[Rec]:
    """Every record of the world (same seed, same world)."""
    rng = random.Random(seed)
    out: list[Rec] = []
    for part in (_door, _aggregates, _compliance, _terminals, _devices, _kiosks):
        part(rng, out)
    return out


def line_protocol(records: list[Rec]) -> bytes:
    """The records as the gateway writes them: ``make_point`` then ``to_body`` (ns)."""
    points = [make_point(r.m, r.tags, r.fields, r.ns) for r in records]
    return to_body(points)
