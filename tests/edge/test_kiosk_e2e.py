"""Health kiosks end to end on real Mosquitto brokers: simulated kiosk -> the complex's
local broker -> `facility edge run` -> the central broker -> a gateway stand-in.

The pseudonyms expected are computed here with hmac (kiosk_support); every payload on
the central broker, the outbox files and the agent's log are searched for the card.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from edge_support import Gateway, wait_until
from facility_cli.services import Mosquitto
from facility_contracts import codec
from facility_contracts.envelope import DeviceNotice, DeviceNoticeBody, HealthReading, Status
from facility_contracts.vitals import classify, is_crisis
from facility_edge.clock import SystemClock
from facility_edge.config import HealthKioskConfig, parse_config
from facility_edge.errors import OutboxFull
from facility_edge.kiosk_reader import KioskReader
from facility_edge.outbox import MemoryOutbox
from facility_edge.recorder import Recorder
from facility_edge.status import DeviceStates
from facility_server.broker_auth import mosquitto_hash
from facility_sim.kiosk import MqttKiosk
from facility_sim.kiosk_day import PlannedSession, day_plan, kiosk_sessions, member_cards
from kiosk_support import KEY, card_forms, kiosk_device, reference_pseudonym, write_key

pytestmark = pytest.mark.integration

SHANGHAI = ZoneInfo("Asia/Shanghai")
KIOSK = "kiosk-elder-1"
READER = "kiosks-elderly"


class CentralTap:
    """Every message on the central broker for one site, raw (topic, payload)."""

    def __init__(self, port: int, site: str) -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"tap-{site}")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"facility/v1/{site}/#", qos=1)
        self.client.loop_start()

    def _on_message(self, _c: object, _u: object, msg: object) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))  # type: ignore[attr-defined]

    def events(self) -> list[object]:
        with self._lock:
            evts = [p for t, p in self.messages if t.endswith("/evt")]
        return [codec.decode_event(p) for p in evts]

    def statuses(self, agent: str) -> list[Status]:
        with self._lock:
            found = [p for t, p in self.messages if t.endswith(f"/{agent}/status")]
        return [codec.decode_status(p) for p in found]

    def payloads(self) -> list[bytes]:
        with self._lock:
            return [p for _, p in self.messages]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def morning(sessions: int, faults: dict[str, int], seed: int) -> list[PlannedSession]:
    """A morning window three days ago (Shanghai), so kiosk times are in the past."""
    day = (datetime.now(SHANGHAI) - timedelta(days=3)).date()
    opens = datetime(day.year, day.month, day.day, 8, tzinfo=SHANGHAI)
    cards = member_cards(6, seed)
    return day_plan(
        opens, opens + timedelta(hours=3, minutes=30), cards=cards, sessions=sessions,
        seed=seed, faults=faults,  # type: ignore[arg-type]
    )  # fmt: skip


def local_auth(folder: Path) -> str:
    """The local broker's access rules as docs/deploy.md gives them (passwords, ACL):
    kiosks may only publish their own sessions, the agent may only read sessions."""
    users = folder / "kiosk.passwd"
    users.write_text(
        f"edge:{mosquitto_hash('edge-pw-123')}\n{KIOSK}:{mosquitto_hash('kiosk-pw-456')}\n"
    )
    acl = folder / "kiosk.acl"
    acl.write_text(
        "user edge\ntopic read kiosk/v1/+/session\n\npattern write kiosk/v1/%u/session\n"
    )
    me = pwd.getpwuid(os.getuid()).pw_name  # the broker drops root for this user
    return f"allow_anonymous false\npassword_file {users}\nacl_file {acl}\nuser {me}\n"


def write_config(tmp_path: Path, site: str, central: int, local: str, creds: str = "") -> Path:
    key = write_key(tmp_path)
    path = tmp_path / "edge.yaml"
    path.write_text(f"""
agent: {{id: edge-elderly, site: {site}, data_dir: data}}
mqtt: {{host: 127.0.0.1, port: {central}, keepalive_s: 5}}
outbox: {{max_inflight: 20, ack_timeout_s: 2}}
heartbeat_s: 1
devices:
  - {{type: health_kiosk, id: {READER}, broker: "{local}", key_file: {key},
      kiosks: {{{KIOSK}: elderly-care}}, keepalive_s: 5 {creds}}}
