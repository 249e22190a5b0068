"""Hourly and daily utilisation points: tags and fields from the stored aggregates, written
through the gateway's writers (the embedded store, and VictoriaMetrics for real)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from datetime import date
from pathlib import Path

import pytest
from facility_contracts.schema import MEASUREMENTS
from facility_gateway.embedded import EmbeddedStore
from facility_gateway.influx import InfluxWriter
from facility_server.utilisation.refresh import refresh_days
from facility_server.utilisation.series import points_for, write_series
from sqlalchemy.orm import Session, sessionmaker

from .helpers import add_crossings, example, local, ms

EVENTS = [(local(2026, 6, 2, 10, 0), 3, 0), (local(2026, 6, 2, 10, 30), 0, 3)]


def _filled(factory: sessionmaker[Session], site: str) -> None:
    with factory() as session:
        _, spaces = example(session, site)
        add_crossings(session, spaces["culture"], EVENTS)
        refresh_days(session, local(2026, 6, 3), date(2026, 6, 2), date(2026, 6, 2))
        session.commit()


def test_points_follow_the_schema(
    factory: sessionmaker[Session], tmp_path: Path, site_id: str
) -> None:
    """Every point's tags and field types are those of the schema; the culture hour
    10:00 has 3 visits and 30 occupied minutes, the day 3 visits and 3 people peak."""
    _filled(factory, site_id)
    with factory() as session:
        points = points_for(session, date(2026, 6, 2), date(2026, 6, 3))
    for p in points:
        spec = MEASUREMENTS[p.measurement]
        assert set(p.tag_dict()) <= set(spec.tags)
        for name, value in p.fields:
            assert type(value).__name__ == spec.field(name).type
    hour = [
        p
        for p in points
        if p.measurement == "utilisation_hourly"
        and p.tag_dict()["space"] == "culture"
        and p.time_ms == ms(local(2026, 6, 2, 10))
    ]
    assert hour[0].field_dict()["visits"] == 3
    assert hour[0].field_dict()["occupied_min"] == 30.0
    assert hour[0].tag_dict() == {
        "district": "xihu",
        "street": "xihu/beishan",
        "complex": site_id,
        "space": "culture",
        "space_type": "culture",
    }
    store = EmbeddedStore(tmp_path / "points.db")
    with factory() as session:
        n = write_series(session, store, date(2026, 6, 2), date(2026, 6, 3))
    assert n == len(points)
    (day,) = store.points("utilisation_daily", tags={"space": "culture"})
    assert (day.field_dict()["visits"], day.field_dict()["peak_occupancy"]) == (3, 3)
    assert day.time_ms == ms(local(2026, 6, 2))


@pytest.mark.integration
def test_write_to_victoriametrics(factory: sessionmaker[Session], victoria, site_id: str) -> None:  # type: ignore[no-untyped-def]
    """The daily point reaches VictoriaMetrics as utilisation_daily_visits with its labels."""
    _filled(factory, site_id)
    writer = InfluxWriter(victoria.url, bucket="facility", query="victoriametrics")
    with factory() as session:
        write_series(session, writer, date(2026, 6, 2), date(2026, 6, 3))
    writer.close()
    with urllib.request.urlopen(f"{victoria.url}/internal/force_flush", timeout=10):  # noqa: S310
        pass
    start = ms(local(2026, 6, 1)) // 1000
    data = urllib.parse.urlencode(
        {
            "match[]": '{__name__="utilisation_daily_visits",'
            f'complex="{site_id}",space="culture"}}',
            "start": str(start),
            "end": str(start + 4 * 86400),
        }
    ).encode()
    with urllib.request.urlopen(f"{victoria.url}/api/v1/export", data=data, timeout=10) as resp:  # noqa: S310
        rows = [json.loads(line) for line in resp.read().splitlines() if line.strip()]
    (row,) = rows
    assert row["values"] == [3]
    assert row["timestamps"] == [ms(local(2026, 6, 2))]
    assert row["metric"]["street"] == "xihu/beishan" and row["metric"]["space_type"] == "culture"
