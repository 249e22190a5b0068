"""PointWriter: one suite for InfluxWriter (on VictoriaMetrics) and EmbeddedStore, plus the
parts only one of them has (HTTP status mapping, InfluxQL probe, embedded read helpers)."""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import threading
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from facility_cli.services import InfluxDB1, VictoriaMetrics
from facility_gateway.embedded import BucketSum, EmbeddedStore
from facility_gateway.errors import StoreRejected, StoreUnavailable
from facility_gateway.influx import InfluxWriter
from facility_gateway.points import Point, make_point, to_body
from facility_gateway.settings import load_settings
from facility_gateway.writer import PointWriter, make_writer
from gw_support import now_ms, vm_export

pytestmark = pytest.mark.integration

HOUR_NS = 3600 * 10**9


@dataclass
class Subject:
    """A writer under test plus a way to make its store unavailable."""

    writer: PointWriter
    site: str
    outage: Callable[[], contextlib.AbstractContextManager[None]]
    reads_fail: bool  # whether existing() fails during the outage too


def door(
    site: str, seq: int, ms: int, *, space: str = "hall", device: str = "dc-1", n_in: int = 1
) -> Point:
    return make_point(
        "door_crossing",
        {"site": site, "device": device, "space": space, "clock": "synced"},
        {"in": n_in, "out": 0, "seq": seq},
        ms * 10**6 + seq % 10**6,
    )


@contextlib.contextmanager
def _vm_down(vm: VictoriaMetrics) -> Iterator[None]:
    vm.kill()
    try:
        yield
    finally:
        vm.start()


@contextlib.contextmanager
def _sqlite_locked(path: Path) -> Iterator[None]:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


@pytest.fixture(params=["victoria", "embedded"])
def subject(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    site_id: str,
    victoria_factory: Callable[..., VictoriaMetrics],
) -> Iterator[Subject]:
    """Each PointWriter implementation with its own store."""
    if request.param == "victoria":
        vm = victoria_factory()
        writer: PointWriter = InfluxWriter(
            vm.url, bucket="facility", query="victoriametrics", timeout_s=2
        )
        outage = functools.partial(_vm_down, vm)
    else:
        path = tmp_path / "points.sqlite"
        writer = EmbeddedStore(path, busy_timeout_s=0.2)
        outage = functools.partial(_sqlite_locked, path)
    yield Subject(writer, site_id, outage, reads_fail=request.param == "victoria")
    writer.close()


def test_written_points_exist(subject: Subject) -> None:
    """After write(), existing() reports every point written."""
    ms = now_ms()
    points = [door(subject.site, seq, ms + seq) for seq in range(1, 51)]
    subject.writer.write(points)
    assert subject.writer.existing(points) == set(points)


def test_unwritten_points_do_not_exist(subject: Subject) -> None:
    """Other times, other seq in the same ms, and other tag sets are not reported."""
    ms = now_ms()
    stored = door(subject.site, 7, ms)
    subject.writer.write([stored])
    others = [
        door(subject.site, 7, ms + 1),  # another millisecond
        door(subject.site, 8, ms),  # same millisecond, another event
        door(subject.site, 7, ms, space="gym"),  # another series
        make_point(
            "door_crossing",
            {"site": subject.site, "device": "dc-1"},
            {"in": 1, "out": 0, "seq": 7},
            stored.time_ns,
        ),  # a tag subset
    ]
    assert subject.writer.existing([stored, *others]) == {stored}


def test_escaped_tags_round_trip(subject: Subject) -> None:
    """Tag values with blanks, commas, = and unicode are stored and found again."""
    ms = now_ms()
    point = door(subject.site, 3, ms, space="文化站 二楼,a=b")
    subject.writer.write([point])
    assert subject.writer.existing([point]) == {point}


def test_empty_write_is_a_no_op(subject: Subject) -> None:
    """Writing nothing succeeds and asks nothing."""
    subject.writer.write([])
    assert subject.writer.existing([]) == set()


def test_outage_raises_store_unavailable_then_recovers(subject: Subject) -> None:
    """While the store is down write() raises StoreUnavailable (and existing() too, for a
    server; a locked SQLite file still answers reads in WAL mode); afterwards both work."""
    point = door(subject.site, 1, now_ms())
    with subject.outage():
        with pytest.raises(StoreUnavailable):
            subject.writer.write([point])
        if subject.reads_fail:
            with pytest.raises(StoreUnavailable):
                subject.writer.existing([point])
        else:
            assert subject.writer.existing([point]) == set()
    subject.writer.write([point])
    assert subject.writer.existing([point]) == {point}


def test_writers_implement_the_protocol(tmp_path: Path) -> None:
    """The factory builds both implementations from settings, and both are PointWriters."""
    embedded = make_writer(load_settings(writer="embedded", embedded_path=tmp_path / "p.sqlite"))
    settings = load_settings(influx_url="http://127.0.0.1:9", influx_token="t")  # noqa: S106
    influx = make_writer(settings)
    assert isinstance(embedded, EmbeddedStore) and isinstance(influx, InfluxWriter)
    assert all(isinstance(w, PointWriter) for w in (embedded, influx))
    embedded.close()
    influx.close()


# --- InfluxWriter only -------------------------------------------------------------------


