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
#: Hours from InfluxQL's week boundary (Thursday 00:00) to Monday 00:00.
MONDAY_H = 96

Json = dict[str, Any]

#: A stat, gauge or bar gauge panel's ``reduceOptions``: each series' last non-null value.
LAST_VALUE: Json = {"calcs": ["lastNotNull"], "fields": "", "values": False}


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


def hourly(field: str, measurement: str, where: Iterable[str]) -> str:
    """``sum(field)`` per local clock hour as ``"v"``, every hour of the range present
    (``fill(0)``: an hour without points is a zero, not a gap)."""
    return select(f'sum("{field}") AS "v"', measurement, where, ["time(1h)"], fill="0")


def slot_means(
    hourly_query: str, slots: Sequence[tuple[str, int]], period: str, first_h: int
) -> str:
    """Mean of an hourly series at fixed hours of a day or week, over the range's periods.

    ``period`` is ``"1d"`` or ``"1w"``; the panel's range must start at a local midnight
    (``1d``) or a Monday midnight (``1w``), e.g. ``now-29d/d`` or ``now-3w/w``. Each slot
    ``(alias, h)`` is hour ``h`` of the period (0 = the period's first hour): a source
    groups the hourly series into periods starting at that hour and takes each period's
    first value, which is exactly the slot's hour; the source's own lower bound,
    ``${__from}ms + h``, is a period boundary, so no period starts before the range (its
    first value would be the range's first hour, and InfluxDB 1.6 then returns no row at
    all). The outer ``mean`` runs over the periods in which the slot
    has already begun. Its time is its lower bound, ``${__from}ms + first_h``, which labels
    the row (hour ``first_h`` of the first period); 24 slots make a ~11 kB statement.

    Raises:
        ValueError: ``first_h`` is after a slot's hour (the outer bound would drop it).
    """
    if first_h > min(h for _, h in slots):
        raise ValueError(f"first_h={first_h} is after a slot: the row would drop it")
    hours = {"1d": 24, "1w": 168}[period]
    shift = MONDAY_H if period == "1w" else 0
    sources = ", ".join(
        f'(SELECT first("v") AS "s{n}" FROM ({hourly_query}) WHERE time >= ${{__from}}ms + {h}h '
        f"GROUP BY time({period}, {(shift + h) % hours}h) {GROUP_TZ})"
        for n, (_, h) in enumerate(slots)
    )
    means = ", ".join(f'mean("s{n}") AS "{alias}"' for n, (alias, _) in enumerate(slots))
    return (
        f"SELECT {means} FROM {sources} "
        f"WHERE time >= ${{__from}}ms + {first_h}h AND time <= ${{__to}}ms"
    )


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
    overrides: list[Json] | None = None,
    size: tuple[int, int] = (12, 8),
) -> Json:
    """A panel; ``size`` is (width of 24, height); position and id come from :func:`board`."""
    out: Json = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": targets,
        "fieldConfig": {
            "defaults": {"unit": unit, **(defaults or {})},
            "overrides": overrides or [],
        },
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
