"""Kiosk usage: health-kiosk sessions and readings, aggregates only.

Reads the server's hourly aggregates ``kiosk_sessions_hourly`` (sessions, members,
consented, crisis) and ``kiosk_readings_hourly`` (per reading type: readings, evaluated,
outside_reference) of :mod:`facility_contracts.schema`, per space and local clock hour.
No member reference and no reading value ever reaches the time series (health data is
sensitive personal information, PIPL art. 28); clinicians see the values in the server.

``members`` counts distinct members within one space and hour, so its sums are
member-hours, not people: a member measuring at 9:00 and at 15:00 counts twice. Shares are
ratios of sums (never means of hourly percentages); body weight has no reference range
(:data:`facility_contracts.vitals.QUANTITIES`) and is left out of the outside-range share.

Small counts are not published (the server's small-cell rules), and the panels say so:

- an hour with fewer than :data:`~facility_contracts.schema.KIOSK_MIN_SESSIONS` sessions at
  a space publishes ``sessions`` and ``members`` only, so ``consented``, ``crisis`` and the
  consent share cover the hours with at least that many (:data:`SMALL_HOURS`); the share
  takes ``sessions`` only from the hours that carry ``consented``. Every crisis is in the
  server's crisis alerts whatever the hour;
- an hour with fewer than :data:`~facility_contracts.schema.KIOSK_MIN_EVALUATED` evaluated
  readings of a type publishes ``readings`` only, so ``evaluated`` and the outside-range
  share cover the hours with at least that many (:data:`SMALL_CELLS`).
"""

from __future__ import annotations

from facility_contracts.schema import KIOSK_MIN_EVALUATED, KIOSK_MIN_SESSIONS
from facility_contracts.vitals import QUANTITIES

from facility_dashboards.core import (
    AGG,
    LAST_VALUE,
    Json,
    board,
    hourly,
    panel,
    select,
    slot_means,
    target,
    text,
    thresholds,
)

UID = "facility-kiosk"
SESSIONS = "kiosk_sessions_hourly"
READINGS = "kiosk_readings_hourly"
SPACE = ["complex", "space"]
SPACE_ALIAS = "$tag_complex / $tag_space"
BARS = {"custom": {"drawStyle": "bars", "fillOpacity": 60, "stacking": {"mode": "normal"}}}
PERCENT = {"min": 0, "max": 100}
#: Filters leaving out the types without a reference range (body weight): their
#: readings are never outside one, and a 0 % would read as good news.
WITH_REFERENCE = tuple(
    f"\"reading_type\" != '{t}'" for t, q in QUANTITIES.items() if q.reference is None
)
CONSENT_SHARE = 'sum("consented") / sum("sessions") * 100'
#: The hours that carry a consent count: the share's sessions come from these only.
WITH_CONSENT_COUNT = '"consented" >= 0'
OUTSIDE_SHARE = 'sum("outside_reference") / sum("evaluated") * 100'
#: What the consent and crisis counts leave out (the server's small-cell rule for sessions).
SMALL_HOURS = (
    f"Hours with fewer than {KIOSK_MIN_SESSIONS} sessions at a space publish no consent or "
    "crisis count (it would tell about the one or two people who measured), so they are "
    "not in these figures; their sessions are. Every crisis, whatever the hour, opened an "
    "alert in the server (GET /api/v1/alerts; clinicians: /api/v1/vitals/crises); exact "
    "daily counts: GET /api/v1/vitals/complexes/{id}/usage."
)
#: What the evaluated counts leave out (the server's small-cell rule for readings).
SMALL_CELLS = (
    f"An hour with fewer than {KIOSK_MIN_EVALUATED} evaluated readings of a type publishes no "
    "evaluated count, so those readings are in neither side of the share."
)
#: Hour-of-day means need a range starting at a local midnight.
LAST_30_DAYS = "now-29d/d"

ABOUT = f"""\
**Aggregates only.** This board shows counts per space and local hour that the server
computes from the kiosk sessions: sessions, member-hours, consent, readings per type,
readings outside the reference range, crisis sessions. No member, card or pseudonym and no
reading value is ever stored in the time series, so none can be shown here.

The values themselves are visible only to clinicians, in the server (with the member's
consent). A *crisis session* had a reading in a crisis range: every one opens an alert in
the server, where its follow-up is too. *Member-hours* count a member once per space and
hour in which they measured, not distinct people over a day.

**Small counts are left out.** An hour with fewer than {KIOSK_MIN_SESSIONS} sessions at a
space shows its sessions and member-hours but no consent or crisis count, and an hour
with fewer than {KIOSK_MIN_EVALUATED} evaluated readings of a type no evaluated or
outside-range count: with one or two people they would say how those people were.
Consent, crisis and outside-range figures here cover the other hours; every crisis opened
an alert in the server, whatever the hour.
"""


def _per_day(
    title: str,
    query: str,
    alias: str,
    description: str,
    *,
    percent: bool = False,
    defaults: Json | None = None,
) -> Json:
    """A time series per local day: bars of counts, or points of a share (%)."""
    style = {**PERCENT, "custom": {"showPoints": "always"}} if percent else BARS
    return panel(
        "timeseries",
        title,
        [target("A", query, alias=alias)],
        description=description,
        unit="percent" if percent else "none",
        defaults=defaults or style,
    )


