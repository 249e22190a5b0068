"""Seeded fault injection on the door counter's byte stream."""

from __future__ import annotations

import binascii

import pytest
from facility_contracts.serial.door_counter import FrameError, decode
from facility_sim.door_counter import DoorCounter, Emission
from facility_sim.faults import FaultInjector
from hypothesis import given, settings
from hypothesis import strategies as st

from .helpers import decode_stream

T0 = 1_122_134_400_000


def _frames(n: int = 300) -> list[Emission]:
    device = DoorCounter(heartbeat_s=7)
    out = [device.power_on(T0)]
    for i in range(1, n):
        out += device.cross(T0 + 1000 * i, "in" if i % 3 else "out")
    return out


def _stream(injector: FaultInjector, frames: list[Emission]) -> bytes:
    return b"".join(injector.apply(e.data, e.frame) for e in frames)


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    """Two injectors with one seed corrupt identically; another seed differs."""
    frames = _frames()
    kwargs = {"noise": 0.3, "truncate": 0.1, "bitflip": 0.1}
    a = _stream(FaultInjector(seed=7, **kwargs), frames)
    b = _stream(FaultInjector(seed=7, **kwargs), frames)
    c = _stream(FaultInjector(seed=8, **kwargs), frames)
    assert a == b
    assert a != c


def test_no_faults_is_identity() -> None:
    """With every probability at 0 the stream is the frames, all recorded intact."""
    frames = _frames(50)
    injector = FaultInjector(seed=1)
    assert _stream(injector, frames) == b"".join(e.data for e in frames)
    assert all(r.intact and r.noise == 0 for r in injector.records)
    assert not injector.enabled


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    noise=st.floats(0, 1),
    truncate=st.floats(0, 0.5),
    bitflip=st.floats(0, 0.5),
)
def test_intact_frames_are_exactly_those_the_contract_accepts(
    seed: int, noise: float, truncate: float, bitflip: float
) -> None:
    """The contract's splitter and decoder accept every intact frame and nothing else."""
    frames = _frames(120)
    injector = FaultInjector(seed=seed, noise=noise, truncate=truncate, bitflip=bitflip)
    decoded = decode_stream(_stream(injector, frames))
    assert decoded == [r.frame for r in injector.records if r.intact]


def test_all_three_faults_happen_and_are_counted() -> None:
    """At 30 % each, noise, truncation and bit flips all occur and the counts add up."""
    injector = FaultInjector(seed=3, noise=0.3, truncate=0.3, bitflip=0.3)
    _stream(injector, _frames(200))
    assert (
        injector.counts["intact"] + injector.counts["truncated"] + injector.counts["bitflip"] == 200
    )
    assert min(injector.counts["truncated"], injector.counts["bitflip"]) > 20
    assert injector.counts["noise_bytes"] == sum(r.noise for r in injector.records) > 0


def test_noise_never_contains_line_ends() -> None:
    """Noise bytes are never CR or LF, so noise cannot complete a cut frame."""
    frames = _frames(100)
    injector = FaultInjector(seed=5, noise=1.0)
    stream = _stream(injector, frames)
    assert stream.count(b"\r") == stream.count(b"\n") == len(frames)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"noise": 1.5}, "noise"),
        ({"truncate": -0.1}, "truncate"),
        ({"truncate": 0.6, "bitflip": 0.6}, "truncate \\+ bitflip"),
    ],
)
def test_bad_probabilities_named(kwargs: dict[str, float], name: str) -> None:
    """A probability outside [0, 1] (or a sum over 1) is refused, naming it."""
    with pytest.raises(ValueError, match=name):
        FaultInjector(**kwargs)  # type: ignore[arg-type]


def _body_with_small_crc() -> tuple[bytes, int]:
    for seq in range(100_000):
        body = f"DC,{seq},2,3,4,".encode()
        crc = binascii.crc_hqx(body, 0xFFFF)
        if crc < 0x1000 and any(c in "ABCDEF" for c in f"{crc:04X}"):
            return body, crc
    raise AssertionError("no body with a small CRC")


@pytest.mark.parametrize("spelling", ["{:04x}", "{:4X}"], ids=["lowercase", "space_padded"])
def test_contract_rejects_crc_text_that_is_not_four_uppercase_hex_digits(spelling: str) -> None:
    """The DC v1 checksum is four uppercase hex digits; other spellings of it should fail."""
    body, crc = _body_with_small_crc()
    frame = b"$" + body + b"*" + spelling.format(crc).encode() + b"\r\n"
    assert frame != b"$" + body + b"*" + f"{crc:04X}".encode() + b"\r\n"
    with pytest.raises(FrameError):
        decode(frame)
