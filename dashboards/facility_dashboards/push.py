"""Upload the dashboards to a running Grafana, idempotently, into one folder.

:func:`plan` is pure: from the local dashboards and what Grafana returned for each uid it
decides ``create``, ``update`` or ``unchanged``. :func:`push` is the thin shell around
``grafana-client`` (``GrafanaApi.folder`` / ``GrafanaApi.dashboard``): read, plan, write
only what the plan says. A second push therefore plans nothing and writes nothing.

Grafana adds ``id``, ``version`` (and on some versions ``iteration``) to what it stores;
those are ignored when comparing. Everything else must be equal, and the dashboard must
sit in the folder, or it is updated.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from facility_dashboards.core import FOLDER_TITLE, FOLDER_UID, Json

logger = logging.getLogger(__name__)

Action = Literal["create", "update", "unchanged"]
#: Keys Grafana manages itself in a stored dashboard.
SERVER_KEYS = frozenset({"id", "version", "iteration"})


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


class GrafanaLike(Protocol):
    """What :func:`push` uses of ``grafana_client.GrafanaApi``."""

    folder: FolderApi
    dashboard: DashboardApi


def _not_found(exc: Exception) -> bool:
    return getattr(exc, "status_code", None) == 404


def _get(call: Any, uid: str) -> Json | None:
    try:
        result: Json = call(uid)
    except Exception as exc:
        if _not_found(exc):
            return None
        raise
    return result


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
        grafana_client.client.GrafanaException: any answer but 404 on a read, any error on
            a write (401: the token; 403: its role must be Editor or Admin).
    """
    folder_action = plan_folder(_get(api.folder.get_folder, folder_uid), folder_title)
    remote = {d["uid"]: _get(api.dashboard.get_dashboard, d["uid"]) for d in dashboards}
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
