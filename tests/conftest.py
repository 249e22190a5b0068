"""Shared fixtures: real servers started as processes on free loopback ports.

Session-wide servers are shared by tests that only read and write their own topics,
buckets and series (each test uses a unique site id from ``site_id``). Tests that kill
or restart a server ask for a private one through the ``*_factory`` fixtures.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from facility_cli.services import InfluxDB1, Mosquitto, VictoriaMetrics, _Process

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CALIT2 = SHARED / "data" / "calit2-door-counts.csv"


@pytest.fixture(scope="session")
def calit2_path() -> Path:
    """The real CalIt2 door-counter file in ../shared/data."""
    if not CALIT2.exists():
        pytest.fail(f"missing {CALIT2}: the suite expects ../shared next to the checkout")
    return CALIT2


@pytest.fixture
def site_id() -> str:
    """A site id no other test uses, so topics and series never collide."""
    return "t" + uuid.uuid4().hex[:10]


def _factory(cls: type[_Process], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., _Process]]:
    started: list[_Process] = []

    def make(**kwargs: object) -> _Process:
        proc = cls(tmp_path_factory.mktemp(cls.name), **kwargs)  # type: ignore[arg-type]
        proc.start()
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.stop()


@pytest.fixture
def mosquitto_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Mosquitto]]:
    """Start private Mosquitto brokers (killable, restartable) for one test."""
    yield from _factory(Mosquitto, tmp_path_factory)  # type: ignore[misc]


@pytest.fixture
def victoria_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., VictoriaMetrics]]:
    """Start private VictoriaMetrics servers (the InfluxDB write API) for one test."""
    yield from _factory(VictoriaMetrics, tmp_path_factory)  # type: ignore[misc]


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """One Mosquitto for the session (do not kill it; use mosquitto_factory)."""
    with Mosquitto(tmp_path_factory.mktemp("mosquitto"), persistence=False) as broker:
        yield broker


@pytest.fixture(scope="session")
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    """One VictoriaMetrics for the session (do not kill it; use victoria_factory)."""
    with VictoriaMetrics(tmp_path_factory.mktemp("vm")) as vm:
        yield vm


@pytest.fixture(scope="session")
def influxdb1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB1]:
    """One InfluxDB 1.6 (InfluxQL) for the session; create a database per test."""
    with InfluxDB1(tmp_path_factory.mktemp("influxdb")) as db:
        yield db