class _Stub(BaseHTTPRequestHandler):
    status = 503

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"code":"x","message":"stub"}')

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (503, StoreUnavailable),
        (500, StoreUnavailable),
        (401, StoreUnavailable),
        (429, StoreUnavailable),
        (400, StoreRejected),
        (413, StoreRejected),
    ],
)
def test_http_status_mapping(status: int, error: type[Exception]) -> None:
    """5xx/401/429 mean unavailable (retry); 400/413 mean the body is refused."""
    handler = type("H", (_Stub,), {"status": status})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    writer = InfluxWriter(f"http://127.0.0.1:{server.server_port}", bucket="b", timeout_s=2)
    try:
        with pytest.raises(error, match=str(status)):
            writer.write([door("s", 1, now_ms())])
    finally:
        writer.close()
        server.shutdown()
        server.server_close()


def test_gzip_write_to_victoriametrics(victoria: VictoriaMetrics, site_id: str) -> None:
    """Gzipped bodies are accepted and stored field by field as m_f metrics."""
    writer = InfluxWriter(victoria.url, bucket="facility", query="victoriametrics", gzip=True)
    ms = now_ms()
    writer.write([door(site_id, 5, ms, n_in=3)])
    writer.close()
    rows = vm_export(victoria.url, f'{{__name__=~"door_crossing_.*",site="{site_id}"}}')
    got = {r["metric"]["__name__"]: (r["values"], r["timestamps"]) for r in rows}
    assert got == {
        "door_crossing_in": ([3], [ms]),
        "door_crossing_out": ([0], [ms]),
        "door_crossing_seq": ([5], [ms]),
    }


def test_influxql_probe_on_influxdb(influxdb1: InfluxDB1) -> None:
    """existing() through InfluxQL /query finds exactly the points loaded with /write."""
    db = "gw" + uuid.uuid4().hex[:8]
    q = urllib.parse.urlencode({"q": f'CREATE DATABASE "{db}"'}).encode()
    urllib.request.urlopen(f"{influxdb1.url}/query", data=q, timeout=10).read()  # noqa: S310
    ms = now_ms()
    stored = [door("xh-01", 1, ms), door("xh-01", 2, ms, space="阅览室 1,a=b")]
    write_url = f"{influxdb1.url}/write?db={db}&precision=ns"
    urllib.request.urlopen(write_url, data=to_body(stored), timeout=10).read()  # noqa: S310
    writer = InfluxWriter(influxdb1.url, bucket=db, query="influxql")
    missing = [
        door("xh-01", 3, ms),
        door("xh-01", 1, ms, device="dc-2"),
        make_point(
            "door_crossing",
            {"site": "xh-01", "device": "dc-1"},
            {"in": 1, "out": 0, "seq": 1},
            stored[0].time_ns,
        ),
    ]
    try:
        assert writer.existing(stored + missing) == set(stored)
        other = InfluxWriter(influxdb1.url, bucket="no_such_db", query="influxql")
        assert other.existing(stored) == set()
        other.close()
    finally:
        writer.close()


# --- EmbeddedStore only -----------------------------------------------------------------


def test_embedded_last_write_wins(tmp_path: Path) -> None:
    """One point per series and time: a rewrite merges fields, the new values winning."""
    store = EmbeddedStore(tmp_path / "p.sqlite")
    first = make_point("m", {"a": "1"}, {"x": 1, "y": 2}, 10)
    store.write([first, make_point("m", {"a": "1"}, {"y": 5, "z": "new"}, 10)])
    assert store.count("m") == 1
    assert store.points("m")[0].field_dict() == {"x": 1, "y": 5, "z": "new"}
    store.close()


def test_embedded_sums_per_local_day_and_space(tmp_path: Path) -> None:
    """Sums per Asia/Shanghai day (UTC+8, offset -8 h) and per space, as the demo reads them."""
    store = EmbeddedStore(tmp_path / "p.sqlite")
    day0 = 1764345600 * 10**9  # 2025-11-28T16:00:00Z = 2025-11-29 00:00 in Hangzhou
    store.write(
        [
            door("xh", 1, day0 // 10**6, space="gym", n_in=2),  # 00:00 local, day 29
            door("xh", 2, (day0 + 7 * HOUR_NS) // 10**6, space="gym", n_in=3),
            door("xh", 3, (day0 + 9 * HOUR_NS) // 10**6, space="lib", n_in=4),
            door("xh", 4, (day0 - 1) // 10**6, space="gym", n_in=10),  # 23:59:59 on day 28
            door("xh", 5, (day0 + 24 * HOUR_NS) // 10**6, space="lib", n_in=1),  # day 30
        ]
    )
    day = 24 * HOUR_NS
    got = store.sum_by_bucket("door_crossing", "in", 86400, group_by="space", offset_s=-8 * 3600)
    assert got == [
        BucketSum(day0 - day, "gym", 10),
        BucketSum(day0, "gym", 5),
        BucketSum(day0, "lib", 4),
        BucketSum(day0 + day, "lib", 1),
    ]
    ungrouped = store.sum_by_bucket(
        "door_crossing", "in", 86400, offset_s=-8 * 3600, start_ns=day0, end_ns=day0 + day
    )
    assert ungrouped == [BucketSum(day0, "", 9)]
    assert [
        p.field_dict()["seq"] for p in store.points("door_crossing", tags={"space": "lib"})
    ] == [3, 5]
    store.close()
