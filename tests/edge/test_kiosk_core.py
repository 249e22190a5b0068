"""Health kiosk reader, pure part: sessions -> pseudonymised readings, repeats stored once,
bad messages -> reading_rejected notices without the card, kiosk time, ack subscriptions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from edge_support import FakePublisher
from facility_contracts import codec, topics
from facility_contracts.envelope import DeviceNotice, HealthReading
from facility_contracts.kiosk import SESSION_FILTER, decode_session
from facility_edge.clock import FakeClock, Stamp
from facility_edge.config import HealthKioskConfig, parse_config
from facility_edge.forwarder import Forwarder
from facility_edge.kiosk import KioskCore, event_time, safe_field, topic_kiosk
from facility_edge.outbox import MemoryOutbox
from facility_edge.publisher import Message
from facility_edge.recorder import Batch, Recorder
from kiosk_support import (
    KEY,
    LOINC,
    card_forms,
    kiosk_device,
    payload,
    reference_pseudonym,
    session,
)

TOPIC = "kiosk/v1/kiosk-elder-1/session"
BOARD_MS = 1_764_403_200_000


def kiosk_cfg(tmp_path: Path, **over: Any) -> HealthKioskConfig:
    cfg = parse_config(
        {
            "agent": {"id": "edge-1", "site": "site-a", "data_dir": str(tmp_path)},
            "mqtt": {"host": "127.0.0.1", "port": 1},
            "devices": [kiosk_device(tmp_path / "k.key", **over)],
        }
    )
    dev = cfg.devices[0]
    assert isinstance(dev, HealthKioskConfig)
    return dev


class Rig:
    """A kiosk core recording through a real Recorder into a memory outbox."""

    def __init__(self, tmp_path: Path, **over: Any) -> None:
        self.clock = FakeClock(wall_ms=BOARD_MS, synced=True)
        self.outbox = MemoryOutbox()
        self.recorder = Recorder(self.outbox, self.clock, agent_id="edge-1", boot="boot-1")
        self.core = KioskCore(kiosk_cfg(tmp_path, **over), KEY, "edge-1")

    def feed(self, data: bytes, topic: str = TOPIC) -> list[Any]:
        def build(stamp: Stamp) -> Batch:
            draft, _ = self.core.draft(topic, data, stamp)
            return Batch([draft])

        return self.recorder.record(build)

    def stored(self) -> list[Any]:
        return self.outbox.pending(100, 0)


def test_session_becomes_a_pseudonymised_reading(tmp_path: Path) -> None:
    """Event id = session id, device = kiosk, member = HMAC pseudonym, space from the
    config, LOINC per type, kiosk ts; the encoded event holds no form of the card."""
    rig = Rig(tmp_path)
    msg = session("3301 0600 1234", ts=BOARD_MS - 60_000)
    (event,) = rig.feed(payload(msg))
    assert isinstance(event, HealthReading)
    assert (event.id, event.device, event.ts, event.synced) == (
        msg["id"],
        "kiosk-elder-1",
        BOARD_MS - 60_000,
        True,
    )
    assert event.body.member == reference_pseudonym("3301 0600 1234")
    assert event.body.space == "elderly-care"
    assert [(r.type, r.value, r.unit, r.loinc) for r in event.body.readings] == [
        ("systolic_bp", 152.0, "mmHg", LOINC["systolic_bp"]),
        ("diastolic_bp", 94.0, "mmHg", LOINC["diastolic_bp"]),
        ("heart_rate", 76.0, "bpm", LOINC["heart_rate"]),
    ]
    wire = codec.encode_event(event)
    assert codec.decode_event(wire) == event
    assert not any(form in wire for form in card_forms("3301 0600 1234"))


def test_repeated_session_is_stored_once_without_a_seq_gap(tmp_path: Path) -> None:
    """A session delivered twice is one event; the next event takes the next seq."""
    rig = Rig(tmp_path)
    msg = session()
    first = rig.feed(payload(msg))
    assert rig.feed(payload(msg)) == []
    later = rig.feed(payload(session("3301 0600 9999")))
    assert [e.seq for e in first + later] == [1, 2]
    assert [e.id for e in rig.stored()] == [msg["id"], later[0].id]
    assert rig.core.accepted == 3  # both deliveries decoded; the recorder left one out


@pytest.mark.parametrize(
    ("readings", "reason", "field"),
    [
        ([("spo2", 104, "%"), ("heart_rate", 70, "bpm")], "impossible_value", "readings.0.value"),
        ([("body_temperature", 60, "degC")], "impossible_value", "readings.0.value"),
        ([("body_weight", -3, "kg")], "impossible_value", "readings.0.value"),
        ([("body_temperature", 98.4, "degF")], "bad_unit", "readings.0.unit"),
        ([("systolic_bp", 80, "mmHg"), ("diastolic_bp", 95, "mmHg")], "bp_inverted", "readings"),
    ],
)
def test_bad_reading_becomes_a_notice_without_card_or_value(
    tmp_path: Path, readings: list[tuple[str, float, str]], reason: str, field: str
) -> None:
    """An impossible value, wrong unit or inverted pressure is a reading_rejected notice of
    the kiosk naming reason and field only; it is counted by reason."""
    rig = Rig(tmp_path)
    card = "3301 0600 4321"
    (notice,) = rig.feed(payload(session(card, readings=readings)))
    assert isinstance(notice, DeviceNotice) and notice.device == "kiosk-elder-1"
    assert (notice.body.code, notice.body.detail) == (
        "reading_rejected",
        f"reason={reason} field={field}",
    )
    wire = codec.encode_event(notice)
    assert not any(form in wire for form in card_forms(card))
    assert reference_pseudonym(card).encode() not in wire
    assert str(readings[0][1]).encode() not in wire.split(b'"detail"')[1]
    assert rig.core.rejected == {reason: 1}


#: A message over 4,096 bytes (the card padded), and one with the card given twice.
BIG = payload(session("3301 0600 1234 " + "0" * 4100))
TWO_CARDS = payload(session()).replace(b'"card": ', b'"card": "3301 0600 5555", "card": ', 1)


@pytest.mark.parametrize(
    ("data", "topic", "device", "detail"),
    [
        (b'{"card": "3301 0600 1234", ', TOPIC, "kiosk-elder-1", "reason=not_json"),
        (
            payload(session(kiosk="kiosk-elder-2")),
            TOPIC,
            "kiosk-elder-1",
            "reason=kiosk_mismatch field=kiosk",
        ),
        (
            payload(session(kiosk="kiosk-other")),
            "kiosk/v1/kiosk-other/session",
            "edge-1",
            "reason=unknown_kiosk field=kiosk",
        ),
        (
            payload({**session(), "member_card": "3301 0600 1234"}),
            TOPIC,
            "kiosk-elder-1",
            "reason=unknown_field field=?",
        ),
        (BIG, TOPIC, "kiosk-elder-1", f"reason=too_large size={len(BIG)}"),
        (TWO_CARDS, TOPIC, "kiosk-elder-1", "reason=bad_value field=card"),
        (
            payload(session(session_id="not-a-uuid")),
            TOPIC,
            "kiosk-elder-1",
            "reason=bad_value field=id",
        ),
    ],
)
def test_undecodable_or_misplaced_messages_are_noticed(
    tmp_path: Path, data: bytes, topic: str, device: str, detail: str
) -> None:
    """Not JSON, a kiosk id not its topic's, an unlisted kiosk, an unknown key, a message
    too large (its size in bytes shown), a card given twice, a session id that is not a
    UUID: one notice, of the kiosk when the topic names an accepted one, else of the agent."""
    rig = Rig(tmp_path)
    (notice,) = rig.feed(data, topic)
    assert isinstance(notice, DeviceNotice)
    assert (notice.device, notice.body.detail) == (device, detail)
    assert b"3301" not in codec.encode_event(notice)


def test_other_kiosks_space_accepts_every_kiosk(tmp_path: Path) -> None:
    """With other_kiosks_space the reader subscribes to all kiosks and gives unlisted
    ones that space; listed kiosks keep theirs. Without it, one topic per kiosk."""
    assert Rig(tmp_path).core.subscriptions() == [
        "kiosk/v1/kiosk-elder-1/session",
        "kiosk/v1/kiosk-elder-2/session",
    ]
    rig = Rig(tmp_path, other_kiosks_space="lobby")
    assert rig.core.subscriptions() == [SESSION_FILTER]
    (new,) = rig.feed(payload(session(kiosk="kiosk-x")), "kiosk/v1/kiosk-x/session")
    (listed,) = rig.feed(payload(session(kiosk="kiosk-elder-2")), "kiosk/v1/kiosk-elder-2/session")
    assert (new.device, new.body.space) == ("kiosk-x", "lobby")
    assert (listed.device, listed.body.space) == ("kiosk-elder-2", "day-room")


def _time(ts: int, synced: bool, board_synced: bool = True) -> tuple[int | None, bool | None]:
    decoded = decode_session(payload(session(ts=ts, synced=synced)))
    return event_time(decoded, Stamp(BOARD_MS, 5, board_synced), 120_000)


def test_kiosk_time_is_kept_unless_implausibly_synced() -> None:
    """Kiosk ts and synced are kept (also hours old); a synced ts over 120 s ahead of a
    synced board, or before 2020, gives way to the board's time (None, None)."""
    assert _time(BOARD_MS - 3 * 3600_000, True) == (BOARD_MS - 3 * 3600_000, True)
    assert _time(BOARD_MS + 120_000, True) == (BOARD_MS + 120_000, True)
    assert _time(BOARD_MS + 120_001, True) == (None, None)
    assert _time(BOARD_MS + 3600_000, True, board_synced=False) == (BOARD_MS + 3600_000, True)
    assert _time(1_577_836_799_999, True) == (None, None)
    assert _time(1_764_403, True) == (None, None)  # seconds, not ms
    assert _time(5_000, False) == (5_000, False)


