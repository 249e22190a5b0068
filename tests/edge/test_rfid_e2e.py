"""RFID check-ins end to end: simulated reader on a pty -> `facility edge run` -> Mosquitto."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from edge_support import Gateway, wait_until
from facility_contracts.envelope import CheckIn, DeviceNotice
from facility_edge.status import rss_mb
from facility_sim.pty_port import PtyPort
from facility_sim.rfid_reader import RfidOptions, RfidReaderSim, expected_badges, plan

pytestmark = pytest.mark.integration

RSS_BUDGET_MIB = 40.0


def write_config(tmp_path: Path, port: int, site: str, link: Path) -> Path:
    path = tmp_path / "edge.yaml"
    path.write_text(f"""
agent: {{id: edge-1, site: {site}, data_dir: data}}
mqtt: {{host: 127.0.0.1, port: {port}, keepalive_s: 5}}
outbox: {{max_inflight: 50, ack_timeout_s: 2}}
heartbeat_s: 1
devices:
  - type: rfid_reader
    id: ct-play-1
    checkpoint: kp-sandpit
    space: kids-play
    task: disinfection
    port: {link}
    repeat_window_s: 0.6
""")
    return path


def test_fault_mix_delivers_each_checkin_once_through_unplugs(
    mosquitto_factory: Callable[..., object],
    gateway_factory: Callable[..., Gateway],
    agent_process: Callable[[Path], subprocess.Popen[bytes]],
    tmp_path: Path,
    site_id: str,
) -> None:
    """Every tap with an intact frame arrives exactly once, no phantom or corrupted id is
    accepted, and the agent keeps running (small, without OpenCV) through two unplugs."""
    broker = mosquitto_factory(persistence=False)
    gw = gateway_factory(broker.port, site_id)  # type: ignore[attr-defined]
    opts = RfidOptions(
        taps=30, cards=8, seed=21, phantom=0.3, bad_checksum=0.3, noise=0.4, unplug_every_taps=10
    )
    taps = plan(opts)
    want = expected_badges(taps)
    link = tmp_path / "dev" / "rfid0"
    port = PtyPort(link).open()
    sim = RfidReaderSim(port, taps, unplug_for_s=opts.unplug_for_s).start()
    agent = agent_process(write_config(tmp_path, broker.port, site_id, link))  # type: ignore[attr-defined]
    try:
        assert sim.wait(60), "the simulated reader did not finish"
        assert sim.stats.unplugs == 2 and sim.stats.counts["phantom"] > 0

        def got() -> list[str]:
            evs = [e for e in gw.snapshot().values() if isinstance(e, CheckIn)]
            return [e.body.badge for e in sorted(evs, key=lambda e: e.seq)]

        wait_until(lambda: len(got()) >= len(want), timeout=20)
        time.sleep(1.0)  # nothing more may arrive
        assert got() == want
        notices = [e for e in gw.snapshot().values() if isinstance(e, DeviceNotice)]
        assert [n.body.code for n in notices] == ["reconnected", "reconnected"]
        assert agent.poll() is None, "the agent stopped"
        maps = Path(f"/proc/{agent.pid}/maps").read_text()
        assert "cv2" not in maps, "OpenCV loaded by an agent without cameras"
        assert 0 < rss_mb(agent.pid) <= RSS_BUDGET_MIB
    finally:
        sim.stop()
        port.close()
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(15) == 0
