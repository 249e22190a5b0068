"""DC v1 serial frames: checksum, codec, and the stream splitter."""

import pytest
from facility_contracts.serial import FrameError
from facility_contracts.serial import door_counter as dc
from hypothesis import given
from hypothesis import strategies as st


def _crc_ccitt_false(data: bytes) -> int:
    """Bitwise CRC-16/CCITT-FALSE, written from the algorithm's definition."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def test_crc_check_value():
    """CRC-16/CCITT-FALSE of '123456789' is 0x29B1 (the catalogue check value)."""
    assert dc.crc16(b"123456789") == 0x29B1


def test_encoded_frame_is_exactly_as_documented():
    """A frame is $DC,seq,uptime,in,out,rtc*CRC CRLF with the CRC over the body."""
    frame = dc.encode(dc.DoorFrame(seq=7, uptime_s=120, total_in=15, total_out=9, rtc_ms=None))
    body = b"DC,7,120,15,9,"
    assert frame == b"$" + body + b"*" + f"{_crc_ccitt_false(body):04X}".encode() + b"\r\n"


frames = st.builds(
    dc.DoorFrame,
    seq=st.integers(0, 65535),
    uptime_s=st.integers(0, 2**32 - 1),
    total_in=st.integers(0, 2**32 - 1),
    total_out=st.integers(0, 2**32 - 1),
    rtc_ms=st.none() | st.integers(0, 2**53 - 1),
)


@given(frames)
def test_round_trip(frame):
    """Every in-range frame decodes to itself."""
    assert dc.decode(dc.encode(frame)) == frame


@given(frames, st.data())
def test_every_single_bit_flip_is_rejected(frame, data):
    """Flipping any one bit of a frame never yields an accepted, different frame."""
    raw = bytearray(dc.encode(frame))
    bit = data.draw(st.integers(0, len(raw) * 8 - 1))
    raw[bit // 8] ^= 1 << (bit % 8)
    try:
        got = dc.decode(bytes(raw))
    except FrameError:
        return
    raise AssertionError(f"accepted a corrupted frame as {got}")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"$DC,1,2,3,4,*0000\r\n", "checksum"),
        (b"$DC,1,2,3,4*ZZZZ\r\n", "syntax"),
        (b"DC,1,2,3,4,*0000\r\n", "length"),
        (b"$DC,1,2,3,4,\r\n", "syntax"),
    ],
)
def test_bad_frames_name_their_reason(raw, reason):
    """Bad checksum, bad hex, missing start or star are FrameErrors with a reason."""
    with pytest.raises(FrameError) as err:
        dc.decode(raw)
    assert err.value.reason == reason


def _signed(body: bytes) -> bytes:
    return b"$" + body + b"*" + f"{_crc_ccitt_false(body):04X}".encode() + b"\r\n"


@pytest.mark.parametrize(
    "body",
    [
        b"DC,70000,1,1,1,",
        b"DC,1,1,-1,1,",
        b"DC,1,1,1,",
        b"XX,1,1,1,1,",
        b"DC,1,1,4294967296,1,",
        b"DC,1,1,+1,1,",
    ],
)
def test_fields_out_of_range_are_rejected_even_with_a_valid_crc(body):
    """A correctly signed frame with a bad field is still refused."""
    with pytest.raises(FrameError) as err:
        dc.decode(_signed(body))
    assert err.value.reason in {"field", "syntax"}


@given(st.lists(st.tuples(frames, st.binary(max_size=20)), max_size=20), st.integers(1, 7))
def test_splitter_finds_every_frame_among_noise_in_any_chunking(items, chunk):
    """Frames separated by noise without '$' are all found, whatever the read sizes."""
    stream = b""
    expected = []
    for frame, noise in items:
        stream += noise.replace(b"$", b"") + dc.encode(frame)
        expected.append(frame)
    sp = dc.splitter()
    got = []
    for i in range(0, len(stream), chunk):
        got += [dc.decode(f) for f in sp.feed(stream[i : i + chunk]).frames]
    assert got == expected


def test_truncated_frame_is_dropped_and_the_next_one_kept():
    """A frame cut short by a new '$' is dropped; the following frame survives."""
    good = dc.encode(dc.DoorFrame(1, 2, 3, 4))
    res = dc.splitter().feed(b"xx" + good[:10] + good + b"\x00" * (dc.MAX_FRAME_BYTES + 5))
    assert [dc.decode(f) for f in res.frames] == [dc.DoorFrame(1, 2, 3, 4)]
    assert res.dropped == 1 and res.skipped >= 2


def test_overlong_garbage_after_start_is_bounded():
    """A '$' followed by endless bytes without CRLF keeps at most one frame's worth."""
    sp = dc.splitter()
    res = sp.feed(b"$" + b"A" * 1000)
    assert res.frames == [] and res.dropped == 1
    res = sp.feed(dc.encode(dc.DoorFrame(5, 5, 5, 5)))
    assert [dc.decode(f) for f in res.frames] == [dc.DoorFrame(5, 5, 5, 5)]
