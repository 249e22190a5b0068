"""Upload the dashboards to a running Grafana, idempotently, into one folder.

:func:`plan` is pure: from the local dashboards and what Grafana returned for each uid it
decides ``create``, ``update`` or ``unchanged``. :func:`push` is the thin shell around
``grafana-client`` (``GrafanaApi.folder`` / ``GrafanaApi.dashboard``): read, plan, write
only what the plan says. A second push therefore plans nothing and writes nothing.

Grafana adds ``id``, ``version`` (and on some versions ``iteration``) to what it stores;
those are ignored when comparing. Everything else must be equal, and the dashboard must
sit in the folder, or it is updated.

Every answer is checked for the shape of Grafana's HTTP API (a JSON object; a 404 with
Grafana's JSON message): an SSO login page or another server answering HTML raises
:class:`NotGrafana` instead of being read as "absent". :func:`check_datasource` says whether
the datasource every panel names (``facility-influxdb``) exists there: push does not create
it (docs/deploy.md, "Pushing to another Grafana").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

from facility_dashboards.core import DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID, Json

logger = logging.getLogger(__name__)

Action = Literal["create", "update", "unchanged"]
#: Keys Grafana manages itself in a stored dashboard.
SERVER_KEYS = frozenset({"id", "version", "iteration"})
#: Grafana's rule for a folder or dashboard uid (``pkg/util/shortid_generator.go``).
UID_PATTERN = re.compile(r"[a-zA-Z0-9_-]{1,40}")


class NotGrafana(Exception):
    """An answer Grafana's HTTP API would not give (HTML login page, wrong host or path)."""


