"""The agent loop with a fake publisher: status, heartbeat, acks, boots, shutdown."""

from __future__ import annotations

import logging
import signal
import threading
import uuid
from pathlib import Path

import pytest
from edge_support import FakePublisher, wait_until
from facility_contracts import codec, topics
from facility_contracts.envelope import DoorCrossingBody
from facility_edge.agent import Agent
from facility_edge.clock import FakeClock
from facility_edge.config import EdgeConfig, parse_config
from facility_edge.outbox import MemoryOutbox
from facility_edge.outbox_sqlite import SqliteOutbox
from facility_edge.recorder import Batch, Draft
from facility_edge.run import stop_on_signal

SITE = "site-a"


def config(tmp_path: Path, devices: list[dict[str, object]] | None = None) -> EdgeConfig:
    return parse_config(
        {
            "agent": {"id": "edge-1", "site": SITE, "data_dir": str(tmp_path)},
            "mqtt": {"host": "127.0.0.1", "port": 1},
            "outbox": {"max_inflight": 10, "ack_timeout_s": 5},
            "heartbeat_s": 30,
            "devices": devices or [],
        }
    )


def add(agent: Agent, n: int, device: str = "dc-1") -> None:
    body = DoorCrossingBody(in_=1, out=0, space="hall")
    agent.recorder.record(lambda stamp: Batch([Draft(device, body) for _ in range(n)]))


def test_connect_publishes_retained_online_status(tmp_path: Path) -> None:
    """On connect the agent publishes a retained online status with its heartbeat fields."""
    clock = FakeClock(synced=True)
    pub = FakePublisher()
    agent = Agent(config(tmp_path), clock=clock, outbox=MemoryOutbox(), publisher=pub)
    agent.start()
    add(agent, 2)
    clock.advance(1500)
    agent.tick()
    status_msgs = [m for m in pub.sent if m.topic == topics.status_topic(SITE, "edge-1")]
    assert status_msgs and all(m.retain for m in status_msgs)
    status = codec.decode_status(status_msgs[0].payload)
    assert (status.state, status.boot, status.synced, status.heartbeat_s) == (
        "online",
        agent.boot,
        True,
        30,
    )
    assert status.uptime_s == 1.5 and status.outbox == 2 and status.disk_free_mb > 0
    assert status.software.startswith("facility-edge")


def test_heartbeat_every_heartbeat_s(tmp_path: Path) -> None:
    """A status goes out every heartbeat_s, and not more often without a change."""
    clock = FakeClock()
    pub = FakePublisher()
    agent = Agent(config(tmp_path), clock=clock, outbox=MemoryOutbox(), publisher=pub)
    agent.start()
    for _ in range(120):  # one minute in half seconds
        agent.tick()
        clock.advance(500)
    assert len(pub.statuses()) == 2  # at 0 s and at 30 s


def test_reader_state_change_triggers_status(tmp_path: Path) -> None:
    """A reader state change (e.g. the outbox_full alert) is published within a second."""
    clock = FakeClock()
    pub = FakePublisher()
    agent = Agent(config(tmp_path), clock=clock, outbox=MemoryOutbox(), publisher=pub)
    agent.start()
    agent.tick()
    agent.states.set("dc-1", "outbox_full")
    clock.advance(1000)
    agent.tick()
    assert pub.statuses()[-1].devices == {"dc-1": "outbox_full"}


def test_subscribes_to_ack_topics_and_sets_will(tmp_path: Path) -> None:
    """The agent subscribes to the ack topic of each device and its own; its will is offline."""
    devices = [
        {"type": "door_counter", "id": d, "space": "hall", "port": str(tmp_path / d)}
        for d in ("dc-a", "dc-b")
    ]
    pub = FakePublisher()
    agent = Agent(
        config(tmp_path, devices), clock=FakeClock(), outbox=MemoryOutbox(), publisher=pub
    )
    agent.start()
    try:
        assert sorted(pub.topics) == sorted(
            topics.ack_topic(SITE, d) for d in ("edge-1", "dc-a", "dc-b")
        )
        will = agent.goodbye()
        assert will.retain and codec.decode_status(will.payload).state == "offline"
    finally:
        agent.shutdown(flush_s=0)


def test_acks_delete_and_seq_is_gapless(tmp_path: Path) -> None:
    """Events go out with seq 1..n of the boot and are deleted only when acked."""
    pub = FakePublisher()
    outbox = MemoryOutbox()
    agent = Agent(config(tmp_path), clock=FakeClock(), outbox=outbox, publisher=pub)
    agent.start()
    add(agent, 3)
    add(agent, 2, "dc-2")
    agent.tick()
    sent = pub.events()
    assert [e.seq for e in sent] == [1, 2, 3, 4, 5] and {e.boot for e in sent} == {agent.boot}
    ids = [uuid.UUID(e.id) for e in sent]
    assert {i.version for i in ids} == {7} and ids == sorted(ids)  # time-ordered ids
    assert outbox.depth() == 5
    pub.deliver(topics.ack_topic(SITE, "dc-1"), codec.encode_ack([e.id for e in sent[:3]]))
    assert outbox.depth() == 2


def test_new_boot_keeps_old_events_as_they_were(tmp_path: Path) -> None:
    """A restarted agent has a new boot starting at seq 1; stored events keep their boot and seq."""
    cfg = config(tmp_path)
    first = Agent(
        cfg,
        clock=FakeClock(),
        outbox=SqliteOutbox(cfg.outbox_path),
        publisher=FakePublisher(connected=False),
    )
    first.start()
    add(first, 2)
    first.shutdown(flush_s=0)
    pub = FakePublisher()
    second = Agent(cfg, clock=FakeClock(), outbox=SqliteOutbox(cfg.outbox_path), publisher=pub)
    second.start()
    add(second, 1)
    second.tick()
    got = [(e.boot, e.seq) for e in pub.events()]
    assert got == [(first.boot, 1), (first.boot, 2), (second.boot, 1)] and first.boot != second.boot
    second.shutdown(flush_s=0)


def test_shutdown_flushes_then_says_goodbye(tmp_path: Path) -> None:
    """On stop the agent keeps pumping until acks arrive (bounded), then publishes offline."""
    pub = FakePublisher()
    outbox = MemoryOutbox()
    agent = Agent(config(tmp_path), clock=FakeClock(), outbox=outbox, publisher=pub)
    stop = threading.Event()
    runner = threading.Thread(target=agent.run, args=(stop,), kwargs={"flush_s": 5})
    runner.start()
    wait_until(lambda: pub.started)
    add(agent, 2)
    stop.set()
    wait_until(lambda: len(pub.events()) >= 2)
    pub.deliver(topics.ack_topic(SITE, "dc-1"), codec.encode_ack([e.id for e in pub.events()]))
    runner.join(5)
    assert not runner.is_alive() and outbox.depth() == 0
    assert pub.stopped and pub.stopped_with is not None
    assert codec.decode_status(pub.stopped_with.payload).state == "offline"


def test_stop_signal_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """One Ctrl-C delivered twice (terminal and a wrapper such as uv) is logged once at INFO."""
    stop = threading.Event()
    handler = stop_on_signal(stop)
    with caplog.at_level(logging.DEBUG, logger="facility_edge.run"):
        handler(signal.SIGINT, None)
        handler(signal.SIGINT, None)
    infos = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert stop.is_set() and infos == ["signal 2: stopping"]
