"""A day of staff check-ins at the play area's checkpoints, as a terminal would report them.

:func:`day_plan` is pure: from the opening interval of a day (local, tz-aware), the
checkpoints of a patrol round and the staff badges, it lists every tap: one disinfection
before opening, then a patrol round each ``every_min`` minutes while open, visiting every
checkpoint a few minutes apart. ``skip`` leaves one checkpoint out of one round, which a
compliance engine must report as missed, naming that checkpoint. Source: 4+5+X standard,
children's play (facilities disinfected every day; a dedicated person on safety patrol).
:func:`checkin_events` turns the plan into contract events of one MQTT-native terminal.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import uuid6
from facility_contracts.envelope import CheckIn, CheckInBody, CheckInMethod, CheckInProof, TaskKind


@dataclass(frozen=True, slots=True)
class Tap:
    """One check-in: when (tz-aware), who (canonical badge), where, what, how."""

    at: datetime
    badge: str
    checkpoint: str
    task: TaskKind
    method: CheckInMethod
    proof: CheckInProof


def day_plan(
    opens: datetime,
    closes: datetime,
    *,
    checkpoints: list[tuple[str, CheckInMethod]],
    cleaner: str,
    patroller: str,
    every_min: int = 60,
    step_min: int = 3,
    skip: tuple[int, str] | None = None,
) -> list[Tap]:
    """Taps of one open day, in time order.

    Args:
        opens, closes: the space's opening interval that day (tz-aware).
        checkpoints: (checkpoint id, how it is read) in walking order.
        cleaner, patroller: canonical badge UIDs of the staff on duty.
        every_min: minutes between patrol rounds, from opening.
        step_min: minutes between two checkpoints of a round.
        skip: (round index, checkpoint id) to leave out, or None.

    Raises:
        ValueError: ``opens`` or ``closes`` is naive, or ``closes <= opens``.
    """
    if opens.tzinfo is None or closes.tzinfo is None or closes <= opens:
        raise ValueError(f"need a tz-aware interval with closes > opens, got {opens}..{closes}")
    first_cp = checkpoints[0][0]
    taps = [Tap(opens - timedelta(minutes=25), cleaner, first_cp, "disinfection", "rfid", "badge")]
    start, index = opens, 0
    while start < closes:
        for k, (cp, method) in enumerate(checkpoints):
            if skip == (index, cp):
                continue
            proof: CheckInProof = "badge" if method == "rfid" else "rotating_qr"
            taps.append(
                Tap(
                    start + timedelta(minutes=2 + k * step_min),
                    patroller,
                    cp,
                    "patrol",
                    method,
                    proof,
                )
            )
        start += timedelta(minutes=every_min)
        index += 1
    return taps


def checkin_events(taps: list[Tap], *, device: str, space: str) -> list[CheckIn]:
    """The taps as ``checkin`` events of one terminal (one boot, seq from 1, synced clock)."""
    boot = uuid.uuid4().hex[:12]
    first = taps[0].at if taps else None
    return [
        CheckIn(
            id=str(uuid6.uuid7()),
            device=device,
            boot=boot,
            seq=i,
            ts=int(t.at.timestamp() * 1000),
            mono=int((t.at - first).total_seconds() * 1000) if first else 0,
            synced=True,
            body=CheckInBody(
                badge=t.badge,
                checkpoint=t.checkpoint,
                space=space,
                task=t.task,
                method=t.method,
                proof=t.proof,
            ),
        )
        for i, t in enumerate(taps, start=1)
    ]
