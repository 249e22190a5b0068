"""An embedded point store on SQLite, with InfluxDB's point semantics.

For the demo and for machines without a time-series server. One point per
measurement + tag set + time (ns, UTC); writing it again merges the field sets with
the new values winning ("last write wins", as InfluxDB does for duplicate points).
Fields keep their types (JSON integers stay integers). The read helpers below are
what the demo needs: points of a measurement, and a field summed per time bucket and
tag value.

The file is opened in WAL mode so a reader in another process (the demo's web page)
never blocks the gateway's writes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from facility_gateway.errors import StoreUnavailable
from facility_gateway.points import FieldValue, Point, make_point, series_key

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    measurement TEXT NOT NULL,
    series TEXT NOT NULL,
    time_ns INTEGER NOT NULL,
    tags TEXT NOT NULL,
    fields TEXT NOT NULL,
    PRIMARY KEY (measurement, series, time_ns)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS points_by_time ON points (measurement, time_ns);
"""
_UPSERT = (
    "INSERT INTO points (measurement, series, time_ns, tags, fields) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (measurement, series, time_ns) DO UPDATE SET "
    "fields = json_patch(points.fields, excluded.fields)"
)


class BucketSum(NamedTuple):
    """One row of :meth:`EmbeddedStore.sum_by_bucket`.

    Attributes:
        start_ns: bucket start, ns since the Unix epoch (UTC).
        group: the grouping tag's value ("" when not grouped or the tag is absent).
        total: sum of the field over the bucket (int for integer fields).
    """

    start_ns: int
    group: str
    total: int | float


def _json_key(name: str) -> str:
    return '$."' + name.replace('"', '\\"') + '"'


class EmbeddedStore:
    """:class:`~facility_gateway.writer.PointWriter` on a SQLite file.

    Args:
        path: the SQLite file (created with its table when missing).
        busy_timeout_s: how long to wait for another process's lock before
            :class:`StoreUnavailable`, s.
    """

    def __init__(self, path: Path | str, *, busy_timeout_s: float = 5.0) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open embedded store {self.path}: {exc}") from exc

    def write(self, points: Sequence[Point]) -> None:
        """Store points in one transaction (last write wins per series and time).

        Raises:
            StoreUnavailable: the file is locked by another process, read-only or full.
        """
        rows = [
            (
                p.measurement,
                series_key(p),
                p.time_ns,
                json.dumps(dict(p.tags)),
                json.dumps(dict(p.fields), allow_nan=False),
            )
            for p in points
        ]
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(_UPSERT, rows)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StoreUnavailable(f"embedded store {self.path}: {exc}") from exc

    def existing(self, points: Sequence[Point]) -> set[Point]:
        """Which points are stored (same measurement, tag set and time)."""
        found: set[Point] = set()
        with self._lock:
            try:
                for p in points:
                    row = self._db.execute(
                        "SELECT 1 FROM points WHERE measurement = ? AND series = ? AND time_ns = ?",
                        (p.measurement, series_key(p), p.time_ns),
                    ).fetchone()
                    if row is not None:
                        found.add(p)
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"embedded store {self.path}: {exc}") from exc
        return found

    def points(
        self,
        measurement: str,
        *,
        start_ns: int = 0,
        end_ns: int = 2**63 - 1,
        tags: Mapping[str, str] | None = None,
    ) -> list[Point]:
        """Points of ``measurement`` with ``start_ns <= time < end_ns``, oldest first,
        optionally only those whose tags include ``tags``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT time_ns, tags, fields FROM points WHERE measurement = ? "
                "AND time_ns >= ? AND time_ns < ? ORDER BY time_ns, series",
                (measurement, start_ns, end_ns),
            ).fetchall()
        out = []
        for time_ns, tag_json, field_json in rows:
            tag_map: dict[str, str] = json.loads(tag_json)
            if tags and any(tag_map.get(k) != v for k, v in tags.items()):
                continue
            fields: dict[str, FieldValue] = json.loads(field_json)
            out.append(make_point(measurement, tag_map, fields, time_ns))
        return out

    def sum_by_bucket(
        self,
        measurement: str,
        field: str,
        bucket_s: int,
        *,
        start_ns: int = 0,
        end_ns: int = 2**63 - 1,
        group_by: str | None = None,
        offset_s: int = 0,
    ) -> list[BucketSum]:
        """Sum ``field`` per time bucket (and per value of tag ``group_by``).

        Buckets are ``bucket_s`` seconds long and start at multiples of ``bucket_s``
        shifted by ``offset_s`` (like InfluxQL ``GROUP BY time(1d, -8h)``: local days in
        Asia/Shanghai, UTC+8, are ``bucket_s=86400, offset_s=-8*3600``). Point times
        must be later than 1970-01-02 UTC (SQLite divides integers toward zero).

        Returns:
            Rows ordered by bucket start, then group value.
        """
        if bucket_s <= 0:
            raise ValueError("bucket_s must be positive")
        width, shift = bucket_s * 10**9, (offset_s % bucket_s) * 10**9
        field_path = _json_key(field)
        group_path = _json_key(group_by) if group_by else "$.__none__"
        sql = (
            "SELECT ((time_ns - ?) / ?) * ? + ? AS bucket, "
            "COALESCE(json_extract(tags, ?), '') AS grp, SUM(json_extract(fields, ?)) "
            "FROM points WHERE measurement = ? AND time_ns >= ? AND time_ns < ? "
            "AND json_extract(fields, ?) IS NOT NULL "
            "GROUP BY bucket, grp ORDER BY bucket, grp"
        )
        params = (
            shift,
            width,
            width,
            shift,
            group_path,
            field_path,
            measurement,
            start_ns,
            end_ns,
            field_path,
        )
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [BucketSum(int(b), str(g), t) for b, g, t in rows]

    def count(self, measurement: str) -> int:
        """How many points ``measurement`` has."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM points WHERE measurement = ?", (measurement,)
            ).fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()
