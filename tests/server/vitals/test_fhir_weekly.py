"""Rights and follow-up lists: the FHIR export of one member (validated by fhir.resources,
LOINC and UCUM as expected) and the weekly list of repeated out-of-range readings."""

from __future__ import annotations

from datetime import UTC, datetime

from facility_server.models import Complex
from facility_server.vitals.weekly import Row, repeated, weekly_list
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy.orm import Session, sessionmaker

from ..conftest import FakeClock
from .helpers import Feed, card_pseudonym, example, local, member, reading_event

API = "/api/v1/vitals"


def test_fhir_bundle_of_a_member(
    client: TestClient, world, factory: sessionmaker[Session], clock: FakeClock
) -> None:  # type: ignore[no-untyped-def]
    """The export is an R4B collection Bundle that fhir.resources validates: one BP panel
    85354-9 with systolic/diastolic components in mm[Hg], and one Observation per other
    reading with its LOINC code, UCUM unit, value and UTC effectiveDateTime."""
    with factory() as s:
        cx = s.get_one(Complex, world.complexes["a"])
        mid, alice = member(s, cx, "3301", "王阿姨", local(2026, 6, 1, 9))
        s.commit()
    feed = Feed(factory, clock.now)
    feed.send(
        reading_event(
            alice,
            local(2026, 6, 2, 9, 0),
            [("systolic_bp", 152.0), ("diastolic_bp", 94.0), ("heart_rate", 76.0)],
        )
    )
    feed.send(
        reading_event(
            alice,
            local(2026, 6, 2, 9, 30),
            [("spo2", 96.0), ("body_temperature", 36.8), ("body_weight", 61.5)],
        )
    )
    feed.send(reading_event(alice, local(2026, 6, 2, 9, 45), [("blood_glucose", 6.2)]))
    r = client.get(
        f"{API}/members/{mid}/fhir?purpose=member_request", headers=world.auth("clinician_a")
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate_json(r.content)
    assert bundle.type == "collection"
    got = {}
    for entry in bundle.entry:
        obs = entry.resource
        code = obs.code.coding[0]
        assert code.system == "http://loinc.org"
        assert obs.subject.display == "王阿姨"
        when = obs.effectiveDateTime.astimezone(UTC)
        if obs.component:
            got[code.code] = [
                (c.code.coding[0].code, float(c.valueQuantity.value), c.valueQuantity.code)
                for c in obs.component
            ] + [when]
        else:
            q = obs.valueQuantity
            assert q.system == "http://unitsofmeasure.org"
            got[code.code] = (float(q.value), q.code, obs.category[0].coding[0].code, when)
    t9 = datetime(2026, 6, 2, 1, 0, tzinfo=UTC)
    t930 = datetime(2026, 6, 2, 1, 30, tzinfo=UTC)
    assert got == {
        "85354-9": [("8480-6", 152.0, "mm[Hg]"), ("8462-4", 94.0, "mm[Hg]"), t9],
        "8867-4": (76.0, "/min", "vital-signs", t9),
        "59408-5": (96.0, "%", "vital-signs", t930),
        "8310-5": (36.8, "Cel", "vital-signs", t930),
        "29463-7": (61.5, "kg", "vital-signs", t930),
        "15074-8": (6.2, "mmol/L", "laboratory", datetime(2026, 6, 2, 1, 45, tzinfo=UTC)),
    }
    assert "m1-" not in r.text


def test_repeated_counts_occasions_not_readings() -> None:
    """Pure rule: two high readings of one session are one occasion; two sessions with an
    out-of-range reading list the member; normal and no-reference readings do not count."""
    t = datetime(2026, 6, 2, tzinfo=UTC)
    rows = [
        Row(1, 10, "systolic_bp", "high", t),
        Row(1, 10, "diastolic_bp", "high", t),
        Row(2, 20, "spo2", "low", t),
        Row(2, 21, "heart_rate", "normal", t),
        Row(2, 22, "body_weight", "no_reference", t),
        Row(3, 30, "spo2", "crisis_low", t),
        Row(3, 31, "systolic_bp", "high", t),
    ]
    assert [(x["member_id"], x["occasions"], x["readings"]) for x in repeated(rows)] == [(3, 2, 2)]


def test_weekly_list_uses_local_iso_weeks(factory: sessionmaker[Session]) -> None:
    """Sunday 23:30 local belongs to the ending week (ISO 2026-W23), Monday 00:30 to the
    next: a member high on Monday and Sunday night is listed for W23 only."""
    with factory() as s:
        cx = example(s)
        mid, alice = member(s, cx, "3301", "王阿姨", local(2026, 5, 1))
        s.commit()
    feed = Feed(factory, local(2026, 6, 8, 1))
    high = [("systolic_bp", 150.0)]
    feed.send(reading_event(alice, local(2026, 6, 1, 9), high))  # Monday of W23
    feed.send(reading_event(alice, local(2026, 6, 7, 23, 30), high))  # Sunday of W23
    feed.send(reading_event(alice, local(2026, 6, 8, 0, 30), high))  # Monday of W24
    feed.send(reading_event(card_pseudonym("9999 0009"), local(2026, 6, 2, 9), high))  # no consent
    with factory() as s:
        cx = s.get_one(Complex, cx.id)
        w23 = weekly_list(s, cx, "2026-W23")
        assert [(m["member_id"], m["occasions"], m["display_name"]) for m in w23["members"]] == [
            (mid, 2, "王阿姨")
        ]
        assert weekly_list(s, cx, "2026-W24")["members"] == []
