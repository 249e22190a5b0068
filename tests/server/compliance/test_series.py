"""Compliance as a time series: exact points per space and day, written through the
gateway's InfluxWriter to a real VictoriaMetrics and read back; rewritten on late data."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from facility_contracts.schema import COMPLIANCE_DAILY
from facility_gateway.influx import InfluxWriter
from facility_gateway.points import to_line
from facility_server.compliance.series import SpaceDay, point_of, write_series
from facility_server.setup.importer import import_setup_text
from sqlalchemy.orm import Session, sessionmaker

from .conftest import SITE, Site, example_text, local, ms


def test_point_of_one_space_day_is_exact() -> None:
    """Counts, the on-time rate and tags render to one exact line at local midnight."""
    row = SpaceDay(
        "xihu-beishan-shuguang", "kids-play", "kids_play", "xihu/beishan", "xihu",
        date(2026, 6, 2), ZoneInfo("Asia/Shanghai"),
        {"on_time": 4, "late": 1, "missed": 5, "excused": 0},
    )  # fmt: skip
    # local midnight 2026-06-02T00:00+08:00 = 2026-06-01T16:00Z = 1780329600 s
    assert to_line(point_of(row)) == (
        "compliance_daily,district=xihu,site=xihu-beishan-shuguang,space=kids-play,"
        "space_type=kids_play,street=xihu/beishan due=10i,on_time=4i,late=1i,missed=5i,"
        "unknown=0i,excused=0i,rate_pct=40.0 1780329600000000000"
    )
    assert {f.name for f in COMPLIANCE_DAILY.fields} == set(point_of(row).field_dict())


def test_rate_absent_when_nothing_was_decided() -> None:
    """A closed day (all excused) has counts but no rate."""
    row = SpaceDay("s", "kids-play", "kids_play", "a/b", "a", date(2026, 6, 1),
                   ZoneInfo("Asia/Shanghai"), {"excused": 2})  # fmt: skip
    fields = point_of(row).field_dict()
    assert fields["due"] == 0 and fields["excused"] == 2 and "rate_pct" not in fields


def _export(url: str, site: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/internal/force_flush", timeout=10):  # noqa: S310 - loopback
        pass
    query = {
        "match[]": f'{{__name__=~"compliance_daily_.*",site="{site}"}}',
        "start": str(ms(local(2026, 5, 30)) // 1000),
        "end": str(ms(local(2026, 6, 4)) // 1000),
    }
    data = urllib.parse.urlencode(query).encode()
    with urllib.request.urlopen(f"{url}/api/v1/export", data=data, timeout=10) as resp:  # noqa: S310
        return [json.loads(line) for line in resp.read().splitlines() if line.strip()]


def test_day_written_to_victoriametrics_and_rewritten_on_late_data(
    factory: sessionmaker[Session], example_path: Path, victoria: Any, site_id: str
) -> None:
    """A day's counts reach VictoriaMetrics once, and again only when late data changes them."""
    with factory() as s:
        import_setup_text(s, example_text(example_path).replace(SITE, site_id))
        s.commit()
    site = Site(factory, site_id=site_id)
    site.tick(local(2026, 6, 2, 5))
    site.checkin(local(2026, 6, 2, 8, 40), "cp-kids-gate", "disinfection")
    for hour in (9, 10, 11):
        site.patrol(local(2026, 6, 2, hour, 1))
    site.patrol(local(2026, 6, 2, 12, 1), ["cp-kids-gate", "cp-kids-slide", "cp-kids-toys"])
    site.checkin(local(2026, 6, 2, 12, 35), "cp-kids-sandpit", "patrol", badge="04A23B1D")
    site.patrol(local(2026, 6, 2, 13, 1), ["cp-kids-gate", "cp-kids-slide", "cp-kids-toys"])
    for hh in range(14, 24):
        site.tick(local(2026, 6, 2, hh))
    site.tick(local(2026, 6, 3, 1))
    writer = InfluxWriter(victoria.url, bucket="facility", query="victoriametrics")
    try:
        with factory() as s:
            assert write_series(s, writer, local(2026, 6, 3, 1)) == 2  # Mon 1 Jun (closed), Tue 2
            s.commit()
        with factory() as s:
            assert write_series(s, writer, local(2026, 6, 3, 2)) == 0
        # the 13:00 round's sandpit, done 13:10, arrives the next night: that round is on time
        site.checkin(local(2026, 6, 2, 13, 10), "cp-kids-sandpit", "patrol", badge="04A23B1D",
                     delivered_at=local(2026, 6, 3, 2))  # fmt: skip
        with factory() as s:
            assert write_series(s, writer, local(2026, 6, 3, 3)) == 1
            s.commit()
    finally:
        writer.close()
    series: dict[tuple[str, int], list[float]] = {}
    for row in _export(victoria.url, site_id):
        for at, value in sorted(zip(row["timestamps"], row["values"], strict=True)):
            series.setdefault((row["metric"]["__name__"], at), []).append(value)
    tuesday = ms(local(2026, 6, 2))
    # VictoriaMetrics keeps both writes of the day (InfluxDB would keep the second)
    assert series[("compliance_daily_on_time", tuesday)] == [4, 5]
    assert series[("compliance_daily_late", tuesday)] == [1, 1]
    assert series[("compliance_daily_missed", tuesday)] == [4, 5]
    assert series[("compliance_daily_rate_pct", tuesday)] == [40, 50]
    assert series[("compliance_daily_excused", ms(local(2026, 6, 1)))] == [2]
    assert ("compliance_daily_rate_pct", ms(local(2026, 6, 1))) not in series
