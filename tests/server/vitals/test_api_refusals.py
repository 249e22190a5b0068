"""Refusals on the health-kiosk API: audited as denied, worded for what was tried, never
repeating a value sent; a crisis cannot be silenced through /alerts; erasure only on the
member's request."""

from __future__ import annotations

import json

import pytest
from facility_server.models import Alert, AuditEntry, Complex, Member
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..conftest import FakeClock
from .helpers import Feed, card_pseudonym, local, member, reading_event

API = "/api/v1/vitals"


@pytest.fixture
def crisis(world, factory: sessionmaker[Session], clock: FakeClock) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """A consented member of complex a, and a crisis (SpO2 86 %) of a stranger there."""
    with factory() as s:
        cx = s.get_one(Complex, world.complexes["a"])
        mid, _ = member(s, cx, "3301 0600 1234", "王阿姨", local(2026, 6, 1, 9))
        s.commit()
    stranger = card_pseudonym("5555 6666")
    Feed(factory, clock.now).send(
        reading_event(
            stranger, local(2026, 6, 2, 9, 30), [("spo2", 86.0)], event_id="evt-stranger-01"
        )
    )
    with factory() as s:
        return {"member": mid, "alert": s.scalars(select(Alert.id)).one()}


def _denied(factory: sessionmaker[Session]) -> list[tuple[str, str, str, int]]:
    with factory() as s:
        return [
            (e.actor, e.action, e.target, e.detail["status"])
            for e in s.scalars(select(AuditEntry).where(AuditEntry.outcome == "denied"))
        ]


def test_refused_reads_and_writes_are_audited_as_denied(
    client: TestClient, world, crisis: dict[str, int], factory: sessionmaker[Session]
) -> None:  # type: ignore[no-untyped-def]
    """The inspector's enrolment, consent and member list, the manager's erasure and crisis
    acknowledgement (403), and the clinician's reads without or with a wrong purpose (422)
    each leave one denied entry naming action, target and status; messages say what the
    role may not do."""
    a, mid, alert = world.complexes["a"], crisis["member"], crisis["alert"]
    body = {"pseudonym": card_pseudonym("7777 8888"), "display_name": "李伯伯"}
    r = client.post(
        f"{API}/complexes/{a}/members", json=body, headers=world.auth("street_inspector")
    )
    assert (r.status_code, r.json()["detail"]) == (403, "inspector may not create members")
    calls = [
        ("street_inspector", "POST", f"{API}/members/{mid}/consents", {"evidence": "HF-9"}),
        ("street_inspector", "GET", f"{API}/complexes/{a}/members", None),
        ("manager_a", "DELETE", f"{API}/members/{mid}?purpose=member_request", None),
        ("manager_a", "POST", f"{API}/crises/{alert}/acknowledge", None),
        ("clinician_a", "GET", f"{API}/members/{mid}/readings", None),
        ("clinician_a", "GET", f"{API}/crises/{alert}?purpose=curiosity", None),
    ]
    codes = [
        client.request(m, url, json=b, headers=world.auth(who)).status_code
        for who, m, url, b in calls
    ]
    assert codes == [403, 403, 403, 403, 422, 422]
    assert sorted(_denied(factory)) == sorted(
        [
            ("street_inspector", "vital_member.enrol", f"complex:{a}", 403),
            ("street_inspector", "vital_consent.record", f"vital_member:{mid}", 403),
            ("street_inspector", "vital_member.list", f"complex:{a}", 403),
            ("manager_a", "vital_member.erase", f"vital_member:{mid}", 403),
            ("manager_a", "alert.acknowledge", f"alert:{alert}", 403),
            ("clinician_a", "vital_reading.read", f"vital_member:{mid}", 422),
            ("clinician_a", "vital_reading.read", f"alert:{alert}", 422),
        ]
    )


