"""API input edge cases: chunked big bodies, broken JSON, numbers as strings, the serial
device rule, and secrets never echoed in errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, get_args

import pytest
from facility_server.api.schemas.base import In
from fastapi.testclient import TestClient
from pydantic import ValidationError

API = "/api/v1"
JSON = {"content-type": "application/json"}


def _chunks(total: int, size: int = 4096) -> Iterator[bytes]:
    """A JSON object of ``total`` bytes, sent in chunks (no Content-Length)."""
    yield b'{"name": "'
    left = total - len(b'{"name": "') - len(b'"}')
    while left > 0:
        yield b"x" * min(size, left)
        left -= size
    yield b'"}'


def test_oversized_chunked_body_is_413(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """A 70 KB body sent with chunked transfer encoding gets 413 like a declared one."""
    r = client.patch(
        f"{API}/spaces/{world.spaces['a']}",
        content=_chunks(70_000),
        headers={**world.auth("admin"), **JSON},
    )
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in r.request.headers
    assert r.status_code == 413, r.text
    assert r.json() == {"detail": "request body too large"}


def test_small_chunked_body_still_works(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """A small chunked body under the limit is read and applied."""
    r = client.patch(
        f"{API}/spaces/{world.spaces['a']}",
        content=iter([b'{"capa', b'city": 33}']),
        headers={**world.auth("admin"), **JSON},
    )
    assert r.status_code == 200, r.text
    assert r.json()["capacity"] == 33


def test_malformed_json_names_body_and_position(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """Broken JSON reports field "body" and the line and column in the message."""
    raw = b'{\n  "capacity": 12,,\n}'  # the second comma is line 2, column 18 (char 19)
    r = client.patch(
        f"{API}/spaces/{world.spaces['a']}", content=raw, headers={**world.auth("admin"), **JSON}
    )
    assert r.status_code == 422
    err = r.json()["detail"][0]
    assert (err["field"], err["loc"]) == ("body", ["body"])
    assert "line 2 column 18" in err["msg"]


def test_number_as_string_is_422(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """ "capacity": "12" is refused (422 naming the field), not taken as 12."""
    r = client.patch(
        f"{API}/spaces/{world.spaces['a']}",
        json={"capacity": "12"},
        headers=world.auth("admin"),
    )
    assert r.status_code == 422, r.text
    assert (r.json()["detail"][0]["field"], r.json()["detail"][0]["value"]) == ("capacity", "12")


def _request_models() -> list[type[In]]:
    out, todo = [], list(In.__subclasses__())
    while todo:
        cls = todo.pop()
        out.append(cls)
        todo += cls.__subclasses__()
    return out


def _int_fields(model: type[In]) -> list[str]:
    def has_int(tp: Any) -> bool:
        return tp is int or any(has_int(a) for a in get_args(tp))

    return [name for name, f in model.model_fields.items() if has_int(f.annotation)]


@pytest.mark.parametrize(
    "model", [m for m in _request_models() if _int_fields(m)], ids=lambda m: m.__name__
)
def test_every_request_int_is_strict(model: type[In]) -> None:
    """Every int field of every request schema refuses "12" and 12.0."""
    for name in _int_fields(model):
        for value in ("12", 12.0):
            with pytest.raises(ValidationError) as info:
                model.model_validate({name: value})
            assert any(e["loc"][:1] == (name,) for e in info.value.errors()), (name, value)


def _device(client: TestClient, world, transport: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    items = client.get(
        f"{API}/devices",
        params={"complex_id": world.complexes["a"], "limit": 100},
        headers=world.auth("admin"),
    ).json()["items"]
    return next(d for d in items if d["transport"] == transport and d["kind"] != "edge_agent")


def test_serial_device_needs_via(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """POST /devices of a serial door counter without via_id is 422, as in the setup file."""
    space = _device(client, world, "serial")["space_id"]
    body = {
        "complex_id": world.complexes["a"],
        "code": "dc-new",
        "kind": "door_counter",
        "transport": "serial",
        "space_id": space,
    }
    r = client.post(f"{API}/devices", json=body, headers=world.auth("admin"))
    assert r.status_code == 422, r.text
    assert "via_id" in r.text
    edge = body | {"code": "edge-2", "kind": "edge_agent", "space_id": None}
    r = client.post(f"{API}/devices", json=edge, headers=world.auth("admin"))
    assert r.status_code == 422, r.text
    assert "MQTT" in r.text


def test_no_mqtt_credentials_for_serial_device(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """A serial device gets 409 (it publishes through its edge agent); an MQTT one 201."""
    serial = _device(client, world, "serial")
    r = client.post(f"{API}/devices/{serial['id']}/credentials", headers=world.auth("admin"))
    assert r.status_code == 409, r.text
    [err] = r.json()["detail"]
    assert (err["type"], err["field"], err["value"]) == ("conflict", "transport", "serial")
    assert "edge agent" in err["msg"]
    again = client.get(f"{API}/devices/{serial['id']}", headers=world.auth("admin")).json()
    assert again["mqtt_username"] is None
    mqtt_dev = _device(client, world, "mqtt")
    r = client.post(f"{API}/devices/{mqtt_dev['id']}/credentials", headers=world.auth("admin"))
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    "body",
    [
        {"username": "carol", "password": "hunter2-very-secret"},  # role and scope missing
        {"username": "carol", "password": "Qz9#xw", "role": "admin", "scope_kind": "city"},
    ],
    ids=["missing-field", "bad-password"],
)
def test_account_errors_never_echo_the_password(
    client: TestClient,
    world,  # type: ignore[no-untyped-def]
    body: dict[str, str],
) -> None:
    """A 422 on POST /accounts names the problem but never repeats the password."""
    r = client.post(f"{API}/accounts", json=body, headers=world.auth("admin"))
    assert r.status_code == 422, r.text
    assert body["password"] not in r.text
    assert r.json()["detail"][0]["field"] in {"role", "scope_kind", "password"}


def test_unknown_weekday_is_named_by_the_api(client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    """weekly_hours key "wednesday" is 'unknown weekday' at field weekly_hours.wednesday."""
    r = client.patch(
        f"{API}/spaces/{world.spaces['a']}",
        json={"weekly_hours": {"wednesday": ["09:00-12:00"]}},
        headers=world.auth("admin"),
    )
    assert r.status_code == 422, r.text
    err = r.json()["detail"][0]
    assert err["field"] == "weekly_hours.wednesday"
    assert err["msg"].endswith(
        "unknown weekday 'wednesday'; use one of mon, tue, wed, thu, fri, sat, sun"
    )
