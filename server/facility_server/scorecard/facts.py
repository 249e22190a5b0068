"""What the scorecard knows about a complex (pure data), gathered by
:mod:`facility_server.scorecard.gather` and judged by :mod:`facility_server.scorecard.clauses`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from facility_server.satisfaction.rates import Tally
from facility_server.utilisation.metrics import Figures
from facility_server.utilisation.periods import Period


@dataclass
class SpaceFacts:
    """One space over the period.

    Attributes:
        weeks: Monday -> (actual open hours, actual open days) of that ISO week.
        planned: Monday -> (published open hours, published open days) of that week
            (exceptions and holidays applied).
        regular: (hours, days) of a regular week by the weekly hours alone.
        events: task (``activity``, ``maintenance``) -> local dates of accepted check-ins
            from January 1 of the period's year to the period's end.
        tasks: (rule kind, task) -> occurrence states counted over the period's days.
        tally: satisfaction votes of the period.
        figures: utilisation sums over the period.
        maintenance: (period, count) of the space's maintenance quota rule, if any.
        start: the local day the space started, when after the period's first day: the
            earlier of its registration and its first recorded use
            (:mod:`facility_server.scorecard.start`); None: judged throughout.
        judged_from: Monday of the first ISO week its weekly quota is judged for (None:
            every week of the period).
        unit_from: unit (``week``, ``month``, ``year``) -> first day of the first unit its
            monthly lecture or maintenance quota is judged for (missing: every unit).
    """

    id: int
    code: str
    name: str
    type: str
    capacity: int
    weeks: dict[date, tuple[float, int]] = field(default_factory=dict)
    planned: dict[date, tuple[float, int]] = field(default_factory=dict)
    regular: tuple[float, int] = (0.0, 0)
    events: dict[str, list[date]] = field(default_factory=dict)
    tasks: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    tally: Tally = field(default_factory=Tally)
    figures: Figures = field(default_factory=Figures)
    maintenance: tuple[str, int] | None = None
    start: date | None = None
    judged_from: date | None = None
    unit_from: dict[str, date] = field(default_factory=dict)

    def judged(self, monday: date) -> bool:
        """Whether the ISO week starting ``monday`` is judged for the weekly quota."""
        return self.judged_from is None or monday >= self.judged_from

    def unit_judged(self, first: date, unit: str) -> bool:
        """Whether the ``unit`` starting ``first`` is judged (monthly/maintenance quota)."""
        since = self.unit_from.get(unit)
        return since is None or first >= since


@dataclass
class ComplexFacts:
    """One complex over ``period``, judged as of local date ``today`` (units of time
    ending after it are pending)."""

    id: int
    site_id: str
    name: str
    street: str
    district: str
    tz: ZoneInfo
    period: Period
    today: date
    spaces: list[SpaceFacts] = field(default_factory=list)

    def of_type(self, space_type: str) -> list[SpaceFacts]:
        """Its spaces of one 4+5+X type."""
        return [s for s in self.spaces if s.type == space_type]
