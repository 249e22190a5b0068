"""Gateway processes killed at the worst moments still store every event exactly once.

They run ``python -m facility_gateway run --config FILE`` with a shared SQLite dedupe
file, as two gateways on one machine would.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from facility_cli.services import Mosquitto, VictoriaMetrics
from facility_gateway.cli import app
from gw_support import FakeEdge, GatewayProcess, door_event, gateway_config, vm_wait_count
from typer.testing import CliRunner

pytestmark = pytest.mark.integration


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., GatewayProcess]]:
    """Start gateway processes; any still running are killed at the end."""
    procs: list[GatewayProcess] = []

    def start(
        name: str,
        broker: Mosquitto,
        vm: VictoriaMetrics,
        env: dict[str, str] | None = None,
        **settings: Any,
    ) -> GatewayProcess:
        config = gateway_config(
            tmp_path / f"{name}.yaml",
            **{
                "mqtt_port": broker.port,
                "mqtt_client_id": name,
                "influx_url": vm.url,
                "influx_query": "victoriametrics",
                "share_group": "gw-test",
                "dedupe_url": f"sqlite:///{tmp_path / 'dedupe.sqlite'}",
                "claim_lease_s": 2,
                "batch_size": 100,
                "flush_interval_s": 0.05,
                "retry_initial_s": 0.2,
                "retry_max_s": 1,
                "stats_file": tmp_path / f"{name}-stats.json",
                "stats_interval_s": 1,
                **settings,
            },
        )
        proc = GatewayProcess(config, tmp_path / f"{name}.log", env).start()
        proc.wait_log(f"as {name} (session present")
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill()


def test_shared_subscription_survives_sigkill(
    mosquitto_factory: Callable[..., Mosquitto],
    victoria: VictoriaMetrics,
    site_id: str,
    launch: Callable[..., GatewayProcess],
) -> None:
    """Two gateways share the load; one is SIGKILLed mid-run and restarted later, as a
    supervisor would: every event is acked and stored exactly once."""
    broker = mosquitto_factory()
    a = launch("gw-a", broker, victoria)
    launch("gw-b", broker, victoria)
    edge = FakeEdge(broker.port, site_id)
    events = [door_event(f"dc-{i % 4}", i + 1) for i in range(3000)]
    edge.send(events[:1500])
    a.kill()
    edge.send(events[1500:])
    # gw-b works alone for a while (Mosquitto keeps routing a share of the messages to
    # gw-a's persistent session), then gw-a comes back and drains its session.
    edge.wait_acked([e.id for e in events], timeout_s=3, resend_every_s=1.5)
    launch("gw-a", broker, victoria)
    assert edge.wait_acked([e.id for e in events], timeout_s=40, resend_every_s=2)
    assert sorted(vm_wait_count(victoria.url, site_id, 3000)) == list(range(1, 3001))
    edge.close()


def test_exit_between_write_and_confirmation(
    mosquitto_factory: Callable[..., Mosquitto],
    victoria: VictoriaMetrics,
    site_id: str,
    tmp_path: Path,
    launch: Callable[..., GatewayProcess],
) -> None:
    """The fault hook exits right after the 3rd write, before marking and acking; after a
    restart the in-doubt ids are found stored and confirmed, nothing is written twice.
    SIGTERM then ends the gateway cleanly with its counters in the stats file."""
    broker = mosquitto_factory()
    edge = FakeEdge(broker.port, site_id)
    faulty = launch("gw-f", broker, victoria, env={"FACILITY_GATEWAY_FAULT": "exit_after_write:3"})
    events = [door_event(f"dc-{i % 2}", i + 1) for i in range(1000)]
    edge.send(events)
    assert faulty.proc is not None and faulty.proc.wait(20) == 137
    acked_before = set(edge.acked)
    assert len(acked_before) <= 200  # at most the two batches before the fatal write
    again = launch("gw-f", broker, victoria)
    assert edge.wait_acked([e.id for e in events], timeout_s=30, resend_every_s=2)
    assert sorted(vm_wait_count(victoria.url, site_id, 1000)) == list(range(1, 1001))
    assert again.terminate() == 0
    stats = json.loads((tmp_path / "gw-f-stats.json").read_text())
    assert stats["in_doubt"] >= 1 and stats["duplicate"] >= 1
    assert stats["accepted"] + len(acked_before) < 1000  # the fatal batch was not rewritten
    result = CliRunner().invoke(app, ["stats", str(tmp_path / "gw-f-stats.json")])
    assert result.exit_code == 0 and "in_doubt" in result.output
    edge.close()
