"""`facility dashboards push` through grafana-client's real HTTP calls against a fake Grafana
HTTP API (Grafana cannot run here): idempotence, a Grafana under a sub-path, answers that are
not Grafana's, folder uids Grafana would refuse, and the datasource the panels need."""

from __future__ import annotations

import pytest
from facility_dashboards.build import dashboards
from facility_dashboards.cli import app
from grafana_http import fake_grafana
from typer.testing import CliRunner


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAFANA_TOKEN", "glsa_test")
    monkeypatch.delenv("GRAFANA_URL", raising=False)


def push(url: str, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["push", "--url", url, *args])


def test_second_push_writes_nothing() -> None:
    """A first push creates the folder and every dashboard, a second writes nothing."""
    with fake_grafana() as grafana:
        first = push(grafana.url)
        assert first.exit_code == 0, first.output
        assert grafana.writes.count("/api/dashboards/db") == len(dashboards())
        assert grafana.writes.count("/api/folders") == 1
        grafana.writes.clear()
        second = push(grafana.url)
        assert second.exit_code == 0, second.output
        assert grafana.writes == []
        assert second.stdout.count("unchanged") == len(dashboards()) + 1  # + the folder
        assert set(grafana.auth) == {"Bearer glsa_test"}


@pytest.mark.parametrize("slash", ["", "/"], ids=["no-slash", "slash"])
def test_grafana_under_a_sub_path(slash: str) -> None:
    """`--url http://host/grafana` with or without the trailing slash calls /grafana/api/."""
    with fake_grafana(prefix="/grafana") as grafana:
        result = push(grafana.url + slash)
        assert result.exit_code == 0, result.output
        assert grafana.reads and all(p.startswith("/grafana/api/") for p in grafana.reads)
        assert grafana.writes.count("/api/dashboards/db") == len(dashboards())


def test_login_page_is_one_clear_error() -> None:
    """An SSO login page answering 200 with HTML: one line naming the URL, exit 1, no write."""
    with fake_grafana(html_login=True) as grafana:
        result = push(grafana.url)
        assert result.exit_code == 1
        assert f"the server at {grafana.url}/ did not answer like Grafana's HTTP API" in (
            result.stderr
        )
        assert "Sign in" in result.stderr and "Traceback" not in result.output
        assert grafana.writes == []


def test_proxy_404_pages_are_not_taken_for_absent_dashboards() -> None:
    """A wrong path gets a proxy's HTML 404: the dry run fails instead of planning 'create'."""
    with fake_grafana(prefix="/grafana") as grafana:
        wrong = grafana.url.removesuffix("/grafana") + "/grafna"
        result = push(wrong, "--dry-run")
        assert result.exit_code == 1
        assert "did not answer like Grafana's HTTP API" in result.stderr
        assert "404 without Grafana's JSON" in result.stderr
        assert "create" not in result.stdout


@pytest.mark.parametrize("uid", ["", "a/b", "x" * 41, "café"])
def test_folder_uid_grafana_would_refuse(uid: str) -> None:
    """A folder uid outside Grafana's rule is refused before any request, naming the option."""
    with fake_grafana() as grafana:
        result = push(grafana.url, "--folder-uid", uid)
        assert result.exit_code == 2
        assert "--folder-uid" in result.output and "1-40" in result.output
        assert grafana.reads == []


def test_url_must_be_http() -> None:
    """A URL without scheme or host is refused with an example of a good one."""
    result = push("grafana.example.org")
    assert result.exit_code == 2 and "not an http(s) URL" in result.output


def test_missing_datasource_stops_the_push() -> None:
    """Without the datasource the panels name, the plan says so and nothing is written unless
    --allow-missing-datasource; the dry run shows it too."""
    with fake_grafana(datasources={}) as grafana:
        dry = push(grafana.url, "--dry-run")
        assert dry.exit_code == 0, dry.output
        assert "datasource facility-influxdb: missing" in dry.stdout
        refused = push(grafana.url)
        assert refused.exit_code == 1
        assert "nothing pushed: datasource facility-influxdb: missing" in refused.stderr
        assert grafana.writes == []
        forced = push(grafana.url, "--allow-missing-datasource")
        assert forced.exit_code == 0, forced.output
        assert grafana.writes.count("/api/dashboards/db") == len(dashboards())
