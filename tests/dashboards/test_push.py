"""``facility dashboards push``: a pure plan, a thin shell, and a second push that changes
nothing. Grafana cannot run here: the shell is driven through a fake that stores what
Grafana's HTTP API would (id, version, folder) and answers 404 like grafana-client."""

from __future__ import annotations

import copy
import importlib.metadata
from pathlib import Path
from typing import Any

import pytest
from facility_dashboards.build import dashboards
from facility_dashboards.cli import app
from facility_dashboards.core import DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID
from facility_dashboards.push import (
    Step,
    check_datasource,
    grafana_url,
    plan,
    plan_folder,
    push,
)
from grafana_client.client import GrafanaClientError
from grafana_http import INFLUXQL, stored
from typer.testing import CliRunner

Json = dict[str, Any]


_stored = stored


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


class FakeDatasources:
    def __init__(self) -> None:
        self.stored: dict[str, Json] = {DATASOURCE_UID: dict(INFLUXQL)}

    def get_datasource_by_uid(self, datasource_uid: str) -> Json:
        if datasource_uid not in self.stored:
            raise GrafanaClientError(404, {"message": "Data source not found"}, "Not found")
        return self.stored[datasource_uid]


class FakeGrafana:
    def __init__(self) -> None:
        self.folder = FakeFolders()
        self.dashboard = FakeDashboards()
        self.datasource = FakeDatasources()


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


@pytest.mark.parametrize(
    ("stored", "state"),
    [
        ({"type": "influxdb", "jsonData": {"version": "InfluxQL"}}, "ok"),
        ({"type": "influxdb", "jsonData": {}}, "ok"),  # Grafana's default query language
        ({"type": "influxdb", "jsonData": {"version": "Flux"}}, "wrong_type"),
        ({"type": "prometheus", "jsonData": {}}, "wrong_type"),
        (None, "missing"),
    ],
)
def test_check_datasource(stored: Json | None, state: str) -> None:
    """The panels' datasource must exist and be InfluxDB queried with InfluxQL."""
    grafana = FakeGrafana()
    grafana.datasource.stored = {} if stored is None else {DATASOURCE_UID: stored}
    got = check_datasource(grafana)
    assert got.state == state and got.blocks == (state != "ok")


def test_datasource_unreadable_to_the_token_is_unchecked() -> None:
    """A 403 (the token may not read datasources) is reported as unchecked, not as missing."""
    grafana = FakeGrafana()

    def forbidden(uid: str) -> Json:
        raise GrafanaClientError(403, {"message": "permission denied"}, "Forbidden")

    grafana.datasource.get_datasource_by_uid = forbidden  # type: ignore[method-assign]
    got = check_datasource(grafana)
    assert got.state == "unchecked" and not got.blocks


def test_url_gets_the_slash_grafana_client_needs() -> None:
    """A sub-path gains its trailing slash; a bare host and query strings stay as they are."""
    assert grafana_url("http://h/grafana") == "http://h/grafana/"
    assert grafana_url("https://h:3000/a/b/") == "https://h:3000/a/b/"
    assert grafana_url("https://h") == "https://h/"
    assert grafana_url("https://h/g?verify=false") == "https://h/g/?verify=false"


def test_check_names_a_missing_folder(tmp_path: Path) -> None:
    """`dashboards check --root` on a folder that does not exist says so (exit 2)."""
    result = CliRunner().invoke(app, ["check", "--root", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert f"--root {tmp_path / 'nope'}: no such folder" in result.stderr
