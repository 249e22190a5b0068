"""The demo's live terminals, and the server's views of the complex.

- The play area's check-in terminal is online (its day of check-ins is the simulated day
  of :mod:`facility_cli.demo_day`, driven by a stepped clock before the live part).
- Satisfaction terminals at the exit of two services report residents' votes.
- After the pipeline has run: a compliance tick at the wall clock, utilisation per space
  over the replayed weeks, and the complex's scorecard.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from facility_cli.demo_day_script import CHECKIN_TERMINAL

#: (terminal, votes per button) for the demo's satisfaction terminals.
VOTES = {
    "sat-elderly-meal": {
        "very_satisfied": 14,
        "satisfied": 9,
        "dissatisfied": 2,
        "very_dissatisfied": 1,
    },
    "sat-health": {"very_satisfied": 5, "satisfied": 6, "dissatisfied": 4, "very_dissatisfied": 3},
}


@dataclass
class _Device:
    device: str
    boot: str


def publish_activity(cx: dict[str, Any], port: int) -> dict[str, Any]:
    """Bring the play area's check-in terminal online (status heartbeats only: its day of
    check-ins is the simulated day, :mod:`facility_cli.demo_day`) and publish the
    satisfaction votes; wait until the gateway confirms them."""
    from facility_contracts.envelope import SatisfactionVote, SatisfactionVoteBody
    from facility_sim.satisfaction import MqttTerminal

    now_ms = int(time.time() * 1000)
    events: dict[str, list[Any]] = {CHECKIN_TERMINAL: []}
    for device, counts in VOTES.items():
        space = device.removeprefix("sat-")
        buttons = [b for b, n in counts.items() for _ in range(n)]
        events[device] = [
            SatisfactionVote(
                id=f"{device}-{now_ms}-{i:04d}",
                device=device,
                boot=f"demo-{now_ms}",
                seq=i,
                ts=now_ms - (len(buttons) - i) * 60_000,
                mono=i * 60_000,
                synced=True,
                body=SatisfactionVoteBody(space=space, rating=b),
            )  # type: ignore[arg-type]
            for i, b in enumerate(buttons, start=1)
        ]
    terminals = []
    for device, evs in events.items():
        term = MqttTerminal(
            f"mqtt://127.0.0.1:{port}",
            cx["site"],
            _Device(device, f"demo-{now_ms}"),  # type: ignore[arg-type]
            heartbeat_s=5,
            ack_timeout_s=5,
        ).start()
        term.connected.wait(10)
        for ev in evs:
            term.publish(ev)
        terminals.append(term)
    deadline = time.monotonic() + 60
    while any(t.pending for t in terminals) and time.monotonic() < deadline:
        for t in terminals:
            t.resend_due()
        time.sleep(0.2)
    return {
        "terminals": terminals,
        "votes": sum(sum(v.values()) for v in VOTES.values()),
        "unconfirmed": sum(len(t.pending) for t in terminals),
    }


def server_views(factory: Any, cx: dict[str, Any], first: date, last: date) -> dict[str, Any]:
    """Evaluate compliance now (as the server's tick would), then utilisation per space
    over the replayed days and the scorecard of the half-year containing ``last``."""
    from facility_server.compliance.tick import compliance_tick
    from facility_server.scorecard import scorecard
    from facility_server.utilisation import utilisation_summary

    now = datetime.now(UTC)
    with factory() as session:
        compliance_tick(session, now)
        session.commit()
        util = utilisation_summary(session, cx["site"], first, last + timedelta(days=1), now=now)
        half = f"{last.year}H{1 if last.month <= 6 else 2}"
        card = scorecard(session, cx["site"], half, now=now)
        session.commit()
    return {"utilisation": util, "scorecard": card, "scorecard_period": half}