def grafana_url(url: str) -> str:
    """``url`` as grafana-client needs it: a path prefix ends with ``/``.

    ``GrafanaApi.from_url`` joins ``{path}api`` without a separator, so
    ``http://host/grafana`` would call ``/grafanaapi/...``.

    Raises:
        ValueError: not an ``http``/``https`` URL with a host.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"--url {url!r}: not an http(s) URL of Grafana "
            "(e.g. https://grafana.example.org or https://example.org/grafana/)"
        )
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urlunsplit(parts._replace(path=path))


def check_uid(uid: str, field: str = "--folder-uid") -> str:
    """``uid`` when Grafana accepts it (1-40 of ``a-z A-Z 0-9 _ -``).

    Raises:
        ValueError: naming ``field`` and the value.
    """
    if not UID_PATTERN.fullmatch(uid):
        raise ValueError(f"{field} {uid!r}: a Grafana uid is 1-40 of a-z, A-Z, 0-9, '_', '-'")
    return uid


@dataclass(frozen=True, slots=True)
class Step:
    """What to do with one dashboard."""

    uid: str
    title: str
    action: Action


def _stored(dashboard: Json) -> Json:
    return {k: v for k, v in dashboard.items() if k not in SERVER_KEYS}


def plan(
    local: Sequence[Json], remote: Mapping[str, Json | None], folder_uid: str = FOLDER_UID
) -> list[Step]:
    """One step per local dashboard (pure).

    Args:
        local: the dashboards to have.
        remote: uid -> Grafana's ``GET /api/dashboards/uid/{uid}`` answer
            (``{"dashboard": {...}, "meta": {"folderUid": ...}}``), None when absent.
        folder_uid: the folder every dashboard belongs in.
    """
    steps = []
    for d in local:
        got = remote.get(d["uid"])
        if got is None:
            action: Action = "create"
        elif _stored(got["dashboard"]) == d and got.get("meta", {}).get("folderUid") == folder_uid:
            action = "unchanged"
        else:
            action = "update"
        steps.append(Step(d["uid"], d["title"], action))
    return steps


def plan_folder(existing: Json | None, title: str = FOLDER_TITLE) -> Action:
    """``create`` when the folder is missing, ``update`` when its title differs (pure)."""
    if existing is None:
        return "create"
    return "unchanged" if existing.get("title") == title else "update"


class FolderApi(Protocol):
    def get_folder(self, uid: str) -> Json: ...
    def create_folder(self, title: str, uid: str | None = None) -> Json: ...
    def update_folder(
        self, uid: str, title: str | None = None, overwrite: bool = False
    ) -> Json: ...


class DashboardApi(Protocol):
    def get_dashboard(self, dashboard_uid: str) -> Json: ...
    def update_dashboard(self, dashboard: Json) -> Json: ...


class DatasourceApi(Protocol):
    def get_datasource_by_uid(self, datasource_uid: str) -> Json: ...


class GrafanaLike(Protocol):
    """What :func:`push` and :func:`check_datasource` use of ``grafana_client.GrafanaApi``."""

    folder: FolderApi
    dashboard: DashboardApi
    datasource: DatasourceApi


def _unlike(what: str, got: object) -> NotGrafana:
    text = " ".join(str(got).split())
    kind = "text" if isinstance(got, str) else f"JSON {type(got).__name__}"
    return NotGrafana(f"{what} {kind} {text[:80]!r}")


def _get(call: Any, uid: str, what: str, need: str) -> Json | None:
    """Grafana's answer for ``uid`` (a JSON object holding ``need``); None on its 404.

    Raises:
        NotGrafana: not JSON, not an object, no ``need`` key, or a 404 without JSON.
        grafana_client.client.GrafanaException: any other error status.
    """
    try:
        result = call(uid)
    except ValueError as exc:  # a JSON content type with another body
        raise NotGrafana(f"GET {what}: not JSON ({exc})") from exc
    except Exception as exc:
        if getattr(exc, "status_code", None) != 404:
            raise
        response = getattr(exc, "response", None)
        if isinstance(response, dict):
            return None
        raise _unlike(f"GET {what} answered 404 without Grafana's JSON:", response) from exc
    if not isinstance(result, dict) or need not in result:
        raise _unlike(f"GET {what} answered", result)
    return result


@dataclass(frozen=True, slots=True)
class DatasourceCheck:
    """Whether the datasource the panels name can serve them.

    Attributes:
        uid: the datasource uid every panel names.
        state: ``ok``; ``missing``; ``wrong_type`` (not InfluxDB with InfluxQL);
            ``unchecked`` (the token may not read datasources: 403).
        detail: one line for the operator.
    """

    uid: str
    state: Literal["ok", "missing", "wrong_type", "unchecked"]
    detail: str

    @property
    def blocks(self) -> bool:
        """True when pushing would give dashboards whose every panel fails."""
        return self.state in ("missing", "wrong_type")


def check_datasource(api: GrafanaLike, uid: str = DATASOURCE_UID) -> DatasourceCheck:
    """Look the datasource up (``GET /api/datasources/uid/{uid}``).

    Raises:
        NotGrafana: an answer that is not Grafana's.
        grafana_client.client.GrafanaException: any error but 403 and 404.
    """
    try:
        got = _get(api.datasource.get_datasource_by_uid, uid, f"/api/datasources/uid/{uid}", "type")
    except Exception as exc:
        if getattr(exc, "status_code", None) != 403:
            raise
        return DatasourceCheck(uid, "unchecked", "not checked: the token may not read datasources")
    if got is None:
        return DatasourceCheck(uid, "missing", "missing: every panel would fail")
    version = (got.get("jsonData") or {}).get("version", "InfluxQL")
    if got["type"] != "influxdb" or version != "InfluxQL":
        kind = f"{got['type']} ({version})" if got["type"] == "influxdb" else got["type"]
        return DatasourceCheck(uid, "wrong_type", f"is {kind}: the panels need InfluxDB, InfluxQL")
    return DatasourceCheck(uid, "ok", f"ok ({got.get('name', uid)})")


def push(
    api: GrafanaLike,
    dashboards: Sequence[Json],
    *,
    folder_uid: str = FOLDER_UID,
    folder_title: str = FOLDER_TITLE,
    dry_run: bool = False,
) -> tuple[Action, list[Step]]:
    """Make Grafana hold ``dashboards`` in the folder; returns the folder action and steps.

    Raises:
        NotGrafana: an answer that is not Grafana's (nothing written then).
        grafana_client.client.GrafanaException: any answer but 404 on a read, any error on
            a write (401: the token; 403: its role must be Editor or Admin).
    """
    folder = _get(api.folder.get_folder, folder_uid, f"/api/folders/{folder_uid}", "uid")
    folder_action = plan_folder(folder, folder_title)
    remote = {
        d["uid"]: _get(
            api.dashboard.get_dashboard, d["uid"], f"/api/dashboards/uid/{d['uid']}", "dashboard"
        )
        for d in dashboards
    }
    steps = plan(dashboards, remote, folder_uid)
    if dry_run:
        return folder_action, steps
    if folder_action == "create":
        api.folder.create_folder(folder_title, uid=folder_uid)
    elif folder_action == "update":
        api.folder.update_folder(folder_uid, title=folder_title, overwrite=True)
    by_uid = {d["uid"]: d for d in dashboards}
    for step in steps:
        if step.action == "unchanged":
            continue
        api.dashboard.update_dashboard(
            {
                "dashboard": by_uid[step.uid],
                "folderUid": folder_uid,
                "overwrite": True,
                "message": "facility dashboards push",
            }
        )
        logger.info("dashboard %s (%s): %s", step.uid, step.title, step.action)
    return folder_action, steps
