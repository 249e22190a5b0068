"""A property-based run of the whole API from its OpenAPI schema: never a 5xx.

Schemathesis generates valid and invalid requests for every operation of the app's
OpenAPI schema; they are sent in process (ASGI) as the admin through Starlette's test
client. Its pytest plugin does not run under pytest 9, and its ``requests`` transport
breaks on the ``urllib3-future`` that another workspace package pulls in, so the
operations are driven through their Hypothesis strategies and serialised cases here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from facility_server.api.app import create_app
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

EXAMPLES = 12  # per operation and generation mode; ~1,000 requests per database backend


def send(client: TestClient, kw: dict[str, Any]) -> Any:
    """Send a serialised schemathesis case (requests-style kwargs) with the test client."""
    args: dict[str, Any] = {
        "method": kw["method"],
        "url": kw["url"],
        "headers": kw.get("headers"),
        "params": kw.get("params"),
    }
    if "json" in kw:  # NaN and infinities must reach the server as written
        args["content"] = json.dumps(kw["json"], allow_nan=True).encode()
    elif isinstance(kw.get("data"), (bytes, str)):
        args["content"] = kw["data"]
    elif kw.get("data") is not None:
        args["data"] = kw["data"]
    if kw.get("files"):
        args["files"] = kw["files"]
    return client.request(**args)


def test_api_never_answers_5xx(settings, engine, clock, world) -> None:  # type: ignore[no-untyped-def]
    """Generated requests (valid and invalid) to every operation never get a server error."""
    app = create_app(settings, engine=engine, clock=clock)
    client = TestClient(app, raise_server_exceptions=False)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = world.auth("admin")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40
    for op in operations:
        strategy = st.one_of(
            op.as_strategy(GenerationMode.POSITIVE), op.as_strategy(GenerationMode.NEGATIVE)
        )

        @given(case=strategy)
        @hsettings(
            max_examples=2 * EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case) -> None:  # type: ignore[no-untyped-def]
            response = send(
                client, case.as_transport_kwargs(base_url="http://testserver", headers=headers)
            )
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} {case.query} {case.body!r:.200} "
                    f"-> {response.status_code} {response.text[:200]}"
                )

        run()
    assert not failures, "\n".join(failures[:20])


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
def test_openapi_is_served(client, path: str) -> None:  # type: ignore[no-untyped-def]
    """The OpenAPI document and its docs page are served."""
    assert client.get(path).status_code == 200
