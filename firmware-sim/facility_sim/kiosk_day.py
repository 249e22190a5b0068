"""A day (a morning) of measuring sessions at a health kiosk, as the kiosk would publish them.

:func:`day_plan` is pure and seeded: members (their cards) come to the kiosk at random
times within the opening window and measure one thing each time:

==============  =============================================  ======
kind            readings (:mod:`facility_contracts.vitals`)    weight
==============  =============================================  ======
blood_pressure  systolic_bp, diastolic_bp (mmHg), heart_rate   0.50
spo2            spo2 (%), heart_rate (bpm)                      0.15
temperature     body_temperature (degC)                         0.10
weight          body_weight (kg)                                0.10
glucose         blood_glucose (mmol/L)                          0.15
==============  =============================================  ======

Each member has a stable baseline (blood pressure, weight, glucose), so a member's
readings agree across sessions; ordinary sessions stay out of every crisis range.
Injected sessions (seeded positions) are:

- ``crisis``: blood pressure >= 180 systolic (2018 Chinese hypertension guideline), or
  SpO2 below 90 %, alternately (the clinician on duty must be alerted);
- ``impossible_value``: SpO2 over 100 %, 60 degC, a negative weight, in turn;
- ``bad_unit``: degF, lb, mg/dL instead of degC, kg, mmol/L, in turn;
- ``bp_inverted``: systolic below diastolic.

:func:`kiosk_sessions` turns the plan into :class:`~facility_contracts.kiosk.KioskSession`
messages (one UUIDv7 session id each, the kiosk's synchronised clock).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import uuid6
from facility_contracts.kiosk import KioskReading, KioskSession

SessionKind = Literal["blood_pressure", "spo2", "temperature", "weight", "glucose"]
Fault = Literal["crisis", "impossible_value", "bad_unit", "bp_inverted"]
Reading = tuple[str, float, str]

#: How often each kind of session happens.
KIND_WEIGHTS: dict[SessionKind, float] = {
    "blood_pressure": 0.50,
    "spo2": 0.15,
    "temperature": 0.10,
    "weight": 0.10,
    "glucose": 0.15,
}
_IMPOSSIBLE: tuple[tuple[SessionKind, tuple[Reading, ...]], ...] = (
    ("spo2", (("spo2", 104.0, "%"), ("heart_rate", 72.0, "bpm"))),
    ("temperature", (("body_temperature", 60.0, "degC"),)),
    ("weight", (("body_weight", -3.0, "kg"),)),
)
_WRONG_UNIT: tuple[tuple[SessionKind, tuple[Reading, ...]], ...] = (
    ("temperature", (("body_temperature", 98.4, "degF"),)),
    ("weight", (("body_weight", 138.0, "lb"),)),
    ("glucose", (("blood_glucose", 108.0, "mg/dL"),)),
)


@dataclass(frozen=True, slots=True)
class PlannedSession:
    """One measuring session: when (tz-aware), whose card (as printed), what was measured
    (``(type, value, unit)`` in kiosk order) and the injected fault, if any."""

    at: datetime
    card: str
    kind: SessionKind
    readings: tuple[Reading, ...]
    fault: Fault | None = None


@dataclass(frozen=True, slots=True)
class Baseline:
    """A member's own level: systolic mmHg, weight kg, glucose mmol/L."""

    systolic: float
    weight: float
    glucose: float


