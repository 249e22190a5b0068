"""The ingest says what its broker link does: one WARNING when it cannot connect or loses
the broker (host:port, reason, "retrying"), one INFO when it connects; not one per retry."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from facility_cli.services import Mosquitto, free_port
from facility_server.ingest.subscriber import Ingest
from sqlalchemy.orm import sessionmaker

pytestmark = pytest.mark.integration
LOGGER = "facility_server.ingest.subscriber"


def _ingest(url: str) -> Ingest:
    """An ingest that stores nothing here (no messages arrive), so it needs no database."""
    return Ingest(
        sessionmaker(),
        url,
        client_id=f"link-{uuid.uuid4().hex[:8]}",
        clock=lambda: datetime.now(UTC),
    )


def _records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


def _wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_unreachable_broker_is_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing listening: one WARNING naming 127.0.0.1:port, the reason and 'retrying'."""
    port = free_port()
    caplog.set_level(logging.INFO, logger=LOGGER)
    ingest = _ingest(f"mqtt://127.0.0.1:{port}")
    ingest.start()
    try:
        _wait_for(lambda: ingest.connect_failures >= 3)
    finally:
        ingest.stop()
    warnings = _records(caplog, logging.WARNING)
    assert len(warnings) == 1, warnings
    assert f"127.0.0.1:{port}" in warnings[0]
    assert "refused" in warnings[0].lower() and "retrying" in warnings[0]


def test_connect_loss_and_reconnect_are_logged_once_each(
    mosquitto_factory: Callable[..., Mosquitto], caplog: pytest.LogCaptureFixture
) -> None:
    """Connected (INFO), broker killed (one WARNING despite retries), back (INFO again)."""
    broker = mosquitto_factory(persistence=False)
    address = f"127.0.0.1:{broker.port}"
    caplog.set_level(logging.INFO, logger=LOGGER)
    ingest = _ingest(broker.url)
    ingest.start()
    try:
        _wait_for(lambda: any(address in m for m in _records(caplog, logging.INFO)))
        broker.kill()
        _wait_for(lambda: ingest.connect_failures >= 3)
        warnings = _records(caplog, logging.WARNING)
        assert len(warnings) == 1, warnings
        assert address in warnings[0] and "retrying" in warnings[0]
        broker.start()
        _wait_for(lambda: sum("connected" in m for m in _records(caplog, logging.INFO)) >= 2, 30)
    finally:
        ingest.stop()
    assert len(_records(caplog, logging.WARNING)) == 1
