"""Role matrix: each role sees and writes exactly its subtree; else 403/404; no token 401."""

from __future__ import annotations

from fastapi.testclient import TestClient

API = "/api/v1"
KEYS = ("a", "c", "b")  # a: xihu/beishan, c: xihu/lingyin, b: gongshu

# Expected status per complex a, c, b -- written by hand from the role rules:
# inspectors read their subtree only; managers/staff/clinicians/devices see their complex;
# staff and clinicians may not read devices or staff; machines may not read staff or write.
MATRIX = {
    #                     GET complex      GET device       GET staff        PATCH space
    "admin": ("200 200 200", "200 200 200", "200 200 200", "200 200 200"),
    "district_inspector": ("200 200 404", "200 200 404", "200 200 404", "403 403 404"),
    "street_inspector": ("200 404 404", "200 404 404", "200 404 404", "403 404 404"),
    "manager_a": ("200 404 404", "200 404 404", "200 404 404", "200 404 404"),
    "staff_a": ("200 404 404", "403 403 403", "403 403 403", "403 404 404"),
    "clinician_a": ("200 404 404", "403 403 403", "403 403 403", "403 404 404"),
    "gateway": ("200 200 200", "200 200 200", "403 403 403", "403 403 403"),
    "device_a": ("200 404 404", "200 404 404", "403 403 403", "403 403 403"),
}
LISTED = {
    "admin": {"a", "b", "c"},
    "district_inspector": {"a", "c"},
    "street_inspector": {"a"},
    "manager_a": {"a"},
    "staff_a": {"a"},
    "clinician_a": {"a"},
    "gateway": {"a", "b", "c"},
    "device_a": {"a"},
}
REGIONS = {
    "admin": {
        "xihu",
        "xihu/beishan",
        "xihu/beishan/shuguang",
        "xihu/lingyin",
        "xihu/lingyin/yuquan",
        "gongshu",
        "gongshu/mishixiang",
        "gongshu/mishixiang/maiyuqiao",
    },
    "district_inspector": {
        "xihu",
        "xihu/beishan",
        "xihu/beishan/shuguang",
        "xihu/lingyin",
        "xihu/lingyin/yuquan",
    },
    "street_inspector": {"xihu/beishan", "xihu/beishan/shuguang"},
}


def _requests(world) -> list[tuple[str, str, str, dict | None]]:  # type: ignore[no-untyped-def]
    out = []
    for key in KEYS:
        out += [
            ("GET complex", "GET", f"{API}/complexes/{world.complexes[key]}", None),
            ("GET device", "GET", f"{API}/devices/{world.devices[key]}", None),
            ("GET staff", "GET", f"{API}/staff/{world.staff[key]}", None),
            ("PATCH space", "PATCH", f"{API}/spaces/{world.spaces[key]}", {"capacity": 33}),
        ]
    return out


def test_role_matrix(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """Every role gets exactly the status codes of MATRIX on complexes a, c and b."""
    wrong = []
    for role, columns in MATRIX.items():
        expected = {}
        for col, codes in zip(
            ("GET complex", "GET device", "GET staff", "PATCH space"), columns, strict=True
        ):
            for key, code in zip(KEYS, codes.split(), strict=True):
                expected[(col, key)] = int(code)
        for i, (col, method, url, body) in enumerate(_requests(world)):
            key = KEYS[i // 4]
            got = client.request(method, url, json=body, headers=world.auth(role)).status_code
            if got != expected[(col, key)]:
                wrong.append(f"{role} {col} {key}: got {got}, expected {expected[(col, key)]}")
    assert not wrong, "\n".join(wrong)


def test_lists_show_exactly_the_subtree(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """Complex lists show exactly the role's subtree; region lists too, or 403 for others."""
    site_key = {world.complexes[k]: k for k in KEYS}
    for role, keys in LISTED.items():
        r = client.get(f"{API}/complexes", params={"limit": 100}, headers=world.auth(role))
        assert r.status_code == 200, (role, r.text)
        assert {site_key[c["id"]] for c in r.json()["items"]} == keys, role
        regions = client.get(f"{API}/regions", params={"limit": 100}, headers=world.auth(role))
        if role in REGIONS:
            assert {x["path"] for x in regions.json()["items"]} == REGIONS[role], role
        else:
            assert regions.status_code == 403, role


def test_audit_log_is_admin_only(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """Only the admin reads the audit log."""
    for role in MATRIX:
        code = client.get(f"{API}/audit", headers=world.auth(role)).status_code
        assert code == (200 if role == "admin" else 403), role


def test_no_token_is_401(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """Without a token (or with a forged one) every sampled endpoint answers 401."""
    urls = [url for _, _, url, _ in _requests(world)] + [f"{API}/complexes", f"{API}/audit"]
    for url in urls:
        assert client.get(url).status_code == 401, url
        assert client.get(url, headers={"Authorization": "Bearer fo_forged"}).status_code == 401, (
            url
        )
        assert client.get(url, headers={"Authorization": "Bearer a.b.c"}).status_code == 401, url


def test_who_may_acknowledge_and_resolve_alerts() -> None:
    """Acknowledging alerts: admin, manager, staff, inspectors (escalation reaches them);
    resolving (write): admin and manager only; clinicians and machines neither."""
    from facility_server.auth.roles import Principal, Role, ScopeKind, may

    def can(role: Role) -> tuple[bool, bool]:
        p = Principal(1, "x", role, ScopeKind.city, None)
        return may(p, "alert", "acknowledge"), may(p, "alert", "write")

    assert {r: can(r) for r in Role} == {
        Role.admin: (True, True),
        Role.inspector: (True, False),
        Role.complex_manager: (True, True),
        Role.staff: (True, False),
        Role.clinician: (False, False),
        Role.device: (False, False),
        Role.gateway: (False, False),
    }
