"""Helpers for the edge tests: a fake publisher, serial lines, a gateway stand-in."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path
from typing import Any

from facility_contracts import codec, topics
from facility_contracts.serial import door_counter as dc
from facility_edge.publisher import Message


def wait_until(pred: Callable[[], Any], timeout: float = 10.0, every: float = 0.02) -> Any:
    """Poll ``pred`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(every)


def frame(seq: int, uptime: int, tin: int, tout: int, rtc: int | None = None) -> bytes:
    """One valid DC frame on the wire."""
    return dc.encode(dc.DoorFrame(seq, uptime, tin, tout, rtc))


class FakePublisher:
    """A hand-written :class:`~facility_edge.publisher.Publisher` that records everything."""

    def __init__(self, connected: bool = True) -> None:
        self.is_connected = connected
        self.sent: list[Message] = []
        self.topics: list[str] = []
        self.started = False
        self.stopped_with: Message | None = None
        self.stopped = False
        self.refuse = False
        self._on_connect: Callable[[], None] = lambda: None
        self._on_message: Callable[[str, bytes], None] = lambda t, p: None

    def start(
        self, on_connect: Callable[[], None], on_message: Callable[[str, bytes], None]
    ) -> None:
        self.started = True
        self._on_connect, self._on_message = on_connect, on_message
        if self.is_connected:
            on_connect()

    def stop(self, goodbye: Message | None = None, timeout_s: float = 2.0) -> None:
        self.stopped, self.stopped_with = True, goodbye

    def connected(self) -> bool:
        return self.is_connected

    def subscribe(self, topics: list[str]) -> None:
        self.topics.extend(t for t in topics if t not in self.topics)

    def publish(self, message: Message) -> bool:
        if not self.is_connected or self.refuse:
            return False
        self.sent.append(message)
        return True

    # test controls
    def connect(self) -> None:
        self.is_connected = True
        self._on_connect()

    def deliver(self, topic: str, payload: bytes) -> None:
        self._on_message(topic, payload)

    def events(self) -> list[Any]:
        return [codec.decode_event(m.payload) for m in self.sent if m.topic.endswith("/evt")]

    def statuses(self) -> list[Any]:
        return [codec.decode_status(m.payload) for m in self.sent if m.topic.endswith("/status")]


class PtyLine:
    """A serial line made of a pty; the reader opens ``path``, a symlink to the pty slave.

    ``unplug`` closes the master (the reader gets EIO) and removes the symlink;
    ``replug`` makes a new pty and points the symlink at it.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / "ttyDC0"
        self.url = str(self.path)
        self.master: int | None = None
        self.slave: int | None = None
        self.replug()

    def replug(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        tmp = self.path.with_suffix(".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(self.slave))
        tmp.replace(self.path)

    def write(self, data: bytes) -> None:
        assert self.master is not None
        os.write(self.master, data)

    def unplug(self) -> None:
        self.path.unlink(missing_ok=True)
        for fd in (self.master, self.slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.master = self.slave = None

    def close(self) -> None:
        self.unplug()


class SocketLine:
    """A serial line over TCP (pyserial ``socket://``): the test is the device side."""

    def __init__(self, folder: Path) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(10)
        self.url = f"socket://127.0.0.1:{self._server.getsockname()[1]}"
        self._conn: socket.socket | None = None

    def _accept(self) -> socket.socket:
        if self._conn is None:
            self._conn, _ = self._server.accept()
        return self._conn

    def write(self, data: bytes) -> None:
        self._accept().sendall(data)

    def unplug(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def replug(self) -> None:
        self._accept()

    def close(self) -> None:
        self.unplug()
        self._server.close()


class Gateway:
    """Stands in for the gateway: records events from the broker and acks them.

    It subscribes (QoS 1, persistent session) to every event topic of ``site`` and,
    while ``acking`` is True, publishes ``codec.encode_ack(ids)`` on
    ``topics.ack_topic(site, device)`` for each event received, as the real gateway does.
    """

    def __init__(self, port: int, site: str, *, acking: bool = True) -> None:
        import paho.mqtt.client as mqtt

        self.site = site
        self.acking = acking
        self.events: dict[str, Any] = {}
        self.received = 0
        self.statuses: list[Any] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"gw-{site}", clean_session=False
        )
        self.client.reconnect_delay_set(1, 2)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect_async("127.0.0.1", port, 30)
        self.client.loop_start()
        if not self._ready.wait(10):
            raise AssertionError("gateway stand-in could not connect")

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        client.subscribe(
            [
                (topics.subscription("evt", site=self.site), 1),
                (topics.subscription("status", site=self.site), 1),
            ]
        )
        self._ready.set()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        if msg.topic.endswith("/status"):
            with self._lock:
                self.statuses.append(codec.decode_status(msg.payload))
            return
        event = codec.decode_event(msg.payload)
        with self._lock:
            self.received += 1
            self.events.setdefault(event.id, event)
        if self.acking:
            client.publish(
                topics.ack_topic(self.site, event.device), codec.encode_ack([event.id]), qos=1
            )

    def ack_all(self) -> None:
        """Confirm every event received so far."""
        with self._lock:
            by_device: dict[str, list[str]] = {}
            for e in self.events.values():
                by_device.setdefault(e.device, []).append(e.id)
        for device, ids in by_device.items():
            self.client.publish(topics.ack_topic(self.site, device), codec.encode_ack(ids), qos=1)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self.events)

    def reading_boot(self, device: str, seen: set[str]) -> str:
        """The boot of an online status from a boot not in ``seen`` whose reader of
        ``device`` is ``reading``, or "" while there is none."""
        for s in list(self.statuses):
            if (
                s.state == "online"
                and s.boot not in seen
                and (s.devices or {}).get(device) == "reading"
            ):
                return str(s.boot)
        return ""

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
