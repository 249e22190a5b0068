"""Every panel query runs on a real InfluxQL engine (InfluxDB 1.6) and returns what the
world's records say it should, for several selections of the template variables."""

from __future__ import annotations

import ast
import operator
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import dashboard_expected_kiosk  # noqa: F401 - registers the kiosk and hour-slot answers
import dashboard_world as world
import pytest
from dashboard_expected import EXPECT, Ctx, Expected, satisfaction_rate
from facility_dashboards.build import dashboards
from grafana_sim import Influx, interpolate, panel_range, targets

INTERVAL_S = 3600
SCENARIOS: dict[str, dict[str, list[str]]] = {
    "all": {},
    "one-district": {"district": ["xihu"]},
    "one-space": {"complex": ["xh-a", "gs-c"], "space": ["kids"]},
    "kiosk-space": {"complex": ["gs-c"], "space": ["meal"]},
}
BOARDS = {d["uid"]: d for d in dashboards()}


@pytest.fixture(scope="module")
def loaded(influxdb1: Any) -> tuple[Influx, list[world.Rec]]:
    """A fresh database holding the world, written as the gateway writes it."""
    db = Influx(influxdb1.url, "dash_" + uuid.uuid4().hex[:8])
    db.create()
    records = world.build()
    db.write(world.line_protocol(records))
    return db, records


def resolve(
    db: Influx, dashboard: Mapping[str, Any], chosen: Mapping[str, list[str]]
) -> dict[str, list[str]]:
    """Run the variable queries in order, as Grafana does; "All" = every value returned."""
    sel: dict[str, list[str]] = {}
    for var in dashboard["templating"]["list"]:
        q = interpolate(var["query"], start=world.START, end=world.END, variables=sel)
        values = sorted(row[1] for s in db.query(q) for row in s["values"])
        sel[var["name"]] = (
            [v for v in values if v in chosen[var["name"]]] if var["name"] in chosen else values
        )
    return sel


def normalise(series: list[dict[str, Any]], timed: bool) -> Expected:
    """``{(tags, time or None): {column: value}}`` without rows that are all null or zero."""
    out: Expected = {}
    for s in series:
        names = s["columns"][1:]
        for row in s["values"]:
            values = dict(zip(names, row[1:], strict=True))
            if all(v in (None, 0) for v in values.values()):
                continue
            key = (tuple(sorted(s.get("tags", {}).items())), row[0] if timed else None)
            assert key not in out, f"two rows for {key}"
            out[key] = values
    return out


def world_ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def flat(rows: Expected) -> dict[tuple[Any, ...], float | None]:
    """``{(tags, time, column): value}``: one level, for pytest.approx (the column of a
    one-column answer is ``_``, named or not)."""
    return {
        (*k, col if len(values) > 1 else "_"): v
        for k, values in rows.items()
        for col, v in values.items()
    }


def _drop_empty(expected: Expected) -> Expected:
    return {k: v for k, v in expected.items() if not all(x in (None, 0) for x in v.values())}


def _run(
    db: Influx, panel: Mapping[str, Any], target: Mapping[str, Any], sel: dict[str, list[str]]
) -> tuple[list[dict[str, Any]], Ctx]:
    start, end = panel_range(panel.get("timeFrom"), world.START, world.END, world.NOW)
    q = interpolate(target["query"], start=start, end=end, interval=f"{INTERVAL_S}s", variables=sel)
    return db.query(q), Ctx(start, end, INTERVAL_S, sel)


@pytest.mark.integration
@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("uid", BOARDS)
def test_panel_queries_return_expected_values(
    loaded: tuple[Influx, list[world.Rec]], uid: str, scenario: str
) -> None:
    """Each panel query, variables filled in, returns the figures computed from the records."""
    db, records = loaded
    sel = resolve(db, BOARDS[uid], SCENARIOS[scenario])
    assert all(sel.values()), f"a variable has no values: {sel}"
    wrong = []
    for panel, target in targets(BOARDS[uid]):
        series, ctx = _run(db, panel, target, sel)
        expected = _drop_empty(EXPECT[(uid, panel["title"], target["refId"])](records, ctx))
        if scenario == "all":
            assert expected, f"the world has no data for {panel['title']} {target['refId']}"
        timed = any(k[1] is not None for k in expected)
        got = normalise(series, timed)
        # A panel shows its range: buckets starting before it are off the chart.
        got = {k: v for k, v in got.items() if k[1] is None or k[1] >= world_ms(ctx.start)}
        if flat(got) != pytest.approx(flat(expected), rel=1e-9, abs=1e-9):
            wrong.append(f"{panel['title']} {target['refId']}:\n got {got}\n exp {expected}")
    assert not wrong, "\n".join(wrong)


def test_every_query_has_an_expected_answer() -> None:
    """Every panel query has an independent expectation, and every expectation a query."""
    queries = {(uid, p["title"], t["refId"]) for uid, d in BOARDS.items() for p, t in targets(d)}
    assert queries == set(EXPECT)


