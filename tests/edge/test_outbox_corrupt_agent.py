"""The agent with a damaged or failing outbox: the rebuild becomes a notice, a failing
loop backs off and logs once, the broker is never flooded with repeats, and an outbox
that cannot be used stops `run` with exit code 2."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from edge_support import FakePublisher, Gateway, wait_until
from facility_contracts.envelope import DeviceNotice
from facility_edge.agent import Agent
from facility_edge.clock import FakeClock
from facility_edge.errors import OutboxError
from facility_edge.outbox import Event, MemoryOutbox
from outbox_support import (
    TIMEOUT_MS,
    N,
    build,
    config,
    events_leaf,
    only_aside,
    refuse_deletes,
    smash_page,
)


def test_agent_reports_the_rebuild_as_a_notice(tmp_path: Path) -> None:
    """A rebuild at open becomes one outbox_recovered notice of the agent (seq 1 of the
    new boot) naming the file kept and the events salvaged and lost."""
    cfg = config(tmp_path / "data")
    build(cfg.outbox_path)
    page, rows_on_page = events_leaf(cfg.outbox_path)
    smash_page(cfg.outbox_path, page)
    agent = Agent(cfg, clock=FakeClock(), publisher=FakePublisher(connected=False))
    agent.start()
    try:
        assert agent.tick() and agent.tick()
        stored = agent.outbox.pending(10**6, 0)
    finally:
        agent.shutdown(flush_s=0)
    assert len(stored) == N - rows_on_page + 1
    (notice,) = [e for e in stored if isinstance(e, DeviceNotice)]  # queued after the rest
    aside = only_aside(cfg.agent.data_dir)
    assert (notice.device, notice.boot, notice.seq) == ("edge-1", agent.boot, 1)
    assert notice.body.code == "outbox_recovered"
    assert f"kept as {aside.name}" in notice.body.detail
    assert f"{N - rows_on_page} events salvaged, {rows_on_page} lost" in notice.body.detail


class BrokenOutbox(MemoryOutbox):
    """An outbox whose reads fail until ``healed``."""

    def __init__(self) -> None:
        super().__init__(ack_timeout_ms=TIMEOUT_MS)
        self.healed = False
        self.reads = 0

    def pending(self, n: int, now_ms: int) -> list[Event]:
        self.reads += 1
        if not self.healed:
            raise OutboxError("outbox read failed (/x): disk I/O error")
        return super().pending(n, now_ms)


def test_a_failing_loop_backs_off_and_logs_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Failed iterations double the wait up to the cap and log one ERROR without a
    traceback; the first good iteration logs once and ends the back-off."""
    outbox = BrokenOutbox()
    agent = Agent(config(tmp_path), clock=FakeClock(), outbox=outbox, publisher=FakePublisher())
    agent.start()
    with caplog.at_level(logging.INFO, logger="facility_edge.agent"):
        waits = []
        for _ in range(7):
            assert not agent.tick()
            waits.append(agent.backoff_s)
        outbox.healed = True
        assert agent.tick() and agent.backoff_s == 0
    assert waits == [0.5, 1, 2, 4, 8, 8, 8]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and not errors[0].exc_info and "disk I/O error" in errors[0].message
    assert any("works again after 7 failed" in r.message for r in caplog.records)
    agent.shutdown(flush_s=0)


def test_wake_ups_do_not_cut_the_back_off_short(tmp_path: Path) -> None:
    """While failing, acks and new events (wake-ups) do not make the loop run sooner."""
    outbox = BrokenOutbox()
    agent = Agent(config(tmp_path), outbox=outbox, publisher=FakePublisher())
    stop = threading.Event()
    runner = threading.Thread(target=agent.run, args=(stop,), kwargs={"flush_s": 0})
    runner.start()
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        agent._wake.set()  # what every ack and every new event does
        time.sleep(0.005)
    stop.set()
    runner.join(10)
    assert outbox.reads <= 4  # 0.25 s tick, then 0.5 + 1 s of back-off (not ~400)


# -- against a real broker -----------------------------------------------------------------


