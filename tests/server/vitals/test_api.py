"""Health-kiosk API: only clinicians read values (scoped, audited with a purpose);
managers and inspectors get counts; consent recorded by clinician or manager."""

from __future__ import annotations

import json

import pytest
from facility_server.models import Alert, AuditEntry, Complex
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..conftest import FakeClock
from .helpers import Feed, card_pseudonym, local, member, reading_event

API = "/api/v1/vitals"
ROLES = (
    "admin",
    "district_inspector",
    "street_inspector",
    "manager_a",
    "staff_a",
    "clinician_a",
    "gateway",
    "device_a",
)
CRISIS = [("systolic_bp", 187.0), ("diastolic_bp", 113.0)]


@pytest.fixture
def kiosk(world, factory: sessionmaker[Session], clock: FakeClock) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Members in complexes a and b with consent, a morning of readings in a (one crisis)."""
    ids = {}
    with factory() as s:
        for key in ("a", "b"):
            cx = s.get(Complex, world.complexes[key])
            assert cx is not None
            ids[key], _ = member(s, cx, f"3301 {key}", f"王阿姨{key}", local(2026, 6, 1, 9))
        s.commit()
    alice = card_pseudonym("3301 a")
    feed = Feed(factory, clock.now)
    feed.send(reading_event(alice, local(2026, 6, 2, 9, 0), [("spo2", 96.0)]))
    feed.send(reading_event(alice, local(2026, 6, 2, 9, 30), CRISIS, event_id="evt-crisis-1"))
    with factory() as s:
        ids["alert"] = s.scalars(select(Alert.id)).one()
    return ids


def _requests(world, ids: dict[str, int]) -> dict[str, tuple[str, str, dict | None]]:  # type: ignore[no-untyped-def]
    a, b = world.complexes["a"], world.complexes["b"]
    p = "purpose=care_review"
    return {
        "usage a": ("GET", f"{API}/complexes/{a}/usage?start=2026-06-02&end=2026-06-03", None),
        "usage b": ("GET", f"{API}/complexes/{b}/usage?start=2026-06-02&end=2026-06-03", None),
        "readings a": ("GET", f"{API}/members/{ids['a']}/readings?{p}", None),
        "readings b": ("GET", f"{API}/members/{ids['b']}/readings?{p}", None),
        "fhir a": ("GET", f"{API}/members/{ids['a']}/fhir?{p}", None),
        "weekly a": ("GET", f"{API}/complexes/{a}/elevated?week=2026-W23&{p}", None),
        "crisis a": ("GET", f"{API}/crises/{ids['alert']}?purpose=crisis_follow_up", None),
        "member a": ("GET", f"{API}/members/{ids['a']}", None),
        "member b": ("GET", f"{API}/members/{ids['b']}", None),
    }


# Written by hand from the rules: counts for every person role in scope (machines 403);
# values for the clinician only (others 403, out of scope 404); the member register for
# clinician and manager.
MATRIX = {
    #                    usage a/b  readings a/b fhir weekly crisis member a/b
    "admin": "200 200 403 403 403 403 403 403 403",
    "district_inspector": "200 404 403 403 403 403 403 403 403",
    "street_inspector": "200 404 403 403 403 403 403 403 403",
    "manager_a": "200 404 403 403 403 403 403 200 404",
    "staff_a": "200 404 403 403 403 403 403 403 403",
    "clinician_a": "200 404 200 404 200 200 200 200 404",
    "gateway": "403 403 403 403 403 403 403 403 403",
    "device_a": "403 403 403 403 403 403 403 403 403",
}


def test_role_matrix(client: TestClient, world, kiosk: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    """Every role gets exactly the status codes of MATRIX."""
    wrong = []
    requests = _requests(world, kiosk)
    for role in ROLES:
        for (name, (method, url, body)), code in zip(
            requests.items(), MATRIX[role].split(), strict=True
        ):
            got = client.request(method, url, json=body, headers=world.auth(role)).status_code
            if got != int(code):
                wrong.append(f"{role} {name}: got {got}, expected {code}")
    assert not wrong, "\n".join(wrong)


def test_counts_carry_no_values_and_values_are_audited_with_purpose(
    client: TestClient, world, kiosk: dict[str, int], factory: sessionmaker[Session]
) -> None:  # type: ignore[no-untyped-def]
    """The manager's usage holds counts only; the clinician's read returns the values and
    leaves an audit entry with the purpose; a refused read is audited as denied; the audit
    log never holds a value, a name or a pseudonym."""
    a = world.complexes["a"]
    usage = client.get(
        f"{API}/complexes/{a}/usage?start=2026-06-02&end=2026-06-03",
        headers=world.auth("manager_a"),
    ).json()
    assert usage["totals"] == {"sessions": 2, "member_hours": 1, "consented": 2, "crisis": 1}
    assert usage["readings"]["systolic_bp"] == {
        "readings": 1,
        "evaluated": 1,
        "outside_reference": 1,
        "outside_reference_pct": 100.0,
    }
    assert usage["crisis_alerts"]["open"] == 1
    text = json.dumps(usage, ensure_ascii=False)
    assert "187" not in text and "王阿姨" not in text and "m1-" not in text
    r = client.get(
        f"{API}/members/{kiosk['a']}/readings?purpose=care_review",
        headers=world.auth("clinician_a"),
    )
    assert sorted((x["type"], x["value"], x["flag"]) for x in r.json()["items"]) == [
        ("diastolic_bp", 113.0, "crisis_high"),
        ("spo2", 96.0, "normal"),
        ("systolic_bp", 187.0, "crisis_high"),
    ]
    crisis = client.get(
        f"{API}/crises/{kiosk['alert']}?purpose=crisis_follow_up", headers=world.auth("clinician_a")
    ).json()
    assert crisis["member"]["display_name"] == "王阿姨a" and len(crisis["readings"]) == 2
    assert (
        client.get(
            f"{API}/members/{kiosk['a']}/readings", headers=world.auth("clinician_a")
        ).status_code
        == 422
    )
    assert (
        client.get(
            f"{API}/members/{kiosk['a']}/readings?purpose=curiosity",
            headers=world.auth("clinician_a"),
        ).status_code
        == 422
    )
    client.get(
        f"{API}/members/{kiosk['a']}/readings?purpose=care_review", headers=world.auth("manager_a")
    )
    with factory() as s:
        entries = s.scalars(
            select(AuditEntry).where(AuditEntry.action.like("vital_reading.%"))
        ).all()
        seen = [(e.actor, e.action, e.target, e.outcome, e.detail.get("purpose")) for e in entries]
        dump = json.dumps(
            [[e.actor, e.action, e.target, e.detail] for e in s.scalars(select(AuditEntry))],
            ensure_ascii=False,
        )
    target = f"vital_member:{kiosk['a']}"
    assert ("clinician_a", "vital_reading.read", target, "ok", "care_review") in seen
    assert (
        "clinician_a",
        "vital_reading.read",
        f"alert:{kiosk['alert']}",
        "ok",
        "crisis_follow_up",
    ) in seen
    assert ("manager_a", "vital_reading.read", target, "denied", None) in seen
    for secret in ("187", "113", "96.0", "王阿姨", "m1-"):
        assert secret not in dump, secret


def test_manager_enrols_and_records_consent_clinician_erases(
    client: TestClient, world, kiosk: dict[str, int]
) -> None:  # type: ignore[no-untyped-def]
    """The manager enrols a member and records a consent (audited); a second enrolment of
    the pseudonym is 409; a future granted_at is 422; withdrawal works once; only the
    clinician erases."""
    a = world.complexes["a"]
    pseudonym = card_pseudonym("7777 8888")
    body = {"pseudonym": pseudonym, "display_name": "李伯伯"}
    r = client.post(f"{API}/complexes/{a}/members", json=body, headers=world.auth("manager_a"))
    assert r.status_code == 201 and "pseudonym" not in r.json()
    mid = r.json()["id"]
    again = client.post(
        f"{API}/complexes/{a}/members", json=body, headers=world.auth("clinician_a")
    )
    assert again.status_code == 409
    assert again.json()["detail"] == [
        {
            "type": "conflict",
            "loc": ["body", "pseudonym"],
            "field": "pseudonym",
            "msg": f"pseudonym already enrolled as member {mid}",
            "value": "***",
            "member_id": mid,
        }
    ]
    consent = {"evidence": "HF-2026-0153", "granted_at": "2026-06-02T09:00:00+08:00"}
    c = client.post(f"{API}/members/{mid}/consents", json=consent, headers=world.auth("manager_a"))
    assert c.status_code == 201 and c.json()["recorded_by"] == "manager_a"
    future = {"evidence": "x", "granted_at": "2026-06-03T09:00:00+08:00"}
    assert (
        client.post(
            f"{API}/members/{mid}/consents", json=future, headers=world.auth("clinician_a")
        ).status_code
        == 422
    )
    url = f"{API}/members/{mid}/consents/{c.json()['id']}/withdraw"
    assert client.post(url, headers=world.auth("manager_a")).status_code == 200
    twice = client.post(url, headers=world.auth("manager_a"))
    assert twice.status_code == 409
    assert [(e["type"], e["loc"], e["field"]) for e in twice.json()["detail"]] == [
        ("conflict", ["withdrawn_at"], "withdrawn_at")
    ]
    assert (
        client.get(f"{API}/members/{mid}", headers=world.auth("manager_a")).json()["consented"]
        is False
    )
    erase = f"{API}/members/{mid}?purpose=member_request"
    assert client.delete(erase, headers=world.auth("manager_a")).status_code == 403
    assert client.delete(erase, headers=world.auth("clinician_a")).status_code == 200
    assert client.get(f"{API}/members/{mid}", headers=world.auth("clinician_a")).status_code == 404


def test_clinician_acknowledges_and_resolves_a_crisis(
    client: TestClient, world, kiosk: dict[str, int]
) -> None:  # type: ignore[no-untyped-def]
    """The clinician lists open crises, acknowledges and resolves one with a fixed outcome
    (no free text); the manager may not use these endpoints."""
    auth = world.auth("clinician_a")
    listed = client.get(f"{API}/crises?state=open", headers=auth).json()
    assert [x["id"] for x in listed["items"]] == [kiosk["alert"]]
    url = f"{API}/crises/{kiosk['alert']}"
    assert client.post(f"{url}/acknowledge", headers=world.auth("manager_a")).status_code == 403
    assert client.post(f"{url}/acknowledge", headers=auth).json()["state"] == "acknowledged"
    bad = client.post(f"{url}/resolve", json={"resolution": "BP 187/113"}, headers=auth)
    assert bad.status_code == 422
    done = client.post(f"{url}/resolve", json={"resolution": "referred"}, headers=auth)
    assert (done.json()["state"], done.json()["resolution"]) == ("resolved", "referred")
