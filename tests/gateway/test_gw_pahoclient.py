"""FastClient: buffered reads and batched PUBACKs deliver every message once, in order."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import paho.mqtt.client as mqtt
import pytest
from facility_cli.loadgen import Load, blast
from facility_cli.services import Mosquitto
from facility_gateway import pahoclient
from facility_gateway.pahoclient import FastClient
from facility_gateway.subscriber import MqttLink, MqttOptions
from paho.mqtt.enums import CallbackAPIVersion


def publish_packet(topic: str, mid: int, payload: bytes) -> bytes:
    """A QoS 1 PUBLISH as MQTT 3.1.1 section 3.3 lays it out (remaining length < 16,384)."""
    body = len(topic).to_bytes(2, "big") + topic.encode() + mid.to_bytes(2, "big") + payload
    n = len(body)
    length = bytes([n]) if n < 128 else bytes([(n & 127) | 128, n >> 7])
    return b"\x32" + length + body


def puback(mid: int) -> bytes:
    """A PUBACK (MQTT 3.1.1 section 3.4): type 4, remaining length 2, the packet id."""
    return b"\x40\x02" + mid.to_bytes(2, "big")


class CountingSocket:
    """The client's end of a socket pair, counting recv and send calls."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.recvs = 0
        self.sends = 0

    def recv(self, n: int) -> bytes:
        self.recvs += 1
        return self.sock.recv(n)

    def send(self, data: bytes) -> int:
        self.sends += 1
        return self.sock.send(data)

    def fileno(self) -> int:
        return self.sock.fileno()

    def setblocking(self, flag: bool) -> None:
        self.sock.setblocking(flag)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def wired() -> Iterator[tuple[FastClient, CountingSocket, socket.socket, list[bytes]]]:
    """A FastClient reading one end of a socket pair as if on its own loop thread; the
    test writes broker bytes into the other end. Yields (client, its socket, broker end,
    payloads received in order)."""
    mine, broker = socket.socketpair()
    mine.setblocking(False)
    client = FastClient(CallbackAPIVersion.VERSION2, client_id="t", clean_session=False)
    sock = CountingSocket(mine)
    client._sock = sock  # type: ignore[assignment]
    client._thread = threading.current_thread()  # PUBACKs take the loop-thread path
    got: list[bytes] = []
    client.on_message = lambda _c, _u, msg: got.append(msg.payload)
    yield client, sock, broker, got
    client._thread = None
    client._sock = None
    mine.close()
    broker.close()


def test_packets_split_across_reads_arrive_whole_and_in_order(
    wired: tuple[FastClient, CountingSocket, socket.socket, list[bytes]],
) -> None:
    """Packets in one read, and one cut in two between reads, all reach on_message in
    order, and nothing is left buffered after a turn."""
    client, sock, broker, got = wired
    packets = [publish_packet("facility/v1/s/d/evt", mid, b"x" * mid) for mid in (1, 2, 200)]
    stream = b"".join(packets)
    cut = len(packets[0]) + len(packets[1]) + 5
    broker.sendall(stream[:cut])
    client.loop_read()
    assert got == [b"x", b"xx"] and client.buffered() == 0
    broker.sendall(stream[cut:])
    client.loop_read()
    assert got == [b"x", b"xx", b"x" * 200] and client.buffered() == 0
    assert sock.recvs <= 4  # paho alone: 3 to 4 per packet


def test_pubacks_queued_on_the_loop_thread_go_out_together_in_order(
    wired: tuple[FastClient, CountingSocket, socket.socket, list[bytes]],
) -> None:
    """Each message is acknowledged once, in arrival order, in a single send."""
    client, sock, broker, got = wired
    mids = [7, 8, 9, 300, 65535]
    broker.sendall(b"".join(publish_packet("t/x", m, b"p") for m in mids))
    client.loop_read()
    assert len(got) == len(mids) and client.want_write()
    client.loop_write()
    assert broker.recv(1000) == b"".join(puback(m) for m in mids)
    assert sock.sends == 1 and not client.want_write()