def member_cards(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct member card numbers as printed (``3301 06NN NNNN``), seeded.

    Raises:
        ValueError: ``n`` < 1 or > 10,000.
    """
    if not 1 <= n <= 10_000:
        raise ValueError(f"members must be 1-10000, got {n}")
    rng = random.Random(f"cards-{seed}")
    numbers = rng.sample(range(10**6), n)
    return [f"3301 06{x // 10**4:02d} {x % 10**4:04d}" for x in numbers]


def _clip(x: float, low: float, high: float) -> float:
    return min(high, max(low, x))


def _baseline(rng: random.Random) -> Baseline:
    return Baseline(
        systolic=_clip(rng.gauss(136, 14), 105, 168),
        weight=_clip(rng.gauss(62, 9), 42, 95),
        glucose=_clip(rng.gauss(6.2, 1.0), 4.6, 9.5),
    )


def _heart_rate(rng: random.Random) -> Reading:
    return ("heart_rate", float(round(_clip(rng.gauss(74, 9), 52, 112))), "bpm")


def ordinary(kind: SessionKind, base: Baseline, rng: random.Random) -> tuple[Reading, ...]:
    """Plausible readings of one kind for a member, all outside every crisis range."""
    if kind == "blood_pressure":
        sys_ = round(_clip(rng.gauss(base.systolic, 8), 96, 176))
        dia = round(_clip(sys_ * 0.6 + rng.gauss(0, 5), 55, min(105, sys_ - 25)))
        return (("systolic_bp", float(sys_), "mmHg"), ("diastolic_bp", float(dia), "mmHg"))
    if kind == "spo2":
        return (("spo2", float(round(_clip(rng.gauss(96.5, 1.5), 92, 100))), "%"),)
    if kind == "temperature":
        return (("body_temperature", round(_clip(rng.gauss(36.5, 0.3), 35.8, 37.8), 1), "degC"),)
    if kind == "weight":
        return (("body_weight", round(base.weight + rng.gauss(0, 0.4), 1), "kg"),)
    return (("blood_glucose", round(_clip(rng.gauss(base.glucose, 0.8), 3.9, 12.0), 1), "mmol/L"),)


def _with_pulse(
    kind: SessionKind, readings: tuple[Reading, ...], rng: random.Random
) -> tuple[Reading, ...]:
    """Blood pressure monitors and pulse oximeters also give the heart rate."""
    return (*readings, _heart_rate(rng)) if kind in ("blood_pressure", "spo2") else readings


def faulty(fault: Fault, n: int, rng: random.Random) -> tuple[SessionKind, tuple[Reading, ...]]:
    """The ``n``-th (0-based) injected session of ``fault``: its kind and readings."""
    if fault == "crisis" and n % 2 == 0:
        sys_ = float(rng.randint(182, 198))
        dia = float(rng.randint(98, 116))
        return "blood_pressure", (("systolic_bp", sys_, "mmHg"), ("diastolic_bp", dia, "mmHg"))
    if fault == "crisis":
        return "spo2", (("spo2", float(rng.randint(84, 89)), "%"),)
    if fault == "impossible_value":
        return _IMPOSSIBLE[n % len(_IMPOSSIBLE)]
    if fault == "bad_unit":
        return _WRONG_UNIT[n % len(_WRONG_UNIT)]
    return "blood_pressure", (("systolic_bp", 72.0, "mmHg"), ("diastolic_bp", 96.0, "mmHg"))


def day_plan(
    opens: datetime,
    closes: datetime,
    *,
    cards: list[str],
    sessions: int,
    seed: int = 0,
    faults: dict[Fault, int] | None = None,
) -> list[PlannedSession]:
    """The sessions of one opening window, in time order (whole seconds).

    Args:
        opens, closes: the kiosk's window that day (tz-aware; e.g. 08:00-11:30 Shanghai).
        cards: member card numbers (as printed); each session picks one at random.
        sessions: how many sessions, injected ones included.
        seed: seed of times, members, values and injected positions.
        faults: how many sessions of each injected kind (``crisis``,
            ``impossible_value``, ``bad_unit``, ``bp_inverted``).

    Raises:
        ValueError: naive or empty window, no cards, ``sessions`` < 1, negative fault
            counts, or more injected sessions than sessions.
    """
    faults = dict(faults or {})
    if opens.tzinfo is None or closes.tzinfo is None or closes <= opens:
        raise ValueError(f"need a tz-aware window with closes > opens, got {opens}..{closes}")
    if not cards or sessions < 1:
        raise ValueError("need at least one card and one session")
    if any(n < 0 for n in faults.values()) or sum(faults.values()) > sessions:
        raise ValueError(f"fault counts must be >= 0 and add up to <= {sessions}: {faults}")
    rng = random.Random(seed)
    bases = {card: _baseline(rng) for card in cards}
    span = int((closes - opens).total_seconds())
    times = sorted(opens + timedelta(seconds=rng.randrange(span)) for _ in range(sessions))
    injected = [f for f, n in sorted(faults.items()) for _ in range(n)]
    where = dict(zip(rng.sample(range(sessions), len(injected)), injected, strict=True))
    seen: dict[Fault, int] = {}
    kinds, weights = list(KIND_WEIGHTS), list(KIND_WEIGHTS.values())
    plan = []
    for i, at in enumerate(times):
        card = rng.choice(cards)
        fault = where.get(i)
        if fault is None:
            kind = rng.choices(kinds, weights)[0]
            readings = ordinary(kind, bases[card], rng)
        else:
            kind, readings = faulty(fault, seen.get(fault, 0), rng)
            seen[fault] = seen.get(fault, 0) + 1
        if fault in (None, "crisis"):
            readings = _with_pulse(kind, readings, rng)
        plan.append(PlannedSession(at, card, kind, readings, fault))
    return plan


def kiosk_sessions(
    plan: list[PlannedSession],
    kiosk: str,
    *,
    new_id: Callable[[], str] = lambda: str(uuid6.uuid7()),
) -> list[KioskSession]:
    """The plan as the kiosk's messages (``ts`` = UTC ms of ``at``, clock synchronised).

    Raises:
        pydantic.ValidationError: ``kiosk`` is not a valid id (lowercase, 1-64 chars).
    """
    return [
        KioskSession(
            id=new_id(),
            kiosk=kiosk,
            ts=int(p.at.timestamp() * 1000),
            synced=True,
            card=p.card,
            readings=[KioskReading(type=t, value=v, unit=u) for t, v, u in p.readings],  # type: ignore[arg-type]
        )
        for p in plan
    ]
