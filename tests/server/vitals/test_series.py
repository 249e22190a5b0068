"""Aggregates in the time-series store: a day of kiosk traffic, counted independently here,
equals what the runner writes to a real VictoriaMetrics; no point carries a member
reference or a reading value."""

from __future__ import annotations

import json
import random
import urllib.parse
import urllib.request
from collections import defaultdict

import pytest
from facility_contracts.schema import KIOSK_MIN_EVALUATED, MEASUREMENTS
from facility_gateway.influx import InfluxWriter
from facility_server.models import UsageHour
from facility_server.vitals.runner import VitalsRunner
from facility_server.vitals.series import points_for, sessions_fields
from sqlalchemy.orm import Session, sessionmaker

from ..conftest import FakeClock
from .helpers import Feed, card_pseudonym, example, kiosk_device, local, member, ms, reading_event

# Sessions with their out-of-range types and crisis, flags decided by hand from the
# reference and crisis ranges (BP 90-139/60-89, crisis >= 180/110; HR 60-100; SpO2 >= 95,
# crisis < 90; temperature 36.0-37.3; weight none; glucose 3.9-11.0).
PROFILES = [
    ([("systolic_bp", 118.0), ("diastolic_bp", 76.0), ("heart_rate", 68.0)], set(), False),
    (
        [("systolic_bp", 150.0), ("diastolic_bp", 95.0), ("heart_rate", 80.0)],
        {"systolic_bp", "diastolic_bp"},
        False,
    ),
    (
        [("systolic_bp", 185.0), ("diastolic_bp", 112.0), ("heart_rate", 90.0)],
        {"systolic_bp", "diastolic_bp"},
        True,
    ),
    ([("spo2", 97.0)], set(), False),
    ([("spo2", 88.0)], {"spo2"}, True),
    ([("body_temperature", 37.9)], {"body_temperature"}, False),
    ([("body_weight", 63.5)], set(), False),
    ([("blood_glucose", 5.4), ("heart_rate", 105.0)], {"heart_rate"}, False),
]
CARDS = ["1001", "1002", "1003", "1004", "2001", "2002"]
NAMES = ["王阿姨", "李伯伯", "张奶奶", "赵爷爷", "", ""]
KIOSKS = {"elderly-care": "hk-elderly-care", "health": "hk-health"}
FULL_SESSIONS = ("sessions", "members", "consented", "crisis")


def _traffic(factory: sessionmaker[Session], site: str) -> tuple[list[tuple], list[str]]:
    """Enrol 4 members (3 consented the day before, 1 at noon), 2 strangers; feed a day of
    sessions at two kiosks. Returns the sessions (space, time, card index, profile) sent."""
    with factory() as s:
        cx = example(s, site)
        kiosk_device(s, cx, KIOSKS["health"], "health")
        grants = [local(2026, 6, 1, 9)] * 3 + [local(2026, 6, 2, 12)]
        for card, name, grant in zip(CARDS, NAMES, grants, strict=False):
            member(s, cx, card, name, grant)
        s.commit()
    rnd = random.Random(7)
    sent = []
    for hour in range(8, 17):
        for _ in range(rnd.randint(0, 6)):
            space = rnd.choice(list(KIOSKS))
            at = local(2026, 6, 2, hour, rnd.randint(0, 59))
            sent.append((space, at, rnd.randrange(len(CARDS)), rnd.randrange(len(PROFILES))))
    # three consented members measure their blood pressure within one hour: an hour with
    # enough evaluated readings to be published in full
    sent += [("elderly-care", local(2026, 6, 2, 16, 50 + i), i, 1) for i in range(3)]
    feed = Feed(factory, local(2026, 6, 2, 17, 30), site=site)
    for space, at, who, profile in sent:
        event = reading_event(
            card_pseudonym(CARDS[who]), at, PROFILES[profile][0], space=space, kiosk=KIOSKS[space]
        )
        assert feed.send(event)
        assert not feed.send(event)  # a redelivery changes nothing
    return sent, [card_pseudonym(c) for c in CARDS]