def test_reads_per_turn_are_bounded(
    wired: tuple[FastClient, CountingSocket, socket.socket, list[bytes]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With one small read allowed per turn, a turn handles only what that read brought,
    leaves the rest in the socket (where select sees it) and the next turns get it all."""
    monkeypatch.setattr(pahoclient, "READ_CHUNK", 64)
    monkeypatch.setattr(pahoclient, "READS_PER_TURN", 1)
    client, sock, broker, got = wired
    packets = [publish_packet("t/x", mid, b"%03d" % mid) for mid in range(1, 41)]
    broker.sendall(b"".join(packets))
    client.loop_read()
    assert 0 < len(got) < 40 and sock.recvs == 1 and client.buffered() == 0
    for _ in range(100):
        if len(got) == 40:
            break
        client.loop_read()
    assert got == [b"%03d" % mid for mid in range(1, 41)]


def test_closing_the_socket_drops_buffered_bytes(
    wired: tuple[FastClient, CountingSocket, socket.socket, list[bytes]],
) -> None:
    """Bytes read on one connection are never parsed as the next connection's."""
    client, _sock, broker, _got = wired

    def boom(*_: object) -> None:
        raise RuntimeError("handler failed")

    client.on_message = boom
    broker.sendall(b"".join(publish_packet("t/x", mid, b"p") for mid in (1, 2)))
    with pytest.raises(RuntimeError):
        client.loop_read()
    assert client.buffered() > 0
    client._sock_close()
    assert client.buffered() == 0


@pytest.mark.integration
@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_backlog_is_drained_once_and_fully_acknowledged(
    mosquitto: Mosquitto, site_id: str, protocol: str
) -> None:
    """A persistent session's backlog of 3,000 QoS 1 messages reaches the handler once
    each; the broker got every PUBACK, so a later session receives nothing again."""
    options = MqttOptions(
        host="127.0.0.1",
        port=mosquitto.port,
        client_id=f"fast-{uuid.uuid4().hex[:8]}",
        subscriptions=(f"facility/v1/{site_id}/+/evt",),
        protocol=protocol,
    )
    probe_topic = f"facility/v1/{site_id}/probe/evt"
    got: list[tuple[bytes, bool]] = []
    lock = threading.Lock()

    def handler(_topic: str, payload: bytes, dup: bool) -> None:
        with lock:
            got.append((payload, dup))

    def events() -> list[tuple[bytes, bool]]:
        with lock:
            return [(p, d) for p, d in got if p != b"probe"]

    def session(until: Callable[[], bool], timeout_s: float) -> None:
        link = MqttLink(options)
        assert isinstance(link.client, FastClient)
        link.start(handler)
        assert link.connected.wait(10)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not until():
            time.sleep(0.05)
        time.sleep(0.3)  # let the last PUBACKs out before disconnecting
        link.stop()

    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.loop_start()

    def subscribed() -> bool:  # the session exists once a probe comes back
        publisher.publish(probe_topic, b"probe", qos=1)
        with lock:
            return any(p == b"probe" for p, _ in got)

    try:
        session(subscribed, 10)
    finally:
        publisher.loop_stop()
        publisher.disconnect()
    assert any(p == b"probe" for p, _ in got)
    load = Load(site_id)
    for d in range(3):
        topic = f"facility/v1/{site_id}/dc-{d}/evt"
        load.lines[topic] = [b'{"n":"%d-%04d"}' % (d, i) for i in range(1000)]
    blast(mosquitto.port, load)
    session(lambda: len(events()) >= 3000, 60)
    expected = {p for lines in load.lines.values() for p in lines}
    assert len(events()) == 3000 and {p for p, _ in events()} == expected
    assert not any(dup for _, dup in events())
    session(lambda: len(events()) > 3000, 1.5)
    assert len(events()) == 3000
