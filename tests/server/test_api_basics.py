"""API basics: sign-in, pagination, filters, bad input (422/413), audit."""

from __future__ import annotations

from fastapi.testclient import TestClient

API = "/api/v1"


def test_password_flow_gives_a_working_jwt(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """OAuth2 password flow returns a bearer JWT that /me accepts; a wrong password is 401."""
    r = client.post(
        f"{API}/auth/token", data={"username": "manager_a", "password": "correct horse battery"}
    )
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    me = client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "manager_a"
    bad = client.post(
        f"{API}/auth/token", data={"username": "manager_a", "password": "wrong password"}
    )
    assert bad.status_code == 401


def test_list_is_paginated_and_filtered(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """Spaces of one complex come in pages; the type filter narrows to one 4+5+X type."""
    h = world.auth("admin")
    r = client.get(
        f"{API}/spaces", params={"complex_id": world.complexes["a"], "limit": 5}, headers=h
    )
    body = r.json()
    assert (body["total"], len(body["items"]), body["limit"], body["offset"]) == (12, 5, 5, 0)
    r = client.get(f"{API}/spaces", params={"type": "kids_play"}, headers=h)
    assert r.json()["total"] == 3  # one kids_play space in each of the three complexes


def test_bad_input_is_422_naming_field_and_value(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """NaN, infinities, naive datetimes and unknown enum values get 422 with field and value."""
    h = world.auth("admin")
    sid = world.spaces["a"]
    raw = b'{"capacity": NaN}'
    r = client.patch(
        f"{API}/spaces/{sid}", content=raw, headers={**h, "content-type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "capacity"
    assert r.json()["detail"][0]["value"] == "nan"
    r = client.patch(
        f"{API}/spaces/{sid}",
        content=b'{"capacity": Infinity}',
        headers={**h, "content-type": "application/json"},
    )
    assert r.status_code == 422
    r = client.patch(f"{API}/spaces/{sid}", json={"type": "bowling"}, headers=h)
    assert r.status_code == 422
    assert (r.json()["detail"][0]["field"], r.json()["detail"][0]["value"]) == ("type", "bowling")
    cid = world.complexes["a"]
    r = client.get(f"{API}/complexes/{cid}/today", params={"at": "2026-06-02T10:00:00"}, headers=h)
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "at"
    assert r.json()["detail"][0]["value"] == "2026-06-02T10:00:00"


def test_oversized_body_is_413(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """A body over the limit (64 KiB in tests) is refused with 413 before parsing."""
    body = b'{"name": "' + b"x" * 70_000 + b'"}'
    r = client.patch(
        f"{API}/spaces/{world.spaces['a']}",
        content=body,
        headers={**world.auth("admin"), "content-type": "application/json"},
    )
    assert r.status_code == 413


def test_writes_and_sensitive_reads_are_audited(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """A space update, a staff read and a denied write each leave one audit entry."""
    h = world.auth("manager_a")
    assert (
        client.patch(
            f"{API}/spaces/{world.spaces['a']}", json={"capacity": 41}, headers=h
        ).status_code
        == 200
    )
    assert client.get(f"{API}/staff/{world.staff['a']}", headers=h).status_code == 200
    assert (
        client.patch(
            f"{API}/spaces/{world.spaces['a']}", json={"capacity": 1}, headers=world.auth("staff_a")
        ).status_code
        == 403
    )
    entries = client.get(f"{API}/audit", params={"limit": 10}, headers=world.auth("admin")).json()[
        "items"
    ]
    seen = [(e["actor"], e["action"], e["outcome"]) for e in entries]
    assert ("manager_a", "space.update", "ok") in seen
    assert ("manager_a", "staff.read", "ok") in seen
    assert ("staff_a", "space.write", "denied") in seen


def test_today_view_lists_spaces_with_hours(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """On Tuesday 2026-06-02 10:00 local the kids_play area (09:00-17:30) is open."""
    r = client.get(f"{API}/complexes/{world.complexes['a']}/today", headers=world.auth("staff_a"))
    assert r.status_code == 200, r.text
    body = r.json()
    kids = next(s for s in body["spaces"] if s["type"] == "kids_play")
    assert body["local_date"] == "2026-06-02"
    assert kids["open_now"] is True
    assert kids["intervals"] == [["2026-06-02T09:00:00+08:00", "2026-06-02T17:30:00+08:00"]]
    assert body["devices"] == {"never_seen": 19}