@pytest.mark.integration
def test_acks_that_cannot_be_applied_do_not_flood_the_broker(
    mosquitto_factory: Callable[..., object],
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
    site_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Acks the outbox cannot apply (every delete fails) do not make the agent resend:
    over 4 s the gateway receives the in-flight window about once per ack timeout, and
    the failure is logged once, without a traceback."""
    broker = mosquitto_factory(persistence=False)
    port = broker.port  # type: ignore[attr-defined]
    gw = gateway_factory(port, site_id)
    cfg = config(tmp_path / "data", port, site_id)
    build(cfg.outbox_path)
    refuse_deletes(cfg.outbox_path)
    agent = Agent(cfg)
    stop = threading.Event()
    runner = threading.Thread(target=agent.run, args=(stop,), kwargs={"flush_s": 0})
    with caplog.at_level(logging.INFO):
        runner.start()
        try:
            wait_until(lambda: gw.received > 0)
            time.sleep(4.0)
            received = gw.received
        finally:
            stop.set()
            runner.join(10)
    # 50 in flight, sent again each 2 s: about 150 in 4 s (the busy loop: ~3,700 per second)
    assert 50 <= received <= 200
    assert agent.outbox.depth() == N
    ack_errors = [r for r in caplog.records if "could not apply ack" in r.message]
    assert len([r for r in ack_errors if r.levelno == logging.ERROR]) == 1
    assert not [r for r in caplog.records if r.exc_info]


def write_config(folder: Path, port: int, site: str) -> Path:
    path = folder / "edge.yaml"
    path.write_text(f"""
agent: {{id: edge-1, site: {site}, data_dir: data}}
mqtt: {{host: 127.0.0.1, port: {port}, keepalive_s: 5}}
outbox: {{max_inflight: 50, ack_timeout_s: 2}}
heartbeat_s: 1
devices: []
""")
    return path


@pytest.mark.integration
def test_agent_process_rebuilds_a_damaged_outbox_and_sends_each_event_once(
    mosquitto_factory: Callable[..., object],
    gateway_factory: Callable[..., Gateway],
    agent_process: Callable[[Path], subprocess.Popen[bytes]],
    tmp_path: Path,
    site_id: str,
) -> None:
    """`run` on the review's outbox (2,240 events, junk in an events page): the readable
    events and the notice reach the gateway once each, no more arrives afterwards, the
    log has one ERROR naming the file kept and no traceback; SIGTERM exits 0."""
    broker = mosquitto_factory(persistence=False)
    port = broker.port  # type: ignore[attr-defined]
    gw = gateway_factory(port, site_id)
    outbox = tmp_path / "data" / "outbox.sqlite3"
    build(outbox)
    page, rows_on_page = events_leaf(outbox)
    smash_page(outbox, page)
    proc = agent_process(write_config(tmp_path, port, site_id))
    expected = N - rows_on_page + 1  # and the outbox_recovered notice
    wait_until(lambda: len(gw.snapshot()) >= expected, timeout=30)
    time.sleep(3.0)  # longer than the ack timeout: anything unconfirmed would come again
    assert len(gw.snapshot()) == expected and gw.received <= expected + 50
    notices = [e for e in gw.snapshot().values() if isinstance(e, DeviceNotice)]
    assert [n.body.code for n in notices] == ["outbox_recovered"]
    proc.terminate()
    assert proc.wait(15) == 0
    log = (tmp_path / "agent-0.log").read_text()
    aside = only_aside(outbox.parent)
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and f"kept as {aside.name}" in errors[0]
    assert f"{N - rows_on_page} events salvaged, {rows_on_page} lost" in errors[0]
    assert "Traceback" not in log


def test_run_exits_2_when_the_outbox_folder_is_open_to_others(tmp_path: Path) -> None:
    """An outbox folder writable by other users: `run` exits 2 (systemd does not restart
    it) with one ERROR line saying what to fix, and no traceback."""
    config_file = write_config(tmp_path, 1, "site-a")
    (tmp_path / "data").mkdir()
    (tmp_path / "data").chmod(0o777)
    done = subprocess.run(
        [sys.executable, "-m", "facility_edge", "run", "--config", str(config_file)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "writable by other users (mode 0777)" in errors[0]
    assert "exit 2" in errors[0] and "Traceback" not in done.stderr
