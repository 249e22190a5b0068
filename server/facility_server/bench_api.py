"""Benchmark of the API at city scale: 3,000 complexes x 12 spaces (x 13 devices).

:func:`run` migrates the database at ``db_url``, registers the city in bulk, then
measures through the real app (in process, ASGI, as an admin with a JWT) the p95 latency
of a complex's "today" view (``GET /complexes/{id}/today``) and of a district's
device-health list (``GET /device-health?district_id=..``, first page of 50).
Target: <= 100 ms each on SQLite and PostgreSQL (issue 3, benchmark).
"""

from __future__ import annotations

import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from facility_server.api.app import create_app
from facility_server.auth.tokens import issue_jwt
from facility_server.core.db import make_engine, session_factory
from facility_server.core.migrate import upgrade
from facility_server.core.settings import get_settings
from facility_server.domain import SpaceType
from facility_server.models import Account, Complex, Device, Region, Space

#: Default shape: 10 districts x 10 streets x 30 communities = 3,000 complexes (one each).
SHAPE = (10, 10, 30)
HOURS = {d: ["09:00-17:30"] for d in ("mon", "tue", "wed", "thu", "fri", "sat")}


def _regions(
    session: Session, tag: str, now: datetime, shape: tuple[int, int, int]
) -> list[tuple[int, int, int]]:
    """Create the region tree; return (district, street, community) ids per community."""
    out = []
    districts, streets, communities = shape
    for d in range(districts):
        dpath = f"{tag}-d{d}"
        did = session.scalar(
            insert(Region)
            .values(kind="district", code=dpath, name=f"区{d}", path=dpath, created_at=now)
            .returning(Region.id)
        )
        for s in range(streets):
            spath = f"{dpath}/s{s}"
            sid = session.scalar(
                insert(Region)
                .values(
                    kind="street",
                    code=f"s{s}",
                    name=f"街道{s}",
                    parent_id=did,
                    path=spath,
                    created_at=now,
                )
                .returning(Region.id)
            )
            rows = [
                {
                    "kind": "community",
                    "code": f"c{c}",
                    "name": f"社区{c}",
                    "parent_id": sid,
                    "path": f"{spath}/c{c}",
                    "created_at": now,
                }
                for c in range(communities)
            ]
            session.execute(insert(Region), rows)
            ids = session.scalars(
                select(Region.id).where(Region.parent_id == sid).order_by(Region.id)
            )
            out += [(did, sid, cid) for cid in ids]  # type: ignore[misc]
    return out


def _complexes(
    session: Session, tag: str, places: list[tuple[int, int, int]], now: datetime
) -> list[int]:
    rows = [
        {
            "site_id": f"{tag}-x{i}",
            "name": f"综合体{i}",
            "address": "",
            "timezone": "Asia/Shanghai",
            "district_id": d,
            "street_id": s,
            "community_id": c,
            "public_holidays": "closed",
            "makeup_workdays": "regular",
            "created_at": now,
            "updated_at": now,
        }
        for i, (d, s, c) in enumerate(places)
    ]
    session.execute(insert(Complex), rows)
    return list(session.scalars(select(Complex.id).where(Complex.site_id.startswith(f"{tag}-x"))))


def _spaces_and_devices(session: Session, complex_ids: list[int], now: datetime) -> None:
    types = [t.value for t in SpaceType]
    spaces = [
        {
            "complex_id": cid,
            "code": f"sp{k}",
            "name": f"空间{k}",
            "type": types[k],
            "capacity": 30,
            "weekly_hours": HOURS,
            "created_at": now,
        }
        for cid in complex_ids
        for k in range(12)
    ]
    session.execute(insert(Space), spaces)
    seen = now - timedelta(seconds=30)
    devices = []
    for cid in complex_ids:
        devices.append(
            {
                "complex_id": cid,
                "code": "edge",
                "name": "",
                "kind": "edge_agent",
                "transport": "mqtt",
                "firmware": "",
                "health": "online",
                "state": "online",
                "last_seen": seen,
                "heartbeat_s": 30.0,
                "created_at": now,
            }
        )
        devices += [
            {
                "complex_id": cid,
                "code": f"dc{k}",
                "name": "",
                "kind": "door_counter",
                "transport": "serial",
                "firmware": "",
                "health": "online" if k % 7 else "offline",
                "created_at": now,
            }
            for k in range(12)
        ]
    for i in range(0, len(devices), 5000):
        session.execute(insert(Device), devices[i : i + 5000])


def register_city(
    session: Session, now: datetime, shape: tuple[int, int, int] = SHAPE
) -> tuple[list[int], list[int], str]:
    """Register complexes x 12 spaces x 13 devices; return complex ids, district ids, tag."""
    tag = "b" + uuid.uuid4().hex[:6]
    places = _regions(session, tag, now, shape)
    complex_ids = _complexes(session, tag, places, now)
    _spaces_and_devices(session, complex_ids, now)
    districts = sorted({d for d, _, _ in places})
    return complex_ids, districts, tag


def _p95_ms(client: TestClient, urls: list[str], headers: dict[str, str]) -> float:
    times = []
    for url in urls:
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url} -> {response.status_code}: {response.text[:200]}")
    return round(statistics.quantiles(times, n=20)[-1], 2)


def run(
    db_url: str, requests: int = 200, seed: int = 1, shape: tuple[int, int, int] = SHAPE
) -> dict[str, Any]:
    """Register the city in ``db_url`` (migrated here) and measure p95 latencies, ms.

    Args:
        db_url: an empty database is best; rows carry a run-unique prefix, so a rerun
            on the same database also works (on more data).
        requests: requests per measured endpoint.
        seed: picks the complexes and districts asked for.
        shape: districts, streets per district, communities per street.

    Returns:
        ``{"p95_ms_complex_today": .., "p95_ms_district_devices": .., "complexes": 3000,
        "spaces": 36000, "devices": 39000, "requests": n}``
    """
    upgrade(db_url)
    engine = make_engine(db_url)
    now = datetime.now(UTC)
    factory = session_factory(engine)
    with factory() as session:
        complex_ids, districts, tag = register_city(session, now, shape)
        admin = Account(
            username=f"{tag}-admin", kind="person", role="admin", scope_kind="city", active=True
        )
        session.add(admin)
        session.commit()
    if engine.dialect.name == "postgresql":  # fresh statistics, as autovacuum would gather
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    settings = get_settings(database_url=db_url)
    token = issue_jwt(admin.id, admin.username, settings.jwt_secret.get_secret_value(), now, 3600)
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(seed)
    with TestClient(create_app(settings, engine=engine)) as client:
        _p95_ms(client, [f"/api/v1/complexes/{complex_ids[0]}/today"] * 5, headers)  # warm up
        today = _p95_ms(
            client,
            [f"/api/v1/complexes/{rng.choice(complex_ids)}/today" for _ in range(requests)],
            headers,
        )
        devices = _p95_ms(
            client,
            [
                f"/api/v1/device-health?district_id={rng.choice(districts)}&health=offline"
                for _ in range(requests)
            ],
            headers,
        )
    engine.dispose()
    return {
        "p95_ms_complex_today": today,
        "p95_ms_district_devices": devices,
        "complexes": len(complex_ids),
        "spaces": 12 * len(complex_ids),
        "devices": 13 * len(complex_ids),
        "requests": requests,
    }


if __name__ == "__main__":  # pragma: no cover - manual use: python -m facility_server.bench_api URL
    import json
    import sys

    print(json.dumps(run(sys.argv[1] if len(sys.argv) > 1 else "sqlite:///bench.db")))
