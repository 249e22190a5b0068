"""Compliance API: today's board with states and the check-ins that did them, history
with filters, rules, acknowledge and resolve, contacts; all within the role scopes."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from .conftest import Site, local

API = "/api/v1"


def _morning(factory: sessionmaker[Session]) -> Site:
    """Complex a at 10:00: disinfected 08:40, the 09:00 patrol round not walked."""
    site = Site(factory)
    site.tick(local(2026, 6, 2, 6, 0))
    site.checkin(local(2026, 6, 2, 8, 40), "cp-kids-gate", "disinfection")
    site.tick(local(2026, 6, 2, 9, 31))
    site.heartbeat(local(2026, 6, 2, 9, 59))
    return site


def _rule(board: dict[str, Any], code: str) -> dict[str, Any]:
    return next(r for s in board["spaces"] for r in s["rules"] if r["code"] == code)


def test_board_shows_states_checkins_and_alerts(client: TestClient, world, factory) -> None:  # type: ignore[no-untyped-def]
    """At 10:00: disinfection on time with its check-in, 09:00 round missed with its alert."""
    _morning(factory)
    r = client.get(
        f"{API}/complexes/{world.complexes['a']}/compliance/today", headers=world.auth("staff_a")
    )
    assert r.status_code == 200, r.text
    board = r.json()
    assert (board["local_date"], board["site_id"]) == ("2026-06-02", "xihu-beishan-shuguang")
    [dis] = _rule(board, "kids-disinfection")["occurrences"]
    assert (dis["state"], dis["deadline"]) == ("on_time", "2026-06-02T01:00:00Z")
    assert [(c["checkpoint"], c["staff"], c["device"]) for c in dis["checkins"]] == [
        ("cp-kids-gate", "s003", "ci-kids-play")
    ]
    rounds = {o["key"][-5:]: o for o in _rule(board, "kids-patrol")["occurrences"]}
    assert rounds["09:00"]["state"] == "missed" and rounds["09:00"]["alert_id"] is not None
    assert len(rounds["09:00"]["missing"]) == 4
    assert (rounds["10:00"]["state"], rounds["11:00"]["state"]) == ("due", "pending")
    lecture = _rule(board, "health-lecture")["occurrences"]
    assert [(o["key"], o["state"]) for o in lecture] == [("2026-06", "due")]
    assert board["counts"]["missed"] == 1


def test_board_respects_scopes(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """Out of scope is 404, a role without alert access 403, a naive instant 422."""
    a, b = world.complexes["a"], world.complexes["b"]
    url = f"{API}/complexes/{{}}/compliance/today"
    assert client.get(url.format(b), headers=world.auth("manager_a")).status_code == 404
    assert client.get(url.format(a), headers=world.auth("clinician_a")).status_code == 403
    assert client.get(url.format(b), headers=world.auth("district_inspector")).status_code == 404
    assert (
        client.get(
            url.format(world.complexes["c"]), headers=world.auth("district_inspector")
        ).status_code
        == 200
    )
    naive = client.get(
        url.format(a), params={"at": "2026-06-02T10:00:00"}, headers=world.auth("admin")
    )
    assert naive.status_code == 422


def test_history_filters_and_scope(client: TestClient, world, factory) -> None:  # type: ignore[no-untyped-def]
    """Stored occurrences filter by state and day; other subtrees see none of them."""
    _morning(factory)
    h = world.auth("street_inspector")
    r = client.get(f"{API}/compliance/occurrences", params={"state": "missed"}, headers=h)
    items = r.json()["items"]
    assert [(i["rule"], i["key"], len(i["missing"])) for i in items] == [
        ("kids-patrol", "2026-06-02T09:00", 4)
    ]
    on_time = client.get(
        f"{API}/compliance/occurrences",
        params={"state": "on_time", "day_from": "2026-06-02", "day_to": "2026-06-02"},
        headers=h,
    ).json()["items"]
    assert [(i["rule"], i["checkins"][0]["checkpoint"]) for i in on_time] == [
        ("kids-disinfection", "cp-kids-gate")
    ]
    excused = client.get(
        f"{API}/compliance/occurrences", params={"day_to": "2026-06-01"}, headers=h
    )
    assert {i["reason"] for i in excused.json()["items"]} == {"closed_day"}  # Monday
    other = client.get(
        f"{API}/compliance/occurrences", params={"complex_id": world.complexes["a"]},
        headers=world.auth("manager_a"),
    ).json()["total"]  # fmt: skip
    assert other > 0
    b_only = {"complex_id": world.complexes["b"]}
    assert (
        client.get(f"{API}/compliance/occurrences", params=b_only, headers=h).json()["total"] == 0
    )


def test_rules_are_listed_in_scope(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """The example's six rules per complex; the street inspector sees complex a's only."""
    r = client.get(f"{API}/compliance/rules", params={"limit": 100}, headers=world.auth("admin"))
    assert r.json()["total"] == 18
    mine = client.get(f"{API}/compliance/rules", headers=world.auth("street_inspector")).json()
    assert {i["code"] for i in mine["items"]} == {
        "kids-disinfection", "kids-patrol", "fitness-maintenance", "health-lecture",
        "sports-events", "job-events",
    }  # fmt: skip
    assert {i["complex_id"] for i in mine["items"]} == {world.complexes["a"]}


def test_rules_and_checkpoints_filter_by_complex_and_space(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """Filters narrow the subtree: complex b's six rules; kids-play's two rules and four
    checkpoints; a street inspector asking for complex b (outside its street) gets none."""
    admin, a, b = world.auth("admin"), world.complexes["a"], world.complexes["b"]
    rules = client.get(f"{API}/compliance/rules", params={"complex_id": b}, headers=admin).json()
    assert rules["total"] == 6 and {i["complex_id"] for i in rules["items"]} == {b}
    all_a = client.get(f"{API}/compliance/rules", params={"complex_id": a}, headers=admin).json()
    kids = next(i["space_id"] for i in all_a["items"] if i["code"] == "kids-patrol")
    by_space = client.get(f"{API}/compliance/rules", params={"space_id": kids}, headers=admin)
    assert {i["code"] for i in by_space.json()["items"]} == {"kids-disinfection", "kids-patrol"}
    cps = client.get(f"{API}/checkpoints", params={"space_id": kids}, headers=admin).json()
    assert sorted(i["code"] for i in cps["items"]) == [
        "cp-kids-gate", "cp-kids-sandpit", "cp-kids-slide", "cp-kids-toys",
    ]  # fmt: skip
    street = world.auth("street_inspector")
    for url in (f"{API}/compliance/rules", f"{API}/checkpoints"):
        assert client.get(url, params={"complex_id": b}, headers=street).json()["total"] == 0


def test_acknowledge_and_resolve_task_alert(client: TestClient, world, factory) -> None:  # type: ignore[no-untyped-def]
    """Staff may read but not acknowledge; the manager acknowledges, then resolves with a note."""
    _morning(factory)
    alerts = client.get(
        f"{API}/alerts", params={"kind": "task_missed"}, headers=world.auth("manager_a")
    ).json()
    [alert] = alerts["items"]
    assert alert["escalation_level"] == 0
    url = f"{API}/alerts/{alert['id']}"
    assert client.post(f"{url}/acknowledge", headers=world.auth("staff_a")).status_code == 403
    ack = client.post(f"{url}/acknowledge", headers=world.auth("manager_a"))
    assert (ack.status_code, ack.json()["state"]) == (200, "acknowledged")
    done = client.post(
        f"{url}/resolve",
        json={"resolution": "fixed", "note": "巡查员已补巡"},
        headers=world.auth("manager_a"),
    )
    assert (done.json()["state"], done.json()["note"]) == ("resolved", "巡查员已补巡")


def test_contacts_by_level_with_masked_urls(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """Street contacts are admin-only, complex ones the manager's; URLs come back masked."""
    robot = "0123456789abcdef0123456789abcdef"
    street = {
        "scope_kind": "street",
        "scope_id": world.regions["xihu/beishan"],
        "code": "duty",
        "name": "北山街道值班",
        "url": f"dingtalk://{robot}/",
        "topics": ["tasks"],
    }
    r = client.post(f"{API}/contacts", json=street, headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    assert r.json()["channel"] == "dingtalk" and robot not in r.text
    assert (
        client.post(f"{API}/contacts", json=street, headers=world.auth("admin")).status_code == 409
    )
    assert (
        client.post(f"{API}/contacts", json=street, headers=world.auth("manager_a")).status_code
        == 403
    )
    mine = {**street, "scope_kind": "complex", "scope_id": world.complexes["a"], "code": "night"}
    assert (
        client.post(f"{API}/contacts", json=mine, headers=world.auth("manager_a")).status_code
        == 201
    )
    bad = {**mine, "code": "bad", "url": "nosuch://x"}
    assert (
        client.post(f"{API}/contacts", json=bad, headers=world.auth("manager_a")).status_code == 422
    )
    listed = client.get(
        f"{API}/contacts", params={"limit": 100}, headers=world.auth("manager_a")
    ).json()
    assert {i["scope_kind"] for i in listed["items"]} == {"complex"}
    assert {i["code"] for i in listed["items"]} == {
        "manager",
        "kids-patrol-duty",
        "it-support",
        "clinician-duty",
        "night",
    }
    inspector = client.get(
        f"{API}/contacts", params={"limit": 100}, headers=world.auth("street_inspector")
    )
    assert "duty" in {i["code"] for i in inspector.json()["items"]}
    duty = next(i for i in inspector.json()["items"] if i["code"] == "duty")
    assert (
        client.delete(f"{API}/contacts/{duty['id']}", headers=world.auth("manager_a")).status_code
        == 403
    )
    assert (
        client.delete(f"{API}/contacts/{duty['id']}", headers=world.auth("admin")).status_code
        == 204
    )
