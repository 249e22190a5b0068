"""What Grafana does to a panel's InfluxQL before sending it, and to its time range.

Only the parts the dashboards use: ``$timeFilter``, ``$__interval``, ``${__from}``,
``${__to}``, multi-value template variables in regex position (Grafana's InfluxDB
datasource escapes regex characters and ``/`` and joins several values as ``(a|b)``),
and the panel's relative time (``now/d``, ``now-7d/d``, ``now-3w/w``, ``now-1h``) in the
dashboard's time zone (weeks start on Monday).
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

_SPECIAL = re.compile(r"([\\^$*+?.()|\[\]{}/])")
_VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")
_RELATIVE = re.compile(r"^now(?:-(\d+)([mhdwy]))?(?:/([dwy]))?$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def regex_value(values: Sequence[str]) -> str:
    """A multi-value variable's text inside ``/^...$/``."""
    escaped = [_SPECIAL.sub(r"\\\1", v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def interpolate(
    query: str,
    *,
    start: datetime,
    end: datetime,
    interval: str = "1h",
    variables: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The query text Grafana sends for this range, interval and variable selection."""
    start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    fixed = {
        "timeFilter": f"time >= {start_ms}ms and time <= {end_ms}ms",
        "__interval": interval,
        "__from": str(start_ms),
        "__to": str(end_ms),
    }
    variables = variables or {}

    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name in fixed:
            return fixed[name]
        if name in variables:
            return regex_value(variables[name])
        raise KeyError(f"unknown variable ${name} in {query}")

    return _VAR.sub(one, query)


def panel_range(
    time_from: str | None, start: datetime, end: datetime, now: datetime
) -> tuple[datetime, datetime]:
    """The range a panel queries: the dashboard's, or its own relative time up to ``now``."""
    if time_from is None:
        return start, end
    m = _RELATIVE.match(time_from)
    if not m:
        raise ValueError(f"relative time {time_from!r} not understood")
    amount, unit, round_to = m.groups()
    t = now
    if amount:
        t -= timedelta(**{_UNITS[unit]: int(amount)})
    if round_to in ("d", "w"):
        t = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if round_to == "w":  # the dashboards' weekStart is Monday
        t -= timedelta(days=t.weekday())
    elif round_to and round_to != "d":
        raise ValueError(f"rounding /{round_to} not used by the dashboards")
    return t, now


def targets(dashboard: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """``(panel, target)`` for every InfluxQL target of a dashboard."""
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            if "query" in target:
                yield panel, target


class Influx:
    """A tiny InfluxQL client for the 1.x HTTP API (``/query``, ``/write``)."""

    def __init__(self, url: str, db: str) -> None:
        self.url, self.db = url, db

    def _post(self, path: str, params: Mapping[str, str], body: bytes = b"") -> bytes:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 - loopback
        with urllib.request.urlopen(request, timeout=30) as r:  # noqa: S310
            return r.read()

    def create(self) -> None:
        self._post("/query", {"q": f'CREATE DATABASE "{self.db}"'})

    def write(self, body: bytes) -> None:
        self._post("/write", {"db": self.db, "precision": "ns"}, body)

    def query(self, q: str) -> list[dict[str, Any]]:
        """The series of one statement; raises AssertionError on an InfluxQL error."""
        raw = json.loads(self._post("/query", {"db": self.db, "q": q, "epoch": "ms"}))
        result = raw["results"][0]
        assert "error" not in result, f"{result['error']}\n{q}"
        return list(result.get("series", []))
