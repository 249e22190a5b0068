"""Outbox to broker with a hand-written fake publisher: window, re-send, sent field, acks."""

from __future__ import annotations

import json
import uuid

from edge_support import FakePublisher
from facility_contracts import codec, topics
from facility_contracts.envelope import DoorCrossing, DoorCrossingBody
from facility_edge.clock import FakeClock
from facility_edge.forwarder import PUMP_CHUNK, Forwarder
from facility_edge.outbox import Event, MemoryOutbox
from facility_edge.recorder import Batch, Draft, Recorder

SITE = "site-a"
BOOT = "boot-now"
TIMEOUT = 10_000


def ev(seq: int, boot: str = BOOT, device: str = "dc-1") -> DoorCrossing:
    return DoorCrossing(
        id=str(uuid.uuid4()),
        device=device,
        boot=boot,
        seq=seq,
        ts=1_800_000_000_000,
        mono=100 * seq,
        synced=True,
        body=DoorCrossingBody(in_=1, out=0, space="hall"),
    )


def setup(
    n: int = 0, max_inflight: int = 3, **kw: object
) -> tuple[Forwarder, MemoryOutbox, FakePublisher, FakeClock]:
    clock = FakeClock(mono_ms=50_000)
    outbox = MemoryOutbox(ack_timeout_ms=TIMEOUT)
    if n:
        outbox.append([ev(i + 1, **kw) for i in range(n)], {})  # type: ignore[arg-type]
    pub = FakePublisher()
    fwd = Forwarder(
        outbox, pub, clock, site=SITE, boot=BOOT, mono0=40_000, max_inflight=max_inflight
    )
    return fwd, outbox, pub, clock


def test_sends_at_most_max_inflight() -> None:
    """Only max_inflight unconfirmed events are on the wire; an ack lets the next one go."""
    fwd, outbox, pub, _ = setup(5)
    assert fwd.pump() == 3 and fwd.pump() == 0
    first = pub.events()[0]
    fwd.handle_message(topics.ack_topic(SITE, "dc-1"), codec.encode_ack([first.id]))
    assert outbox.depth() == 4 and fwd.pump() == 1
    assert [e.seq for e in pub.events()] == [1, 2, 3, 4]


def test_window_filled_in_chunks() -> None:
    """One pump sends at most PUMP_CHUNK events; repeated pumps fill the window in order."""
    fwd, _, pub, _ = setup(PUMP_CHUNK * 3, max_inflight=PUMP_CHUNK * 2 + 7)
    sent = [fwd.pump() for _ in range(4)]
    assert sent == [PUMP_CHUNK, PUMP_CHUNK, 7, 0]
    assert [e.seq for e in pub.events()] == list(range(1, PUMP_CHUNK * 2 + 8))


def test_events_go_to_their_device_topic() -> None:
    """Each event is published on the event topic of its own device."""
    fwd, outbox, pub, _ = setup()
    outbox.append([ev(1, device="dc-a"), ev(2, device="dc-b")], {})
    fwd.pump()
    assert [m.topic for m in pub.sent] == [
        topics.event_topic(SITE, "dc-a"),
        topics.event_topic(SITE, "dc-b"),
    ]
    assert not any(m.retain for m in pub.sent)


def test_resend_after_ack_timeout_same_id_new_sent() -> None:
    """An unconfirmed event is sent again after ack_timeout with the same id and a newer sent."""
    fwd, _, pub, clock = setup(1)
    fwd.pump()
    clock.advance(TIMEOUT - 1)
    assert fwd.pump() == 0
    clock.advance(1)
    assert fwd.pump() == 1
    first, again = pub.events()
    assert first.id == again.id
    assert (first.sent, again.sent) == (10_000, 10_000 + TIMEOUT)  # ms since the agent started


def test_sent_is_never_before_the_event() -> None:
    """An event stamped while a pump takes its batch still goes out with sent >= mono."""
    clock = FakeClock(mono_ms=50_000)
    pub = FakePublisher()
    body = DoorCrossingBody(in_=1, out=0, space="hall")

    class RacingOutbox(MemoryOutbox):
        def pending(self, n: int, now_ms: int) -> list[Event]:
            clock.advance(7)  # time passes and a reader stores an event meanwhile
            rec.record(lambda stamp: Batch([Draft("dc-1", body)]))
            return super().pending(n, now_ms)

    outbox = RacingOutbox(ack_timeout_ms=TIMEOUT)
    rec = Recorder(outbox, clock, agent_id="edge-1", boot=BOOT)
    fwd = Forwarder(outbox, pub, clock, site=SITE, boot=BOOT, mono0=rec.mono0, max_inflight=3)
    fwd.pump()
    (event,) = pub.events()
    assert event.mono == 7 and event.sent is not None and event.sent >= event.mono


def test_previous_boot_events_carry_no_sent() -> None:
    """Events of an earlier boot are sent as stored: no sent field (their mono is another clock)."""
    fwd, _, pub, _ = setup(1, boot="boot-old")
    fwd.pump()
    assert "sent" not in json.loads(pub.sent[0].payload)


def test_nothing_is_deleted_without_ack() -> None:
    """Publishing (and the broker's PUBACK) deletes nothing; only acks delete."""
    fwd, outbox, _, clock = setup(3)
    for _ in range(5):
        fwd.pump()
        clock.advance(TIMEOUT)
    assert outbox.depth() == 3


def test_bad_or_foreign_messages_are_ignored() -> None:
    """Malformed acks and messages on other channels change nothing and raise nothing."""
    fwd, outbox, pub, _ = setup(2)
    fwd.pump()
    for topic, payload in [
        (topics.ack_topic(SITE, "dc-1"), b"not json"),
        (topics.ack_topic(SITE, "dc-1"), b'{"v":1,"ids":[]}'),
        ("some/other/topic", b"{}"),
        (topics.event_topic(SITE, "dc-1"), codec.encode_ack([pub.events()[0].id])),
    ]:
        fwd.handle_message(topic, payload)
    assert outbox.depth() == 2 and fwd.bad_acks == 3


def test_disconnected_publisher_sends_nothing() -> None:
    """While the broker is away nothing is handed to the client."""
    fwd, _, pub, _ = setup(2)
    pub.is_connected = False
    assert fwd.pump() == 0 and pub.sent == []


def test_reconnect_resends_what_the_old_connection_carried() -> None:
    """After a reconnect, events sent before it go again at once; those sent after do not."""
    fwd, outbox, pub, clock = setup(3)
    outbox.mark_sent([e.id for e in outbox.pending(2, 0)], clock.mono_ms())  # old connection
    clock.advance(100)
    fwd.reconnected()
    assert fwd.pump() == 3  # seq 1, 2 again and 3 for the first time
    fwd.reconnected()
    assert fwd.pump() == 0  # all three went on the current connection
    assert [e.seq for e in pub.events()] == [1, 2, 3]


def test_refused_publish_is_retried() -> None:
    """An event the client refused is not marked sent and goes at the next pump."""
    fwd, outbox, pub, _ = setup(1)
    pub.refuse = True
    assert fwd.pump() == 0 and outbox.inflight(50_000) == 0
    pub.refuse = False
    assert fwd.pump() == 1
