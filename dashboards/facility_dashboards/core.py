"""Building blocks of the dashboards: the datasource, InfluxQL targets, panels, variables.

Every dashboard reads one InfluxDB datasource by the fixed uid :data:`DATASOURCE_UID`,
which the provisioning file gives the datasource too, so no dashboard depends on the
numeric id of someone else's Grafana. Queries are raw InfluxQL (InfluxDB 1.8+, 2.x through
its DBRP mapping, 3.x) and follow two rules the tests rely on: every measurement, tag,
field and alias is double-quoted, and only the names of :mod:`facility_contracts.schema`
appear. Days and weeks are local: ``tz('Asia/Shanghai')`` on every ``GROUP BY time``
and the dashboards' own time zone is Asia/Shanghai.

Grafana fills ``$timeFilter`` (``time >= Xms and time <= Yms``), ``$__interval``,
``${__from}``/``${__to}`` (epoch ms) and the template variables; a multi-value variable
inside ``/^$var$/`` becomes ``(a|b)`` with regex characters escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

DATASOURCE_UID = "facility-influxdb"
DATASOURCE: dict[str, str] = {"type": "influxdb", "uid": DATASOURCE_UID}
TZ = "Asia/Shanghai"
FOLDER_UID = "facility"
FOLDER_TITLE = "Facility operations"
#: Bumped when the layout of generated dashboards changes in a way Grafana should see.
SCHEMA_VERSION = 39
GROUP_TZ = f"tz('{TZ}')"
#: ISO weeks: InfluxQL's 1w buckets start on Thursday (the epoch); 4d later is Monday.
WEEK = "time(1w, 4d)"

Json = dict[str, Any]


def rx(tag: str, var: str | None = None) -> str:
    """``"tag" =~ /^$var$/``: the tag matches the variable's value(s)."""
    return f'"{tag}" =~ /^${var or tag}$/'


#: Hierarchy filters per measurement family (the gateway's points carry site only).
AGG = (rx("district"), rx("street"), rx("complex"), rx("space"))
COMPLIANCE = (rx("district"), rx("street"), rx("site", "complex"), rx("space"))
RAW_SPACE = (rx("site", "complex"), rx("space"))
RAW_SITE = (rx("site", "complex"),)


def select(
    fields: str,
    measurement: str,
    where: Iterable[str] = (),
    group: Sequence[str] = (),
    *,
    fill: str | None = None,
) -> str:
    """One InfluxQL statement: ``SELECT ... FROM "m" WHERE $timeFilter AND ... GROUP BY ...``.

    ``group`` items are ``time(...)`` clauses or tag names (quoted here); a time group gets
    ``tz('Asia/Shanghai')`` so days and weeks are local.
    """
    parts = [f'SELECT {fields} FROM "{measurement}" WHERE $timeFilter']
    parts += [f"AND {w}" for w in where]
    if group:
        parts.append(
            "GROUP BY " + ", ".join(g if g.startswith("time(") else f'"{g}"' for g in group)
        )
    if fill:
        parts.append(f"fill({fill})")
    if any(g.startswith("time(") for g in group):
        parts.append(GROUP_TZ)
    return " ".join(parts)


def target(ref: str, query: str, *, table: bool = False, alias: str | None = None) -> Json:
    """A raw InfluxQL query of the facility datasource."""
    out: Json = {
        "refId": ref,
        "datasource": DATASOURCE,
        "query": query,
        "rawQuery": True,
        "resultFormat": "table" if table else "time_series",
    }
    if alias is not None:
        out["alias"] = alias
    return out


def math(ref: str, expression: str) -> Json:
    """A Grafana server-side math expression over other targets (``$A / $B * 100``)."""
    return {
        "refId": ref,
        "datasource": {"type": "__expr__", "uid": "__expr__"},
        "type": "math",
        "expression": expression,
    }


def panel(
    kind: str,
    title: str,
    targets: list[Json],
    *,
    description: str,
    unit: str = "short",
    options: Json | None = None,
    defaults: Json | None = None,
    time_from: str | None = None,
    transformations: list[Json] | None = None,
    size: tuple[int, int] = (12, 8),
) -> Json:
    """A panel; ``size`` is (width of 24, height); position and id come from :func:`board`."""
    out: Json = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit, **(defaults or {})}, "overrides": []},
        "options": options or {},
        "gridPos": {"w": size[0], "h": size[1]},
    }
    if time_from:
        out["timeFrom"] = time_from
    if transformations:
        out["transformations"] = transformations
    return out


def thresholds(*steps: tuple[str, float | None]) -> Json:
    """Absolute thresholds, e.g. ``("red", None), ("green", 80)``."""
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]}


def text(title: str, content: str, size: tuple[int, int] = (24, 4)) -> Json:
    """A markdown panel (no query)."""
    return {
        "type": "text",
        "title": title,
        "options": {"mode": "markdown", "content": content},
        "gridPos": {"w": size[0], "h": size[1]},
    }


def variable(name: str, label: str, key: str, where: Sequence[str] = ()) -> Json:
    """A multi-value tag variable read from ``utilisation_daily``, the one measurement that
    carries the whole hierarchy (district, street, complex, space) for every space.

    "All" means every value the query returns under the parent selections (no custom
    all-value), so ``/^$complex$/`` on the gateway's points, which carry only ``site``,
    still honours the chosen district and street.
    """
    query = f'SHOW TAG VALUES FROM "utilisation_daily" WITH KEY = "{key}"'
    if where:
        query += " WHERE " + " AND ".join(where)
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": query,
        "definition": query,
        "refresh": 1,
        "multi": True,
        "includeAll": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
        "hide": 0,
        "regex": "",
        "options": [],
    }


def hierarchy_variables() -> list[Json]:
    """District -> street -> complex -> space, each filtered by the ones above."""
    return [
        variable("district", "District", "district"),
        variable("street", "Street", "street", [rx("district")]),
        variable("complex", "Complex", "complex", [rx("district"), rx("street")]),
        variable("space", "Space", "space", [rx("district"), rx("street"), rx("complex")]),
    ]


def _layout(panels: list[Json]) -> list[Json]:
    """Ids in order and grid positions filled left to right, row by row (24 columns)."""
    x = y = row_h = 0
    out = []
    for n, p in enumerate(panels, 1):
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        out.append({**p, "id": n, "gridPos": {"h": h, "w": w, "x": x, "y": y}})
        x, row_h = x + w, max(row_h, h)
    return out


def board(
    uid: str,
    title: str,
    description: str,
    panels: list[Json],
    *,
    time_from: str = "now-7d",
    refresh: str = "5m",
) -> Json:
    """A whole dashboard in Asia/Shanghai with the hierarchy variables."""
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["facility"],
        "timezone": TZ,
        "weekStart": "monday",
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "refresh": refresh,
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "tags": ["facility"],
                "asDropdown": True,
                "title": "Facility dashboards",
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "templating": {"list": hierarchy_variables()},
        "panels": _layout(panels),
    }