def test_erasure_only_on_the_members_request_and_once(
    client: TestClient, world, crisis: dict[str, int], factory: sessionmaker[Session]
) -> None:  # type: ignore[no-untyped-def]
    """DELETE with purpose care_review is 422 naming the allowed purpose and erases nothing;
    member_request erases; a second erasure is 404 "member not found"."""
    url, auth = f"{API}/members/{crisis['member']}", world.auth("clinician_a")
    wrong = client.delete(f"{url}?purpose=care_review", headers=auth)
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["field"] == "purpose"
    assert "member_request" in wrong.json()["detail"][0]["msg"]
    with factory() as s:
        assert s.get(Member, crisis["member"]) is not None
    assert client.delete(f"{url}?purpose=member_request", headers=auth).status_code == 200
    again = client.delete(f"{url}?purpose=member_request", headers=auth)
    assert (again.status_code, again.json()["detail"]) == (404, "member not found")


def test_crisis_cannot_be_acknowledged_through_alerts(
    client: TestClient, world, crisis: dict[str, int], factory: sessionmaker[Session]
) -> None:  # type: ignore[no-untyped-def]
    """The manager's POST /alerts/{id}/acknowledge on a vital_crisis is 403 pointing to the
    clinician's route; the alert stays open (it keeps escalating); the clinician's second
    acknowledgement says "an acknowledged alert"."""
    alert = crisis["alert"]
    r = client.post(f"/api/v1/alerts/{alert}/acknowledge", headers=world.auth("manager_a"))
    assert r.status_code == 403
    assert f"/api/v1/vitals/crises/{alert}/acknowledge" in r.json()["detail"]
    with factory() as s:
        assert s.get_one(Alert, alert).state == "open"
    assert ("manager_a", "alert.acknowledge", f"alert:{alert}", 403) in _denied(factory)
    auth = world.auth("clinician_a")
    assert client.post(f"{API}/crises/{alert}/acknowledge", headers=auth).status_code == 200
    again = client.post(f"{API}/crises/{alert}/acknowledge", headers=auth)
    assert again.status_code == 409
    assert again.json()["detail"] == [
        {
            "type": "conflict",
            "loc": ["state"],
            "field": "state",
            "msg": "cannot acknowledge an acknowledged alert",
            "value": "acknowledged",
        }
    ]


def test_unidentified_crisis_shows_directions_to_the_clinician_only(
    client: TestClient, world, crisis: dict[str, int]
) -> None:  # type: ignore[no-untyped-def]
    """The clinician's crisis view says unidentified, SpO2 low, no values; /alerts shows
    staff and inspectors no sign of whether the person had consented."""
    alert = crisis["alert"]
    got = client.get(
        f"{API}/crises/{alert}?purpose=crisis_follow_up", headers=world.auth("clinician_a")
    ).json()
    assert (got["identified"], got["member"], got["readings"]) == (False, None, [])
    assert got["crisis_readings"] == [{"type": "spo2", "direction": "low"}]
    for role in ("staff_a", "street_inspector", "manager_a"):
        seen = client.get(f"/api/v1/alerts/{alert}", headers=world.auth(role)).json()
        assert "identified" not in seen["detail"], role
        assert "86" not in json.dumps(seen), role


def test_validation_errors_do_not_repeat_what_was_typed(
    client: TestClient, world, crisis: dict[str, int]
) -> None:  # type: ignore[no-untyped-def]
    """A card number typed as a pseudonym and a free-text note as a resolution are refused
    naming the field, without their values; a query value (the week) is still shown."""
    a, auth = world.complexes["a"], world.auth("clinician_a")
    card = client.post(
        f"{API}/complexes/{a}/members",
        json={"pseudonym": "3301 0600 0009", "display_name": "王阿姨"},
        headers=auth,
    )
    assert card.status_code == 422 and card.json()["detail"][0]["field"] == "pseudonym"
    assert "3301" not in card.text
    note = client.post(
        f"{API}/crises/{crisis['alert']}/resolve",
        json={"resolution": "王阿姨 BP 187/113"},
        headers=auth,
    )
    assert note.status_code == 422 and note.json()["detail"][0]["field"] == "resolution"
    assert "王阿姨" not in note.text and "187" not in note.text
    week = client.get(
        f"{API}/complexes/{a}/elevated?week=2026-23&purpose=care_review", headers=auth
    )
    assert week.status_code == 422 and week.json()["detail"][0]["value"] == "2026-23"