def _expected(sent: list[tuple]) -> dict[tuple, float]:
    """(metric, space, reading type, hour ms) -> value, counted here from what was sent."""
    consent_from = {0: local(2026, 6, 1, 9), 1: local(2026, 6, 1, 9), 2: local(2026, 6, 1, 9)}
    consent_from[3] = local(2026, 6, 2, 12)
    out: dict[tuple, float] = defaultdict(int)
    members: dict[tuple, set[int]] = defaultdict(set)
    for space, at, who, profile in sent:
        readings, outside, crisis = PROFILES[profile]
        hour = ms(at.replace(minute=0))
        kept = who in consent_from and at >= consent_from[who]
        out[("kiosk_sessions_hourly_sessions", space, "", hour)] += 1
        out[("kiosk_sessions_hourly_consented", space, "", hour)] += int(kept)
        out[("kiosk_sessions_hourly_crisis", space, "", hour)] += int(crisis)
        members[(space, hour)].add(who)
        for kind, _ in readings:
            key = (space, kind, hour)
            out[("kiosk_readings_hourly_readings", *key)] += 1
            out[("kiosk_readings_hourly_evaluated", *key)] += int(kept)
            out[("kiosk_readings_hourly_outside_reference", *key)] += int(kept and kind in outside)
    for (space, hour), who in members.items():
        out[("kiosk_sessions_hourly_members", space, "", hour)] = len(who)
        if out[("kiosk_sessions_hourly_sessions", space, "", hour)] < 3:
            # one or two sessions: whether they consented or had a crisis is not published
            del out[("kiosk_sessions_hourly_consented", space, "", hour)]
            del out[("kiosk_sessions_hourly_crisis", space, "", hour)]
    for (metric, space, kind, hour), n in list(out.items()):
        if metric != "kiosk_readings_hourly_evaluated":
            continue
        bad = ("kiosk_readings_hourly_outside_reference", space, kind, hour)
        if n < 3:  # small counts are not published: readings only
            del out[(metric, space, kind, hour)], out[bad]
            continue
        out[("kiosk_readings_hourly_outside_reference_pct", space, kind, hour)] = out[bad] * 100 / n
    return dict(out)


def _export(url: str, site: str) -> bytes:
    with urllib.request.urlopen(f"{url}/internal/force_flush", timeout=10):  # noqa: S310
        pass
    start = ms(local(2026, 6, 1)) // 1000
    data = urllib.parse.urlencode(
        {
            "match[]": f'{{__name__=~"kiosk_.*",complex="{site}"}}',
            "start": str(start),
            "end": str(start + 3 * 86400),
        }
    ).encode()
    with urllib.request.urlopen(f"{url}/api/v1/export", data=data, timeout=10) as resp:  # noqa: S310
        return resp.read()


