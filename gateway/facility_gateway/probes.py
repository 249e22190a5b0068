"""Asking a point store which points it already holds (the in-doubt path).

Two dialects, one request per call whatever the number of points:

- :class:`InfluxQLProbe`: ``GET /query?db=..&epoch=ns`` with one ``SELECT`` per series,
  served by InfluxDB 1.x, by 2.x (v1 compatibility, needs a DBRP mapping for the
  bucket) and by 3.x. Times are exact nanoseconds.
- :class:`VictoriaMetricsProbe`: ``POST /api/v1/export`` with one ``match[]`` per
  series. VictoriaMetrics maps field ``f`` of measurement ``m`` to metric ``m_f`` and
  keeps milliseconds only, so a point exists when its series has a sample at the same
  millisecond whose value equals the point's probe field (``seq`` when present, which
  tells apart two events of one device in the same millisecond). It first asks
  ``/internal/force_flush``: freshly written series otherwise stay invisible for about
  ten seconds.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Sequence

from facility_gateway.errors import StoreUnavailable
from facility_gateway.points import Point, TagSet


def http_request(
    method: str,
    url: str,
    *,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout_s: float = 10.0,
) -> bytes:
    """One HTTP request; returns the body of a 2xx answer.

    Raises:
        StoreUnavailable: connection failure, timeout, or any non-2xx status.
    """
    if not url.startswith(("http://", "https://")):
        raise StoreUnavailable(f"not an http(s) URL: {url}")
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310
            return bytes(resp.read())
    except urllib.error.HTTPError as exc:
        body = exc.read()[:300].decode(errors="replace")
        raise StoreUnavailable(f"HTTP {exc.code} from {url.split('?')[0]}: {body}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise StoreUnavailable(f"cannot reach {url.split('?')[0]}: {exc}") from exc


def _by_series(points: Sequence[Point]) -> dict[tuple[str, TagSet], list[Point]]:
    groups: dict[tuple[str, TagSet], list[Point]] = defaultdict(list)
    for p in points:
        groups[(p.measurement, p.tags)].append(p)
    return groups


def probe_field(point: Point) -> tuple[str, float] | None:
    """The numeric field used to recognise the point in VictoriaMetrics (``seq`` first)."""
    numeric = [(k, float(v)) for k, v in point.fields if not isinstance(v, str)]
    for k, v in numeric:
        if k == "seq":
            return k, v
    return numeric[0] if numeric else None


def _prom_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class VictoriaMetricsProbe:
    """Existence check through VictoriaMetrics' ``/api/v1/export``."""

    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def _export(self, selectors: list[str], start_ms: int, end_ms: int) -> list[dict[str, object]]:
        form = [("match[]", s) for s in selectors]
        form += [("start", f"{start_ms / 1000:.3f}"), ("end", f"{end_ms / 1000:.3f}")]
        body = http_request(
            "POST",
            f"{self.url}/api/v1/export",
            data=urllib.parse.urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout_s=self.timeout_s,
        )
        return [json.loads(line) for line in body.splitlines() if line.strip()]

    def existing(self, points: Sequence[Point]) -> set[Point]:
        """Which points are stored (see the module docstring)."""
        wanted: dict[tuple[str, TagSet], list[tuple[Point, float]]] = defaultdict(list)
        for p in points:
            probe = probe_field(p)
            if probe is not None:
                wanted[(f"{p.measurement}_{probe[0]}", p.tags)].append((p, probe[1]))
        if not wanted:
            return set()
        with contextlib.suppress(StoreUnavailable):  # the export tells whether it is there
            http_request("GET", f"{self.url}/internal/force_flush", timeout_s=self.timeout_s)
        selectors = sorted(
            {
                "{"
                + ",".join(
                    [f"__name__={_prom_string(name)}"] + [f"{k}={_prom_string(v)}" for k, v in tags]
                )
                + "}"
                for name, tags in wanted
            }
        )
        times = [p.time_ms for p in points]
        samples: dict[tuple[str, TagSet], set[tuple[int, float]]] = defaultdict(set)
        for row in self._export(selectors, min(times), max(times)):
            labels = dict(row["metric"])  # type: ignore[call-overload]
            name = labels.pop("__name__")
            labels.pop("db", None)
            key = (name, tuple(sorted(labels.items())))
            samples[key].update(
                zip(
                    row["timestamps"],
                    map(float, row["values"]),  # type: ignore[call-overload]
                    strict=True,
                )
            )
        return {
            p
            for key, items in wanted.items()
            for p, value in items
            if (p.time_ms, value) in samples.get(key, ())
        }


def _ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class InfluxQLProbe:
    """Existence check through InfluxQL on the v1 ``/query`` endpoint."""

    #: SELECT statements per request.
    STATEMENTS = 50

    def __init__(
        self, url: str, *, database: str, token: str | None = None, timeout_s: float = 10.0
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.headers = {"Authorization": f"Token {token}"} if token else {}
        self.timeout_s = timeout_s

    @staticmethod
    def statement(measurement: str, tags: TagSet, field: str, start_ns: int, end_ns: int) -> str:
        """``SELECT`` of one series' ``field`` between two times (inclusive, ns)."""
        where = [f"{_ident(k)} = {_literal(v)}" for k, v in tags]
        where += [f"time >= {start_ns}", f"time <= {end_ns}"]
        # identifiers and literals are escaped by _ident/_literal (InfluxQL spec)
        return (
            f"SELECT {_ident(field)} FROM {_ident(measurement)} "  # noqa: S608
            f"WHERE {' AND '.join(where)} GROUP BY *"
        )

    def _query(self, statements: list[str]) -> list[dict[str, object]]:
        query = urllib.parse.urlencode(
            {"db": self.database, "epoch": "ns", "q": ";".join(statements)}
        )
        body = http_request(
            "GET", f"{self.url}/query?{query}", headers=self.headers, timeout_s=self.timeout_s
        )
        results: list[dict[str, object]] = json.loads(body).get("results", [])
        errors = [str(r["error"]) for r in results if r.get("error")]
        if errors and all(e == "not executed" for e in errors) and len(statements) > 1:
            # InfluxDB 1.x reports a missing database of a multi-statement query only as
            # "not executed": ask the first statement alone for the real reason.
            if not self._query(statements[:1]):
                return []
            raise StoreUnavailable(f"InfluxQL statements not executed by {self.url}")
        if any(e.startswith("database not found") for e in errors):
            return []  # nothing was ever written there
        if errors:
            raise StoreUnavailable(f"InfluxQL error from {self.url}: {errors[0]}")
        return results

    def existing(self, points: Sequence[Point]) -> set[Point]:
        """Which points are stored (exact measurement, tag set and ns time)."""
        groups = list(_by_series(points).items())
        found: set[Point] = set()
        for start in range(0, len(groups), self.STATEMENTS):
            part = groups[start : start + self.STATEMENTS]
            statements = [
                self.statement(
                    m,
                    tags,
                    pts[0].fields[0][0],
                    min(p.time_ns for p in pts),
                    max(p.time_ns for p in pts),
                )
                for (m, tags), pts in part
            ]
            results = {r.get("statement_id"): r for r in self._query(statements)}
            for index, ((_m, tags), pts) in enumerate(part):
                stored: set[int] = set()
                for series in results.get(index, {}).get("series", []) or []:  # type: ignore[attr-defined]
                    series_tags = {k: v for k, v in (series.get("tags") or {}).items() if v}
                    if series_tags == dict(tags):
                        stored.update(int(row[0]) for row in series.get("values", []))
                found.update(p for p in pts if p.time_ns in stored)
        return found
