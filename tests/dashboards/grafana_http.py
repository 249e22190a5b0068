"""A fake Grafana HTTP API on a loopback port (Grafana cannot run here), for driving
`facility dashboards push` through grafana-client's real HTTP calls.

It answers like Grafana for folders, dashboards by uid and datasources by uid (JSON, 404
with ``{"message": ...}``), optionally under a sub-path (``/grafana/api/...``, a reverse
proxy); anything else gets the HTML 404 a reverse proxy would give. ``html_login`` makes
every GET answer 200 with an SSO login page instead.
"""

from __future__ import annotations

import copy
import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from facility_dashboards.core import DATASOURCE_UID

Json = dict[str, Any]
INFLUXQL = {"uid": DATASOURCE_UID, "name": "Facility InfluxDB", "type": "influxdb",
            "jsonData": {"version": "InfluxQL"}}  # fmt: skip
LOGIN_PAGE = "<!DOCTYPE html><html><head><title>Sign in</title></head><body>SSO</body></html>"


def stored(d: Json, folder: str, version: int = 1) -> Json:
    """What Grafana answers for a dashboard it stores."""
    return {
        "dashboard": {**copy.deepcopy(d), "id": 17, "version": version},
        "meta": {"folderUid": folder},
    }


@dataclass
class FakeGrafanaHttp:
    """State and the requests seen; ``url`` once started."""

    prefix: str = ""
    html_login: bool = False
    folders: dict[str, Json] = field(default_factory=dict)
    boards: dict[str, Json] = field(default_factory=dict)
    datasources: dict[str, Json] = field(default_factory=lambda: {DATASOURCE_UID: INFLUXQL})
    writes: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)
    url: str = ""


def _handler(state: FakeGrafanaHttp) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _reply(self, code: int, body: object, kind: str = "application/json") -> None:
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _api_path(self) -> str | None:
            root = f"{state.prefix}/api/"
            return self.path[len(root) :] if self.path.startswith(root) else None

        def do_GET(self) -> None:
            state.auth.append(self.headers.get("Authorization", ""))
            state.reads.append(self.path)
            if state.html_login:
                return self._reply(200, LOGIN_PAGE, "text/html; charset=utf-8")
            path = self._api_path()
            kind, _, uid = (path or "").rpartition("/")
            stores = {"folders": state.folders, "dashboards/uid": state.boards}
            store = {**stores, "datasources/uid": state.datasources}.get(kind)
            if path is None or store is None:
                return self._reply(404, "<html><body>404 Not Found</body></html>", "text/html")
            if uid in store:
                return self._reply(200, store[uid])
            return self._reply(404, {"message": "not found"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            path = self._api_path()
            state.writes.append(f"/api/{path}")
            if path == "folders":
                state.folders[body["uid"]] = {"uid": body["uid"], "title": body["title"], "id": 3}
                return self._reply(200, state.folders[body["uid"]])
            if path == "dashboards/db":
                d = body["dashboard"]
                state.boards[d["uid"]] = stored(d, body["folderUid"])
                return self._reply(200, {"status": "success", "uid": d["uid"]})
            return self._reply(404, "<html>404</html>", "text/html")

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def fake_grafana(**kwargs: Any) -> Iterator[FakeGrafanaHttp]:
    """Start the fake on a free loopback port; ``url`` is its base (with the prefix)."""
    state = FakeGrafanaHttp(**kwargs)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}{state.prefix}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
