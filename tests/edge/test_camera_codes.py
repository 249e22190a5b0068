"""QR check-in acceptance (pure CodeGate) and the decoder on the simulated camera set."""

from __future__ import annotations

import numpy as np
import pytest
from facility_contracts import qr
from facility_edge.camera.codes import CodeGate
from facility_edge.camera.decoder import QrDecoder
from facility_sim.camera_source import camera_set, make_frame

SECRET = b"camera-test-secret-0123"
STEP = 58_800_000
NOW = STEP * 30_000 + 10_000  # 10 s into step STEP, UTC ms
A, B = "04A23B1C", "0040B83D"


def code(badge: str, step: int = STEP) -> str:
    return qr.encode_rotating(badge, step, secret=SECRET)


def gate(**kwargs: object) -> CodeGate:
    return CodeGate(secret=SECRET, hold_ms=3000, **kwargs)  # type: ignore[arg-type]


def badges(accepted: list) -> list[str]:  # type: ignore[type-arg]
    return [a.badge for a in accepted]


def test_code_held_in_view_is_one_checkin() -> None:
    """A rotating code seen in every frame for 20 s (across a step change) is one check-in."""
    g = gate()
    got = []
    for i in range(100):  # 5 frames a second for 20 s
        t = i * 200
        step = qr.time_step(NOW + t)
        got += badges(g.feed([code(A, step)], 1_000 + t, NOW + t))
    assert got == [A]
    assert g.counts["held"] == 99


def test_replayed_rotating_code_rejected() -> None:
    """The same (badge, step) shown again after leaving view is a replay and is rejected."""
    g = gate()
    assert badges(g.feed([code(A)], 0, NOW)) == [A]
    assert badges(g.feed([code(A)], 5_000, NOW + 5_000)) == []  # shown again after 5 s
    assert g.counts["replay"] == 1
    assert badges(g.feed([code(A, STEP + 1)], 40_000, NOW + 30_000)) == [A]  # the next code


def test_stale_future_forged_and_foreign_codes_rejected() -> None:
    """Old steps, future steps, bad MACs and other text are rejected by reason."""
    g = gate()
    texts = [
        code(A, STEP - 2),  # a photo from a minute ago
        code(A, STEP + 1),  # ahead of this clock
        code(A).replace(A, "04A23B1D"),  # badge changed by hand
        qr.encode_rotating(A, STEP, secret=b"another-complex-secret"),
        "https://example.org/menu",
    ]
    assert g.feed(texts, 0, NOW) == []
    assert (g.counts["stale"], g.counts["future"], g.counts["mac"], g.counts["format"]) == (
        1,
        1,
        2,
        1,
    )


def test_previous_step_still_accepted() -> None:
    """A code of the previous step is accepted (it was on screen when the step changed)."""
    assert badges(gate().feed([code(B, STEP - 1)], 0, NOW)) == [B]


def test_static_code_flagged_or_refused() -> None:
    """A static code gives proof static_qr, or nothing when static codes are not accepted."""
    static = qr.encode_static(A, secret=SECRET)
    (accepted,) = gate().feed([static], 0, NOW)
    assert (accepted.badge, accepted.method, accepted.proof) == (A, "qr", "static_qr")
    strict = gate(accept_static=False)
    assert strict.feed([static], 0, NOW) == [] and strict.counts["static_refused"] == 1


def test_several_codes_in_one_frame_each_checked_in() -> None:
    """Two staff showing codes in one frame give two check-ins; duplicates in a frame one."""
    got = gate().feed([code(A), code(B), code(A)], 0, NOW)
    assert badges(got) == [A, B] and {a.proof for a in got} == {"rotating_qr"}


@pytest.fixture(scope="module")
def camera_frames() -> list:  # type: ignore[type-arg]
    """A small simulated set: 12 frames of each condition."""
    return camera_set(lambda i: code(f"{0x04B00000 + i:08X}"), per_condition=12, seed=5)


@pytest.mark.parametrize("condition", ["sharp", "multiple"])
def test_sharp_and_multiple_frames_fully_decoded(camera_frames: list, condition: str) -> None:  # type: ignore[type-arg]
    """Every code of every sharp and every multiple-code frame is decoded exactly."""
    decoder = QrDecoder()
    frames = [f for f in camera_frames if f.condition == condition]
    for frame in frames:
        assert set(decoder.decode(frame.image)) == set(frame.expected)


def test_other_conditions_mostly_decoded(camera_frames: list) -> None:  # type: ignore[type-arg]
    """Blurred, dim, skewed and inverted frames are read at least 80 % of the time here."""
    decoder = QrDecoder()
    for condition in ("blur", "dim", "skewed", "inverted"):
        frames = [f for f in camera_frames if f.condition == condition]
        hits = sum(set(decoder.decode(f.image)) == set(f.expected) for f in frames)
        assert hits / len(frames) >= 0.8, condition


def test_empty_and_odd_frames_give_nothing() -> None:
    """A frame without a code, a black frame and a grey frame decode to nothing."""
    decoder = QrDecoder()
    empty = make_frame("empty", (), np.random.default_rng(0)).image
    assert decoder.decode(empty) == []
    assert decoder.decode(np.zeros((480, 640, 3), np.uint8)) == []
    assert decoder.decode(np.full((480, 640), 128, np.uint8)) == []
