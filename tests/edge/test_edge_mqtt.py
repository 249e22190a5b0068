"""The agent against a real Mosquitto: delivery, confirmation by ack, broker SIGKILL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from edge_support import Gateway, wait_until
from facility_contracts.envelope import DoorCrossingBody
from facility_edge.agent import Agent
from facility_edge.config import parse_config
from facility_edge.recorder import Batch, Draft

pytestmark = pytest.mark.integration


@pytest.fixture
def run_agent(tmp_path: Path) -> Iterator[Callable[..., Agent]]:
    """Run agents (real paho client, SQLite outbox) in a thread against a broker port."""
    running: list[tuple[Agent, threading.Event, threading.Thread]] = []

    def start(port: int, site: str, protocol: str = "3.1.1") -> Agent:
        cfg = parse_config(
            {
                "agent": {"id": "edge-1", "site": site, "data_dir": str(tmp_path / "data")},
                "mqtt": {"host": "127.0.0.1", "port": port, "protocol": protocol, "keepalive_s": 5},
                "outbox": {"max_inflight": 50, "ack_timeout_s": 2},
                "heartbeat_s": 5,
                "devices": [
                    {
                        "type": "door_counter",
                        "id": d,
                        "space": "hall",
                        "port": str(tmp_path / f"absent-{d}"),
                    }
                    for d in ("dc-1", "dc-2")
                ],
            }
        )
        agent = Agent(cfg)
        stop = threading.Event()
        thread = threading.Thread(target=agent.run, args=(stop,), kwargs={"flush_s": 0.5})
        thread.start()
        running.append((agent, stop, thread))
        return agent

    yield start
    for _, stop, thread in running:
        stop.set()
        thread.join(10)


def record(agent: Agent, n: int, device: str = "dc-1") -> None:
    body = DoorCrossingBody(in_=1, out=0, space="hall")
    agent.recorder.record(lambda stamp: Batch([Draft(device, body) for _ in range(n)]))


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_events_reach_the_gateway_and_wait_for_its_ack(
    mosquitto_factory: Callable[..., object],
    gateway_factory: Callable[..., Gateway],
    run_agent: Callable[..., Agent],
    site_id: str,
    protocol: str,
) -> None:
    """Events reach a subscriber with sent set, stay in the outbox until acked, then go."""
    broker = mosquitto_factory(persistence=False)
    gw = gateway_factory(broker.port, site_id, acking=False)  # type: ignore[attr-defined]
    agent = run_agent(broker.port, site_id, protocol)  # type: ignore[attr-defined]
    record(agent, 5)
    record(agent, 3, "dc-2")
    wait_until(lambda: len(gw.snapshot()) == 8)
    got = sorted(gw.snapshot().values(), key=lambda e: e.seq)
    assert [e.seq for e in got] == list(range(1, 9)) and all(e.sent is not None for e in got)
    assert all(e.sent >= e.mono for e in got)
    time.sleep(0.5)
    assert agent.outbox.depth() == 8  # the broker's PUBACK deleted nothing
    gw.ack_all()
    wait_until(lambda: agent.outbox.depth() == 0)
    online = wait_until(lambda: [s for s in gw.statuses if s.state == "online"])
    assert online[0].boot == agent.boot


def test_unacked_events_are_sent_again(
    mosquitto_factory: Callable[..., object],
    gateway_factory: Callable[..., Gateway],
    run_agent: Callable[..., Agent],
    site_id: str,
) -> None:
    """An event the gateway never confirms is sent again after ack_timeout with the same id."""
    broker = mosquitto_factory(persistence=False)
    gw = gateway_factory(broker.port, site_id, acking=False)  # type: ignore[attr-defined]
    agent = run_agent(broker.port, site_id)  # type: ignore[attr-defined]
    record(agent, 1)
    wait_until(lambda: gw.received >= 2, timeout=8)
    assert len(gw.snapshot()) == 1 and agent.outbox.depth() == 1


def test_broker_killed_and_restarted_loses_nothing(
    mosquitto_factory: Callable[..., object],
    gateway_factory: Callable[..., Gateway],
    run_agent: Callable[..., Agent],
    site_id: str,
) -> None:
    """With the broker SIGKILLed and restarted mid-stream, every event is eventually confirmed."""
    broker = mosquitto_factory()
    gw = gateway_factory(broker.port, site_id)  # type: ignore[attr-defined]
    agent = run_agent(broker.port, site_id)  # type: ignore[attr-defined]
    recorded: list[str] = []
    for i in range(60):
        body = DoorCrossingBody(in_=1, out=0, space="hall")
        recorded += [
            e.id for e in agent.recorder.record(lambda stamp, b=body: Batch([Draft("dc-1", b)] * 5))
        ]
        if i == 20:
            broker.kill()  # type: ignore[attr-defined]
        if i == 40:
            broker.start()  # type: ignore[attr-defined]
        time.sleep(0.03)
    wait_until(lambda: agent.outbox.depth() == 0, timeout=25)
    assert set(gw.snapshot()) == set(recorded) and len(recorded) == 300
