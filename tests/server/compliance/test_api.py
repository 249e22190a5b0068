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


def test_board_at_a_past_instant_shows_what_was_known_then(
    client: TestClient, world, factory
) -> None:  # type: ignore[no-untyped-def]
    """Asked at 08:00 after the morning happened: the 08:40 disinfection is not yet done
    (due until 09:15) and the 09:00 round, whose alert opened at 09:31, has no alert."""
    _morning(factory)
    r = client.get(
        f"{API}/complexes/{world.complexes['a']}/compliance/today",
        params={"at": "2026-06-02T08:00:00+08:00"},
        headers=world.auth("staff_a"),
    )
    assert r.status_code == 200, r.text
    board = r.json()
    [dis] = _rule(board, "kids-disinfection")["occurrences"]
    assert (dis["state"], dis["checkins"], dis["alert_id"]) == ("due", [], None)
    rounds = {o["key"][-5:]: o for o in _rule(board, "kids-patrol")["occurrences"]}
    assert (rounds["09:00"]["state"], rounds["09:00"]["alert_id"]) == ("pending", None)


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
    alerts = client.get(f"{API}/alerts", params={"kind": "task_missed"}, headers=h).json()
    [alert] = [a for a in alerts["items"] if a["occurrence"] == "2026-06-02T09:00"]
    assert items[0]["alert_id"] == alert["id"]
    on_time = client.get(
        f"{API}/compliance/occurrences",
        params={"state": "on_time", "day_from": "2026-06-02", "day_to": "2026-06-02"},
        headers=h,
    ).json()["items"]
    assert [(i["rule"], i["checkins"][0]["checkpoint"]) for i in on_time] == [
        ("kids-disinfection", "cp-kids-gate")
    ]
    assert on_time[0]["alert_id"] is None  # done on time: no alert
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
    # out of the street inspector's subtree: 404, as the board says
    assert client.get(f"{API}/compliance/occurrences", params=b_only, headers=h).status_code == 404


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
    """Staff may acknowledge but not resolve; the manager resolves with a note."""
    _morning(factory)
    alerts = client.get(
        f"{API}/alerts", params={"kind": "task_missed"}, headers=world.auth("manager_a")
    ).json()
    [alert] = alerts["items"]
    assert alert["escalation_level"] == 0
    url = f"{API}/alerts/{alert['id']}"
    assert client.post(f"{url}/resolve", json={}, headers=world.auth("staff_a")).status_code == 403
    ack = client.post(f"{url}/acknowledge", headers=world.auth("staff_a"))
    assert (ack.status_code, ack.json()["state"]) == (200, "acknowledged")
    assert ack.json()["acknowledged_by"] == "staff_a"  # the account name
    done = client.post(
        f"{url}/resolve",
        json={"resolution": "fixed", "note": "巡查员已补巡"},
        headers=world.auth("manager_a"),
    )
    assert (done.json()["state"], done.json()["note"]) == ("resolved", "巡查员已补巡")


def test_escalated_alert_is_acknowledged_by_the_inspector_told(
    client: TestClient, world, factory
) -> None:  # type: ignore[no-untyped-def]
    """The street inspector (whom escalation reaches) acknowledges a task alert of its
    street but may not resolve it; an inspector of another street gets 404."""
    _morning(factory)
    h = world.auth("street_inspector")
    [alert] = client.get(f"{API}/alerts", params={"kind": "task_missed"}, headers=h).json()["items"]
    url = f"{API}/alerts/{alert['id']}"
    assert client.post(f"{url}/resolve", json={}, headers=h).status_code == 403
    ack = client.post(f"{url}/acknowledge", headers=h)
    assert (ack.status_code, ack.json()["state"]) == (200, "acknowledged")
    assert client.post(f"{url}/acknowledge", headers=world.auth("clinician_a")).status_code == 403


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