def test_board_time_replaces_a_kiosk_clock_far_ahead(tmp_path: Path) -> None:
    """The recorded event takes the board's stamp when the kiosk's synced clock is ahead."""
    rig = Rig(tmp_path)
    (event,) = rig.feed(payload(session(ts=BOARD_MS + 86_400_000)))
    assert (event.ts, event.synced) == (BOARD_MS, True)


def test_safe_field_and_topic_parsing() -> None:
    """Unknown key names become '?'; topics other than kiosk/v1/{kiosk}/session give None."""
    assert safe_field("readings.3.value") == "readings.3.value"
    assert safe_field("readings.0.card_no") == "readings.0.?"
    assert safe_field("330106001234") == "?"
    assert safe_field("") == ""
    assert topic_kiosk("kiosk/v1/k-1/session") == "k-1"
    for other in ("kiosk/v1/k-1/status", "kiosk/v2/k-1/session", "x/kiosk/v1/k/session"):
        assert topic_kiosk(other) is None


def test_short_key_is_refused(tmp_path: Path) -> None:
    """The core refuses a key under 16 bytes at once."""
    with pytest.raises(ValueError, match="16"):
        KioskCore(kiosk_cfg(tmp_path), b"short", "edge-1")


class OrderedPublisher(FakePublisher):
    """Records subscriptions and publishes in one sequence."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str]] = []

    def subscribe(self, topics: list[str]) -> None:
        super().subscribe(topics)
        self.calls += [("sub", t) for t in topics]

    def publish(self, message: Message) -> bool:
        self.calls.append(("pub", message.topic))
        return super().publish(message)


def test_forwarder_subscribes_to_a_new_devices_acks_before_its_first_event(
    tmp_path: Path,
) -> None:
    """An event of a device not subscribed yet (an unlisted kiosk) is preceded by a
    subscription to its ack topic, once; an ack there deletes the event."""
    rig = Rig(tmp_path, other_kiosks_space="lobby")
    pub = OrderedPublisher()
    fwd = Forwarder(rig.outbox, pub, rig.clock, site="s", boot="boot-1", mono0=0, max_inflight=10)
    pub.subscribe(fwd.ack_topics(["edge-1"]))
    rig.feed(payload(session(kiosk="kiosk-x")), "kiosk/v1/kiosk-x/session")
    rig.feed(payload(session(kiosk="kiosk-x")), "kiosk/v1/kiosk-x/session")
    assert fwd.pump() == 2
    ack = topics.ack_topic("s", "kiosk-x")
    evt = topics.event_topic("s", "kiosk-x")
    assert pub.calls == [
        ("sub", topics.ack_topic("s", "edge-1")),
        ("sub", ack),
        ("pub", evt),
        ("pub", evt),
    ]
    fwd.handle_message(ack, codec.encode_ack([e.id for e in pub.events()]))
    assert rig.outbox.depth() == 0
