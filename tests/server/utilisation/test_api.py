"""The issue-6 API: utilisation, scorecard, satisfaction and the rectification lifecycle
open -> fixed -> verified, role-scoped like the rest (out of scope 404, not allowed 403)."""

from __future__ import annotations

from datetime import date

from facility_server.models import Space
from facility_server.utilisation.refresh import refresh_days
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .helpers import add_crossings, add_votes, local

BAD = {"very_satisfied": 3, "satisfied": 4, "dissatisfied": 5, "very_dissatisfied": 2}


def _space(session: Session, complex_id: int, code: str) -> Space:
    return session.scalars(
        select(Space).where(Space.complex_id == complex_id, Space.code == code)
    ).one()


def _votes(factory: sessionmaker[Session], world) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with factory() as session:
        a = _space(session, world.complexes["a"], "health")
        b = _space(session, world.complexes["b"], "health")
        for space in (a, b):
            add_votes(session, space, local(2026, 5, 20, 10), BAD)
        session.commit()
        return a.complex_id, b.complex_id


def test_rectification_lifecycle_is_role_scoped(client: TestClient, factory, world) -> None:  # type: ignore[no-untyped-def]
    """Manager opens and fixes; manager and staff cannot verify; the inspector verifies;
    another district's item is invisible to the manager (404)."""
    a, b = _votes(factory, world)
    url = f"/api/v1/complexes/{a}/rectifications/evaluate?period=2026H1"
    assert client.post(url, headers=world.auth("staff_a")).status_code == 403
    (item,) = client.post(url, headers=world.auth("manager_a")).json()
    assert (item["state"], item["votes"], item["rate_pct"]) == ("open", 14, 50.0)
    (other,) = client.post(
        f"/api/v1/complexes/{b}/rectifications/evaluate?period=2026H1", headers=world.auth("admin")
    ).json()
    assert (
        client.get(
            f"/api/v1/rectifications/{other['id']}", headers=world.auth("manager_a")
        ).status_code
        == 404
    )
    fix = f"/api/v1/rectifications/{item['id']}/fix"
    assert client.post(fix, json={"note": "x"}, headers=world.auth("staff_a")).status_code == 403
    fixed = client.post(fix, json={"note": "新增周末号源"}, headers=world.auth("manager_a"))
    assert fixed.json()["state"] == "fixed"
    assert (
        client.post(fix, json={"note": "again"}, headers=world.auth("manager_a")).status_code == 409
    )
    verify = f"/api/v1/rectifications/{item['id']}/verify"
    assert (
        client.post(verify, json={"accepted": True}, headers=world.auth("manager_a")).status_code
        == 403
    )
    done = client.post(
        verify,
        json={"accepted": True, "note": "回访满意"},
        headers=world.auth("district_inspector"),
    )
    assert (done.status_code, done.json()["state"]) == (200, "verified")
    listed = client.get("/api/v1/rectifications?state=verified", headers=world.auth("manager_a"))
    assert [i["id"] for i in listed.json()["items"]] == [item["id"]]


def test_satisfaction_rates_per_service(client: TestClient, factory, world) -> None:  # type: ignore[no-untyped-def]
    """(very satisfied + satisfied) / all votes per service, flagged under 80%."""
    a, _ = _votes(factory, world)
    body = client.get(
        f"/api/v1/complexes/{a}/satisfaction?period=2026-05", headers=world.auth("staff_a")
    ).json()
    (health,) = body["services"]
    assert (health["votes"], health["rate_pct"], health["under_80"]) == (14, 50.0, True)
    assert (
        client.get(
            f"/api/v1/complexes/{a}/satisfaction?period=2026-13", headers=world.auth("staff_a")
        ).status_code
        == 422
    )


def test_utilisation_and_scorecard_routes(client: TestClient, factory, world) -> None:  # type: ignore[no-untyped-def]
    """A space's day figures, the complex summary and its scorecard over the API."""
    with factory() as session:
        culture = _space(session, world.complexes["a"], "culture")
        add_crossings(
            session, culture, [(local(2026, 6, 2, 10), 4, 0), (local(2026, 6, 2, 11), 0, 4)]
        )
        refresh_days(session, local(2026, 6, 3), date(2026, 6, 1), date(2026, 6, 2))
        session.commit()
        cid = culture.id
    h = world.auth("manager_a")
    days = client.get(
        f"/api/v1/spaces/{cid}/utilisation?start=2026-06-01&end=2026-06-03", headers=h
    ).json()["periods"]
    assert [(d["key"], d["visits"], d["occupied_h"]) for d in days] == [
        ("2026-06-01", 0, 0.0),
        ("2026-06-02", 4, 1.0),
    ]
    week = client.get(
        f"/api/v1/spaces/{cid}/utilisation?start=2026-06-01&end=2026-06-08&grain=week", headers=h
    ).json()["periods"]
    assert [(w["key"], w["visits"]) for w in week] == [("2026-W23", 4)]
    a = world.complexes["a"]
    summary = client.get(
        f"/api/v1/complexes/{a}/utilisation?start=2026-06-01&end=2026-06-03", headers=h
    ).json()
    assert {s["space"]: s["visits"] for s in summary["spaces"]}["culture"] == 4
    card = client.get(f"/api/v1/complexes/{a}/scorecard?period=2026H1", headers=h).json()
    assert len(card["clauses"]) == 10
    street = world.regions["xihu/beishan"]
    assert (
        client.get(f"/api/v1/regions/{street}/scorecard?period=2026H1", headers=h).status_code
        == 403
    )  # managers may not read regions
    rolled = client.get(
        f"/api/v1/regions/{street}/scorecard?period=2026H1", headers=world.auth("street_inspector")
    ).json()
    assert [c["complex"]["site"] for c in rolled["complexes"]] == ["xihu-beishan-shuguang"]