def test_setup_import_keeps_api_contacts_and_names_deleted_ones(
    client: TestClient,
    world,
    factory,
    example_path,  # type: ignore[no-untyped-def]
) -> None:
    """A contact the manager added through the API survives the next import (named as
    kept); a file contact removed from the file is deleted and named."""
    from facility_server.models import Contact
    from facility_server.setup.importer import import_setup_text
    from sqlalchemy import select

    night = {
        "scope_kind": "complex", "scope_id": world.complexes["a"], "code": "night",
        "name": "夜班", "url": "json://127.0.0.1:9/hook", "topics": ["tasks"],
    }  # fmt: skip
    r = client.post(f"{API}/contacts", json=night, headers=world.auth("manager_a"))
    assert r.status_code == 201, r.text
    text = example_path.read_text(encoding="utf-8")
    block = text[text.index("  - code: it-support") : text.index("  - code: clinician-duty")]
    with factory() as s:
        report = import_setup_text(s, text.replace(block, ""))
        s.commit()
        codes = set(
            s.scalars(select(Contact.code).where(Contact.complex_id == world.complexes["a"]))
        )
    assert report.notes == [
        "deleted contact 'it-support': not in the file",
        "kept contact 'night': added through the API, not in the file "
        "(delete it there, or add it to the file)",
    ]
    assert report.deleted["contact"] == 1
    assert codes == {"manager", "kids-patrol-duty", "clinician-duty", "night"}


def test_history_and_contacts_refuse_ambiguous_or_wrong_input(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """Reversed days 422 naming day_to; an unknown complex 404 as on the board; contacts:
    scope_id without scope_kind 422, scope_kind separates complex and district of one id,
    a duplicate code 409 naming it, a street contact naming staff 422, unknown staff 422."""
    h = world.auth("admin")
    occ = f"{API}/compliance/occurrences"
    r = client.get(occ, params={"day_from": "2026-06-03", "day_to": "2026-06-02"}, headers=h)
    assert r.status_code == 422
    [err] = r.json()["detail"]
    assert (err["field"], err["value"]) == ("day_to", "2026-06-02")
    assert client.get(occ, params={"complex_id": 999}, headers=h).status_code == 404
    assert client.get(occ, params={"space_id": 999}, headers=h).status_code == 404
    r = client.get(f"{API}/contacts", params={"scope_id": 1}, headers=h)
    assert (r.status_code, r.json()["detail"][0]["field"]) == (422, "scope_kind")
    district = {
        "scope_kind": "district", "scope_id": world.regions["xihu"], "code": "d-duty",
        "name": "西湖区值班", "url": "json://127.0.0.1:9/hook", "topics": ["tasks"],
    }  # fmt: skip
    assert client.post(f"{API}/contacts", json=district, headers=h).status_code == 201
    dup = client.post(f"{API}/contacts", json=district, headers=h)
    assert dup.status_code == 409
    assert (dup.json()["detail"][0]["field"], dup.json()["detail"][0]["value"]) == (
        "code",
        "d-duty",
    )
    street = {**district, "scope_kind": "street", "scope_id": world.regions["xihu/beishan"],
              "code": "s-duty", "staff_code": "nobody"}  # fmt: skip
    bad = client.post(f"{API}/contacts", json=street, headers=h)
    assert (bad.status_code, bad.json()["detail"][0]["value"]) == (422, "nobody")
    mine = {**street, "scope_kind": "complex", "scope_id": world.complexes["a"]}
    unknown = client.post(f"{API}/contacts", json=mine, headers=h)
    assert (unknown.status_code, unknown.json()["detail"][0]["field"]) == (422, "staff_code")
    kinds = {
        kind: {c["code"] for c in client.get(
            f"{API}/contacts", params={"scope_kind": kind, "scope_id": sid, "limit": 100}, headers=h
        ).json()["items"]}
        for kind, sid in (("district", world.regions["xihu"]), ("complex", world.complexes["a"]))
    }  # fmt: skip
    assert kinds["district"] == {"d-duty"} and "d-duty" not in kinds["complex"]


def test_missing_rectification_is_named_and_resolve_needs_no_body(
    client: TestClient, world, factory
) -> None:  # type: ignore[no-untyped-def]
    """A missing rectification item is "rectification not found"; /resolve without a
    body resolves as fixed."""
    r = client.get(f"{API}/rectifications/999", headers=world.auth("admin"))
    assert (r.status_code, r.json()["detail"]) == (404, "rectification not found")
    r = client.post(
        f"{API}/rectifications/999/fix", json={"note": "x"}, headers=world.auth("admin")
    )
    assert (r.status_code, r.json()["detail"]) == (404, "rectification not found")
    _morning(factory)
    h = world.auth("manager_a")
    [alert] = client.get(f"{API}/alerts", params={"kind": "task_missed"}, headers=h).json()["items"]
    done = client.post(f"{API}/alerts/{alert['id']}/resolve", headers=h)
    assert (done.status_code, done.json()["state"], done.json()["resolution"]) == (
        200,
        "resolved",
        "fixed",
    )