@pytest.mark.integration
def test_runner_writes_exact_aggregates_and_nothing_personal(
    factory: sessionmaker[Session], victoria, site_id: str
) -> None:  # type: ignore[no-untyped-def]
    """After a day of traffic, VictoriaMetrics holds exactly the counts computed here (the
    runner run twice rewrites the same values), pct only where something was evaluated,
    only schema tags, and no pseudonym, name or reading value anywhere."""
    sent, pseudonyms = _traffic(factory, site_id)
    expected = _expected(sent)
    writer = InfluxWriter(victoria.url, bucket="facility", query="victoriametrics")
    clock = FakeClock(local(2026, 6, 2, 18))
    runner = VitalsRunner(factory, clock, retention_days=180, visitor_keep_s=7200, writer=writer)
    runner.run_once()
    runner.run_once()
    writer.close()
    raw = _export(victoria.url, site_id)
    got: dict[tuple, float] = {}
    tags = set(MEASUREMENTS["kiosk_readings_hourly"].tags) | {"db"}
    for line in raw.splitlines():
        row = json.loads(line)
        labels = row["metric"]
        assert set(labels) - {"__name__"} <= tags, labels
        assert (
            labels["space_type"]
            == {"elderly-care": "elderly_care", "health": "health"}[labels["space"]]
        )
        assert (labels["district"], labels["street"]) == ("xihu", "xihu/beishan")
        by_ts = defaultdict(set)
        for value, ts in zip(row["values"], row["timestamps"], strict=True):
            by_ts[ts].add(value)
        for ts, values in by_ts.items():
            assert len(values) == 1  # the rewrite wrote the same value
            key = (labels["__name__"], labels["space"], labels.get("reading_type", ""), ts)
            got[key] = values.pop()
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-3), key
    text = raw.decode()
    for secret in [*pseudonyms, "m1-", *[n for n in NAMES if n]]:
        assert secret not in text
    reading_values = {v for p in PROFILES for _, v in p[0]}
    counts = {v for k, v in got.items() if not k[0].endswith("_pct")}
    assert not counts & reading_values


def test_points_follow_the_schema(factory: sessionmaker[Session], site_id: str) -> None:
    """Every point's tags and field types are those of the schema; an hour with fewer than
    3 sessions carries sessions and members only, the others all four; an hour with fewer
    than 3 evaluated readings of a type carries its readings count only, the others all
    four."""
    sent, _ = _traffic(factory, site_id)
    with factory() as s:
        points = points_for(s, local(2026, 6, 2), local(2026, 6, 3))
    assert len([p for p in points if p.measurement == "kiosk_sessions_hourly"]) == len(
        {(space, ms(at.replace(minute=0))) for space, at, _, _ in sent}
    )
    for p in points:
        spec = MEASUREMENTS[p.measurement]
        assert set(p.tag_dict()) == set(spec.tags)
        for name, value in p.fields:
            assert type(value).__name__ == spec.field(name).type
        f = p.field_dict()
        if p.measurement == "kiosk_sessions_hourly":
            small = f["sessions"] < 3
            assert set(f) == ({"sessions", "members"} if small else set(FULL_SESSIONS)), f
        if p.measurement == "kiosk_readings_hourly":
            full = {"readings", "evaluated", "outside_reference", "outside_reference_pct"}
            assert set(f) in ({"readings"}, full), f
            assert "evaluated" not in f or f["evaluated"] >= KIOSK_MIN_EVALUATED, f
    for m, both in (("kiosk_sessions_hourly", {2, 4}), ("kiosk_readings_hourly", {1, 4})):
        assert {len(p.fields) for p in points if p.measurement == m} == both  # hours of both kinds


def _usage_hour(sessions: int, members: int, consented: int, crisis: int) -> UsageHour:
    return UsageHour(
        complex_id=1,
        space_code="health",
        start_ms=0,
        sessions=sessions,
        members=members,
        consented=consented,
        crisis=crisis,
    )


@pytest.mark.parametrize(
    ("counts", "fields"),
    [
        ((1, 1, 1, 1), [("sessions", 1), ("members", 1)]),
        ((2, 1, 0, 1), [("sessions", 2), ("members", 1)]),
        ((3, 2, 1, 1), [("sessions", 3), ("members", 2), ("consented", 1), ("crisis", 1)]),
        ((7, 5, 0, 0), [("sessions", 7), ("members", 5), ("consented", 0), ("crisis", 0)]),
    ],
)
def test_sessions_fields_leave_out_consent_and_crisis_of_small_hours(
    counts: tuple[int, int, int, int], fields: list[tuple[str, int]]
) -> None:
    """One or two sessions in an hour: sessions and members only (whether that person
    consented or had a crisis reading is not published, not even as a zero); three or more:
    consented and crisis too, zeros included."""
    assert sessions_fields(_usage_hour(*counts)) == fields
