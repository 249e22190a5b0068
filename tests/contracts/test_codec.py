"""Envelope encode/decode: the golden samples and every kind of bad payload."""

import json
from pathlib import Path

import pytest
from facility_contracts import ContractError
from facility_contracts.codec import (
    MAX_MESSAGE_BYTES,
    decode_ack,
    decode_event,
    decode_status,
    encode_ack,
    encode_event,
    encode_status,
)
from facility_contracts.envelope import DoorCrossing, DoorCrossingBody, Status
from hypothesis import given
from hypothesis import strategies as st

GOLDEN = Path(__file__).resolve().parents[2] / "contracts" / "facility_contracts" / "golden"

GOOD = {
    "v": 1,
    "id": "0b6c2b3e-1f7a-4d1e-9c7e-1a2b3c4d5e6f",
    "device": "dc-main",
    "boot": "b-1",
    "seq": 7,
    "ts": 1_764_403_200_123,
    "mono": 5_123,
    "synced": True,
    "kind": "door.crossing",
    "body": {"in": 2, "out": 1, "space": "culture-1"},
}


def _bytes(obj) -> bytes:
    return json.dumps(obj).encode()


def _with(**changes):
    msg = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        target = msg
        *path, last = key.split("__")
        for p in path:
            target = target[p]
        if value is ...:
            del target[last]
        else:
            target[last] = value
    return msg


def test_good_message_decodes_to_typed_fields():
    """A valid door.crossing decodes with people counts and its space."""
    ev = decode_event(_bytes(GOOD))
    assert isinstance(ev, DoorCrossing)
    assert (ev.body.in_, ev.body.out, ev.body.space) == (2, 1, "culture-1")
    assert (ev.seq, ev.ts, ev.synced) == (7, 1_764_403_200_123, True)


def test_encode_decode_round_trip_and_sent_override():
    """Encoding then decoding gives the same event; sent is set on encode."""
    ev = decode_event(_bytes(GOOD))
    assert decode_event(encode_event(ev)) == ev
    again = decode_event(encode_event(ev, sent=9_000))
    assert again.sent == 9_000 and again.model_copy(update={"sent": None}) == ev
    assert json.loads(encode_event(ev))["body"]["in"] == 2


@pytest.mark.parametrize(
    ("payload", "reason", "field"),
    [
        (b"not json", "not_json", ""),
        (b"", "not_json", ""),
        (b"[1,2]", "wrong_type", ""),
        (_bytes(_with(seq="7")), "wrong_type", "seq"),
        (_bytes(_with(body__in="2")), "wrong_type", "body.in"),
        (_bytes(_with(body__in=2.5)), "wrong_type", "body.in"),
        (_bytes(_with(synced=1)), "wrong_type", "synced"),
        (_bytes(_with(mono=...)), "missing_field", "mono"),
        (_bytes(_with(body=...)), "missing_field", "body"),
        (_bytes(_with(kind="door.other")), "unknown_kind", "kind"),
        (_bytes(_with(extra=1)), "unknown_field", "extra"),
        (_bytes(_with(seq=0)), "out_of_range", "seq"),
        (_bytes(_with(body__out=-1)), "out_of_range", "body.out"),
        (_bytes(_with(ts=1_764_403_200)), "ts_in_seconds", "ts"),
        (_bytes(_with(device="DC Main")), "bad_value", "device"),
        (_bytes(_with(v=2)), "bad_value", "v"),
        (
            b'{"v":1,"id":"abcdefgh","device":"d","boot":"b","seq":1,"ts":NaN,"mono":1,'
            b'"synced":false,"kind":"door.crossing","body":{"in":1,"out":0,"space":"s"}}',
            None,
            "ts",
        ),
        (b"{" + b" " * MAX_MESSAGE_BYTES + b"}", "too_large", ""),
    ],
)
def test_bad_payloads_raise_one_error_type_with_reason_and_field(payload, reason, field):
    """Every bad payload is a ContractError naming why and which field."""
    with pytest.raises(ContractError) as err:
        decode_event(payload)
    if reason is not None:
        assert err.value.reason == reason
    assert err.value.field == field
    assert field in str(err.value)


def test_unsynced_clock_may_say_1970():
    """A board without a synchronised clock may report 1970: decoded, judged by the receiver."""
    ev = decode_event(_bytes(_with(ts=5_000, synced=False)))
    assert ev.ts == 5_000 and not ev.synced


def test_ack_and_status_round_trip():
    """Acks carry ids; status carries state and heartbeat figures."""
    assert decode_ack(encode_ack(["abcdefgh", "ijklmnop"])).ids == ["abcdefgh", "ijklmnop"]
    st_ = Status(device="edge-1", state="online", outbox=3, uptime_s=1.5, heartbeat_s=30)
    assert decode_status(encode_status(st_)) == st_
    with pytest.raises(ContractError):
        decode_ack(b'{"v":1,"ids":[]}')
    with pytest.raises(ContractError):
        decode_status(b'{"v":1,"device":"e","state":"maybe"}')


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.json")), ids=lambda p: p.name)
def test_golden_samples(path):
    """Golden samples: valid-* decode and re-encode identically; invalid-* fail with their reason."""
    sample = json.loads(path.read_text())
    raw = json.dumps(sample["message"]).encode()
    if path.name.startswith("valid-"):
        ev = decode_event(raw)
        assert json.loads(encode_event(ev)) == sample["message"]
    else:
        with pytest.raises(ContractError) as err:
            decode_event(raw)
        assert err.value.reason == sample["reason"]


@given(
    in_=st.integers(0, 100_000),
    out=st.integers(0, 100_000),
    seq=st.integers(1, 2**53 - 1),
    ts=st.integers(10**11, 2**53 - 1),
    mono=st.integers(0, 2**53 - 1),
    synced=st.booleans(),
)
def test_any_valid_crossing_round_trips(in_, out, seq, ts, mono, synced):
    """Every in-range crossing survives encode/decode unchanged."""
    ev = DoorCrossing(
        id="abcdefgh",
        device="d1",
        boot="b",
        seq=seq,
        ts=ts,
        mono=mono,
        synced=synced,
        body=DoorCrossingBody(**{"in": in_}, out=out, space="s1"),
    )
    assert decode_event(encode_event(ev)) == ev


def test_ack_may_reject_ids_with_reasons():
    """An ack can tell the edge which ids will never be stored, and why."""
    raw = encode_ack([], {"abcdefgh": "ts_in_future"})
    assert json.loads(raw) == {"v": 1, "rejected": {"abcdefgh": "ts_in_future"}}
    ack = decode_ack(raw)
    assert ack.ids == [] and ack.rejected == {"abcdefgh": "ts_in_future"}
    assert json.loads(encode_ack(["abcdefgh"])) == {"v": 1, "ids": ["abcdefgh"]}
