"""``facility dashboards push``: a pure plan, a thin shell, and a second push that changes
nothing. Grafana cannot run here: the shell is driven through a fake that stores what
Grafana's HTTP API would (id, version, folder) and answers 404 like grafana-client."""

from __future__ import annotations

import copy
import http.server
import importlib.metadata
import json
import threading
from typing import Any, ClassVar

import pytest
from facility_dashboards.build import dashboards
from facility_dashboards.cli import app
from facility_dashboards.core import FOLDER_TITLE, FOLDER_UID
from facility_dashboards.push import Step, plan, plan_folder, push
from grafana_client.client import GrafanaClientError
from typer.testing import CliRunner

Json = dict[str, Any]


def _stored(d: Json, folder: str, version: int = 1) -> Json:
    return {
        "dashboard": {**copy.deepcopy(d), "id": 17, "version": version},
        "meta": {"folderUid": folder},
    }


class FakeFolders:
    def __init__(self) -> None:
        self.folders: dict[str, Json] = {}
        self.writes: list[str] = []

    def get_folder(self, uid: str) -> Json:
        if uid not in self.folders:
            raise GrafanaClientError(404, {"message": "folder not found"}, "Client Error 404")
        return self.folders[uid]

    def create_folder(self, title: str, uid: str | None = None) -> Json:
        assert uid is not None
        self.writes.append(f"create {uid}")
        self.folders[uid] = {"uid": uid, "title": title}
        return self.folders[uid]

    def update_folder(self, uid: str, title: str | None = None, overwrite: bool = False) -> Json:
        self.writes.append(f"update {uid}")
        self.folders[uid]["title"] = title
        return self.folders[uid]


class FakeDashboards:
    def __init__(self) -> None:
        self.stored: dict[str, Json] = {}
        self.writes: list[str] = []

    def get_dashboard(self, dashboard_uid: str) -> Json:
        if dashboard_uid not in self.stored:
            raise GrafanaClientError(404, {"message": "Dashboard not found"}, "Client Error 404")
        return copy.deepcopy(self.stored[dashboard_uid])

    def update_dashboard(self, dashboard: Json) -> Json:
        d = dashboard["dashboard"]
        assert dashboard["overwrite"] is True and "id" not in d
        old = self.stored.get(d["uid"])
        version = old["dashboard"]["version"] + 1 if old else 1
        self.stored[d["uid"]] = _stored(d, dashboard["folderUid"], version)
        self.writes.append(d["uid"])
        return {"status": "success", "uid": d["uid"], "version": version}


class FakeGrafana:
    def __init__(self) -> None:
        self.folder = FakeFolders()
        self.dashboard = FakeDashboards()


def test_plan_creates_what_is_missing() -> None:
    """With nothing in Grafana every dashboard is to be created."""
    local = dashboards()
    assert {s.action for s in plan(local, {})} == {"create"}
    assert [s.uid for s in plan(local, {})] == [d["uid"] for d in local]


def test_plan_ignores_what_grafana_adds() -> None:
    """A stored copy that differs only by Grafana's id and version is unchanged."""
    local = dashboards()
    remote = {d["uid"]: _stored(d, FOLDER_UID, version=9) for d in local}
    assert {s.action for s in plan(local, remote)} == {"unchanged"}


def test_plan_updates_changed_or_misplaced_dashboards() -> None:
    """A changed dashboard, or one in another folder, is updated; the rest left alone."""
    local = dashboards()
    remote = {d["uid"]: _stored(d, FOLDER_UID) for d in local}
    remote[local[0]["uid"]]["dashboard"]["title"] = "edited by hand"
    remote[local[1]["uid"]]["meta"]["folderUid"] = "general"
    actions = {s.uid: s.action for s in plan(local, remote)}
    assert actions.pop(local[0]["uid"]) == "update"
    assert actions.pop(local[1]["uid"]) == "update"
    assert set(actions.values()) == {"unchanged"}


def test_plan_folder() -> None:
    """The folder is created when missing and retitled when its title differs."""
    assert plan_folder(None) == "create"
    assert plan_folder({"uid": FOLDER_UID, "title": FOLDER_TITLE}) == "unchanged"
    assert plan_folder({"uid": FOLDER_UID, "title": "old"}) == "update"