@pytest.mark.integration
def test_variables_follow_the_hierarchy(loaded: tuple[Influx, list[world.Rec]]) -> None:
    """District, street, complex and space variables list what lies under the selection above."""
    db, _ = loaded
    board = BOARDS["facility-overview"]
    assert resolve(db, board, {}) == {
        "district": ["gongshu", "xihu"],
        "street": ["gongshu/mishixiang", "xihu/beishan"],
        "complex": ["gs-c", "xh-a", "xh-b"],
        "space": ["culture", "health", "kids", "meal"],
    }
    xihu = resolve(db, board, {"district": ["xihu"]})
    assert xihu["street"] == ["xihu/beishan"]
    assert xihu["complex"] == ["xh-a", "xh-b"]
    assert resolve(db, board, {"complex": ["gs-c"]})["space"] == ["kids", "meal"]


def _evaluate(expression: str, values: Mapping[str, float]) -> float:
    ops = {
        ast.Add: operator.add,
        ast.Sub: operator.sub,
        ast.Mult: operator.mul,
        ast.Div: operator.truediv,
    }

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            return ops[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return values[node.id]
        raise ValueError(f"unsupported expression {expression}")

    return ev(ast.parse(expression.replace("$", ""), mode="eval").body)


def _math_targets() -> list[tuple[str, Mapping[str, Any], Mapping[str, Any]]]:
    return [
        (uid, p, t)
        for uid, d in BOARDS.items()
        for p in d["panels"]
        for t in p.get("targets", [])
        if t.get("type") == "math"
    ]


@pytest.mark.integration
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_satisfaction_rate_expression(
    loaded: tuple[Influx, list[world.Rec]], scenario: str
) -> None:
    """The math expression over the vote counts gives the satisfied share of votes per service."""
    db, records = loaded
    ((uid, panel, math_target),) = _math_targets()
    sel = resolve(db, BOARDS[uid], SCENARIOS[scenario])
    inputs: dict[str, Expected] = {}
    ctx = None
    for t in panel["targets"]:
        if "query" in t:
            series, ctx = _run(db, panel, t, sel)
            inputs[t["refId"]] = normalise(series, timed=False)
    assert ctx is not None
    got = {
        key[0]: _evaluate(
            math_target["expression"],
            {ref: next(iter(inputs[ref].get(key, {"_": 0.0}).values())) for ref in inputs},
        )
        for key in inputs["B"]
    }
    assert got == pytest.approx(satisfaction_rate(records, ctx))
    assert got, "no votes in the selection"


def test_world_is_written_in_the_schema_shape() -> None:
    """The fixture records use only the schema's measurements, tags and field types."""
    from facility_contracts.schema import MEASUREMENTS

    types = {"int": int, "float": float}
    for r in world.build():
        spec = MEASUREMENTS[r.m]
        assert set(r.tags) <= set(spec.tags), r
        assert all(type(v) is types[spec.field(k).type] for k, v in r.fields.items()), r


def test_kiosk_aggregates_are_written_as_the_server_writes_them() -> None:
    """Kiosk points carry every schema tag and sit at a local hour's start; a sessions point
    carries consented and crisis only with at least 3 sessions, else sessions and members
    alone; a readings point carries evaluated, outside_reference and the share (its value
    from the counts) only with at least 3 evaluated readings, else readings alone."""
    from facility_contracts.schema import MEASUREMENTS

    kiosk = [r for r in world.build() if r.m.startswith("kiosk_")]
    assert {r.m for r in kiosk} == {"kiosk_sessions_hourly", "kiosk_readings_hourly"}
    for r in kiosk:
        spec = MEASUREMENTS[r.m]
        assert tuple(r.tags) == spec.tags and r.ns == r.ms * 1_000_000, r
        assert r.t.astimezone(world.TZ).minute == 0 and r.t.second == 0, r
        f = r.fields
        if r.m == "kiosk_sessions_hourly":
            assert f["sessions"] >= f["members"] >= 1, r
            if f["sessions"] < 3:
                assert set(f) == {"sessions", "members"}, r
                continue
            assert set(f) == {x.name for x in spec.fields}, r
            assert f["sessions"] >= max(f["consented"], f["crisis"]), r
            continue
        if set(f) == {"readings"}:
            continue
        assert set(f) == {x.name for x in spec.fields}, r
        assert f["readings"] >= f["evaluated"] >= 3, r
        assert f["evaluated"] >= f["outside_reference"], r
        assert f["outside_reference_pct"] == pytest.approx(
            100 * f["outside_reference"] / f["evaluated"], abs=0.0005
        )
    sessions = [r.fields for r in kiosk if r.m == "kiosk_sessions_hourly"]
    assert any("consented" not in f for f in sessions), "no hour below the sessions threshold"
    assert any(f.get("crisis") for f in sessions), "no published crisis"
    readings = [r.fields for r in kiosk if r.m == "kiosk_readings_hourly"]
    assert any(set(f) == {"readings"} for f in readings), "no hour below the threshold"
    assert any("evaluated" in f for f in readings), "no hour with evaluated counts"
