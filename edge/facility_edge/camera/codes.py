"""Which decoded QR texts become check-ins: pure, one instance per camera.

For each text of a frame (:meth:`CodeGate.feed`), in this order:

1. :func:`facility_contracts.qr.verify`: format, MAC with the complex's secret, and for
   a rotating code the time step (the current or previous one of the board's clock).
   Failures are counted by reason (``format``, ``mac``, ``stale``, ``future``).
2. Static codes are refused (``static_refused``) unless the camera accepts them.
3. **Held**: the badge was seen less than ``hold_ms`` ago. A code in view for seconds
   (or one that changed to the next step while in view) is one presentation: no new
   check-in, but its (badge, step) counts as used. The window slides with each sighting.
4. **Replay**: a rotating (badge, step) used before is refused (``replay``), and the
   refusal does not extend the badge's presentation. A screenshot shown again after a
   first check-in, within the 30-60 s the code is valid, is rejected this way; shown
   later it is ``stale``.
5. Otherwise the code is accepted: one check-in, proof ``rotating_qr`` or ``static_qr``.

Used (badge, step) pairs older than the previous step are forgotten (they are stale
anyway), so memory stays bounded. The set lives in memory: an agent restart within a
code's minute of validity would accept one replay of it.
"""

from __future__ import annotations

from collections import Counter

from facility_contracts import qr
from facility_contracts.errors import ContractError

from facility_edge.checkins import Accepted


class CodeGate:
    """Turn decoded texts into accepted badges.

    Args:
        secret: the complex's QR secret.
        hold_ms: a badge seen again within this many ms is the same presentation, ms.
        accept_static: accept printed static codes (weaker proof).
        step_s: seconds per rotating step.
    """

    def __init__(
        self,
        *,
        secret: bytes,
        hold_ms: int,
        accept_static: bool = True,
        step_s: int = qr.STEP_S,
    ) -> None:
        self._secret = secret
        self.hold_ms, self.accept_static, self.step_s = hold_ms, accept_static, step_s
        self._seen: dict[str, int] = {}
        self._used: set[tuple[str, int]] = set()
        self.counts: Counter[str] = Counter()

    def feed(self, texts: list[str], mono_ms: int, wall_ms: int) -> list[Accepted]:
        """Texts decoded from one frame taken at ``mono_ms`` (monotonic) / ``wall_ms`` (UTC).

        Returns:
            The badges to check in, each at most once.
        """
        self._forget_old(qr.time_step(wall_ms, self.step_s), mono_ms)
        out: list[Accepted] = []
        for text in dict.fromkeys(texts):
            accepted = self._one(text, mono_ms, wall_ms)
            if accepted is not None and all(a.badge != accepted.badge for a in out):
                out.append(accepted)
        return out

    def _one(self, text: str, mono_ms: int, wall_ms: int) -> Accepted | None:
        try:
            claim = qr.verify(text, secret=self._secret, now_ms=wall_ms, step_s=self.step_s)
        except ContractError as exc:
            self.counts[exc.reason] += 1
            return None
        if claim.step is None and not self.accept_static:
            self.counts["static_refused"] += 1
            return None
        last = self._seen.get(claim.badge)
        if last is not None and 0 <= mono_ms - last < self.hold_ms:
            self._seen[claim.badge] = mono_ms
            self._use(claim)
            self.counts["held"] += 1
            return None
        if claim.step is not None and (claim.badge, claim.step) in self._used:
            self.counts["replay"] += 1
            return None
        self._seen[claim.badge] = mono_ms
        self._use(claim)
        self.counts["accepted"] += 1
        return Accepted(claim.badge, "qr", claim.proof)

    def _use(self, claim: qr.QrClaim) -> None:
        if claim.step is not None:
            self._used.add((claim.badge, claim.step))

    def _forget_old(self, now_step: int, mono_ms: int) -> None:
        if len(self._used) > 64:
            self._used = {(b, s) for b, s in self._used if s >= now_step - 1}
        if len(self._seen) > 64:
            self._seen = {b: t for b, t in self._seen.items() if 0 <= mono_ms - t < self.hold_ms}

    def forget(self, badge: str) -> None:
        """Forget a badge's presentation and used steps (its check-in was not stored)."""
        self._seen.pop(badge, None)
        self._used = {(b, s) for b, s in self._used if b != badge}
