"""The simulated health kiosk: a seeded morning of plausible sessions with injected crisis
and bad readings, judged by the contract's checks; its MQTT side keeps and resends
unconfirmed sessions; the `facility sim kiosk` command."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import queue
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import pytest
from facility_cli.services import Mosquitto
from facility_contracts.errors import ContractError
from facility_contracts.kiosk import SESSION_FILTER, decode_session, encode_session, session_topic
from facility_contracts.vitals import classify, is_crisis
from facility_sim.kiosk import MqttKiosk
from facility_sim.kiosk_day import day_plan, kiosk_sessions, member_cards

SHANGHAI = ZoneInfo("Asia/Shanghai")
OPENS = datetime(2025, 11, 29, 8, 0, tzinfo=SHANGHAI)
CLOSES = datetime(2025, 11, 29, 11, 30, tzinfo=SHANGHAI)
FAULTS = {"crisis": 3, "impossible_value": 4, "bad_unit": 3, "bp_inverted": 2}
#: Injected faults decode_session refuses, each with the fault's name as its reason.
REFUSED = frozenset({"impossible_value", "bad_unit", "bp_inverted"})


def plan(seed: int = 1, sessions: int = 60, faults: dict[str, int] | None = None) -> list[Any]:
    cards = member_cards(10, seed)
    return day_plan(
        OPENS,
        CLOSES,
        cards=cards,
        sessions=sessions,
        seed=seed,
        faults=faults or {},  # type: ignore[arg-type]
    )


def test_member_cards_are_distinct_printed_and_seeded() -> None:
    """Cards look like '3301 06NN NNNN', are distinct, repeat for a seed, differ across seeds."""
    cards = member_cards(500, 4)
    assert len(set(cards)) == 500
    assert all(re.fullmatch(r"3301 06[0-9]{2} [0-9]{4}", c) for c in cards)
    assert member_cards(500, 4) == cards and member_cards(500, 5) != cards
    with pytest.raises(ValueError):
        member_cards(0)


def test_plan_is_seeded_sorted_and_inside_the_window() -> None:
    """Same seed, same plan; times are whole seconds in [opens, closes), in order."""
    first = plan(seed=2)
    assert plan(seed=2) == first and plan(seed=3) != first
    times = [p.at for p in first]
    assert times == sorted(times) and len(times) == 60
    assert all(OPENS <= t < CLOSES and t.microsecond == 0 for t in times)


def test_ordinary_sessions_are_valid_and_never_crisis() -> None:
    """Without faults every session decodes, blood pressure comes with heart rate, and no
    reading is in a crisis range (over many seeds)."""
    kinds: Counter[str] = Counter()
    for seed in range(20):
        planned = plan(seed)
        for p, message in zip(planned, kiosk_sessions(planned, "k-1"), strict=True):
            session = decode_session(encode_session(message))
            types = [r.type for r in session.readings]
            kinds[p.kind] += 1
            if p.kind == "blood_pressure":
                assert types == ["systolic_bp", "diastolic_bp", "heart_rate"]
            assert not any(is_crisis(classify(r.type, r.value)) for r in session.readings)
    assert set(kinds) == {"blood_pressure", "spo2", "temperature", "weight", "glucose"}
    assert kinds["blood_pressure"] > kinds["weight"]


def test_injected_sessions_break_the_contract_as_asked() -> None:
    """Each injected bad session fails decoding with its reason; each crisis session
    decodes and has a reading in a crisis range; counts are as asked."""
    planned = plan(seed=5, faults=FAULTS)
    assert Counter(p.fault for p in planned if p.fault) == FAULTS
    for p, message in zip(planned, kiosk_sessions(planned, "k-1"), strict=True):
        data = encode_session(message)
        if p.fault in REFUSED:
            with pytest.raises(ContractError) as err:
                decode_session(data)
            assert err.value.reason == p.fault
        else:
            readings = decode_session(data).readings
            crisis = any(is_crisis(classify(r.type, r.value)) for r in readings)
            assert crisis == (p.fault == "crisis")


def test_messages_carry_time_card_and_unique_ids() -> None:
    """ts is the planned instant in UTC ms, the card as printed, one id per session."""
    planned = plan(seed=6)
    messages = kiosk_sessions(planned, "kiosk-a")
    assert len({m.id for m in messages}) == len(messages)
    for p, m in zip(planned, messages, strict=True):
        assert m.ts == int(p.at.timestamp()) * 1000 and m.card == p.card
        assert (m.kiosk, m.synced) == ("kiosk-a", True)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"opens": OPENS.replace(tzinfo=None)}, "tz-aware"),
        ({"closes": OPENS}, "closes > opens"),
        ({"cards": []}, "one card"),
        ({"sessions": 0}, "one session"),
        ({"faults": {"crisis": 3, "bad_unit": 3}, "sessions": 5}, "add up"),
        ({"faults": {"crisis": -1}}, ">= 0"),
    ],
)
def test_bad_plan_arguments_are_refused(kwargs: dict[str, Any], match: str) -> None:
    """A naive or empty window, no cards or sessions, or impossible fault counts: ValueError."""
    args: dict[str, Any] = {"opens": OPENS, "closes": CLOSES, "cards": ["33010600"], "sessions": 4}
    args.update(kwargs)
    opens, closes = args.pop("opens"), args.pop("closes")
    with pytest.raises(ValueError, match=match):
        day_plan(opens, closes, **args)


class Listener:
    """A persistent-session subscriber to every kiosk session (survives broker restarts)."""

    def __init__(self, port: int, topic: str = SESSION_FILTER) -> None:
        self.got: queue.Queue[bytes] = queue.Queue()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"listener-{uuid.uuid4().hex[:8]}",
            clean_session=False,
        )
        self.client.reconnect_delay_set(0.2, 1)
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = lambda _c, _u, m: self.got.put(bytes(m.payload))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.subscribed.wait(10), "listener not subscribed"

    def ids(self, n: int, timeout_s: float = 10.0) -> list[str]:
        return [decode_session(self.got.get(timeout=timeout_s)).id for _ in range(n)]

    def until(self, wanted: set[str], timeout_s: float) -> set[str]:
        """Ids received until all of ``wanted`` came (QoS 1 may repeat some), or timeout."""
        seen: set[str] = set()
        deadline = time.monotonic() + timeout_s
        while not wanted <= seen and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                seen.add(decode_session(self.got.get(timeout=0.1)).id)
        return seen

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.integration
def test_kiosk_keeps_sessions_while_the_broker_is_down(
    mosquitto_factory: Callable[..., Mosquitto],
) -> None:
    """Sessions published while the broker is down stay pending and are sent and confirmed
    after it comes back; the subscriber receives every one."""
    me = pwd.getpwuid(os.getuid()).pw_name  # run as us: the broker saves sessions in a tmp dir
    broker = mosquitto_factory(persistence=True, extra=f"user {me}")
    listener = Listener(broker.port)
    messages = kiosk_sessions(plan(seed=8, sessions=12), "kiosk-a")
    kiosk = MqttKiosk(broker.url, "kiosk-a").start()
    assert kiosk.connected.wait(10)
    for m in messages[:4]:
        kiosk.publish(m)
    assert kiosk.wait_confirmed(10) and kiosk.confirmed == 4
    assert listener.ids(4) == [m.id for m in messages[:4]]
    broker.stop()  # SIGTERM: the broker saves the listener's session
    for m in messages[4:]:
        kiosk.publish(m)
    assert not kiosk.wait_confirmed(0.5) and len(kiosk.pending) == 8
    broker.start()
    assert kiosk.wait_confirmed(20) and kiosk.confirmed == 12
    later = {m.id for m in messages[4:]}
    assert listener.until(later, 20) >= later
    kiosk.stop()
    listener.close()


def _sim(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "facility_cli.main", "sim", "kiosk", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.integration
def test_cli_publishes_a_morning_with_faults(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """`facility sim kiosk` publishes every session (confirmed), writes the expect file,
    and the received messages carry the injected faults."""
    listener = Listener(mosquitto.port, session_topic("kiosk-cli"))
    expect = tmp_path / "expect.json"
    done = _sim(
        "--kiosk", "kiosk-cli", "--mqtt", mosquitto.url, "--sessions", "15", "--members", "4",
        "--crisis", "1", "--impossible", "1", "--wrong-unit", "1", "--inverted", "1",
        "--gap", "0", "--seed", "9", "--expect", str(expect),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["sessions"], summary["confirmed"], summary["unconfirmed"]) == (15, 15, 0)
    doc = json.loads(expect.read_text())
    faults = Counter(s["fault"] for s in doc["sessions"] if s["fault"])
    assert faults == {"crisis": 1, "impossible_value": 1, "bad_unit": 1, "bp_inverted": 1}
    reasons: Counter[str] = Counter()
    for _ in range(15):
        try:
            decode_session(listener.got.get(timeout=10))
        except ContractError as exc:
            reasons[exc.reason] += 1
    assert reasons == {"impossible_value": 1, "bad_unit": 1, "bp_inverted": 1}
    ends = datetime.fromisoformat(summary["window"][1])
    assert ends <= datetime.now(SHANGHAI) and ends - datetime.fromisoformat(
        summary["window"][0]
    ) == timedelta(hours=3, minutes=30)
    listener.close()


def _error(done: subprocess.CompletedProcess[str]) -> str:
    """stderr as one line (Typer draws errors in a box that wraps lines)."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", done.stderr).split())


def test_cli_refuses_future_window_and_bad_times() -> None:
    """A window not over yet, a bad HH:MM or a bad id: exit 2 with the option named."""
    tomorrow = (datetime.now(SHANGHAI) + timedelta(days=1)).date().isoformat()
    future = _sim("--kiosk", "k-1", "--day", tomorrow)
    assert future.returncode == 2 and "cannot publish sessions ahead of time" in _error(future)
    bad_time = _sim("--kiosk", "k-1", "--opens", "8h")
    assert bad_time.returncode == 2 and "--opens '8h'" in _error(bad_time)
    bad_id = _sim("--kiosk", "Kiosk A", "--day", "2025-01-02")
    assert bad_id.returncode == 2 and "--kiosk 'Kiosk A': not a valid id" in _error(bad_id)
