"""Throughput plumbing: batch hand-over between threads, message dispatch, collector tuning."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from facility_gateway import pahoclient
from facility_gateway.intake import IntakeQueue


class CountingEvent(threading.Event):
    """A threading.Event that counts its set() calls."""

    def __init__(self) -> None:
        super().__init__()
        self.sets = 0

    def set(self) -> None:
        self.sets += 1
        super().set()


def _wait_until(check: object, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.001)


def test_take_returns_when_the_stream_pauses() -> None:
    """With quiet_s, a partial batch goes once nothing arrived for quiet_s, not after max_wait_s."""
    queue: IntakeQueue[int] = IntakeQueue(100)
    for i in range(3):
        queue.offer(i)
    start = time.monotonic()
    batch = queue.take(10, max_wait_s=30.0, quiet_s=0.05)
    assert batch == [0, 1, 2] and time.monotonic() - start < 10.0


def test_take_without_quiet_waits_the_whole_window() -> None:
    """Without quiet_s a partial batch waits max_wait_s for more items."""
    queue: IntakeQueue[int] = IntakeQueue(100)
    queue.offer(1)
    start = time.monotonic()
    assert queue.take(10, max_wait_s=0.3) == [1]
    assert time.monotonic() - start >= 0.3


def test_take_keeps_filling_while_items_arrive() -> None:
    """Arrivals closer together than quiet_s keep the batch open until it is full."""
    queue: IntakeQueue[int] = IntakeQueue(100)

    def produce() -> None:
        for i in range(40):
            queue.offer(i)
            time.sleep(0.005)

    producer = threading.Thread(target=produce)
    producer.start()
    batch = queue.take(40, max_wait_s=30.0, quiet_s=1.0)
    producer.join()
    assert batch == list(range(40))


def test_waiting_consumer_is_woken_once_per_wait() -> None:
    """Offers made before the woken consumer runs do not set its event again."""
    queue: IntakeQueue[int] = IntakeQueue(10_000)
    wake = CountingEvent()
    queue._wake = wake
    got: list[int] = []
    consumer = threading.Thread(target=lambda: got.extend(queue.take(5000, 0.2, idle_s=10)))
    consumer.start()
    _wait_until(lambda: queue._waiting)
    for i in range(2000):
        queue.offer(i)
    consumer.join()
    assert got == list(range(2000)) and wake.sets == 1


def test_direct_dispatch_with_installed_paho() -> None:
    """The installed paho has what direct dispatch needs, and a message reaches on_message."""
    client = pahoclient.make_client("gw-test", v5=False)
    assert type(client) is pahoclient.FastClient
    seen: list[tuple[object, bytes]] = []
    client.user_data_set("ud")
    client.on_message = lambda _c, userdata, msg: seen.append((userdata, msg.payload))
    msg = mqtt.MQTTMessage(mid=1, topic=b"facility/v1/xh-01/dc-a/evt")
    msg.payload = b"{}"
    client._handle_on_message(msg)
    assert seen == [("ud", b"{}")]


def test_handler_error_is_raised_as_paho_does() -> None:
    """An exception in on_message propagates (paho's default) and is not swallowed."""
    client = pahoclient.make_client("gw-test", v5=True)

    def boom(*_: object) -> None:
        raise RuntimeError("handler failed")

    client.on_message = boom
    with pytest.raises(RuntimeError, match="handler failed"):
        client._handle_on_message(mqtt.MQTTMessage(mid=1, topic=b"t"))


def test_direct_dispatch_refuses_per_topic_callbacks() -> None:
    """A per-topic callback would never be called by direct dispatch, so adding one fails."""
    client = pahoclient.make_client("gw-test", v5=False)
    with pytest.raises(TypeError, match="facility/v1/#"):
        client.message_callback_add("facility/v1/#", lambda *_: None)


def test_falls_back_to_paho_dispatch_without_its_internals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When paho lacks an internal the override relies on, the plain paho client is used."""
    monkeypatch.setattr(pahoclient, "INTERNALS", ("_no_such_attribute",))
    assert type(pahoclient.make_client("gw-test", v5=False)) is mqtt.Client


def test_tune_gc_freezes_start_up_heap_and_raises_threshold() -> None:
    """tune_gc (in a fresh interpreter) freezes what exists and sets the young threshold."""
    code = (
        "import gc; from facility_gateway.runtime import tune_gc; tune_gc(5000); "
        "print(gc.get_threshold()[0], gc.get_freeze_count() > 1000)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["5000", "True"]