def _daily(title: str, field: str, description: str, defaults: Json | None = None) -> Json:
    """Bars of ``sum(field)`` of the sessions per local day and space."""
    query = select(f'sum("{field}")', SESSIONS, AGG, ["time(1d)", *SPACE])
    return _per_day(title, query, SPACE_ALIAS, description, defaults=defaults)


def _hour_of_day() -> Json:
    slots = [(f"{h:02d}", h) for h in range(24)]
    query = slot_means(hourly("sessions", SESSIONS, AGG), slots, "1d", 0)
    return panel(
        "bargauge",
        "Sessions by local hour of day, last 30 days",
        [target("A", query, table=True)],
        description="Mean sessions per day in each local clock hour over the last 30 local "
        "days (today's hours that have not come yet are averaged over the earlier days).",
        unit="none",
        options={
            "orientation": "vertical",
            "displayMode": "basic",
            "reduceOptions": LAST_VALUE,
            "showUnfilled": True,
        },
        defaults={"decimals": 1, "min": 0},
        time_from=LAST_30_DAYS,
    )


def _totals() -> list[Json]:
    sums = (
        'sum("sessions") AS "sessions", sum("members") AS "member_hours", '
        'sum("consented") AS "consented", sum("crisis") AS "crisis"'
    )
    stat = {"reduceOptions": LAST_VALUE}
    return [
        panel(
            "stat",
            "Sessions in the range",
            [target("A", select(sums, SESSIONS, AGG), table=True)],
            description="Sessions, member-hours (a member once per space and hour), sessions "
            "with consent and crisis sessions of the selected spaces over the time range. "
            f"{SMALL_HOURS}",
            unit="none",
            options=stat,
            size=(16, 5),
        ),
        panel(
            "stat",
            "Sessions with consent",
            [target("A", select(CONSENT_SHARE, SESSIONS, [*AGG, WITH_CONSENT_COUNT]), table=True)],
            description="Consented sessions / sessions over the time range: only with consent "
            f"are a session's values kept and evaluated. {SMALL_HOURS}",
            unit="percent",
            options=stat,
            defaults={**PERCENT, "thresholds": thresholds(("orange", None), ("green", 80))},
            size=(8, 5),
        ),
    ]


def _readings_table() -> Json:
    sums = (
        'sum("readings") AS "readings", sum("evaluated") AS "evaluated", '
        'sum("outside_reference") AS "outside_reference"'
    )
    share = f'{OUTSIDE_SHARE} AS "outside_reference_pct"'
    where = [*AGG, '"evaluated" > 0', *WITH_REFERENCE]
    return panel(
        "table",
        "Readings by type",
        [
            target("A", select(sums, READINGS, AGG, ["reading_type"]), table=True),
            target("B", select(share, READINGS, where, ["reading_type"]), table=True),
        ],
        description="Over the time range, per reading type: readings taken, readings "
        "evaluated (consent), evaluated readings outside the reference range and their share "
        f"(body weight has no reference range). {SMALL_CELLS}",
        unit="none",
        transformations=[{"id": "merge", "options": {}}],
    )


def dashboard() -> Json:
    """The kiosk-usage dashboard (aggregates only)."""
    outside = select(
        OUTSIDE_SHARE,
        READINGS,
        [*AGG, '"evaluated" > 0', *WITH_REFERENCE],
        ["time(1d)", "reading_type"],
    )
    consent = select(CONSENT_SHARE, SESSIONS, [*AGG, WITH_CONSENT_COUNT], ["time(1d)", "complex"])
    per_type = select('sum("readings")', READINGS, AGG, ["time(1d)", "reading_type"])
    panels = [
        text("About this board", ABOUT, size=(24, 8)),
        *_totals(),
        _daily(
            "Sessions per day",
            "sessions",
            "Measuring sessions at the kiosks of each space per local day.",
        ),
        _hour_of_day(),
        _daily(
            "Member-hours per day",
            "members",
            "Members who measured, counted once per space and local hour and summed over the "
            "day: a member measuring twice in a day in different hours counts twice. Distinct "
            "members per day are not in the aggregates.",
        ),
        _per_day(
            "Sessions with consent per day",
            consent,
            "$tag_complex",
            "Consented sessions / sessions per complex and local day; days without an hour "
            f"of {KIOSK_MIN_SESSIONS} or more sessions are blank. {SMALL_HOURS}",
            percent=True,
        ),
        _readings_table(),
        _per_day(
            "Readings per day by type",
            per_type,
            "$tag_reading_type",
            "Readings taken per reading type and local day (with or without consent).",
        ),
        _per_day(
            "Readings outside the reference range per day",
            outside,
            "$tag_reading_type",
            "Evaluated readings outside the reference range (facility_contracts.vitals) / "
            "evaluated readings, per type and local day; days without evaluated readings are "
            f"blank. Body weight has no reference range. {SMALL_CELLS}",
            percent=True,
        ),
        _daily(
            "Crisis sessions per day",
            "crisis",
            "Sessions with a reading in a crisis range, per space and local day. Who and "
            f"which value: the clinicians' view in the server. {SMALL_HOURS}",
            defaults={**BARS, "thresholds": thresholds(("green", None), ("red", 1))},
        ),
    ]
    return board(
        UID,
        "Kiosk usage",
        "Health-kiosk use per space: aggregates only (no member, no reading value); values "
        "are visible to clinicians in the server.",
        panels,
        time_from="now-29d/d",
    )