""")
    return path


def no_card_anywhere(cards: list[str], blobs: list[bytes]) -> None:
    for card in cards:
        for form in card_forms(card):
            assert not any(form in blob for blob in blobs), "a card number leaked"


def test_kiosk_morning_reaches_the_centre_pseudonymised(
    mosquitto_factory: Callable[..., Mosquitto],
    gateway_factory: Callable[..., Gateway],
    agent_process: Callable[[Path], subprocess.Popen[bytes]],
    tmp_path: Path,
    site_id: str,
) -> None:
    """A morning with a crisis and bad readings (and a message that is not JSON in the
    middle): every good session arrives once with the HMAC pseudonym; each bad one is a
    reading_rejected notice; no card number on the central broker, in the outbox or the log."""
    local = mosquitto_factory(persistence=False, extra=local_auth(tmp_path))
    central = mosquitto_factory(persistence=False)
    gw = gateway_factory(central.port, site_id)
    tap = CentralTap(central.port, site_id)
    creds = ", username: edge, password: edge-pw-123"
    agent = agent_process(write_config(tmp_path, site_id, central.port, local.url, creds))
    wait_until(lambda: gw.reading_boot(READER, set()), timeout=20)
    faults = {"crisis": 2, "impossible_value": 3, "bad_unit": 3, "bp_inverted": 1}
    plan = morning(40, faults, seed=7)
    sessions = kiosk_sessions(plan, KIOSK)
    kiosk = MqttKiosk(f"mqtt://{KIOSK}:kiosk-pw-456@127.0.0.1:{local.port}", KIOSK).start()
    assert kiosk.connected.wait(10)
    for i, s in enumerate(sessions):
        kiosk.publish(s)
        if i == 20:  # not JSON, with a card number in it
            kiosk.client.publish(kiosk.topic, b'{"card": "3301 0600 1234", "readings": [', qos=1)
    assert kiosk.wait_confirmed(15)
    good = {s.id: p for s, p in zip(sessions, plan, strict=True) if p.fault in (None, "crisis")}
    bad = [p.fault for p in plan if p.fault not in (None, "crisis")] + ["not_json"]

    def arrived() -> bool:
        events = gw.snapshot().values()
        readings = [e for e in events if isinstance(e, HealthReading)]
        notices = [e for e in events if isinstance(e, DeviceNotice)]
        return len(readings) == len(good) and len(notices) == len(bad)

    wait_until(arrived, timeout=20)
    events = list(gw.snapshot().values())
    readings = {e.id: e for e in events if isinstance(e, HealthReading)}
    assert set(readings) == set(good)
    for event_id, planned in good.items():
        event = readings[event_id]
        assert (event.device, event.body.space) == (KIOSK, "elderly-care")
        assert event.body.member == reference_pseudonym(planned.card)
        got = [(r.type, r.value, r.unit) for r in event.body.readings]
        assert got == [(t, float(v), u) for t, v, u in planned.readings]
        crisis = any(is_crisis(classify(r.type, r.value)) for r in event.body.readings)
        assert crisis == (planned.fault == "crisis")
    notices = [e for e in events if isinstance(e, DeviceNotice)]
    assert {n.device for n in notices} == {KIOSK}
    # the kiosk's registry code shows in the agent's status, not only the reader's id
    assert tap.statuses("edge-elderly")[-1].devices == {READER: "reading", KIOSK: "reading"}
    assert sorted(n.body.detail.split()[0] for n in notices) == sorted(f"reason={r}" for r in bad)
    kiosk.stop()
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(20) == 0
    cards = sorted({p.card for p in plan} | {"3301 0600 1234"})
    outbox_files = [f.read_bytes() for f in (tmp_path / "data").iterdir() if f.is_file()]
    logs = [f.read_bytes() for f in tmp_path.glob("agent-*.log")]
    no_card_anywhere(cards, tap.payloads() + outbox_files + logs)
    assert b"reason=not_json" in logs[0]  # the log names the rejection
    tap.close()


def test_sigkill_while_the_kiosk_publishes_loses_nothing_and_stores_once(
    mosquitto_factory: Callable[..., Mosquitto],
    gateway_factory: Callable[..., Gateway],
    agent_process: Callable[[Path], subprocess.Popen[bytes]],
    tmp_path: Path,
    site_id: str,
) -> None:
    """Sessions published before, during and after an agent SIGKILL all arrive: each
    session id is recorded once (one boot and seq), and seq has no gap in either boot."""
    local = mosquitto_factory(persistence=False)
    central = mosquitto_factory(persistence=False)
    gw = gateway_factory(central.port, site_id)
    tap = CentralTap(central.port, site_id)
    config = write_config(tmp_path, site_id, central.port, local.url)
    first = agent_process(config)
    boot1 = wait_until(lambda: gw.reading_boot(READER, set()), timeout=20)
    plan = morning(90, {}, seed=11)
    sessions = kiosk_sessions(plan, KIOSK)
    kiosk = MqttKiosk(local.url, KIOSK).start()
    assert kiosk.connected.wait(10)

    def publish_all() -> None:
        for s in sessions:
            kiosk.publish(s)
            time.sleep(0.03)

    publisher = threading.Thread(target=publish_all, daemon=True)
    publisher.start()
    wait_until(lambda: len(gw.snapshot()) >= 15, timeout=20)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    time.sleep(0.8)  # sessions keep coming while the agent is down
    agent_process(config)
    wait_until(lambda: gw.reading_boot(READER, {boot1}), timeout=20)
    publisher.join(30)
    assert kiosk.wait_confirmed(10)
    want = {s.id for s in sessions}

    def placed() -> dict[str, set[tuple[str, int]]]:
        """Session id -> every (boot, seq) it was sent with, from all central traffic."""
        out: dict[str, set[tuple[str, int]]] = {}
        for e in tap.events():
            if isinstance(e, HealthReading):
                out.setdefault(e.id, set()).add((e.boot, e.seq))
        return out

    wait_until(lambda: want <= set(gw.snapshot()) and want <= set(placed()), timeout=30)
    time.sleep(0.5)  # late re-sends would show as a second (boot, seq)
    places = placed()
    assert set(places) == want
    assert all(len(p) == 1 for p in places.values()), "a session was recorded twice"
    by_boot: dict[str, list[int]] = {}
    for ((boot, seq),) in places.values():
        by_boot.setdefault(boot, []).append(seq)
    assert len(by_boot) == 2 and min(len(s) for s in by_boot.values()) >= 10
    for boot, seqs in by_boot.items():
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), f"gap in boot {boot}"
    kiosk.stop()
    tap.close()


def test_a_message_is_acked_only_after_its_commit(
    mosquitto_factory: Callable[..., Mosquitto], tmp_path: Path
) -> None:
    """While the outbox refuses (full) the session is not acked: the reader shows
    outbox_full; stopped then, the broker delivers the session again to the next reader
    (same client id), which stores it."""
    local = mosquitto_factory(persistence=False)
    cfg = parse_config(
        {
            "agent": {"id": "edge-1", "site": "s", "data_dir": str(tmp_path)},
            "mqtt": {"host": "127.0.0.1"},
            "devices": [kiosk_device(tmp_path / "k", broker=local.url)],
        }
    ).devices[0]
    assert isinstance(cfg, HealthKioskConfig)

    def reader(outbox: MemoryOutbox) -> tuple[KioskReader, DeviceStates]:
        states = DeviceStates()
        recorder = Recorder(outbox, SystemClock(), agent_id="edge-1")
        made = KioskReader(cfg, recorder, states, KEY, agent_id="edge-1").start()
        wait_until(lambda: states.snapshot().get(cfg.id) == "reading")
        return made, states

    full = MemoryOutbox(max_events=1)
    full.append(filler(), {})
    first, states = reader(full)
    kiosk = MqttKiosk(local.url, KIOSK).start()
    (session,) = kiosk_sessions(morning(1, {}, seed=3), KIOSK)
    kiosk.publish(session)
    assert kiosk.wait_confirmed(10)  # the broker has it
    wait_until(lambda: states.snapshot().get(cfg.id) == "outbox_full")
    with pytest.raises(OutboxFull):
        full.append(filler(), {})
    first.stop()
    roomy = MemoryOutbox()
    second, states = reader(roomy)
    wait_until(lambda: roomy.depth() == 1, timeout=10)
    (stored,) = roomy.pending(10, 0)
    assert stored.id == session.id and states.snapshot()[cfg.id] == "reading"
    second.stop()
    kiosk.stop()


def test_each_accepted_kiosk_shows_the_reader_state(
    mosquitto_factory: Callable[..., Mosquitto], tmp_path: Path
) -> None:
    """The reader's state shows under each listed kiosk's id from the start, under a kiosk
    accepted through other_kiosks_space from its first session, and all of them turn
    disconnected when the local broker goes away (server device health maps kiosk ids)."""
    local = mosquitto_factory(persistence=False)
    dev = kiosk_device(
        tmp_path / "k", broker=local.url, kiosks={KIOSK: "elderly-care"},
        other_kiosks_space="day-room", keepalive_s=5,
    )  # fmt: skip
    cfg = parse_config(
        {"agent": {"id": "edge-1", "site": "s", "data_dir": str(tmp_path)},
         "mqtt": {"host": "127.0.0.1"}, "devices": [dev]}
    ).devices[0]  # fmt: skip
    assert isinstance(cfg, HealthKioskConfig)
    states = DeviceStates()
    recorder = Recorder(MemoryOutbox(), SystemClock(), agent_id="edge-1")
    reader = KioskReader(cfg, recorder, states, KEY, agent_id="edge-1").start()
    wait_until(lambda: states.snapshot() == {READER: "reading", KIOSK: "reading"})
    other = MqttKiosk(local.url, "kiosk-day-2").start()
    (session,) = kiosk_sessions(morning(1, {}, seed=5), "kiosk-day-2")
    other.publish(session)
    assert other.wait_confirmed(10)
    wait_until(lambda: states.snapshot().get("kiosk-day-2") == "reading")
    other.stop()
    local.kill()
    wait_until(
        lambda: (
            states.snapshot()
            == {READER: "disconnected", KIOSK: "disconnected", "kiosk-day-2": "disconnected"}
        ),
        timeout=15,
    )
    reader.stop()


def filler() -> list[DeviceNotice]:
    """One unrelated event to fill an outbox."""
    return [
        DeviceNotice(
            id=str(uuid.uuid4()), device="edge-1", boot="b", seq=1, ts=1_764_400_000_000,
            mono=1, synced=True, body=DeviceNoticeBody(code="reconnected"),
        )
    ]  # fmt: skip