def test_second_push_plans_nothing() -> None:
    """The first push creates the folder and every dashboard in it; the second writes nothing."""
    grafana = FakeGrafana()
    folder, steps = push(grafana, dashboards())
    assert folder == "create" and {s.action for s in steps} == {"create"}
    assert grafana.folder.writes == [f"create {FOLDER_UID}"]
    assert sorted(grafana.dashboard.writes) == sorted(d["uid"] for d in dashboards())
    grafana.folder.writes.clear()
    grafana.dashboard.writes.clear()

    folder, steps = push(grafana, dashboards())
    assert folder == "unchanged"
    assert [s for s in steps if s.action != "unchanged"] == []
    assert grafana.folder.writes == [] and grafana.dashboard.writes == []


def test_push_updates_only_the_changed_dashboard() -> None:
    """After a local change exactly that dashboard is written again."""
    grafana = FakeGrafana()
    push(grafana, dashboards())
    grafana.dashboard.writes.clear()
    changed = dashboards()
    changed[2]["description"] = "new words"
    _, steps = push(grafana, changed)
    assert [s for s in steps if s.action != "unchanged"] == [
        Step(changed[2]["uid"], changed[2]["title"], "update")
    ]
    assert grafana.dashboard.writes == [changed[2]["uid"]]


def test_dry_run_writes_nothing() -> None:
    """--dry-run reports the plan and leaves Grafana alone."""
    grafana = FakeGrafana()
    _, steps = push(grafana, dashboards(), dry_run=True)
    assert {s.action for s in steps} == {"create"}
    assert grafana.folder.writes == [] and grafana.dashboard.writes == []


def test_push_passes_other_errors_on() -> None:
    """Anything but a 404 (here 401, a bad token) is not mistaken for "absent"."""

    class Unauthorized(FakeGrafana):
        def __init__(self) -> None:
            super().__init__()

            def refuse(uid: str) -> Json:
                raise GrafanaClientError(401, {"message": "invalid API key"}, "Unauthorized")

            self.folder.get_folder = refuse  # type: ignore[method-assign]

    with pytest.raises(GrafanaClientError):
        push(Unauthorized(), dashboards())


def test_push_command_needs_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without GRAFANA_TOKEN the command refuses before contacting Grafana."""
    monkeypatch.delenv("GRAFANA_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["push", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "GRAFANA_TOKEN" in result.output


def test_urllib3_is_not_replaced() -> None:
    """grafana-client < 4 keeps urllib3-future (and its .pth override) out of the venv."""
    import urllib3

    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("urllib3-future")
    major, minor = (int(x) for x in urllib3.__version__.split(".")[:2])
    assert major == 2 and minor < 20, urllib3.__version__
    assert int(importlib.metadata.version("grafana-client").split(".")[0]) < 4


class _GrafanaHandler(http.server.BaseHTTPRequestHandler):
    """Grafana's folder and dashboard endpoints as the HTTP API answers them."""

    folders: ClassVar[dict[str, Json]] = {}
    boards: ClassVar[dict[str, Json]] = {}
    writes: ClassVar[list[str]] = []
    auth: ClassVar[list[str]] = []

    def _reply(self, code: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.auth.append(self.headers.get("Authorization", ""))
        kind, _, uid = self.path.removeprefix("/api/").rpartition("/")
        store = {"folders": self.folders, "dashboards/uid": self.boards}[kind]
        if uid in store:
            self._reply(200, store[uid])
        else:
            self._reply(404, {"message": "not found"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.writes.append(self.path)
        if self.path == "/api/folders":
            self.folders[body["uid"]] = {"uid": body["uid"], "title": body["title"], "id": 3}
            self._reply(200, self.folders[body["uid"]])
        else:
            d = body["dashboard"]
            self.boards[d["uid"]] = _stored(d, body["folderUid"])
            self._reply(200, {"status": "success", "uid": d["uid"]})

    def log_message(self, *args: object) -> None:
        pass


def test_push_command_through_grafana_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through grafana-client's HTTP calls: a first push creates all, a second writes nothing."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _GrafanaHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("GRAFANA_TOKEN", "glsa_test")
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        first = CliRunner().invoke(app, ["push", "--url", url])
        assert first.exit_code == 0, first.output
        assert _GrafanaHandler.writes.count("/api/dashboards/db") == len(dashboards())
        assert _GrafanaHandler.writes.count("/api/folders") == 1
        _GrafanaHandler.writes.clear()
        second = CliRunner().invoke(app, ["push", "--url", url])
        assert second.exit_code == 0, second.output
        assert _GrafanaHandler.writes == []
        assert second.stdout.count("unchanged") == len(dashboards()) + 1  # + the folder
        assert set(_GrafanaHandler.auth) == {"Bearer glsa_test"}
    finally:
        server.shutdown()
